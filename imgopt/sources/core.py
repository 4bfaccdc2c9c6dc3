"""The small core every source implements, and what a read asks of file contents.

Following go-containerregistry's ``partial``: a source is a :class:`BlobStore` that hands out
documents (manifests, indexes, the config) by name and parsed layers by name; the shared code in
``archive.py`` resolves the manifest, reads the config *first* (its ``rootfs.diff_ids`` name every
layer by the digest of its uncompressed tar) and then asks for each layer with its ``diff_id``, so
a cache keyed by ``diff_id`` can wrap any store (as ``cache.Image`` wraps an image in ggcr).

:class:`ReadOptions` are how to read (platform, content plan, compressed-size estimate, progress),
kept apart from the reference (what to read, :class:`~imgopt.sources.ImageRef`).

:class:`ContentPlan` says what to read from file contents in the same single pass that reads the
headers: content digests (``hash``), whole small files by path (``keep``: package databases,
``/etc/passwd``), and probes (a function over a file's bytes, e.g. an ELF reader) for files they
select. Files nobody asked about are skipped with a seek, as always.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..model import FileEntry

if TYPE_CHECKING:
    from .cache import LayerIndex

MAX_KEPT = 64 << 20  # bytes: a single kept or probed file larger than this is skipped (and said so)


@dataclass(frozen=True)
class Probe:
    """A fact read from the bytes of selected files: ``select(path, size, mode)`` picks files,
    ``read(path, data)`` returns the fact (None: nothing to record)."""

    name: str
    select: Callable[[str, int, int], bool]
    read: Callable[[str, bytes], Any]
    max_size: int = MAX_KEPT


@dataclass(frozen=True)
class ContentPlan:
    """What one pass over a layer reads from file contents besides the headers."""

    hash: bool = False  # sha256 of every regular file (FileEntry.digest)
    keep: tuple[str, ...] = ()  # globs (fnmatch, relative paths): whole contents go to Layer.contents
    probes: tuple[Probe, ...] = ()
    keep_max: int = MAX_KEPT

    @property
    def reads_content(self) -> bool:
        return self.hash or bool(self.keep) or bool(self.probes)

    @cached_property
    def _keep_rx(self) -> re.Pattern[str] | None:
        if not self.keep:
            return None
        return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in self.keep))

    def keeps(self, path: str, size: int) -> bool:
        rx = self._keep_rx
        return rx is not None and size <= self.keep_max and rx.match(path) is not None

    def probes_for(self, path: str, size: int, mode: int) -> tuple[Probe, ...]:
        return tuple(p for p in self.probes if size <= p.max_size and p.select(path, size, mode))

    def selects(self, path: str, mode: int) -> bool:
        """Whether a regular file's bytes are wanted (kept or probed), whatever its size."""
        rx = self._keep_rx
        return (rx is not None and rx.match(path) is not None) or any(p.select(path, 0, mode) for p in self.probes)


NO_CONTENT = ContentPlan()


@dataclass(frozen=True, slots=True)
class ImageRef:
    """What to read: a transport (``docker-archive``, ``oci-archive``, ``oci``, ``docker-daemon``),
    a location (path or image name) and an optional tag inside it."""

    transport: str
    location: str  # path or image name
    tag: str | None = None

    def __str__(self) -> str:
        return f"{self.transport}:{self.location}" + (f":{self.tag}" if self.tag else "")


@dataclass(frozen=True)
class RegistryOptions:
    """How to reach registries (``docker://`` references), as skopeo's ``--creds``, ``--cert-dir``
    and ``--tls-verify=false`` say it. Credentials not given here come from
    ``$IMGOPT_REGISTRY_CREDS`` (``USER:PASSWORD``), then from the Docker client configuration."""

    creds: tuple[str, str] | None = field(default=None, repr=False)
    cert_dir: str | None = None  # *.crt: CA certificates; *.cert + *.key: a client certificate
    insecure: bool = False  # plain http and unverified TLS (loopback registries get http anyway)
    timeout: float = 60.0
    retries: int = 4  # attempts after the first for 429, 5xx and dropped connections
    parallel: int = 4  # layer blobs fetched at once


