"""pandas DataFrames (pandas is an optional extra: ``pip install imgopt[pandas]``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..analysis import Analysis
from ..analysis.diff import ImageDiff
from ..build.compare import Comparison
from ..build.optimize import Plan
from ..dockerfile.lint import LintReport
from ..encoding import Encoder, register
from ..errors import UsageError
from ..fleet import Fleet
from ..model import FILE

if TYPE_CHECKING:
    import pandas

TABLES = ("layers", "files", "dirs", "waste", "categories")
NAN = float("nan")


def _size(value: int | None) -> float | int:
    """Unknown sizes are NaN, so numeric columns stay numeric."""
    return NAN if value is None else value


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError as e:
        raise UsageError("to_dataframe() needs pandas: pip install 'imgopt[pandas]'") from e
    return pd


def analysis_frame(a: Analysis, table: str = "layers") -> pandas.DataFrame:
    pd = _pandas()
    rows: list[dict[str, Any]]
    if table == "layers":
        rows = [
            {
                "index": lr.index,
                "diff_id": lr.diff_id,
                "size_bytes": lr.size_bytes,
                "compressed_size_bytes": _size(lr.compressed_size_bytes),
                "reclaimable_bytes": lr.reclaimable_bytes,
                "added_files": lr.changes.added_files,
                "modified_files": lr.changes.modified_files,
                "deleted_files": lr.changes.deleted_files,
                "created_by": lr.created_by,
            }
            for lr in a.layers
        ]
    elif table == "files":
        rows = [
            {
                "path": "/" + f.path,
                "size_bytes": f.entry.size,
                "layer": f.layer,
                "mode": f.entry.mode,
                "uid": f.entry.uid,
                "gid": f.entry.gid,
            }
            for f in a.squash.final.values()
            if f.entry.kind == FILE
        ]
    elif table == "dirs":
        from ..analysis.categories import Categorizer
        from ..analysis.tree import directory_tree

        tree = directory_tree(
            a.squash.final.values(),
            a.squash.waste,
            Categorizer(),
            max_children=1 << 30,
            min_share=0.0,
            max_nodes=1 << 30,
        )
        stack = [tree]
        rows = []
        while stack:
            n = stack.pop()
            if n.children or n.path == "/":  # directories only
                rows.append(
                    {
                        "path": n.path,
                        "size_bytes": n.size,
                        "files": n.files,
                        "reclaimable_bytes": n.reclaimable,
                        "category": n.category,
                        "depth": 0 if n.path == "/" else n.path.count("/"),
                    }
                )
                stack.extend(n.children)
        rows.sort(key=lambda r: r["path"])
    elif table == "waste":
        rows = [
            {"path": "/" + w.path, "bytes": w.bytes, "cause": w.cause, "layer": w.layer, "by_layer": w.by_layer}
            for w in a.squash.waste
        ]
    elif table == "categories":
        rows = [
            {
                "category": c.name,
                "final_bytes": c.final_bytes,
                "final_files": c.final_files,
                "wasted_bytes": c.wasted_bytes,
            }
            for c in a.categories
        ]
    else:
        raise UsageError(f"unknown table {table!r}; choose one of {', '.join(TABLES)}")
    return pd.DataFrame(rows)


def plan_frame(p: Plan) -> pandas.DataFrame:
    rows = [
        {
            "target": c.target,
            "status": c.status,
            "size_bytes": _size(c.size_bytes),
            "check_passed": c.check_passed,
            "changes": len(c.variant.changes),
            "warnings": len(c.variant.warnings),
            "reason": c.reason,
        }
        for c in p.candidates
    ]
    return _pandas().DataFrame(rows).set_index("target")


def comparison_frame(c: Comparison) -> pandas.DataFrame:
    from .compare import comparison_rows

    rows = comparison_rows(c)
    return _pandas().DataFrame(rows, columns=["metric", "before", "after", "change"]).set_index("metric")


def diff_frame(d: ImageDiff) -> pandas.DataFrame:
    from .compare import diff_entry

    columns = ["change", "path", "before_size", "after_size", "detail", "delta"]
    rows = [
        dict(row, before_size=_size(row["before_size"]), after_size=_size(row["after_size"]))
        for row in map(diff_entry, d.entries)
    ]
    return _pandas().DataFrame(rows, columns=columns)


def lint_frame(r: LintReport) -> pandas.DataFrame:
    rows = [
        {
            "line": f.line,
            "rule": f.rule,
            "hadolint": f.hadolint,
            "severity": f.severity,
            "bytes": _size(f.bytes),
            "fixable": f.fixable,
            "stage": f.stage,
            "message": f.message,
        }
        for f in r.findings
    ]
    columns = ["line", "rule", "hadolint", "severity", "bytes", "fixable", "stage", "message"]
    return _pandas().DataFrame(rows, columns=columns)


def fleet_frame(f: Fleet, table: str = "images") -> pandas.DataFrame:
    from .fleetfmt import IMAGE_COLUMNS, image_record, layer_record

    pd = _pandas()
    if table == "images":
        rows = [
            {k: (NAN if v is None and k.endswith(("bytes", "efficiency")) else v) for k, v in image_record(r).items()}
            for r in f.images
        ]
        return pd.DataFrame(rows, columns=list(IMAGE_COLUMNS))
    if table == "layers":
        return pd.DataFrame(
            [layer_record(lr) for lr in f.layers], columns=["diff_id", "size_bytes", "images", "saved_by_sharing"]
        )
    raise UsageError(f"unknown table {table!r}; choose images or layers")


_FRAMES: tuple[tuple[type, Callable[..., Any]], ...] = (
    (Analysis, analysis_frame),
    (Plan, plan_frame),
    (Comparison, comparison_frame),
    (ImageDiff, diff_frame),
    (LintReport, lint_frame),
    (Fleet, fleet_frame),
)
for _kind, _fn in _FRAMES:
    register(Encoder(_kind, "dataframe", _fn, cli=False))
