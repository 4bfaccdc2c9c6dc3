"""Build two Dockerfiles, measure both images, run the same behaviour check in both.

The check is what makes a saving a saving: by default each image runs its own ENTRYPOINT/CMD and
the exit code and stdout must match the original's; with ``checks`` every command must exit 0 in
both. An image that fails its check is reported as failed, never as smaller.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..analysis import Analysis, analyze_image
from ..analysis.instructions import Instruction
from ..analysis.packages import PACKAGE_DBS, Footprint, footprint, installed_packages
from ..dockerfile.parser import parse, parse_dockerfile
from ..encoding import Encodable
from ..errors import BuildError, UsageError
from ..sources import ContentPlan, ReadOptions, load_image
from .engine import Build, Run, Session, needs_buildkit, split_check
from .options import BuildOptions

DEFAULT_CHECK = "default (the image's own ENTRYPOINT/CMD)"
CONFIG_KEYS = ("entrypoint", "cmd", "user", "workdir", "env", "exposed_ports")


@dataclass(frozen=True)
class Measure:
    """A built image, measured with the exact analysis."""

    tag: str
    image_id: str
    size_bytes: int  # regular-file bytes over all layers (what the layers ship)
    compressed_size_bytes: int | None  # gzip -6 of each layer tar: what a push uploads
    final_size_bytes: int  # the final filesystem
    reclaimable_bytes: int
    layers: int
    build_seconds: float
    builder: str
    config: dict[str, Any]
    packages: dict[str, str] | None = None  # name -> version from the package database; None: unknown
    footprint: Footprint | None = field(default=None, compare=False, repr=False)  # bytes per path
    # the exact analysis of the image (layers attributed to ``instructions`` when given), when asked for
    analysis: Analysis | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Side:
    """One Dockerfile: built and measured, or the reason it did not build."""

    label: str
    dockerfile: str  # the text that was built
    measure: Measure | None
    error: str | None = None

    @property
    def built(self) -> bool:
        return self.measure is not None


@dataclass(frozen=True)
class CheckResult:
    name: str
    before: Run
    after: Run
    passed: bool
    reason: str


def _describe(run: Run) -> str:
    if run.timed_out:
        return f"still running after {run.seconds:.0f} s"
    if run.error is not None:
        return f"did not start ({run.error})"
    lines = run.stdout.count("\n") + (1 if run.stdout and not run.stdout.endswith("\n") else 0)
    return f"exit {run.exit_code}, {lines} line(s) of stdout"


_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
# the timestamp shapes programs print: `date`, `ls -l`, ISO 8601 / RFC 3339 and `stat` (%y)
TIMESTAMPS = re.compile(
    rf"\b{_DAY},? +(?:\d{{1,2}} +{_MONTH}(?: +\d{{4}})?|{_MONTH} +\d{{1,2}}) +\d{{1,2}}:\d{{2}}(?::\d{{2}})?"
    r"(?: +(?:[A-Z]{2,5}|[+-]\d{4}))?(?: +\d{4})?\b"
    rf"|\b{_MONTH} +\d{{1,2}} +(?:\d{{1,2}}:\d{{2}}|\d{{4}})\b"
    r"|\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?: ?(?:Z|[+-]\d{2}:?\d{2}))?"
)


def normalize_timestamps(text: str) -> str:
    """Every date and time in ``text`` replaced by ``<time>`` (see TIMESTAMPS)."""
    return TIMESTAMPS.sub("<time>", text)


def judge_default(before: Run, after: Run) -> CheckResult:
    """Exit code and stdout must match. Stdout that differs only in dates and times (an ``ls -l``
    of files the two builds created at different moments, a log line's timestamp) matches: both
    sides are compared with every timestamp replaced (``normalize_timestamps``), and the reason says
    so."""
    if before.timed_out and after.timed_out:
        return CheckResult(
            DEFAULT_CHECK, before, after, True, "both still running at the timeout (a service: add --check to test it)"
        )
    if before.exit_code != after.exit_code or after.error is not None:
        return CheckResult(
            DEFAULT_CHECK, before, after, False, f"before: {_describe(before)}; after: {_describe(after)}"
        )
    if before.stdout != after.stdout:
        if normalize_timestamps(before.stdout) == normalize_timestamps(after.stdout):
            return CheckResult(
                DEFAULT_CHECK, before, after, True,
                f"same exit code ({before.exit_code}) and stdout but for dates and times",
            )  # fmt: skip
        return CheckResult(DEFAULT_CHECK, before, after, False, "same exit code, different stdout")
    return CheckResult(DEFAULT_CHECK, before, after, True, f"same exit code ({before.exit_code}) and stdout")


def stdout_diff(check: CheckResult, limit: int = 20) -> str:
    """The unified diff of the two runs' stdout (timestamps normalized), at most ``limit`` lines."""
    import difflib

    a = normalize_timestamps(check.before.stdout).splitlines()
    b = normalize_timestamps(check.after.stdout).splitlines()
    lines = list(difflib.unified_diff(a, b, "before", "after", lineterm="", n=1))
    more = len(lines) - limit
    return "\n".join(lines[:limit] + ([f"... {more} more line(s)"] if more > 0 else []))


def judge_command(name: str, before: Run, after: Run) -> CheckResult:
    if before.exit_code != 0:
        return CheckResult(name, before, after, False, f"fails on the original image too ({_describe(before)})")
    if after.exit_code != 0:
        return CheckResult(name, before, after, False, f"fails on the new image ({_describe(after)})")
    return CheckResult(name, before, after, True, "exit 0 in both")


@dataclass(frozen=True, repr=False)  # one line: Encodable.__repr__ asks the 'repr' encoder
class Comparison(Encodable):
    before: Side
    after: Side
    checks: tuple[CheckResult, ...]
    config_changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def checks_passed(self) -> bool:
        return self.after.built and self.before.built and all(c.passed for c in self.checks)

    @property
    def saved_bytes(self) -> int | None:
        """Bytes saved; None when the new image did not build or failed a check (never a saving)."""
        if not self.checks_passed or self.before.measure is None or self.after.measure is None:
            return None
        return self.before.measure.size_bytes - self.after.measure.size_bytes

    @property
    def saved_percent(self) -> float | None:
        saved = self.saved_bytes
        if saved is None or self.before.measure is None or not self.before.measure.size_bytes:
            return None
        return round(100.0 * saved / self.before.measure.size_bytes, 2)


# ---------------------------------------------------------------------------------------------


def build_and_measure(
    session: Session,
    text: str,
    label: str,
    options: BuildOptions,
    *,
    dockerignore: Sequence[str] | None = None,
    read: ReadOptions | None = None,
    keep_analysis: bool = False,
    instructions: Sequence[Instruction] | None = None,
) -> Side:
    """Build and measure in ``options.context``; a failed build is a Side with its error (the
    caller decides whether that is fatal). ``keep_analysis``: the Measure keeps the exact analysis
    (attributed to ``instructions``), so the caller need not analyse the image again."""
    if options.context is None:
        raise UsageError("a build context is needed")
    try:
        build = session.build(
            options.context,
            text,
            label,
            dockerignore=dockerignore,
            nocache=options.nocache,
            buildkit=needs_buildkit(parse(text)),
            pull=options.pull,
            progress=options.progress,
        )
    except BuildError as e:
        return Side(label, text, None, str(e))
    return Side(label, text, measure(build, read=read, keep_analysis=keep_analysis, instructions=instructions))


# what a measurement reads besides headers: the package databases (for the package-set changes)
MEASURE = ReadOptions(content=ContentPlan(keep=PACKAGE_DBS), estimate_compressed=True)


def measure(
    build: Build,
    *,
    read: ReadOptions | None = None,
    keep_analysis: bool = False,
    instructions: Sequence[Instruction] | None = None,
) -> Measure:
    """Load the built image (``read``: what to read from file contents besides the package
    databases) and measure it with the exact analysis."""
    image = load_image("docker-daemon:" + build.image_id, read or MEASURE)
    a = analyze_image(image, top=5, instructions=instructions)
    c = image.config
    config = {
        "entrypoint": list(c.entrypoint) if c.entrypoint is not None else None,
        "cmd": list(c.cmd) if c.cmd is not None else None,
        "user": c.user,
        "workdir": c.workdir,
        "env": list(c.env),
        "exposed_ports": list(c.exposed_ports),
    }
    return Measure(
        build.tag,
        build.image_id,
        a.size_bytes,
        a.compressed_size_bytes,
        a.final_size_bytes,
        a.reclaimable_bytes,
        len(image.layers),
        build.seconds,
        build.builder,
        config,
        installed_packages(image, a.squash.final),
        footprint(image, a.squash),
        a if keep_analysis else None,
    )


def run_checks(
    session: Session, before: Measure, after: Measure, checks: Sequence[str], timeout: float
) -> tuple[CheckResult, ...]:
    if not checks:
        return (judge_default(session.run(before.tag, timeout=timeout), session.run(after.tag, timeout=timeout)),)
    out = []
    for check in checks:
        argv = split_check(check)
        out.append(
            judge_command(
                check,
                session.run(before.tag, argv, timeout=timeout),
                session.run(after.tag, argv, timeout=timeout),
            )
        )
    return tuple(out)


def config_changes(before: Measure, after: Measure) -> dict[str, tuple[Any, Any]]:
    return {
        k: (before.config.get(k), after.config.get(k))
        for k in CONFIG_KEYS
        if before.config.get(k) != after.config.get(k)
    }


def compare(a: str, b: str, options: BuildOptions | None = None) -> Comparison:
    """Build Dockerfiles ``a`` (before) and ``b`` (after) in ``options.context`` (default: a's
    directory), measure both, run the checks in both. Temporary images are removed unless
    ``options.keep``."""
    opts = options or BuildOptions()
    df_a, df_b = parse_dockerfile(a), parse_dockerfile(b)
    label_a, text_a = df_a.path or "<text>", df_a.render()
    label_b, text_b = df_b.path or "<text>", df_b.render()
    context = opts.context
    if context is None:
        if label_a == "<text>":
            raise UsageError("a build context is needed when the Dockerfile is given as text")
        context = os.path.dirname(os.path.abspath(a))
    if not os.path.isdir(context):
        raise UsageError(f"build context {context} is not a directory")
    opts = replace(opts, context=context)
    for c in opts.checks:
        split_check(c)
    with Session(timeout=opts.build_timeout, keep=opts.keep, run_id=opts.run_id) as session:
        before = build_and_measure(session, text_a, "before", opts)
        if before.measure is None:
            raise BuildError(f"{label_a}: {before.error}")
        after = build_and_measure(session, text_b, "after", opts)
        m_before, m_after = before.measure, after.measure
        before = Side(label_a, text_a, m_before)
        after = Side(label_b, text_b, m_after, after.error)
        if m_after is None:
            return Comparison(before, after, ())
        results = run_checks(session, m_before, m_after, opts.checks, opts.timeout)
        return Comparison(before, after, results, config_changes(m_before, m_after))


__all__ = ["CheckResult", "Comparison", "Measure", "Side", "compare", "normalize_timestamps", "stdout_diff"]
