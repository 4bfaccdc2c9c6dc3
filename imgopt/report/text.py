"""The human text report: tables (tabulate) with human sizes (humanize)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..analysis import Analysis, WastePair
from ..analysis.ci import RuleResult
from ..encoding import Encoder, register
from ..units import human


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(rows: Sequence[Sequence[object]], headers: Sequence[str], align: Sequence[str] | None = None) -> str:
    from tabulate import tabulate

    return str(tabulate(rows, headers=list(headers), tablefmt="simple", colalign=align, disable_numparse=True))


_VERB = {"deleted": "deleted", "overwritten": "overwrote", "metadata-only": "rewrote unchanged (chown/chmod)"}


def layer_label(a: Analysis, layer: int) -> str:
    """``layer 3 (L7: RUN chown -R app /app)`` when the Dockerfile is known, else ``layer 3``."""
    att = a.layers[layer].instruction if 0 <= layer < len(a.layers) else None
    if att is None or att.instruction is None:
        return f"layer {layer}"
    ins = att.instruction
    return f"layer {layer} (L{ins.line}: {ins.keyword} {_short(ins.text, 40)})"


def pair_sentence(a: Analysis, p: WastePair) -> str:
    """``layer 2 shipped 34.0 MB that layer 3 made unreachable (rewrote unchanged (chown/chmod))``."""
    files = f"{p.files} file{'s' if p.files != 1 else ''}"
    if p.shipped_by == p.made_unreachable_by:
        return f"{layer_label(a, p.shipped_by)} wrote {human(p.bytes)} ({files}) twice: only the last write is kept"
    return (
        f"{layer_label(a, p.shipped_by)} shipped {human(p.bytes)} ({files}) that "
        f"{layer_label(a, p.made_unreachable_by)} {_VERB.get(p.cause, p.cause)}"
    )


def _room(rows: Sequence[Sequence[str]], headers: Sequence[str], align: Sequence[str], width: int) -> int:
    """Characters left for the last column when the table must fit ``width``."""
    probe = table([(*r[:-1], "") for r in rows], [*headers[:-1], ""], align)
    return width - max(len(line) for line in probe.splitlines())


def _user_wasted(pct: float) -> str:
    """dive's user_wasted_percent in words where the number alone misleads."""
    if math.isnan(pct):
        return "undefined (no bytes above the base layer to compare with)"
    if pct > 1:
        return (
            f"{100 * pct:.4f} % (over 100 %: dive divides the wasted bytes of all layers, the base's "
            "included, by the bytes above the base layer only; docs/dive.md)"
        )
    return f"{100 * pct:.4f} %"


