"""imgopt: exact, fast container image size analysis.

>>> import imgopt
>>> a = imgopt.analyze("docker-archive:fixtures/images/waste-docker.tar")   # doctest: +SKIP
>>> a.reclaimable_bytes, a.dive.efficiency                                   # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from .api import analyze, diff, lint, load, parse_dockerfile
from .compare import Comparison, compare
from .diff import ImageDiff
from .dockerfile.lint import Finding, LintConfig
from .errors import (
    BuildError,
    CheckError,
    CorruptArchive,
    DaemonError,
    DockerfileError,
    ImageNotFound,
    ImgoptError,
    InputError,
    MissingBlob,
    PlatformNotFound,
    UnsafePath,
    UnsupportedMediaType,
    UsageError,
)
from .optimize import Plan, optimize

__all__ = [
    "__version__",
    "analyze",
    "load",
    "lint",
    "parse_dockerfile",
    "optimize",
    "compare",
    "diff",
    "Plan",
    "Comparison",
    "ImageDiff",
    "Finding",
    "LintConfig",
    "ImgoptError",
    "UsageError",
    "InputError",
    "ImageNotFound",
    "PlatformNotFound",
    "CorruptArchive",
    "MissingBlob",
    "UnsafePath",
    "UnsupportedMediaType",
    "DaemonError",
    "DockerfileError",
    "BuildError",
    "CheckError",
]
