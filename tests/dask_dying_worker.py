"""A worker that dies: the first layer blob any such worker parses kills its own process with
SIGKILL, as a machine lost (or a process killed for memory) in the middle of a scan. A mark file
(``$IMGOPT_TEST_DEATH_MARK``) says that it happened (the tests fail if no worker got to die).

Preloaded into one worker of a Dask cluster (``dask worker --preload``: :func:`dask_setup`), and
run first in every process of the local pool (``imgopt.fleet._worker_init``: :func:`die_once`)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any


def _dying(real: Callable[..., Any], mark: str) -> Callable[..., Any]:
    def parse(*args: Any, **kwargs: Any) -> Any:
        try:
            fd = os.open(mark, os.O_WRONLY | os.O_CREAT | os.O_EXCL)  # one death among all the processes
        except FileExistsError:
            return real(*args, **kwargs)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("not reached")

    return parse


def die_once() -> None:
    from imgopt.sources import archive, registry

    mark = os.environ["IMGOPT_TEST_DEATH_MARK"]
    archive.parse_blob = _dying(archive.parse_blob, mark)  # type: ignore[assignment]
    registry.parse_blob = _dying(registry.parse_blob, mark)  # type: ignore[assignment]


def dask_setup(worker: object) -> None:
    die_once()
