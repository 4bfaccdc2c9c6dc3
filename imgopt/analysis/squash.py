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

from collections.abc import Iterable
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class FinalEntry:
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


class _Slot:
    """One entry living in the filesystem state."""

    __slots__ = ("layer", "entry", "links", "dead_cause", "dead_by")

    def __init__(self, layer: int, entry: FileEntry) -> None:
        self.layer = layer
        self.entry = entry
        self.links = 0  # live hardlinks pointing at this content
        self.dead_cause: str | None = None  # set when the path is gone but links keep the content
        self.dead_by = -1


class _State:
    def __init__(self, n_layers: int) -> None:
        self.slots: dict[str, _Slot] = {}
        self.children: dict[str, set[str]] = {}
        self.link_target: dict[int, _Slot] = {}  # id(hardlink slot) -> content slot
        self.waste: list[WasteItem] = []
        self.hidden = [0] * n_layers

    def _emit(self, slot: _Slot, path: str, cause: str, by: int) -> None:
        size = slot.entry.size
        if size:
            self.waste.append(WasteItem(slot.layer, path, size, cause, by))
            self.hidden[by] += size

    def _kill(self, path: str, slot: _Slot, cause: str, by: int) -> None:
        if slot.entry.kind == HARDLINK:
            target = self.link_target.pop(id(slot), None)
            if target is not None:
                target.links -= 1
                if target.links == 0 and target.dead_cause is not None:
                    self._emit(target, target.entry.path, target.dead_cause, by)
            self._emit(slot, path, cause, by)  # a hardlink entry with its own data (rare)
            return
        if slot.links > 0:
            slot.dead_cause, slot.dead_by = cause, by  # content lives on through a hardlink
            return
        self._emit(slot, path, cause, by)

    def add(self, path: str, layer: int, entry: FileEntry) -> _Slot:
        slot = _Slot(layer, entry)
        self.slots[path] = slot
        parent = path.rpartition("/")[0]
        kids = self.children.get(parent)
        if kids is None:
            self.children[parent] = {path}
        else:
            kids.add(path)
        return slot

    def remove(self, path: str, cause: str, by: int, *, subtree_only: bool = False) -> tuple[int, int]:
        """Remove ``path`` (unless subtree_only) and everything below it; returns (non-directory
        entries, bytes) removed."""
        count = size = 0
        stack = list(self.children.pop(path, ()))
        while stack:
            p = stack.pop()
            slot = self.slots.pop(p, None)
            if slot is not None:
                count += slot.entry.kind != DIR
                size += slot.entry.size
                self._kill(p, slot, cause, by)
            kids = self.children.pop(p, None)
            if kids:
                stack.extend(kids)
        if not subtree_only:
            slot = self.slots.pop(path, None)
            if slot is not None:
                count += slot.entry.kind != DIR
                size += slot.entry.size
                self._kill(path, slot, cause, by)
                parent = path.rpartition("/")[0]
                kids = self.children.get(parent)
                if kids is not None:
                    kids.discard(path)
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
                cause = METADATA_ONLY if _same_content(old.entry, e) else OVERWRITTEN
                st._kill(path, old, cause, i)
            elif k != DIR:
                added_f += 1
                added_b += e.size
            slot = st.add(path, i, e)
            if k == HARDLINK and e.linkname is not None:
                target = slots.get(e.linkname)
                if target is not None:
                    while target.entry.kind == HARDLINK and id(target) in st.link_target:
                        target = st.link_target[id(target)]
                    target.links += 1
                    st.link_target[id(slot)] = target
        changes.append((added_f, added_b, mod_f, mod_b, del_f, del_b))

    final = {p: FinalEntry(p, s.layer, s.entry) for p, s in st.slots.items()}
    # content whose own path is gone but a hardlink keeps: the (first) link becomes its regular
    # file, as in `docker export`
    live_links = {id(s): p for p, s in st.slots.items() if s.entry.kind == HARDLINK}
    promoted: dict[int, tuple[str, _Slot]] = {}
    for link_id, target in st.link_target.items():
        link_path = live_links.get(link_id)
        if target.dead_cause is not None and link_path is not None:
            cur = promoted.get(id(target))
            if cur is None or link_path < cur[0]:
                promoted[id(target)] = (link_path, target)
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


def files_of(final: Iterable[FinalEntry]) -> list[FinalEntry]:
    """Regular files of a final filesystem."""
    return [f for f in final if f.entry.kind == FILE]
