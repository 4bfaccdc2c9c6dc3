"""A fleet scan's results in SQLite (``imgopt scan --db scan.sqlite``): one row per image (keyed
by reference) and per layer (keyed by diff_id), updated in place by the next scan."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..errors import UsageError
from . import Fleet

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    ref TEXT PRIMARY KEY, digest TEXT, size_bytes INTEGER, compressed_size_bytes INTEGER,
    final_size_bytes INTEGER, reclaimable_bytes INTEGER, reclaimable_by_cause TEXT, efficiency REAL,
    top_category TEXT, base TEXT, shared_layers INTEGER, layers INTEGER, diff_ids TEXT, error TEXT,
    scanned REAL);
CREATE TABLE IF NOT EXISTS layers (
    diff_id TEXT PRIMARY KEY, size_bytes INTEGER, images INTEGER, saved_by_sharing INTEGER);
"""


def write_db(fleet: Fleet, path: str) -> None:
    """Upsert the images and replace the layer table (sharing counts are fleet-wide), in one
    transaction: a reader sees the old results or the new ones."""
    import time

    try:
        db = sqlite3.connect(path, timeout=30)
    except sqlite3.Error as e:
        raise UsageError(f"cannot open the results database {path}: {e}") from e
    try:
        with db:
            db.executescript(_SCHEMA)
            now = time.time()
            rows: list[tuple[Any, ...]] = [
                (
                    r.ref, r.digest, r.size_bytes, r.compressed_size_bytes, r.final_size_bytes, r.reclaimable_bytes,
                    json.dumps(r.reclaimable_by_cause), r.efficiency, r.top_category, r.base, r.shared_layers,
                    r.layers, json.dumps(list(r.diff_ids)), r.error, now,
                )
                for r in fleet.images
            ]  # fmt: skip
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


__all__ = ["write_db"]
