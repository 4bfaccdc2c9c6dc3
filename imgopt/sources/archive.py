"""The one archive parser: docker-archive (legacy and Docker >= 25 OCI-style), OCI archives and
OCI layout directories all end here.

A tar archive is read in a single pass (it may be a pipe from the Docker API): every member that
sniffs as a layer (tar, gzip, zstd — bytes decide, never names) is parsed as it streams by, small
JSON documents are kept, and once the stream ends :func:`assemble` resolves ``manifest.json`` or
``index.json`` into the image model. An OCI layout directory feeds the same :func:`assemble` from
files, reading only the blobs the chosen manifest names.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, BinaryIO

from ..errors import (
    CorruptArchive,
    ImageNotFound,
    MissingBlob,
    PlatformNotFound,
    UnsupportedMediaType,
    UsageError,
)
from ..model import HistoryEntry, Image, ImageConfig, Layer
from ..platforms import host_platform
from .cache import LayerCache, LayerIndex, default_cache_dir, plan_key
from .core import Blob, BlobInfo, BlobStore, Read, ReadOptions
from .streams import ZSTD_MAGIC, FileSource, GzipCounter, GzipSource, HashingSource, Source, decoded, sniff
from .tar import TarReader, normalize, parse_layer

log = logging.getLogger(__name__)

MAX_JSON = 64 << 20
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
LAYER_TYPES = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
}
DOCKER_ARCHIVE_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


@dataclass
class StreamedStore(BlobStore):
    """What one pass over a tar archive collected."""

    docs: dict[str, bytes] = field(default_factory=dict)
    layers_read: dict[str, Blob] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)

    def _resolve(self, name: str) -> str:
        seen = 0
        while name in self.links and seen < 40:
            name = self.links[name]
            seen += 1
        return name

    def json(self, name: str) -> bytes | None:
        return self.docs.get(self._resolve(name))

    def layer(self, name: str, diff_id: str | None) -> Blob | None:
        return self.layers_read.get(self._resolve(name))


class FileBlobStore(BlobStore):
    """A store whose layer blobs lie in files (an OCI layout's blobs, members of a seekable
    archive). With the cache on, uncompressed blobs are hashed (their diff_id) by threads that
    read the file themselves, all layers at once, while the parser goes from layer to layer
    seeking over file contents: verification costs wall time only where hashing outlasts parsing."""

    _options: ReadOptions

    def _region(self, name: str) -> FileRegion | None:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self, name: str) -> BlobInfo | None:
        region = self._region(name)
        if region is None or region.kind not in ("tar", "gzip", "zstd"):
            return None
        return BlobInfo(region.size, _compression(region.kind))

    def layer(self, name: str, diff_id: str | None) -> Blob | None:
        return self.layers([(name, diff_id)])[0]

    def layers(self, wanted: Sequence[tuple[str, str | None]]) -> list[Blob | None]:
        regions = [self._region(name) for name, _ in wanted]
        hashing = bool(self._options.cache) and not self._options.estimate_compressed
        jobs = [r for r in regions if r is not None and r.kind == "tar"] if hashing else []
        digests = {id(r): _hashers().submit(_hash_region, r, os.open(r.path, os.O_RDONLY)) for r in jobs}
        out: list[Blob | None] = []
        for (name, _), region in zip(wanted, regions, strict=True):
            if region is None:
                out.append(None)
                continue
            with open(region.path, "rb", buffering=1 << 16) as f:
                f.seek(region.offset)
                src = FileSource(f, region.size, self._options.progress)
                out.append(parse_blob(src, region.size, name, self._options, digests.get(id(region))))
        return out


class DirectoryStore(FileBlobStore):
    """An OCI image layout directory; layers are parsed on demand."""

    def __init__(self, root: str, options: ReadOptions) -> None:
        self.root = root
        self._options = options

    def _path(self, name: str) -> str:
        clean = normalize(name, self.root)
        return os.path.join(self.root, *clean.split("/"))

    def json(self, name: str) -> bytes | None:
        path = self._path(name)
        try:
            with open(path, "rb") as f:
                return f.read(MAX_JSON)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise CorruptArchive(f"cannot read {path}: {e.strerror}") from e

    def _region(self, name: str) -> FileRegion | None:
        path = self._path(name)
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                return FileRegion(path, 0, size, sniff(f.read(512)))
        except FileNotFoundError:
            return None
        except OSError as e:
            raise CorruptArchive(f"cannot read {path}: {e.strerror}") from e


def _compression(kind: str) -> str:
    return "none" if kind == "tar" else kind


def parse_blob(
    src: Source, stored_size: int, name: str, options: ReadOptions, digest: Future[str] | None = None
) -> Blob:
    """Parse one layer blob (tar, gzip or zstd, as its bytes say). With the cache on, the
    uncompressed stream is hashed to the end (``Blob.diff_id``): only a layer that proves its
    ``diff_id`` is cached; for an uncompressed blob in a file ``digest`` is that hash, computed
    aside. An uncompressed blob's gzip -6 size is measured when asked."""
    counter = GzipCounter(src) if options.estimate_compressed else None
    raw: Source = counter if counter is not None else src
    kind, stream, head = decoded(raw.read(512), raw, name)
    if kind not in ("tar", "gzip", "zstd"):
        raise UnsupportedMediaType(f"layer blob {name} is neither a tar nor a gzip/zstd stream")
    if kind == "tar" and digest is not None and counter is None:
        layer = parse_layer(stream, name, content=options.content, head=head)
        if options.on_layer is not None:
            options.on_layer(name, False)
        return Blob(layer, stored_size, "none", None, None, stored_size, digest)
    return _parse_decoded(kind, stream, head, name, options, stored_size, counter)


