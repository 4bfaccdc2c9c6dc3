"""The one tar reader: a small, strict ustar/GNU/PAX header parser over a :class:`Source`.

It exists (instead of :mod:`tarfile`) because analysis only needs headers: on a seekable source
file contents are skipped with a seek, and a header costs a few microseconds. Every malformed
block (bad checksum, bad number, short read) raises :class:`CorruptArchive`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any
from zlib import adler32

from ..errors import CorruptArchive, UnsafePath
from ..model import (
    DIR,
    FILE,
    HARDLINK,
    OPAQUE,
    OPAQUE_MARKER,
    OTHER,
    SYMLINK,
    WHITEOUT,
    WHITEOUT_PREFIX,
    FileEntry,
)
from .core import NO_CONTENT, ContentPlan, ParsedLayer
from .streams import LimitedSource, Source

BLOCK = 512
_ZERO = bytes(BLOCK)
_HEADER_ONLY = (b"1", b"2", b"3", b"4", b"5", b"6")
_META = (b"x", b"g", b"L", b"K")
READAHEAD = 64 << 10  # bytes read ahead while members are small
SMALL = 16 << 10
_KINDS = {
    b"0": FILE,
    b"\0": FILE,
    b"7": FILE,
    b"5": DIR,
    b"2": SYMLINK,
    b"1": HARDLINK,
    b"3": OTHER,
    b"4": OTHER,
    b"6": OTHER,
}


class TarHeader:
    __slots__ = ("name", "kind", "size", "mode", "uid", "gid", "mtime", "linkname", "typeflag")

    def __init__(
        self, name: str, kind: str, size: int, mode: int, uid: int, gid: int, mtime: int, linkname: str, typeflag: bytes
    ) -> None:
        self.name = name
        self.kind = kind
        self.size = size
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.linkname = linkname
        self.typeflag = typeflag


def _num(field: bytes, what: str) -> int:
    if field[:1] >= b"\x80":  # GNU base-256: 0x80 then the value; 0xff then a two's complement (negative)
        n = int.from_bytes(field[1:], "big")
        return n - 256 ** (len(field) - 1) if field[0] == 0xFF else n
    try:
        return int(field.rstrip(b"\0 ") or b"0", 8)
    except ValueError:
        pass
    s = field.split(b"\0", 1)[0].strip()  # a NUL inside the field ends the number
    try:
        return int(s or b"0", 8)
    except ValueError as e:
        raise CorruptArchive(f"{what}: damaged tar header (a size, mode or checksum field is not a number)") from e


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _parse_pax(data: bytes, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        sp = data.find(b" ", pos)
        if sp < 0:
            break
        try:
            length = int(data[pos:sp])
        except ValueError as e:
            raise CorruptArchive(f"{what}: bad PAX header") from e
        if length <= 0:
            raise CorruptArchive(f"{what}: bad PAX header")
        record = data[sp + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


class TarReader:
    """Iterates headers; the current member's data is readable through :meth:`data` until ``next()``.

    ``head`` holds bytes already read from ``src`` (the sniffed first block), so no wrapper is
    needed around the source on the hot path."""

    def __init__(self, src: Source, what: str, head: bytes = b"") -> None:
        self._src = src
        self._what = what
        self._buf = head  # read ahead of the parser; starts with the sniffed first block
        self._pos = 0
        self._small = True  # was the last member small? then read ahead, else read just a header
        self._left = 0  # unread data bytes of the current member
        self._pad = 0
        self._member: LimitedSource | None = None
        self.offset = 0  # bytes of the tar stream consumed so far

    def _read(self, n: int) -> bytes:
        pos = self._pos
        end = pos + n
        buf = self._buf
        if end > len(buf):
            want = n - (len(buf) - pos)
            more = self._src.read(max(want, READAHEAD) if self._small else want)
            buf = self._buf = buf[pos:] + more
            pos, end = 0, n
        out = buf[pos:end]
        self._pos = pos + len(out)
        return out

    def _skip(self, n: int) -> int:
        avail = len(self._buf) - self._pos
        if n <= avail:
            self._pos += n
            return n
        self._buf, self._pos = b"", 0
        return avail + self._src.skip(n - avail)

    def data(self) -> LimitedSource:
        """The current member's data (valid until the next ``next()``)."""
        if self._member is None:
            self._member = LimitedSource(self, self._left)
        return self._member

    # Source protocol, so that data() can read through the head buffer
    def read(self, n: int) -> bytes:
        return self._read(n)

    def skip(self, n: int) -> int:
        return self._skip(n)

    def _read_exact(self, n: int) -> bytes:
        data = self._read(n)
        self.offset += len(data)
        if len(data) < n:
            raise CorruptArchive(f"{self._what}: tar is truncated")
        pad = -n % BLOCK
        if pad:
            self.offset += self._skip(pad)
        return data

    def _finish(self) -> None:
        """Skip what is left of the current member's data and padding."""
        m = self._member
        left = m.left if m is not None else self._left
        self._member = None
        rest = left + self._pad
        if rest:
            got = self._skip(rest)
            self.offset += got
            if got < left:
                raise CorruptArchive(f"{self._what}: tar is truncated (a member's data ends early)")
        consumed = self._left - left  # read through data()
        self.offset += consumed
        self._left = self._pad = 0

    def next(self) -> TarHeader | None:
        self._finish()
        pax: dict[str, str] | None = None
        longname: str | None = None
        longlink: str | None = None
        while True:
            buf = self._read(BLOCK)
            self.offset += len(buf)
            if not buf:
                return None  # no end-of-archive marker; accepted as Go's archive/tar does
            if len(buf) < BLOCK:
                raise CorruptArchive(f"{self._what}: tar is truncated (partial header)")
            if buf == _ZERO:
                return None
            try:  # fast path: plain octal fields (the slow path handles base-256 and odd padding)
                chk = int(buf[148:156].rstrip(b"\0 "), 8)
                size = int(buf[124:136].rstrip(b"\0 "), 8)
            except ValueError:
                chk = _num(buf[148:156], self._what)
                size = _num(buf[124:136], self._what)
            # the header sum with the checksum field counted as spaces must equal chk. adler32's low
            # half is (1 + byte sum) mod 65521, computed in C; a 512-byte sum is < 2 * 65521, so only
            # an error of exactly 65521 could slip through
            if (chk - 256 + sum(buf[148:156]) - (adler32(buf) & 0xFFFF) + 1) % 65521:
                raise CorruptArchive(f"{self._what}: tar header checksum mismatch at byte {self.offset - BLOCK}")
            typeflag = buf[156:157]
            if size < 0:
                raise CorruptArchive(f"{self._what}: negative size in a tar header")
            if typeflag in _META:
                payload = self._read_exact(size)
                if typeflag == b"x":
                    pax = pax or {}
                    pax.update(_parse_pax(payload, self._what))
                elif typeflag == b"L":
                    longname = _text(payload)
                elif typeflag == b"K":
                    longlink = _text(payload)
                continue
            end = buf.find(b"\0", 0, 100)
            name = buf[: end if end >= 0 else 100].decode("utf-8", "surrogateescape")
            if buf[257:263] == b"ustar\x00":  # POSIX: prefix field
                prefix = buf[345:500]
                if prefix[0]:
                    name = _text(prefix) + "/" + name
            linkname = _text(buf[157:257]) if buf[157] else ""
            if longname is not None:
                name = longname
            if longlink is not None:
                linkname = longlink
            try:
                mode = int(buf[100:108].rstrip(b"\0 "), 8)
                uid = int(buf[108:116].rstrip(b"\0 "), 8)
                gid = int(buf[116:124].rstrip(b"\0 "), 8)
                mtime = int(buf[136:148].rstrip(b"\0 "), 8)
            except ValueError:
                mode = _num(buf[100:108], self._what)
                uid = _num(buf[108:116], self._what)
                gid = _num(buf[116:124], self._what)
                mtime = _num(buf[136:148], self._what)
            if pax:
                name = pax.get("path", name)
                linkname = pax.get("linkpath", linkname)
                try:
                    size = int(pax.get("size", size))
                    uid = int(pax.get("uid", uid))
                    gid = int(pax.get("gid", gid))
                    mtime = int(float(pax.get("mtime", mtime)))
                except ValueError as e:
                    raise CorruptArchive(f"{self._what}: bad PAX header value") from e
            kind = _KINDS.get(typeflag, OTHER)
            if typeflag == b"\0" and name.endswith("/"):
                kind = DIR  # pre-POSIX tars mark directories by a trailing slash
            # header-only types carry no data whatever their size field says (as Go's archive/tar)
            data_size = 0 if typeflag in _HEADER_ONLY else size
            self._left = data_size
            self._pad = -data_size % BLOCK
            self._small = data_size < SMALL
            return TarHeader(name, kind, size, mode, uid, gid, mtime, linkname, typeflag)


