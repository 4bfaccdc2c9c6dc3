"""What each lint finding costs in a built image: findings are tied to layers through the
layer-to-instruction mapping, then measured with the exact layer analysis, the way each rule's
:class:`~imgopt.dockerfile.rules.Cost` says."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..analysis import Analysis
from ..analysis.categories import CATEGORIES, Categorizer, compile_globs
from ..analysis.squash import DELETED, METADATA_ONLY
from ..dockerfile.lint import Finding, Measured, with_cost
from ..dockerfile.rules import RULES
from ..model import FILE


@dataclass(frozen=True, slots=True)
class CostReport:
    findings: tuple[Finding, ...]  # sorted by bytes, largest first; unmeasurable ones last
    total_bytes: int  # what fixing all of them would save (each byte counted once)
    unmatched_lines: tuple[int, ...]  # finding lines no layer of the image came from
    paths: tuple[frozenset[str], ...] = ()  # per finding (same order): the image paths its bytes are in


def quantify(findings: Sequence[Finding], analysis: Analysis) -> CostReport:
    """``analysis`` must come from an image built from the linted Dockerfile, analysed with it
    (``imgopt.analyze(image, dockerfile=...)``)."""
    layer_of_line: dict[int, int] = {}
    for lr in analysis.layers:
        att = lr.instruction
        if att is not None and att.instruction is not None:
            layer_of_line[att.instruction.line] = lr.index
    layers = analysis.image.layers
    waste = analysis.squash.waste
    toolchain = next(i for i, c in enumerate(CATEGORIES) if c[0] == "toolchain")
    cat = Categorizer()
    counted: set[tuple[object, ...]] = set()
    total = 0
    out: list[tuple[Finding, frozenset[str]]] = []
    unmatched: list[int] = []
    for f in findings:
        cost = RULES[f.rule].cost
        layer = layer_of_line.get(f.line)
        if cost.kind == "none":
            out.append((with_cost(f, None, Measured("none", None)), frozenset()))
            continue
        if layer is None:
            unmatched.append(f.line)
            out.append((with_cost(f, None, Measured("unmatched", None)), frozenset()))
            continue
        keys: list[tuple[tuple[object, ...], int]]
        if cost.kind == "paths":
            rx = compile_globs(cost.globs)
            keys = [((layer, e.path), e.size) for e in layers[layer].entries if e.kind == FILE and rx.match(e.path)]
        elif cost.kind == "metadata-only":
            keys = [
                (("w", w.layer, w.path), w.bytes) for w in waste if w.by_layer == layer and w.cause == METADATA_ONLY
            ]
        elif cost.kind == "unreachable-by":
            keys = [(("w", w.layer, w.path), w.bytes) for w in waste if w.by_layer == layer]
        elif cost.kind == "deleted-later":
            keys = [(("w", w.layer, w.path), w.bytes) for w in waste if w.layer == layer and w.cause == DELETED]
        elif cost.kind == "toolchain":
            keys = [
                ((layer, fe.path), fe.entry.size)
                for fe in analysis.squash.final.values()
                if fe.layer == layer and fe.entry.kind == FILE and cat.index(fe.path) == toolchain
            ]
        else:  # pragma: no cover - Cost kinds are a closed set
            raise ValueError(f"unknown cost kind {cost.kind!r}")
        nbytes = sum(b for _, b in keys)
        for key, b in keys:
            if key not in counted:
                counted.add(key)
                total += b
        out.append((with_cost(f, nbytes, Measured(cost.kind, layer)), frozenset(str(k[-1]) for k, _ in keys)))
    out.sort(key=lambda t: (t[0].bytes is None, -(t[0].bytes or 0), t[0].line))
    return CostReport(tuple(f for f, _ in out), total, tuple(unmatched), tuple(p for _, p in out))


__all__ = ["CostReport", "quantify"]
