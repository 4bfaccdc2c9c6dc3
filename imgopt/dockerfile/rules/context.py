"""The build context: a missing .dockerignore, and ``COPY .`` of everything in it."""

from __future__ import annotations

from collections.abc import Iterator

from .core import WARNING, Context, Hit, Rule, StageView, copy_args, paths, rule


def _reads_context(ctx: Context) -> bool:
    """Whether any COPY or ADD takes files from the build context (not --from a stage or image,
    not a URL or git source of ADD)."""
    for stage in ctx.dockerfile.stages:
        for ins in stage.instructions:
            if ins.keyword not in ("COPY", "ADD") or ins.flag("from") is not None:
                continue
            if ins.heredocs:
                continue  # COPY <<EOF: the text is in the Dockerfile
            words = list(ins.json_args) if ins.json_args else ins.args.split()
            sources = [w for w in words[:-1] if not w.startswith("--")]
            if any(not w.startswith(("http://", "https://", "git@")) for w in sources):
                return True
    return False


def _no_dockerignore(ctx: Context) -> Iterator[Hit]:
    if ctx.has_context and not ctx.dockerignore and _reads_context(ctx):
        what = "no .dockerignore" if ctx.dockerignore is None else "the .dockerignore is empty"
        yield Hit(
            "IMG120",
            f"{what}: the whole build context (.git, node_modules, build output) is sent "
            "to the builder and can be COPYed in",
            ctx.dockerfile.stages[0].from_instruction,
        )


rule(
    Rule(
        "IMG120",
        "dockerignore-missing",
        WARNING,
        "Add a .dockerignore to the build context.",
        on_file=_no_dockerignore,
        dockerignore_fix=True,
        why=(
            "Without a .dockerignore the whole build context — .git, node_modules, build output, local "
            "secrets — is sent to the builder, and `COPY .` puts it into the image. docker-slim reports "
            "the same."
        ),
        bad=("# (no .dockerignore next to the Dockerfile)\nCOPY . /app\n"),
        good=("# .dockerignore:\n# .git\n# node_modules\n# **/__pycache__\nCOPY . /app\n"),
        notes=(
            "Checked only when the build context is known (`imgopt lint` uses the Dockerfile's directory "
            "unless `--context` says otherwise) and some COPY or ADD takes files from it (a Dockerfile that "
            "only copies `--from` stages or fetches URLs sends nothing that matters); an empty "
            ".dockerignore counts as missing."
        ),
    )
)

VCS_JUNK = (".git", "node_modules")


def ignores_vcs(patterns: tuple[str, ...] | None) -> bool:
    if not patterns:
        return False
    norm = {p.strip().lstrip("/").rstrip("/") for p in patterns if p.strip() and not p.startswith("#")}
    if "*" in norm or "**" in norm:
        return True
    return all(any(p in (junk, f"**/{junk}", f"{junk}/**", f"**/{junk}/**") for p in norm) for junk in VCS_JUNK)


def _copy_everything(ctx: Context, view: StageView) -> Iterator[Hit]:
    if not ctx.has_context or ignores_vcs(ctx.dockerignore):
        return
    for step in view.steps:
        args = copy_args(step)
        if args is not None and step.ins.flag("from") is None and args.sources in ((".",), ("./",)):
            yield Hit(
                "IMG144",
                "COPY . copies the whole build context, and no .dockerignore excludes .git and node_modules",
                step.ins,
            )


rule(
    Rule(
        "IMG144",
        "copy-context-unfiltered",
        WARNING,
        "COPY . without a .dockerignore that excludes .git, node_modules and friends.",
        cost=paths("**/.git/**", "**/node_modules/**"),
        on_stage=_copy_everything,
        dockerignore_fix=True,
        why=(
            "`COPY .` copies everything in the build context that .dockerignore does not exclude: a .git "
            "directory or a node_modules tree easily weighs more than the application."
        ),
        bad=("# .dockerignore missing or without .git and node_modules\nCOPY . .\n"),
        good=("# .dockerignore:\n# .git\n# node_modules\nCOPY . .\n"),
        notes=(
            "Checked only when the build context is known. With --image the cost is the bytes under .git "
            "and node_modules in that layer."
        ),
    )
)
