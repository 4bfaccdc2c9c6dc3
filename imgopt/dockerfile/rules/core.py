"""What a rule is: one object holding its metadata, its check, its fix and how its cost is measured
(dive's ``ci/rule.go`` shape). The rules themselves live in one module per ecosystem next to this
one; each module registers its rules with :func:`rule`.

A check sees the Dockerfile through :class:`StageView`: the stage's instructions as :class:`Step`\\ s
that already know their working directory, the ENV values the rules care about, and (for RUN)
their simple commands. The view is computed once per stage and shared by every rule.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from ..edits import Fix, append_command, replace_with
from ..model import Dockerfile, Instruction, Stage
from ..shell import Command

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)


@dataclass(frozen=True, slots=True)
class Cost:
    """How ``imgopt lint --image`` measures what a finding costs in the image built from the file.

    ``paths``: bytes of files under ``globs`` in the layer the flagged instruction made;
    ``metadata-only``: bytes that layer rewrote with unchanged content (chown/chmod);
    ``unreachable-by``: bytes of earlier layers that the flagged layer made unreachable;
    ``deleted-later``: bytes of the flagged layer that a later layer deleted;
    ``toolchain``: compiler/header/build-tool bytes the flagged layer put into the final filesystem;
    ``none``: not measurable from the image."""

    kind: str = "none"
    globs: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "paths":
            return "the bytes of " + ", ".join(f"`/{g}`" for g in self.globs) + " in the layer it flags"
        return _COST_DOCS[self.kind]


_COST_DOCS = {
    "none": "not measurable from the image (reported without bytes)",
    "metadata-only": "the bytes the flagged layer rewrote with unchanged content",
    "unreachable-by": "bytes shipped in one layer and deleted by another",
    "deleted-later": "bytes shipped in one layer and deleted by another",
    "toolchain": "toolchain bytes the flagged layer put into the final filesystem",
}


def paths(*globs: str) -> Cost:
    return Cost("paths", globs)


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule firing on one instruction; ``related`` is the line of another instruction the
    finding is about (the later RUN that deletes a download, for instance)."""

    rule: str
    message: str
    ins: Instruction
    related: int | None = None


@dataclass(frozen=True)
class Context:
    dockerfile: Dockerfile
    reaching: frozenset[int]
    dockerignore: tuple[str, ...] | None  # None: there is no .dockerignore; () an empty one
    has_context: bool  # whether a build context directory is known
    max_layers: int = 30


@dataclass(frozen=True, slots=True)
class Step:
    """One instruction of a stage with what the rules need to know at that point."""

    ins: Instruction
    workdir: str  # absolute working directory in effect
    env: Mapping[str, str]  # the ENV values rules care about (ENV_KEYS), inherited from base stages
    cmds: tuple[Command, ...] = ()  # RUN: its simple commands


@dataclass(frozen=True)
class StageView:
    stage: Stage
    steps: tuple[Step, ...]


RunCheck = Callable[[Context, Stage, Step], Iterator[Hit]]
StageCheck = Callable[[Context, StageView], Iterator[Hit]]
FileCheck = Callable[[Context], Iterator[Hit]]
Fixer = Callable[[Context, Hit], Fix | None]


@dataclass(frozen=True)
class Rule:
    """A size rule. Exactly one of ``on_run`` (each RUN, and RUNs wrapped in ONBUILD), ``on_stage``
    (each stage that reaches the final image) or ``on_file`` (the whole Dockerfile) checks it.

    ``fix`` rewrites one finding (hygiene; ``fix_order`` orders moves and merges before in-place
    edits); ``dockerignore_fix``: the proposed .dockerignore answers it; ``target``: an optimize
    target answers it. ``why``/``bad``/``good``/``notes`` are its documentation page."""

    id: str
    name: str
    severity: str
    summary: str
    hadolint: str | None = None
    cost: Cost = field(default_factory=Cost)
    on_run: RunCheck | None = None
    on_stage: StageCheck | None = None
    on_file: FileCheck | None = None
    fix: Fixer | None = None
    fix_order: int = 99
    dockerignore_fix: bool = False
    alters_packages: bool = False  # the fix installs other packages: a proposal until a verified build
    target: str | None = None
    fix_doc: str | None = None  # how it is fixed, when no fixer and no target says it
    why: str = ""
    bad: str = ""
    good: str = ""
    notes: str = ""

    @property
    def fixable(self) -> bool:
        """``imgopt optimize`` fixes it (a hygiene fixer, the proposed .dockerignore, or a target)."""
        return self.fix is not None or self.dockerignore_fix or self.target is not None

    def can_fix(self, ctx: Context, hit: Hit) -> bool:
        """Whether optimize fixes this very finding."""
        if self.dockerignore_fix:
            return ctx.has_context and not ctx.dockerignore
        return self.fix is not None and self.fix(ctx, hit) is not None