def normalize(name: str, what: str) -> str:
    """A tar member name as a clean relative path ('' for the root); unsafe names raise."""
    if name.startswith("/"):
        raise UnsafePath(f"{what}: absolute path {name!r} in a layer")
    if name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    if "//" in name or "/./" in name or name.startswith("./") or ".." in name or name == ".":
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise UnsafePath(f"{what}: path {name!r} escapes the root with '..'")
        name = "/".join(parts)
    return name


def _entry(
    path: str,
    kind: str,
    size: int,
    mode: int,
    uid: int,
    gid: int,
    mtime: int,
    linkname: str,
    what: str,
    digest: str | None,
) -> FileEntry | None:
    """A FileEntry from header fields (None for entries that are not part of the filesystem)."""
    if path[:1] in "./" or path[-1:] == "/" or "/." in path or "//" in path:
        path = normalize(path, what)  # the careful way: leading ./, trailing /, dot components
    if WHITEOUT_PREFIX in path:
        parent, _, base = path.rpartition("/")
        if base.startswith(WHITEOUT_PREFIX):
            if base == OPAQUE_MARKER:
                kind, path = OPAQUE, parent
            elif base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
                return None  # other AUFS metadata (.wh..wh.plnk, ...): not part of the filesystem
            else:
                kind = WHITEOUT
                path = f"{parent}/{base[4:]}" if parent else base[4:]
    if not path and kind != OPAQUE:
        return None  # the root directory itself
    link = linkname or None
    if kind == HARDLINK and link is not None:
        link = normalize(link, what)
    return FileEntry(path, kind, size, mode, uid, gid, mtime, link, digest)


