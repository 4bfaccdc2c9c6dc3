"""Evidence: where a Dockerfile meets the image built from it.

The rooms below it stay apart (``analysis`` knows images, ``dockerfile`` knows text); this room joins
them: which instruction made which layer, what each lint finding costs in bytes, and (later) which
layer made which bytes unreachable and what the program needs at run time. Pure: loaded images and
parsed Dockerfiles in, records out.
"""

from __future__ import annotations

from .cost import CostReport, quantify
from .instructions import analyze_with, layer_instructions

__all__ = ["CostReport", "analyze_with", "layer_instructions", "quantify"]
