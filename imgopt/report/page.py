"""Pieces of the self-contained HTML report: the page (CSS and JS inlined from the packaged copies
in ``imgopt/data``, a Content-Security-Policy that forbids every request), SVG bar charts drawn
here (readable without JS), tables the script makes sortable and filterable, and the treemap
(a static SVG of the top level, zoomable when the script runs)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib import resources

from .._version import __version__
from ..analysis.tree import TreeNode
from ..units import human

CAUSE_COLORS = {"kept": "#8aa4c1", "deleted": "#d64545", "overwritten": "#f29b38", "metadata-only": "#9b6dd6"}
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac")
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


@cache
def asset(name: str) -> str:
    return resources.files("imgopt").joinpath("data").joinpath(name).read_text(encoding="utf-8")


def page(title: str, body: str) -> str:
    """A whole HTML document: nothing is fetched when it is viewed (the CSP says so to the browser)."""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{asset('report.css')}</style></head>"
        f"<body><main>{body}<footer>imgopt {escape(__version__)}</footer></main>"
        f"<script>{asset('report.js')}</script></body></html>\n"
    )


def cards(items: Sequence[tuple[str, str, str, str]]) -> str:
    """(label, value, class: ''/'bad'/'good', small print)."""
    out = "".join(
        f"<div class='card {cls}'><small>{escape(label)}</small><b>{escape(value)}</b>"
        f"<small>{escape(note)}</small></div>"
        for label, value, cls, note in items
    )
    return f"<div class='cards'>{out}</div>"


@dataclass(frozen=True)
class Bar:
    label: str
    segments: tuple[tuple[str, int], ...]  # (series, bytes)
    title: str = ""  # tooltip (full text)


def bar_chart(bars: Sequence[Bar], colors: dict[str, str], *, width: int = 1100, label_width: int = 420) -> str:
    """Horizontal stacked bars in SVG, one per row, each labelled and totalled; a legend above."""
    if not bars:
        return "<p class='sub'>nothing to draw</p>"
    row_h, top = 22, 6
    total_max = max(sum(v for _, v in b.segments) for b in bars) or 1
    plot = width - label_width - 110
    parts = []
    for i, b in enumerate(bars):
        y = top + i * row_h
        label = b.label if len(b.label) <= 64 else b.label[:63] + "…"
        parts.append(
            f"<g class='bar' data-row='{i}'><title>{escape(b.title or b.label)}</title>"
            f"<text x='{label_width - 8}' y='{y + 15}' text-anchor='end'>{escape(label)}</text>"
        )
        x = float(label_width)
        for series, value in b.segments:
            if value <= 0:
                continue
            w = max(1.0, plot * value / total_max)
            parts.append(
                f"<rect x='{x:.1f}' y='{y + 3}' width='{w:.1f}' height='{row_h - 6}' "
                f"fill='{colors.get(series, '#999')}' data-series='{escape(series)}'>"
                f"<title>{escape(series)}: {human(value)} ({value:,} B)</title></rect>"
            )
            x += w
        total = sum(v for _, v in b.segments)
        parts.append(f"<text class='dim' x='{x + 6:.1f}' y='{y + 15}'>{escape(human(total))}</text></g>")
    height = top * 2 + row_h * len(bars)
    used = {s for b in bars for s, v in b.segments if v > 0}
    legend = "".join(f"<span><i style='background:{c}'></i>{escape(s)}</span>" for s, c in colors.items() if s in used)
    return (
        f"<div class='legend'>{legend}</div><svg class='chart' role='img' viewBox='0 0 {width} {height}' "
        f"width='{width}' height='{height}' xmlns='http://www.w3.org/2000/svg'>{''.join(parts)}</svg>"
    )


def num(value: int | float | None, text: str | None = None) -> str:
    """A numeric table cell sorted by its value."""
    if value is None:
        return "<td class='num' data-sort='-1'>–</td>"
    return f"<td class='num' data-sort='{value}'>{escape(text if text is not None else human(int(value)))}</td>"


def text_cell(value: str, cls: str = "") -> str:
    return f"<td class='{cls}'>{escape(value)}</td>"


def table(table_id: str, headers: Sequence[tuple[str, bool]], rows: Sequence[str], *, filter_label: str = "") -> str:
    """``rows`` are ``<tr>`` inner HTML (cells from :func:`num` / :func:`text_cell`)."""
    head = "".join(f"<th class='{'num' if numeric else ''}'>{escape(h)}</th>" for h, numeric in headers)
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    flt = (
        f"<input class='filter' type='search' data-table='{table_id}' placeholder='{escape(filter_label)}'>"
        if filter_label
        else ""
    )
    head_row = f"<thead><tr>{head}</tr></thead>"
    return f"{flt}<table id='{table_id}' class='sortable-table'>{head_row}<tbody>{body}</tbody></table>"


def category_colors(names: Sequence[str]) -> dict[str, str]:
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def _squarify(sizes: Sequence[int], x: float, y: float, w: float, h: float) -> list[tuple[float, float, float, float]]:
    """The squarified layout (the same algorithm as report.js) of ``sizes`` (descending)."""
    total = sum(sizes)
    out: list[tuple[float, float, float, float]] = []
    if total <= 0 or w <= 0 or h <= 0:
        return out
    scale = w * h / total
    rest = [s * scale for s in sizes]
    row: list[float] = []

    def worst(r: list[float], side: float) -> float:
        s = sum(r)
        return max(side * side * max(r) / (s * s), s * s / (side * side * min(r)))

    def layout(r: list[float]) -> None:
        nonlocal x, y, w, h
        s = sum(r)
        if w >= h:
            cw, cy = s / h, y
            for a in r:
                out.append((x, cy, cw, a / cw))
                cy += a / cw
            x, w = x + cw, w - cw
        else:
            rh, cx = s / w, x
            for a in r:
                out.append((cx, y, a / rh, rh))
                cx += a / rh
            y, h = y + rh, h - rh

    while rest:
        side = min(w, h)
        if not row or worst([*row, rest[0]], side) <= worst(row, side):
            row.append(rest.pop(0))
        else:
            layout(row)
            row = []
    if row:
        layout(row)
    return out


def treemap(tree: TreeNode, colors: dict[str, str], *, width: int = 1100, height: int = 420) -> str:
    """The zoomable treemap (report.js draws it from the JSON) with a static SVG of the top level
    for readers without scripts and for notebooks."""
    kids = [c for c in tree.children if c.size > 0]
    rects = _squarify([c.size for c in kids], 0, 0, width, height)
    svg = []
    for c, (x, y, w, h) in zip(kids, rects, strict=False):
        fill = colors.get(c.category or "", "#c9d3df")
        stroke = " stroke='#b42318' stroke-width='2'" if c.reclaimable else " stroke='#fff'"
        label = (
            f"<text x='{x + 4:.1f}' y='{y + 14:.1f}'>{escape(c.name)} {escape(human(c.size))}</text>"
            if w > 60 and h > 16
            else ""
        )
        svg.append(
            f"<g data-path='{escape(c.path)}'><title>{escape(c.path)}: {human(c.size)}"
            f"{' · ' + escape(c.category) if c.category else ''}"
            f"{' · ' + human(c.reclaimable) + ' reclaimable shipped under it' if c.reclaimable else ''}</title>"
            f"<rect x='{x:.1f}' y='{y:.1f}' width='{w:.1f}' height='{h:.1f}' fill='{fill}'{stroke}/>{label}</g>"
        )
    static = (
        f"<svg class='chart tm-static' role='img' viewBox='0 0 {width} {height}' width='{width}' height='{height}' "
        f"xmlns='http://www.w3.org/2000/svg'>{''.join(svg)}</svg>"
    )
    payload = {"tree": tree.to_list(), "colors": colors}
    data = json.dumps(payload, separators=(",", ":")).replace("</", "<\\/")
    return (
        "<div class='treemap'><div class='tm-crumbs'></div><div class='tm-box'></div>"
        f"{static}<div class='tm-legend'></div><script type='application/json'>{data}</script></div>"
    )


__all__ = ["Bar", "asset", "bar_chart", "cards", "num", "page", "table", "text_cell", "treemap"]
