"""The typed Python API."""

from __future__ import annotations

from collections.abc import Callable

from .analysis import Analysis, analyze_image
from .analysis.instructions import Instruction
from .diff import ImageDiff
from .dockerfile.lint import Finding, LintConfig
from .dockerfile.model import Dockerfile
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


def dockerfile_instructions(dockerfile: str | Dockerfile) -> list[Instruction]:
    """The final stage's instructions of a Dockerfile (path, text or parsed), for layer attribution."""
    from .dockerfile import final_stage_instructions

    return [Instruction(i.keyword, i.text, i.line, i.end_line, i.stage) for i in final_stage_instructions(dockerfile)]


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
    instructions = dockerfile_instructions(dockerfile) if dockerfile is not None else None
    image = (
        ref_or_image
        if isinstance(ref_or_image, Image)
        else load(ref_or_image, platform=platform, hash_content=hash_content, progress=progress)
    )
    label = (dockerfile.path or "<text>") if isinstance(dockerfile, Dockerfile) else dockerfile
    return analyze_image(image, top=top, instructions=instructions, dockerfile=label)


def parse_dockerfile(path_or_text: str) -> Dockerfile:
    """Parse a Dockerfile (a path, or text with a newline) into the faithful model."""
    from .dockerfile.parser import parse_dockerfile as _parse

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
    from .dockerfile.lint import lint as _lint

    df = dockerfile if isinstance(dockerfile, Dockerfile) else parse_dockerfile(dockerfile)
    findings = _lint(df, config=config, context=context)
    if image is None:
        return findings
    from .lintcost import quantify

    return list(quantify(findings, analyze(image, dockerfile=df, platform=platform)).findings)


def diff(
    a: str | ImageRef | Image,
    b: str | ImageRef | Image,
    *,
    platform: str | None = None,
    hash_content: bool = False,
) -> ImageDiff:
    """Files added, removed and changed between the final filesystems of two images, largest first."""
    from .diff import diff_images

    def get(x: str | ImageRef | Image) -> Image:
        return x if isinstance(x, Image) else load(x, platform=platform, hash_content=hash_content)

    return diff_images(get(a), get(b))


__all__ = ["analyze", "load", "dockerfile_instructions", "parse_dockerfile", "lint", "diff"]