@dataclass(frozen=True, slots=True)
class FileRegion:
    """Where a blob lies in a file, and what its first bytes say it is."""

    path: str
    offset: int
    size: int
    kind: str  # sniff(): tar, gzip, zstd, json, unknown


_HASHERS: ThreadPoolExecutor | None = None


def _hashers() -> ThreadPoolExecutor:
    """Threads that hash uncompressed blobs while the caller parses and analyses; the process
    waits for them at exit (concurrent.futures joins its workers), so a CLI run leaves its cache
    entries written."""
    global _HASHERS
    if _HASHERS is None:
        _HASHERS = ThreadPoolExecutor(os.cpu_count() or 1, "imgopt-hash")
    return _HASHERS


def _hash_region(region: FileRegion, fd: int) -> str:
    """sha256 of the region, read from ``fd`` (opened when the job was queued, so the file may be
    gone by the time a thread gets to it); closes ``fd``."""
    h = hashlib.sha256()
    try:
        pos, end = region.offset, region.offset + region.size
        while pos < end:
            chunk = os.pread(fd, min(4 << 20, end - pos), pos)  # pread and sha256 release the GIL
            if not chunk:
                raise CorruptArchive(f"{region.path} ended inside a layer blob at byte {pos}")
            h.update(chunk)
            pos += len(chunk)
    finally:
        os.close(fd)
    return "sha256:" + h.hexdigest()


def _parse_decoded(
    kind: str, stream: Source, head: bytes, name: str, options: ReadOptions, stored: int, counter: GzipCounter | None
) -> Blob:
    hasher = HashingSource(stream, head) if options.cache else None
    try:
        layer = parse_layer(hasher if hasher is not None else stream, name, content=options.content, head=head)
        diff_id = hasher.finish() if hasher is not None else None
    except BaseException:
        if hasher is not None:
            hasher.abandon()  # its thread ends with the read
        raise
    estimate = counter.finish() if counter is not None and kind == "tar" else None
    length = hasher.length if hasher is not None else None
    if options.on_layer is not None:
        options.on_layer(name, False)
    return Blob(layer, stored, _compression(kind), estimate, diff_id, length)


def _is_doc_name(name: str) -> bool:
    return name.endswith(".json") or name in ("oci-layout", "repositories")


def read_tar_archive(src: Source, opts: Read) -> Image:
    """Read a docker-archive or oci-archive tar stream in one pass and assemble the image."""
    store = StreamedStore()
    for name, size, _, data in _blob_members(TarReader(src, opts.label), store, opts.label):
        counter = GzipCounter(data) if opts.options.estimate_compressed else None
        if counter is not None:
            data = counter
        first = data.read(512)
        kind, stream, head = decoded(first, data, name)
        if kind in ("tar", "gzip", "zstd"):
            # whatever follows the tar end marker inside the blob is skipped by the next member
            store.layers_read[name] = _parse_decoded(kind, stream, head, name, opts.options, size, counter)
        elif kind == "json" and name.startswith("blobs/") and size <= MAX_JSON:
            store.docs[name] = first + data.read(size - len(first))
    return assemble(store, opts)


