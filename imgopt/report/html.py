"""HTML for notebooks (``Analysis._repr_html_``)."""

from __future__ import annotations

from html import escape

from ..analysis import Analysis
from ..encoding import Encoder, register
from ..units import human


def _rows(rows: list[tuple[str, ...]]) -> str:
    return "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)


def analysis_html(a: Analysis) -> str:
    d = a.dive
    head = (
        f"<b>{escape(a.image.ref)}</b> ({escape(a.image.platform)}, {len(a.image.layers)} layers): "
        f"{human(a.size_bytes)} shipped, {human(a.final_size_bytes)} final, "
        f"<b>{human(a.reclaimable_bytes)} reclaimable</b>; dive efficiency {100 * d.efficiency:.2f} %"
    )
    layers = _rows(
        [
            (str(lr.index), human(lr.size_bytes), human(lr.reclaimable_bytes), (lr.created_by[:100] or "-"))
            for lr in a.layers
        ]
    )
    files = _rows([("/" + p.path, human(p.bytes), str(p.layer)) for p in a.top_files[:10]])
    return (
        f"<div class='imgopt-analysis'><p>{head}</p>"
        "<table><thead><tr><th>#</th><th>size</th><th>reclaimable</th><th>command</th></tr></thead>"
        f"<tbody>{layers}</tbody></table>"
        "<table><thead><tr><th>largest files</th><th>size</th><th>layer</th></tr></thead>"
        f"<tbody>{files}</tbody></table></div>"
    )


register(Encoder(Analysis, "html", analysis_html, cli=False))  # the notebook repr
