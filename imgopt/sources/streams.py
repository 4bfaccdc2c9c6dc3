"""Byte sources the one tar parser reads: a seekable file window, an iterator of chunks, and
gzip/zstd decoders sniffed from magic bytes. Each supports ``read(n)`` and ``skip(n)``; a
seekable source skips by seeking, so file contents that nobody asked for are never read."""

from __future__ import annotations

import hashlib
import queue
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, Protocol

from ..errors import CorruptArchive

inflate_lib: Any
try:  # zlib-ng inflates the same streams 2-4x faster; stdlib zlib where no wheel exists
    from zlib_ng import zlib_ng as inflate_lib
except ImportError:  # pragma: no cover - depends on the platform's wheels
    inflate_lib = zlib

CHUNK = 1 << 20

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Source(Protocol):
    """What the tar parser needs from a byte stream."""

    def read(self, n: int) -> bytes: ...  # up to n bytes; fewer only at the end

    def skip(self, n: int) -> int: ...  # returns bytes actually skipped


class FileSource:
    """A (seekable) binary file, optionally limited to ``length`` bytes from its current position."""

    def __init__(self, f: BinaryIO, length: int | None = None, progress: Callable[[int], None] | None = None) -> None:
        self._f = f
        self._left = length
        self._progress = progress
        try:
            f.seek(0, 1)
            self._seekable = True
        except (OSError, AttributeError, ValueError):
            self._seekable = False

    def read(self, n: int) -> bytes:
        if self._left is not None:
            n = min(n, self._left)
        data = self._f.read(n) if n > 0 else b""
        if self._left is not None:
            self._left -= len(data)
        if self._progress is not None and data:
            self._progress(len(data))
        return data

    def skip(self, n: int) -> int:
        if self._left is not None:
            n = min(n, self._left)
        if n <= 0:
            return 0
        if self._seekable:
            self._f.seek(n, 1)
            if self._left is not None:
                self._left -= n
            if self._progress is not None:
                self._progress(n)
            return n
        return _skip_by_reading(self, n)


class IterSource:
    """A non-seekable source over an iterator of byte chunks (e.g. the Docker API's image stream)."""

    def __init__(self, chunks: Iterable[bytes], progress: Callable[[int], None] | None = None) -> None:
        self._it: Iterator[bytes] = iter(chunks)
        self._buf = b""
        self._pos = 0
        self._progress = progress

    def _fill(self) -> bool:
        """The next chunk into the buffer; False at the end."""
        try:
            self._buf = next(self._it)
        except StopIteration:
            return False
        self._pos = 0
        if self._progress is not None:
            self._progress(len(self._buf))
        return True

    def read(self, n: int) -> bytes:
        out: list[bytes] = []
        want = n
        while want > 0:
            if self._pos >= len(self._buf):
                if not self._fill():
                    break
                continue
            piece = self._buf[self._pos : self._pos + want]
            self._pos += len(piece)
            want -= len(piece)
            out.append(piece)
        return out[0] if len(out) == 1 else b"".join(out)

    def skip(self, n: int) -> int:
        done = 0
        while done < n:
            avail = len(self._buf) - self._pos
            if avail <= 0:
                if not self._fill():
                    break
                continue
            take = min(avail, n - done)
            self._pos += take
            done += take
        return done


class LimitedSource:
    """At most ``length`` bytes of another source (one tar member's data)."""

    def __init__(self, src: Source, length: int) -> None:
        self._src = src
        self.left = length

    def read(self, n: int) -> bytes:
        n = min(n, self.left)
        if n <= 0:
            return b""
        data = self._src.read(n)
        self.left -= len(data)
        if len(data) < n:
            raise CorruptArchive("archive is truncated: a member's data ends early")
        return data

    def skip(self, n: int) -> int:
        n = min(n, self.left)
        if n <= 0:
            return 0
        got = self._src.skip(n)
        self.left -= got
        if got < n:
            raise CorruptArchive("archive is truncated: a member's data ends early")
        return got