def _blob_members(outer: TarReader, store: StreamedStore, label: str) -> Iterator[tuple[str, int, int, Source]]:
    """The one walk over an image archive's members: symlinks and JSON documents go into
    ``store``; every other non-empty file is yielded as (name, size, offset of its data, data)."""
    while (h := outer.next()) is not None:
        name = normalize(h.name, label)
        if h.typeflag == b"2":
            store.links[name] = _link_target(name, h.linkname, label)
            continue
        if h.kind != "file" or h.size == 0:
            continue
        offset = outer.offset
        data = outer.data()
        if _is_doc_name(name):
            store.docs[name] = _read_doc(data, name, h.size)
            continue
        yield name, h.size, offset, data


def _link_target(name: str, linkname: str, label: str) -> str:
    return normalize(posixpath.normpath(posixpath.join(posixpath.dirname(name), linkname)), label)


def _read_doc(data: Source, name: str, size: int) -> bytes:
    if size > MAX_JSON:
        raise CorruptArchive(f"{name} is implausibly large ({size} bytes)")
    return data.read(size)


class IndexedTarStore(StreamedStore, FileBlobStore):
    """A seekable archive file: one pass over the outer tar's headers (seeking over blobs) keeps
    the documents and where each blob lies; layers are parsed only when asked for, so layers the
    cache holds are never read, and each layer can be read on its own."""

    def __init__(self, path: str, f: BinaryIO, opts: Read) -> None:
        super().__init__()
        self.path = path
        self._options = opts.options
        self._where: dict[str, FileRegion] = {}
        for name, size, offset, data in _blob_members(TarReader(FileSource(f), opts.label), self, opts.label):
            first = data.read(512)
            kind = sniff(first)
            if kind == "json" and name.startswith("blobs/") and size <= MAX_JSON:
                self.docs[name] = first + data.read(size - len(first))
            else:
                self._where[name] = FileRegion(path, offset, size, kind)

    def _region(self, name: str) -> FileRegion | None:
        return self._where.get(self._resolve(name))

    layer = FileBlobStore.layer


def read_tar_file(path: str, opts: Read) -> Image:
    try:
        f: BinaryIO = open(path, "rb", buffering=1 << 16)
    except FileNotFoundError as e:
        raise ImageNotFound(f"no such archive: {path}") from e
    except IsADirectoryError as e:
        raise ImageNotFound(f"{path} is a directory, not an archive (for an OCI layout use oci:{path})") from e
    except OSError as e:
        raise ImageNotFound(f"cannot open {path}: {e.strerror}") from e
    with f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(512)
        kind = sniff(head)
        if kind == "gzip":  # docker save | gzip: read through the decompressor, in one pass
            f.seek(0)
            return read_tar_archive(GzipSource(FileSource(f, size, opts.options.progress), path), opts)
        if kind != "tar":
            raise CorruptArchive(f"{path} is not an image archive: {_what_it_is(head)}, not a tar file")
        f.seek(0)
        if not _seekable(f):
            return read_tar_archive(FileSource(f, size, opts.options.progress), opts)
        store = IndexedTarStore(path, f, opts)
    return assemble(store, opts)


def _what_it_is(head: bytes) -> str:
    """A file's first bytes in words (never the bytes themselves)."""
    if not head:
        return "it is empty"
    if head.startswith(ZSTD_MAGIC):
        return "it is zstd-compressed (decompress it first: zstd -d)"
    if head.startswith((b"PK\x03\x04", b"BZh", b"\xfd7zXZ")):
        return "it is a zip, bzip2 or xz file (decompress it to the tar inside first)"
    if head.lstrip()[:1] in (b"{", b"["):
        return "it is JSON"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "it holds unrecognised binary data"
    return (
        "it is a text file"
        if text.isprintable() or all(c.isprintable() or c.isspace() for c in text)
        else ("it holds unrecognised binary data")
    )


def _seekable(f: BinaryIO) -> bool:
    try:
        return f.seekable() and os.path.isfile(f.name if isinstance(f.name, str) else "")
    except (OSError, ValueError):
        return False


