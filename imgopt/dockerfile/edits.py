"""Line-span text edits of a Dockerfile, and the helpers fixers build them with.

Edits replace whole lines and are applied bottom-up, so every byte they do not touch stays
identical. The helpers refuse (return None) whenever an edit could change what the build does:
exec-form RUNs, a trailing shell comment that an appended command would fall into, heredocs that
are not plain shell scripts, RUNs with different flags.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from .model import Comment, Dockerfile, Instruction, Item, Stage
from .shell import shell_words

POSIX_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})


@dataclass(frozen=True, slots=True)
class Edit:
    first: int  # 1-based first line replaced
    last: int  # last line replaced, inclusive
    text: str  # the replacement: whole lines ("" deletes them)


@dataclass(frozen=True, slots=True)
class Fix:
    edits: tuple[Edit, ...]
    description: str


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Replace line spans, bottom-up. Spans must not overlap. Every line no edit touches stays
    byte-identical, the last one's (missing) newline included; a replaced line becomes exactly
    the edit's text."""
    lines = text.splitlines(keepends=True)
    ordered = sorted(edits, key=lambda e: (e.first, e.last))
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.first <= a.last:
            raise ValueError(f"overlapping edits at lines {a.first}-{a.last} and {b.first}-{b.last}")
    for e in reversed(ordered):
        lines[e.first - 1 : e.last] = [e.text] if e.text else []
    return "".join(lines)


def apply_tracking(text: str, origin: list[int], edits: list[Edit]) -> tuple[str, list[int]]:
    """``apply_edits``, and the map from each line of the result to the line of the input it came
    from (``origin``: the map of ``text``'s lines so far; new lines come from the span's first line,
    the last one from its last line, so a merged instruction still reaches every input line)."""
    new_text = apply_edits(text, edits)
    new_origin = list(origin)
    for e in sorted(edits, key=lambda e: e.first, reverse=True):
        n = e.text.count("\n")
        # new lines come from the span's first line; the last one from its last line, so a merged
        # instruction still reaches (by end_line) every input line it was made of
        came_from = [origin[e.first - 1]] * n
        if n > 1:
            came_from[-1] = origin[e.last - 1]
        new_origin[e.first - 1 : e.last] = came_from
    return new_text, new_origin


def stage_of(df: Dockerfile, ins: Instruction) -> Stage | None:
    return df.stages[ins.stage] if 0 <= ins.stage < len(df.stages) else None


def posix_shell(st: Stage) -> bool:
    for ins in st.instructions:
        if ins.keyword == "SHELL" and ins.json_args and posixpath.basename(ins.json_args[0]) not in POSIX_SHELLS:
            return False
    return True


def continuation(df: Dockerfile) -> str:
    return df.escape + "\n"


def last_line_comment(raw: str) -> bool:
    """The RUN's last line carries a shell comment (``RUN x # why``): appending would comment it out."""
    last = raw.rstrip("\r\n").rsplit("\n", 1)[-1]
    try:
        lexer = shlex.shlex(last, posix=True)
        lexer.whitespace_split = True
        lexer.commenters = ""
        return any(w.startswith("#") for w in lexer)
    except ValueError:
        return "#" in last


def _shell_script_heredoc(ins: Instruction) -> bool:
    """``RUN <<EOF`` (or ``sh <<EOF``): the heredoc body is the shell script itself."""
    return bool(re.fullmatch(r"(?:(?:/bin/)?(?:ba)?sh\s+)?<<-?[\"']?\w+[\"']?", ins.args.strip()))


def append_command(df: Dockerfile, ins: Instruction, command: str) -> str | None:
    """The instruction's text with ``&& command`` appended to its script (or a line appended to a
    heredoc script); None when that cannot be done without changing the meaning."""
    if ins.keyword != "RUN" or ins.json_args is not None:
        return None
    raw = ins.raw
    if ins.heredocs:
        if len(ins.heredocs) != 1 or not _shell_script_heredoc(ins):
            return None
        lines = raw.splitlines(keepends=True)
        indent = "\t" if ins.heredocs[0].strip_tabs else ""
        return "".join(lines[:-1]) + indent + command + "\n" + lines[-1]
    if last_line_comment(raw):
        return None
    body = raw.rstrip()
    joiner = " && " + continuation(df) + "    " if continuation(df) in raw else " && "
    return body + joiner + command + "\n"


def _opts(df: Dockerfile) -> str:
    sep = r"(?:[ \t]|" + re.escape(continuation(df)) + ")+"
    return rf"(?:{sep}-[^\s{re.escape(df.escape)}]*)*{sep}"


