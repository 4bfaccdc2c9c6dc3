"""A fleet scan's results in SQLite (``imgopt scan --db scan.sqlite``): one row per image (keyed
by reference) and per layer (keyed by diff_id), updated in place by the next scan, which reads
them back (:func:`read_db`) to keep the rows of images whose digest did not change."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import fields
from typing import Any

from ..errors import UsageError
from . import Fleet, ImageRow, layer_table


def _kind(annotation: str) -> str:
    """The SQLite type of an ImageRow field (tuples and dicts are stored as JSON text)."""
    return "INTEGER" if annotation.startswith("int") else "REAL" if annotation.startswith("float") else "TEXT"


# the images table follows ImageRow (plus when it was scanned): the schema, the upgrade of older
# files, every insert and every read come from it
_IMAGE_COLUMNS = {f.name: _kind(str(f.type)) for f in fields(ImageRow)} | {"ref": "TEXT PRIMARY KEY", "scanned": "REAL"}
_JSON = tuple(f.name for f in fields(ImageRow) if str(f.type).startswith(("tuple", "dict")))

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS images ({", ".join(f"{c} {t}" for c, t in _IMAGE_COLUMNS.items())});
CREATE TABLE IF NOT EXISTS layers (
    diff_id TEXT PRIMARY KEY, size_bytes INTEGER, images INTEGER, saved_by_sharing INTEGER);
"""
_INSERT = f"INSERT OR REPLACE INTO images ({', '.join(_IMAGE_COLUMNS)}) VALUES ({', '.join('?' * len(_IMAGE_COLUMNS))})"


def _row(r: ImageRow, now: float) -> tuple[Any, ...]:
    record = dict(vars(r), scanned=now)
    for c in _JSON:
        record[c] = json.dumps(record[c])
    return tuple(record[c] for c in _IMAGE_COLUMNS)


def _connect(path: str) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, timeout=30)
        db.executescript(_SCHEMA)
        have = {row[1] for row in db.execute("PRAGMA table_info(images)")}
        for column, kind in _IMAGE_COLUMNS.items():
            if column not in have:  # a file an older imgopt wrote
                db.execute(f"ALTER TABLE images ADD COLUMN {column} {kind}")
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
            db.execute(_INSERT, _row(row, time.time()))
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
            db.executemany(_INSERT, rows)
            db.execute("DELETE FROM layers")
            db.executemany(
                "INSERT INTO layers VALUES (?,?,?,?)",
                [(lr.diff_id, lr.size_bytes, lr.images, lr.saved_by_sharing) for lr in fleet.layers],
            )
    except sqlite3.Error as e:
        raise UsageError(f"cannot write the results database {path}: {e}") from e
    finally:
        db.close()


def read_db(path: str) -> Fleet | None:
    """The results a previous scan left in ``path`` (None when there is no such file): what
    ``scan(previous=...)`` compares digests with."""
    if not os.path.exists(path):
        return None
    db = _connect(path)
    try:
        db.row_factory = sqlite3.Row
        rows = [_image(r) for r in db.execute("SELECT * FROM images ORDER BY ref")]
    except (sqlite3.Error, ValueError, TypeError) as e:
        raise UsageError(f"cannot read the results database {path}: {e}") from e
    finally:
        db.close()
    return Fleet(tuple(rows), layer_table(rows))


def _image(r: sqlite3.Row) -> ImageRow:
    record = {f.name: r[f.name] for f in fields(ImageRow)}
    for c in _JSON:
        record[c] = json.loads(record[c] or ("{}" if c == "reclaimable_by_cause" else "[]"))
    return ImageRow(
        **dict(
            record,
            diff_ids=tuple(str(x) for x in record["diff_ids"]),
            layer_sizes=tuple(int(x) for x in record["layer_sizes"]),
            reclaimable_by_cause={str(k): int(v) for k, v in record["reclaimable_by_cause"].items()},
            shared_layers=record["shared_layers"] or 0,
            base_layers=record["base_layers"] or 0,
            layers=record["layers"] or 0,
        )
    )


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


__all__ = ["read_db", "write_db", "write_parquet", "write_row"]
