"""A fleet scan's results in SQLite (``imgopt scan --db scan.sqlite``): one row per image (keyed
by reference) and per layer (keyed by diff_id), updated in place by the next scan."""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

from ..errors import UsageError
from . import Fleet, ImageRow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    ref TEXT PRIMARY KEY, digest TEXT, size_bytes INTEGER, compressed_size_bytes INTEGER,
    final_size_bytes INTEGER, reclaimable_bytes INTEGER, reclaimable_by_cause TEXT, efficiency REAL,
    top_category TEXT, base TEXT, shared_layers INTEGER, layers INTEGER, diff_ids TEXT, error TEXT,
    scanned REAL);
CREATE TABLE IF NOT EXISTS layers (
    diff_id TEXT PRIMARY KEY, size_bytes INTEGER, images INTEGER, saved_by_sharing INTEGER);
"""


def _row(r: ImageRow, now: float) -> tuple[Any, ...]:
    return (
        r.ref, r.digest, r.size_bytes, r.compressed_size_bytes, r.final_size_bytes, r.reclaimable_bytes,
        json.dumps(r.reclaimable_by_cause), r.efficiency, r.top_category, r.base, r.shared_layers,
        r.layers, json.dumps(list(r.diff_ids)), r.error, now,
    )  # fmt: skip


def _connect(path: str) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, timeout=30)
        db.executescript(_SCHEMA)
        return db
    except sqlite3.Error as e:
        raise UsageError(f"cannot open the results database {path}: {e}") from e


def write_row(row: ImageRow, path: str) -> None:
    """One image as soon as it is done: an interrupted scan leaves every finished image behind,
    and ``--resume`` skips them."""
    import time

    db = _connect(path)
    try:
        with db:
            db.execute("INSERT OR REPLACE INTO images VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", _row(row, time.time()))
    except sqlite3.Error as e:
        raise UsageError(f"cannot write the results database {path}: {e}") from e
    finally:
        db.close()


def write_db(fleet: Fleet, path: str) -> None:
    """Upsert the images (with their bases, known once all are done) and replace the layer table
    (sharing counts are fleet-wide), in one transaction: a reader sees the old results or the new."""
    import time

    db = _connect(path)
    try:
        with db:
            now = time.time()
            rows = [_row(r, now) for r in fleet.images]
            db.executemany("INSERT OR REPLACE INTO images VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            db.execute("DELETE FROM layers")
            db.executemany(
                "INSERT INTO layers VALUES (?,?,?,?)",
                [(lr.diff_id, lr.size_bytes, lr.images, lr.saved_by_sharing) for lr in fleet.layers],
            )
    except sqlite3.Error as e:
        raise UsageError(f"cannot write the results database {path}: {e}") from e
    finally:
        db.close()


def done_refs(path: str) -> set[str]:
    """References a previous (possibly interrupted) scan already wrote without an error."""
    if not os.path.exists(path):
        return set()
    try:
        with sqlite3.connect(path, timeout=30) as db:
            return {r for (r,) in db.execute("SELECT ref FROM images WHERE error IS NULL")}
    except sqlite3.Error as e:
        raise UsageError(f"cannot read the results database {path}: {e}") from e


def write_parquet(fleet: Fleet, directory: str) -> None:
    """images.parquet and layers.parquet in ``directory`` (pandas and pyarrow: ``imgopt[parquet]``)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError as e:
        raise UsageError("Parquet output needs pyarrow: pip install 'imgopt[parquet]'") from e
    os.makedirs(directory, exist_ok=True)
    for table in ("images", "layers"):
        frame = fleet.to_dataframe(table)
        tmp = os.path.join(directory, f".{table}.parquet.partial")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, os.path.join(directory, f"{table}.parquet"))


__all__ = ["done_refs", "write_db", "write_parquet", "write_row"]