_KIND_BY_INT = {k[0]: v for k, v in _KINDS.items()}
_HEADER_ONLY_INT = frozenset(b"123456")
_FAST_MAGIC = (b"ustar\x0000", b"ustar  \x00")


def parse_layer(src: Source, what: str, *, content: ContentPlan = NO_CONTENT, head: bytes = b"") -> ParsedLayer:
    """Read a whole layer tar stream into entries, in tar order, and what ``content`` asks of file
    contents.

    Plain ustar/GNU headers are decoded by an inlined loop straight from the reader's buffer;
    anything else (PAX and GNU long-name records, base-256 numbers, odd padding, the end of the
    archive, files whose bytes the plan wants, hashing everything) goes through
    :meth:`TarReader.next`. The fast loop keeps the reader's buffer in locals and writes them back
    into its fields when it hands over: the two share one reader state on purpose (speed)."""
    reader = TarReader(src, what, head)
    ints: dict[int, int] = {}  # one object per distinct mode/uid/gid/mtime: 100k+ entries share a few
    intern = ints.setdefault
    entries: list[FileEntry] = []
    append = entries.append
    total = 0
    read = src.read
    skip = src.skip
    new_entry = tuple.__new__
    kinds = _KIND_BY_INT
    header_only = _HEADER_ONLY_INT
    selects = content.selects if content.keep or content.probes else None
    reader_state = _Contents(content, what)
    while not content.hash:  # hashing reads every file: the general path does that
        reader._finish()
        buf, pos, offset = reader._buf, reader._pos, reader.offset
        small = reader._small
        # ---- fast loop: local state only; leaves with the reader positioned at a header it declines
        while True:
            end = pos + BLOCK
            if end > len(buf):
                more = read(READAHEAD if small else end - len(buf))
                buf = buf[pos:] + more
                pos, end = 0, BLOCK
                if len(buf) < BLOCK:
                    break
            tf = buf[pos + 156]
            if tf not in kinds or buf[pos + 257 : pos + 265] not in _FAST_MAGIC:
                break  # PAX/GNU records, end of archive, old formats: the general path
            try:
                chk = int(buf[pos + 148 : pos + 156].rstrip(b"\0 "), 8)
                size = int(buf[pos + 124 : pos + 136].rstrip(b"\0 "), 8)
                mode = int(buf[pos + 100 : pos + 108].rstrip(b"\0 "), 8) & 0o7777
                uid = int(buf[pos + 108 : pos + 116].rstrip(b"\0 "), 8)
                gid = int(buf[pos + 116 : pos + 124].rstrip(b"\0 "), 8)
                mtime = int(buf[pos + 136 : pos + 148].rstrip(b"\0 "), 8)
            except ValueError:
                break
            if (chk - 256 + sum(buf[pos + 148 : pos + 156]) - (adler32(buf[pos:end]) & 0xFFFF) + 1) % 65521:
                break  # let the general path report it
            nul = buf.find(b"\0", pos, pos + 100)
            name = buf[pos : nul if nul >= 0 else pos + 100].decode("utf-8", "surrogateescape")
            if buf[pos + 263] == 48 and buf[pos + 345]:  # POSIX ustar "00": prefix field
                nul = buf.find(b"\0", pos + 345, pos + 500)
                prefix = buf[pos + 345 : nul if nul >= 0 else pos + 500].decode("utf-8", "surrogateescape")
                name = prefix + "/" + name
            if buf[pos + 157]:
                nul = buf.find(b"\0", pos + 157, pos + 257)
                linkname = buf[pos + 157 : nul if nul >= 0 else pos + 257].decode("utf-8", "surrogateescape")
            else:
                linkname = ""
            kind = kinds[tf]
            if tf == 0 and name.endswith("/"):
                kind = DIR
            if selects is not None and kind == FILE and selects(name[2:] if name[:2] == "./" else name, mode):
                break  # its bytes may be wanted: the general path reads them
            total += size
            mode, uid, gid, mtime = intern(mode, mode), intern(uid, uid), intern(gid, gid), intern(mtime, mtime)
            if name and name[0] not in "./" and name[-1] != "/" and "/." not in name and "//" not in name:
                # a clean relative path that is no whiteout: the entry as is (tuple.__new__ skips
                # the NamedTuple's Python-level constructor)
                if linkname:
                    link: str | None = normalize(linkname, what) if kind == HARDLINK else linkname
                else:
                    link = None
                append(new_entry(FileEntry, (name, kind, size, mode, uid, gid, mtime, link, None)))
            else:
                e = _entry(name, kind, size, mode, uid, gid, mtime, linkname, what, None)
                if e is not None:
                    append(e)
            data = 0 if tf in header_only else size
            small = data < SMALL
            step = BLOCK + data + (-data % BLOCK)
            offset += step
            if pos + step <= len(buf):
                pos += step
            else:
                want = pos + step - len(buf)
                buf, pos = b"", 0
                got = skip(want)
                if got < want - (-data % BLOCK):
                    raise CorruptArchive(f"{what}: tar is truncated (a member's data ends early)")
        reader._buf, reader._pos, reader.offset, reader._small = buf, pos, offset, small
        # ---- general path for one header, then back to the fast loop
        h = reader.next()
        if h is None:
            return reader_state.layer(entries, total, reader.offset)
        total += h.size
        if (e := _from_header(h, what, intern, None)) is not None:
            append(reader_state.read(e, reader) if e.kind == FILE else e)
    while (h := reader.next()) is not None:
        total += h.size
        if (e := _from_header(h, what, intern, None)) is not None:
            append(reader_state.read(e, reader) if e.kind == FILE else e)
    return reader_state.layer(entries, total, reader.offset)