def read_oci_dir(path: str, opts: Read) -> Image:
    if not os.path.isdir(path):
        raise ImageNotFound(f"no such OCI layout directory: {path}")
    store = DirectoryStore(path, opts.options)
    if not store.has("index.json"):
        raise CorruptArchive(f"{path} is not an OCI image layout (no index.json)")
    return assemble(store, opts)


class CachedStore(BlobStore):
    """Any store, with layers answered from the layer cache where it holds them; layers read
    from the store go into the cache when their bytes proved their ``diff_id``."""

    def __init__(self, inner: BlobStore, cache: LayerIndex, options: ReadOptions) -> None:
        self.inner = inner
        self.cache = cache
        self.plan = plan_key(options.content)
        self.estimate = options.estimate_compressed
        self.on_layer = options.on_layer

    def json(self, name: str) -> bytes | None:
        return self.inner.json(name)

    def describe(self, name: str) -> BlobInfo | None:
        return self.inner.describe(name)

    def layer(self, name: str, diff_id: str | None) -> Blob | None:
        return self.layers([(name, diff_id)])[0]

    def cached(self, name: str, diff_id: str | None) -> Blob | None:
        info = self.inner.describe(name) if diff_id else None
        if info is None or diff_id is None:
            return None
        entry = self.cache.get(diff_id, self.plan)
        if entry is None:
            return None
        uncompressed = info.compression == "none"
        if self.estimate and uncompressed and entry.gzip_estimate is None:
            return None  # stored without the estimate this read wants
        stored = info.stored_size if info.stored_size is not None else entry.tar_bytes
        estimate = entry.gzip_estimate if self.estimate and uncompressed else None
        if self.on_layer is not None:
            self.on_layer(name, True)
        return Blob(entry.layer, stored, info.compression, estimate, diff_id, entry.tar_bytes)

    def layers(self, wanted: Sequence[tuple[str, str | None]]) -> list[Blob | None]:
        """Cached layers from the cache; the others read once per process: a layer another
        thread is reading right now (a fleet scan of images sharing a base) is waited for and
        then taken from the cache."""
        out = [self.cached(name, diff_id) for name, diff_id in wanted]
        mine: list[int] = []
        waits: list[tuple[int, threading.Event]] = []
        with _INFLIGHT_LOCK:
            for i, blob in enumerate(out):
                if blob is not None:
                    continue
                key = (wanted[i][1] or "", self.plan)
                event = _INFLIGHT.get(key) if wanted[i][1] else None
                if event is not None:
                    waits.append((i, event))
                else:
                    if wanted[i][1]:
                        _INFLIGHT[key] = threading.Event()
                    mine.append(i)
        # another reader may have finished between the first look and taking the layer on: look again
        for i in list(mine):
            again = self.cached(*wanted[i]) if wanted[i][1] else None
            if again is not None:
                out[i] = again
                mine.remove(i)
                _release(wanted[i][1], self.plan)
        try:
            got = self.inner.layers([wanted[i] for i in mine])
        except BaseException:
            for i in mine:
                _release(wanted[i][1], self.plan)
            raise
        for i, blob in zip(mine, got, strict=True):
            out[i] = blob
            name, diff_id = wanted[i]
            if blob is None or diff_id is None or blob.tar_bytes is None:
                _release(diff_id, self.plan)
            elif blob.pending_diff_id is not None:  # hashed aside: stored once the hash proves it
                self.cache.when_done(blob.pending_diff_id, partial(self._store, name, diff_id, blob))
            else:
                self._store(name, diff_id, blob, blob.diff_id or "")
        for i, event in waits:
            event.wait(WAIT_FOR_READER)  # then from the cache, or (not stored, too slow) read here
            out[i] = self.cached(*wanted[i]) or self.inner.layers([wanted[i]])[0]  # not stored: read it here
        return out

    def _store(self, name: str, diff_id: str, blob: Blob, actual: str | None) -> None:
        """Store a layer whose bytes hashed to ``actual`` (None: the hash failed) and let readers
        waiting for it go on."""
        try:
            if actual is None:
                return
            if actual != diff_id:
                log.warning("layer %s hashes to %s, not to the diff_id %s its config names", name, actual, diff_id)
                return
            assert blob.tar_bytes is not None
            estimate = blob.gzip_estimate if blob.compression == "none" else None
            self.cache.put(diff_id, self.plan, blob.layer, blob.tar_bytes, estimate)
        finally:
            _release(diff_id, self.plan)


