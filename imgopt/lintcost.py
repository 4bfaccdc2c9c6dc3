"""What each lint finding costs in a built image: findings are tied to layers through the
layer-to-instruction mapping, then measured with the exact layer analysis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .analysis import Analysis
from .analysis.categories import CATEGORIES, Categorizer, compile_globs
from .analysis.squash import DELETED, METADATA_ONLY
from .dockerfile.lint import Finding, with_cost
from .dockerfile.rules import RULES
from .model import FILE
from .report.text import human


@dataclass(frozen=True, slots=True)
class CostReport:
    findings: tuple[Finding, ...]  # sorted by bytes, largest first; unmeasurable ones last
    total_bytes: int  # what fixing all of them would save (each byte counted once)
    unmatched_lines: tuple[int, ...]  # finding lines no layer of the image came from


def quantify(findings: Sequence[Finding], analysis: Analysis) -> CostReport:
    """``analysis`` must come from ``imgopt.analyze(image, dockerfile=...)`` with the same Dockerfile."""
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
    out: list[Finding] = []
    unmatched: list[int] = []
    for f in findings:
        rule = RULES[f.rule]
        layer = layer_of_line.get(f.line)
        if rule.cost == "none":
            out.append(with_cost(f, None, "not measurable from the image"))
            continue
        if layer is None:
            unmatched.append(f.line)
            out.append(with_cost(f, None, f"no layer of the image comes from line {f.line}"))
            continue
        keys: list[tuple[tuple[object, ...], int]] = []
        where = f"{f.rule} at line {f.line} (layer {layer})"
        if rule.cost == "paths":
            rx = compile_globs(rule.cost_paths)
            keys = [((layer, e.path), e.size) for e in layers[layer].entries if e.kind == FILE and rx.match(e.path)]
            dirs = ", ".join("/" + g.removesuffix("/**") for g in rule.cost_paths[:2])
            how = f"left {{}} in {dirs}"
        elif rule.cost == "metadata-only":
            keys = [
                (("w", w.layer, w.path), w.bytes) for w in waste if w.by_layer == layer and w.cause == METADATA_ONLY
            ]
            how = "duplicated {} of files whose content did not change"
        elif rule.cost == "hidden":
            if f.rule == "IMG121":
                keys = [(("w", w.layer, w.path), w.bytes) for w in waste if w.by_layer == layer]
                how = "deleted {} that earlier layers still ship"
            else:
                keys = [(("w", w.layer, w.path), w.bytes) for w in waste if w.layer == layer and w.cause == DELETED]
                how = "shipped {} that a later layer deletes"
        else:  # toolchain
            keys = [
                ((layer, fe.path), fe.entry.size)
                for fe in analysis.squash.final.values()
                if fe.layer == layer and fe.entry.kind == FILE and cat.index(fe.path) == toolchain
            ]
            how = "put {} of compilers, headers and build tools in the final image"
        nbytes = sum(b for _, b in keys)
        for key, b in keys:
            if key not in counted:
                counted.add(key)
                total += b
        out.append(with_cost(f, nbytes, f"{where} {how.format(human(nbytes))}"))
    out.sort(key=lambda f: (f.bytes is None, -(f.bytes or 0), f.line))
    return CostReport(tuple(out), total, tuple(unmatched))
