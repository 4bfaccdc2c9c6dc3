"""``imgopt optimize``: variants of a Dockerfile, and with ``verify`` the proof.

Without ``verify`` the plan proposes the hygiene rewrite (safe by construction: same base, same
packages, same commands) and lists the other targets as unverified proposals. With ``verify`` the
original and every candidate are built, measured and checked; the smallest candidate that passes
its check and is smaller than the original is chosen. A candidate whose base image is not in the
local engine is skipped (imgopt pulls only with ``pull``), with the reason in the plan.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..dockerfile.lint import Finding, LintConfig, find_config, lint_dockerfile
from ..dockerfile.model import Dockerfile
from ..dockerfile.parser import parse_dockerfile, read_dockerignore
from ..dockerfile.rewrite import Change, RewriteOptions, proposed_dockerignore, unified_diff
from ..dockerfile.variants import TARGETS, Variant, make_variants
from ..encoding import Encodable
from ..errors import BuildError, UsageError
from ..evidence.cost import quantify
from ..evidence.instructions import analyze_with
from ..model import Image
from ..sources import load_image
from .compare import CheckResult, Side, build_and_measure, config_changes, run_checks
from .options import BuildOptions
CHOICES = ("auto", *TARGETS)

PROPOSED, PASSED, CHECK_FAILED, BUILD_FAILED, NOT_SMALLER, SKIPPED = (
    "proposed",
    "passed",
    "check-failed",
    "build-failed",
    "not-smaller",
    "skipped",
)


@dataclass(frozen=True)
class Candidate:
    variant: Variant
    status: str
    side: Side | None = None
    checks: tuple[CheckResult, ...] = ()
    reason: str = ""
    config_changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return self.variant.target

    @property
    def size_bytes(self) -> int | None:
        return self.side.measure.size_bytes if self.side and self.side.measure else None

    @property
    def check_passed(self) -> bool | None:
        return None if not self.checks else all(c.passed for c in self.checks)


@dataclass(frozen=True)
class Plan(Encodable):
    dockerfile: str  # path or "<text>"
    original: str
    target: str
    verified: bool
    candidates: tuple[Candidate, ...]
    skipped: dict[str, str]  # target -> why it does not apply
    chosen: Candidate | None
    before: Side | None = None
    dockerignore: str | None = None  # proposed .dockerignore (the context has none)

    @property
    def text(self) -> str:
        """The recommended Dockerfile (the original when nothing better was found)."""
        return self.chosen.variant.text if self.chosen else self.original

    @property
    def changes(self) -> tuple[Change, ...]:
        return self.chosen.variant.changes if self.chosen else ()

    @property
    def diff(self) -> str:
        name = os.path.basename(self.dockerfile) if self.dockerfile != "<text>" else "Dockerfile"
        return unified_diff(self.original, self.text, name)

    @property
    def before_size(self) -> int | None:
        return self.before.measure.size_bytes if self.before and self.before.measure else None

    @property
    def after_size(self) -> int | None:
        return self.chosen.size_bytes if self.chosen else None

    @property
    def saved_bytes(self) -> int | None:
        if self.before_size is None or self.after_size is None:
            return None
        return self.before_size - self.after_size

    @property
    def saved_percent(self) -> float | None:
        if self.saved_bytes is None or not self.before_size:
            return None
        return round(100.0 * self.saved_bytes / self.before_size, 2)

    @property
    def failed(self) -> bool:
        """Verified, some candidate was built, and none both passed its check and was smaller: the
        proposals did not hold up (the CLI exits 1). Nothing to improve is not a failure."""
        built = [c for c in self.candidates if c.status in (PASSED, CHECK_FAILED, BUILD_FAILED)]
        return self.verified and self.chosen is None and bool(built)


def _expected_savings(
    df: Dockerfile, image: str | Image, ignore: tuple[str, ...] | None, has_context: bool, variants: list[Variant]
) -> list[Variant]:
    """Attach to each change the bytes its finding costs in ``image``, built from ``df``."""
    loaded = image if isinstance(image, Image) else load_image(image)
    analysis = analyze_with(loaded, df, top=5)
    findings = quantify(lint_dockerfile(df, dockerignore=ignore, has_context=has_context), analysis).findings
    return [replace(v, changes=tuple(_with_cost(c, findings) for c in v.changes)) for v in variants]


def _with_cost(change: Change, findings: Sequence[Finding]) -> Change:
    """The measured bytes of the finding a change fixed: same rule, within the input lines it touched."""
    for f in sorted(findings, key=lambda f: f.line):
        if f.rule == change.rule and f.line in change.lines:
            return replace(change, expected_bytes=f.bytes)
    return change


def optimize(
    dockerfile: str,
    *,
    target: str = "auto",
    verify: bool = False,
    options: BuildOptions | None = None,
    config: LintConfig | None = None,
    image: str | Image | None = None,
) -> Plan:
    """Plan (and with ``verify`` prove) a smaller Dockerfile. ``dockerfile`` is a path or text.
    ``image``: an image built from it (any reference ``analyze`` accepts): each change then says
    what its finding costs there; with ``verify`` the freshly built original is used."""
    opts = options or BuildOptions()
    if target not in CHOICES:
        raise UsageError(f"unknown target {target!r} (choose from {', '.join(CHOICES)})")
    df = parse_dockerfile(dockerfile)
    label, text = df.path or "<text>", df.render()
    context = opts.context
    if context is None and label != "<text>":
        context = os.path.dirname(os.path.abspath(label))
    if context is not None and not os.path.isdir(context):
        raise UsageError(f"build context {context} is not a directory")
    opts = replace(opts, context=context)
    if config is None and context is not None:
        config = find_config(context)
    existing_ignore = read_dockerignore(context) if context is not None else None
    ignore_text = proposed_dockerignore(df, existing_ignore) if context is not None else None
    targets = TARGETS if target == "auto" else (target,)
    rewrite = RewriteOptions(existing_ignore, context is not None, config.ignore if config else frozenset())
    variants, skipped = make_variants(df, targets, rewrite)
    if not verify:
        if image is not None:
            variants = _expected_savings(df, image, existing_ignore, context is not None, variants)
        cands = tuple(Candidate(v, PROPOSED, reason="not built (use --verify)") for v in variants)
        chosen = next((c for c in cands if c.target == ("hygiene" if target == "auto" else target)), None)
        if chosen is not None and chosen.variant.text == text and not ignore_text:
            chosen = None
        return Plan(label, text, target, False, cands, skipped, chosen, None, ignore_text)
    if context is None:
        raise UsageError("--verify needs a build context (--context DIR)")
    from .engine import Session, split_check

    for c in opts.checks:
        split_check(c)
    ignore_lines = [ln for ln in (ignore_text or "").splitlines() if ln and not ln.startswith("#")] or None
    with Session(timeout=opts.build_timeout, keep=opts.keep) as session:
        before = build_and_measure(session, text, "before", opts)
        if before.measure is None:
            raise BuildError(f"{label}: {before.error}")
        if image is None:
            image = "docker-daemon:" + before.measure.image_id
        variants = _expected_savings(df, image, existing_ignore, True, variants)
        results: list[Candidate] = []
        for v in variants:
            missing = [b for b in v.bases if not opts.pull and not session.has_image(b)]
            if missing:
                results.append(
                    Candidate(
                        v,
                        SKIPPED,
                        reason=f"base image {missing[0]} is not in the local engine (needs a registry; "
                        "imgopt pulls only with --pull)",
                    )
                )
                continue
            if v.text == text and ignore_lines is None:
                results.append(Candidate(v, NOT_SMALLER, reason="identical to the original"))
                continue
            side = build_and_measure(session, v.text, v.target, opts, dockerignore=ignore_lines)
            if side.measure is None:
                results.append(Candidate(v, BUILD_FAILED, side, reason=side.error or "build failed"))
                continue
            res = run_checks(session, before.measure, side.measure, opts.checks, opts.timeout)
            changes = config_changes(before.measure, side.measure)
            failed = [c for c in res if not c.passed]
            if failed:
                results.append(Candidate(v, CHECK_FAILED, side, res, failed[0].reason, changes))
            elif side.measure.size_bytes >= before.measure.size_bytes:
                results.append(Candidate(v, NOT_SMALLER, side, res, "passes its check but is not smaller", changes))
            else:
                results.append(Candidate(v, PASSED, side, res, "smaller and passes its check", changes))
        passing = [c for c in results if c.status == PASSED]
        chosen = min(passing, key=lambda c: c.size_bytes or 0) if passing else None
        return Plan(
            label, text, target, True, tuple(results), skipped, chosen, Side(label, text, before.measure), ignore_text
        )


__all__ = ["CHOICES", "Candidate", "Plan", "optimize"]
