"""Pure analysis of a loaded :class:`~imgopt.model.Image`: no I/O, no docker, no printing."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from ..encoding import Encodable
from ..model import FILE, Image
from .categories import CATEGORIES, Categorizer
from .dive import DiveMetrics, dive_metrics
from .instructions import Attribution, Instruction, attribute
from .pairs import WastePair, waste_pairs
from .squash import CAUSES, LayerChanges, Squash, WasteItem, squash


@dataclass(frozen=True, slots=True)
class PathSize:
    path: str
    bytes: int
    files: int = 1
    layer: int | None = None  # for files: the layer that provides the final copy


@dataclass(frozen=True, slots=True)
class CategoryStat:
    name: str
    description: str
    final_bytes: int  # in the final filesystem
    final_files: int
    wasted_bytes: int  # shipped in layers but not in the final filesystem


@dataclass(frozen=True, slots=True)
class DuplicateGroup:
    digest: str
    size: int
    paths: tuple[str, ...]

    @property
    def reclaimable_bytes(self) -> int:
        return self.size * (len(self.paths) - 1)


@dataclass(frozen=True, slots=True)
class LayerReport:
    index: int
    diff_id: str | None
    digest: str | None
    media_type: str
    size_bytes: int
    compressed_size_bytes: int | None
    created_by: str
    changes: LayerChanges
    instruction: Attribution | None = None

    @property
    def reclaimable_bytes(self) -> int:
        return self.changes.reclaimable_bytes


@dataclass(frozen=True, repr=False)  # one line: Encodable.__repr__ asks the 'repr' encoder
class Analysis(Encodable):
    """Everything imgopt knows about one image. Sizes are bytes."""

    image: Image
    squash: Squash
    dive: DiveMetrics
    layers: tuple[LayerReport, ...]
    top_files: tuple[PathSize, ...]
    top_dirs: tuple[PathSize, ...]
    top_waste: tuple[PathSize, ...]  # paths whose shipped-but-unreachable bytes are largest
    categories: tuple[CategoryStat, ...]
    duplicates: tuple[DuplicateGroup, ...] | None  # None unless the image was read with hashing
    dockerfile: str | None = None  # the Dockerfile used for instruction mapping
    top: int = 20  # how many rows the top-N lists hold
    waste_pairs: tuple[WastePair, ...] = ()  # reclaimable bytes by (shipped by, made unreachable by, cause)

    # ---- headline numbers
    @property
    def size_bytes(self) -> int:
        return self.image.size

    @property
    def compressed_size_bytes(self) -> int | None:
        return self.image.compressed_size

    @property
    def final_size_bytes(self) -> int:
        return self.squash.final_bytes

    @property
    def reclaimable_bytes(self) -> int:
        return self.squash.reclaimable_bytes

    @property
    def waste_by_cause(self) -> dict[str, int]:
        out = dict.fromkeys(CAUSES, 0)
        for w in self.squash.waste:
            out[w.cause] += w.bytes
        return out

    @property
    def duplicate_bytes(self) -> int | None:
        if self.duplicates is None:
            return None
        return sum(g.reclaimable_bytes for g in self.duplicates)


def _top_dirs(files: Sequence[tuple[str, int]], n: int) -> list[PathSize]:
    size: dict[str, int] = defaultdict(int)
    count: dict[str, int] = defaultdict(int)
    for path, b in files:
        parent = path.rpartition("/")[0]
        size[parent] += b
        count[parent] += 1
    # propagate bottom-up, deepest first
    for d in sorted(size, key=lambda p: p.count("/") if p else -1, reverse=True):
        if not d:
            continue
        parent = d.rpartition("/")[0]
        size[parent] += size[d]
        count[parent] += count[d]
    return [
        PathSize(p, s, count[p])
        for p, s in heapq.nlargest(n, ((p, s) for p, s in size.items() if p), key=lambda t: (t[1], t[0]))
    ]


def analyze_image(
    image: Image, *, top: int = 20, instructions: Sequence[Instruction] | None = None, dockerfile: str | None = None
) -> Analysis:
    """Analyze a loaded image. ``instructions`` (from a Dockerfile) enables layer attribution."""
    dive = dive_metrics(image)  # first: its working set is freed before the squash state is built
    sq = squash(image)

    category_of = Categorizer()  # caches per directory, per analysis
    files: list[tuple[str, int]] = []
    cat_bytes: dict[str, int] = defaultdict(int)
    cat_files: dict[str, int] = defaultdict(int)
    top_heap: list[tuple[int, str, int]] = []
    for fe in sq.final.values():
        e = fe.entry
        if e.kind != FILE:
            continue
        files.append((fe.path, e.size))
        c = category_of(fe.path)
        if c is not None:
            cat_bytes[c] += e.size
            cat_files[c] += 1
        item = (e.size, fe.path, fe.layer)
        if len(top_heap) < top:
            heapq.heappush(top_heap, item)
        elif item > top_heap[0]:
            heapq.heapreplace(top_heap, item)
    top_files = tuple(PathSize(p, s, 1, layer) for s, p, layer in sorted(top_heap, reverse=True))

    wasted_by_path: dict[str, int] = defaultdict(int)
    cat_wasted: dict[str, int] = defaultdict(int)
    for w in sq.waste:
        wasted_by_path[w.path] += w.bytes
        c = category_of(w.path)
        if c is not None:
            cat_wasted[c] += w.bytes
    top_waste = tuple(
        PathSize(p, b) for p, b in heapq.nlargest(top, wasted_by_path.items(), key=lambda t: (t[1], t[0]))
    )
    categories = tuple(
        CategoryStat(name, desc, cat_bytes[name], cat_files[name], cat_wasted[name]) for name, desc, _ in CATEGORIES
    )

    duplicates = None
    if image.hashed:
        groups: dict[str, list[str]] = defaultdict(list)
        sizes: dict[str, int] = {}
        for fe in sq.final.values():
            e = fe.entry
            if e.kind == FILE and e.size > 0 and e.digest is not None:
                groups[e.digest].append(fe.path)
                sizes[e.digest] = e.size
        duplicates = tuple(
            sorted(
                (DuplicateGroup(d, sizes[d], tuple(sorted(ps))) for d, ps in groups.items() if len(ps) > 1),
                key=lambda g: (-g.reclaimable_bytes, g.paths),
            )
        )

    attributions: list[Attribution | None] = [None] * len(image.layers)
    if instructions is not None:
        per_history = attribute(image.history, instructions)
        non_empty = [a for a, h in zip(per_history, image.history, strict=True) if not h.empty_layer]
        for i in range(len(image.layers)):
            attributions[i] = non_empty[i] if i < len(non_empty) else Attribution(-1, None, "unmatched")

    layers = tuple(
        LayerReport(
            index=layer.index,
            diff_id=layer.diff_id,
            digest=layer.digest,
            media_type=layer.media_type,
            size_bytes=layer.size,
            compressed_size_bytes=layer.compressed_size,
            created_by=layer.created_by,
            changes=sq.layers[layer.index],
            instruction=attributions[layer.index],
        )
        for layer in image.layers
    )
    return Analysis(
        image,
        sq,
        dive,
        layers,
        top_files,
        tuple(_top_dirs(files, top)),
        top_waste,
        categories,
        duplicates,
        dockerfile,
        top,
        waste_pairs(sq.waste),
    )


__all__ = [
    "Analysis",
    "CategoryStat",
    "DiveMetrics",
    "DuplicateGroup",
    "Instruction",
    "LayerReport",
    "PathSize",
    "WasteItem",
    "WastePair",
    "analyze_image",
]
