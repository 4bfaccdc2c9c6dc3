"""The package's rooms and their one-way order, read from every ``import`` in the source (imports
inside functions included): a room may import only rooms of a lower rank, and rooms of the same rank
stay apart. docs/design.md draws the same table."""

from __future__ import annotations

import ast
import os

import pytest
from conftest import ROOT

PKG = os.path.join(ROOT, "imgopt")

# room -> rank. A module belongs to the longest room name that prefixes it.
RANKS = {
    "imgopt._version": 0,
    "imgopt.errors": 0,
    "imgopt.model": 0,
    "imgopt.platforms": 0,
    "imgopt.units": 0,
    "imgopt.encoding": 1,
    "imgopt.sources": 2,
    "imgopt.analysis": 2,
    "imgopt.dockerfile": 2,
    "imgopt.evidence": 3,
    "imgopt.closure": 3,
    "imgopt.fleet": 3,
    "imgopt.build": 4,
    "imgopt.report": 5,
    "imgopt.api": 6,
    "imgopt": 7,  # the package's __init__: the public API, and the encoders registered
    "imgopt.cli": 8,
    "imgopt.__main__": 9,
}


def room_of(module: str) -> str:
    best = "imgopt"
    for room in RANKS:
        if (module == room or module.startswith(room + ".")) and len(room) > len(best):
            best = room
    return best


def _module_name(path: str) -> str:
    rel = os.path.relpath(path, ROOT)[: -len(".py")].replace(os.sep, ".")
    return rel.removesuffix(".__init__")


def _imports(path: str, source: str | None = None) -> list[tuple[int, str]]:
    """Every imgopt module imported by the file, resolved from relative imports."""
    module = _module_name(path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    if source is None:
        with open(path, encoding="utf-8") as f:
            source = f.read()
    tree = ast.parse(source, path)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "imgopt"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "imgopt":
                continue
            # `from . import x` / `from .pkg import mod`: each name may be a module of its own
            names = [f"{target}.{a.name}" for a in node.names]
            out += [(node.lineno, n if _is_module(n) else target) for n in names]
    return out


def _is_module(name: str) -> bool:
    path = os.path.join(ROOT, *name.split("."))
    return os.path.isfile(path + ".py") or os.path.isfile(os.path.join(path, "__init__.py"))


def _sources() -> list[str]:
    return sorted(os.path.join(d, f) for d, _, files in os.walk(PKG) for f in files if f.endswith(".py"))


def test_every_module_has_a_room() -> None:
    assert {room_of(_module_name(p)) for p in _sources()} <= set(RANKS)


def _violations(path: str, source: str | None = None) -> list[str]:
    me = room_of(_module_name(path))
    bad = []
    for line, target in _imports(path, source):
        other = room_of(target)
        if other != me and RANKS[other] >= RANKS[me]:
            bad.append(f"line {line}: {me} (rank {RANKS[me]}) imports {target} ({other}, rank {RANKS[other]})")
    return bad


@pytest.mark.parametrize("path", _sources(), ids=lambda p: os.path.relpath(p, PKG))
def test_imports_only_go_down(path: str) -> None:
    bad = _violations(path)
    assert not bad, "\n".join(bad)


def test_the_checker_sees_what_it_must() -> None:
    """The checker itself: upward imports inside functions, relative ones of any depth, the package
    root, and sibling rooms of the same rank are all caught."""
    analysis = os.path.join(PKG, "analysis", "squash.py")
    for snippet in (
        "def f():\n    from ..report.text import human\n",  # upward, inside a function
        "from .. import __version__\n",  # the package root (which imports everything)
        "import imgopt.build.engine\n",
        "from ..dockerfile import parse\n",  # a sibling room of the same rank
        "from ..sources import load_image\n",
    ):
        assert _violations(analysis, snippet), snippet
    assert not _violations(analysis, "from ..model import FILE\nfrom .dive import dive_metrics\n")
    assert room_of("imgopt.dockerfile.rules.apt") == "imgopt.dockerfile" and room_of("imgopt") == "imgopt"
