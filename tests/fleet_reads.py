"""Counts the layer blobs parsed, in this process and in a fleet scan's worker processes: each
parse appends the blob's name to the file ``$IMGOPT_TEST_READS`` names (the pool's workers run
:func:`count` first, as ``imgopt.fleet._worker_init``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def _counting(real: Callable[..., Any], path: str) -> Callable[..., Any]:
    def parse(src: object, size: int, name: str, *args: object) -> Any:
        with open(path, "a") as f:  # one short write per line: lines of processes never interleave
            f.write(name + "\n")
        return real(src, size, name, *args)

    return parse


def count() -> None:
    """Count this process's parses from now on."""
    from imgopt.sources import archive, registry

    path = os.environ["IMGOPT_TEST_READS"]
    for module in (archive, registry):
        module.parse_blob = _counting(module.parse_blob, path)  # type: ignore[assignment]


def counting_here() -> Callable[[], None]:
    """Count this process's parses until the returned function is called."""
    from imgopt.sources import archive, registry

    real = {m: m.parse_blob for m in (archive, registry)}
    count()

    def restore() -> None:
        for module, fn in real.items():
            module.parse_blob = fn  # type: ignore[method-assign]

    return restore
