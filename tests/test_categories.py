"""Waste categories: the cached per-directory matcher agrees with the plain definition."""

from __future__ import annotations

import os
import random

import pytest
from conftest import ROOT

from imgopt.analysis.categories import CATEGORIES, Categorizer, category_of, reference_category_of

EXAMPLES = {
    "var/lib/apt/lists/deb_Packages": "apt",
    "var/cache/apt/archives/x.deb": "apt",
    "usr/lib/python3/dist-packages/foo/__pycache__/m.cpython-311.pyc": "pycache",
    "app/x.pyc": "pycache",
    "root/.cache/pip/http/ab/cd": "pip",
    "home/u/.cache/pip/wheels/x.whl": "pip",
    "home/u/.npm/_cacache/index-v5/00": "npm",
    "usr/local/share/.cache/yarn/v6/x": "yarn",
    "src/.git/objects/pack/p.pack": "git",
    "usr/share/doc/libc6/copyright": "docs",
    "usr/share/man/man1/ls.1.gz": "docs",
    "usr/share/locale/de/LC_MESSAGES/x.mo": "locales",
    "usr/bin/gcc-12": "toolchain",
    "usr/bin/x86_64-linux-gnu-gcc-12": "toolchain",
    "usr/lib/gcc/x86_64-linux-gnu/12/cc1": "toolchain",
    "usr/include/stdio.h": "toolchain",
    "usr/lib/x86_64-linux-gnu/libc.a": "toolchain",
    "tmp/build/x.o": "temp",
    "var/log/dpkg.log": "logs",
    "var/log/apt/history.log": "apt",
    "usr/bin/ls": None,
    "usr/lib/x86_64-linux-gnu/libc.so.6": None,
    "etc/passwd": None,
    "usr/share/docs-not/x": None,
    "tmpfile": None,
}


@pytest.mark.parametrize(("path", "want"), sorted(EXAMPLES.items()))
def test_examples(path: str, want: str | None) -> None:
    assert category_of(path) == want
    assert reference_category_of(path) == want


def test_cached_matcher_agrees_with_the_definition_on_random_paths() -> None:
    rng = random.Random(1)
    parts = [
        "usr",
        "share",
        "doc",
        "lib",
        "var",
        "cache",
        "apt",
        "lists",
        "tmp",
        ".git",
        "__pycache__",
        "x.pyc",
        "bin",
        "gcc-12",
        "include",
        ".cache",
        "pip",
        "yarn",
        ".npm",
        "_cacache",
        "log",
        "a.log",
        "locale",
        "go",
        "pkg",
        "mod",
        "local",
        "man",
        "x86_64-linux-gnu",
        "libz.a",
        "llvm-14",
        "root",
        "node_modules",
    ]
    c = Categorizer()
    for _ in range(4_000):
        path = "/".join(rng.choice(parts) for _ in range(rng.randint(1, 6)))
        assert c(path) == reference_category_of(path), path


def test_every_category_is_documented() -> None:
    with open(os.path.join(ROOT, "docs", "metrics.md")) as f:
        doc = f.read()
    for name, _, _ in CATEGORIES:
        assert f"| {name} |" in doc
