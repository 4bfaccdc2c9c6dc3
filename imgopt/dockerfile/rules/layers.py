"""Layers: merging RUNs, clean-ups in their own layer, downloads deleted later, archives copied then
extracted, whole filesystems copied between stages, and too many layers."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from ..edits import Fix, merge_runs, previous_instruction, span, stage_of
from ..model import Instruction
from ..shell import Command, commands, run_script
from .core import INFO, WARNING, Context, Cost, Hit, Rule, StageView, abspath, copy_args, rule


def _consecutive(ctx: Context, view: StageView) -> Iterator[Hit]:
    """DL3059: consecutive RUNs with the same flags, each a single command (a chain shows intent).
    Only comments keep RUNs consecutive, as in hadolint."""
    prev: tuple[tuple[str, ...], int] | None = None
    for step in view.steps:
        ins = step.ins
        if ins.keyword != "RUN":
            prev = None
            continue
        flags = tuple(sorted(f"{f.name}={f.value}" for f in ins.flags))
        n_top = len(commands(run_script(ins), expand_shells=False))
        if prev is not None and prev[0] == flags and n_top <= 1 and prev[1] <= 1:
            yield Hit("IMG109", "consecutive RUN instructions: merge them with && into one layer", ins)
        prev = (flags, n_top)


def _merge_with_previous(ctx: Context, hit: Hit, what: str) -> Fix | None:
    """The flagged RUN merged into the RUN right before it (``what`` names that line: ``{line}``)."""
    st = stage_of(ctx.dockerfile, hit.ins)
    prev = previous_instruction(st, hit.ins) if st else None
    if prev is None or prev.keyword != "RUN":
        return None
    edit = merge_runs(ctx.dockerfile, [prev, hit.ins])
    return None if edit is None else Fix((edit,), what.format(line=prev.line))


def _fix_consecutive(ctx: Context, hit: Hit) -> Fix | None:
    return _merge_with_previous(ctx, hit, "merged with the RUN at line {line}: one layer instead of two")


rule(
    Rule(
        "IMG109",
        "consecutive-run",
        INFO,
        "Merge consecutive RUN instructions.",
        "DL3059",
        on_stage=_consecutive,
        fix=_fix_consecutive,
        fix_order=4,
        why=(
            "Every RUN is a layer. Single-command RUNs in a row add layer overhead and prevent cleanup of "
            "one step's leftovers in the next."
        ),
        bad=("RUN apt-get update\nRUN apt-get install -y curl\n"),
        good="RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n",
        notes=(
            "As hadolint: only RUNs with the same flags, each a single command, are flagged; comments "
            "between them do not break the sequence, any other instruction does. `sh -c '...'` counts as "
            "one command here."
        ),
    )
)

ARCHIVE_EXT = (
    ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".zip", ".tar.zst", ".gz", ".bz2",
    ".xz", ".7z", ".rar", ".deb", ".rpm", ".whl", ".jar",
)  # fmt: skip
UNPACKERS = frozenset({"unzip", "gunzip", "bunzip2", "unxz", "zcat", "gzcat", "uncompress", "unlzma", "zgz"})


def _extracts(c: Command, name: str) -> bool:
    """``tar -x``/``--extract`` or an unpacker with the archive (by basename) among its arguments."""
    tar_x = c.name == "tar" and any(
        (w.startswith("-") and not w.startswith("--") and "x" in w) or w in ("--extract", "--get") for w in c.args
    )
    if not (tar_x or c.name in UNPACKERS):
        return False
    return name in [posixpath.basename(w.strip("\"'")) for w in c.args if not w.startswith("-")]


def _copied_archives(ctx: Context, view: StageView) -> Iterator[Hit]:
    archives: list[tuple[Instruction, str]] = []
    for step in view.steps:
        args = copy_args(step)
        if args is not None and step.ins.keyword == "COPY" and step.ins.flag("from") is None:
            archives += [(step.ins, posixpath.basename(s)) for s in args.sources if s.lower().endswith(ARCHIVE_EXT)]
        if step.ins.keyword == "RUN":
            for arc_ins, name in archives:
                if any(_extracts(c, name) for c in step.cmds):
                    yield Hit(
                        "IMG111",
                        f"{name} is COPYed and extracted in a later RUN: ADD extracts it in one step "
                        "(or fetch and extract in one RUN)",
                        arc_ins,
                    )


rule(
    Rule(
        "IMG111",
        "copy-archive-then-extract",
        INFO,
        "ADD extracts a local archive; COPY then tar -x ships it twice.",
        "DL3010",
        on_stage=_copied_archives,
        fix_doc="none automatic: ADD extracts differently from `tar` flags (ownership, --strip-components); "
        "rewrite by hand",
        why=(
            "COPY puts the archive into one layer and extracting it in a RUN puts the contents into "
            "another: the archive ships in the image. ADD extracts local tar archives in a single step."
        ),
        bad=("COPY app.tar.gz /tmp/\nRUN tar -xzf /tmp/app.tar.gz -C /opt && rm /tmp/app.tar.gz\n"),
        good="ADD app.tar.gz /opt/\n",
        notes=(
            "With BuildKit, `RUN --mount=type=bind,source=app.tar.gz,target=/tmp/app.tar.gz tar -xzf ...` "
            "avoids the copy entirely."
        ),
    )
)


def _whole_filesystem(ctx: Context, view: StageView) -> Iterator[Hit]:
    for step in view.steps:
        args = copy_args(step)
        src_stage = step.ins.flag("from")
        if args is not None and src_stage is not None and args.sources == ("/",) and args.dest.strip("\"'") == "/":
            yield Hit(
                "IMG112",
                f"COPY --from={src_stage.value} / / copies a whole filesystem, with every "
                "package cache and doc in it; copy only the artifacts",
                step.ins,
            )


rule(
    Rule(
        "IMG112",
        "copy-whole-filesystem",
        WARNING,
        "Do not copy an entire filesystem from another stage.",
        "DL3067",
        on_stage=_whole_filesystem,
        fix_doc="none (needs a human decision)",
        why=(
            "`COPY --from=stage / /` copies the whole filesystem of the other stage, caches and docs "
            "included, defeating the point of a multi-stage build."
        ),
        bad=(
            "FROM debian:bookworm AS rootfs\n"
            "RUN apt-get update && apt-get install -y curl\n"
            "FROM scratch\n"
            "COPY --from=rootfs / /\n"
        ),
        good=(
            "FROM debian:bookworm-slim\n"
            "RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf "
            "/var/lib/apt/lists/*\n"
        ),
    )
)

CLEANUP_TOOLS = frozenset(
    {"rm", "apt-get", "apt", "yum", "dnf", "apk", "find", "true", "set", "npm", "yarn", "conda", "pip"}
)


def _is_cleanup(c: Command) -> bool:
    return (
        c.is_("apt-get", "clean", "autoclean", "autoremove", "purge", "dist-clean")
        or c.is_("apt", "clean", "autoremove", "dist-clean")
        or c.is_("yum", "clean")
        or c.is_("dnf", "clean")
        or c.is_("apk", "del", "cache")
        or c.is_("npm", "cache")
        or c.is_("yarn", "cache")
        or c.is_("conda", "clean")
        or c.is_("pip", "cache")
        or (c.name == "find" and "-delete" in c.words)
        or c.name in ("true", "set")
    )


def _separate_cleanup(ctx: Context, view: StageView) -> Iterator[Hit]:
    for step in view.steps:
        cmds = step.cmds
        if (
            step.ins.keyword == "RUN"
            and cmds
            and not step.ins.flags
            and all(c.name in CLEANUP_TOOLS and (c.name == "rm" or _is_cleanup(c)) for c in cmds)
            and any(c.name == "rm" or _is_cleanup(c) for c in cmds)
        ):
            yield Hit(
                "IMG121",
                "this RUN only deletes files: earlier layers still ship them; delete them in the RUN that creates them",
                step.ins,
            )


def _fix_separate_cleanup(ctx: Context, hit: Hit) -> Fix | None:
    # after a COPY (or first in the stage) only a different build can drop the files
    return _merge_with_previous(ctx, hit, "moved the cleanup into the RUN at line {line} that creates the files")


rule(
    Rule(
        "IMG121",
        "separate-cleanup",
        WARNING,
        "A RUN that only deletes files cannot make the image smaller.",
        cost=Cost("unreachable-by"),
        on_stage=_separate_cleanup,
        fix=_fix_separate_cleanup,
        fix_order=2,
        why=(
            "A RUN that only deletes files adds a layer of whiteouts: the files it deletes are still "
            "shipped in the layers below it. docker-slim reports this as a separate `rm` that hides "
            "nothing."
        ),
        bad=(
            "RUN apt-get update && apt-get install -y --no-install-recommends curl\n"
            "RUN apt-get clean && rm -rf /var/lib/apt/lists/*\n"
        ),
        good=(
            "RUN apt-get update && apt-get install -y --no-install-recommends curl \\\n"
            " && rm -rf /var/lib/apt/lists/*\n"
        ),
        notes="With --image the cost is what this layer deletes from the layers below: bytes still shipped.",
    )
)


def _fetched_files(c: Command, workdir: str) -> list[str]:
    out = []
    if c.name in ("wget", "curl"):
        for i, w in enumerate(c.words):
            if w in ("-O", "-o", "--output", "--output-document") and i + 1 < len(c.words) and c.words[i + 1] != "-":
                out.append(abspath(workdir, c.words[i + 1]))
            elif w.startswith(("--output-document=", "--output=")):
                out.append(abspath(workdir, w.split("=", 1)[1]))
        if c.name == "wget" and not out:
            urls = [w for w in c.positional() if "://" in w]
            out += [abspath(workdir, posixpath.basename(u)) for u in urls]
    return out


def _downloads_deleted(ctx: Context, view: StageView) -> Iterator[Hit]:
    downloads: list[tuple[Instruction, str]] = []  # (instruction, path of a fetched/added file)
    for step in view.steps:
        ins = step.ins
        args = copy_args(step)
        if args is not None and ins.flag("from") is None:
            for s in args.sources:
                if s.startswith(("http://", "https://")):
                    target = (
                        posixpath.join(args.dest_abs, posixpath.basename(s))
                        if args.dest.endswith("/")
                        else args.dest_abs
                    )
                    downloads.append((ins, target))
                elif s.lower().endswith(ARCHIVE_EXT) and ins.keyword == "COPY":
                    into = args.dest.endswith("/") or len(args.sources) > 1
                    downloads.append(
                        (ins, posixpath.join(args.dest_abs, posixpath.basename(s)) if into else args.dest_abs)
                    )
        if ins.keyword != "RUN":
            continue
        for c in step.cmds:
            downloads += [(ins, t) for t in _fetched_files(c, step.workdir)]
        deleted = [abspath(step.workdir, w) for c in step.cmds if c.name == "rm" for w in c.positional()]
        for d_ins, target in downloads:
            if d_ins is ins:
                continue
            if any(target == d or target.startswith(d.rstrip("/*") + "/") for d in deleted):
                yield Hit(
                    "IMG141",
                    f"{target} is deleted at line {ins.line} but still shipped in this layer: "
                    "fetch, use and delete it in one RUN",
                    d_ins,
                    related=ins.line,
                )


def _fix_downloads_deleted(ctx: Context, hit: Hit) -> Fix | None:
    df, ins = ctx.dockerfile, hit.ins
    st = stage_of(df, ins)
    if hit.related is None or st is None or ins.keyword != "RUN":
        return None
    deleting = next((x for x in st.instructions if x.line == hit.related), None)
    if deleting is None:
        return None
    edit = merge_runs(df, span(st, ins, deleting))
    if edit is None:
        return None
    return Fix((edit,), f"fetch, use and delete in one RUN (lines {ins.line}-{deleting.end_line} merged)")


rule(
    Rule(
        "IMG141",
        "download-deleted-later",
        WARNING,
        "A download or archive added in one layer and deleted in a later one is still shipped.",
        cost=Cost("deleted-later"),
        on_stage=_downloads_deleted,
        fix=_fix_downloads_deleted,
        fix_order=1,
        why=(
            "A file downloaded (wget/curl -o, ADD URL) or COPYed in one layer and deleted in a later one "
            "is still shipped in the first layer."
        ),
        bad=(
            "RUN wget -O /tmp/node.tar.xz "
            "https://nodejs.org/dist/v20.11.0/node-v20.11.0-linux-x64.tar.xz\n"
            "RUN tar -xJf /tmp/node.tar.xz -C /usr/local --strip-components=1\n"
            "RUN rm /tmp/node.tar.xz\n"
        ),
        good=(
            "RUN wget -O /tmp/node.tar.xz https://nodejs.org/dist/v20.11.0/node-v20.11.0-linux-x64.tar.xz "
            "\\\n"
            " && tar -xJf /tmp/node.tar.xz -C /usr/local --strip-components=1 \\\n"
            " && rm /tmp/node.tar.xz\n"
        ),
        notes=(
            "Reported at the instruction that brought the file in. With --image the cost is what that "
            "layer ships and a later layer deletes."
        ),
    )
)


def _too_many_layers(ctx: Context, view: StageView) -> Iterator[Hit]:
    df = ctx.dockerfile
    if view.stage.index != len(df.stages) - 1:
        return
    total = sum(
        1 for s in df.stages if s.index in ctx.reaching for i in s.instructions if i.keyword in ("RUN", "COPY", "ADD")
    )
    if total > ctx.max_layers:
        yield Hit(
            "IMG122",
            f"{total} layer-creating instructions in the final image (limit {ctx.max_layers}): merge RUNs and COPYs",
            view.stage.from_instruction,
        )


rule(
    Rule(
        "IMG122",
        "too-many-layers",
        INFO,
        "Too many layers in the final image.",
        on_stage=_too_many_layers,
        fix_doc="none (needs a human decision)",
        why=(
            "Every layer costs metadata, a tar stream and a mount; more than a few dozen layers slow pulls "
            "and builds (overlayfs has a hard limit of 128). docker-slim flags too many layers."
        ),
        bad=("COPY a /a\nCOPY b /b\n# ... 30 more\n"),
        good="COPY a b /dest/\n",
        notes=(
            "The limit (default 30 layer-creating instructions in the stages that reach the final image) "
            "is `max-layers` in the configuration."
        ),
    )
)
