"""The only module that talks to the Docker Engine API (through the docker SDK).

The image is streamed from ``GET /images/{name}/get`` straight into the archive parser: nothing
is written to disk. SDK errors are translated once, here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..errors import DaemonError, ImageNotFound, MissingBlob
from ..model import Image
from .archive import assemble, open_cache, read_tar_archive
from .cache import plan_key
from .core import Blob, BlobInfo, BlobStore, Read
from .streams import IterSource


def docker_client(timeout: float = 120, *, ping: bool = False) -> Any:
    """The one place a Docker SDK client is made (``DOCKER_HOST`` and friends honoured)."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError as e:  # pragma: no cover - docker is a declared dependency
        raise DaemonError("the docker SDK is not installed (pip install docker)") from e
    try:
        client = docker.from_env(timeout=int(timeout))
        if ping:
            client.ping()
        return client
    except DockerException as e:
        raise DaemonError(f"cannot reach the Docker engine: {reason(e)}") from e
    except Exception as e:
        if is_transport_error(e):
            raise DaemonError(f"cannot reach the Docker engine: {reason(e)}") from e
        raise


def is_transport_error(e: BaseException) -> bool:
    """urllib3/requests errors (a broken or refused connection) have no base class we can import cheaply."""
    return type(e).__module__.split(".")[0] in ("urllib3", "requests")


def reason(e: BaseException) -> str:
    """One line for an SDK/transport error; a missing engine said in words."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if "Connection refused" in text or "FileNotFoundError" in text or "No such file" in text:
        return "it is not running or its socket is missing (is dockerd started? DOCKER_HOST?)"
    return text[:300]


def read_daemon_image(name: str, opts: Read) -> Image:
    """Stream ``name`` (a tag or image ID) from the engine and parse it. A missing image is an error,
    never a pull."""
    from docker.errors import APIError, DockerException, NotFound

    client = docker_client()
    try:
        inspect = _inspect(client, name)
        cached = _from_cache(name, inspect, opts)
        if cached is not None:
            return cached
        try:
            stream: Iterator[bytes] = client.api.get_image(name, chunk_size=1 << 20)
            return read_tar_archive(IterSource(_guard(stream), opts.options.progress), opts)
        except NotFound as e:
            raise ImageNotFound(f"no image {name!r} in the Docker engine") from e
        except (APIError, DockerException) as e:
            raise DaemonError(f"the Docker engine failed to export {name!r}: {e}") from e
    finally:
        client.close()


def _inspect(client: Any, name: str) -> dict[str, Any]:
    from docker.errors import APIError, DockerException, NotFound

    try:
        inspect: dict[str, Any] = client.api.inspect_image(name)
        return inspect
    except NotFound as e:
        raise ImageNotFound(f"no image {name!r} in the Docker engine (imgopt never pulls)") from e
    except APIError as e:
        raise DaemonError(f"the Docker engine refused to inspect {name!r}: {e.explanation or e}") from e
    except DockerException as e:
        raise DaemonError(f"cannot reach the Docker engine: {reason(e)}") from e


def identify_daemon_image(name: str) -> tuple[str | None, tuple[str, ...]]:
    """An engine image's ID and diff_ids, from ``docker image inspect`` alone (no export)."""
    client = docker_client()
    try:
        inspect = _inspect(client, name)
    finally:
        client.close()
    image_id = inspect.get("Id")
    layers = (inspect.get("RootFS") or {}).get("Layers") or []
    return (image_id if isinstance(image_id, str) else None), tuple(str(d) for d in layers)


class _InspectStore(BlobStore):
    """An engine image described by ``docker image inspect`` and the cached config: what
    ``docker save`` would hold, minus the layers, which the layer cache answers."""

    def __init__(self, config: bytes, diff_ids: list[str], repo_tags: list[str]) -> None:
        entry = {"Config": "config.json", "RepoTags": repo_tags, "Layers": [f"{d}/layer.tar" for d in diff_ids]}
        self.docs = {"manifest.json": json.dumps([entry]).encode(), "config.json": config}

    def json(self, name: str) -> bytes | None:
        return self.docs.get(name)

    def describe(self, name: str) -> BlobInfo | None:
        return BlobInfo(None, "none")  # docker save stores layers uncompressed: the tar's own length

    def layer(self, name: str, diff_id: str | None) -> Blob | None:
        return None


def _from_cache(name: str, inspect: dict[str, Any], opts: Read) -> Image | None:
    """The image from the layer cache alone when it holds the config (by image ID) and every
    layer (by the diff_ids inspect lists): no export at all. None: export as usual."""
    cache = open_cache(opts.options.cache)
    image_id = inspect.get("Id")
    diff_ids = (inspect.get("RootFS") or {}).get("Layers") or []
    if cache is None or not isinstance(image_id, str) or not diff_ids:
        return None
    plan = plan_key(opts.options.content)
    if not all(cache.has(d, plan) for d in diff_ids):
        return None
    config = cache.get_doc(image_id)
    if config is None:
        return None
    tags = [t for t in inspect.get("RepoTags") or [] if t == name or t == f"{name}:latest"]
    try:
        return assemble(_InspectStore(config, diff_ids, tags), opts)
    except MissingBlob:
        return None  # an entry went missing (evicted, damaged) since has(): export instead


def _guard(stream: Iterator[bytes]) -> Iterator[bytes]:
    """Turn transport failures in the middle of the stream into DaemonError."""
    try:
        yield from stream
    except OSError as e:
        raise DaemonError(f"the image stream from the Docker engine broke off: {e}") from e
    except Exception as e:
        if is_transport_error(e) or type(e).__module__.split(".")[0] == "docker":
            raise DaemonError(f"the image stream from the Docker engine broke off: {e}") from e
        raise
