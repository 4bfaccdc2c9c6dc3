"""HTML pages for optimize, compare, diff and lint (``--format html``): the same self-contained
page as the analysis, with the charts each result needs. The notebook views are the bodies."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from html import escape
from typing import Any

from ..analysis.diff import ADDED, CHANGED, REMOVED, ImageDiff
from ..build.compare import Comparison
from ..build.optimize import Plan
from ..dockerfile.lint import LintReport
from ..encoding import Encoder, register
from ..units import human
from .compare import comparison_rows, verdict
from .page import Bar, bar_chart, cards, num, page, table, text_cell

STATUS_COLORS = {
    "original": "#8aa4c1",
    "passed, chosen": "#1a7f37",
    "passed": "#59a14f",
    "not checked": "#b0b8c1",
    "FAILED its check": "#d64545",
}


def _status(check: bool | None, chosen: bool) -> str:
    if check is True:
        return "passed, chosen" if chosen else "passed"
    if check is False:
        return "FAILED its check"
    return "not checked"


def plan_body(p: Plan) -> str:
    before = p.before_size
    head = [("Dockerfile", p.dockerfile, "", "verified" if p.verified else "proposed, not built")]
    if before is not None:
        head.append(("original image", human(before), "", "as built"))
    if p.chosen is not None and p.saved_bytes is not None:
        head.append(
            (
                f"chosen: {p.chosen.target}",
                human(p.after_size),
                "good",
                f"−{human(p.saved_bytes)} ({p.saved_percent} %)",
            )
        )
    elif p.chosen is not None:
        head.append(("proposed", p.chosen.target, "", "run with --verify to build and check it"))
    else:
        head.append(("recommendation", "none", "bad", "no variant was smaller and passed its check"))
    bars = []
    if before is not None:
        bars.append(Bar("original", (("original", before),)))
    for c in p.candidates:
        if c.size_bytes is None:
            continue
        status = _status(c.check_passed, p.chosen is c)
        bars.append(Bar(f"{c.target} ({status})", ((status, c.size_bytes),), f"{c.target}: {c.status}; {c.reason}"))
    rows = []
    for c in p.candidates:
        status = _status(c.check_passed, p.chosen is c)
        cls = "status-pass" if c.check_passed else "status-fail" if c.check_passed is False else ""
        saved = before - c.size_bytes if before is not None and c.size_bytes is not None else None
        rows.append(
            text_cell(c.target + ("  ← chosen" if p.chosen is c else ""))
            + text_cell(c.status)
            + num(c.size_bytes)
            + num(saved, human(saved) if saved is not None else None)
            + f"<td class='{cls}'>{escape(status)}</td>"
            + text_cell(c.reason)
        )
    for target, why in p.skipped.items():
        rows.append(text_cell(target) + text_cell("n/a") + num(None) + num(None) + text_cell("-") + text_cell(why))
    parts = [
        f"<h1>imgopt optimize: {escape(p.dockerfile)}</h1>",
        cards(head),
        "<h2>Variants</h2><p class='sub'>Each built variant's size and whether it passed the same behaviour "
        "check as the original; a variant that failed is never chosen.</p>",
        bar_chart(bars, STATUS_COLORS, label_width=320),
        table(
            "variants",
            [("variant", False), ("status", False), ("size", True), ("saved", True), ("check", False), ("note", False)],
            rows,
        ),
    ]
    if p.changes:
        items = "".join(
            f"<li>line {ch.line}: <b>{escape(ch.rule)}</b> {escape(ch.description)}"
            + (f" — <i>{escape(ch.safety)}</i>" if getattr(ch, "safety", None) else "")
            + "</li>"
            for ch in p.changes
        )
        parts.append(f"<h2>Changes of the chosen variant</h2><ul>{items}</ul>")
    if p.diff:
        parts.append(f"<h2>Dockerfile diff</h2><pre>{escape(p.diff)}</pre>")
    return "".join(parts)


def comparison_body(c: Comparison) -> str:
    bars = []
    for side in (c.before, c.after):
        if side.measure is not None:
            bars.append(
                Bar(side.label, (("original" if side is c.before else _side_status(c), side.measure.size_bytes),))
            )
    rows = [text_cell(r[0]) + "".join(text_cell(x) for x in r[1:]) for r in comparison_rows(c)]
    checks = [
        text_cell(k.name)
        + f"<td class='{'status-pass' if k.passed else 'status-fail'}'>{'passed' if k.passed else 'FAILED'}</td>"
        + text_cell(k.reason)
        for k in c.checks
    ]
    return "".join(
        [
            f"<h1>imgopt compare: {escape(c.before.label)} → {escape(c.after.label)}</h1>",
            f"<p class='sub'>{escape(verdict(c))}</p>",
            bar_chart(bars, STATUS_COLORS, label_width=320),
            "<h2>Measures</h2>",
            table("measures", [("", False), (c.before.label, False), (c.after.label, False), ("change", False)], rows),
            "<h2>Behaviour checks</h2>",
            table("checks", [("check", False), ("result", False), ("detail", False)], checks),
        ]
    )


def _side_status(c: Comparison) -> str:
    return "passed" if c.checks_passed else "FAILED its check"


DIFF_COLORS = {"added": "#59a14f", "removed": "#d64545", "grew": "#f29b38", "shrank": "#4e79a7"}


def diff_body(d: ImageDiff, limit: int = 200) -> str:
    head = cards(
        [
            ("before", human(d.before_final), "", d.before_ref),
            ("after", human(d.after_final), "good" if d.after_final <= d.before_final else "bad", d.after_ref),
            ("added", f"{len(d.added):,} files", "", human(d.added_bytes)),
            ("removed", f"{len(d.removed):,} files", "", human(d.removed_bytes)),
            (
                "changed",
                f"{len(d.changed):,} files",
                "",
                f"net {human(abs(d.changed_delta))}"
                + (" more" if d.changed_delta > 0 else " less" if d.changed_delta < 0 else ""),
            ),
        ]
    )
    by_dir: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in d.entries:
        top = "/" + e.path.split("/", 1)[0]
        if e.change == ADDED:
            by_dir[top]["added"] += e.after_size or 0
        elif e.change == REMOVED:
            by_dir[top]["removed"] += e.before_size or 0
        elif e.change == CHANGED:
            by_dir[top]["grew" if e.delta > 0 else "shrank"] += abs(e.delta)
    largest = sorted(by_dir.items(), key=lambda kv: -sum(kv[1].values()))[:25]
    bars = [Bar(name, tuple((k, v.get(k, 0)) for k in DIFF_COLORS)) for name, v in largest]
    rows = [
        text_cell(e.change)
        + text_cell("/" + e.path, "path")
        + num(e.before_size)
        + num(e.after_size)
        + num(e.delta, ("+" if e.delta > 0 else "−" if e.delta < 0 else "") + human(abs(e.delta)))
        for e in d.entries[:limit]
    ]
    more = (
        f"<p class='sub'>{len(d.entries) - limit:,} more changes are in the JSON output.</p>"
        if len(d.entries) > limit
        else ""
    )
    return "".join(
        [
            f"<h1>imgopt diff</h1><p class='sub'>{escape(d.before_ref)} → {escape(d.after_ref)}</p>",
            head,
            "<h2>Largest changes by top directory</h2>",
            bar_chart(bars, DIFF_COLORS, label_width=240) if bars else "<p class='sub'>no differences</p>",
            "<h2>Changed files</h2>",
            table(
                "changes",
                [("change", False), ("path", False), ("before", True), ("after", True), ("delta", True)],
                rows,
                filter_label="filter changes",
            )
            + more,
        ]
    )


def lint_body(r: LintReport) -> str:
    by_rule: dict[str, int] = defaultdict(int)
    for f in r.findings:
        if f.bytes:
            by_rule[f.rule] += f.bytes
    bars = [Bar(rule, (("bytes", b),)) for rule, b in sorted(by_rule.items(), key=lambda kv: -kv[1])]
    rows = [
        num(f.line, str(f.line))
        + text_cell(f.rule + (f" ({f.hadolint})" if f.hadolint else ""))
        + f"<td class='{'status-fail' if f.severity == 'error' else ''}'>{escape(f.severity)}</td>"
        + num(f.bytes)
        + text_cell(f.message)
        for f in r.findings
    ]
    total = f"fixing every finding saves {human(r.total_bytes)} in {r.image}" if r.total_bytes is not None else ""
    parts = [
        f"<h1>imgopt lint: {escape(r.dockerfile)}</h1><p class='sub'>{len(r.findings)} findings. {escape(total)}</p>"
    ]
    if bars:
        parts += ["<h2>Bytes each rule costs in the image</h2>", bar_chart(bars, {"bytes": "#d64545"}, label_width=160)]
    parts += [
        "<h2>Findings</h2>",
        table(
            "findings",
            [("line", True), ("rule", False), ("severity", False), ("bytes", True), ("message", False)],
            rows,
            filter_label="filter findings",
        ),
    ]
    return "".join(parts)


TITLES = {Plan: "optimize", Comparison: "compare", ImageDiff: "diff", LintReport: "lint"}


def _page_encoder(kind: type, body: Callable[[Any], str]) -> Callable[..., str]:
    def encode(result: Any, **options: Any) -> str:
        return page(f"imgopt {TITLES[kind]}", body(result))

    return encode


def _notebook_encoder(body: Callable[[Any], str]) -> Callable[[Any], str]:
    return lambda result: f"<div class='imgopt'>{body(result)}</div>"


_BODIES: tuple[tuple[type, Callable[[Any], str]], ...] = (
    (Plan, plan_body),
    (Comparison, comparison_body),
    (ImageDiff, diff_body),
    (LintReport, lint_body),
)
for _kind, _body in _BODIES:
    register(Encoder(_kind, "html", _page_encoder(_kind, _body)))
    register(Encoder(_kind, "notebook", _notebook_encoder(_body), cli=False))
