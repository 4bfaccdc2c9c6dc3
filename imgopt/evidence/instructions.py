"""The instructions behind an image's layers: the one conversion from the Dockerfile model to the
analysis' attribution input (``analysis.instructions.Instruction``)."""

from __future__ import annotations

from ..analysis import Analysis, analyze_image
from ..analysis.instructions import Instruction
from ..dockerfile.model import Dockerfile
from ..model import Image


def layer_instructions(df: Dockerfile) -> list[Instruction]:
    """The instructions whose history entries end up in the final image, in order: the final
    stage's, preceded by those of the stages it is built FROM. Heredoc bodies belong to the text,
    as they do in BuildKit's history."""
    reaching = df.reaching_final()
    out: list[Instruction] = []
    for stage in df.stages:
        if stage.index not in reaching:
            continue
        label = stage.name or str(stage.index)
        for ins in stage.instructions:
            text = ins.args if not ins.heredocs else ins.args + "\n" + "".join(h.body for h in ins.heredocs)
            out.append(Instruction(ins.keyword, text, ins.line, ins.end_line, label))
    return out


def analyze_with(image: Image, df: Dockerfile, *, top: int = 20) -> Analysis:
    """Analyze ``image`` with each layer attributed to the instruction of ``df`` that made it."""
    return analyze_image(image, top=top, instructions=layer_instructions(df), dockerfile=df.path or "<text>")


__all__ = ["analyze_with", "layer_instructions"]
