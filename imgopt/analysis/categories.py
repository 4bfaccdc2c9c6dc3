"""Waste categories: documented path patterns for bytes that rarely belong in a runtime image.

Patterns are globs over image paths without the leading slash: ``*`` matches within one path
component, ``**/`` any number of leading directories, and a pattern also matches everything
below a directory it names. The first category whose pattern matches a path wins, in the order
of :data:`CATEGORIES`. docs/metrics.md lists the same table.
"""

from __future__ import annotations

import re
from functools import lru_cache

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


def _glob_to_regex(pattern: str) -> str:
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
    return "".join(out) + "(?:/.*)?"


@lru_cache(maxsize=1)
def _matcher() -> re.Pattern[str]:
    groups = []
    for idx, (_, _, patterns) in enumerate(CATEGORIES):
        body = "|".join(_glob_to_regex(p) for p in patterns)
        groups.append(f"(?P<c{idx}>{body})")
    return re.compile("(?:" + "|".join(groups) + r")\Z", re.DOTALL)


def category_of(path: str) -> str | None:
    """The waste category of an image path, or None."""
    m = _matcher().match(path)
    if m is None or m.lastgroup is None:
        return None
    return CATEGORIES[int(m.lastgroup[1:])][0]
