"""dive 0.13-compatible metrics, computed exactly as dive computes them, quirks included.

dive (``dive/filetree/efficiency.go``, ``dive/image/image.go``) builds one tree per layer from
the layer tar, then visits every *leaf* node of every layer (children sorted by name, depth
first) and accumulates, per path, the sum and the minimum of the sizes it saw:

* a normal leaf contributes its tar header size (intermediate directories that have no tar
  entry of their own contribute 0);
* a whiteout leaf (``.wh.NAME``) contributes the total size of ``NAME``'s subtree in the stack of
  the layers below *if* that was a directory, and 0 if it was a file;
* a whiteout of a path that does not exist below aborts the visit of the rest of that layer and
  leaves the path with a minimum of -1;
* ``.wh..wh..opq`` entries are dropped (opaque directories delete nothing in dive's model).

``efficiency = sum(min) / sum(sum)``; ``wasted_bytes`` sums, over every path seen in two or more
layers, *all* its sizes (including the copy that survives: dive issue #684); and
``user_wasted_percent = wasted_bytes / (image size - first layer size)``. These are not the
truth (see :mod:`imgopt.analysis.squash`); they exist so that dive users keep their CI gates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..model import DIR, OPAQUE, WHITEOUT, Image, Layer

_DOUBLE_WH = ".wh..wh.."
_WH = ".wh."


@dataclass(frozen=True, slots=True)
class DiveInefficiency:
    path: str
    count: int
    cumulative_size: int


@dataclass(frozen=True, slots=True)
class DiveMetrics:
    efficiency: float
    wasted_bytes: int
    user_wasted_percent: float  # a ratio (0.1 == 10 %), NaN when the image has a single layer
    size_bytes: int
    user_size_bytes: int
    inefficiencies: tuple[DiveInefficiency, ...]  # sorted by cumulative size, ascending (as dive)


# a node of one layer's tree: (size, is_dir); intermediate nodes get _EMPTY
_EMPTY = (0, False)


def _layer_nodes(layer: Layer) -> dict[str, tuple[int, bool]]:
    """dive's FileTree.AddPath over the layer's entries, as a flat path -> payload map."""
    nodes: dict[str, tuple[int, bool]] = {}
    for e in layer.entries:
        kind = e.kind
        raw = e.raw_name if kind in (WHITEOUT, OPAQUE) else e.path
        payload = (e.size, kind == DIR)
        if raw in nodes:
            nodes[raw] = payload
            continue
        head, _, name = raw.rpartition("/")
        if head == "" or head in nodes:  # the common case: parents precede children in a tar
            if not name.startswith(_DOUBLE_WH):
                nodes[raw] = payload
            continue
        # create missing intermediate nodes; a new .wh..wh.. name stops AddPath without adding
        parts = raw.split("/")
        prefix = ""
        for j, part in enumerate(parts):
            prefix = part if j == 0 else prefix + "/" + part
            if prefix not in nodes:
                if part.startswith(_DOUBLE_WH):
                    break
                nodes[prefix] = _EMPTY
            if j == len(parts) - 1:
                nodes[prefix] = payload
    return nodes


def _children(nodes: dict[str, tuple[int, bool]]) -> dict[str, list[str]]:
    kids: dict[str, list[str]] = {}
    for p in nodes:
        kids.setdefault(p.rpartition("/")[0], []).append(p)
    return kids


def _postorder(nodes: dict[str, tuple[int, bool]]) -> list[str]:
    """Depth-first, children sorted by name, children before parents (VisitDepthChildFirst)."""
    kids = _children(nodes)
    for v in kids.values():
        v.sort(key=lambda p: p.rpartition("/")[2])
    out: list[str] = []
    # iterative post-order from the root ("")
    stack: list[tuple[str, bool]] = [(c, False) for c in reversed(kids.get("", []))]
    while stack:
        p, done = stack.pop()
        if done:
            out.append(p)
            continue
        stack.append((p, True))
        stack.extend((c, False) for c in reversed(kids.get(p, [])))
    return out


def _strip(path: str) -> str:
    head, _, name = path.rpartition("/")
    name = name[len(_WH) :]
    return f"{head}/{name}" if head else name


class _Stack:
    """dive's StackTreeRange, built incrementally: copy(tree0), then stack tree0, tree1, ..."""

    def __init__(self, first: dict[str, tuple[int, bool]]) -> None:
        self.nodes: dict[str, tuple[int, bool]] = dict(first)
        self.kids: dict[str, set[str]] = {}
        for p in self.nodes:
            self.kids.setdefault(p.rpartition("/")[0], set()).add(p)

    def _add(self, path: str, payload: tuple[int, bool]) -> None:
        nodes = self.nodes
        if path not in nodes:
            # create intermediates with empty payloads
            parts = path.split("/")
            prefix = ""
            for j, name in enumerate(parts[:-1]):
                prefix = name if j == 0 else prefix + "/" + name
                if prefix not in nodes:
                    nodes[prefix] = _EMPTY
                    self.kids.setdefault(prefix.rpartition("/")[0], set()).add(prefix)
            self.kids.setdefault(path.rpartition("/")[0], set()).add(path)
        nodes[path] = payload

    def _remove(self, path: str) -> None:
        if path not in self.nodes:
            return  # dive records a failed path and carries on
        stack = [path]
        while stack:
            p = stack.pop()
            self.nodes.pop(p, None)
            stack.extend(self.kids.pop(p, ()))
        parent = self.kids.get(path.rpartition("/")[0])
        if parent is not None:
            parent.discard(path)

    def stack(self, upper: dict[str, tuple[int, bool]]) -> None:
        if not any(p.rpartition("/")[2].startswith(_WH) for p in upper):
            # only additions: every node of upper gets upper's payload, in any order
            nodes, kids = self.nodes, self.kids
            for p, payload in upper.items():
                if p not in nodes:
                    kids.setdefault(p.rpartition("/")[0], set()).add(p)
                nodes[p] = payload
            return
        for p in _postorder(upper):
            if p.rpartition("/")[2].startswith(_WH):
                self._remove(_strip(p))
            else:
                self._add(p, upper[p])

    def subtree_size(self, path: str) -> int:
        total = 0
        stack = [path]
        while stack:
            p = stack.pop()
            total += self.nodes[p][0]
            stack.extend(self.kids.get(p, ()))
        return total


