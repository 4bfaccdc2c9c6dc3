"""How ``compare`` and ``optimize`` build and check: one options object instead of eight keywords."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BuildOptions:
    """Settings shared by every build-and-check run.

    ``context``: the build context directory (default: the Dockerfile's directory).
    ``checks``: commands (POSIX quoting) that must exit 0 in both images; empty: each image runs its
    own ENTRYPOINT/CMD and exit code and stdout must match.
    ``timeout``: seconds per check run; ``build_timeout``: seconds per build.
    ``nocache``: build without the layer cache; ``pull``: let builds pull base images (default: local
    images only); ``keep``: keep the built images instead of removing them.
    ``progress``: called with each line of build output. ``run_id``: the value of the
    ``imgopt.run`` label on every image and container the run makes (default: ``$IMGOPT_RUN_ID``,
    else a random id), so a CI job can find exactly what its run made.
    """

    context: str | None = None
    checks: Sequence[str] = ()
    timeout: float = 30.0
    build_timeout: float = 1800.0
    nocache: bool = False
    pull: bool = False
    keep: bool = False
    progress: Callable[[str], None] | None = field(default=None, compare=False)
    run_id: str | None = None


__all__ = ["BuildOptions"]
