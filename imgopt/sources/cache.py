"""A content-addressed cache of layer indexes (and of the small documents that name them).

A layer's index (:class:`~imgopt.sources.core.ParsedLayer`: every entry's path, kind, size, mode,
ids, mtime, link target, optional digest, plus what a :class:`ContentPlan` kept or probed) is a pure
function of the layer's uncompressed bytes and of the plan, so it is stored under the layer's
``diff_id`` and a key of the plan. An entry is written only after the bytes it was read from hashed
to that ``diff_id`` (a mislabelled archive never poisons the cache for genuine images), and read
back only after its own checksum matches (a damaged entry is dropped and the layer read again).
Documents (image configs, manifests) are stored by their digest and re-hashed when read.

Storage is one SQLite file in the user cache directory (``platformdirs``; ``$IMGOPT_CACHE_DIR``
overrides it): WAL mode and a busy timeout make concurrent processes safe, every write is one
transaction, and a size cap evicts the least recently used entries. A cache that cannot be
written (full disk, read-only directory, a damaged database file) only costs speed: the read goes
on without it and one warning says why.

Trivy keeps one BoltDB per cache with layers keyed by the compressed digest plus the analyzer
versions; imgopt keys by ``diff_id`` (the same layer pushed with gzip and with zstd, or loaded
from ``docker save``, is one entry) and by the plan, and checks what it stores.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
import zlib
from array import array
from collections.abc import Callable, Iterator
from concurrent.futures import Future, wait
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from typing import Any, Protocol

from .._version import __version__
from ..model import FileEntry
from .core import ContentPlan, ParsedLayer

log = logging.getLogger(__name__)

FORMAT = 1
DEFAULT_MAX_BYTES = 2 << 30
KINDS = ("file", "dir", "symlink", "hardlink", "other", "whiteout", "opaque")
_KIND_INDEX = {k: i for i, k in enumerate(KINDS)}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS layers (
    diff_id TEXT NOT NULL, plan TEXT NOT NULL, payload BLOB NOT NULL, checksum TEXT NOT NULL,
    bytes INTEGER NOT NULL, used REAL NOT NULL, PRIMARY KEY (diff_id, plan));
CREATE TABLE IF NOT EXISTS docs (
    digest TEXT PRIMARY KEY, body BLOB NOT NULL, bytes INTEGER NOT NULL, used REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class CacheCorrupt(Exception):
    """An entry whose bytes do not decode (internal: the entry is dropped and re-read)."""


@dataclass(frozen=True, slots=True)
class CachedLayer:
    """A layer index as stored: the index, the uncompressed tar's length and its gzip -6 size
    (when it was measured)."""

    layer: ParsedLayer
    tar_bytes: int
    gzip_estimate: int | None


@dataclass(frozen=True, slots=True)
class CacheInfo:
    path: str
    layers: int
    documents: int
    bytes: int
    max_bytes: int


def plan_key(content: ContentPlan) -> str:
    """What a plan asks of file contents, plus the format and imgopt's version (a probe's logic
    may change between versions: entries of another version are never used)."""
    spec = [
        FORMAT,
        __version__,
        content.hash,
        sorted(content.keep),
        content.keep_max,
        sorted((p.name, p.max_size) for p in content.probes),
    ]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:32]


def default_cache_dir() -> str:
    env = os.environ.get("IMGOPT_CACHE_DIR")
    if env:
        return env
    import platformdirs

    return platformdirs.user_cache_dir("imgopt", appauthor=False)


def default_max_bytes() -> int:
    env = os.environ.get("IMGOPT_CACHE_MAX_BYTES")
    if env:
        try:
            return max(0, int(env))
        except ValueError:
            log.warning("IMGOPT_CACHE_MAX_BYTES=%r is not a number of bytes; using %d", env, DEFAULT_MAX_BYTES)
    return DEFAULT_MAX_BYTES


# --------------------------------------------------------------------------------------------
# the stored form of a layer index: a JSON header and packed columns, zlib-compressed


def encode_layer(layer: ParsedLayer, tar_bytes: int, gzip_estimate: int | None) -> bytes:
    """Columns instead of one object per entry: 237k entries encode and decode in a fraction of
    the time JSON or pickle take, and nothing in the format can run code when read."""
    entries = layer.entries
    n = len(entries)
    ints = array("q")
    for e in entries:
        ints.extend((e.size, e.mode, e.uid, e.gid, e.mtime))
    kinds = bytes(_KIND_INDEX[e.kind] for e in entries)
    paths = "\0".join(e.path for e in entries).encode("utf-8", "surrogateescape")
    links = "\0".join(e.linkname or "" for e in entries).encode("utf-8", "surrogateescape")
    digests = "\0".join(e.digest or "" for e in entries).encode("ascii")
    contents = b"".join(layer.contents.values())
    header = json.dumps(
        {
            "format": FORMAT,
            "n": n,
            "size": layer.size,
            "tar_size": layer.tar_size,
            "tar_bytes": tar_bytes,
            "gzip_estimate": gzip_estimate,
            "skipped": list(layer.skipped),
            "facts": layer.facts,
            "contents": [[p.encode("utf-8", "surrogateescape").hex(), len(b)] for p, b in layer.contents.items()],
            "sections": [len(x) for x in (kinds, paths, links, digests, contents)],
        }
    ).encode()
    body = b"".join((len(header).to_bytes(4, "little"), header, ints.tobytes(), kinds, paths, links, digests, contents))
    return zlib.compress(body, 1)


def encode_or_none(diff_id: str, layer: ParsedLayer, tar_bytes: int, gzip_estimate: int | None) -> bytes | None:
    try:
        return encode_layer(layer, tar_bytes, gzip_estimate)
    except (TypeError, ValueError, KeyError) as e:  # a probe fact that JSON cannot hold
        log.debug("layer %s not cached: %s", diff_id, e)
        return None


def decode_layer(payload: bytes) -> CachedLayer:
    try:
        body = zlib.decompress(payload)
        hlen = int.from_bytes(body[:4], "little")
        h = json.loads(body[4 : 4 + hlen])
        if h.get("format") != FORMAT:
            raise CacheCorrupt(f"format {h.get('format')}")
        n = int(h["n"])
        pos = 4 + hlen
        ints = array("q")
        ints.frombytes(body[pos : pos + 40 * n])
        pos += 40 * n
        sections = []
        for length in h["sections"]:
            sections.append(body[pos : pos + length])
            pos += length
        if pos != len(body) or len(ints) != 5 * n:
            raise CacheCorrupt("length mismatch")
        kinds_b, paths_b, links_b, digests_b, contents_b = sections
        if n == 0:
            entries: tuple[FileEntry, ...] = ()
        else:
            paths = paths_b.decode("utf-8", "surrogateescape").split("\0")
            links = links_b.decode("utf-8", "surrogateescape").split("\0")
            digests = digests_b.decode("ascii").split("\0")
            if not (len(paths) == len(links) == len(digests) == len(kinds_b) == n):
                raise CacheCorrupt("column mismatch")
            kinds = [KINDS[k] for k in kinds_b]
            # columns zipped and turned into FileEntry tuples in C (tuple.__new__ over zip)
            cols = [ints[k::5].tolist() for k in range(5)]
            links_col = [x or None for x in links] if links_b.strip(b"\0") else repeat(None)
            digests_col = [x or None for x in digests] if digests_b.strip(b"\0") else repeat(None)
            make = partial(tuple.__new__, FileEntry)
            entries = tuple(map(make, zip(paths, kinds, *cols, links_col, digests_col, strict=False)))  # checked
        contents: dict[str, bytes] = {}
        cpos = 0
        for hexpath, length in h["contents"]:
            contents[bytes.fromhex(hexpath).decode("utf-8", "surrogateescape")] = contents_b[cpos : cpos + length]
            cpos += length
        layer = ParsedLayer(
            entries, int(h["size"]), int(h["tar_size"]), contents, dict(h["facts"]), tuple(h["skipped"])
        )
        est = h.get("gzip_estimate")
        return CachedLayer(layer, int(h["tar_bytes"]), None if est is None else int(est))
    except CacheCorrupt:
        raise
    except (zlib.error, ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError) as e:
        raise CacheCorrupt(f"{type(e).__name__}: {e}") from e


# --------------------------------------------------------------------------------------------


_PENDING: set[Future[Any]] = set()  # writes waiting for a hash, of every LayerCache of this process


def settle() -> None:
    """Wait for the cache writes this process scheduled behind hashes computed aside."""
    if _PENDING:
        wait(_PENDING.copy())  # a C-level copy: other threads may add or discard meanwhile


def when_done(digest: Future[str], store: Callable[[str | None], None]) -> None:
    """Call ``store(digest)`` once the hash is known, ``store(None)`` if hashing failed (in the
    hashing thread). Reads of any cache object wait for such writes first, so this process sees
    its own entries."""
    done: Future[None] = Future()
    _PENDING.add(done)

    def finish(f: Future[str]) -> None:
        try:
            if f.exception() is None:
                store(f.result())
            else:
                log.debug("layer not cached: %s", f.exception())
                store(None)
        finally:
            done.set_result(None)
            _PENDING.discard(done)

    digest.add_done_callback(finish)


class LayerCache:
    """The cache: ``get``/``put`` layer indexes by (diff_id, plan), documents by digest.

    Every failure of the store itself is logged once and turns the cache off for this object:
    reading images never fails because of it."""

    def __init__(self, directory: str | None = None, max_bytes: int | None = None) -> None:
        self.directory = directory or default_cache_dir()
        self.path = os.path.join(self.directory, "layers.sqlite")
        self.max_bytes = default_max_bytes() if max_bytes is None else max_bytes
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._broken = False

    # -- writes that wait for a hash computed aside

    def when_done(self, digest: Future[str], store: Callable[[str | None], None]) -> None:
        when_done(digest, store)

    def settle(self) -> None:
        settle()

    # -- the connection

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is not None or self._broken:
            return self._db
        for attempt in range(6):
            try:
                self._db = self._open()
                break
            except sqlite3.OperationalError as e:
                # processes creating the file at the same moment (a fleet scan's workers): switching a
                # new file to WAL can fail at once with "locked" instead of waiting; try again shortly
                if "locked" not in str(e) or attempt == 5:
                    self._give_up("cannot open", e)
                    break
                time.sleep(0.05 * 2**attempt)
            except (OSError, sqlite3.Error) as e:
                self._give_up("cannot open", e)
                break
        return self._db

    def _open(self) -> sqlite3.Connection:
        os.makedirs(self.directory, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            db.execute("SELECT count(*) FROM layers").fetchone()
            return db
        except sqlite3.DatabaseError as e:
            db.close()
            if not _is_corrupt_db(e):
                raise
            self._quarantine(e)
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        return db

    def _quarantine(self, e: Exception) -> None:
        """A database file SQLite cannot read is moved aside (kept for a bug report), never used."""
        aside = f"{self.path}.corrupt-{int(time.time())}"
        log.warning("layer cache %s is damaged (%s); moved to %s and starting afresh", self.path, e, aside)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.replace(self.path + suffix, aside + suffix)

    def _give_up(self, what: str, e: Exception) -> None:
        if not self._broken:
            log.warning("layer cache %s: %s (%s); going on without it", self.path, what, e)
        self._broken = True
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None

    @contextmanager
    def _tx(self, what: str) -> Iterator[sqlite3.Connection | None]:
        with self._lock:
            db = self._connect()
            if db is None:
                yield None
                return
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
            except sqlite3.Error as e:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                self._give_up(what, e)

    def close(self) -> None:
        self.settle()
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- layers

    def get(self, diff_id: str, plan: str) -> CachedLayer | None:
        payload = self.get_payload(diff_id, plan)
        if payload is None:
            return None
        try:
            return decode_layer(payload)
        except CacheCorrupt as e:
            self._drop(diff_id, plan, e)
            return None

    def get_payload(self, diff_id: str, plan: str) -> bytes | None:
        """The stored form of an entry (checksum verified), as :func:`encode_layer` made it."""
        self.settle()
        with self._lock:
            db = self._connect()
            if db is None:
                return None
            try:
                row = db.execute(
                    "SELECT payload, checksum FROM layers WHERE diff_id=? AND plan=?", (diff_id, plan)
                ).fetchone()
            except sqlite3.Error as e:
                self._give_up("cannot read", e)
                return None
        if row is None:
            return None
        payload, checksum = bytes(row[0]), row[1]
        if hashlib.sha256(payload).hexdigest() != checksum:
            self._drop(diff_id, plan, CacheCorrupt("checksum mismatch"))
            return None
        with self._tx("cannot update") as tx:
            if tx is not None:
                tx.execute("UPDATE layers SET used=? WHERE diff_id=? AND plan=?", (time.time(), diff_id, plan))
        return payload

    def _drop(self, diff_id: str, plan: str, e: CacheCorrupt) -> None:
        log.warning("layer cache entry for %s is damaged (%s); reading the layer again", diff_id, e)
        with self._tx("cannot drop a damaged entry") as tx:
            if tx is not None:
                tx.execute("DELETE FROM layers WHERE diff_id=? AND plan=?", (diff_id, plan))

    def has(self, diff_id: str, plan: str) -> bool:
        """Whether an entry exists (not whether it is sound: ``get`` checks that)."""
        self.settle()
        with self._lock:
            db = self._connect()
            if db is None:
                return False
            try:
                row = db.execute("SELECT 1 FROM layers WHERE diff_id=? AND plan=?", (diff_id, plan)).fetchone()
            except sqlite3.Error as e:
                self._give_up("cannot read", e)
                return False
        return row is not None

    def put(self, diff_id: str, plan: str, layer: ParsedLayer, tar_bytes: int, gzip_estimate: int | None) -> None:
        payload = encode_or_none(diff_id, layer, tar_bytes, gzip_estimate)
        if payload is not None:
            self.put_payload(diff_id, plan, payload)

    def put_payload(self, diff_id: str, plan: str, payload: bytes) -> None:
        """Store an entry in its stored form (one another process made: a fleet scan's workers)."""
        checksum = hashlib.sha256(payload).hexdigest()
        with self._tx("cannot write") as db:
            if db is not None:
                db.execute(
                    "INSERT OR REPLACE INTO layers VALUES (?,?,?,?,?,?)",
                    (diff_id, plan, payload, checksum, len(payload), time.time()),
                )
                self._evict(db)

    # -- documents (configs, manifests) by digest, verified when read

    def get_doc(self, digest: str) -> bytes | None:
        alg, _, want = digest.partition(":")
        if alg != "sha256":
            return None
        with self._lock:
            db = self._connect()
            if db is None:
                return None
            try:
                row = db.execute("SELECT body FROM docs WHERE digest=?", (digest,)).fetchone()
            except sqlite3.Error as e:
                self._give_up("cannot read", e)
                return None
        if row is None:
            return None
        body = bytes(row[0])
        if hashlib.sha256(body).hexdigest() != want:
            log.warning("cached document %s is damaged; fetching it again", digest)
            with self._tx("cannot drop a damaged entry") as tx:
                if tx is not None:
                    tx.execute("DELETE FROM docs WHERE digest=?", (digest,))
            return None
        with self._tx("cannot update") as tx:
            if tx is not None:
                tx.execute("UPDATE docs SET used=? WHERE digest=?", (time.time(), digest))
        return body

    def put_doc(self, digest: str, body: bytes) -> None:
        if digest != "sha256:" + hashlib.sha256(body).hexdigest():
            return  # only what hashes to its name is stored
        with self._tx("cannot write") as db:
            if db is not None:
                db.execute("INSERT OR REPLACE INTO docs VALUES (?,?,?,?)", (digest, body, len(body), time.time()))

    # -- size

    def _evict(self, db: sqlite3.Connection) -> None:
        if _total(db) > self.max_bytes:
            _evict_to(db, self.max_bytes * 9 // 10)

    def info(self) -> CacheInfo:
        self.settle()
        with self._lock:
            db = self._connect()
            if db is None:
                return CacheInfo(self.path, 0, 0, 0, self.max_bytes)
            layers, lbytes = db.execute("SELECT count(*), coalesce(sum(bytes),0) FROM layers").fetchone()
            docs, dbytes = db.execute("SELECT count(*), coalesce(sum(bytes),0) FROM docs").fetchone()
        return CacheInfo(self.path, int(layers), int(docs), int(lbytes + dbytes), self.max_bytes)

    def prune(self, keep_bytes: int = 0) -> tuple[int, int]:
        """Evict least recently used entries until at most ``keep_bytes`` remain (0: everything).
        Returns (entries removed, bytes freed)."""
        before = self.info()
        with self._tx("cannot prune") as db:
            if db is not None:
                if keep_bytes <= 0:
                    db.execute("DELETE FROM layers")
                    db.execute("DELETE FROM docs")
                else:
                    _evict_to(db, keep_bytes)
        if self._db is not None and keep_bytes <= 0:
            with self._lock:
                self._db.execute("VACUUM")
        after = self.info()
        return (before.layers + before.documents - after.layers - after.documents, before.bytes - after.bytes)


class LayerIndex(Protocol):
    """What a read asks of a layer cache (:class:`LayerCache` on disk, :class:`LayerOverlay` in memory)."""

    def get(self, diff_id: str, plan: str) -> CachedLayer | None: ...
    def get_payload(self, diff_id: str, plan: str) -> bytes | None: ...
    def put_payload(self, diff_id: str, plan: str, payload: bytes) -> None: ...
    def has(self, diff_id: str, plan: str) -> bool: ...
    def put(self, diff_id: str, plan: str, layer: ParsedLayer, tar_bytes: int, gzip_estimate: int | None) -> None: ...
    def when_done(self, digest: Future[str], store: Callable[[str | None], None]) -> None: ...
    def get_doc(self, digest: str) -> bytes | None: ...
    def put_doc(self, digest: str, body: bytes) -> None: ...


STAND_IN = CachedLayer(ParsedLayer((), 0, 0), 0, 0)  # an empty index: a layer a read must not touch


class LayerOverlay:
    """Layer indexes in memory, over a backing cache (or none): what a fleet scan's work items
    hand each other. Entries are kept in their stored form (:func:`encode_layer`), so they travel
    between processes as they are and go into any :class:`LayerCache` unchanged.

    ``only``: the layers a read may take from here, the backing cache or the source; every other
    layer is answered with an empty stand-in and never read. ``frozenset()`` makes a read of the
    manifest and config alone (an image's digest and diff_ids); ``{diff_id}`` reads one layer of
    an image. Documents are the backing cache's."""

    def __init__(
        self,
        backing: LayerIndex | None = None,
        entries: dict[tuple[str, str], bytes] | None = None,
        only: frozenset[str] | None = None,
    ) -> None:
        self.backing = backing
        self.entries = dict(entries or {})
        self.only = only

    def get_payload(self, diff_id: str, plan: str) -> bytes | None:
        if self.only is not None and diff_id not in self.only:
            return None
        payload = self.entries.get((diff_id, plan))
        if payload is None and self.backing is not None:
            payload = self.backing.get_payload(diff_id, plan)
            if payload is not None:
                self.entries[(diff_id, plan)] = payload
        return payload

    def get(self, diff_id: str, plan: str) -> CachedLayer | None:
        if self.only is not None and diff_id not in self.only:
            return STAND_IN
        settle()  # this process's writes behind hashes first
        payload = self.get_payload(diff_id, plan)
        if payload is None:
            return None
        try:
            return decode_layer(payload)
        except CacheCorrupt as e:
            log.warning("layer index of %s handed over is damaged (%s); reading the layer again", diff_id, e)
            self.entries.pop((diff_id, plan), None)
            return None

    def has(self, diff_id: str, plan: str) -> bool:
        if self.only is not None and diff_id not in self.only:
            return True
        settle()
        return (diff_id, plan) in self.entries or (self.backing is not None and self.backing.has(diff_id, plan))

    def put(self, diff_id: str, plan: str, layer: ParsedLayer, tar_bytes: int, gzip_estimate: int | None) -> None:
        payload = encode_or_none(diff_id, layer, tar_bytes, gzip_estimate)
        if payload is not None:
            self.put_payload(diff_id, plan, payload)

    def put_payload(self, diff_id: str, plan: str, payload: bytes) -> None:
        self.entries[(diff_id, plan)] = payload
        if self.backing is not None:
            self.backing.put_payload(diff_id, plan, payload)

    def when_done(self, digest: Future[str], store: Callable[[str | None], None]) -> None:
        when_done(digest, store)

    def get_doc(self, digest: str) -> bytes | None:
        return self.backing.get_doc(digest) if self.backing is not None else None

    def put_doc(self, digest: str, body: bytes) -> None:
        if self.backing is not None:
            self.backing.put_doc(digest, body)


def _total(db: sqlite3.Connection) -> int:
    layers = db.execute("SELECT coalesce(sum(bytes),0) FROM layers").fetchone()[0]
    return int(layers + db.execute("SELECT coalesce(sum(bytes),0) FROM docs").fetchone()[0])


def _evict_to(db: sqlite3.Connection, goal: int) -> None:
    """Delete least recently used entries (layers and documents alike) until ``goal`` bytes remain."""
    total = _total(db)
    order = db.execute(
        "SELECT kind, id, bytes FROM (SELECT 'layers' AS kind, rowid AS id, bytes, used FROM layers "
        "UNION ALL SELECT 'docs', rowid, bytes, used FROM docs) ORDER BY used"
    ).fetchall()
    for kind, rowid, nbytes in order:
        if total <= goal:
            break
        db.execute(f"DELETE FROM {'layers' if kind == 'layers' else 'docs'} WHERE rowid=?", (rowid,))
        total -= nbytes


def _is_corrupt_db(e: sqlite3.DatabaseError) -> bool:
    text = str(e).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text


__all__ = [
    "DEFAULT_MAX_BYTES",
    "CacheInfo",
    "CachedLayer",
    "LayerCache",
    "decode_layer",
    "default_cache_dir",
    "encode_layer",
    "plan_key",
    "settle",
]