RULES: dict[str, Rule] = {}


def rule(r: Rule) -> Rule:
    if r.id in RULES:
        raise ValueError(f"rule {r.id} registered twice")
    if sum(f is not None for f in (r.on_run, r.on_stage, r.on_file)) != 1:
        raise ValueError(f"rule {r.id} needs exactly one check")
    RULES[r.id] = r
    return r


def appending(command: str, what: str) -> Fixer:
    """A fixer that appends ``&& command`` to the flagged RUN (a cache clean-up, say)."""

    def fix(ctx: Context, hit: Hit) -> Fix | None:
        return replace_with(hit.ins, append_command(ctx.dockerfile, hit.ins, command), what)

    return fix


# ---------------------------------------------------------------------------------------------
# helpers the checks share


ENV_KEYS = ("PIP_NO_CACHE_DIR", "POETRY_CACHE_DIR", "GEM_NO_DOCUMENT")
TRUTHY = frozenset({"1", "true", "on", "yes"})


def env_sets(ins: Instruction, name: str) -> str | None:
    """The value an ENV instruction gives ``name`` (None: it does not set it)."""
    if ins.keyword != "ENV":
        return None
    m = re.search(rf"(?:^|\s){name}(?:=|\s+)(\"[^\"]*\"|'[^']*'|\S+)", ins.args)
    return m.group(1).strip("\"'") if m else None


def first(cmds: tuple[Command, ...] | list[Command], pred: Callable[[Command], bool]) -> Command | None:
    for c in cmds:
        if pred(c):
            return c
    return None


def cache_targets(ins: Instruction) -> list[str]:
    out = []
    for f in ins.flags_named("mount"):
        opts = f.options()
        if opts.get("type") in ("cache", "tmpfs"):
            target = opts.get("target") or opts.get("dst") or opts.get("destination")
            if target:
                out.append(target.rstrip("/") or "/")
    return out


def cached(ins: Instruction, *dirs: str) -> bool:
    """A cache or tmpfs mount covers one of ``dirs`` (the mount target is the dir or a parent of it):
    what the RUN writes there never enters the layer."""
    for t in cache_targets(ins):
        for d in dirs:
            if d == t or d.startswith(t + "/") or t.startswith(d + "/") and "/" in d:
                return True
    return False


def removes(cmds: tuple[Command, ...] | list[Command], prefix: str) -> bool:
    """Some ``rm -r`` (any spelling) in the commands deletes ``prefix`` or something in it."""
    for c in cmds:
        if c.name == "rm" and c.has_flag("-r", "-R", "--recursive"):
            for w in (re.sub(r"^(~|\$HOME|\$\{HOME\})/", "/root/", p) for p in c.positional()):
                if w.rstrip("/*").startswith(prefix.rstrip("/")) or prefix.startswith(w.rstrip("/*") + "/"):
                    return True
    return False


def abspath(workdir: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(workdir, path.strip("\"'")))


@dataclass(frozen=True, slots=True)
class CopyArgs:
    sources: tuple[str, ...]
    dest: str  # as written
    dest_abs: str  # resolved against the working directory


def copy_args(step: Step) -> CopyArgs | None:
    """Sources and destination of a COPY/ADD (None for heredoc COPYs and malformed ones)."""
    ins = step.ins
    if ins.keyword not in ("COPY", "ADD") or ins.heredocs:
        return None
    words = list(ins.json_args) if ins.json_args else ins.args.split()
    if len(words) < 2:
        return None
    return CopyArgs(tuple(words[:-1]), words[-1], abspath(step.workdir, words[-1]))


__all__ = [
    "ENV_KEYS",
    "ERROR",
    "INFO",
    "RULES",
    "SEVERITIES",
    "TRUTHY",
    "WARNING",
    "Context",
    "CopyArgs",
    "Cost",
    "Hit",
    "Rule",
    "Step",
    "StageView",
    "abspath",
    "appending",
    "cache_targets",
    "cached",
    "copy_args",
    "env_sets",
    "first",
    "paths",
    "removes",
    "rule",
]
