"""Waste categories: documented path patterns for bytes that rarely belong in a runtime image.

Patterns are globs over image paths without the leading slash: ``*`` matches within one path
component, ``**/`` any number of leading directories, and a pattern also matches everything
below a directory it names. The first category whose pattern matches a path wins, in the order
of :data:`CATEGORIES`. docs/metrics.md lists the same table.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

# (name, description, patterns) — order matters: the first match wins
CATEGORIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "apt",
        "apt package lists and .deb cache",
        (
            "var/lib/apt/lists",
            "var/cache/apt",
            "var/cache/debconf/*-old",
            "var/log/apt",
        ),
    ),
    ("apk", "apk package cache", ("var/cache/apk", "etc/apk/cache")),
    (
        "yum-dnf",
        "yum/dnf metadata and package cache",
        (
            "var/cache/yum",
            "var/cache/dnf",
            "var/lib/dnf/repos",
            "var/log/dnf*",
            "var/log/yum.log",
        ),
    ),
    ("pip", "pip wheel and http cache", ("**/.cache/pip", "root/.cache/pip", "tmp/pip-*")),
    ("npm", "npm cache", ("**/.npm/_cacache", "**/.npm/_logs", "**/.npm/_npx")),
    ("yarn", "yarn cache", ("**/.cache/yarn", "usr/local/share/.cache/yarn", "**/.yarn/cache", "**/.yarn-cache")),
    ("gem-bundler", "gem and bundler caches", ("**/.gem/specs", "usr/local/bundle/cache", "**/.bundle/cache")),
    ("go-build", "Go build and module caches", ("**/.cache/go-build", "root/go/pkg/mod/cache", "go/pkg/mod/cache")),
    ("pycache", "Python bytecode caches", ("**/__pycache__", "**/*.pyc", "**/*.pyo")),
    ("git", "version-control metadata", ("**/.git", "**/.svn", "**/.hg")),
    (
        "docs",
        "documentation, man and info pages",
        (
            "usr/share/doc",
            "usr/share/man",
            "usr/share/info",
            "usr/share/gtk-doc",
            "usr/share/groff",
            "usr/local/share/doc",
            "usr/local/share/man",
        ),
    ),
    ("locales", "translations and locale data", ("usr/share/locale", "usr/share/i18n/locales", "usr/lib/locale")),
    (
        "toolchain",
        "compilers, headers and build tools",
        (
            "usr/lib/gcc",
            "usr/libexec/gcc",
            "usr/bin/gcc*",
            "usr/bin/g++*",
            "usr/bin/cc",
            "usr/bin/c++",
            "usr/bin/*-linux-gnu-gcc*",
            "usr/bin/*-linux-gnu-g++*",
            "usr/bin/*-linux-gnu-cpp*",
            "usr/bin/*-linux-gnu-ld*",
            "usr/bin/*-linux-gnu-as",
            "usr/bin/ld",
            "usr/bin/ld.*",
            "usr/bin/as",
            "usr/include",
            "usr/local/include",
            "usr/lib/llvm-*",
            "usr/local/go",
            "usr/lib/go-*",
            "usr/share/maven",
            "usr/lib/jvm/*/jmods",
            "usr/bin/make",
            "usr/bin/cmake",
            "usr/share/cmake-*",
            "usr/lib/x86_64-linux-gnu/*.a",
            "usr/lib/aarch64-linux-gnu/*.a",
        ),
    ),
    ("temp", "temporary files", ("tmp", "var/tmp")),
    ("logs", "log files", ("var/log/*.log", "var/log/**/*.log")),
)


def glob_to_regex(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def compile_globs(globs: tuple[str, ...] | list[str]) -> re.Pattern[str]:
    """One regex matching a path matched by any glob, or lying below what a glob names."""
    alternatives = "|".join(f"{glob_to_regex(g.removesuffix('/**'))}(?:/.*)?" for g in globs)
    return re.compile(f"(?:{alternatives})\\Z", re.DOTALL)


@functools.cache
def _patterns() -> tuple[tuple[tuple[int, re.Pattern[str] | None, str], ...], tuple[str, ...]]:
    """Every category pattern split and translated, once per process: (category index, directory
    regex or None for ``**``, basename regex), and the basename globs in the same order."""
    pats, globs = [], []
    for idx, (_, _, patterns) in enumerate(CATEGORIES):
        for pat in patterns:
            head, _, last = pat.rpartition("/")
            globs.append(last)
            head_re = None if head == "**" else re.compile(glob_to_regex(head) + r"\Z", re.DOTALL)
            pats.append((idx, head_re, glob_to_regex(last)))
    return tuple(pats), tuple(globs)


class _Matcher(NamedTuple):
    exact: frozenset[str]
    suffixes: tuple[str, ...]
    general: bool  # some pattern needs the regex whatever the basename
    regex: re.Pattern[str]


class Categorizer:
    """Category lookups with per-directory caches.

    A pattern matches a path when it matches the path itself or one of its ancestors. So the
    category of ``D/B`` is the first of: patterns whose directory part matches ``D`` and whose
    last component matches ``B``, and the (cached) category of ``D`` itself. Per directory only
    the patterns that can match one of its children are tried, on the basename alone.
    """

    # matchers by the set of candidate patterns: immutable, shared by every Categorizer
    _compiled: dict[tuple[int, ...], _Matcher] = {}

    def __init__(self) -> None:
        self._pats, self._globs = _patterns()
        # per directory: (exact basenames, basename suffixes, regex) for the patterns that can match
        # one of its children; the sets are a C-speed prefilter, the regex decides the category
        self._child: dict[str, _Matcher | None] = {}
        self._dir: dict[str, int | None] = {"": None}

    def _child_matcher(self, d: str) -> _Matcher | None:
        if d in self._child:
            return self._child[d]
        cands = tuple(k for k, (_, head_re, _) in enumerate(self._pats) if head_re is None or head_re.match(d))
        matcher = None
        if cands:
            matcher = self._compiled.get(cands)
            if matcher is None:
                matcher = self._compiled[cands] = self._compile(cands)
        self._child[d] = matcher
        return matcher

    def _compile(self, cands: tuple[int, ...]) -> _Matcher:
        alts = "|".join(f"(?P<c{self._pats[k][0]}_{k}>{self._pats[k][2]})" for k in cands)
        exact: set[str] = set()
        suffixes: list[str] = []
        general = False
        for k in cands:
            glob = self._globs[k]
            if not any(c in glob for c in "*?[]"):
                exact.add(glob)
            elif glob.startswith("*") and not any(c in glob[1:] for c in "*?[]"):
                suffixes.append(glob[1:])
            else:
                general = True
        return _Matcher(frozenset(exact), tuple(suffixes), general, re.compile(f"(?:{alts})\\Z", re.DOTALL))

    def _exact(self, d: str, base: str) -> int | None:
        m = self._child_matcher(d)
        if m is None:
            return None
        if not m.general and base not in m.exact and not base.endswith(m.suffixes):
            return None
        hit = m.regex.match(base)
        if hit is None or hit.lastgroup is None:
            return None
        return int(hit.lastgroup[1:].partition("_")[0])

    def _dir_category(self, d: str) -> int | None:
        cache = self._dir
        if d in cache:
            return cache[d]
        parent, _, base = d.rpartition("/")
        up = self._dir_category(parent)
        here = self._exact(parent, base)
        cat = here if up is None else up if here is None else min(here, up)
        cache[d] = cat
        return cat

    def index(self, path: str) -> int | None:
        """Index into CATEGORIES of the category of ``path``, or None."""
        parent, _, base = path.rpartition("/")
        up = self._dir_category(parent)
        here = self._exact(parent, base)
        return here if up is None else up if here is None else min(here, up)

    def __call__(self, path: str) -> str | None:
        idx = self.index(path)
        return None if idx is None else CATEGORIES[idx][0]


_default = Categorizer()


def category_of(path: str) -> str | None:
    """The waste category of an image path, or None."""
    return _default(path)


def reference_category_of(path: str) -> str | None:
    """The same function written as one regex per category: the definition Categorizer must agree with."""
    for name, _, patterns in CATEGORIES:
        if compile_globs(patterns).match(path):
            return name
    return None