@dataclass(frozen=True)
class ReadOptions:
    """How to read an image (what to read is the reference)."""

    platform: str | None = None  # os/arch[/variant] to pick from a multi-platform index
    content: ContentPlan = NO_CONTENT
    estimate_compressed: bool = False  # uncompressed layers: compressed_size = gzip -6 of the layer tar
    progress: Callable[[int], None] | None = field(default=None, compare=False)
    on_layer: Callable[[str, bool], None] | None = field(default=None, compare=False)  # (layer, from the cache)
    registry: RegistryOptions | None = None  # None: the current SourceSettings'
    # the layer cache: True (default directory), a directory, False, a cache object; None: settings'
    cache: bool | str | LayerIndex | None = None


@dataclass(frozen=True)
class SourceSettings:
    """What every read in a context uses unless its ReadOptions say otherwise: how to reach
    registries and whether (and where) to cache layer indexes. The CLI sets them from its flags
    (``--creds``, ``--cert-dir``, ``--insecure``, ``--no-cache``); Python code uses
    :func:`imgopt.sources.source_settings`."""

    registry: RegistryOptions = field(default_factory=RegistryOptions)
    cache: bool | str | LayerIndex = True


class BlobStore:
    """A source's core: documents and parsed layers by name (an archive-relative path, or a digest
    for a registry). ``layer`` gets the ``diff_id`` the config names for it, so a cache can answer
    without the store reading anything."""

    def json(self, name: str) -> bytes | None:  # pragma: no cover - interface
        raise NotImplementedError

    def layer(self, name: str, diff_id: str | None) -> Blob | None:  # pragma: no cover - interface
        raise NotImplementedError

    def layers(self, wanted: Sequence[tuple[str, str | None]]) -> list[Blob | None]:
        """Several layers at once (a store may read them in parallel); ``layer`` one by one here."""
        return [self.layer(name, diff_id) for name, diff_id in wanted]

    def describe(self, name: str) -> BlobInfo | None:
        """How a layer blob is stored, without reading it (None: not known without reading)."""
        return None

    def has(self, name: str) -> bool:
        return self.json(name) is not None


@dataclass(frozen=True, slots=True)
class Read:
    """One read as the shared code sees it: the reference and the options."""

    ref: ImageRef
    options: ReadOptions

    @property
    def label(self) -> str:
        return str(self.ref)

    @property
    def tag(self) -> str | None:
        return self.ref.tag

    @property
    def platform(self) -> str | None:
        return self.options.platform


@dataclass(frozen=True, slots=True)
class ParsedLayer:
    entries: tuple[FileEntry, ...]
    size: int  # sum of entry sizes (file content)
    tar_size: int  # uncompressed tar stream bytes
    contents: dict[str, bytes] = field(default_factory=dict)  # ContentPlan.keep
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # probe name -> path -> fact
    skipped: tuple[str, ...] = ()  # files a plan wanted that were too large to read


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """A layer blob as stored: its size there (None: the uncompressed tar's own length) and its
    compression."""

    stored_size: int | None
    compression: str  # "none", "gzip", "zstd"


@dataclass(frozen=True, slots=True)
class Blob:
    """A parsed layer blob and what it looked like where it was stored."""

    layer: ParsedLayer
    stored_size: int
    compression: str  # "none", "gzip", "zstd"
    gzip_estimate: int | None = None  # gzip -6 size of an uncompressed blob (ReadOptions.estimate_compressed)
    diff_id: str | None = None  # sha256 of the uncompressed tar, when the read hashed it (for the cache)
    tar_bytes: int | None = None  # length of the uncompressed tar stream, when hashed
    pending_diff_id: Future[str] | None = None  # that sha256, still being computed aside


__all__ = [
    "MAX_KEPT",
    "NO_CONTENT",
    "Blob",
    "BlobInfo",
    "BlobStore",
    "ContentPlan",
    "ImageRef",
    "ParsedLayer",
    "Probe",
    "Read",
    "ReadOptions",
    "RegistryOptions",
    "SourceSettings",
]