def insert_option(df: Dockerfile, ins: Instruction, program: str, subcommand: str | None, option: str) -> str | None:
    """Insert ``option`` right after ``program [opts] subcommand`` in every such command of the
    instruction that lacks it. ``program`` is a regex. None when nothing was changed."""
    if ins.keyword != "RUN" or ins.json_args is not None:
        return None
    sub = _opts(df) + subcommand if subcommand else ""
    pattern = re.compile(rf"(?<![\w./-])(?:[\w./-]*/)?(?:{program}){sub}(?=[\s;&|]|$)")
    raw = ins.raw
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(raw):
        end_of_command = re.search(r"&&|\|\||[;|\n](?<!\\\n)", raw[m.end() :])
        rest = raw[m.end() : m.end() + end_of_command.start()] if end_of_command else raw[m.end() :]
        if re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", rest):
            continue
        out.append(raw[pos : m.end()] + " " + option)
        pos = m.end()
    if not out:
        return None
    return "".join(out) + raw[pos:]


def items_between(df: Dockerfile, first: int, last: int) -> list[Item]:
    return [it for it in df.items if first <= it.line <= last]


def next_instruction(st: Stage, ins: Instruction) -> Instruction | None:
    seq = st.instructions
    for i, x in enumerate(seq):
        if x.line == ins.line:  # by position: the finding may come from another parse of the same text
            return seq[i + 1] if i + 1 < len(seq) else None
    return None


def previous_instruction(st: Stage, ins: Instruction) -> Instruction | None:
    seq = st.instructions
    for i, x in enumerate(seq):
        if x.line == ins.line:
            return seq[i - 1] if i > 0 else None
    return None


def _script_after_flags(raw: str, escape: str) -> str:
    """The RUN text after the keyword and its flags, formatting kept."""
    rest = re.sub(r"^\s*\w+", "", raw, count=1)
    sep = r"(?:[ \t]|" + re.escape(escape + "\n") + ")+"
    while True:
        m = re.match(sep + r"--\S+", rest)
        if not m:
            break
        rest = rest[m.end() :]
    return re.sub(r"^" + sep, "", rest)


def _needs_group(script: str, *, first: bool) -> bool:
    """Whether ``X && Y`` would change what a failure does unless the script becomes ``{ script; }``:
    for Y a top-level ``;``, ``||`` or ``&`` (``X && a; b`` runs b after X failed); for X only ``&``
    (``a || b && Y`` and ``a; b && Y`` already fail the build when the original RUN would have)."""
    depth = 0
    ops = ("&",) if first else (";", "||", "&", ";;")
    for w in shell_words(script):
        if w == "(":
            depth += 1
        elif w == ")":
            depth -= 1
        elif depth == 0 and w in ops:
            return True
    return False


def mergeable(df: Dockerfile, run: Sequence[Instruction]) -> bool:
    """RUNs that can become one: same stage, same flags, shell form, no heredocs, POSIX shell."""
    if len(run) < 2:
        return False
    st = stage_of(df, run[0])
    if st is None or not posix_shell(st):
        return False
    flags = run[0].flags
    for ins in run:
        if ins.keyword != "RUN" or ins.json_args is not None or ins.heredocs or ins.flags != flags:
            return False
        if ins.stage != run[0].stage or last_line_comment(ins.raw):
            return False
    return True


def merge_runs(df: Dockerfile, run: Sequence[Instruction]) -> Edit | None:
    """One RUN in place of consecutive RUNs (comments between them move into the continuation;
    blank lines between them go)."""
    if not mergeable(df, run):
        return None
    cont = continuation(df)
    text = run[0].raw.rstrip()
    if _needs_group(run[0].args, first=True):
        head = re.match(r"\s*\w+((?:[ \t]+--\S+)*)[ \t]*", text)
        assert head is not None
        text = text[: head.end()] + "{ " + text[head.end() :] + "; }"
    for prev, ins in zip(run, run[1:], strict=False):
        between = [it for it in items_between(df, prev.end_line + 1, ins.line - 1) if isinstance(it, Comment)]
        script = _script_after_flags(ins.raw, df.escape).rstrip()
        if _needs_group(ins.args, first=False):
            script = "{ " + script + "; }"
        text += " && " + cont + "".join(c.text if c.text.endswith("\n") else c.text + "\n" for c in between)
        text += "    " + script
    return Edit(run[0].line, run[-1].end_line, text + "\n")


def span(st: Stage, first: Instruction, last: Instruction) -> list[Instruction]:
    seq = list(st.instructions)
    i, j = seq.index(first), seq.index(last)
    return seq[i : j + 1]


def replace_with(ins: Instruction, text: str | None, what: str) -> Fix | None:
    return None if text is None else Fix((Edit(ins.line, ins.end_line, text),), what)


__all__ = [
    "Edit",
    "Fix",
    "append_command",
    "apply_edits",
    "apply_tracking",
    "continuation",
    "insert_option",
    "items_between",
    "last_line_comment",
    "merge_runs",
    "mergeable",
    "next_instruction",
    "posix_shell",
    "previous_instruction",
    "replace_with",
    "span",
    "stage_of",
]
