"""``imgopt optimize``: variants of a Dockerfile, and with ``verify`` the proof.

Without ``verify`` the plan proposes the hygiene rewrite (safe by construction: same base, same
packages, same commands) and lists the other targets as unverified proposals. With ``verify`` the
original and every candidate are built, measured and checked; the smallest candidate that passes
its check and is smaller than the original is chosen. A candidate whose base image is not in the
local engine is skipped (imgopt pulls only with ``pull``), with the reason in the plan.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .compare import CheckResult, Side, build_and_measure, config_changes, run_checks
from .dockerfile.lint import Finding, LintConfig, find_config, read_dockerignore
from .dockerfile.model import Dockerfile
from .dockerfile.parser import parse_dockerfile
from .dockerfile.rewrite import Change, proposed_dockerignore, unified_diff
from .dockerfile.variants import TARGETS, Variant, make_variants
from .errors import BuildError, UsageError
from .model import Image

SCHEMA = "imgopt.optimize/1"
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

    def to_dict(self) -> dict[str, Any]:
        m = self.side.measure if self.side else None
        return {
            "target": self.target,
            "status": self.status,
            "reason": self.reason,
            "size_bytes": m.size_bytes if m else None,
            "compressed_size_bytes": m.compressed_size_bytes if m else None,
            "layers": m.layers if m else None,
            "build_seconds": round(m.build_seconds, 2) if m else None,
            "check": {"passed": self.check_passed, "results": [c.to_dict() for c in self.checks]},
            "config_changes": {k: {"before": a, "after": b} for k, (a, b) in self.config_changes.items()},
            **{k: v for k, v in self.variant.to_dict().items() if k != "target"},
        }


@dataclass(frozen=True)
class Plan:
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

    def to_dict(self) -> dict[str, Any]:
        b = self.before.measure if self.before and self.before.measure else None
        chosen_m = self.chosen.side.measure if self.chosen and self.chosen.side else None
        return {
            "schema": SCHEMA,
            "dockerfile": self.dockerfile,
            "target": self.target,
            "verified": self.verified,
            "chosen": self.chosen.target if self.chosen else None,
            "before": b.to_dict() if b else {"size_bytes": None},
            "after": chosen_m.to_dict() if chosen_m else {"size_bytes": None},
            "saved_bytes": self.saved_bytes,
            "saved_percent": self.saved_percent,
            "check": {
                "passed": self.chosen.check_passed if self.chosen else None,
                "results": [c.to_dict() for c in self.chosen.checks] if self.chosen else [],
            },
            "changes": [c.to_dict() for c in self.changes],
            "dockerignore": self.dockerignore,
            "diff": self.diff,
            "new_dockerfile": self.text,
            "variants": [c.to_dict() for c in self.candidates],
            "not_applicable": self.skipped,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_dataframe(self) -> Any:
        import pandas as pd

        rows = [
            {
                "target": c.target,
                "status": c.status,
                "size_bytes": c.size_bytes,
                "check_passed": c.check_passed,
                "changes": len(c.variant.changes),
                "warnings": len(c.variant.warnings),
                "reason": c.reason,
            }
            for c in self.candidates
        ]
        return pd.DataFrame(rows).set_index("target")

    def _repr_html_(self) -> str:
        from .report.compare import plan_html

        return plan_html(self)


def _expected_savings(
    df: Dockerfile, image: str | Image, context: str | None, variants: list[Variant]
) -> list[Variant]:
    """Attach to each change the bytes its finding costs in ``image``, built from ``df``."""
    from .analysis import analyze_image
    from .api import dockerfile_instructions
    from .dockerfile.lint import lint_dockerfile
    from .lintcost import quantify
    from .sources import load_image

    loaded = image if isinstance(image, Image) else load_image(image)
    analysis = analyze_image(loaded, top=5, instructions=dockerfile_instructions(df))
    findings = quantify(lint_dockerfile(df, context=context), analysis).findings
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
    context: str | None = None,
    target: str = "auto",
    verify: bool = False,
    checks: Sequence[str] = (),
    config: LintConfig | None = None,
    timeout: float = 30.0,
    build_timeout: float = 1800.0,
    nocache: bool = False,
    pull: bool = False,
    keep: bool = False,
    image: str | Image | None = None,
    progress: Callable[[str], None] | None = None,
) -> Plan:
    """Plan (and with ``verify`` prove) a smaller Dockerfile. ``dockerfile`` is a path or text.
    ``image``: an image built from it (any reference ``analyze`` accepts): each change then says
    what its finding costs there; with ``verify`` the freshly built original is used."""
    if target not in CHOICES:
        raise UsageError(f"unknown target {target!r} (choose from {', '.join(CHOICES)})")
    df = parse_dockerfile(dockerfile)
    label, text = df.path or "<text>", df.render()
    if context is None and label != "<text>":
        context = os.path.dirname(os.path.abspath(label))
    if context is not None and not os.path.isdir(context):
        raise UsageError(f"build context {context} is not a directory")
    if config is None and context is not None:
        config = find_config(context)
    existing_ignore = read_dockerignore(context)
    ignore_text = proposed_dockerignore(df, existing_ignore) if context is not None else None
    kw: dict[str, Any] = {
        "dockerignore": existing_ignore,
        "has_context": context is not None,
        "ignore": config.ignore if config else frozenset(),
    }
    targets = TARGETS if target == "auto" else (target,)
    variants, skipped = make_variants(df, targets, **kw)
    if not verify:
        if image is not None:
            variants = _expected_savings(df, image, context, variants)
        cands = tuple(Candidate(v, PROPOSED, reason="not built (use --verify)") for v in variants)
        chosen = next((c for c in cands if c.target == ("hygiene" if target == "auto" else target)), None)
        if chosen is not None and chosen.variant.text == text and not ignore_text:
            chosen = None
        return Plan(label, text, target, False, cands, skipped, chosen, None, ignore_text)
    if context is None:
        raise UsageError("--verify needs a build context (--context DIR)")
    from .engine import Session, split_check

    for c in checks:
        split_check(c)
    ignore_lines = [ln for ln in (ignore_text or "").splitlines() if ln and not ln.startswith("#")] or None
    with Session(timeout=build_timeout) as session:
        session.keep = keep
        before = build_and_measure(session, context, text, "before", nocache=nocache, pull=pull, progress=progress)
        if before.measure is None:
            raise BuildError(f"{label}: {before.error}")
        if image is None:
            image = "docker-daemon:" + before.measure.image_id
        variants = _expected_savings(df, image, context, variants)
        results: list[Candidate] = []
        for v in variants:
            missing = [b for b in v.bases if not pull and not session.has_image(b)]
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
            side = build_and_measure(
                session,
                context,
                v.text,
                v.target,
                dockerignore=ignore_lines,
                nocache=nocache,
                pull=pull,
                progress=progress,
            )
            if side.measure is None:
                results.append(Candidate(v, BUILD_FAILED, side, reason=side.error or "build failed"))
                continue
            res = run_checks(session, before.measure, side.measure, checks, timeout)
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
