"""Image references and the sources that read them.

References use the containers/image transport syntax::

    docker-archive:PATH[:TAG]   docker save output (legacy or Docker >= 25 OCI-style)
    oci-archive:PATH[:TAG]      a tar of an OCI image layout
    oci:DIR[:TAG]               an OCI image layout directory
    docker-daemon:NAME[:TAG]    an image in the local Docker engine (never pulled)
    docker://HOST/REPO[:TAG|@DIGEST]
                                an image in a registry, read without a pull
    NAME[:TAG] or image ID      an existing path is read as an archive/layout, anything else
                                is asked of the Docker engine
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

from ..errors import ImageNotFound, ReferenceError_
from ..model import Image
from ..platforms import host_platform
from .archive import read_oci_dir, read_tar_file
from .cache import LayerIndex
from .core import ContentPlan, ImageRef, Probe, Read, ReadOptions, RegistryOptions, SourceSettings

_SETTINGS: ContextVar[SourceSettings] = ContextVar(
    "imgopt_source_settings",
    default=SourceSettings(),  # noqa: B039  # frozen: never mutated
)


def current_settings() -> SourceSettings:
    return _SETTINGS.get()


@contextmanager
def source_settings(**changes: Any) -> Iterator[SourceSettings]:
    """Reads inside the ``with`` block use these settings (``registry=RegistryOptions(...)``,
    ``cache=False`` or a cache directory)."""
    settings = replace(_SETTINGS.get(), **changes)
    token = _SETTINGS.set(settings)
    try:
        yield settings
    finally:
        _SETTINGS.reset(token)


def _cache_setting(asked: bool | str | LayerIndex | None) -> bool | str | LayerIndex:
    """What a read uses (None: the context's setting): a cache object as it is (one in memory is
    a fleet scan's own, even with the disk cache off); else ``$IMGOPT_NO_CACHE`` turns it off."""
    chosen = _SETTINGS.get().cache if asked is None else asked
    if not isinstance(chosen, (bool, str)):
        return chosen
    return False if os.environ.get("IMGOPT_NO_CACHE") else chosen


def current_cache() -> LayerIndex | None:
    """The layer cache reads in this context use (None: off)."""
    from .archive import open_cache

    return open_cache(_cache_setting(None))


TRANSPORTS = ("docker-archive", "oci-archive", "oci", "docker-daemon", "docker")


def _split_path(rest: str) -> tuple[str, str | None]:
    """``PATH[:REFERENCE]``: the reference may hold colons itself (``name:tag``), so the path is
    the shortest colon-delimited prefix that exists."""
    if os.path.exists(rest):
        return rest, None
    i = rest.find(":")
    while i > 0:
        if os.path.exists(rest[:i]):
            return rest[:i], rest[i + 1 :] or None
        i = rest.find(":", i + 1)
    return rest, None


def parse_ref(ref: str) -> ImageRef:
    """Parse a reference string; a bare name becomes a path (if it exists) or a daemon image."""
    if not ref or not ref.strip():
        raise ReferenceError_("empty image reference")
    transport, sep, rest = ref.partition(":")
    if sep and transport in TRANSPORTS:
        if not rest:
            raise ReferenceError_(f"{ref!r}: nothing after '{transport}:'")
        if transport == "docker-daemon":
            return ImageRef(transport, rest)
        if transport == "docker":
            from .registry import parse_registry_ref

            parse_registry_ref(rest)  # a malformed reference fails here, before any I/O
            return ImageRef(transport, rest)
        path, tag = _split_path(rest)
        return ImageRef(transport, path, tag)
    if sep and transport in ("containers-storage", "dir"):
        raise ReferenceError_(
            f"{ref!r}: the {transport}: transport is not supported yet "
            f"(use docker-archive:, oci:, oci-archive:, docker-daemon: or docker://)"
        )
    path, tag = _split_path(ref)
    if os.path.isdir(path):
        return ImageRef("oci", path, tag)
    if os.path.isfile(path):
        return ImageRef("docker-archive", path, tag)
    if ref.startswith(("/", "./", "../", "~")) or ref.endswith((".tar", ".tar.gz", ".tgz", ".oci")):
        raise ImageNotFound(f"no such file or directory: {ref}")
    return ImageRef("docker-daemon", ref)


def load_image(
    ref: str | ImageRef,
    options: ReadOptions | None = None,
    *,
    platform: str | None = None,
    hash_content: bool = False,
    progress: Callable[[int], None] | None = None,
    estimate_compressed: bool = False,
) -> Image:
    """Read an image from any supported source into the model. ``options`` say how (the keywords
    are shorthands for the common ones when ``options`` is not given): ``estimate_compressed``:
    layers stored uncompressed (docker save, the engine) get ``compressed_size`` = their gzip -6
    size; ``hash_content``: content digests of every file (a ContentPlan can ask for more)."""
    r = parse_ref(ref) if isinstance(ref, str) else ref
    if options is None:
        on_layer = getattr(progress, "layer", None)  # a progress object may also hear of each layer
        options = ReadOptions(platform, ContentPlan(hash=hash_content), estimate_compressed, progress, on_layer)
    settings = _SETTINGS.get()
    options = replace(options, registry=options.registry or settings.registry, cache=_cache_setting(options.cache))
    read = Read(r, options)
    if r.transport in ("docker-archive", "oci-archive"):
        return read_tar_file(r.location, read)
    if r.transport == "oci":
        return read_oci_dir(r.location, read)
    if r.transport == "docker":
        from .archive import open_cache
        from .registry import read_registry_image

        return read_registry_image(r.location, read, open_cache(options.cache))
    from .daemon import read_daemon_image

    return read_daemon_image(r.location, read)


def source_size(ref: str | ImageRef) -> int | None:
    """Bytes a source will stream, when known up front (for progress bars)."""
    r = parse_ref(ref) if isinstance(ref, str) else ref
    if r.transport in ("docker-archive", "oci-archive") and os.path.isfile(r.location):
        return os.path.getsize(r.location)
    return None


__all__ = [
    "ContentPlan",
    "ImageRef",
    "Probe",
    "ReadOptions",
    "RegistryOptions",
    "SourceSettings",
    "current_cache",
    "current_settings",
    "host_platform",
    "load_image",
    "parse_ref",
    "source_settings",
    "source_size",
]
