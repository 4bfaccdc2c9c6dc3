"""apk (Alpine): the package index cache."""

from __future__ import annotations

from collections.abc import Iterator

from ..edits import Fix, insert_option, replace_with
from ..model import Stage
from .core import INFO, Context, Hit, Rule, Step, cached, first, paths, removes, rule


def _apk_cache(ctx: Context, st: Stage, step: Step) -> Iterator[Hit]:
    c = first(step.cmds, lambda c: c.is_("apk", "add"))
    if (
        c
        and not c.has_flag("--no-cache")
        and not cached(step.ins, "/var/cache/apk")
        and not removes(step.cmds, "/var/cache/apk")
    ):
        yield Hit("IMG103", "apk add without --no-cache keeps the package index in /var/cache/apk", step.ins)


def _fix(ctx: Context, hit: Hit) -> Fix | None:
    return replace_with(
        hit.ins, insert_option(ctx.dockerfile, hit.ins, "apk", "add", "--no-cache"), "apk add --no-cache"
    )


rule(
    Rule(
        "IMG103",
        "apk-no-cache",
        INFO,
        "Use apk add --no-cache.",
        "DL3019",
        paths("var/cache/apk/**"),
        on_run=_apk_cache,
        fix=_fix,
        why="`apk add` without `--no-cache` stores the APKINDEX in /var/cache/apk (a few MB per repository).",
        bad=("FROM alpine:3.20\nRUN apk update && apk add curl\n"),
        good=("FROM alpine:3.20\nRUN apk add --no-cache curl\n"),
        notes="A cache mount on /var/cache/apk or an `rm -rf /var/cache/apk` in the same RUN also satisfies the rule.",
    )
)
