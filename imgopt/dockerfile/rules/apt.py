"""apt (Debian, Ubuntu): package lists and recommended packages."""

from __future__ import annotations

from collections.abc import Iterator

from ..edits import Fix, append_command, insert_option, merge_runs, next_instruction, replace_with, stage_of
from ..model import Stage
from ..shell import run_commands
from .core import INFO, Context, Hit, Rule, Step, cached, first, paths, removes, rule


def _lists_left(ctx: Context, st: Stage, step: Step) -> Iterator[Hit]:
    ins, cmds = step.ins, step.cmds
    update = first(cmds, lambda c: c.is_("apt-get", "update") or c.is_("apt", "update"))
    if (
        update
        and not removes(cmds, "/var/lib/apt/lists")
        and not any(c.is_("apt-get", "dist-clean") or c.is_("apt", "dist-clean") for c in cmds)
        and not cached(ins, "/var/lib/apt/lists")
        and not (cached(ins, "/var/lib/apt") and cached(ins, "/var/cache/apt"))
    ):
        yield Hit(
            "IMG101",
            "apt-get update leaves /var/lib/apt/lists in this layer: add "
            "`&& rm -rf /var/lib/apt/lists/*` to this RUN (or a cache mount)",
            ins,
        )


def _fix_lists(ctx: Context, hit: Hit) -> Fix | None:
    df, ins = ctx.dockerfile, hit.ins
    st = stage_of(df, ins)
    cmds = run_commands(ins)
    installs = any(c.is_("apt-get", "install") or c.is_("apt", "install") for c in cmds)
    if st is not None and not installs:
        nxt = next_instruction(st, ins)
        if nxt is not None and nxt.keyword == "RUN" and any(c.is_("apt-get", "install") for c in run_commands(nxt)):
            edit = merge_runs(df, [ins, nxt])
            if edit is not None:
                return Fix((edit,), f"merged the lone `apt-get update` into the install RUN at line {nxt.line}")
        return None  # deleting the lists right after updating them would break a later install
    # apt-get clean also drops /var/cache/apt/*.bin, which bases without Docker's official
    # apt.conf.d/docker-clean keep (about 2 x 40 MB for Debian's main archive)
    cleaned = any(c.is_("apt-get", "clean") or c.is_("apt", "clean") for c in cmds)
    cleanup = "rm -rf /var/lib/apt/lists/*" if cleaned else "apt-get clean && rm -rf /var/lib/apt/lists/*"
    return replace_with(
        ins, append_command(df, ins, cleanup), "delete the apt lists and caches in the RUN that made them"
    )


rule(
    Rule(
        "IMG101",
        "apt-lists",
        INFO,
        "Delete the apt lists in the RUN that ran apt-get update.",
        "DL3009",
        paths("var/lib/apt/lists/**", "var/cache/apt/*.bin"),
        on_run=_lists_left,
        fix=_fix_lists,
        fix_order=3,
        why=(
            "`apt-get update` downloads the package lists (40–60 MB on Debian/Ubuntu) into "
            "/var/lib/apt/lists. Unless the same RUN deletes them, they are committed into that layer; a "
            "later `rm` cannot take them out of it."
        ),
        bad=("FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y --no-install-recommends curl\n"),
        good=(
            "FROM debian:bookworm-slim\n"
            "RUN apt-get update \\\n"
            " && apt-get install -y --no-install-recommends curl \\\n"
            " && rm -rf /var/lib/apt/lists/*\n"
        ),
        notes=(
            "A cache mount on /var/lib/apt/lists (or on both /var/lib/apt and /var/cache/apt) silences the "
            "rule: the lists then never enter a layer. Any `rm -r` of /var/lib/apt/lists (with or without "
            "`/*`) counts as cleanup."
        ),
    )
)


def _recommends(ctx: Context, st: Stage, step: Step) -> Iterator[Hit]:
    for c in step.cmds:
        if (
            c.is_("apt-get", "install")
            and not c.has_flag("--no-install-recommends")
            and not any("Install-Recommends=false" in w or "Install-Recommends=0" in w for w in c.words)
        ):
            yield Hit(
                "IMG102", "apt-get install without --no-install-recommends pulls in recommended packages", step.ins
            )
            return


def _fix_recommends(ctx: Context, hit: Hit) -> Fix | None:
    text = insert_option(ctx.dockerfile, hit.ins, r"apt-get", "install", "--no-install-recommends")
    return replace_with(hit.ins, text, "apt-get install --no-install-recommends")


rule(
    Rule(
        "IMG102",
        "apt-no-install-recommends",
        INFO,
        "Install apt packages with --no-install-recommends.",
        "DL3015",
        on_run=_recommends,
        fix=_fix_recommends,
        alters_packages=True,  # recommended packages may be what the software needs (cmake -> make)
        why=(
            "Recommended packages are often documentation, GUIs or optional plugins; on Debian-based "
            "images they commonly double the install size."
        ),
        bad="RUN apt-get update && apt-get install -y python3 && rm -rf /var/lib/apt/lists/*\n",
        good=(
            "RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*\n"
        ),
        notes=(
            "`-o APT::Install-Recommends=false` is accepted too. With --image the cost is not measurable: "
            "recommended packages are indistinguishable from requested ones in the layer."
        ),
    )
)
