"""The one exception tree of imgopt.

Every failure the library reports on purpose is an :class:`ImgoptError`; the CLI turns each
into one readable line and an exit code (usage 2, input/source 3)::

    ImgoptError
    ├── UsageError                 bad arguments or configuration (CLI exit 2)
    │   ├── ReferenceError_        an image reference that cannot be understood
    │   └── CheckError             a behaviour check command that cannot be used
    └── InputError                 the input cannot be read (CLI exit 3)
        ├── ImageNotFound          no such image / file / tag
        ├── PlatformNotFound       a multi-platform index has no matching platform
        ├── CorruptArchive         truncated tar, bad checksum, bad gzip/zstd stream, bad JSON
        │   ├── MissingBlob        a manifest names a blob that is not in the archive
        │   └── UnsafePath         an absolute or ``..`` name inside a layer
        ├── UnsupportedMediaType   a layer or manifest media type imgopt does not know
        ├── DaemonError            the Docker engine is down or answered with an error
        ├── RegistryError          a registry cannot be reached or answered with an error
        │   └── AuthError          it refused the credentials, or wants some and none were found
        ├── DockerfileError        a Dockerfile that cannot be read or parsed
        └── BuildError             the engine could not build a Dockerfile (the step and its output)
"""

from __future__ import annotations


class ImgoptError(Exception):
    """Root of every error imgopt raises on purpose."""

    exit_code = 3


class UsageError(ImgoptError):
    """Bad arguments or configuration."""

    exit_code = 2


class ReferenceError_(UsageError):
    """An image reference that cannot be understood."""


class CheckError(UsageError):
    """A behaviour check command that cannot be parsed or run."""


class InputError(ImgoptError):
    """The input (archive, daemon, Dockerfile) cannot be read."""


class ImageNotFound(InputError):
    """No image, file or tag by that name."""


class PlatformNotFound(InputError):
    """A multi-platform index holds no manifest for the requested platform."""

    def __init__(self, wanted: str, available: list[str]) -> None:
        self.wanted = wanted
        self.available = available
        have = ", ".join(available) if available else "none"
        super().__init__(f"no image for platform {wanted} in this index (platforms present: {have})")


class CorruptArchive(InputError):
    """A truncated or corrupt archive, compressed stream or JSON document."""


class MissingBlob(CorruptArchive):
    """A manifest names a blob or layer that the archive does not contain."""


class UnsafePath(CorruptArchive):
    """A layer holds an absolute path or a ``..`` component."""


class UnsupportedMediaType(InputError):
    """A media type imgopt does not know how to read."""


class DaemonError(InputError):
    """The Docker engine could not be reached or answered with an error."""


class RegistryError(InputError):
    """A registry could not be reached or answered with an error."""


class AuthError(RegistryError):
    """A registry refused the credentials, or wants credentials and none were found."""


class DockerfileError(InputError):
    """A Dockerfile that cannot be read or parsed."""


class BuildError(InputError):
    """A build failed or timed out (a variant's failure is a result; the input's is this error)."""


__all__ = [
    "ImgoptError",
    "UsageError",
    "ReferenceError_",
    "CheckError",
    "InputError",
    "ImageNotFound",
    "PlatformNotFound",
    "CorruptArchive",
    "MissingBlob",
    "UnsafePath",
    "UnsupportedMediaType",
    "DaemonError",
    "RegistryError",
    "AuthError",
    "DockerfileError",
    "BuildError",
]
