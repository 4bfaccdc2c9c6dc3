"""imgopt: exact, fast container image size analysis.

>>> import imgopt
>>> a = imgopt.analyze("docker-archive:fixtures/images/waste-docker.tar")   # doctest: +SKIP
>>> a.reclaimable_bytes, a.dive.efficiency                                   # doctest: +SKIP
"""

from __future__ import annotations

from . import report  # noqa: F401  (registers every output format with imgopt.encoding)
from ._version import __version__
from .analysis import Analysis
from .analysis.diff import ImageDiff
from .api import analyze, diff, lint, load, parse_dockerfile, scan
from .build.compare import Comparison, compare
from .build.optimize import Plan, optimize
from .build.options import BuildOptions
from .dockerfile.lint import Finding, LintConfig, LintReport
from .errors import (
    AuthError,
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
    RegistryError,
    UnsafePath,
    UnsupportedMediaType,
    UsageError,
)
from .fleet import Fleet
from .sources import RegistryOptions, source_settings

__all__ = [
    "__version__",
    "analyze",
    "load",
    "lint",
    "parse_dockerfile",
    "optimize",
    "compare",
    "diff",
    "scan",
    "Fleet",
    "Analysis",
    "BuildOptions",
    "Plan",
    "Comparison",
    "LintReport",
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
    "RegistryError",
    "AuthError",
    "RegistryOptions",
    "source_settings",
    "DockerfileError",
    "BuildError",
    "CheckError",
]
