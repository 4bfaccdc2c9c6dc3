"""Waste with its cause: which layer shipped reclaimable bytes and which layer made them unreachable.

The squash records, for every byte that leaves the filesystem, the layer that shipped it and the
layer whose change (a whiteout, an opaque directory, an overwrite, a chown/chmod rewrite) made it
unreachable. Grouping those records by (shipped by, made unreachable by, cause) gives the pairs a
rewrite acts on: bytes that two instructions of one stage ship and discard are bytes that one RUN,
or a ``COPY --chown``, would never have shipped.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from .squash import WasteItem


@dataclass(frozen=True, slots=True)
class WastePair:
    shipped_by: int  # layer index
    made_unreachable_by: int  # layer index (>= shipped_by; equal when a layer overwrote its own file)
    cause: str  # overwritten, deleted, metadata-only
    bytes: int
    files: int
    top_paths: tuple[tuple[str, int], ...]  # (path, bytes), largest first
    paths: frozenset[str] = frozenset()  # every path of the pair (for rewrites that must name them)


def waste_pairs(waste: Sequence[WasteItem], top: int = 5) -> tuple[WastePair, ...]:
    """The reclaimable bytes grouped by (shipped by, made unreachable by, cause), largest first."""
    groups: dict[tuple[int, int, str], list[WasteItem]] = {}
    for w in waste:
        groups.setdefault((w.layer, w.by_layer, w.cause), []).append(w)
    out = []
    for (shipped, by, cause), items in groups.items():
        largest = heapq.nlargest(top, items, key=lambda w: (w.bytes, w.path))
        out.append(
            WastePair(
                shipped,
                by,
                cause,
                sum(w.bytes for w in items),
                len(items),
                tuple((w.path, w.bytes) for w in largest),
                frozenset(w.path for w in items),
            )
        )
    out.sort(key=lambda p: (-p.bytes, p.shipped_by, p.made_unreachable_by, p.cause))
    return tuple(out)


__all__ = ["WastePair", "waste_pairs"]
