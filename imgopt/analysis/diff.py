"""Files added, removed and changed between the final filesystems of two images (container-diff's
``--type=file``, which is archived). Pure: two loaded images in, a flat record out.

"Changed" means a different kind, size, mode, owner or link target; with content hashes
(``hash_content``) also different bytes of equal size; without them, equal size and mtime count as
unchanged (the same rule the analysis uses for metadata-only rewrites).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..encoding import Encodable
from ..model import FILE, FileEntry, Image
from .squash import squash

ADDED, REMOVED, CHANGED = "added", "removed", "changed"


@dataclass(frozen=True, slots=True)
class DiffEntry:
    change: str
    path: str
    before_size: int | None
    after_size: int | None
    detail: str = ""

    @property
    def delta(self) -> int:
        return (self.after_size or 0) - (self.before_size or 0)


@dataclass(frozen=True, repr=False)  # one line: Encodable.__repr__ asks the 'repr' encoder
class ImageDiff(Encodable):
    before_ref: str
    after_ref: str
    before_final: int
    after_final: int
    entries: tuple[DiffEntry, ...]  # largest size effect first

    @property
    def added(self) -> list[DiffEntry]:
        return [e for e in self.entries if e.change == ADDED]

    @property
    def removed(self) -> list[DiffEntry]:
        return [e for e in self.entries if e.change == REMOVED]

    @property
    def changed(self) -> list[DiffEntry]:
        return [e for e in self.entries if e.change == CHANGED]

    @property
    def added_bytes(self) -> int:
        return sum(e.after_size or 0 for e in self.added)

    @property
    def removed_bytes(self) -> int:
        return sum(e.before_size or 0 for e in self.removed)

    @property
    def changed_delta(self) -> int:
        return sum(e.delta for e in self.changed)


def _size(e: FileEntry) -> int:
    return e.size if e.kind == FILE else 0


def _difference(a: FileEntry, b: FileEntry) -> str:
    what = []
    if a.kind != b.kind:
        what.append(f"{a.kind} -> {b.kind}")
    if a.size != b.size:
        what.append("size")
    elif a.digest is not None and b.digest is not None and a.digest != b.digest:
        what.append("content")
    elif (a.digest is None or b.digest is None) and a.kind == FILE and a.mtime != b.mtime:
        what.append("mtime")
    if a.mode != b.mode:
        what.append(f"mode {a.mode:o} -> {b.mode:o}")
    if (a.uid, a.gid) != (b.uid, b.gid):
        what.append(f"owner {a.uid}:{a.gid} -> {b.uid}:{b.gid}")
    if a.linkname != b.linkname:
        what.append(f"link {a.linkname} -> {b.linkname}")
    return ", ".join(what)


def diff_images(before: Image, after: Image) -> ImageDiff:
    a = squash(before)
    b = squash(after)
    entries: list[DiffEntry] = []
    for path, fe in a.final.items():
        other = b.final.get(path)
        if other is None:
            entries.append(DiffEntry(REMOVED, path, _size(fe.entry), None))
            continue
        detail = _difference(fe.entry, other.entry)
        if detail:
            entries.append(DiffEntry(CHANGED, path, _size(fe.entry), _size(other.entry), detail))
    for path, fe in b.final.items():
        if path not in a.final:
            entries.append(DiffEntry(ADDED, path, None, _size(fe.entry)))
    entries.sort(key=lambda e: (-max(e.before_size or 0, e.after_size or 0, abs(e.delta)), e.path))
    return ImageDiff(before.ref, after.ref, a.final_bytes, b.final_bytes, tuple(entries))


__all__ = ["DiffEntry", "ImageDiff", "diff_images"]
