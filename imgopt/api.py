"""The typed Python API."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from .analysis import Analysis, analyze_image
from .analysis.diff import ImageDiff, diff_images
from .dockerfile.lint import Finding, LintConfig
from .dockerfile.lint import lint as _lint
from .dockerfile.model import Dockerfile
from .dockerfile.parser import parse_dockerfile as _parse
from .errors import UsageError
from .evidence import layer_instructions, quantify
from .fleet import Fleet, ImageRow
from .fleet import newest as _newest
from .fleet import scan as _scan
from .fleet import select as _select
from .model import Image
from .sources import ImageRef, load_image


def load(
    ref: str | ImageRef,
    *,
    platform: str | None = None,
    hash_content: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Image:
    """Read an image (``docker-archive:``, ``oci:``, ``oci-archive:``, ``docker-daemon:`` or a bare name)."""
    return load_image(ref, platform=platform, hash_content=hash_content, progress=progress)


def analyze(
    ref_or_image: str | ImageRef | Image,
    *,
    top: int = 20,
    dockerfile: str | Dockerfile | None = None,
    platform: str | None = None,
    hash_content: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Analysis:
    """Analyze an image: sizes per layer, the exact final filesystem, reclaimable bytes by cause,
    waste categories, dive-compatible metrics and (with ``dockerfile``) the instruction per layer."""
    df = _parse(dockerfile) if isinstance(dockerfile, str) else dockerfile
    image = (
        ref_or_image
        if isinstance(ref_or_image, Image)
        else load(ref_or_image, platform=platform, hash_content=hash_content, progress=progress)
    )
    if df is None:
        return analyze_image(image, top=top)
    return analyze_image(image, top=top, instructions=layer_instructions(df), dockerfile=df.path or "<text>")


def parse_dockerfile(path_or_text: str) -> Dockerfile:
    """Parse a Dockerfile (a path, or text with a newline) into the faithful model."""
    return _parse(path_or_text)


def lint(
    dockerfile: str | Dockerfile,
    image: str | ImageRef | Image | None = None,
    config: LintConfig | None = None,
    *,
    context: str | None = None,
    platform: str | None = None,
) -> list[Finding]:
    """Size findings for a Dockerfile (path, text or parsed). With ``image`` (built from it), each
    finding carries the bytes it costs there, and they come sorted by that."""
    df = dockerfile if isinstance(dockerfile, Dockerfile) else _parse(dockerfile)
    findings = _lint(df, config=config, context=context)
    if image is None:
        return findings
    return list(quantify(findings, analyze(image, dockerfile=df, platform=platform)).findings)


def diff(
    a: str | ImageRef | Image,
    b: str | ImageRef | Image,
    *,
    platform: str | None = None,
    hash_content: bool = False,
) -> ImageDiff:
    """Files added, removed and changed between the final filesystems of two images, largest first."""

    def get(x: str | ImageRef | Image) -> Image:
        return x if isinstance(x, Image) else load(x, platform=platform, hash_content=hash_content)

    return diff_images(get(a), get(b))


__all__ = ["analyze", "load", "parse_dockerfile", "lint", "diff"]


def scan(
    refs: Iterable[str] = (),
    *,
    registry: str | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    tags: str = "latest",
    jobs: int | None = None,
    on_row: Callable[[ImageRow], None] | None = None,
    scheduler: str | None = None,
    previous: Fleet | None = None,
    resume: bool = False,
) -> Fleet:
    """Analyse many images: ``refs``, and every repository of ``registry`` (``HOST[/PREFIX]``,
    tags as ``tags`` says: ``latest``, ``all`` or the N newest by creation date), filtered by
    ``include``/``exclude`` globs on ``REPO:TAG``. Each shared layer is read once; a failing image
    is a row with its error. ``previous``: an earlier scan's results (``imgopt.fleet.db.read_db``):
    images whose digest is unchanged keep their rows without a layer read; ``resume``: images it
    holds without an error are not even looked at (completing an interrupted scan)."""
    all_refs = list(refs)
    if registry:
        from .sources import current_settings
        from .sources.registry import list_registry

        listed = list_registry(registry, current_settings().registry, tags="latest" if tags == "latest" else "all")
        if tags not in ("latest", "all"):
            if not tags.isdigit():
                raise UsageError(f"tags must be latest, all or a number, not {tags!r}")
            listed = _newest(_select(listed, include, exclude), int(tags), jobs)
        all_refs += listed
    chosen = _select(all_refs, include, exclude)
    return _scan(chosen, jobs=jobs, on_row=on_row, scheduler=scheduler, previous=previous, resume=resume)