class GzipCounter:
    """Passes another source through and counts what ``gzip -6`` would make of every byte read or
    skipped: the size ``docker push`` would upload for an uncompressed layer."""

    def __init__(self, src: Source) -> None:
        import zlib

        self._src = src
        self._z = zlib.compressobj(6, zlib.DEFLATED, 31)
        self.compressed = 0

    def read(self, n: int) -> bytes:
        data = self._src.read(n)
        self.compressed += len(self._z.compress(data))
        return data

    def skip(self, n: int) -> int:
        done = 0
        while done < n:
            chunk = self.read(min(n - done, 1 << 20))
            if not chunk:
                break
            done += len(chunk)
        return done

    def finish(self) -> int:
        """Read what is left of the source and return the compressed size."""
        while self.skip(1 << 30):
            pass
        self.compressed += len(self._z.flush())
        return self.compressed


class AsideHasher:
    """A hash computed by a thread of its own from the chunks handed to ``update``, so that
    hashing a stream overlaps with decoding and parsing it (hashlib releases the GIL). At most
    ``depth`` chunks wait: memory stays bounded when hashing is the slower side."""

    BATCH = 1 << 20  # small reads (tar headers) are handed over in batches: one queue put per MiB

    def __init__(self, name: str = "sha256", head: bytes = b"", depth: int = 16) -> None:
        self._h = hashlib.new(name, head)
        self._q: queue.Queue[bytes | None] = queue.Queue(depth)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._t = threading.Thread(target=self._run, name="imgopt-digest", daemon=True)
        self._t.start()

    def _run(self) -> None:
        while (chunk := self._q.get()) is not None:
            self._h.update(chunk)

    def update(self, data: bytes) -> None:
        if not data:
            return
        if len(data) >= self.BATCH and not self._pending:
            self._q.put(data)
            return
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._q.put(b"".join(self._pending))
            self._pending = []
            self._pending_bytes = 0

    def hexdigest(self) -> str:
        self._flush()
        self._q.put(None)
        self._t.join()
        return str(self._h.hexdigest())

    def abandon(self) -> None:
        """Stop the thread without a result (the stream failed)."""
        if self._t.is_alive():
            self._q.put(None)


class HashingSource:
    """Passes a source through and hashes every byte read or skipped (skips read): the sha256 of
    an uncompressed layer tar is its ``diff_id``. ``head``: bytes already taken from the stream."""

    def __init__(self, src: Source, head: bytes = b"") -> None:
        self._src = src
        self._h = AsideHasher("sha256", head)
        self.length = len(head)

    def read(self, n: int) -> bytes:
        data = self._src.read(n)
        self._h.update(data)
        self.length += len(data)
        return data

    def skip(self, n: int) -> int:
        return _skip_by_reading(self, n)

    def finish(self) -> str:
        """Read what is left and return ``sha256:<hex>``."""
        while self.skip(1 << 30):
            pass
        return "sha256:" + self._h.hexdigest()

    def abandon(self) -> None:
        self._h.abandon()


class PrefixedSource:
    """Bytes already read (for sniffing) followed by the rest of a source."""

    def __init__(self, head: bytes, rest: Source) -> None:
        self._head = head
        self._rest = rest

    def read(self, n: int) -> bytes:
        if not self._head:
            return self._rest.read(n)
        if n <= len(self._head):
            out, self._head = self._head[:n], self._head[n:]
            return out
        out = self._head
        self._head = b""
        return out + self._rest.read(n - len(out))

    def skip(self, n: int) -> int:
        if n <= len(self._head):
            self._head = self._head[n:]
            return n
        done = len(self._head)
        self._head = b""
        return done + self._rest.skip(n - done)