WAIT_FOR_READER = 600.0  # seconds a reader waits for another thread reading the same layer
_INFLIGHT: dict[tuple[str, str], threading.Event] = {}  # (diff_id, plan) -> set when its reader is done
_INFLIGHT_LOCK = threading.Lock()


def _release(diff_id: str | None, plan: str) -> None:
    if not diff_id:
        return
    with _INFLIGHT_LOCK:
        event = _INFLIGHT.pop((diff_id, plan), None)
    if event is not None:
        event.set()


_CACHES: dict[str, LayerCache] = {}


def open_cache(setting: bool | str | LayerIndex | None) -> LayerIndex | None:
    """The layer cache a read uses (one per directory and process, or the cache object the
    setting is), or None when it is off."""
    if not setting:
        return None
    if not isinstance(setting, (bool, str)):
        return setting
    directory = default_cache_dir() if setting is True else setting
    cache = _CACHES.get(directory)
    if cache is None:
        cache = _CACHES[directory] = LayerCache(directory)
    return cache


# --------------------------------------------------------------------------------------------
# assembly: manifest.json / index.json -> Image


def _load(store: BlobStore, name: str, what: str) -> Any:
    raw = store.json(name)
    if raw is None:
        raise MissingBlob(f"{what} {name} is missing from the archive")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptArchive(f"{what} {name} is not valid JSON ({e})") from e


def _blob_name(digest: str) -> str:
    alg, sep, hexpart = digest.partition(":")
    if not sep or not alg or not hexpart or "/" in hexpart or "/" in alg:
        raise CorruptArchive(f"bad digest {digest!r}")
    return f"blobs/{alg}/{hexpart}"


def _platform_str(p: dict[str, Any]) -> str:
    s = f"{p.get('os', '?')}/{p.get('architecture', '?')}"
    return f"{s}/{p['variant']}" if p.get("variant") else s


def _platform_matches(have: str, want: str) -> bool:
    h, w = have.split("/"), want.split("/")
    if len(w) == 2:
        return h[:2] == w  # no variant asked: any variant matches
    return h == w or (w[1] == "arm64" and w[2] == "v8" and h == w[:2])


def _select_from_index(
    store: BlobStore, index: dict[str, Any], opts: Read, depth: int = 0
) -> tuple[dict[str, Any], str | None]:
    """Pick one image manifest out of an index (recursing into nested indexes)."""
    if depth > 4:
        raise CorruptArchive("image indexes nest too deeply")
    descs = [d for d in index.get("manifests") or [] if isinstance(d, dict)]
    if not descs:
        raise CorruptArchive("image index lists no manifests")
    if opts.tag is not None and depth == 0:
        tagged = [d for d in descs if _tag_matches(d.get("annotations") or {}, opts.tag)]
        if not tagged:
            tags = sorted({t for d in descs for t in _tags_of(d.get("annotations") or {})})
            raise ImageNotFound(
                f"no image tagged {opts.tag!r} in {opts.label} (tags present: {', '.join(tags) or 'none'})"
            )
        descs = tagged
    # attestation manifests (BuildKit provenance) are not images
    descs = [
        d for d in descs if (d.get("annotations") or {}).get("vnd.docker.reference.type") != "attestation-manifest"
    ]
    with_platform = [d for d in descs if isinstance(d.get("platform"), dict)]
    if len(descs) > 1 or (opts.platform and with_platform):
        want = opts.platform or host_platform()
        matching = [d for d in with_platform if _platform_matches(_platform_str(d["platform"]), want)]
        if not matching:
            if len(descs) == 1 and not with_platform:
                matching = descs
            else:
                raise PlatformNotFound(want, sorted({_platform_str(d["platform"]) for d in with_platform}))
        descs = matching
    desc = descs[0]
    media = desc.get("mediaType", "")
    digest = desc.get("digest")
    if not isinstance(digest, str):
        raise CorruptArchive("an index entry has no digest")
    doc = _load(store, _blob_name(digest), "manifest")
    media = doc.get("mediaType", media) if isinstance(doc, dict) else media
    if media in INDEX_TYPES or (isinstance(doc, dict) and "manifests" in doc and "layers" not in doc):
        return _select_from_index(store, doc, opts, depth + 1)
    if media and media not in MANIFEST_TYPES:
        raise UnsupportedMediaType(f"unsupported manifest media type {media}")
    return doc, digest


