"""The final filesystem of an image as the closure walks it: lookups that follow symlinks the way
the kernel does (every component, relative and absolute targets, ``..``), and what the content
plan read about each file."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from ..analysis.squash import FinalEntry, Squash
from ..model import DIR, FILE, HARDLINK, SYMLINK, Image

MAX_HOPS = 40


class FinalFS:
    def __init__(self, image: Image, sq: Squash) -> None:
        self.image = image
        self.files = sq.final

    def entry(self, path: str) -> FinalEntry | None:
        return self.files.get(path.strip("/"))

    def resolve(self, path: str, links: set[str] | None = None, *, must_exist: bool = True) -> str | None:
        """The real path ``path`` names (relative, no leading slash), or None when it, or a symlink on
        the way, leads nowhere (``must_exist=False``: the last component may be missing). Every
        symlink passed is added to ``links`` (a copy must carry them)."""
        parts = [p for p in path.strip("/").split("/") if p and p != "."]
        cur = ""
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                cur = posixpath.dirname(cur)
                continue
            candidate = f"{cur}/{part}" if cur else part
            fe = self.files.get(candidate)
            if fe is None:
                if not parts and must_exist:
                    return None
                cur = candidate  # a directory no tar entry names (some tars leave them implicit)
                continue
            if fe.entry.kind == SYMLINK and fe.entry.linkname is not None:
                hops += 1
                if hops > MAX_HOPS:
                    return None
                if links is not None:
                    links.add(candidate)
                target = fe.entry.linkname
                base = "" if target.startswith("/") else cur
                parts = [p for p in target.split("/") if p and p != "."] + parts
                cur = base
                continue
            cur = candidate
        return cur

    def is_file(self, path: str) -> bool:
        fe = self.files.get(path)
        return fe is not None and fe.entry.kind in (FILE, HARDLINK)

    def is_dir(self, path: str) -> bool:
        fe = self.files.get(path)
        return path == "" or (fe is not None and fe.entry.kind == DIR)

    def facts(self, path: str) -> dict[str, Any] | None:
        """What the executables probe read about the file (ELF facts or a shebang), if anything."""
        fe = self.files.get(path)
        if fe is None:
            return None
        if fe.entry.kind == HARDLINK and fe.entry.linkname:
            return self.facts(fe.entry.linkname)
        fact: dict[str, Any] | None = self.image.layers[fe.layer].facts.get("exec", {}).get(path)
        return fact

    def content(self, path: str) -> bytes | None:
        fe = self.files.get(path)
        return None if fe is None else self.image.layers[fe.layer].contents.get(path)

    def under(self, directory: str) -> Iterator[str]:
        prefix = directory.strip("/") + "/"
        return (p for p in self.files if p.startswith(prefix))


__all__ = ["FinalFS"]
