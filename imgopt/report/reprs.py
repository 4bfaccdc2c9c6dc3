"""One-line reprs of every result (``repr(analysis)`` in a shell or a notebook): the headline
numbers, never a dump of the data."""

from __future__ import annotations

from ..analysis import Analysis
from ..analysis.diff import ImageDiff
from ..build.compare import Comparison
from ..build.optimize import Plan
from ..dockerfile.lint import LintReport
from ..encoding import Encoder, register
from ..units import human


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "0 %"


def analysis_repr(a: Analysis) -> str:
    return (
        f"<Analysis {a.image.ref}: {human(a.size_bytes)} shipped in {len(a.image.layers)} layers, "
        f"{human(a.final_size_bytes)} final, {human(a.reclaimable_bytes)} reclaimable "
        f"({_pct(a.reclaimable_bytes, a.size_bytes)})>"
    )


def diff_repr(d: ImageDiff) -> str:
    return (
        f"<ImageDiff {d.before_ref} -> {d.after_ref}: +{len(d.added)} ({human(d.added_bytes)}), "
        f"-{len(d.removed)} ({human(d.removed_bytes)}), ~{len(d.changed)}; "
        f"final {human(d.before_final)} -> {human(d.after_final)}>"
    )


def lint_repr(r: LintReport) -> str:
    counts: dict[str, int] = {}
    for f in r.findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    by = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    cost = f", {human(r.total_bytes)} measured in {r.image}" if r.total_bytes is not None else ""
    return f"<LintReport {r.dockerfile}: {len(r.findings)} findings" + (f" ({by})" if by else "") + f"{cost}>"


def plan_repr(p: Plan) -> str:
    if p.chosen is None:
        what = "no variant recommended"
    elif p.saved_bytes is not None:
        what = f"{p.chosen.target} chosen, {human(p.saved_bytes)} smaller ({p.saved_percent} %)"
    else:
        what = f"{p.chosen.target} proposed (not built)"
    return f"<Plan {p.dockerfile}: {what}; {len(p.candidates)} candidates{', verified' if p.verified else ''}>"


def comparison_repr(c: Comparison) -> str:
    saved = f"{human(c.saved_bytes)} smaller ({c.saved_percent} %)" if c.saved_bytes is not None else "no saving"
    return (
        f"<Comparison {c.before.label} -> {c.after.label}: {saved}, checks {'passed' if c.checks_passed else 'FAILED'}>"
    )


for _kind, _fn in (
    (Analysis, analysis_repr),
    (ImageDiff, diff_repr),
    (LintReport, lint_repr),
    (Plan, plan_repr),
    (Comparison, comparison_repr),
):
    register(Encoder(_kind, "repr", _fn, cli=False))
