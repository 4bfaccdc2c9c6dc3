"""What a built image needs at run time (its closure), and the multi-stage variant made from it.

Read with ``CLOSURE_READ`` (package databases, accounts, loader configuration, and an ELF/shebang
probe over every executable and shared object, in the one pass over the layers), an image's
closure is computed without a container; ``closure_variant`` turns it into a runtime stage.
"""

from __future__ import annotations

from ..analysis.packages import PACKAGE_DBS
from ..sources.core import ContentPlan, ReadOptions
from .compute import Account, Closure, Directory, compute_closure
from .elf import EXECUTABLES, elf_facts
from .variant import choose_base, closure_variant

KEPT = (
    *PACKAGE_DBS,
    "var/lib/dpkg/info/*.list",
    "etc/passwd",
    "etc/group",
    "etc/ld.so.conf",
    "etc/ld.so.conf.d/*",
    "etc/ld-musl-*.path",
    "etc/os-release",
    "usr/lib/os-release",
)
CLOSURE_PLAN = ContentPlan(keep=KEPT, probes=(EXECUTABLES,))
CLOSURE_READ = ReadOptions(content=CLOSURE_PLAN, estimate_compressed=True)

__all__ = [
    "CLOSURE_PLAN",
    "CLOSURE_READ",
    "Account",
    "Closure",
    "Directory",
    "choose_base",
    "closure_variant",
    "compute_closure",
    "elf_facts",
]
