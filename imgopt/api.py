"""The typed Python API."""

from __future__ import annotations

from collections.abc import Callable

from .analysis import Analysis, analyze_image
from .analysis.instructions import Instruction
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


def dockerfile_instructions(dockerfile: str) -> list[Instruction]:
    """The final stage's instructions of a Dockerfile (path or text), for layer attribution."""
    from .dockerfile import final_stage_instructions

    return [Instruction(i.keyword, i.text, i.line, i.end_line, i.stage) for i in final_stage_instructions(dockerfile)]


def analyze(
    ref_or_image: str | ImageRef | Image,
    *,
    top: int = 20,
    dockerfile: str | None = None,
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
    return analyze_image(image, top=top, instructions=instructions, dockerfile=dockerfile)


__all__ = ["analyze", "load", "dockerfile_instructions"]