def dive_metrics(image: Image) -> DiveMetrics:
    layers = image.layers
    # the stack of lower layers is only needed below the last layer holding a whiteout
    last_wh = max((i for i, layer in enumerate(layers) if any(e.kind == WHITEOUT for e in layer.entries)), default=-1)
    # path -> size (seen once) or [cumulative, minimum, count]
    emap: dict[str, int | list[int]] = {}
    inefficient: list[str] = []
    stacked: _Stack | None = None  # StackTreeRange(trees, 0, idx - 1): copy(tree 0), then trees 0..idx-1 stacked

    for idx, layer in enumerate(layers):
        nodes = _layer_nodes(layer)  # one layer's tree at a time: memory stays flat
        if idx == 0 and last_wh > 0:
            stacked = _Stack(nodes)
        parents = {p.rpartition("/")[0] for p in nodes}
        leaves = [p for p in nodes if p not in parents]
        whiteouts = [p for p in leaves if p.rpartition("/")[2].startswith(_WH)]
        wh_sizes: dict[str, int | None] = {}
        if whiteouts:
            probe = _Stack(nodes) if idx == 0 else stacked  # for layer 0: a bare copy of tree 0
            assert probe is not None
            for p in whiteouts:
                target = _strip(p)
                if target not in probe.nodes:
                    wh_sizes[p] = None
                else:
                    size, is_dir = probe.nodes[target]
                    wh_sizes[p] = probe.subtree_size(target) if is_dir else 0
            if any(v is None for v in wh_sizes.values()):
                # the visit aborts at the first failing whiteout, in dive's visiting order
                order = [p for p in _postorder(nodes) if p not in parents]
                cut = next(k for k, p in enumerate(order) if p in wh_sizes and wh_sizes[p] is None)
                failed = order[cut]
                leaves = order[:cut]
                key = _strip(failed)
                if key not in emap:
                    emap[key] = [0, -1, 0]  # created before the failing visit: minimum stays -1
        for p in leaves:
            if p in wh_sizes:
                size = wh_sizes[p] or 0
                key = _strip(p)
            else:
                size = nodes[p][0]
                key = p
            # a path seen once holds its size (an int); from the second time on [sum, min, count]
            data = emap.get(key)
            if data is None:
                emap[key] = size
            elif isinstance(data, int):
                emap[key] = [data + size, min(data, size), 2]
                inefficient.append(key)
            else:
                data[0] += size
                if data[1] < 0 or size < data[1]:
                    data[1] = size
                data[2] += 1
                if data[2] == 2:
                    inefficient.append(key)
        if stacked is not None and idx < last_wh:
            stacked.stack(nodes)

    minimum = discovered = 0
    for v in emap.values():
        if isinstance(v, int):
            minimum += v
            discovered += v
        else:
            minimum += v[1]
            discovered += v[0]
    efficiency = 1.0 if discovered == 0 else float(minimum) / float(discovered)
    size_bytes = sum(layer.size for layer in layers)
    user_size = sum(layer.size for layer in layers[1:])
    stats: dict[str, list[int]] = {p: v for p in inefficient if isinstance(v := emap[p], list)}
    wasted = sum(v[0] for v in stats.values())
    if user_size == 0:
        user_pct = math.nan if wasted == 0 else math.inf
    else:
        user_pct = float(wasted) / float(user_size)
    ineff = sorted((DiveInefficiency(p, v[2], v[0]) for p, v in stats.items()), key=lambda d: d.cumulative_size)
    return DiveMetrics(efficiency, wasted, user_pct, size_bytes, user_size, tuple(ineff))
