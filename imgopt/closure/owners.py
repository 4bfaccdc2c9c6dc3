"""Which package owns which file, from the package databases the content plan kept: dpkg's
``info/*.list`` (one absolute path per line) and apk's ``installed`` (``F:`` directory, ``R:`` file).
Listed paths are resolved through directory symlinks (Debian's merged /usr lists
``/lib/x86_64-linux-gnu/libz.so.1`` for what lives under ``usr/lib``)."""

from __future__ import annotations

import posixpath

from .fs import FinalFS

DPKG_INFO = "var/lib/dpkg/info/"
APK_DB = "lib/apk/db/installed"


def _real(fs: FinalFS, path: str, cache: dict[str, str | None]) -> str | None:
    """``path`` with its directory resolved (the last component is kept: it may itself be a symlink)."""
    head, _, name = path.strip("/").rpartition("/")
    if head not in cache:
        cache[head] = fs.resolve(head, must_exist=False) if head else ""
    real_head = cache[head]
    if real_head is None:
        return None
    return f"{real_head}/{name}" if real_head else name


def owners(fs: FinalFS) -> dict[str, str]:
    """Real path -> owning package, for every file a package database lists."""
    out: dict[str, str] = {}
    cache: dict[str, str | None] = {}
    for path in list(fs.files):
        if path.startswith(DPKG_INFO) and path.endswith(".list"):
            data = fs.content(path)
            if data is None:
                continue
            package = posixpath.basename(path)[: -len(".list")].split(":")[0]
            for line in data.decode("utf-8", "replace").splitlines():
                real = _real(fs, line, cache) if line.strip() not in ("", "/.") else None
                if real:
                    out.setdefault(real, package)
    data = fs.content(APK_DB)
    if data is not None:
        package, directory = "", ""
        for line in data.decode("utf-8", "replace").splitlines():
            if line.startswith("P:"):
                package = line[2:]
            elif line.startswith("F:"):
                directory = line[2:]
            elif line.startswith("R:") and package:
                real = _real(fs, f"{directory}/{line[2:]}", cache)
                if real:
                    out.setdefault(real, package)
    return out


def databases_read(fs: FinalFS) -> bool:
    """Whether any package database was read (else ownership is unknown, not empty)."""
    return any(p.startswith(DPKG_INFO) and fs.content(p) is not None for p in fs.files) or (
        fs.content(APK_DB) is not None
    )


__all__ = ["databases_read", "owners"]
