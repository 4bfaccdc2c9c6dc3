"""Users and ownership: useradd's sparse log files, and ``chown -R`` in a layer of its own."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from ..edits import Edit, Fix, insert_option, replace_with, stage_of
from ..model import Instruction, Stage
from ..shell import run_commands
from .core import WARNING, Context, Cost, Hit, Rule, StageView, Step, abspath, paths, rule

# a UID with more digits than this makes useradd write a lastlog/faillog sparse file that big
UID_DIGITS = 5


def _useradd(ctx: Context, st: Stage, step: Step) -> Iterator[Hit]:
    for c in step.cmds:
        if c.name != "useradd" or c.has_flag("-l", "--no-log-init"):
            continue
        uid = None
        for i, w in enumerate(c.words):
            if w in ("-u", "--uid") and i + 1 < len(c.words):
                uid = c.words[i + 1]
            elif w.startswith("--uid="):
                uid = w.split("=", 1)[1]
            elif w.startswith("-u") and len(w) > 2 and w[2:].isdigit():
                uid = w[2:]
        if uid is not None and uid.isdigit() and len(uid) > UID_DIGITS:
            yield Hit(
                "IMG108",
                f"useradd -u {uid} without -l writes a sparse /var/log/lastlog and faillog sized by the UID",
                step.ins,
            )


def _fix_useradd(ctx: Context, hit: Hit) -> Fix | None:
    return replace_with(hit.ins, insert_option(ctx.dockerfile, hit.ins, "useradd", None, "-l"), "useradd -l")


rule(
    Rule(
        "IMG108",
        "useradd-no-log-init",
        WARNING,
        "useradd with a high UID needs -l (--no-log-init).",
        "DL3046",
        paths("var/log/lastlog", "var/log/faillog"),
        on_run=_useradd,
        fix=_fix_useradd,
        why=(
            "`useradd` records every user in /var/log/lastlog and /var/log/faillog, files indexed by UID: "
            "a UID like 123456789 makes them sparse files of tens of GB that tar does not keep sparse."
        ),
        bad="RUN useradd -u 123456789 app\n",
        good="RUN useradd -l -u 123456789 app\n",
        notes="Only UIDs of six or more digits are flagged, as hadolint does.",
    )
)

# commands that create the paths they name: a chown -R in the same RUN touches files written once
CREATORS = frozenset(
    {
        "mkdir", "cp", "git", "tar", "unzip", "mv", "install", "useradd", "adduser", "wget", "curl", "npm",
        "pip", "python", "python3", "go", "cargo", "make", "ln", "touch",
    }
)  # fmt: skip


def _chown_later(ctx: Context, view: StageView) -> Iterator[Hit]:
    for step in view.steps:
        if step.ins.keyword != "RUN":
            continue
        cmds = step.cmds
        for c in cmds:
            if c.name in ("chown", "chmod") and c.has_flag("-R", "--recursive"):
                raw_targets = c.positional()[1:]
                targets = [abspath(step.workdir, w) for w in raw_targets]
                # files this RUN creates itself are written once; anything else came from a lower layer
                made_here = any(
                    c2 is not c and c2.name in CREATORS and any(t in c2.words for t in raw_targets + targets)
                    for c2 in cmds
                )
                if targets and not made_here:
                    yield Hit(
                        "IMG140",
                        f"{c.name} -R in its own layer copies every file under "
                        f"{', '.join(targets[:3])} again; use COPY --chown/--chmod or do it in "
                        "the RUN that creates them",
                        step.ins,
                    )
                    break


def _copy_dest(ins: Instruction, workdir: str) -> str | None:
    words = list(ins.json_args) if ins.json_args else ins.args.split()
    if ins.heredocs or len(words) < 2:
        return None
    return posixpath.normpath(posixpath.join(workdir, words[-1].strip("\"'")))


def _user_exists_before(st: Stage, owner: str, before_line: int) -> bool:
    user = owner.split(":")[0]
    group = owner.split(":")[1] if ":" in owner else ""
    if all(x == "" or x.isdigit() or x == "root" for x in (user, group)):
        return True
    made: set[str] = set()
    for ins in st.instructions:
        if ins.line >= before_line:
            break
        if ins.keyword == "RUN":
            for c in run_commands(ins):
                if c.name in ("useradd", "adduser", "groupadd", "addgroup") and c.positional():
                    made.add(c.positional()[-1])
    return all(x == "" or x.isdigit() or x == "root" or x in made for x in (user, group))


def _chown_copy(ctx: Context, hit: Hit) -> Fix | None:
    """``COPY src /app`` ... ``RUN chown -R u:g /app`` -> ``COPY --chown=u:g src /app`` (the RUN goes).
    Only when the RUN is that single chown, its target is exactly what COPYs created, and no RUN
    in between writes there; if the user is created after the COPY, the COPY moves down to where
    the chown was."""
    df, ins = ctx.dockerfile, hit.ins
    st = stage_of(df, ins)
    cmds = run_commands(ins)
    if st is None or len(cmds) != 1 or cmds[0].name != "chown" or ins.flags:
        return None
    c = cmds[0]
    pos = c.positional()
    if len(pos) != 2 or any(w.startswith("-") and w not in ("-R", "--recursive") for w in c.args):
        return None
    owner, target = pos
    workdir = "/"
    copies: list[tuple[Instruction, str]] = []
    between: list[Instruction] = []
    for x in st.instructions:
        if x.line >= ins.line:
            break
        if x.keyword == "WORKDIR":
            workdir = posixpath.normpath(posixpath.join(workdir, x.args.strip().strip("\"'")))
        if x.keyword in ("COPY", "ADD"):
            dest = _copy_dest(x, workdir)
            if dest is not None and dest == posixpath.normpath(posixpath.join(workdir, target)):
                copies.append((x, dest))
                between = []
                continue
        between.append(x)
    if not copies or any(x.flag("chown") for x, _ in copies):
        return None
    target_abs = copies[0][1]
    # no RUN after the first COPY writes into the target (a mention of the path is enough to refuse)
    first_copy_line = copies[0][0].line
    for x in st.instructions:
        if first_copy_line < x.line < ins.line and x.keyword == "RUN" and target_abs in x.args:
            return None
    if len(copies) == 1 and not _user_exists_before(st, owner, copies[0][0].line):
        if not _user_exists_before(st, owner, ins.line):
            return None
        cp = copies[0][0]
        if any(x.keyword not in ("RUN", "ENV", "ARG", "LABEL", "EXPOSE") for x in between):
            return None
        moved = _with_chown(cp, owner)
        return Fix(
            (Edit(cp.line, cp.end_line, ""), Edit(ins.line, ins.end_line, moved)),
            f"COPY --chown={owner} (moved below the user's creation) instead of a chown -R layer",
        )
    if not all(_user_exists_before(st, owner, x.line) for x, _ in copies):
        return None
    edits = [Edit(x.line, x.end_line, _with_chown(x, owner)) for x, _ in copies]
    edits.append(Edit(ins.line, ins.end_line, ""))
    return Fix(tuple(edits), f"COPY --chown={owner} instead of a later chown -R that copies every file again")


def _with_chown(ins: Instruction, owner: str) -> str:
    m = re.match(r"(\s*\w+)", ins.raw)
    assert m is not None
    return ins.raw[: m.end()] + f" --chown={owner}" + ins.raw[m.end() :]


rule(
    Rule(
        "IMG140",
        "recursive-chown-later",
        WARNING,
        "chown/chmod -R in a later RUN duplicates every file it touches; use COPY --chown/--chmod.",
        cost=Cost("metadata-only"),
        on_stage=_chown_later,
        fix=_chown_copy,
        fix_order=0,
        why=(
            "Changing owner or mode writes a new copy of every file into the new layer, even though the "
            "content is unchanged: a `chown -R` of 300 MB adds 300 MB."
        ),
        bad=("COPY . /home/app/src\nRUN chown -R app:app /home/app/src\n"),
        good="COPY --chown=app:app . /home/app/src\n",
        notes=(
            "Not flagged when the same RUN creates the files (mkdir, cp, git clone, tar ...). With --image "
            "the cost is the bytes this layer rewrote with identical content (the `metadata-only` cause)."
        ),
    )
)
