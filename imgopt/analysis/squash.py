"""The exact final filesystem and where every shipped byte goes.

Layers are applied oldest first with OCI/overlay semantics: a layer's whiteouts (``.wh.NAME``)
and opaque markers (``.wh..wh..opq``) act on the layers below it, then its entries are added in
tar order. A regular file that never reaches the final filesystem is *reclaimable*, with a cause:

``overwritten``
    the path was written again later (or the same layer wrote it twice) with other content,
    or a directory holding it was replaced by a non-directory;
``metadata-only``
    written again later with the same content, only mode/owner changed (``chmod``/``chown -R``):
    proven by content digests when hashing, otherwise inferred from same type, size and mtime;
``deleted``
    removed by a whiteout or an opaque directory in a later layer.

A hardlink keeps its target's content alive: content is reclaimable only once the file and every
hardlink to it are gone. Hence, exactly: ``sum(layer sizes) - final_bytes == reclaimable_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..model import DIR, FILE, HARDLINK, OPAQUE, WHITEOUT, FileEntry, Image

OVERWRITTEN = "overwritten"
METADATA_ONLY = "metadata-only"
DELETED = "deleted"
CAUSES = (OVERWRITTEN, DELETED, METADATA_ONLY)


@dataclass(frozen=True, slots=True)
class WasteItem:
    """Bytes of ``path`` shipped in layer ``layer`` that the final filesystem does not hold."""

    layer: int
    path: str
    bytes: int
    cause: str
    by_layer: int  # the layer whose change made them unreachable


@dataclass(frozen=True, slots=True)
class LayerChanges:
    index: int
    added_files: int
    added_bytes: int
    modified_files: int
    modified_bytes: int
    deleted_files: int  # lower-layer entries this layer removed
    deleted_bytes: int  # their content bytes
    reclaimable_bytes: int  # bytes of this layer's content that do not reach the final filesystem
    hidden_bytes: int  # bytes of lower layers this layer made unreachable (by any cause)


class FinalEntry(NamedTuple):
    path: str
    layer: int
    entry: FileEntry


@dataclass(frozen=True, slots=True)
class Squash:
    final: dict[str, FinalEntry]
    final_bytes: int
    waste: tuple[WasteItem, ...]
    layers: tuple[LayerChanges, ...]

    @property
    def reclaimable_bytes(self) -> int:
        return sum(w.bytes for w in self.waste)


class _State:
    """The filesystem while layers are applied: path -> the FinalEntry that provides it.

    Hardlink bookkeeping lives in side tables keyed by ``id()`` of live FinalEntry objects (each
    is kept alive by ``slots`` or by ``link_target`` while its id is a key)."""

    def __init__(self, n_layers: int) -> None:
        self.slots: dict[str, FinalEntry] = {}
        self.children: dict[str, list[str]] | None = None  # built on the first subtree removal
        self.link_target: dict[int, FinalEntry] = {}  # id(hardlink slot) -> content slot
        self.links: dict[int, int] = {}  # id(content slot) -> live hardlinks to it
        self.dead: dict[int, tuple[str, int]] = {}  # id(content slot) -> (cause, by): gone, kept by links
        self.waste: list[WasteItem] = []
        self.hidden = [0] * n_layers

    def _emit(self, slot: FinalEntry, cause: str, by: int) -> None:
        size = slot.entry.size
        if size:
            self.waste.append(WasteItem(slot.layer, slot.path, size, cause, by))
            self.hidden[by] += size

    def kill(self, slot: FinalEntry, cause: str, by: int) -> None:
        """``slot`` leaves the filesystem: its content is waste unless a hardlink keeps it."""
        if slot.entry.kind == HARDLINK:
            target = self.link_target.pop(id(slot), None)
            if target is not None:
                tid = id(target)
                left = self.links[tid] - 1
                if left:
                    self.links[tid] = left
                else:
                    del self.links[tid]
                    gone = self.dead.pop(tid, None)
                    if gone is not None:
                        self._emit(target, gone[0], by)
            self._emit(slot, cause, by)  # a hardlink entry with data of its own (rare)
            return
        if id(slot) in self.links:
            self.dead[id(slot)] = (cause, by)  # content lives on through a hardlink
            return
        self._emit(slot, cause, by)

    def link(self, link_slot: FinalEntry, linkname: str) -> None:
        target = self.slots.get(linkname)
        if target is None:
            return
        while target.entry.kind == HARDLINK and id(target) in self.link_target:
            target = self.link_target[id(target)]
        self.links[id(target)] = self.links.get(id(target), 0) + 1
        self.link_target[id(link_slot)] = target

    def _index(self) -> dict[str, list[str]]:
        kids = self.children
        if kids is None:
            kids = self.children = {}
            for p in self.slots:
                kids.setdefault(p.rpartition("/")[0], []).append(p)
        return kids

    def add(self, path: str, slot: FinalEntry, new: bool) -> None:
        self.slots[path] = slot
        kids = self.children
        if new and kids is not None:
            parent = path.rpartition("/")[0]
            siblings = kids.get(parent)
            if siblings is None:
                kids[parent] = [path]
            else:
                siblings.append(path)

    def remove(self, path: str, cause: str, by: int, *, subtree_only: bool = False) -> tuple[int, int]:
        """Remove ``path`` (unless subtree_only) and everything below it; returns (non-directory
        entries, bytes) removed."""
        kids = self._index()
        slots = self.slots
        count = size = 0
        stack = kids.pop(path, [])
        while stack:
            p = stack.pop()
            slot = slots.pop(p, None)
            if slot is not None:
                count += slot.entry.kind != DIR
                size += slot.entry.size
                self.kill(slot, cause, by)
            below = kids.pop(p, None)
            if below:
                stack.extend(below)
        if not subtree_only:
            slot = slots.pop(path, None)
            if slot is not None:
                count += slot.entry.kind != DIR
                size += slot.entry.size
                self.kill(slot, cause, by)
                siblings = kids.get(path.rpartition("/")[0])
                if siblings is not None:
                    siblings.remove(path)
        return count, size


def _same_content(old: FileEntry, new: FileEntry) -> bool:
    if old.kind != FILE or new.kind != FILE or old.size != new.size:
        return False
    if old.digest is not None and new.digest is not None:
        return old.digest == new.digest
    return old.mtime == new.mtime


def squash(image: Image) -> Squash:
    """Apply every layer and account for every byte."""
    n = len(image.layers)
    st = _State(n)
    changes: list[tuple[int, int, int, int, int, int]] = []
    for layer in image.layers:
        i = layer.index
        added_f = added_b = mod_f = mod_b = del_f = del_b = 0
        entries = layer.entries
        # 1. whiteouts and opaque directories act on the layers below
        for e in entries:
            k = e.kind
            if k == WHITEOUT:
                c, b = st.remove(e.path, DELETED, i)
                del_f += c
                del_b += b
            elif k == OPAQUE:
                c, b = st.remove(e.path, DELETED, i, subtree_only=True)
                del_f += c
                del_b += b
        # 2. then the layer's own entries, in tar order
        slots = st.slots
        for e in entries:
            k = e.kind
            if k in (WHITEOUT, OPAQUE):
                continue
            path = e.path
            old = slots.get(path)
            if old is not None:
                if old.entry.kind == DIR and k != DIR:
                    st.remove(path, OVERWRITTEN, i, subtree_only=True)
                if k != DIR:
                    mod_f += 1
                    mod_b += e.size
                st.kill(old, METADATA_ONLY if _same_content(old.entry, e) else OVERWRITTEN, i)
            elif k != DIR:
                added_f += 1
                added_b += e.size
            slot = FinalEntry(path, i, e)
            st.add(path, slot, old is None)
            if k == HARDLINK and e.linkname is not None:
                st.link(slot, e.linkname)
        changes.append((added_f, added_b, mod_f, mod_b, del_f, del_b))

    final = st.slots
    # content whose own path is gone but a hardlink keeps: the (first) link becomes its regular
    # file, as in `docker export`
    if st.dead:
        promoted: dict[int, tuple[str, FinalEntry]] = {}
        for p, slot in final.items():
            if slot.entry.kind != HARDLINK:
                continue
            target = st.link_target.get(id(slot))
            if target is not None and id(target) in st.dead:
                cur = promoted.get(id(target))
                if cur is None or p < cur[0]:
                    promoted[id(target)] = (p, target)
        for link_path, target in promoted.values():
            final[link_path] = FinalEntry(
                link_path,
                target.layer,
                final[link_path].entry._replace(
                    kind=FILE, size=target.entry.size, digest=target.entry.digest, linkname=None
                ),
            )
    final_bytes = sum(f.entry.size for f in final.values())
    per_layer = [0] * n
    for w in st.waste:
        per_layer[w.layer] += w.bytes
    layer_changes = tuple(
        LayerChanges(i, *changes[i], reclaimable_bytes=per_layer[i], hidden_bytes=st.hidden[i]) for i in range(n)
    )
    return Squash(final, final_bytes, tuple(st.waste), layer_changes)
