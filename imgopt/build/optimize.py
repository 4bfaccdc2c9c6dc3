"""``imgopt optimize``: variants of a Dockerfile, and with ``verify`` the proof.

With an image built from the Dockerfile (``verify`` builds one; ``image`` names one), the rewrites
start from evidence: the waste pairs of that image (which layer shipped bytes that a later layer
made unreachable) become fixes with their expected saving (``evidence/planner.py``), and the lint
findings are priced in bytes. Without an image, only the text-level hygiene fixes are proposed.

Without ``verify`` the plan proposes the ``hygiene`` rewrite: the fixes that run the same commands
on the same files with the same packages. Everything else (the ``aggressive`` target with its
package-set changes and reordered commands, slim and Alpine bases, multi-stage splits) is listed
as an unverified proposal. With ``verify`` the original and every candidate are built, measured
and checked; the smallest candidate that passes its check and is smaller than the original is
chosen. A candidate that does not build, does not start, crashes or times out is a failed
candidate with its reason; the run goes on with the others. A candidate whose base image is not
in the local engine is skipped (imgopt pulls only with ``pull``), with the reason in the plan.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..analysis import Analysis
from ..closure import CLOSURE_READ, Closure, closure_variant, compute_closure
from ..dockerfile.lint import LintConfig, find_config, lint_dockerfile
from ..dockerfile.model import Dockerfile, Instruction
from ..dockerfile.parser import parse, parse_dockerfile, read_dockerignore
from ..dockerfile.rewrite import Change, RewriteOptions, proposed_dockerignore, unified_diff
from ..dockerfile.rules import RULES
from ..dockerfile.shell import run_commands
from ..dockerfile.variants import TARGETS, NotApplicable, Variant, make_variants
from ..encoding import Encodable
from ..errors import BuildError, ImgoptError, UsageError
from ..evidence.cost import CostReport, quantify
from ..evidence.instructions import analyze_with, layer_instructions
from ..evidence.measure import measure_changes
from ..evidence.planner import PairPlan, Unfixed, plan_pairs
from ..evidence.variants import evidence_variants
from ..model import Image
from ..sources import load_image
from .compare import CheckResult, Side, build_and_measure, config_changes, run_checks
from .engine import Session, split_check
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
    packages_removed: tuple[str, ...] = ()  # installed in the original, not in this variant
    packages_added: tuple[str, ...] = ()
    other_savings: tuple[tuple[str, int], ...] = ()  # (path, bytes) saved that no change targeted

    @property
    def target(self) -> str:
        return self.variant.target

    @property
    def size_bytes(self) -> int | None:
        return self.side.measure.size_bytes if self.side and self.side.measure else None

    @property
    def check_passed(self) -> bool | None:
        return None if not self.checks else all(c.passed for c in self.checks)


@dataclass(frozen=True, repr=False)  # one line: Encodable.__repr__ asks the 'repr' encoder
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
    unfixed: tuple[Unfixed, ...] = ()  # waste pairs of the original that no rewrite addresses, and why

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


SPLITS = ("multistage", "distroless")


@dataclass(frozen=True)
class _Evidence:
    pairs: PairPlan
    costs: CostReport
    closure: Closure | None = None  # what the image needs at run time (read when a split was asked for)
    files: frozenset[str] = frozenset()  # every path of its final filesystem


def _evidence(
    df: Dockerfile, image: str | Image | Analysis, rewrite: RewriteOptions, context: str | None, splits: bool
) -> _Evidence:
    """The waste pairs of an image built from ``df`` turned into fixes, its lint findings priced, and
    (``splits``) its runtime closure. ``image``: a reference, a loaded image, or its analysis with
    the layers attributed to ``df`` (what the verified build measured: not analysed twice)."""
    if isinstance(image, Analysis):
        analysis, loaded = image, image.image
    else:
        loaded = image if isinstance(image, Image) else load_image(image, CLOSURE_READ if splits else None)
        analysis = analyze_with(loaded, df, top=5)
    findings = lint_dockerfile(df, dockerignore=rewrite.dockerignore, has_context=rewrite.has_context)
    pairs, costs = plan_pairs(df, analysis, context=context), quantify(findings, analysis)
    if not splits or not any("exec" in layer.facts for layer in loaded.layers):
        return _Evidence(pairs, costs)
    final = df.final_stage
    lines = {i.line for i in final.instructions} if final is not None else set()
    stage, base, install = set(), set(), set()
    by_line = {i.line: i for i in df.instructions}
    for lr in analysis.layers:
        att = lr.instruction
        if att is not None and att.status == "base-image":
            base.add(lr.index)
        elif att is None or att.instruction is None or att.instruction.line in lines:
            stage.add(lr.index)  # unmatched layers count as the stage's: their files are carried
            ins = by_line.get(att.instruction.line) if att is not None and att.instruction is not None else None
            if ins is not None and installs_only(ins):
                install.add(lr.index)
    closure = compute_closure(loaded, analysis.squash, stage, base, install)
    return _Evidence(pairs, costs, closure, frozenset(analysis.squash.final))


_PACKAGE_TOOLS = frozenset({"apt-get", "apt", "aptitude", "apk", "dpkg", "yum", "dnf", "microdnf", "zypper"})
# commands that write nothing a program could need (echo and ln can: a sources list, a symlink)
_TIDY = frozenset({"rm", "true", "set", "mkdir"})


def installs_only(ins: Instruction) -> bool:
    """A RUN whose commands only install and tidy up packages."""
    if ins.keyword != "RUN":
        return False
    cmds = run_commands(ins)
    return (
        bool(cmds)
        and any(c.name in _PACKAGE_TOOLS for c in cmds)
        and all(c.name in _PACKAGE_TOOLS or c.name in _TIDY for c in cmds)
    )


def _priced(variants: list[Variant], evidence: _Evidence) -> list[Variant]:
    """Each text fix's change gets the bytes it should save in the original, and their paths."""
    return [replace(v, changes=tuple(_with_cost(c, evidence) for c in v.changes)) for v in variants]


