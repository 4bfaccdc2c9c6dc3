"""Python tooling: pip, poetry and conda caches."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..edits import Fix, insert_option, replace_with
from ..model import Stage
from ..shell import is_pip_install
from .core import INFO, TRUTHY, WARNING, Context, Hit, Rule, Step, appending, cached, first, paths, removes, rule


def _pip(ctx: Context, st: Stage, step: Step) -> Iterator[Hit]:
    ins = step.ins
    if step.env.get("PIP_NO_CACHE_DIR", "").lower() in TRUTHY or re.search(
        r"PIP_NO_CACHE_DIR=[\"']?(1|true|on|yes)", ins.args, re.I
    ):
        return
    for c in step.cmds:
        if (
            is_pip_install(c)
            and "--no-cache-dir" not in c.words
            and not cached(ins, "/root/.cache/pip")
            and not cached(ins, "/root/.cache")
        ):
            yield Hit("IMG107", "pip install without --no-cache-dir keeps downloaded wheels in ~/.cache/pip", ins)
            return


def _fix_pip(ctx: Context, hit: Hit) -> Fix | None:
    text = insert_option(
        ctx.dockerfile, hit.ins, r"pip[\d.]*|python[\d.]*[ \t]+-m[ \t]+pip[\d.]*", "install", "--no-cache-dir"
    )
    return replace_with(hit.ins, text, "pip install --no-cache-dir")


rule(
    Rule(
        "IMG107",
        "pip-no-cache-dir",
        WARNING,
        "Use pip install --no-cache-dir.",
        "DL3042",
        paths("root/.cache/pip/**", "**/.cache/pip/**"),
        on_run=_pip,
        fix=_fix_pip,
        why=(
            "pip caches every downloaded wheel and HTTP response in ~/.cache/pip; for scientific stacks "
            "that is hundreds of MB."
        ),
        bad=("FROM python:3.12-slim\nRUN pip install -r requirements.txt\n"),
        good=("FROM python:3.12-slim\nRUN pip install --no-cache-dir -r requirements.txt\n"),
        notes=(
            "`ENV PIP_NO_CACHE_DIR=1` (inherited by stages built FROM this one), `PIP_NO_CACHE_DIR=1 pip "
            "install ...`, and a cache mount on /root/.cache/pip all satisfy the rule. hadolint ignores "
            "cache mounts here; imgopt does not (the cache never enters a layer). pipx and pipenv are not "
            "pip installs."
        ),
    )
)

_CONDA = ("conda", "mamba", "micromamba")


def _conda(ctx: Context, st: Stage, step: Step) -> Iterator[Hit]:
    cmds = step.cmds
    if (
        first(
            cmds,
            lambda c: (
                c.name in _CONDA
                and bool(c.positional())
                and c.positional()[0] in ("install", "create", "update", "env")
            ),
        )
        and not first(cmds, lambda c: c.name in _CONDA and c.is_(c.name, "clean"))
        and not removes(cmds, "/opt/conda/pkgs")
    ):
        yield Hit("IMG133", "conda install without `conda clean -afy` keeps package tarballs in pkgs/", step.ins)


rule(
    Rule(
        "IMG133",
        "conda-clean",
        WARNING,
        "Run conda clean -afy in the RUN that installs.",
        cost=paths("opt/conda/pkgs/**", "**/miniconda*/pkgs/**", "**/.conda/pkgs/**"),
        on_run=_conda,
        fix=appending("conda clean -afy", "clean the conda package cache in the installing RUN"),
        why=(
            "conda keeps every downloaded package tarball and its extracted copy in pkgs/; `conda clean "
            "-afy` removes them."
        ),
        bad="RUN conda install -y numpy\n",
        good="RUN conda install -y numpy && conda clean -afy\n",
        notes="mamba and micromamba are treated like conda.",
    )
)


def _poetry(ctx: Context, st: Stage, step: Step) -> Iterator[Hit]:
    cmds = step.cmds
    c = first(cmds, lambda c: c.is_("poetry", "install"))
    if (
        c
        and not c.has_flag("--no-cache")
        and not removes(cmds, "/root/.cache/pypoetry")
        and "POETRY_CACHE_DIR" not in step.env
        and not cached(step.ins, "/root/.cache/pypoetry", "/root/.cache")
    ):
        yield Hit("IMG134", "poetry install without --no-cache keeps its cache in ~/.cache/pypoetry", step.ins)


rule(
    Rule(
        "IMG134",
        "poetry-cache",
        INFO,
        "Install with poetry --no-cache or remove its cache.",
        cost=paths("root/.cache/pypoetry/**", "**/.cache/pypoetry/**"),
        on_run=_poetry,
        fix=appending("rm -rf ~/.cache/pypoetry", "remove the poetry cache in the installing RUN"),
        why="poetry caches downloaded distributions in ~/.cache/pypoetry.",
        bad="RUN poetry install --only main\n",
        good="RUN poetry install --only main --no-cache\n",
        notes="Setting POETRY_CACHE_DIR and removing it, or a cache mount on /root/.cache, also satisfy the rule.",
    )
)