def render_text(
    a: Analysis, ci: Sequence[RuleResult] | None = None, width: int | None = None, quiet: bool = False
) -> str:
    """The terminal report. ``width``: fit the layer table's command column into that many
    columns (None: commands shortened to 70 characters, ``0``: never shortened, as ``--wide``).
    With ``ci``, the rule table comes first, and alone when ``quiet``."""

    img = a.image
    d = a.dive
    out: list[str] = []
    pct = d.user_wasted_percent
    summary = [
        ("image", img.ref),
        ("id", img.id or "-"),
        ("platform", img.platform),
        ("layers", str(len(img.layers))),
        ("size (uncompressed)", f"{human(a.size_bytes)} ({a.size_bytes:,} B)"),
        (
            "size (compressed)",
            human(a.compressed_size_bytes)
            if a.compressed_size_bytes is not None
            else "unknown (layers stored uncompressed)",
        ),
        ("final filesystem", f"{human(a.final_size_bytes)} ({a.final_size_bytes:,} B)"),
        (
            "reclaimable",
            f"{human(a.reclaimable_bytes)} ({a.reclaimable_bytes:,} B, "
            f"{_pct(a.reclaimable_bytes, a.size_bytes)} of the image)",
        ),
        ("dive efficiency", f"{100 * d.efficiency:.4f} %"),
        ("dive wasted bytes", f"{d.wasted_bytes:,} B ({human(d.wasted_bytes)})"),
        ("dive user wasted", _user_wasted(pct)),
    ]
    if a.duplicates is not None:
        summary.append(("duplicate content", f"{human(a.duplicate_bytes)} in {len(a.duplicates)} groups"))
    out.append(table(summary, ["Summary", ""]))

    rows: list[tuple[str, ...]] = []
    for lr in a.layers:
        c = lr.changes
        if lr.instruction is not None:
            ins = lr.instruction.instruction
            what = (
                f"L{ins.line}: {ins.keyword} {' '.join(ins.text.split())}"
                if ins is not None
                else f"({lr.instruction.status}) {' '.join(lr.created_by.split())}"
            )
        else:
            what = " ".join((lr.created_by or "(no history)").split())
        rows.append(
            (
                str(lr.index),
                human(lr.size_bytes),
                human(lr.compressed_size_bytes),
                human(lr.reclaimable_bytes),
                human(c.hidden_bytes),
                f"+{c.added_files}",
                f"~{c.modified_files}",
                f"-{c.deleted_files}",
                what,
            )
        )
    headers = ["#", "size", "compressed", "reclaimable", "made unreachable", "added", "changed", "deleted", "command"]
    align = ["right"] * 8 + ["left"]
    if width is None:
        rows = [(*r[:-1], _short(r[-1], 70)) for r in rows]
    elif width > 0:  # the command column takes what the terminal leaves; narrow terminals get short headers
        room = _room(rows, headers, align, width)
        if room < 30:
            headers = ["#", "size", "gz", "reclaim", "hides", "+", "~", "-", "command"]
            room = _room(rows, headers, align, width)
        rows = [(*r[:-1], _short(r[-1], max(12, room))) for r in rows]
    out.append(table(rows, headers, align))

    causes = a.waste_by_cause
    out.append(
        table(
            [(k, human(v), _pct(v, a.reclaimable_bytes)) for k, v in causes.items()],
            ["Reclaimable by cause", "bytes", "share"],
            ["left", "right", "right"],
        )
    )
    if a.waste_pairs:
        out.append(
            table(
                [
                    (pair_sentence(a, p), _short(", ".join("/" + path for path, _ in p.top_paths[:3]), 60))
                    for p in a.waste_pairs[: a.top]
                ],
                ["Who shipped reclaimable bytes, and who made them unreachable", "largest paths"],
                ["left", "left"],
            )
        )
    if a.top_waste:
        out.append(
            table(
                [("/" + p.path, human(p.bytes)) for p in a.top_waste],
                ["Largest reclaimable paths", "bytes"],
                ["left", "right"],
            )
        )
    cats = [c for c in a.categories if c.final_bytes or c.wasted_bytes]
    if cats:
        out.append(
            table(
                [
                    (c.name, human(c.final_bytes), str(c.final_files), human(c.wasted_bytes), c.description)
                    for c in cats
                ],
                ["Waste category", "in final image", "files", "shipped, deleted later", "what"],
                ["left", "right", "right", "right", "left"],
            )
        )
    out.append(
        table(
            [("/" + p.path, human(p.bytes), str(p.layer)) for p in a.top_files],
            ["Largest files", "bytes", "layer"],
            ["left", "right", "right"],
        )
    )
    out.append(
        table(
            [("/" + p.path, human(p.bytes), str(p.files)) for p in a.top_dirs],
            ["Largest directories", "bytes", "files"],
            ["left", "right", "right"],
        )
    )
    if a.duplicates:
        out.append(
            table(
                [
                    (
                        human(g.size),
                        str(len(g.paths)),
                        human(g.reclaimable_bytes),
                        _short(", ".join("/" + p for p in g.paths), 80),
                    )
                    for g in a.duplicates[: a.top]
                ],
                ["Duplicate content", "copies", "reclaimable", "paths"],
                ["right", "right", "right", "left"],
            )
        )
    if ci is not None:
        ci_rows = [(r.status.upper(), r.key, r.configured, r.message) for r in ci]
        verdict = "FAIL" if any(r.status == "fail" for r in ci) else "PASS"
        rules = table(ci_rows, ["CI", "rule", "threshold", "detail"]) + f"\n\nResult: {verdict}"
        out = [rules] if quiet else [rules, *out]
    return "\n\n".join(out) + "\n"


register(Encoder(Analysis, "text", render_text))
