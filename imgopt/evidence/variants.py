"""Variants on top of the evidence: the waste-pair fixes applied first, every target built on them.

The safe pair fixes go under every target (hygiene, slim, multistage, ...); the ``needs-verify``
ones and the fixes that change the package set only under ``aggressive``, which a plan never
chooses without a verified build. Line numbers of every change are those of the input Dockerfile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from ..dockerfile.edits import apply_tracking
from ..dockerfile.model import Dockerfile
from ..dockerfile.parser import parse
from ..dockerfile.rewrite import Change, RewriteOptions
from ..dockerfile.variants import NO_OPTIONS, TARGETS, NotApplicable, Variant, make_variant, make_variants
from .planner import NEEDS_VERIFY, SAFE, PairFix, PairPlan


def pair_change(fix: PairFix) -> Change:
    return Change(
        f"pair-{fix.kind}",
        fix.first_line,
        fix.description,
        expected_bytes=fix.expected_bytes,
        end_line=fix.last_line,
        safety=fix.safety,
        paths=fix.paths,
        caution=fix.caution,
        span=(fix.first_line, fix.last_line),
    )


def with_fixes(df: Dockerfile, fixes: Sequence[PairFix]) -> tuple[Dockerfile, list[Change], Callable[[int], int]]:
    """``df`` with ``fixes`` applied, their changes, and the map from the result's lines to the input's."""
    text = df.render()
    origin = list(range(1, text.count("\n") + 2))
    edits = [e for f in fixes for e in f.edits]
    if edits:
        text, origin = apply_tracking(text, origin, edits)

    def input_line(line: int) -> int:
        return origin[line - 1] if 0 < line <= len(origin) else line

    return parse(text, df.path), [pair_change(f) for f in sorted(fixes, key=lambda f: f.first_line)], input_line


def _on_top(v: Variant, first: list[Change], input_line: Callable[[int], int]) -> Variant:
    mapped = [
        replace(c, line=input_line(c.line), end_line=input_line(c.end_line) if c.end_line else 0) for c in v.changes
    ]
    warnings = [
        f"line {c.line}: {c.description}: needs --verify ({c.caution})" for c in first if c.safety == NEEDS_VERIFY
    ]
    return replace(v, changes=tuple(first + mapped), warnings=tuple(dict.fromkeys([*warnings, *v.warnings])))


def evidence_variants(
    df: Dockerfile, plan: PairPlan, targets: tuple[str, ...] = TARGETS, opts: RewriteOptions = NO_OPTIONS
) -> tuple[list[Variant], dict[str, str]]:
    """The variants of ``targets`` built on the pair fixes of ``plan``, and why the others do not apply."""
    safe = [f for f in plan.fixes if f.safety == SAFE]
    base, changes, input_line = with_fixes(df, safe)
    variants, skipped = make_variants(base, tuple(t for t in targets if t != "aggressive"), opts)
    out = [_on_top(v, changes, input_line) for v in variants]
    if "aggressive" in targets:
        everything, all_changes, all_line = with_fixes(df, plan.fixes)
        try:
            aggressive = make_variant(everything, "hygiene", replace(opts, packages=True))
        except NotApplicable as e:  # pragma: no cover - hygiene always applies
            skipped["aggressive"] = str(e)
        else:
            hygiene = next((v for v in out if v.target == "hygiene"), None)
            if hygiene is not None and aggressive.text == hygiene.text:
                skipped["aggressive"] = "no fix beyond hygiene changes the package set or needs a verified build"
            else:
                out.insert(
                    1 if hygiene is not None else 0,
                    replace(_on_top(aggressive, all_changes, all_line), target="aggressive"),
                )
    return out, skipped


__all__ = ["evidence_variants", "pair_change", "with_fixes"]
