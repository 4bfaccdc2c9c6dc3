"""The immutable image model every source produces and every analysis reads.

Names follow go-containerregistry: ``digest`` is the digest of a layer blob as stored (maybe
compressed), ``diff_id`` the digest of the uncompressed tar; ``size`` is uncompressed, and
``compressed_size`` the stored blob's size when the blob is compressed (``None`` when unknown).
Paths are relative and normalised (``usr/bin/env``), never with a leading slash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# Entry kinds. Whiteouts and opaque markers are kept as entries of their own so that every
# analysis sees exactly what the layer tar said; ``path`` is the path they delete (whiteout)
# or the directory they make opaque (opaque).
FILE = "file"
DIR = "dir"
SYMLINK = "symlink"
HARDLINK = "hardlink"
OTHER = "other"  # char/block devices, fifos
WHITEOUT = "whiteout"
OPAQUE = "opaque"

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


class FileEntry(NamedTuple):
    """One entry of a layer tar (a NamedTuple: immutable, and cheap for images with 100k+ files)."""

    path: str
    kind: str
    size: int = 0
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    linkname: str | None = None
    digest: str | None = None  # sha256 of the content, only when hashing was asked for

    @property
    def raw_name(self) -> str:
        """The name as it appeared in the tar (whiteout markers restored)."""
        if self.kind == WHITEOUT:
            head, _, tail = self.path.rpartition("/")
            return f"{head}/{WHITEOUT_PREFIX}{tail}" if head else WHITEOUT_PREFIX + tail
        if self.kind == OPAQUE:
            return f"{self.path}/{OPAQUE_MARKER}" if self.path else OPAQUE_MARKER
        return self.path


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One entry of the config's history, in order (oldest first)."""

    created_by: str = ""
    created: str | None = None
    comment: str | None = None
    empty_layer: bool = False


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The runtime part of the image config."""

    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    user: str = ""
    env: tuple[str, ...] = ()
    workdir: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    exposed_ports: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Layer:
    """One filesystem layer, oldest first."""

    index: int
    diff_id: str | None
    digest: str | None
    media_type: str
    size: int  # bytes of regular-file content in the layer (tar header sizes)
    tar_size: int  # bytes of the uncompressed tar stream
    compressed_size: int | None
    entries: tuple[FileEntry, ...]
    history: HistoryEntry | None = None
    # what a read's content plan asked for (sources.core.ContentPlan): whole contents of kept files
    # and the facts probes read from file bytes (probe name -> path -> fact)
    contents: Mapping[str, bytes] = field(default_factory=dict, compare=False, hash=False)
    facts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False, hash=False)

    @property
    def created_by(self) -> str:
        return self.history.created_by if self.history is not None else ""


@dataclass(frozen=True, slots=True)
class Image:
    """A loaded image: what was read, from where, and its layers."""

    ref: str
    source: str  # "docker-archive", "oci", "oci-archive", "docker-daemon"
    id: str | None  # config digest
    os: str
    architecture: str
    variant: str | None
    created: str | None
    repo_tags: tuple[str, ...]
    config: ImageConfig
    history: tuple[HistoryEntry, ...]
    layers: tuple[Layer, ...]
    manifest_digest: str | None = None
    hashed: bool = False  # whether FileEntry.digest was filled

    @property
    def platform(self) -> str:
        p = f"{self.os}/{self.architecture}"
        return f"{p}/{self.variant}" if self.variant else p

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers)

    @property
    def compressed_size(self) -> int | None:
        sizes = [layer.compressed_size for layer in self.layers]
        if any(s is None for s in sizes):
            return None
        return sum(s for s in sizes if s is not None)


__all__ = [
    "FILE",
    "DIR",
    "SYMLINK",
    "HARDLINK",
    "OTHER",
    "WHITEOUT",
    "OPAQUE",
    "FileEntry",
    "HistoryEntry",
    "ImageConfig",
    "Layer",
    "Image",
]
