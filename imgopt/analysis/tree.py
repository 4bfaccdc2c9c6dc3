"""The final filesystem as a size tree for pictures (treemaps, icicles), bounded in size.

Every directory's size is the sum of what its final entries hold, so the root equals the image's
final size exactly. A directory keeps its largest children (at most ``max_children``, and only
those above ``min_share`` of it); the rest become one ``…N smaller`` node with their total, so
a 237k-file image gives a few thousand nodes, never one per file. Each node also carries the
waste category holding most of its bytes and the reclaimable bytes shipped under it (bytes that
layers carried but the final filesystem does not hold).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .squash import FinalEntry, WasteItem


@dataclass
class TreeNode:
    name: str
    path: str  # "/" for the root, "/usr/lib" below it
    size: int = 0
    files: int = 0
    reclaimable: int = 0  # shipped under this path, not in the final filesystem
    category: str | None = None  # the category holding most of this node's bytes
    children: list[TreeNode] = field(default_factory=list)
    rest: int = 0  # children folded into the "smaller" node

    def to_list(self) -> list[object]:
        """Compact JSON: [name, size, files, reclaimable, category, children]."""
        return [self.name, self.size, self.files, self.reclaimable, self.category, [c.to_list() for c in self.children]]

    def count(self) -> int:
        return 1 + sum(c.count() for c in self.children)


def _parents(path: str) -> Iterable[str]:
    """``a/b/c`` -> ``a/b``, ``a``, ``""``."""
    while path:
        path = path.rpartition("/")[0]
        yield path


def directory_tree(
    final: Iterable[FinalEntry],
    waste: Iterable[WasteItem],
    category_of: Callable[[str], str | None],
    *,
    max_children: int = 40,
    min_share: float = 0.002,
    max_nodes: int = 5000,
) -> TreeNode:
    size: dict[str, int] = defaultdict(int)
    files: dict[str, int] = defaultdict(int)
    kids: dict[str, set[str]] = defaultdict(set)
    cats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    leaf_size: dict[str, int] = {}
    for fe in final:
        path, n = fe.path, fe.entry.size
        if not path:
            continue
        leaf_size[path] = n
        cat = category_of(path) if n else None
        child = path
        for parent in _parents(path):
            size[parent] += n
            files[parent] += 1
            kids[parent].add(child)
            if cat is not None:
                cats[parent][cat] += n
            child = parent
    reclaimable: dict[str, int] = defaultdict(int)
    for w in waste:
        reclaimable[w.path] += w.bytes
        for parent in _parents(w.path):
            reclaimable[parent] += w.bytes

    budget = [max_nodes]

    def node(path: str) -> TreeNode:
        budget[0] -= 1
        is_dir = path in kids or path == ""
        n = TreeNode(
            name=path.rpartition("/")[2] or "/",
            path="/" + path,
            size=size[path] if is_dir else leaf_size.get(path, 0),
            files=files[path] if is_dir else 1,
            reclaimable=reclaimable.get(path, 0),
        )
        if is_dir and cats.get(path):
            n.category = max(cats[path].items(), key=lambda kv: (kv[1], kv[0]))[0]
        elif not is_dir and leaf_size.get(path):
            n.category = category_of(path)
        return n

    def sized(p: str) -> int:
        return size[p] if p in kids else leaf_size.get(p, 0)

    root = node("")
    queue: list[tuple[int, int, str, TreeNode]] = [(-root.size, 0, "", root)]  # largest directories first
    order = 1
    while queue:
        _, _, path, holder = heapq.heappop(queue)
        names = sorted(kids.get(path, ()), key=lambda p: (-sized(p), p))
        keep = [p for p in names[:max_children] if sized(p) >= holder.size * min_share and sized(p) > 0]
        keep = keep[: max(0, budget[0])]
        for p in keep:
            sub = node(p)
            holder.children.append(sub)
            if p in kids:
                heapq.heappush(queue, (-sub.size, order, p, sub))
                order += 1
        kept = set(keep)
        folded = [p for p in names if p not in kept]
        if folded:
            label = f"…{len(folded)} smaller"
            other = TreeNode(
                name=label,
                path=("/" + path if path else "") + "/" + label,
                size=sum(sized(p) for p in folded),
                files=sum(files[p] if p in kids else 1 for p in folded),
                reclaimable=sum(reclaimable.get(p, 0) for p in folded),
            )
            if other.size or other.reclaimable:
                holder.children.append(other)
                holder.rest = len(folded)
                budget[0] -= 1
    return root


__all__ = ["TreeNode", "directory_tree"]
