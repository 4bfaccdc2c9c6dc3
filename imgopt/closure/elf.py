"""What an executable file needs, read from its bytes: an ELF's interpreter, ``DT_NEEDED`` libraries,
``RPATH``/``RUNPATH`` and ``SONAME`` (with pyelftools), or a script's shebang line.

These are *probes* for the one layer reader (``sources.core.Probe``): they run on each selected
file's bytes in the pass that reads the headers and keep only a small record.
"""

from __future__ import annotations

import io
from typing import Any

from ..sources.core import Probe

ELF_MAGIC = b"\x7fELF"


def _strings(value: str | None) -> list[str]:
    return [p for p in (value or "").split(":") if p]


def elf_facts(data: bytes) -> dict[str, Any]:
    """interp, needed, rpath, runpath, soname, machine, class; ``error`` when the file is damaged."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    out: dict[str, Any] = {"interp": None, "needed": [], "rpath": [], "runpath": [], "soname": None}
    try:
        elf = ELFFile(io.BytesIO(data))
        out["machine"] = elf.get_machine_arch()
        out["class"] = elf.elfclass
        out["type"] = elf.header.e_type
        for seg in elf.iter_segments():
            if seg.header.p_type == "PT_INTERP":
                out["interp"] = seg.get_interp_name()  # type: ignore[attr-defined]  # InterpSegment
        for sec in elf.iter_sections():
            if not isinstance(sec, DynamicSection):
                continue
            for tag in sec.iter_tags():
                kind = tag.entry.d_tag
                if kind == "DT_NEEDED":
                    out["needed"].append(getattr(tag, "needed", ""))
                elif kind == "DT_RPATH":
                    out["rpath"] += _strings(getattr(tag, "rpath", None))
                elif kind == "DT_RUNPATH":
                    out["runpath"] += _strings(getattr(tag, "runpath", None))
                elif kind == "DT_SONAME":
                    out["soname"] = getattr(tag, "soname", None)
    except (ELFError, ValueError, KeyError, IndexError, OSError, AttributeError) as e:
        out["error"] = f"{type(e).__name__}: {e}"[:200]
    return out


def _read(path: str, data: bytes) -> dict[str, Any] | None:
    if data[:4] == ELF_MAGIC:
        return {"elf": elf_facts(data)}
    if data[:2] == b"#!":
        line = data[2:256].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        words = line.split()
        return {"shebang": words} if words else None
    return None


def _select(path: str, size: int, mode: int) -> bool:
    """Executables, and shared objects (often mode 644)."""
    name = path.rpartition("/")[2]
    return bool(mode & 0o111) or ".so" in name


EXECUTABLES = Probe("exec", _select, _read, max_size=512 << 20)


__all__ = ["ELF_MAGIC", "EXECUTABLES", "elf_facts"]
