"""Lint output: text (tabulate), JSON (``imgopt.lint/1``) and SARIF 2.1.0."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .. import __version__
from ..dockerfile.lint import Finding
from ..dockerfile.rules import RULES
from .text import _table, human

LINT_SCHEMA = "imgopt.lint/1"
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
DOCS = "https://github.com/imgopt/imgopt/blob/main/docs/rules/{}.md"


def lint_to_dict(
    path: str, findings: Sequence[Finding], total_bytes: int | None = None, image: str | None = None
) -> dict[str, Any]:
    return {
        "schema": LINT_SCHEMA,
        "tool": {"name": "imgopt", "version": __version__},
        "dockerfile": path,
        "image": image,
        "findings": [f.to_dict() for f in findings],
        "total_bytes": total_bytes,
    }


def lint_text(path: str, findings: Sequence[Finding], total_bytes: int | None = None) -> str:
    if not findings:
        return f"{path}: no findings\n"
    measured = total_bytes is not None
    rows = []
    for f in findings:
        row = [f"{path}:{f.line}", f.rule, f.severity, f.message]
        if measured:
            row.insert(3, human(f.bytes) if f.bytes is not None else "-")
        rows.append(row)
    headers = ["where", "rule", "severity", "message"]
    if measured:
        headers.insert(3, "costs")
    out = _table(rows, headers)
    if measured:
        out += f"\n\nFixing these would save {human(total_bytes)} ({total_bytes:,} B) in the image."
        details = [f"  {f.rule} line {f.line}: {f.cost}" for f in findings if f.bytes]
        if details:
            out += "\n" + "\n".join(details)
    return out + "\n"


def lint_sarif(path: str, findings: Sequence[Finding]) -> dict[str, Any]:
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
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
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


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2) + "\n"