class _Decompressing:
    """Common buffering for decoders; subclasses implement ``_more() -> bytes | None``."""

    def __init__(self) -> None:
        self._buf = b""
        self._pos = 0
        self.out_bytes = 0

    def _more(self) -> bytes | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, n: int) -> bytes:
        parts: list[bytes] = []
        want = n
        while want > 0:
            if self._pos >= len(self._buf):
                more = self._more()
                if more is None:
                    break
                self._buf, self._pos = more, 0
                continue
            piece = self._buf[self._pos : self._pos + want]
            self._pos += len(piece)
            want -= len(piece)
            parts.append(piece)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        self.out_bytes += len(data)
        return data

    def skip(self, n: int) -> int:
        """Advance over decoded bytes without copying them (most of a layer is skipped content)."""
        done = 0
        while done < n:
            avail = len(self._buf) - self._pos
            if avail <= 0:
                more = self._more()
                if more is None:
                    break
                self._buf, self._pos = more, 0
                continue
            take = min(avail, n - done)
            self._pos += take
            done += take
        self.out_bytes += done
        return done


class GzipSource(_Decompressing):
    """A gzip stream (possibly multi-member) decoded incrementally."""

    def __init__(self, src: Source, what: str) -> None:
        super().__init__()
        self._src = src
        self._what = what
        self._d = inflate_lib.decompressobj(16 + zlib.MAX_WBITS)
        self._done = False

    def _more(self) -> bytes | None:
        while not self._done:
            if self._d.unconsumed_tail:
                chunk = self._d.unconsumed_tail
            else:
                chunk = self._src.read(CHUNK)
                if not chunk:
                    if not self._d.eof:
                        raise CorruptArchive(f"{self._what}: gzip stream is truncated")
                    self._done = True
                    break
            try:
                out = self._d.decompress(chunk, CHUNK)
            except (zlib.error, inflate_lib.error) as e:
                raise CorruptArchive(f"{self._what}: bad gzip stream ({e})") from e
            if self._d.eof:
                rest = self._d.unused_data
                if rest.strip(b"\0"):
                    # another gzip member follows
                    self._d = inflate_lib.decompressobj(16 + zlib.MAX_WBITS)
                    self._src = PrefixedSource(rest, self._src)
                else:
                    self._done = _drain(self._src)
            if out:
                return bytes(out)
        return None


class ZstdSource(_Decompressing):
    """A zstd stream decoded incrementally (all frames)."""

    def __init__(self, src: Source, what: str) -> None:
        super().__init__()
        import zstandard

        self._what = what
        self._zerr = zstandard.ZstdError

        class _Raw:
            def read(self, n: int = -1) -> bytes:
                return src.read(n if n > 0 else CHUNK)

        self._reader = zstandard.ZstdDecompressor().stream_reader(_Raw(), read_across_frames=True)  # type: ignore[arg-type]

    def _more(self) -> bytes | None:
        try:
            out: bytes = self._reader.read(CHUNK)
        except self._zerr as e:
            raise CorruptArchive(f"{self._what}: bad zstd stream ({e})") from e
        return out or None


def _drain(src: Source) -> bool:
    while src.read(CHUNK):
        pass
    return True


def _skip_by_reading(src: Source, n: int) -> int:
    done = 0
    while done < n:
        got = len(src.read(min(CHUNK, n - done)))
        if not got:
            break
        done += got
    return done


def sniff(head: bytes) -> str:
    """What a blob is, from its first bytes: ``gzip``, ``zstd``, ``tar``, ``json`` or ``unknown``."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if len(head) >= 512 and (head[257:262] == b"ustar" or _tar_checksum_ok(head[:512])):
        return "tar"
    if len(head) >= 512 and not head[:512].strip(b"\0"):
        return "tar"  # an empty tar: only end-of-archive blocks
    if head.lstrip()[:1] in (b"{", b"["):
        return "json"
    return "unknown"


def _tar_checksum_ok(block: bytes) -> bool:
    try:
        want = int(block[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    return want == sum(block) - sum(block[148:156]) + 256


def decoded(head: bytes, src: Source, what: str) -> tuple[str, Source, bytes]:
    """Pick the decoder for a source whose first bytes ``head`` were already read.

    Returns (kind, stream, head still to be consumed before ``stream``): compressed streams get
    the head folded into their input; a plain tar keeps it for the tar reader."""
    kind = sniff(head)
    if kind == "gzip":
        return kind, GzipSource(PrefixedSource(head, src), what), b""
    if kind == "zstd":
        return kind, ZstdSource(PrefixedSource(head, src), what), b""
    return kind, src, head
