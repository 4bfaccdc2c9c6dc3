"""The only module that talks to the Docker Engine API (through the docker SDK).

The image is streamed from ``GET /images/{name}/get`` straight into the archive parser: nothing
is written to disk. SDK errors are translated once, here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import DaemonError, ImageNotFound
from ..model import Image
from .archive import read_tar_archive
from .core import Read
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
        try:
            client.api.inspect_image(name)
        except NotFound as e:
            raise ImageNotFound(f"no image {name!r} in the Docker engine (imgopt never pulls)") from e
        except APIError as e:
            raise DaemonError(f"the Docker engine refused to inspect {name!r}: {e.explanation or e}") from e
        except DockerException as e:
            raise DaemonError(f"cannot reach the Docker engine: {reason(e)}") from e
        try:
            stream: Iterator[bytes] = client.api.get_image(name, chunk_size=1 << 20)
            return read_tar_archive(IterSource(_guard(stream), opts.options.progress), opts)
        except NotFound as e:
            raise ImageNotFound(f"no image {name!r} in the Docker engine") from e
        except (APIError, DockerException) as e:
            raise DaemonError(f"the Docker engine failed to export {name!r}: {e}") from e
    finally:
        client.close()


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
