"""Rewrites driven by waste pairs: the bytes an image ships and then makes unreachable, turned into
the Dockerfile edits that stop shipping them, with the saving known before anything is built.

Input: a Dockerfile and the analysis of an image built from it, its layers attributed to the
instructions. Each waste pair (layer A shipped bytes that layer B made unreachable) whose two
instructions are in the same stage gets one of these fixes:

``merge``
    A..B are RUNs (with only RUNs, comments and metadata instructions between): one RUN does the
    work and the deletion, overwrite or chmod/chown, so the bytes are never committed. Expected
    saving: every pair whose two layers fall inside the merged span.
``copy-chown`` / ``copy-chmod``
    A is a COPY/ADD and B a ``chown -R``/``chmod -R`` of what it copied: ``COPY --chown``/``--chmod``.
``bind-mount``
    A COPYs one file that B uses and deletes: B mounts it instead (``RUN --mount=type=bind``,
    BuildKit), the COPY goes.
``drop-copy``
    A is a COPY/ADD whose every byte a later COPY/ADD overwrites before any RUN could read it.

Besides the pairs, a RUN that installs packages and leaves the package manager's cache in the
final filesystem (``clean-cache``: Debian bases not made by Docker keep every downloaded ``.deb``)
empties it in the same RUN.

A fix is ``safe`` only when the rewrite provably runs the same commands on the same files: merging
RUNs that are next to each other, or moving across instructions the moved commands cannot see. When
commands move across an ENV, ARG, WORKDIR or USER they might depend on, the fix is ``needs-verify``:
only a build and a behaviour check can tell. Pairs no fix applies to are listed with the reason.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..analysis import Analysis, WastePair
from ..analysis.categories import compile_globs
from ..dockerfile.edits import Edit, append_command, merge_runs, mergeable, stage_of
from ..dockerfile.model import Dockerfile, Instruction, Stage
from ..dockerfile.rules import RULES, Context, Hit
from ..dockerfile.shell import commands, join_top, split_top
from ..model import FILE

SAFE, NEEDS_VERIFY = "safe", "needs-verify"
DELETED, OVERWRITTEN, METADATA_ONLY = "deleted", "overwritten", "metadata-only"

# instructions RUN commands cannot observe: moving commands across them changes nothing
INVISIBLE = frozenset({"LABEL", "EXPOSE", "CMD", "ENTRYPOINT", "HEALTHCHECK", "STOPSIGNAL", "MAINTAINER"})
# instructions that change what later RUN commands see
ENVIRONMENT = frozenset({"ENV", "ARG", "WORKDIR", "USER"})
# commands whose effect depends only on their arguments (absolute paths, no variables): the ones a
# rewrite may move across ENV/ARG/WORKDIR without a build to prove it
ENV_BLIND = frozenset({"rm", "rmdir", "true", ":", "chmod", "chown", "unlink"})


@dataclass(frozen=True)
class PairFix:
    """One rewrite: edits of the input Dockerfile and what they should save."""

    kind: str  # merge, copy-chown, copy-chmod, bind-mount, drop-copy
    edits: tuple[Edit, ...]
    description: str
    expected_bytes: int
    safety: str  # SAFE or NEEDS_VERIFY
    first_line: int  # the input lines it touches
    last_line: int
    paths: frozenset[str]  # image paths whose shipped bytes it removes (for measuring it after a build)
    caution: str = ""  # NEEDS_VERIFY: what could differ
    buildkit: bool = False  # the result needs a BuildKit build


@dataclass(frozen=True, slots=True)
class Unfixed:
    pair: WastePair
    reason: str


@dataclass(frozen=True)
class PairPlan:
    fixes: tuple[PairFix, ...]  # non-overlapping, largest expected saving first
    unfixed: tuple[Unfixed, ...]
    layer_lines: dict[int, int] = field(default_factory=dict)  # layer -> line of its instruction
    pairs: tuple[WastePair, ...] = ()  # every waste pair of the image

    def inside(self, lines: range) -> list[WastePair]:
        """The pairs whose two instructions both lie in ``lines`` (input lines): what one layer made
        of those instructions would not ship."""
        ll = self.layer_lines
        return [p for p in self.pairs if ll.get(p.shipped_by) in lines and ll.get(p.made_unreachable_by) in lines]


def _layer_instructions(df: Dockerfile, a: Analysis) -> dict[int, Instruction]:
    by_line = {i.line: i for i in df.instructions}
    out = {}
    for lr in a.layers:
        att = lr.instruction
        if att is not None and att.status == "matched" and att.instruction is not None:
            ins = by_line.get(att.instruction.line)
            if ins is not None:
                out[lr.index] = ins
    return out


def _index(st: Stage, ins: Instruction) -> int:
    return next(k for k, x in enumerate(st.instructions) if x.line == ins.line)


# ---------------------------------------------------------------------------------------------
# merges


@dataclass(frozen=True)
class _Span:
    stage: Stage
    first: int  # index into stage.instructions
    last: int


def _names(ins: Instruction) -> list[str]:
    """Variables an ENV or ARG instruction sets."""
    if ins.keyword == "ARG":
        return [w.split("=", 1)[0] for w in ins.args.split()]
    words = ins.args.split()
    if len(words) >= 2 and "=" not in words[0]:
        return [words[0]]  # legacy ENV NAME value
    return [w.split("=", 1)[0] for w in words if "=" in w]


def _crossing(env: Instruction, runs: Sequence[Instruction], where: str) -> tuple[str, str]:
    """What moving the commands of ``runs`` across ``env`` costs: (SAFE, ""), (NEEDS_VERIFY, what
    could differ), or ("", why it cannot be done)."""
    if not runs:
        return SAFE, ""
    cmds = [c for r in runs for c in commands(r.args)]
    blind = all(c.name in ENV_BLIND for c in cmds)
    first = runs[0].line
    if env.keyword in ("ENV", "ARG"):
        for n in _names(env):
            user = next((r for r in runs if re.search(rf"\$\{{?{re.escape(n)}\b", r.args)), None)
            if user is not None:
                return "", f"line {user.line} uses ${n}, set at line {env.line}"
        if blind:
            return SAFE, ""
        return NEEDS_VERIFY, f"commands from line {first} run {where} {env.keyword} at line {env.line}"
    if env.keyword == "WORKDIR":
        relative = any(not w.startswith(("/", "$", "-")) for c in cmds for w in c.positional())
        if blind and not relative:
            return SAFE, ""
        return NEEDS_VERIFY, f"commands from line {first} run {where} WORKDIR at line {env.line}"
    return NEEDS_VERIFY, f"commands from line {first} run as another user ({where} USER at line {env.line})"


def _placements(seq: Sequence[Instruction]) -> tuple[list[Instruction], list[Instruction], str, str]:
    """Where the instructions between merged RUNs go: above the merged RUN (hoisted: the commands
    before them now see them) or below it (sunk: the commands after them no longer see them), each
    where it is safest. Returns (hoisted, sunk, safety, caution), or safety "" with why not."""
    hoisted: list[Instruction] = []
    sunk: list[Instruction] = []
    cautions: list[str] = []
    for k, ins in enumerate(seq):
        if ins.keyword == "RUN":
            continue
        if ins.keyword in INVISIBLE:
            sunk.append(ins)
            continue
        before = [x for x in seq[:k] if x.keyword == "RUN"]
        after = [x for x in seq[k + 1 :] if x.keyword == "RUN"]
        sink = _crossing(ins, after, "before")
        hoist = _crossing(ins, before, "after")
        options = [(v, why, place) for (v, why), place in ((sink, sunk), (hoist, hoisted)) if v]
        if not options:
            return [], [], "", sink[1]
        v, why, place = min(options, key=lambda o: o[0] != SAFE)  # safe first; sinking on a tie
        place.append(ins)
        if v == NEEDS_VERIFY:
            cautions.append(why)
    sunk_env = [x for x in sunk if x.keyword in ENVIRONMENT]
    if hoisted and sunk_env and sunk_env[0].line < hoisted[-1].line:  # two of them would trade places
        return [], [], "", f"lines {sunk_env[0].line} and {hoisted[-1].line} would change places"
    return hoisted, sunk, (NEEDS_VERIFY if cautions else SAFE), "; ".join(cautions)


def _merge(df: Dockerfile, span: _Span) -> tuple[Edit | None, str, str]:
    """The edit that merges the span's RUNs (the metadata instructions between them move above or
    below the merged RUN), its safety and caution; or (None, "", why not)."""
    seq = span.stage.instructions[span.first : span.last + 1]
    runs = [x for x in seq if x.keyword == "RUN"]
    others = [x for x in seq if x.keyword != "RUN"]
    blocking = [x for x in others if x.keyword not in INVISIBLE | ENVIRONMENT]
    if blocking:
        b = blocking[0]
        return None, "", f"{b.keyword} at line {b.line} stands between them (it writes or changes files the RUNs see)"
    if len(runs) < 2 or not mergeable(df, runs):
        what = "one of the RUNs is in exec form, uses a heredoc, ends in a comment or has other flags"
        return None, "", f"the RUNs at lines {runs[0].line}-{runs[-1].line} cannot be merged: {what}"
    edit = merge_runs(df, runs)
    if edit is None:  # pragma: no cover - mergeable() said yes
        return None, "", "the RUNs cannot be merged"
    hoisted, sunk, safety, caution = _placements(seq)
    if not safety:
        return None, "", caution
    text = "".join(x.raw for x in hoisted) + edit.text + "".join(x.raw for x in sunk)
    return Edit(seq[0].line, seq[-1].end_line, text), safety, caution


def _span_pairs(span: _Span, pairs: Sequence[WastePair], layer_of: dict[int, int]) -> list[WastePair]:
    """Pairs whose two layers both come from instructions inside the span."""
    lines = {x.line for x in span.stage.instructions[span.first : span.last + 1]}
    return [p for p in pairs if layer_of.get(p.shipped_by) in lines and layer_of.get(p.made_unreachable_by) in lines]


# ---------------------------------------------------------------------------------------------
# COPY fixes


def _copy_dest(st: Stage, ins: Instruction) -> tuple[list[str], str] | None:
    workdir = "/"
    for x in st.instructions:
        if x.line >= ins.line:
            break
        if x.keyword == "WORKDIR":
            workdir = posixpath.normpath(posixpath.join(workdir, x.args.strip().strip("\"'")))
    words = list(ins.json_args) if ins.json_args else ins.args.split()
    if ins.heredocs or len(words) < 2:
        return None
    return words[:-1], posixpath.normpath(posixpath.join(workdir, words[-1].strip("\"'")))


def _copy_chown(df: Dockerfile, a: Instruction, b: Instruction) -> tuple[Edit, ...] | None:
    """The hygiene fixer of IMG140 (``COPY --chown`` instead of a later ``chown -R`` RUN), asked
    about this very pair."""
    fixer = RULES["IMG140"].fix
    ctx = Context(df, frozenset(df.reaching_final()), None, False)
    fix = fixer(ctx, Hit("IMG140", "", b)) if fixer is not None else None
    if fix is None or not any(e.first <= a.line <= e.last for e in fix.edits):
        return None
    return fix.edits


def _copy_chmod(df: Dockerfile, st: Stage, a: Instruction, b: Instruction) -> Edit | None:
    """``COPY src dst`` + ``RUN chmod [-R] MODE dst`` -> ``COPY --chmod=MODE src dst``."""
    cmds = commands(b.args)
    dest = _copy_dest(st, a)
    if b.flags or len(cmds) != 1 or cmds[0].name != "chmod" or dest is None or a.flag("chmod") or a.flag("from"):
        return None
    pos = cmds[0].positional()
    flags = [w for w in cmds[0].args if w.startswith("-")]
    if len(pos) != 2 or any(f not in ("-R", "--recursive") for f in flags) or not re.fullmatch(r"[0-7]{3,4}", pos[0]):
        return None
    if posixpath.normpath(pos[1]) != dest[1] or any(
        x.keyword == "RUN" for x in st.instructions if a.line < x.line < b.line
    ):
        return None
    m = re.match(r"(\s*\w+)", a.raw)
    if m is None:  # pragma: no cover
        return None
    return Edit(a.line, b.end_line, a.raw[: m.end()] + f" --chmod={pos[0]}" + a.raw[m.end() :] + _between(df, a, b))


def _between(df: Dockerfile, a: Instruction, b: Instruction) -> str:
    """The raw text of everything strictly between two instructions (kept as it is)."""
    lines = df.render().splitlines(keepends=True)
    return "".join(lines[a.end_line : b.line - 1])


def _bind_mount(df: Dockerfile, st: Stage, a: Instruction, b: Instruction, context: str | None) -> Edit | None:
    """``COPY f /tmp/f`` ... ``RUN use /tmp/f && rm /tmp/f`` -> ``RUN --mount=type=bind,source=f,
    target=/tmp/f,rw use /tmp/f`` (the COPY goes; the rm of the mount point goes: a mount point
    cannot be removed)."""
    dest = _copy_dest(st, a)
    if dest is None or a.keyword != "COPY" or a.flags or b.json_args is not None or b.heredocs or context is None:
        return None
    sources, target = dest
    if len(sources) != 1 or any(ch in sources[0] for ch in "*?[$"):
        return None
    src = sources[0].strip("\"'")
    if not os.path.isfile(os.path.join(context, src)):
        return None  # a directory, or not in this context: keep the COPY
    if (a.json_args or a.args.split())[-1].endswith("/"):
        target = posixpath.join(target, posixpath.basename(src))
    if any(x.keyword in ("RUN", "COPY", "ADD") for x in st.instructions if a.line < x.line < b.line):
        return None  # something else may use (or replace) the file in between
    kept: list[tuple[str, str]] = []
    removed = False
    for seg, sep in split_top(b.args):
        cmd = commands(seg, expand_shells=False)
        if len(cmd) == 1 and cmd[0].name == "rm" and target in cmd[0].positional():
            removed = True
            rest = [w for w in cmd[0].args if w != target]
            if any(not w.startswith("-") for w in rest):
                kept.append((shlex.join([cmd[0].words[0], *rest]), sep))
            continue
        if target in seg and any(c.name in ("rm", "mv", "unlink") for c in cmd):
            return None  # it is removed some other way: a mount point cannot be
        kept.append((seg, sep))
    if not removed or not kept:
        return None
    flags = "".join(f" --{f.name}" + (f"={f.value}" if f.value is not None else "") for f in b.flags)
    mount = f" --mount=type=bind,source={src},target={target},rw"
    text = f"RUN{flags}{mount} {join_top(kept, df.escape)}\n"
    return Edit(a.line, b.end_line, _between(df, a, b) + text)


# ---------------------------------------------------------------------------------------------


def plan_pairs(df: Dockerfile, analysis: Analysis, *, context: str | None = None) -> PairPlan:
    """The fixes the waste pairs of ``analysis`` (an image built from ``df``) call for."""
    ins_of = _layer_instructions(df, analysis)
    layer_line = {layer: ins.line for layer, ins in ins_of.items()}
    pairs = [p for p in analysis.waste_pairs if p.bytes > 0]
    unfixed: list[Unfixed] = []
    spans: list[tuple[_Span, WastePair]] = []
    singles: list[PairFix] = []
    for p in pairs:
        a, b = ins_of.get(p.shipped_by), ins_of.get(p.made_unreachable_by)
        if a is None:
            att = analysis.layers[p.shipped_by].instruction
            if att is not None and att.status == "base-image":
                where = f" at line {b.line}" if b is not None else ""
                why = f"the base image ships them (layer {p.shipped_by}): the deletion{where} cannot take them out"
            else:
                why = f"layer {p.shipped_by} comes from no instruction of the file"
            unfixed.append(Unfixed(p, why))
            continue
        if b is None:
            unfixed.append(Unfixed(p, f"layer {p.made_unreachable_by} comes from no instruction of the file"))
            continue
        if a.line == b.line:
            unfixed.append(Unfixed(p, f"line {a.line} writes these files more than once in one layer"))
            continue
        if a.stage != b.stage:
            unfixed.append(Unfixed(p, f"lines {a.line} and {b.line} are in different stages"))
            continue
        st = stage_of(df, a)
        if st is None:  # pragma: no cover - instructions of a stage
            continue
        if a.keyword == "RUN" and b.keyword == "RUN":
            spans.append((_Span(st, _index(st, a), _index(st, b)), p))
            continue
        fix = _copy_fix(df, st, a, b, p, context)
        if isinstance(fix, PairFix):
            singles.append(fix)
        else:
            unfixed.append(Unfixed(p, fix))
    merges = _merged_spans(df, spans, pairs, layer_line, unfixed)
    caches = _cache_fixes(df, analysis, ins_of)
    chosen: list[PairFix] = []
    for fix in sorted(merges + singles + caches, key=lambda f: (-f.expected_bytes, f.first_line)):
        if any(fix.first_line <= c.last_line and c.first_line <= fix.last_line for c in chosen):
            continue  # overlaps a larger fix
        chosen.append(fix)
    return PairPlan(tuple(chosen), tuple(unfixed), layer_line, tuple(pairs))


# package caches an install leaves in the final filesystem (bases without Docker's docker-clean apt
# configuration keep every downloaded .deb), and the command that empties them: same packages
FINAL_CACHES = ((("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin"), "apt-get clean", ("apt-get", "apt")),)


def _cache_fixes(df: Dockerfile, analysis: Analysis, ins_of: dict[int, Instruction]) -> list[PairFix]:
    """A RUN that installs packages and leaves the package cache in the final image: the same RUN
    empties it (measured: the cache files that layer provides in the final filesystem)."""
    out = []
    for globs, command, tools in FINAL_CACHES:
        rx = compile_globs(globs)
        by_layer: dict[int, dict[str, int]] = {}
        for path, fe in analysis.squash.final.items():
            if fe.entry.kind == FILE and fe.entry.size and rx.match(path):
                by_layer.setdefault(fe.layer, {})[path] = fe.entry.size
        for layer, files in sorted(by_layer.items()):
            ins = ins_of.get(layer)
            if ins is None or ins.keyword != "RUN":
                continue
            cmds = commands(ins.args)
            if not any(c.name in tools and c.positional()[:1] == ["install"] for c in cmds):
                continue
            if any(c.name in tools and c.positional()[:1] == ["clean"] for c in cmds):
                continue
            text = append_command(df, ins, command)
            if text is None:
                continue
            what = f"`{command}` in the RUN at line {ins.line}: its package cache stays out of the image"
            out.append(
                PairFix(
                    "clean-cache",
                    (Edit(ins.line, ins.end_line, text),),
                    what,
                    sum(files.values()),
                    SAFE,
                    ins.line,
                    ins.end_line,
                    frozenset(files),
                )  # fmt: skip
            )
    return out


def _copy_fix(
    df: Dockerfile, st: Stage, a: Instruction, b: Instruction, p: WastePair, context: str | None
) -> PairFix | str:
    """A fix for a pair whose first instruction is a COPY/ADD, or why there is none."""
    if a.keyword not in ("COPY", "ADD"):
        return f"line {a.line} is {a.keyword}: only RUNs and COPYs are rewritten"
    if p.cause == METADATA_ONLY and b.keyword == "RUN":
        cmds = commands(b.args)
        if any(c.name == "chown" for c in cmds):
            edits = _copy_chown(df, a, b)
            if edits is not None:
                what = f"COPY --chown (line {a.line}) instead of the chown -R at line {b.line}"
                return _fix("copy-chown", edits, what, p, SAFE)
        if any(c.name == "chmod" for c in cmds):
            edit = _copy_chmod(df, st, a, b)
            if edit is not None:
                what = f"COPY --chmod (line {a.line}) instead of the chmod at line {b.line}"
                caution = "COPY --chmod also sets the mode of the directories it creates"
                return _fix("copy-chmod", (edit,), what, p, NEEDS_VERIFY, caution, buildkit=True)
        return f"line {b.line} changes owner or mode in a way a COPY flag cannot express"
    if p.cause == DELETED and b.keyword == "RUN":
        edit = _bind_mount(df, st, a, b, context)
        if edit is not None:
            what = f"mount the file line {a.line} copied into the RUN at line {b.line}"
            caution = "the file is mounted, not copied: a RUN that changes it changes a copy"
            return _fix("bind-mount", (edit,), what, p, NEEDS_VERIFY, caution, buildkit=True)
        return f"line {b.line} deletes what line {a.line} copied; no single-file bind mount replaces it"
    if p.cause == OVERWRITTEN and b.keyword in ("COPY", "ADD"):
        between = [x for x in st.instructions if a.line < x.line < b.line and x.keyword == "RUN"]
        if not between:
            what = f"line {a.line}'s files are all replaced by line {b.line}"
            return _fix("drop-copy", (Edit(a.line, a.end_line, ""),), what, p, SAFE)
        return f"the RUN at line {between[0].line} may read what line {a.line} copied before line {b.line} replaces it"
    return f"line {b.line} ({b.keyword}) {p.cause} what line {a.line} copied"


def _fix(
    kind: str,
    edits: tuple[Edit, ...],
    what: str,
    p: WastePair,
    safety: str,
    caution: str = "",
    *,
    buildkit: bool = False,
) -> PairFix:
    first = min(e.first for e in edits)
    last = max(e.last for e in edits)
    return PairFix(kind, edits, what, p.bytes, safety, first, last, p.paths, caution, buildkit)


def _merged_spans(
    df: Dockerfile,
    spans: list[tuple[_Span, WastePair]],
    pairs: Sequence[WastePair],
    layer_line: dict[int, int],
    unfixed: list[Unfixed],
) -> list[PairFix]:
    """Overlapping spans of one stage become one; each becomes a merge fix (or its pairs unfixed)."""
    out: list[PairFix] = []
    by_stage: dict[int, list[tuple[_Span, WastePair]]] = {}
    for sp, p in spans:
        by_stage.setdefault(sp.stage.index, []).append((sp, p))
    for items in by_stage.values():
        items.sort(key=lambda t: t[0].first)
        groups: list[tuple[_Span, list[WastePair]]] = []
        for sp, p in items:
            if groups and sp.first <= groups[-1][0].last:
                g, ps = groups[-1]
                groups[-1] = (_Span(g.stage, g.first, max(g.last, sp.last)), [*ps, p])
            else:
                groups.append((sp, [p]))
        for sp, ps in groups:
            edit, safety, why = _merge(df, sp)
            if edit is None:
                unfixed += [Unfixed(p, why) for p in ps]
                continue
            inside = _span_pairs(sp, pairs, layer_line)
            seq = sp.stage.instructions
            a, b = seq[sp.first], seq[sp.last]
            paths = frozenset().union(*(p.paths for p in inside))
            what = f"one RUN for lines {a.line}-{b.end_line}: what they ship and discard is never committed"
            out.append(
                PairFix("merge", (edit,), what, sum(p.bytes for p in inside), safety, a.line, b.end_line, paths, why)
            )
    return out


__all__ = ["NEEDS_VERIFY", "SAFE", "PairFix", "PairPlan", "Unfixed", "plan_pairs"]