def _tags_of(annotations: dict[str, str]) -> list[str]:
    out = []
    if REF_NAME in annotations:
        out.append(annotations[REF_NAME])
    if CONTAINERD_NAME in annotations:
        out.append(annotations[CONTAINERD_NAME])
    return out


def _tag_matches(annotations: dict[str, str], tag: str) -> bool:
    for t in _tags_of(annotations):
        if t == tag or t.endswith(":" + tag) or t.rsplit("/", 1)[-1] == tag:
            return True
    return False


def assemble(store: BlobStore, opts: Read) -> Image:
    cache = open_cache(opts.options.cache)
    if cache is not None and not isinstance(store, CachedStore):
        store = CachedStore(store, cache, opts.options)
    if store.has("manifest.json"):
        return _assemble_docker(store, opts)
    if store.has("index.json"):
        return _assemble_oci(store, opts)
    raise CorruptArchive(f"{opts.label} is not an image archive (neither manifest.json nor index.json found)")


def _assemble_docker(store: BlobStore, opts: Read) -> Image:
    manifest = _load(store, "manifest.json", "manifest")
    if not isinstance(manifest, list) or not manifest:
        raise CorruptArchive("manifest.json lists no images")
    entries = [m for m in manifest if isinstance(m, dict)]
    if opts.tag is not None:
        chosen = [
            m
            for m in entries
            if any(
                t == opts.tag or t.endswith(":" + opts.tag) or t.split(":")[0] == opts.tag
                for t in m.get("RepoTags") or []
            )
        ]
        if not chosen:
            tags = sorted(t for m in entries for t in m.get("RepoTags") or [])
            raise ImageNotFound(
                f"no image tagged {opts.tag!r} in {opts.label} (tags present: {', '.join(tags) or 'none'})"
            )
        entry = chosen[0]
    else:
        if len(entries) > 1:
            tags = sorted(t for m in entries for t in m.get("RepoTags") or [])
            raise UsageError(f"{opts.label} holds {len(entries)} images; name one with :TAG ({', '.join(tags)})")
        entry = entries[0]
    config_name = entry.get("Config")
    layer_names = entry.get("Layers")
    if not isinstance(config_name, str) or not isinstance(layer_names, list):
        raise CorruptArchive("manifest.json entry lacks Config or Layers")
    raw_config = store.json(config_name)
    if raw_config is None:
        raise MissingBlob(f"image config {config_name} is missing from the archive")
    # Docker >= 25 archives also carry an OCI index: take media types and digests from it
    descriptors: list[dict[str, Any]] = []
    manifest_digest = None
    if store.has("index.json"):
        try:
            doc, manifest_digest = _select_from_index(
                store, _load(store, "index.json", "index"), Read(replace(opts.ref, tag=None), opts.options)
            )
            descriptors = [d for d in doc.get("layers") or [] if isinstance(d, dict)]
        except (CorruptArchive, ImageNotFound, PlatformNotFound, UnsupportedMediaType) as e:
            log.debug("ignoring the OCI index of a docker archive: %s", e)
    if len(descriptors) != len(layer_names):
        descriptors = []
    layers = []
    for i, name in enumerate(layer_names):
        if not isinstance(name, str):
            raise CorruptArchive("manifest.json names a layer that is not a path")
        desc = descriptors[i] if descriptors else {}
        digest = desc.get("digest")
        if digest is None and name.startswith("blobs/"):
            digest = name[len("blobs/") :].replace("/", ":", 1)
        media = desc.get("mediaType", DOCKER_ARCHIVE_LAYER)
        layers.append(_LayerRef(name, media, digest, f"layer {name} named by manifest.json"))
    return _build_image(store, raw_config, layers, opts, tuple(entry.get("RepoTags") or ()), manifest_digest)


