"""What an image installed, read from its package databases, and where its bytes are.

The databases come from the one layer reader: a read with ``ContentPlan(keep=PACKAGE_DBS)`` keeps
their contents, and the final filesystem says which layer's copy counts. Debian's dpkg (``status``,
and distroless's ``status.d/``) and Alpine's apk are read; rpm keeps a SQLite or Berkeley DB that
is not parsed here (``installed_packages`` says None: unknown, never "no packages").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..model import FILE, Image
from .squash import FinalEntry, Squash

PACKAGE_DBS = ("var/lib/dpkg/status", "var/lib/dpkg/status.d/*", "lib/apk/db/installed")


def parse_dpkg_status(text: str) -> dict[str, str]:
    """``Package`` -> ``Version`` of every stanza whose Status is ``install ok installed``."""
    out: dict[str, str] = {}
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
        name = fields.get("Package")
        status = fields.get("Status", "install ok installed")  # status.d/ stanzas carry none
        if name and status.endswith(" installed") and not status.endswith("not-installed"):
            out[name] = fields.get("Version", "")
    return out


def parse_apk_installed(text: str) -> dict[str, str]:
    """``P:`` -> ``V:`` of every package in Alpine's installed database."""
    out: dict[str, str] = {}
    name = version = None
    for line in [*text.splitlines(), ""]:
        if not line:
            if name:
                out[name] = version or ""
            name = version = None
        elif line.startswith("P:"):
            name = line[2:]
        elif line.startswith("V:"):
            version = line[2:]
    return out


def installed_packages(image: Image, final: Mapping[str, FinalEntry]) -> dict[str, str] | None:
    """Name -> version of the packages installed in the final filesystem; None when the image has
    no database imgopt reads, or it was not read (a read without ``keep=PACKAGE_DBS``)."""
    found: dict[str, str] | None = None
    for path, fe in final.items():
        if fe.entry.kind != FILE:
            continue
        if path == "var/lib/dpkg/status" or path.startswith("var/lib/dpkg/status.d/"):
            parse = parse_dpkg_status
        elif path == "lib/apk/db/installed":
            parse = parse_apk_installed
        else:
            continue
        data = image.layers[fe.layer].contents.get(path)
        if data is None:
            return None
        found = {**(found or {}), **parse(data.decode("utf-8", "replace"))}
    return found


@dataclass(frozen=True)
class Footprint:
    """Bytes per path: shipped over all layers, in the final filesystem, and shipped but unreachable."""

    shipped: dict[str, int]
    final: dict[str, int]
    waste: dict[str, int]


def footprint(image: Image, sq: Squash) -> Footprint:
    shipped: dict[str, int] = {}
    for layer in image.layers:
        for e in layer.entries:
            if e.kind == FILE and e.size:
                shipped[e.path] = shipped.get(e.path, 0) + e.size
    final = {p: fe.entry.size for p, fe in sq.final.items() if fe.entry.kind == FILE}
    waste: dict[str, int] = {}
    for w in sq.waste:
        waste[w.path] = waste.get(w.path, 0) + w.bytes
    return Footprint(shipped, final, waste)


__all__ = ["PACKAGE_DBS", "Footprint", "footprint", "installed_packages", "parse_apk_installed", "parse_dpkg_status"]
