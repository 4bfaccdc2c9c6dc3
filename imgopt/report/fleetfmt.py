"""Encoders of a fleet scan: the text summary, JSON, JSON lines, CSV, SQLite rows, HTML."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import asdict
from html import escape
from typing import Any

from ..encoding import Encoder, register
from ..fleet import Fleet, ImageRow, LayerRow
from ..units import human
from .jsonfmt import json_encoder
from .page import Bar, bar_chart, cards, num, page, table, text_cell
from .text import table as text_table

SCHEMA = "imgopt.fleet/1"


def image_record(r: ImageRow) -> dict[str, Any]:
    c = r.reclaimable_by_cause
    return {
        "ref": r.ref,
        "digest": r.digest,
        "size_bytes": r.size_bytes,
        "compressed_size_bytes": r.compressed_size_bytes,
        "final_size_bytes": r.final_size_bytes,
        "reclaimable_bytes": r.reclaimable_bytes,
        "reclaimable_deleted": c.get("deleted") if r.error is None else None,
        "reclaimable_overwritten": c.get("overwritten") if r.error is None else None,
        "reclaimable_metadata_only": c.get("metadata-only") if r.error is None else None,
        "efficiency": r.efficiency,
        "top_category": r.top_category,
        "base": r.base,
        "base_layers": r.base_layers,
        "shared_layers": r.shared_layers,
        "layers": r.layers,
        "error": r.error,
    }


IMAGE_COLUMNS = tuple(image_record(ImageRow(ref="")))  # the CSV's and the data frame's columns


def layer_record(lr: LayerRow) -> dict[str, Any]:
    return asdict(lr)


def fleet_dict(f: Fleet) -> dict[str, Any]:
    return {
        "images": [dict(image_record(r), diff_ids=list(r.diff_ids)) for r in f.images],
        "layers": [layer_record(lr) for lr in f.layers],
        "reclaimable_bytes": f.reclaimable_bytes,
        "distinct_layer_bytes": f.distinct_layer_bytes,
        "reused": list(f.reused),
    }


def base_of(f: Fleet) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each image's base as (name, its layers): its leading layers up to the last point where
    another image's layers leave them (``ImageRow.base_layers``), named by the scanned image whose
    layers are exactly those, else (a base that was not scanned itself: a registry's images on a
    Docker Hub base) by its layer count and top layer."""
    ok = [r for r in f.images if r.error is None and r.diff_ids]
    named = {r.diff_ids: r.ref for r in ok}
    out = {}
    for r in ok:
        k = r.base_layers
        if k > 0:
            prefix = r.diff_ids[:k]
            top = prefix[-1].partition(":")[2][:12]
            out[r.ref] = (named.get(prefix) or f"{k} layers up to {top} (not scanned)", prefix)
    return out


def bases(f: Fleet) -> list[tuple[str, int, int]]:
    """(base, images built on it, its bytes) for every base in use (see :func:`base_of`)."""
    size = {r.ref: r.layer_sizes for r in f.images}
    groups: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    for ref, base in base_of(f).items():
        groups[base].append(ref)
    out = [(name, len(refs), sum(size[refs[0]][: len(prefix)])) for (name, prefix), refs in groups.items()]
    return sorted(out, key=lambda t: (-t[1], t[0]))


def fleet_text(f: Fleet, limit: int = 20) -> str:
    ok = [r for r in f.images if r.error is None]
    out = [
        f"{len(f.images)} images ({len(f.failed)} failed), {human(sum(r.size_bytes or 0 for r in ok))} in all, "
        f"{human(f.distinct_layer_bytes)} in {len(f.layers)} distinct layers; "
        f"{human(f.reclaimable_bytes)} reclaimable"
        + (f"; {len(f.reused)} unchanged since the last scan (not read again)" if f.reused else "")
    ]
    worst = sorted(ok, key=lambda r: (-(r.reclaimable_bytes or 0), r.ref))[:limit]
    base = base_of(f)
    out.append(
        text_table(
            [
                (
                    r.ref,
                    human(r.size_bytes),
                    human(r.reclaimable_bytes),
                    f"{100 * (r.efficiency or 0):.1f} %",
                    r.top_category or "-",
                    base[r.ref][0] if r.ref in base else "-",
                )
                for r in worst
            ],
            [
                f"The {len(worst)} images with the most reclaimable bytes",
                "size",
                "reclaimable",
                "efficiency",
                "top category",
                "base",
            ],
            ["left", "right", "right", "right", "left", "left"],
        )
    )
    shared = [lr for lr in f.layers if lr.images > 1][:limit]
    if shared:
        out.append(
            text_table(
                [(lr.diff_id[:19], human(lr.size_bytes), str(lr.images), human(lr.saved_by_sharing)) for lr in shared],
                ["Most shared layers", "size", "images", "stored once, saves"],
                ["left", "right", "right", "right"],
            )
        )
    used = bases(f)
    if used:
        out.append(
            text_table(
                [(b, str(n), human(s), human(s * n)) for b, n, s in used],
                ["Base images in use", "images on it", "its size", "footprint if unshared"],
                ["left", "right", "right", "right"],
            )
        )
    if f.failed:
        out.append(text_table([(r.ref, r.error or "") for r in f.failed], ["Failed", "error"]))
    return "\n\n".join(out) + "\n"


