"""What the final image is built on and with: a full base image where a slim one exists, and build
toolchains left in the final image."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..model import Stage
from ..shell import is_apt_install
from .core import INFO, WARNING, Context, Cost, Hit, Rule, StageView, Step, rule

TOOLCHAIN_PACKAGES = re.compile(
    r"^(build-essential|gcc(-\d+)?|g\+\+(-\d+)?|clang(-\d+)?|llvm(-\d+)?|make|cmake|automake|autoconf|libtool|"
    r"pkg-config|pkgconf|golang(-\d[\d.]*)?(-go)?|go|maven|gradle|rustc|cargo|node-gyp|musl-dev|alpine-sdk|"
    r"build-base|linux-headers|gcc-c\+\+|[a-z0-9.+-]+-dev|[a-z0-9.+-]+-devel)(=.*)?$"
)


def _toolchain(ctx: Context, st: Stage, step: Step) -> Iterator[Hit]:
    cmds = step.cmds
    found: list[str] = []
    for c in cmds:
        if (
            is_apt_install(c)
            or c.is_("apk", "add")
            or c.is_("yum", "install")
            or c.is_("dnf", "install")
            or c.is_("microdnf", "install")
            or c.is_("zypper", "install", "in")
        ):
            found += [p for p in c.positional()[1:] if TOOLCHAIN_PACKAGES.match(p)]
        if c.is_("npm", "install", "i") and "node-gyp" in c.positional():
            found.append("node-gyp")
    removed = {
        w
        for c in cmds
        if c.is_("apt-get", "purge", "remove", "autoremove")
        or c.is_("apk", "del")
        or c.is_("yum", "remove")
        or c.is_("dnf", "remove")
        for w in c.positional()[1:]
    }
    if any(c.is_("apk", "del") for c in cmds) and any(
        c.is_("apk", "add") and c.has_flag("--virtual", "-t") for c in cmds
    ):
        return  # apk add --virtual .build-deps ... && apk del .build-deps
    left = [p for p in found if p.split("=")[0] not in removed]
    if left:
        yield Hit(
            "IMG142",
            f"build toolchain ({', '.join(sorted(set(left))[:6])}) reaches the final image: build "
            "in a builder stage and COPY --from only the artifacts",
            step.ins,
        )


rule(
    Rule(
        "IMG142",
        "toolchain-in-final-image",
        WARNING,
        "Build toolchains reach the final image; build in a separate stage.",
        cost=Cost("toolchain"),
        on_run=_toolchain,
        target="multistage",
        fix_doc="the `multistage` target of `imgopt optimize` moves the build into a builder stage",
        why=(
            "Compilers, headers and build systems (gcc, build-essential, *-dev, golang, maven, node-gyp "
            "...) are needed to build, not to run. Installing them in a stage that reaches the final image "
            "ships them."
        ),
        bad=(
            "FROM python:3.12-slim\n"
            "RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev "
            "\\\n"
            " && rm -rf /var/lib/apt/lists/*\n"
            "RUN pip install --no-cache-dir psycopg2\n"
        ),
        good=(
            "FROM python:3.12-slim AS build\n"
            "RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev\n"
            "RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir psycopg2\n"
            "FROM python:3.12-slim\n"
            "RUN apt-get update && apt-get install -y --no-install-recommends libpq5 && rm -rf "
            "/var/lib/apt/lists/*\n"
            "COPY --from=build /venv /venv\n"
        ),
        notes=(
            "Not flagged in builder stages, nor when the same RUN purges the packages again (`apt-get "
            "purge`, `apk del` of an `apk add --virtual` group). With --image the cost is the "
            "toolchain-category bytes this layer put into the final filesystem."
        ),
    )
)

SLIM_BASES = {
    "python": "-slim",
    "node": "-slim",
    "debian": "-slim",
    "ruby": "-slim",
    "perl": "-slim",
    "php": "-alpine",
    "golang": "-alpine",
    "rust": "-slim",
    "openjdk": "-slim",
    "eclipse-temurin": "-jre",
    "buildpack-deps": None,
}


def _base_suggestion(base: str) -> str | None:
    ref = base.split("@")[0]
    name, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    short = name.rsplit("/", 1)[-1]
    if name.count("/") > 1 or (name.count("/") == 1 and not name.startswith(("library/", "docker.io/"))):
        return None  # not an official image
    if short == "buildpack-deps":
        return f"{short}:{tag} carries compilers and -dev packages; use a -slim language image"
    suffix = SLIM_BASES.get(short)
    if suffix is None:
        return None
    if any(v in tag for v in ("slim", "alpine", "jre", "distroless", "windowsservercore", "nanoserver")):
        return None
    if short == "eclipse-temurin" and "jdk" not in tag and tag != "latest" and not tag[:1].isdigit():
        return None
    if short == "debian":
        return f"debian:{tag}-slim drops documentation, man pages and locales (about 40 MB)"
    return (
        f"{short}:{tag}{suffix if not tag.endswith(suffix) else ''} (or distroless) is much smaller than {short}:{tag}"
    )


def _full_base(ctx: Context, view: StageView) -> Iterator[Hit]:
    st = view.stage
    if st.base_stage is None:
        hint = _base_suggestion(st.base_resolved)
        if hint:
            yield Hit("IMG143", hint, st.from_instruction)


rule(
    Rule(
        "IMG143",
        "full-base-image",
        INFO,
        "A smaller variant of the base image exists.",
        on_stage=_full_base,
        target="slim",
        fix_doc="the `slim` (and `alpine`, `distroless`) targets of `imgopt optimize` swap the base image; only "
        "`--verify` proves the swap keeps the behaviour",
        why=(
            "Official images have smaller variants: `-slim` (no compilers, docs or extra libraries), "
            "`-alpine`, JRE-only Java images, distroless. The full Debian-based tags carry build tools."
        ),
        bad="FROM python:3.12\n",
        good="FROM python:3.12-slim\n",
        notes=(
            "Only official images are checked, and only for stages that reach the final image. debian:TAG "
            "suggests debian:TAG-slim; buildpack-deps suggests a language -slim image."
        ),
    )
)
