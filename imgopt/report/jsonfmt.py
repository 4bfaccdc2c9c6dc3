"""The versioned JSON wire format (``imgopt.analysis/1``), kept apart from the model.

Additive changes keep the version; renaming or removing a key bumps it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from .._version import __version__
from ..analysis import Analysis, PathSize, WastePair
from ..analysis.ci import RuleResult
from ..encoding import Encoder, dumps, register

SCHEMA = "imgopt.analysis/1"


def json_encoder(kind: type, version: str, document: Callable[..., dict[str, Any]]) -> Encoder:
    """Register the JSON format of ``kind``: ``document`` serialised by the one JSON serialiser."""
    return register(Encoder(kind, "json", lambda r, **o: dumps(document(r, **o)), version=version, document=document))


def _finite(x: float) -> float | None:
    return None if math.isnan(x) or math.isinf(x) else x


def _paths(items: Sequence[PathSize], *, with_layer: bool = False, with_files: bool = False) -> list[dict[str, Any]]:
    out = []
    for p in items:
        d: dict[str, Any] = {"path": "/" + p.path, "bytes": p.bytes}
        if with_layer:
            d["layer"] = p.layer
        if with_files:
            d["files"] = p.files
        out.append(d)
    return out


def _instruction(a: Analysis, layer: int) -> dict[str, Any] | None:
    att = a.layers[layer].instruction if 0 <= layer < len(a.layers) else None
    if att is None:
        return None
    i = att.instruction
    return {
        "status": att.status,
        "line": i.line if i else None,
        "end_line": i.end_line if i else None,
        "keyword": i.keyword if i else None,
        "text": i.text if i else None,
    }


def _pair(a: Analysis, p: WastePair) -> dict[str, Any]:
    return {
        "shipped_by": {"layer": p.shipped_by, "instruction": _instruction(a, p.shipped_by)},
        "made_unreachable_by": {"layer": p.made_unreachable_by, "instruction": _instruction(a, p.made_unreachable_by)},
        "cause": p.cause,
        "bytes": p.bytes,
        "files": p.files,
        "top_paths": [{"path": "/" + path, "bytes": b} for path, b in p.top_paths],
    }


def analysis_to_dict(a: Analysis, ci: Sequence[RuleResult] | None = None) -> dict[str, Any]:
    img = a.image
    layers = []
    for lr in a.layers:
        c = lr.changes
        ins = _instruction(a, lr.index)
        layers.append(
            {
                "index": lr.index,
                "diff_id": lr.diff_id,
                "digest": lr.digest,
                "media_type": lr.media_type,
                "size_bytes": lr.size_bytes,
                "compressed_size_bytes": lr.compressed_size_bytes,
                "created_by": lr.created_by,
                "reclaimable_bytes": lr.reclaimable_bytes,
                "hidden_bytes": c.hidden_bytes,
                "added": {"files": c.added_files, "bytes": c.added_bytes},
                "modified": {"files": c.modified_files, "bytes": c.modified_bytes},
                "deleted": {"files": c.deleted_files, "bytes": c.deleted_bytes},
                "instruction": ins,
            }
        )
    d = a.dive
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "imgopt", "version": __version__},
        "image": {
            "ref": img.ref,
            "source": img.source,
            "id": img.id,
            "repo_tags": list(img.repo_tags),
            "manifest_digest": img.manifest_digest,
            "os": img.os,
            "architecture": img.architecture,
            "variant": img.variant,
            "created": img.created,
            "layer_count": len(img.layers),
            "config": {
                "entrypoint": list(img.config.entrypoint) if img.config.entrypoint is not None else None,
                "cmd": list(img.config.cmd) if img.config.cmd is not None else None,
                "user": img.config.user,
                "workdir": img.config.workdir,
                "env": list(img.config.env),
            },
        },
        "size_bytes": a.size_bytes,
        "compressed_size_bytes": a.compressed_size_bytes,
        "final_size_bytes": a.final_size_bytes,
        "reclaimable_bytes": a.reclaimable_bytes,
        "dockerfile": a.dockerfile,
        "layers": layers,
        "waste": {
            "by_cause": a.waste_by_cause,
            "by_category": [
                {
                    "name": c.name,
                    "description": c.description,
                    "final_bytes": c.final_bytes,
                    "final_files": c.final_files,
                    "wasted_bytes": c.wasted_bytes,
                }
                for c in a.categories
            ],
            "top_paths": _paths(a.top_waste),
            "pairs": [_pair(a, p) for p in a.waste_pairs],
        },
        "top_files": _paths(a.top_files, with_layer=True),
        "top_dirs": _paths(a.top_dirs, with_files=True),
        "duplicates": None
        if a.duplicates is None
        else {
            "reclaimable_bytes": a.duplicate_bytes,
            "groups": [
                {
                    "digest": g.digest,
                    "size_bytes": g.size,
                    "paths": ["/" + p for p in g.paths],
                    "reclaimable_bytes": g.reclaimable_bytes,
                }
                for g in a.duplicates
            ],
        },
        "dive": {
            "efficiency": d.efficiency,
            "wasted_bytes": d.wasted_bytes,
            "user_wasted_percent": _finite(d.user_wasted_percent),
            "size_bytes": d.size_bytes,
            "user_size_bytes": d.user_size_bytes,
            "inefficient_files": [
                {"path": "/" + i.path, "count": i.count, "cumulative_bytes": i.cumulative_size}
                for i in list(reversed(d.inefficiencies))[: a.top]
            ],
        },
    }
    if ci is not None:
        out["ci"] = {
            "passed": all(r.status != "fail" for r in ci),
            "rules": [
                {"rule": r.key, "configured": r.configured, "status": r.status, "message": r.message} for r in ci
            ],
        }
    return out


json_encoder(Analysis, SCHEMA, analysis_to_dict)
