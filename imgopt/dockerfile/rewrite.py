"""Hygiene rewrites: the fixes of the size rules applied as line-span text edits, bottom-up, so every
byte the fixes do not touch stays identical.

One mechanism: lint the text, ask each finding's rule for its fix, apply the edits that do not
overlap, and repeat on the result until nothing changes (a merge made in one round can be cleaned
up in the next). Fixers are pure and refuse (None) when they are not sure the rewrite keeps the
build's meaning; the finding then stays unfixed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .edits import Edit, apply_tracking
from .model import Dockerfile, Instruction
from .parser import parse
from .rules import RULES, Context, Hit, check, pragma_ignores
from .shell import Command, run_commands

MAX_ROUNDS = 6


SAFE, NEEDS_VERIFY, CHANGES_PACKAGES = "safe", "needs-verify", "changes-packages"


@dataclass(frozen=True, slots=True)
class Change:
    """One applied fix: the rule (or ``pair-<kind>`` for a fix of a waste pair), the line of the
    *input* Dockerfile it started from, and what it did.

    ``safety``: ``safe`` (same commands on the same files, same packages), ``needs-verify`` (it
    moves commands across something they might depend on: only a build and a check can tell) or
    ``changes-packages`` (it installs other packages). ``paths``: the image paths whose shipped bytes
    it should remove; after a verified build, ``measured_bytes`` is what it removed and ``note``
    explains a gap of more than 1 % from ``expected_bytes``."""

    rule: str
    line: int
    description: str
    expected_bytes: int | None = None  # what the finding costs in the original image, when measured
    end_line: int = 0  # last input line the change touched (0: just ``line``)
    safety: str = SAFE
    paths: frozenset[str] = frozenset()
    measured_bytes: int | None = None
    note: str = ""
    caution: str = ""  # needs-verify: what could differ
    span: tuple[int, int] = (0, 0)  # first and last input line its edits replaced (0, 0: just ``lines``)

    @property
    def lines(self) -> range:
        return range(self.line, max(self.line, self.end_line) + 1)

    @property
    def touched(self) -> range:
        """Every input line the change's edits replaced."""
        first, last = self.span
        return range(min(first or self.line, self.line), max(last, self.end_line, self.line) + 1)


def can_fix(ctx: Context, hit: Hit) -> bool:
    """Whether ``imgopt optimize`` fixes this finding (an edit, or the proposed .dockerignore)."""
    return RULES[hit.rule].can_fix(ctx, hit)


@dataclass(frozen=True)
class RewriteOptions:
    """What the rewrites need besides the Dockerfile: the build context's .dockerignore patterns
    (None: none), whether a context is known, the rules configuration silences, and whether fixes
    that change the installed package set may be applied (``packages``)."""

    dockerignore: tuple[str, ...] | None = None
    has_context: bool = False
    ignore: frozenset[str] = frozenset()
    packages: bool = False


@dataclass(frozen=True)
class Rewrite:
    text: str
    changes: tuple[Change, ...]
    unfixed: tuple[Hit, ...]  # hygiene findings of the result that no fixer could handle
    origin: tuple[int, ...] = ()  # line of the result (index + 1) -> line of the input it came from

    def input_line(self, line: int) -> int:
        return self.origin[line - 1] if 0 < line <= len(self.origin) else line


HYGIENE = frozenset(rid for rid, r in RULES.items() if r.fix is not None)
# fixes that install other packages than the original: proposals that need a verified build
ALTERS_PACKAGES = frozenset(rid for rid in HYGIENE if RULES[rid].alters_packages)
SAME_PACKAGES = HYGIENE - ALTERS_PACKAGES


