"""Preloaded (``dask worker --preload``) into one worker of the fleet tests: the first layer blob
it parses kills its own process with SIGKILL, as a machine lost in the middle of a scan. A mark
file says that it happened (the test fails if the worker never got to die)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

from imgopt.sources import archive, registry

MARK = os.environ["IMGOPT_TEST_DEATH_MARK"]


def _dying(real: Callable[..., Any]) -> Callable[..., Any]:
    def parse(*args: Any, **kwargs: Any) -> Any:
        if not os.path.exists(MARK):
            with open(MARK, "w") as f:
                f.write(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    return parse


archive.parse_blob = _dying(archive.parse_blob)  # type: ignore[assignment]
registry.parse_blob = _dying(registry.parse_blob)  # type: ignore[assignment]