# findings whose cost is waste between layers: a text fix saves exactly the pairs it puts in one layer
_BETWEEN_LAYERS = frozenset({"unreachable-by", "deleted-later", "metadata-only"})


def _with_cost(change: Change, evidence: _Evidence) -> Change:
    """What a text fix should save: for a finding about waste between layers, the pairs whose two
    instructions the fix puts in one layer (a clean-up merged into a RUN that did not create the
    files saves nothing, and says so); else what its finding costs (same rule, within the input
    lines it touched)."""
    if change.expected_bytes is not None:
        return change  # a pair fix: its saving is known exactly
    rule = RULES.get(change.rule)
    if rule is not None and rule.cost.kind in _BETWEEN_LAYERS:
        inside = evidence.pairs.inside(change.touched)
        return replace(
            change, expected_bytes=sum(p.bytes for p in inside), paths=frozenset().union(*(p.paths for p in inside))
        )
    costs = evidence.costs
    for f, paths in sorted(zip(costs.findings, costs.paths, strict=True), key=lambda t: t[0].line):
        if f.rule == change.rule and f.line in change.lines:
            return replace(change, expected_bytes=f.bytes, paths=paths)
    return change


def _variants(
    df: Dockerfile, targets: tuple[str, ...], rewrite: RewriteOptions, evidence: _Evidence | None
) -> tuple[list[Variant], dict[str, str]]:
    if evidence is None:
        return make_variants(df, targets, rewrite)
    variants, skipped = evidence_variants(df, evidence.pairs, targets, rewrite)
    if evidence.closure is not None and any(t in targets for t in SPLITS):
        variants, skipped = _splits(df, targets, rewrite, evidence, evidence.closure, variants, skipped)
    return _priced(variants, evidence), skipped


