"""Dockerfiles: a faithful parser, the size linter, hygiene rewrites and variants. Pure but for reading files."""

from __future__ import annotations

from .lint import Finding, LintConfig, at_or_above, find_config, lint, lint_dockerfile
from .model import Blank, Comment, Dockerfile, Flag, Heredoc, Instruction, Stage
from .parser import parse, parse_dockerfile, parse_file
from .rules import RULES, Rule

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
    "at_or_above",
    "find_config",
    "lint",
    "lint_dockerfile",
    "parse",
    "parse_dockerfile",
    "parse_file",
]
