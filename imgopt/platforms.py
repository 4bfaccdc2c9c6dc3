"""The platform this machine runs, in OCI spelling (``linux/amd64``, ``linux/arm/v7``)."""

from __future__ import annotations

import platform as _platform

_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm/v7",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "i686": "386",
}


def host_platform() -> str:
    machine = _platform.machine().lower()
    return f"linux/{_ARCH.get(machine, machine)}"


def platform_args(platform: str | None = None) -> dict[str, str]:
    """BuildKit's automatic platform ARGs (``TARGETOS``, ``TARGETARCH``, ``BUILDPLATFORM``...) for
    ``platform`` (default: this machine), as a build on this machine sets them."""
    target = platform or host_platform()
    build = host_platform()
    out: dict[str, str] = {}
    for prefix, value in (("TARGET", target), ("BUILD", build)):
        os_, _, rest = value.partition("/")
        arch, _, variant = rest.partition("/")
        out |= {f"{prefix}PLATFORM": value, f"{prefix}OS": os_, f"{prefix}ARCH": arch, f"{prefix}VARIANT": variant}
    return out


__all__ = ["host_platform", "platform_args"]
