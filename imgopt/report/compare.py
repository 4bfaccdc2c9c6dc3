"""Reports for ``compare``, ``optimize`` and ``diff``: text, Markdown, HTML and the JSON formats
``imgopt.compare/1``, ``imgopt.optimize/1`` and ``imgopt.diff/1``."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from ..analysis.diff import DiffEntry, ImageDiff
from ..build.compare import DEFAULT_CHECK, CheckResult, Comparison, Measure, Side, stdout_diff
from ..build.engine import Run
from ..build.optimize import Candidate, Plan
from ..dockerfile.rewrite import Change
from ..dockerfile.variants import Variant
from ..encoding import Encoder, register
from ..units import human
from .jsonfmt import json_encoder

COMPARE_SCHEMA = "imgopt.compare/1"
OPTIMIZE_SCHEMA = "imgopt.optimize/1"
DIFF_SCHEMA = "imgopt.diff/1"


# ---------------------------------------------------------------------------------------------
# JSON documents


def run_dict(run: Run) -> dict[str, object]:
    out: dict[str, object] = {
        "command": list(run.command) if run.command is not None else None,
        "exit_code": run.exit_code,
        "timed_out": run.timed_out,
        "stdout": run.stdout,
        "stderr": run.stderr,
        "seconds": round(run.seconds, 3),
    }
    if run.error is not None:
        out["error"] = run.error
    return out


def check_dict(c: CheckResult) -> dict[str, Any]:
    return {
        "name": c.name,
        "passed": c.passed,
        "reason": c.reason,
        "before": run_dict(c.before),
        "after": run_dict(c.after),
    }


def measure_dict(m: Measure) -> dict[str, Any]:
    return {
        "tag": m.tag,
        "image_id": m.image_id,
        "size_bytes": m.size_bytes,
        "compressed_size_bytes": m.compressed_size_bytes,
        "final_size_bytes": m.final_size_bytes,
        "reclaimable_bytes": m.reclaimable_bytes,
        "layers": m.layers,
        "build_seconds": round(m.build_seconds, 2),
        "builder": m.builder,
        "config": m.config,
    }


def side_dict(s: Side) -> dict[str, Any]:
    out: dict[str, Any] = {"label": s.label, "built": s.built, "error": s.error}
    out.update(measure_dict(s.measure) if s.measure else {"size_bytes": None})
    return out


def _config_changes(changes: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    return {k: {"before": a, "after": b} for k, (a, b) in changes.items()}


def comparison_dict(c: Comparison) -> dict[str, Any]:
    return {
        "schema": COMPARE_SCHEMA,
        "before": side_dict(c.before),
        "after": side_dict(c.after),
        "saved_bytes": c.saved_bytes,
        "saved_percent": c.saved_percent,
        "check": {"passed": c.checks_passed, "results": [check_dict(r) for r in c.checks]},
        "config_changes": _config_changes(c.config_changes),
        "verdict": verdict(c),
    }


def change_dict(c: Change) -> dict[str, object]:
    return {
        "rule": c.rule,
        "line": c.line,
        "description": c.description,
        "expected_bytes": c.expected_bytes,
        "measured_bytes": c.measured_bytes,
        "safety": c.safety,
        "caution": c.caution or None,
        "note": c.note or None,
    }


def variant_dict(v: Variant) -> dict[str, object]:
    return {
        "target": v.target,
        "changes": [change_dict(c) for c in v.changes],
        "warnings": list(v.warnings),
        "bases": list(v.bases),
        "dockerfile": v.text,
    }


def candidate_dict(c: Candidate) -> dict[str, Any]:
    m = c.side.measure if c.side else None
    return {
        "target": c.target,
        "status": c.status,
        "reason": c.reason,
        "size_bytes": m.size_bytes if m else None,
        "compressed_size_bytes": m.compressed_size_bytes if m else None,
        "layers": m.layers if m else None,
        "build_seconds": round(m.build_seconds, 2) if m else None,
        "check": {"passed": c.check_passed, "results": [check_dict(r) for r in c.checks]},
        "config_changes": _config_changes(c.config_changes),
        "packages": {"removed": list(c.packages_removed), "added": list(c.packages_added)},
        "other_savings": [{"path": "/" + p, "bytes": b} for p, b in c.other_savings],
        **{k: v for k, v in variant_dict(c.variant).items() if k != "target"},
    }


def plan_dict(p: Plan) -> dict[str, Any]:
    b = p.before.measure if p.before and p.before.measure else None
    chosen_m = p.chosen.side.measure if p.chosen and p.chosen.side else None
    return {
        "schema": OPTIMIZE_SCHEMA,
        "dockerfile": p.dockerfile,
        "target": p.target,
        "verified": p.verified,
        "chosen": p.chosen.target if p.chosen else None,
        "before": measure_dict(b) if b else {"size_bytes": None},
        "after": measure_dict(chosen_m) if chosen_m else {"size_bytes": None},
        "saved_bytes": p.saved_bytes,
        "saved_percent": p.saved_percent,
        "check": {
            "passed": p.chosen.check_passed if p.chosen else None,
            "results": [check_dict(r) for r in p.chosen.checks] if p.chosen else [],
        },
        "changes": [change_dict(c) for c in p.changes],
        "dockerignore": p.dockerignore,
        "diff": p.diff,
        "new_dockerfile": p.text,
        "variants": [candidate_dict(c) for c in p.candidates],
        "not_applicable": p.skipped,
        "unfixed": [
            {
                "shipped_by": u.pair.shipped_by,
                "made_unreachable_by": u.pair.made_unreachable_by,
                "cause": u.pair.cause,
                "bytes": u.pair.bytes,
                "reason": u.reason,
            }
            for u in p.unfixed
        ],
    }


def diff_entry(e: DiffEntry) -> dict[str, Any]:
    return {
        "change": e.change,
        "path": e.path,
        "before_size": e.before_size,
        "after_size": e.after_size,
        "delta": e.delta,
        "detail": e.detail,
    }


def diff_dict(d: ImageDiff) -> dict[str, Any]:
    return {
        "schema": DIFF_SCHEMA,
        "before": {"ref": d.before_ref, "final_size_bytes": d.before_final},
        "after": {"ref": d.after_ref, "final_size_bytes": d.after_final},
        "summary": {
            "added": len(d.added),
            "added_bytes": d.added_bytes,
            "removed": len(d.removed),
            "removed_bytes": d.removed_bytes,
            "changed": len(d.changed),
            "changed_delta_bytes": d.changed_delta,
        },
        "entries": [diff_entry(e) for e in d.entries],
    }


def verdict(c: Comparison) -> str:
    if not c.before.built:
        return f"the original did not build: {c.before.error}"
    if not c.after.built:
        return f"FAILED: {c.after.label} did not build: {c.after.error}"
    failed = [r for r in c.checks if not r.passed]
    if failed:
        return f"FAILED: {c.after.label} does not behave like {c.before.label}: {failed[0].reason}"
    saved = c.saved_bytes or 0
    if saved > 0:
        return f"{c.after.label} is {human(saved)} ({c.saved_percent}%) smaller and passes the check"
    return f"{c.after.label} passes the check but is not smaller ({human(-saved)} larger)"


# ---------------------------------------------------------------------------------------------
# tables


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
        out += _check_lines(r)
    for key, (a, b) in c.config_changes.items():
        out.append(f"config {key}: {a!r} -> {b!r}")
    out.append(("**" if fmt == "github" else "") + verdict(c) + ("**" if fmt == "github" else ""))
    return "\n".join(out) + "\n"


def _check_lines(r: CheckResult) -> list[str]:
    out = [f"{'passed' if r.passed else 'FAILED'}: {r.name}: {r.reason}"]
    if not r.passed and r.name == DEFAULT_CHECK and r.before.exit_code == r.after.exit_code:
        out += [f"    {ln}" for ln in stdout_diff(r).splitlines()]
    elif not r.passed and (r.after.stderr or r.after.stdout):
        tail = (r.after.stderr or r.after.stdout).strip().splitlines()[-3:]
        out += [f"    {ln}" for ln in tail]
    return out


def comparison_markdown(c: Comparison) -> str:
    return f"### imgopt compare\n\n{comparison_text(c, 'github')}"


def _html_table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


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
            out.append(f"  line {ch.line}: {ch.rule}: {ch.description}{_cost(ch)}")
            if ch.note:
                out.append(f"      {ch.note}")
        for w in p.chosen.variant.warnings:
            out.append(f"  warning: {w}")
        out += _package_lines(p.chosen, "  ")
        if p.chosen.other_savings:
            other = ", ".join(f"/{path} {_signed(b)}" for path, b in p.chosen.other_savings[:3])
            out.append(f"  also changed, by no change above: {other}")
        out.append("")
        if not p.diff:
            out.append("(the Dockerfile is unchanged)")
        else:
            out += _fenced(p.diff.rstrip("\n").splitlines(), fmt, "diff")
    for c in p.candidates:
        failed = [r for r in c.checks if not r.passed]
        if failed:
            lines = ["  " + ln for r in failed for ln in _check_lines(r)]
            out += ["", f"{c.target} failed its check:", *_fenced(lines, fmt, "")]
    others = [c for c in p.candidates if c is not p.chosen and (c.packages_removed or c.packages_added)]
    for c in others:
        out += ["", f"{c.target}:", *_package_lines(c, "  ")]
    if p.unfixed:
        out += ["", "reclaimable bytes no rewrite addresses:"]
        for u in p.unfixed[:10]:
            out.append(
                f"  layer {u.pair.shipped_by} -> layer {u.pair.made_unreachable_by} ({u.pair.cause}, "
                f"{human(u.pair.bytes)}): {u.reason}"
            )
    if p.dockerignore:
        ignore = p.dockerignore.rstrip("\n").splitlines()
        out += ["", "proposed .dockerignore (the context has none):", *_fenced(ignore, fmt, "")]
    return "\n".join(out) + "\n"


def _fenced(lines: list[str], fmt: str, lang: str) -> list[str]:
    """Code and diffs fenced for Markdown (a PR comment renders them as code); as is for the terminal."""
    if fmt != "github":
        return lines
    return [f"```{lang}", *lines, "```"]


def _cost(ch: Change) -> str:
    if not ch.expected_bytes and ch.measured_bytes is None:
        return "" if ch.safety == "safe" else f" ({ch.safety})"
    parts = []
    if ch.expected_bytes:
        parts.append(f"{human(ch.expected_bytes)} in the original")
    if ch.measured_bytes is not None:
        parts.append(f"{human(ch.measured_bytes)} saved")
    safety = "" if ch.safety == "safe" else f" ({ch.safety})"
    return f" [{', '.join(parts)}]{safety}"


def _signed(n: int) -> str:
    return ("-" if n > 0 else "+") + human(abs(n))


def _package_lines(c: Candidate, indent: str) -> list[str]:
    out = []
    if c.packages_removed:
        out.append(f"{indent}packages removed: {', '.join(c.packages_removed)} (from the package database)")
    if c.packages_added:
        out.append(f"{indent}packages added: {', '.join(c.packages_added)}")
    return out


def plan_markdown(p: Plan) -> str:
    body = plan_text(p, "github")
    return f"### imgopt optimize: {p.dockerfile}\n\n{body}"


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


json_encoder(Comparison, COMPARE_SCHEMA, comparison_dict)
json_encoder(Plan, OPTIMIZE_SCHEMA, plan_dict)
json_encoder(ImageDiff, DIFF_SCHEMA, diff_dict)
for _kind, _text, _md in (
    (Comparison, comparison_text, comparison_markdown),
    (Plan, plan_text, plan_markdown),
):
    register(Encoder(_kind, "text", _text))
    register(Encoder(_kind, "markdown", _md, aliases=("md",)))
register(Encoder(ImageDiff, "text", diff_text))
