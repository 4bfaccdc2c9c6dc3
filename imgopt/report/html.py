"""The HTML report of an analysis: ``imgopt analyze REF --format html -o report.html`` (one
self-contained page) and the notebook view (``Analysis._repr_html_``: the same charts, no page)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from html import escape

from ..analysis import Analysis
from ..analysis.categories import Categorizer
from ..analysis.ci import RuleResult
from ..analysis.squash import CAUSES
from ..analysis.tree import directory_tree
from ..encoding import Encoder, register
from ..units import human
from .page import CAUSE_COLORS, Bar, bar_chart, cards, category_colors, num, page, table, text_cell, treemap
from .text import layer_label, pair_sentence


def _layer_what(a: Analysis, i: int) -> str:
    lr = a.layers[i]
    att = lr.instruction
    if att is not None and att.instruction is not None:
        ins = att.instruction
        return f"L{ins.line}: {ins.keyword} {ins.text}"
    return lr.created_by or "(no history)"


def layer_bars(a: Analysis) -> list[Bar]:
    """Per layer: the bytes that reach the final filesystem, and the reclaimable ones by cause."""
    by_cause: dict[tuple[int, str], int] = defaultdict(int)
    for w in a.squash.waste:
        by_cause[(w.layer, w.cause)] += w.bytes
    bars = []
    for lr in a.layers:
        lost = {c: by_cause[(lr.index, c)] for c in CAUSES}
        kept = lr.size_bytes - sum(lost.values())
        what = _layer_what(a, lr.index)
        bars.append(
            Bar(f"#{lr.index} {what}", (("kept", kept), *((c, lost[c]) for c in CAUSES)), f"layer {lr.index}: {what}")
        )
    return bars


def _headline(a: Analysis) -> str:
    img = a.image
    share = a.reclaimable_bytes / a.size_bytes if a.size_bytes else 0.0
    d = a.dive
    upct = d.user_wasted_percent
    return cards(
        [
            ("shipped (uncompressed)", human(a.size_bytes), "", f"{len(img.layers)} layers"),
            (
                "compressed",
                human(a.compressed_size_bytes) if a.compressed_size_bytes is not None else "unknown",
                "",
                "as stored" if a.compressed_size_bytes is not None else "layers stored uncompressed",
            ),
            ("final filesystem", human(a.final_size_bytes), "", f"{len(a.squash.final):,} entries"),
            ("reclaimable", human(a.reclaimable_bytes), "bad" if share > 0.05 else "good", f"{100 * share:.1f} %"),
            ("dive efficiency", f"{100 * d.efficiency:.2f} %", "", f"wasted {human(d.wasted_bytes)}"),
            (
                "dive user wasted",
                "undefined" if math.isnan(upct) else f"{100 * upct:.1f} %",
                "",
                "no bytes above the base layer" if math.isnan(upct) else "of the bytes above the base layer",
            ),
        ]
    )


def analysis_body(a: Analysis) -> str:
    img = a.image
    categorizer = Categorizer()
    names = [c.name for c in a.categories]
    colors = category_colors(names)
    tree = directory_tree(a.squash.final.values(), a.squash.waste, categorizer)
    parts = [
        f"<h1>{escape(img.ref)}</h1><p class='sub'>{escape(img.platform)} · id {escape(img.id or '-')}"
        + (f" · layers mapped to {escape(a.dockerfile)}" if a.dockerfile else "")
        + "</p>",
        _headline(a),
        "<h2>Layers</h2><p class='sub'>Each layer's bytes: those that reach the final filesystem (kept) and "
        "those a later layer deleted, overwrote or rewrote unchanged (reclaimable).</p>",
        bar_chart(layer_bars(a), CAUSE_COLORS),
    ]
    if a.waste_pairs:
        items = "".join(f"<li>{escape(pair_sentence(a, p))}</li>" for p in a.waste_pairs[:10])
        parts.append(f"<h2>Where the reclaimable bytes come from</h2><ul>{items}</ul>")
    parts += [
        "<h2>Final filesystem</h2><p class='sub'>Area is size; colour is the waste category holding most of "
        "the bytes; a red outline marks directories under which layers shipped bytes the final filesystem "
        "does not hold. Click a directory to zoom in; the path above it zooms out.</p>",
        treemap(tree, colors),
        "<h2>Reclaimable bytes by cause</h2>",
        bar_chart([Bar(c, ((c, v),)) for c, v in a.waste_by_cause.items() if v], CAUSE_COLORS, label_width=200),
        "<h2>Waste categories</h2><p class='sub'>In the final filesystem, and shipped but unreachable.</p>",
        bar_chart(
            [
                Bar(
                    c.name,
                    (("in the final image", c.final_bytes), ("shipped, unreachable", c.wasted_bytes)),
                    f"{c.name}: {c.description}",
                )
                for c in sorted(a.categories, key=lambda c: -(c.final_bytes + c.wasted_bytes))
                if c.final_bytes or c.wasted_bytes
            ],
            {"in the final image": "#4e79a7", "shipped, unreachable": "#d64545"},
            label_width=200,
        ),
        "<h2>Largest files</h2>",
        table(
            "files",
            [("path", False), ("size", True), ("layer", True)],
            [
                text_cell("/" + p.path, "path") + num(p.bytes) + num(p.layer, layer_label(a, p.layer or 0))
                for p in a.top_files
            ],
            filter_label="filter paths",
        ),
        "<h2>Largest directories</h2>",
        table(
            "dirs",
            [("path", False), ("size", True), ("files", True)],
            [text_cell("/" + p.path, "path") + num(p.bytes) + num(p.files, f"{p.files:,}") for p in a.top_dirs],
            filter_label="filter paths",
        ),
    ]
    if a.top_waste:
        parts += [
            "<h2>Largest reclaimable paths</h2>",
            table(
                "waste",
                [("path", False), ("reclaimable", True)],
                [text_cell("/" + p.path, "path") + num(p.bytes) for p in a.top_waste],
                filter_label="filter paths",
            ),
        ]
    return "".join(parts)


def _ci_rules(rules: Sequence[RuleResult]) -> str:
    rows = [
        text_cell(f"{r.key} = {r.configured}")
        + f"<td class='status-{'fail' if r.status == 'fail' else 'pass'}'>{escape(r.status)}</td>"
        + text_cell(r.message)
        for r in rules
    ]
    return "<h2>CI rules</h2>" + table("ci", [("rule", False), ("status", False), ("detail", False)], rows)


def analysis_html(a: Analysis, notebook: bool = False, ci: Sequence[RuleResult] | None = None) -> str:
    body = analysis_body(a)
    if ci is not None:
        body = _ci_rules(ci) + body
    if notebook:
        return f"<div class='imgopt-analysis'>{body}</div>"
    return page(f"imgopt: {a.image.ref}", body)


register(Encoder(Analysis, "html", analysis_html))
register(Encoder(Analysis, "notebook", lambda a: analysis_html(a, notebook=True), cli=False))