def hygiene(
    df: Dockerfile,
    *,
    dockerignore: tuple[str, ...] | None = None,
    has_context: bool = False,
    rules: frozenset[str] = HYGIENE,
    ignore: frozenset[str] = frozenset(),
) -> Rewrite:
    """Apply every fixer until nothing changes. Findings silenced by ``ignore`` (configuration) or
    by an ignore pragma in the file are left alone, like the linter leaves them."""
    text = df.render()
    origin = list(range(1, text.count("\n") + 2))  # current line -> input line
    changes: list[Change] = []
    done: set[tuple[str, int, str]] = set()  # (rule, input line, what): a fix is never applied twice
    current = df

    def wanted(d: Dockerfile, ctx: Context) -> list[Hit]:
        global_ids, per_line = pragma_ignores(d)
        hits = [
            h
            for h in check(ctx)
            if h.rule in rules
            and h.rule not in ignore
            and h.rule not in global_ids
            and h.rule not in per_line.get(h.ins.line, ())
        ]
        # moves and merges go before in-place edits
        return sorted(hits, key=lambda h: (RULES[h.rule].fix_order, h.ins.line))

    for _ in range(MAX_ROUNDS):
        ctx = Context(current, frozenset(current.reaching_final()), dockerignore, has_context)
        edits: list[Edit] = []
        taken: list[tuple[int, int]] = []
        for hit in wanted(current, ctx):
            fixer = RULES[hit.rule].fix
            fix = fixer(ctx, hit) if fixer is not None else None
            key = (hit.rule, origin[hit.ins.line - 1], fix.description if fix else "")
            if fix is None or key in done:
                continue
            spans = [(e.first, e.last) for e in fix.edits]
            if any(a <= d and c <= b for a, b in spans for c, d in taken):
                continue  # next round, on the result of this one
            taken += spans
            edits += fix.edits
            done.add(key)
            end = max(origin[min(e.last, len(origin)) - 1] for e in fix.edits)
            start = min(origin[min(e.first, len(origin)) - 1] for e in fix.edits)
            safety = CHANGES_PACKAGES if hit.rule in ALTERS_PACKAGES else SAFE
            change = Change(
                hit.rule, key[1], fix.description, end_line=max(end, key[1]), safety=safety, span=(start, end)
            )
            changes.append(change)
        if not edits:
            break
        text, origin = apply_tracking(text, origin, edits)
        current = parse(text, df.path)
    ctx = Context(current, frozenset(current.reaching_final()), dockerignore, has_context)
    merged: dict[tuple[str, int], Change] = {}
    for c in changes:  # one entry per finding: fixes of the same finding over several rounds join
        finding = (c.rule, c.line)
        prev = merged.get(finding)
        merged[finding] = (
            c
            if prev is None
            else replace(
                prev,
                description=f"{prev.description}; {c.description}",
                end_line=max(prev.end_line, c.end_line),
                span=(min(prev.span[0], c.span[0]), max(prev.span[1], c.span[1])),
            )
        )
    ordered = tuple(sorted(merged.values(), key=lambda c: c.line))
    return Rewrite(text, ordered, tuple(wanted(current, ctx)), tuple(origin))


def unified_diff(before: str, after: str, name: str = "Dockerfile") -> str:
    import difflib

    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{name}", f"b/{name}"
        )
    )


ALWAYS_IGNORED = (
    "**/__pycache__",
    "**/*.py[co]",
    "**/.venv",
    "**/.tox",
    "**/.nox",
    "**/.pytest_cache",
    "**/.mypy_cache",
    "**/.DS_Store",
)


def proposed_dockerignore(df: Dockerfile, existing: tuple[str, ...] | None) -> str | None:
    """A .dockerignore for a context that has none (or an empty one); None when one exists.
    Conservative: ``.git`` only when no instruction uses git data, ``node_modules`` only when the
    build installs them itself; caches of Python tools always. Build output directories (dist,
    target, build) are never proposed: a Dockerfile may COPY artifacts built outside it."""
    if existing:
        return None
    text = df.render()
    lines = ["# proposed by imgopt: keep VCS data, caches and host dependencies out of the build context"]
    if ".git" not in text and not any(c.name == "git" for i in df.instructions for c in _run_cmds(i)):
        lines.append(".git")
    if any(c.is_("npm", "install", "i", "ci") or c.name == "yarn" for i in df.instructions for c in _run_cmds(i)):
        lines.append("**/node_modules")
    lines += ALWAYS_IGNORED
    return "\n".join(lines) + "\n"


def _run_cmds(ins: Instruction) -> list[Command]:
    return run_commands(ins) if ins.keyword == "RUN" else []


__all__ = [
    "ALTERS_PACKAGES",
    "CHANGES_PACKAGES",
    "Change",
    "HYGIENE",
    "NEEDS_VERIFY",
    "SAFE",
    "SAME_PACKAGES",
    "Rewrite",
    "RewriteOptions",
    "can_fix",
    "hygiene",
    "proposed_dockerignore",
    "unified_diff",
]