FLEET_WIDE = ("base", "base_layers", "shared_layers")  # an image's relations to the others: known at the end


def image_line(r: ImageRow) -> str:
    """An image's JSON line, written the moment it is done (``imgopt scan --format jsonl``
    streams them): everything but its relations to the other images."""
    record = {k: v for k, v in image_record(r).items() if k not in FLEET_WIDE}
    return json.dumps(dict(record, kind="image")) + "\n"


def fleet_jsonl_end(f: Fleet) -> str:
    """The lines that follow the images once the fleet is complete: each image's relations to the
    others (``kind: base``) and the layer table (``kind: layer``)."""
    lines = [
        json.dumps({"kind": "base", "ref": r.ref, **{k: image_record(r)[k] for k in FLEET_WIDE}}) for r in f.images
    ]
    lines += [json.dumps(dict(layer_record(lr), kind="layer")) for lr in f.layers]
    return "".join(line + "\n" for line in lines)


def fleet_jsonl(f: Fleet) -> str:
    return "".join(image_line(r) for r in f.images) + fleet_jsonl_end(f)


def fleet_csv(f: Fleet) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(IMAGE_COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in f.images:
        w.writerow(image_record(r))
    return buf.getvalue()


def fleet_body(f: Fleet) -> str:
    ok = [r for r in f.images if r.error is None]
    worst = sorted(ok, key=lambda r: (-(r.reclaimable_bytes or 0), r.ref))[:30]
    base = base_of(f)
    rows = [
        text_cell(r.ref, "path")
        + num(r.size_bytes)
        + num(r.reclaimable_bytes)
        + num(r.efficiency, f"{100 * (r.efficiency or 0):.1f} %")
        + text_cell(r.top_category or "-")
        + text_cell(base[r.ref][0] if r.ref in base else "-")
        + text_cell(r.error or "")
        for r in f.images
    ]
    return "".join(
        [
            "<h1>imgopt scan</h1>",
            cards(
                [
                    ("images", str(len(f.images)), "bad" if f.failed else "", f"{len(f.failed)} failed"),
                    ("distinct layers", human(f.distinct_layer_bytes), "", f"{len(f.layers)} layers"),
                    ("reclaimable", human(f.reclaimable_bytes), "", "across the fleet"),
                ]
            ),
            "<h2>The images with the most reclaimable bytes</h2>",
            bar_chart(
                [
                    Bar(r.ref, (("final", r.final_size_bytes or 0), ("reclaimable", r.reclaimable_bytes or 0)))
                    for r in worst
                ],
                {"final": "#8aa4c1", "reclaimable": "#d64545"},
                label_width=420,
            ),
            "<h2>Images</h2>",
            table(
                "images",
                [
                    ("image", False),
                    ("size", True),
                    ("reclaimable", True),
                    ("efficiency", True),
                    ("top category", False),
                    ("base", False),
                    ("error", False),
                ],
                rows,
                filter_label="filter images",
            ),
            f"<p class='sub'>{escape(str(len(f.layers)))} distinct layers.</p>",
        ]
    )


json_encoder(Fleet, SCHEMA, fleet_dict)
register(Encoder(Fleet, "text", fleet_text))
register(Encoder(Fleet, "jsonl", fleet_jsonl))
register(Encoder(Fleet, "csv", fleet_csv))
register(Encoder(Fleet, "html", lambda f, **o: page("imgopt scan", fleet_body(f))))
register(Encoder(Fleet, "notebook", lambda f: f"<div class='imgopt'>{fleet_body(f)}</div>", cli=False))
register(
    Encoder(
        Fleet,
        "repr",
        lambda f: (
            f"<Fleet {len(f.images)} images ({len(f.failed)} failed), {len(f.layers)} distinct layers, "
            f"{human(f.reclaimable_bytes)} reclaimable>"
        ),
        cli=False,
    )
)