def _assemble_oci(store: BlobStore, opts: Read) -> Image:
    index = _load(store, "index.json", "index")
    if not isinstance(index, dict):
        raise CorruptArchive("index.json is not an object")
    manifest, manifest_digest = _select_from_index(store, index, opts)
    config_desc = manifest.get("config")
    if not isinstance(config_desc, dict) or not isinstance(config_desc.get("digest"), str):
        raise CorruptArchive("manifest has no config descriptor")
    raw_config = store.json(_blob_name(config_desc["digest"]))
    if raw_config is None:
        raise MissingBlob(f"image config {config_desc['digest']} is missing from the archive")
    layers = []
    for desc in manifest.get("layers") or []:
        if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
            raise CorruptArchive("manifest has a layer without a digest")
        media = str(desc.get("mediaType", ""))
        if media not in LAYER_TYPES:
            raise UnsupportedMediaType(f"layer {desc['digest']} has unsupported media type {media!r}")
        layers.append(
            _LayerRef(
                _blob_name(desc["digest"]), media, desc["digest"], f"layer blob {desc['digest']} named by the manifest"
            )
        )
    tags = tuple(t for t in _tags_of(index.get("annotations") or {}))
    return _build_image(store, raw_config, layers, opts, tags, manifest_digest)


def _strs(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return None


@dataclass(frozen=True, slots=True)
class _LayerRef:
    """A layer as a manifest names it: where the store finds it, its media type and digest."""

    name: str
    media_type: str
    digest: str | None
    what: str  # how the error names it when it is missing


def _build_image(
    store: BlobStore,
    raw_config: bytes,
    layers: list[_LayerRef],
    opts: Read,
    repo_tags: tuple[str, ...],
    manifest_digest: str | None,
) -> Image:
    try:
        cfg = json.loads(raw_config)
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptArchive(f"image config is not valid JSON ({e})") from e
    if not isinstance(cfg, dict):
        raise CorruptArchive("image config is not a JSON object")
    image_id = "sha256:" + hashlib.sha256(raw_config).hexdigest()
    os_, arch, variant = str(cfg.get("os", "")), str(cfg.get("architecture", "")), cfg.get("variant")
    if opts.platform is not None:
        have = f"{os_}/{arch}" + (f"/{variant}" if variant else "")
        if not _platform_matches(have, opts.platform):
            raise PlatformNotFound(opts.platform, [have])
    rc = cfg.get("config") or {}
    config = ImageConfig(
        entrypoint=_strs(rc.get("Entrypoint")),
        cmd=_strs(rc.get("Cmd")),
        user=str(rc.get("User") or ""),
        env=_strs(rc.get("Env")) or (),
        workdir=str(rc.get("WorkingDir") or ""),
        labels=tuple(sorted((str(k), str(v)) for k, v in (rc.get("Labels") or {}).items())),
        exposed_ports=tuple(sorted(rc.get("ExposedPorts") or {})),
    )
    history = tuple(
        HistoryEntry(
            created_by=str(h.get("created_by", "")),
            created=h.get("created"),
            comment=h.get("comment"),
            empty_layer=bool(h.get("empty_layer", False)),
        )
        for h in cfg.get("history") or []
        if isinstance(h, dict)
    )
    diff_ids = (cfg.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(layers):
        raise CorruptArchive(f"config lists {len(diff_ids)} diff_ids but the manifest {len(layers)} layers")
    # history entries with content map to layers in order (as docker history and dive do)
    layer_history = iter([h for h in history if not h.empty_layer])
    out = []
    # the config first, then the layers by the diff_ids it names: a cache keyed by diff_id can
    # answer here without the store reading the blob
    blobs = store.layers([(ref.name, str(diff_ids[i])) for i, ref in enumerate(layers)])
    if isinstance(store, CachedStore):
        store.cache.put_doc(image_id, raw_config)
    for i, ref in enumerate(layers):
        blob = blobs[i]
        if blob is None:
            raise MissingBlob(f"{ref.what} is missing from the archive")
        parsed = blob.layer
        out.append(
            Layer(
                index=i,
                diff_id=str(diff_ids[i]),
                digest=ref.digest,
                media_type=ref.media_type,
                size=parsed.size,
                tar_size=parsed.tar_size,
                compressed_size=blob.stored_size if blob.compression != "none" else blob.gzip_estimate,
                entries=parsed.entries,
                history=next(layer_history, None),
                contents=parsed.contents,
                facts=parsed.facts,
            )
        )
    return Image(
        ref=opts.label,
        source=opts.ref.transport,
        id=image_id,
        os=os_,
        architecture=arch,
        variant=variant if isinstance(variant, str) else None,
        created=cfg.get("created"),
        repo_tags=repo_tags,
        config=config,
        history=history,
        layers=tuple(out),
        manifest_digest=manifest_digest,
        hashed=opts.options.content.hash,
    )
