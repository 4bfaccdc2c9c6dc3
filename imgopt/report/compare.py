"""Reports for ``compare``, ``optimize`` and ``diff``: text, Markdown and HTML tables."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .text import human

if TYPE_CHECKING:
    from ..compare import Comparison, Measure
    from ..diff import ImageDiff
    from ..optimize import Plan


def _delta(a: int | float | None, b: int | float | None, *, size: bool = True, unit: str = "") -> str:
    if a is None or b is None:
        return "-"
    d = b - a
    if size:
        pct = f" ({100.0 * d / a:+.1f}%)" if a else ""
        sign = "-" if d < 0 else "+"
        return f"{sign}{human(abs(int(d)))}{pct}"
    return f"{d:+.1f}{unit}" if isinstance(d, float) else f"{d:+d}{unit}"


def measure_rows(a: Measure | None, b: Measure | None) -> list[list[str]]:
    def get(m: Measure | None, attr: str) -> Any:
        return getattr(m, attr) if m is not None else None

    rows = []
    for label, attr in (
        ("size", "size_bytes"),
        ("compressed (gzip)", "compressed_size_bytes"),
        ("final filesystem", "final_size_bytes"),
        ("reclaimable", "reclaimable_bytes"),
    ):
        x, y = get(a, attr), get(b, attr)
        rows.append([label, human(x), human(y), _delta(x, y)])
    la, lb = get(a, "layers"), get(b, "layers")
    rows.append(
        ["layers", str(la if la is not None else "-"), str(lb if lb is not None else "-"), _delta(la, lb, size=False)]
    )
    ta, tb = get(a, "build_seconds"), get(b, "build_seconds")
    rows.append(
        [
            "build time",
            f"{ta:.1f} s" if ta is not None else "-",
            f"{tb:.1f} s" if tb is not None else "-",
            _delta(ta, tb, size=False, unit=" s"),
        ]
    )
    return rows


def comparison_rows(c: Comparison) -> list[list[str]]:
    rows = measure_rows(c.before.measure, c.after.measure)
    for r in c.checks:
        rows.append([f"check: {r.name}", _run(r.before), _run(r.after), "passed" if r.passed else "FAILED"])
    return rows


def _run(run: Any) -> str:
    if run.timed_out:
        return f"running after {run.seconds:.0f} s"
    return f"exit {run.exit_code}"


def _table(rows: Sequence[Sequence[str]], headers: Sequence[str], fmt: str) -> str:
    from tabulate import tabulate

    return str(tabulate(rows, headers=list(headers), tablefmt=fmt, disable_numparse=True))


def comparison_text(c: Comparison, fmt: str = "simple") -> str:
    headers = ["", f"before ({c.before.label})", f"after ({c.after.label})", "change"]
    out = [_table(comparison_rows(c), headers, fmt), ""]
    for r in c.checks:
        out.append(f"{'passed' if r.passed else 'FAILED'}: {r.name}: {r.reason}")
        if not r.passed and (r.after.stderr or r.after.stdout):
            tail = (r.after.stderr or r.after.stdout).strip().splitlines()[-3:]
            out += [f"    {ln}" for ln in tail]
    for key, (a, b) in c.config_changes.items():
        out.append(f"config {key}: {a!r} -> {b!r}")
    out.append(("**" if fmt == "github" else "") + c.verdict + ("**" if fmt == "github" else ""))
    return "\n".join(out) + "\n"


def comparison_markdown(c: Comparison) -> str:
    return f"### imgopt compare\n\n{comparison_text(c, 'github')}"


def _html_table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def comparison_html(c: Comparison) -> str:
    headers = ["", c.before.label, c.after.label, "change"]
    return f"<div><p><b>{html.escape(c.verdict)}</b></p>{_html_table(comparison_rows(c), headers)}</div>"


# ---------------------------------------------------------------------------------------------


def _candidate_rows(p: Plan) -> list[list[str]]:
    rows = []
    before = p.before_size
    if p.before is not None and p.before.measure is not None:
        rows.append(["original", "built", human(before), "-", "", "-"])
    for c in p.candidates:
        chosen = "  <- chosen" if p.chosen is c else ""
        saved = _delta(before, c.size_bytes) if before is not None and c.size_bytes is not None else "-"
        passed = {True: "passed", False: "FAILED", None: "-"}[c.check_passed]
        rows.append([c.target + chosen, c.status, human(c.size_bytes), saved, passed, c.reason])
    for t, why in p.skipped.items():
        rows.append([t, "n/a", "-", "-", "-", why])
    return rows


def plan_text(p: Plan, fmt: str = "simple") -> str:
    out: list[str] = []
    headers = ["variant", "status", "size", "change", "check", "note"]
    out.append(_table(_candidate_rows(p), headers, fmt))
    out.append("")
    if p.chosen is None:
        out.append("no variant is recommended" + (": none was smaller and passed its check" if p.verified else ""))
    else:
        if p.saved_bytes is not None:
            out.append(f"chosen: {p.chosen.target}, {human(p.saved_bytes)} ({p.saved_percent}%) smaller, check passed")
        else:
            out.append(f"proposed: {p.chosen.target} (not built: run with --verify to build and check it)")
        out.append("")
        for ch in p.changes:
            cost = f" [{human(ch.expected_bytes)} in the original]" if ch.expected_bytes else ""
            out.append(f"  line {ch.line}: {ch.rule}: {ch.description}{cost}")
        for w in p.chosen.variant.warnings:
            out.append(f"  warning: {w}")
        out.append("")
        out.append(p.diff.rstrip("\n") if p.diff else "(the Dockerfile is unchanged)")
    if p.dockerignore:
        out += ["", "proposed .dockerignore (the context has none):", p.dockerignore.rstrip("\n")]
    return "\n".join(out) + "\n"


def plan_markdown(p: Plan) -> str:
    body = plan_text(p, "github")
    return f"### imgopt optimize: {p.dockerfile}\n\n{body}"


def plan_html(p: Plan) -> str:
    rows = _candidate_rows(p)
    title = html.escape(
        f"{p.chosen.target}: {human(p.saved_bytes)} ({p.saved_percent}%) smaller"
        if p.chosen and p.saved_bytes is not None
        else (f"proposed: {p.chosen.target}" if p.chosen else "no variant recommended")
    )
    diff = f"<pre>{html.escape(p.diff)}</pre>" if p.diff else ""
    table = _html_table(rows, ["variant", "status", "size", "change", "check", "note"])
    return f"<div><p><b>{title}</b></p>{table}{diff}</div>"


# ---------------------------------------------------------------------------------------------


def diff_text(d: ImageDiff, limit: int = 50) -> str:
    rows = [
        [e.change, e.path, human(e.before_size), human(e.after_size), _delta(e.before_size or 0, e.after_size or 0)]
        for e in d.entries[:limit]
    ]
    out = [
        f"{d.before_ref} -> {d.after_ref}",
        f"added {len(d.added)} ({human(d.added_bytes)}), removed {len(d.removed)} ({human(d.removed_bytes)}), "
        f"changed {len(d.changed)} (net {_delta(0, d.changed_delta) if d.changed_delta else '0 B'}); "
        f"final size {human(d.before_final)} -> {human(d.after_final)}",
        "",
        _table(rows, ["change", "path", "before", "after", "delta"], "simple") if rows else "(no differences)",
    ]
    if len(d.entries) > limit:
        out.append(f"... {len(d.entries) - limit} more (--limit)")
    return "\n".join(out) + "\n"
