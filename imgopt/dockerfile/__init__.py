"""Dockerfile reading. For now: the instructions that built the final stage, for layer mapping."""

from .parse import StageInstruction, final_stage_instructions

__all__ = ["StageInstruction", "final_stage_instructions"]
