"""pandas DataFrames (pandas is an optional extra: ``pip install imgopt[pandas]``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..model import FILE

if TYPE_CHECKING:
    import pandas

    from ..analysis import Analysis

TABLES = ("layers", "files", "waste", "categories")


def dataframe(a: Analysis, table: str) -> pandas.DataFrame:
    try:
        import pandas as pd
    except ImportError as e:
        raise UsageError("to_dataframe() needs pandas: pip install 'imgopt[pandas]'") from e
    rows: list[dict[str, Any]]
    if table == "layers":
        rows = [
            {
                "index": lr.index,
                "diff_id": lr.diff_id,
                "size_bytes": lr.size_bytes,
                "compressed_size_bytes": lr.compressed_size_bytes,
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
