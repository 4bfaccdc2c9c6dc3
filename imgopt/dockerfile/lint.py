"""Linting: rules -> findings, with ignore pragmas and configuration applied."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from typing import Any

from ..encoding import Encodable
from ..errors import UsageError
from .model import Dockerfile
from .parser import parse_dockerfile, read_dockerignore
from .rules import HADOLINT_TO_IMG, RULES, SEVERITIES, Context, check, pragma_ignores

THRESHOLDS = ("error", "warning", "info", "none")


@dataclass(frozen=True, slots=True)
class Measured:
    """How a finding's bytes were measured in a built image: the rule's cost kind ("none": not
    measurable; "unmatched": no layer came from its line) and the layer it was measured in."""

    kind: str
    layer: int | None


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: str
    message: str
    line: int
    end_line: int
    stage: int
    hadolint: str | None
    fixable: bool
    bytes: int | None = None  # what the finding costs in a built image (lint --image)
    cost: Measured | None = None  # how that was measured

    @property
    def name(self) -> str:
        return RULES[self.rule].name


@dataclass(frozen=True, repr=False)  # one line: Encodable.__repr__ asks the 'repr' encoder
class LintReport(Encodable):
    """The findings of one Dockerfile, as ``imgopt lint`` reports them. With an image, each finding
    carries its bytes and ``total_bytes`` what fixing all would save (each byte counted once)."""

    dockerfile: str
    findings: tuple[Finding, ...]
    total_bytes: int | None = None
    image: str | None = None


@dataclass(frozen=True)
class LintConfig:
    ignore: frozenset[str] = frozenset()
    severity: dict[str, str] = field(default_factory=dict)
    failure_threshold: str = "info"
    max_layers: int = 30

    @staticmethod
    def from_mapping(data: dict[str, Any], source: str) -> LintConfig:
        def ids(values: Any) -> frozenset[str]:
            if not isinstance(values, list):
                raise UsageError(f"{source}: 'ignore' must be a list of rule ids")
            out = set()
            for v in values:
                rid = HADOLINT_TO_IMG.get(str(v), str(v))
                if rid not in RULES:
                    raise UsageError(f"{source}: unknown rule {v!r}")
                out.add(rid)
            return frozenset(out)

        sev: dict[str, str] = {}
        for k, v in (data.get("severity") or {}).items():
            rid = HADOLINT_TO_IMG.get(k, k)
            if rid not in RULES or v not in SEVERITIES:
                raise UsageError(f"{source}: bad severity override {k} = {v!r}")
            sev[rid] = v
        threshold = str(data.get("failure-threshold", data.get("failure_threshold", "info")))
        if threshold not in THRESHOLDS:
            raise UsageError(f"{source}: failure-threshold must be one of {', '.join(THRESHOLDS)}")
        max_layers = data.get("max-layers", data.get("max_layers", 30))
        if not isinstance(max_layers, int) or max_layers < 1:
            raise UsageError(f"{source}: max-layers must be a positive integer")
        return LintConfig(ids(data.get("ignore", [])), sev, threshold, max_layers)


def _toml(path: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # type: ignore[import-not-found]
    try:
        with open(path, "rb") as f:
            data: dict[str, Any] = tomllib.load(f)
            return data
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path}: {e}") from e


def load_config(path: str) -> LintConfig:
    """Lint settings from ``.imgopt.toml`` (top level or ``[lint]``) or ``[tool.imgopt]`` of a
    ``pyproject.toml`` (no such table: defaults)."""
    data = _toml(path)
    if os.path.basename(path) == "pyproject.toml":
        tool = data.get("tool", {}).get("imgopt")
        if not isinstance(tool, dict):
            return LintConfig()
        return LintConfig.from_mapping(tool.get("lint", tool), path + " [tool.imgopt]")
    return LintConfig.from_mapping(data.get("lint", data), path)


def find_config(start: str) -> LintConfig:
    """``.imgopt.toml`` or a ``pyproject.toml`` with ``[tool.imgopt]``, searched from ``start`` upwards."""
    d = os.path.abspath(start)
    while True:
        own = os.path.join(d, ".imgopt.toml")
        if os.path.isfile(own):
            return load_config(own)
        py = os.path.join(d, "pyproject.toml")
        if os.path.isfile(py) and isinstance(_toml(py).get("tool", {}).get("imgopt"), dict):
            return load_config(py)
        parent = os.path.dirname(d)
        if parent == d:
            return LintConfig()
        d = parent


def lint_dockerfile(
    df: Dockerfile,
    *,
    config: LintConfig | None = None,
    dockerignore: tuple[str, ...] | None = None,
    has_context: bool = False,
) -> list[Finding]:
    """Findings of a parsed Dockerfile. ``dockerignore``: the build context's .dockerignore patterns
    (None: it has none); ``has_context``: whether a build context is known at all (the .dockerignore
    rules only apply then). Pure: the caller reads the files."""
    cfg = config or LintConfig()
    ctx = Context(df, frozenset(df.reaching_final()), dockerignore, has_context, cfg.max_layers)
    global_ids, per_line = pragma_ignores(df)
    out = []
    for hit in check(ctx):
        rule = RULES[hit.rule]
        if hit.rule in cfg.ignore or hit.rule in global_ids or hit.rule in per_line.get(hit.ins.line, ()):
            continue
        out.append(
            Finding(
                hit.rule,
                cfg.severity.get(hit.rule, rule.severity),
                hit.message,
                hit.ins.line,
                hit.ins.end_line,
                hit.ins.stage,
                rule.hadolint,
                rule.can_fix(ctx, hit),
            )
        )
    return out


def lint(
    dockerfile: str | Dockerfile, *, config: LintConfig | None = None, context: str | None = None
) -> list[Finding]:
    """Lint a Dockerfile given as a path, as text, or parsed. With a path and no ``context``, the
    Dockerfile's directory is the build context; with no ``config`` one is searched for there."""
    if isinstance(dockerfile, Dockerfile):
        df = dockerfile
    else:
        df = parse_dockerfile(dockerfile)
    if df.path is not None:
        base = os.path.dirname(os.path.abspath(df.path))
        if context is None:
            context = base
        if config is None:
            config = find_config(base)
    dockerignore = read_dockerignore(context) if context is not None else None
    return lint_dockerfile(df, config=config, dockerignore=dockerignore, has_context=context is not None)


def at_or_above(findings: list[Finding], threshold: str) -> list[Finding]:
    if threshold == "none":
        return []
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return [f for f in findings if rank[f.severity] <= rank[threshold]]


def with_cost(f: Finding, nbytes: int | None, how: Measured) -> Finding:
    return replace(f, bytes=nbytes, cost=how)
