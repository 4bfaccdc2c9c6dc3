"""matplotlib figures of every result, for people who compose their own figures
(``analysis.plot("layers")``; matplotlib is an optional extra: ``pip install 'imgopt[plot]'``).

The same numbers as the HTML charts: layers split by cause, the largest directories, waste
categories; variant sizes for optimize and compare; the largest changes of a diff."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..analysis import Analysis
from ..analysis.diff import ImageDiff
from ..build.compare import Comparison
from ..build.optimize import Plan
from ..encoding import Encoder, register
from ..errors import UsageError
from ..units import human
from .html import layer_bars
from .page import CAUSE_COLORS, Bar


def _plt() -> Any:
    try:  # the backend is matplotlib's choice: inline in a notebook, Agg on a headless machine
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise UsageError("plot() needs matplotlib: pip install 'imgopt[plot]'") from e
    return plt


def _axes(ax: Any, rows: int) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = _plt().subplots(figsize=(10, max(2.5, 0.4 * rows + 1.2)), layout="constrained")
    return fig, ax


def _barh(bars: Sequence[Bar], colors: dict[str, str], ax: Any, title: str) -> Any:
    fig, ax = _axes(ax, len(bars))
    labels = [b.label if len(b.label) <= 60 else b.label[:59] + "…" for b in bars]
    y = list(range(len(bars)))[::-1]
    series = [s for s in colors if any(dict(b.segments).get(s) for b in bars)]
    left = [0.0] * len(bars)
    for s in series:
        values = [float(dict(b.segments).get(s, 0)) for b in bars]
        ax.barh(y, values, left=left, color=colors[s], label=s)
        left = [a + b for a, b in zip(left, values, strict=True)]
    for yi, total in zip(y, left, strict=True):
        ax.text(total, yi, " " + human(int(total)), va="center", fontsize=8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.xaxis.set_major_formatter(lambda v, _pos: human(int(v)))
    ax.set_title(title, fontsize=10)
    if len(series) > 1:
        ax.legend(fontsize=8, loc="lower right")
    return fig


def analysis_plot(a: Analysis, kind: str | None = None, ax: Any = None) -> Any:
    kind = kind or "layers"
    if kind == "layers":
        return _barh(layer_bars(a), CAUSE_COLORS, ax, f"{a.image.ref}: bytes per layer")
    if kind == "dirs":
        bars = [Bar("/" + p.path, (("size", p.bytes),)) for p in a.top_dirs]
        return _barh(bars, {"size": "#4e79a7"}, ax, "largest directories of the final filesystem")
    if kind == "categories":
        bars = [
            Bar(c.name, (("in the final image", c.final_bytes), ("shipped, unreachable", c.wasted_bytes)))
            for c in a.categories
            if c.final_bytes or c.wasted_bytes
        ]
        colors = {"in the final image": "#4e79a7", "shipped, unreachable": "#d64545"}
        return _barh(bars, colors, ax, "waste categories")
    raise UsageError(f"unknown plot {kind!r}; choose one of layers, dirs, categories")


def plan_plot(p: Plan, kind: str | None = None, ax: Any = None) -> Any:
    bars = [Bar("original", (("original", p.before_size or 0),))] if p.before_size is not None else []
    for c in p.candidates:
        if c.size_bytes is not None:
            status = "passed" if c.check_passed else "failed" if c.check_passed is False else "not checked"
            bars.append(Bar(f"{c.target} ({status})", ((status, c.size_bytes),)))
    colors = {"original": "#8aa4c1", "passed": "#59a14f", "not checked": "#b0b8c1", "failed": "#d64545"}
    return _barh(bars, colors, ax, f"{p.dockerfile}: variant sizes")


def comparison_plot(c: Comparison, kind: str | None = None, ax: Any = None) -> Any:
    bars = [
        Bar(side.label, (("size", side.measure.size_bytes),))
        for side in (c.before, c.after)
        if side.measure is not None
    ]
    return _barh(bars, {"size": "#4e79a7"}, ax, "before and after")


def diff_plot(d: ImageDiff, kind: str | None = None, ax: Any = None) -> Any:
    bars = [Bar(f"{e.change} /{e.path}", ((e.change, abs(e.delta)),)) for e in d.entries[:20]]
    colors = {"added": "#59a14f", "removed": "#d64545", "changed": "#f29b38"}
    return _barh(bars, colors, ax, "largest changes")


_PLOTS: tuple[tuple[type, Callable[..., Any]], ...] = (
    (Analysis, analysis_plot),
    (Plan, plan_plot),
    (Comparison, comparison_plot),
    (ImageDiff, diff_plot),
)
for _kind, _fn in _PLOTS:
    register(Encoder(_kind, "plot", _fn, cli=False))
