"""Dockerfiles: a faithful parser, the size linter, and the instructions behind an image's layers."""

from __future__ import annotations

from dataclasses import dataclass

from .lint import Finding, LintConfig, at_or_above, find_config, lint, lint_dockerfile
from .model import Blank, Comment, Dockerfile, Flag, Heredoc, Instruction, Stage
from .parser import parse, parse_dockerfile, parse_file
from .rules import RULES, Rule


@dataclass(frozen=True, slots=True)
class StageInstruction:
    keyword: str
    text: str
    line: int
    end_line: int
    stage: str


def final_stage_instructions(path_or_text: str | Dockerfile) -> list[StageInstruction]:
    """The instructions whose history entries end up in the final image, in order: the final
    stage's, preceded by those of the stages it is built FROM."""
    df = path_or_text if isinstance(path_or_text, Dockerfile) else parse_dockerfile(path_or_text)
    out: list[StageInstruction] = []
    for stage in df.stages:
        if stage.index in df.reaching_final():
            label = stage.name or str(stage.index)
            for ins in stage.instructions:
                text = ins.args if not ins.heredocs else ins.args + "\n" + "".join(h.body for h in ins.heredocs)
                out.append(StageInstruction(ins.keyword, text, ins.line, ins.end_line, label))
    return out


__all__ = [
    "Blank",
    "Comment",
    "Dockerfile",
    "Finding",
    "Flag",
    "Heredoc",
    "Instruction",
    "LintConfig",
    "RULES",
    "Rule",
    "Stage",
    "StageInstruction",
    "at_or_above",
    "final_stage_instructions",
    "find_config",
    "lint",
    "lint_dockerfile",
    "parse",
    "parse_dockerfile",
    "parse_file",
]