def _splits(
    df: Dockerfile,
    targets: tuple[str, ...],
    rewrite: RewriteOptions,
    evidence: _Evidence,
    closure: Closure,
    variants: list[Variant],
    skipped: dict[str, str],
) -> tuple[list[Variant], dict[str, str]]:
    """The multi-stage (and distroless) variants made from the image's runtime closure, in place of
    the ones the text alone suggests."""
    hygiene = next((v for v in variants if v.target == "hygiene"), None)
    if hygiene is None:
        hygiene = evidence_variants(df, evidence.pairs, ("hygiene",), rewrite)[0][0]
    base = parse(hygiene.text, df.path)
    out = [v for v in variants if v.target not in SPLITS]
    skipped = {k: v for k, v in skipped.items() if k not in SPLITS}
    for target in (t for t in SPLITS if t in targets):
        try:
            out.append(closure_variant(base, closure, set(evidence.files), list(hygiene.changes), target=target))
        except NotApplicable as e:
            skipped[target] = str(e)
    return out, skipped


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
    ``image``: an image built from it (any reference ``analyze`` accepts): the rewrites then start
    from its waste and each change says what it saves there; with ``verify`` the freshly built
    original is used."""
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
    rewrite = RewriteOptions(existing_ignore, context is not None, config.ignore if config else frozenset())
    targets = TARGETS if target == "auto" else (target,)
    if not verify:
        splits = any(t in targets for t in SPLITS)
        evidence = _evidence(df, image, rewrite, context, splits) if image is not None else None
        variants, skipped = _variants(df, targets, rewrite, evidence)
        cands = tuple(Candidate(v, PROPOSED, reason="not built (use --verify)") for v in variants)
        # unbuilt, auto recommends only the hygiene rewrite (same commands, files and packages); a
        # target asked for by name is proposed as such, unverified, with its warnings
        chosen = next((c for c in cands if c.target == ("hygiene" if target == "auto" else target)), None)
        if chosen is not None and chosen.variant.text == text and not ignore_text:
            chosen = None
        unfixed = evidence.pairs.unfixed if evidence else ()
        return Plan(label, text, target, False, cands, skipped, chosen, None, ignore_text, unfixed)
    if context is None:
        raise UsageError("--verify needs a build context (--context DIR)")
    for c in opts.checks:
        split_check(c)
    ignore_lines = [ln for ln in (ignore_text or "").splitlines() if ln and not ln.startswith("#")] or None
    with Session(timeout=opts.build_timeout, keep=opts.keep, run_id=opts.run_id) as session:
        splits = any(t in targets for t in SPLITS)
        read = CLOSURE_READ if splits else None
        before = build_and_measure(
            session, text, "before", opts, read=read, keep_analysis=True, instructions=layer_instructions(df)
        )
        if before.measure is None or before.measure.analysis is None:
            raise BuildError(f"{label}: {before.error}")
        evidence = _evidence(df, image if image is not None else before.measure.analysis, rewrite, context, splits)
        variants, skipped = _variants(df, targets, rewrite, evidence)
        results = [_try(session, v, text, before, opts, ignore_lines) for v in variants]
        chosen = choose(results)
        kept = Side(label, text, replace(before.measure, analysis=None))
        return Plan(
            label, text, target, True, tuple(results), skipped, chosen, kept, ignore_text, evidence.pairs.unfixed
        )


# from the simplest change to the largest: a more drastic variant must earn its place
SIMPLICITY = ("hygiene", "aggressive", "slim", "multistage", "distroless", "alpine")
CLOSE = 0.01  # within 1 % of the smallest, the simpler variant is chosen


def choose(results: Sequence[Candidate]) -> Candidate | None:
    """The smallest candidate that passed, unless a simpler one that passed is within 1 % of it
    (a multi-stage split that saves 100 bytes over the hygiene rewrite is not worth its stages)."""
    passing = [c for c in results if c.status == PASSED and c.size_bytes is not None]
    if not passing:
        return None
    smallest = min(c.size_bytes or 0 for c in passing)
    rank = {t: i for i, t in enumerate(SIMPLICITY)}
    close = [c for c in passing if (c.size_bytes or 0) <= smallest * (1 + CLOSE)]
    return min(close, key=lambda c: (rank.get(c.target, len(rank)), c.size_bytes or 0))


def _try(
    session: Session, v: Variant, text: str, before: Side, opts: BuildOptions, ignore_lines: list[str] | None
) -> Candidate:
    """Build, measure and check one variant. Whatever goes wrong with it is its result, not the run's."""
    if before.measure is None:  # pragma: no cover - the caller checked
        raise BuildError("the original was not built")
    missing = [b for b in v.bases if not opts.pull and not session.has_image(b)]
    if missing:
        why = f"base image {missing[0]} is not in the local engine (needs a registry; imgopt pulls only with --pull)"
        return Candidate(v, SKIPPED, reason=why)
    if v.text == text and ignore_lines is None:
        return Candidate(v, NOT_SMALLER, reason="identical to the original")
    try:
        side = build_and_measure(session, v.text, v.target, opts, dockerignore=ignore_lines)
    except ImgoptError as e:  # the engine refused something about this variant: its failure
        return Candidate(v, BUILD_FAILED, reason=str(e))
    if side.measure is None:
        return Candidate(v, BUILD_FAILED, side, reason=side.error or "build failed")
    try:
        res = run_checks(session, before.measure, side.measure, opts.checks, opts.timeout)
    except ImgoptError as e:  # built, but its check could not run: a failed check, not the run's end
        return Candidate(v, CHECK_FAILED, side, reason=f"the check could not run: {e}")
    after = side.measure
    changes = config_changes(before.measure, after)
    removed, added = _package_changes(before.measure.packages, after.packages)
    measured: tuple[Change, ...] = v.changes
    other: tuple[tuple[str, int], ...] = ()
    if before.measure.footprint is not None and after.footprint is not None:
        measured, other = measure_changes(v.changes, before.measure.footprint, after.footprint)
    v = replace(v, changes=measured)
    kw: dict[str, Any] = {"packages_removed": removed, "packages_added": added, "other_savings": other}
    failed = [c for c in res if not c.passed]
    if failed:
        return Candidate(v, CHECK_FAILED, side, res, failed[0].reason, changes, **kw)
    if after.size_bytes >= before.measure.size_bytes:
        return Candidate(v, NOT_SMALLER, side, res, "passes its check but is not smaller", changes, **kw)
    return Candidate(v, PASSED, side, res, "smaller and passes its check", changes, **kw)


def _package_changes(
    before: dict[str, str] | None, after: dict[str, str] | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if before is None or after is None:
        return (), ()
    return tuple(sorted(before.keys() - after.keys())), tuple(sorted(after.keys() - before.keys()))


__all__ = ["CHOICES", "Candidate", "Plan", "choose", "optimize"]
