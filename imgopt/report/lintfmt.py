"""Lint output: text (tabulate), JSON (``imgopt.lint/1``) and SARIF 2.1.0."""

from __future__ import annotations

from typing import Any

from .._version import __version__
from ..dockerfile.lint import Finding, LintReport, Measured
from ..dockerfile.rules import RULES
from ..encoding import Encoder, dumps, register
from ..units import human
from .jsonfmt import json_encoder
from .text import table

LINT_SCHEMA = "imgopt.lint/1"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
DOCS = "https://github.com/imgopt/imgopt/blob/main/docs/rules/{}.md"

_HOW = {
    "metadata-only": "duplicated {} of files whose content did not change",
    "unreachable-by": "deleted {} that earlier layers still ship",
    "deleted-later": "shipped {} that a later layer deletes",
    "toolchain": "put {} of compilers, headers and build tools in the final image",
}


def cost_sentence(f: Finding) -> str | None:
    """How a finding's bytes were measured, in words."""
    m: Measured | None = f.cost
    if m is None:
        return None
    if m.kind == "none":
        return "not measurable from the image"
    if m.kind == "unmatched":
        return f"no layer of the image comes from line {f.line}"
    where = f"{f.rule} at line {f.line} (layer {m.layer})"
    if m.kind == "paths":
        globs = RULES[f.rule].cost.globs
        dirs = ", ".join("/" + g.removesuffix("/**") for g in globs[:2])
        return f"{where} left {human(f.bytes)} in {dirs}"
    return f"{where} {_HOW[m.kind].format(human(f.bytes))}"


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "name": f.name,
        "severity": f.severity,
        "message": f.message,
        "line": f.line,
        "end_line": f.end_line,
        "stage": f.stage,
        "hadolint": f.hadolint,
        "fixable": f.fixable,
        "bytes": f.bytes,
        "cost": cost_sentence(f),
    }


def lint_dict(r: LintReport) -> dict[str, Any]:
    return {
        "schema": LINT_SCHEMA,
        "tool": {"name": "imgopt", "version": __version__},
        "dockerfile": r.dockerfile,
        "image": r.image,
        "findings": [finding_dict(f) for f in r.findings],
        "total_bytes": r.total_bytes,
    }


def lint_text(r: LintReport) -> str:
    path, findings, total_bytes = r.dockerfile, r.findings, r.total_bytes
    if not findings:
        return f"{path}: no findings\n"
    measured = total_bytes is not None
    rows = []
    for f in findings:
        row = [f"{path}:{f.line}", f"{f.rule} ({f.hadolint})" if f.hadolint else f.rule, f.severity, f.message]
        if measured:
            row.insert(3, human(f.bytes) if f.bytes is not None else "-")
        rows.append(row)
    headers = ["where", "rule", "severity", "message"]
    if measured:
        headers.insert(3, "costs")
    out = table(rows, headers)
    if total_bytes is not None:
        out += f"\n\nFixing these would save {human(total_bytes)} ({total_bytes:,} B) in the image."
        details = [f"  {f.rule} line {f.line}: {cost_sentence(f)}" for f in findings if f.bytes]
        if details:
            out += "\n" + "\n".join(details)
    return out + "\n"


def lint_sarif(r: LintReport) -> dict[str, Any]:
    path, findings = r.dockerfile, r.findings
    used = sorted({f.rule for f in findings} | set(RULES))
    index = {rid: i for i, rid in enumerate(used)}
    rules = [
        {
            "id": rid,
            "name": RULES[rid].name,
            "shortDescription": {"text": RULES[rid].summary},
            "helpUri": DOCS.format(rid),
            "defaultConfiguration": {"level": SARIF_LEVEL[RULES[rid].severity]},
            "properties": {"hadolint": RULES[rid].hadolint, "fixable": RULES[rid].fixable},
        }
        for rid in used
    ]
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": SARIF_LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": path},
                        "region": {"startLine": f.line, "endLine": f.end_line},
                    }
                }
            ],
        }
        props: dict[str, Any] = {}
        if f.hadolint:
            props["hadolint"] = f.hadolint
        if f.bytes is not None:
            props["bytes"] = f.bytes
        if props:
            result["properties"] = props
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "imgopt",
                        "version": __version__,
                        "informationUri": "https://github.com/imgopt/imgopt",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }


register(Encoder(LintReport, "text", lint_text))
json_encoder(LintReport, LINT_SCHEMA, lint_dict)
register(Encoder(LintReport, "sarif", lambda r: dumps(lint_sarif(r)), version="2.1.0", document=lint_sarif))
