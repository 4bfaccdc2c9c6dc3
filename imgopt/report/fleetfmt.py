"""Encoders of a fleet scan: the text summary, JSON, JSON lines, CSV, SQLite rows, HTML."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from html import escape
from typing import Any

from ..encoding import Encoder, register
from ..fleet import Fleet, ImageRow, LayerRow
from ..units import human
from .jsonfmt import json_encoder
from .page import Bar, bar_chart, cards, num, page, table, text_cell
from .text import table as text_table

SCHEMA = "imgopt.fleet/1"
IMAGE_COLUMNS = (
    "ref", "digest", "size_bytes", "compressed_size_bytes", "final_size_bytes", "reclaimable_bytes",
    "reclaimable_deleted", "reclaimable_overwritten", "reclaimable_metadata_only", "efficiency", "top_category",
    "base", "shared_layers", "layers", "error",
)  # fmt: skip


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
        "shared_layers": r.shared_layers,
        "layers": r.layers,
        "error": r.error,
    }


def layer_record(lr: LayerRow) -> dict[str, Any]:
    return {
        "diff_id": lr.diff_id,
        "size_bytes": lr.size_bytes,
        "images": lr.images,
        "saved_by_sharing": lr.saved_by_sharing,
    }


def fleet_dict(f: Fleet) -> dict[str, Any]:
    return {
        "images": [dict(image_record(r), diff_ids=list(r.diff_ids)) for r in f.images],
        "layers": [layer_record(lr) for lr in f.layers],
        "reclaimable_bytes": f.reclaimable_bytes,
        "distinct_layer_bytes": f.distinct_layer_bytes,
    }


def bases(f: Fleet) -> list[tuple[str, int, int]]:
    """(base, images built on it, its bytes) for every image that is another's base."""
    users: dict[str, int] = defaultdict(int)
    for r in f.images:
        if r.base:
            users[r.base] += 1
    size = {r.ref: r.size_bytes or 0 for r in f.images}
    return sorted(((b, n, size.get(b, 0)) for b, n in users.items()), key=lambda t: (-t[1], t[0]))


def fleet_text(f: Fleet, limit: int = 20) -> str:
    ok = [r for r in f.images if r.error is None]
    out = [
        f"{len(f.images)} images ({len(f.failed)} failed), {human(sum(r.size_bytes or 0 for r in ok))} in all, "
        f"{human(f.distinct_layer_bytes)} in {len(f.layers)} distinct layers; "
        f"{human(f.reclaimable_bytes)} reclaimable"
    ]
    worst = sorted(ok, key=lambda r: (-(r.reclaimable_bytes or 0), r.ref))[:limit]
    out.append(
        text_table(
            [
                (
                    r.ref,
                    human(r.size_bytes),
                    human(r.reclaimable_bytes),
                    f"{100 * (r.efficiency or 0):.1f} %",
                    r.top_category or "-",
                    r.base or "-",
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


def fleet_jsonl(f: Fleet) -> str:
    lines = [json.dumps(dict(image_record(r), kind="image")) for r in f.images]
    lines += [json.dumps(dict(layer_record(lr), kind="layer")) for lr in f.layers]
    return "\n".join(lines) + "\n"


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
    rows = [
        text_cell(r.ref, "path")
        + num(r.size_bytes)
        + num(r.reclaimable_bytes)
        + num(r.efficiency, f"{100 * (r.efficiency or 0):.1f} %")
        + text_cell(r.top_category or "-")
        + text_cell(r.base or "-")
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