class _Contents:
    """What a content plan collects from the files of one layer."""

    def __init__(self, plan: ContentPlan, what: str) -> None:
        self.plan = plan
        self.what = what
        self.contents: dict[str, bytes] = {}
        self.facts: dict[str, dict[str, Any]] = {}
        self.skipped: list[str] = []

    def read(self, e: FileEntry, reader: TarReader) -> FileEntry:
        """``e`` with its digest when hashing; kept contents and probe facts recorded."""
        plan = self.plan
        keep = plan.keeps(e.path, e.size) if plan.keep else False
        probes = plan.probes_for(e.path, e.size, e.mode) if plan.probes else ()
        if not keep and not probes:
            if plan.selects(e.path, e.mode):
                self.skipped.append(e.path)  # wanted, but larger than the plan reads
            if plan.hash:
                return e._replace(digest=_sha256(reader.data()))
            return e
        data = reader.data().read(e.size)
        if len(data) < e.size:
            raise CorruptArchive(f"{self.what}: tar is truncated (a member's data ends early)")
        if keep:
            self.contents[e.path] = data
        for p in probes:
            fact = p.read(e.path, data)
            if fact is not None:
                self.facts.setdefault(p.name, {})[e.path] = fact
        if plan.hash:
            return e._replace(digest="sha256:" + hashlib.sha256(data).hexdigest())
        return e

    def layer(self, entries: list[FileEntry], total: int, tar_size: int) -> ParsedLayer:
        return ParsedLayer(tuple(entries), total, tar_size, self.contents, self.facts, tuple(self.skipped))


def _from_header(h: TarHeader, what: str, intern: Callable[[int, int], int], digest: str | None) -> FileEntry | None:
    mode = h.mode & 0o7777
    return _entry(
        h.name,
        h.kind,
        h.size,
        intern(mode, mode),
        intern(h.uid, h.uid),
        intern(h.gid, h.gid),
        intern(h.mtime, h.mtime),
        h.linkname,
        what,
        digest,
    )


def _sha256(src: LimitedSource) -> str:
    h = hashlib.sha256()
    while chunk := src.read(1 << 20):
        h.update(chunk)
    return "sha256:" + h.hexdigest()
