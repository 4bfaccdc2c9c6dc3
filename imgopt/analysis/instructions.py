"""Which Dockerfile instruction made which layer.

History ``created_by`` strings (classic builder: ``/bin/sh -c #(nop)  COPY ...``; BuildKit:
``RUN /bin/sh -c ... # buildkit``) are normalised to (keyword, text) and aligned with the
Dockerfile's instructions by a weighted longest-common-subsequence: order is preserved, a RUN
matches only when its command text agrees, COPY/ADD when the destination agrees. History entries
before the first match belong to the base image. Pure: the caller parses the Dockerfile.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..model import HistoryEntry

_SPACE = re.compile(r"\s+")
_ARGS_PREFIX = re.compile(r"^\|\d+(?:\s+\S+=\S*)*\s+")
_LEADING_FLAGS = re.compile(r"^(?:--\S+\s+)+")  # RUN --mount=... / COPY --chown=...
_SHELL = re.compile(r"^(?:/bin/(?:ba)?sh|sh|bash)\s+-c\s+")
KEYWORDS = (
    "RUN",
    "COPY",
    "ADD",
    "WORKDIR",
    "ENV",
    "CMD",
    "ENTRYPOINT",
    "USER",
    "EXPOSE",
    "LABEL",
    "ARG",
    "VOLUME",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
    "ONBUILD",
    "MAINTAINER",
)


@dataclass(frozen=True, slots=True)
class Instruction:
    """A Dockerfile instruction as the parser saw it."""

    keyword: str  # upper case
    text: str  # arguments as written (continuations joined)
    line: int  # 1-based first line
    end_line: int
    stage: str | None = None


@dataclass(frozen=True, slots=True)
class Attribution:
    """The instruction (if any) behind one history entry."""

    history_index: int
    instruction: Instruction | None
    status: str  # "matched", "base-image", "unmatched"


def _norm(s: str) -> str:
    return _SPACE.sub(" ", s.replace("\\\n", " ")).strip()


def parse_created_by(created_by: str) -> tuple[str, str]:
    """Normalise a history ``created_by`` to (KEYWORD, text); unknown shapes give ('', text)."""
    s = _norm(created_by)
    if s.endswith("# buildkit"):
        s = s[: -len("# buildkit")].rstrip()
    nop = re.match(r"^/bin/sh -c #\(nop\)\s*(.*)$", s)
    if nop:
        s = nop.group(1)
        word, _, rest = s.partition(" ")
        return word.upper(), rest.strip()
    word, _, rest = s.partition(" ")
    if word.upper() in KEYWORDS and word.isupper():
        if word == "RUN":
            rest = _LEADING_FLAGS.sub("", rest.strip())
            rest = _ARGS_PREFIX.sub("", rest)
            rest = _SHELL.sub("", rest)
        return word, rest.strip()
    # classic builder RUN: "/bin/sh -c cmd" or "|2 A=1 B=2 /bin/sh -c cmd"
    s = _ARGS_PREFIX.sub("", s)
    if _SHELL.match(s):
        return "RUN", _SHELL.sub("", s)
    return "", s


def _run_text(text: str) -> str:
    t = _norm(text)
    if t.startswith("["):  # exec form: ["a", "b"] -> a b
        t = " ".join(x.strip().strip('"') for x in t.strip("[]").split(","))
    return t


def _flags_removed(text: str) -> str:
    """The instruction's own flags (``--mount=...``, ``--chown=...``) dropped; options of the
    commands themselves (``./app --selftest``) kept."""
    return _LEADING_FLAGS.sub("", _norm(text))


def _score(h: tuple[str, str], ins: Instruction) -> int:
    kw, text = h
    if kw != ins.keyword:
        return 0
    if kw == "RUN":
        mine = _flags_removed(_run_text(ins.text))
        theirs = _norm(text)
        if mine and (mine == theirs or mine in theirs or theirs in mine):
            return 3
        return 0
    if kw in ("COPY", "ADD"):
        dest = _flags_removed(ins.text).split(" ")[-1] if ins.text.strip() else ""
        dest_h = text.split(" in ")[-1].strip() if " in " in text else text.split(" ")[-1]
        if dest and (dest.rstrip("/") == dest_h.rstrip("/") or dest_h.endswith(dest.rstrip("/"))):
            return 3
        return 1
    return 2


def attribute(history: Sequence[HistoryEntry], instructions: Sequence[Instruction]) -> list[Attribution]:
    """Align history entries with instructions; one Attribution per history entry."""
    hs = [parse_created_by(h.created_by) for h in history]
    n, m = len(hs), len(instructions)
    # dp[i][j]: best score aligning hs[i:] with instructions[j:]
    dp = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, nxt = dp[i], dp[i + 1]
        for j in range(m - 1, -1, -1):
            best = max(nxt[j], row[j + 1])
            s = _score(hs[i], instructions[j])
            if s:
                best = max(best, s + nxt[j + 1])
            row[j] = best
    pairs: dict[int, Instruction] = {}
    i = j = 0
    while i < n and j < m:
        s = _score(hs[i], instructions[j])
        if s and dp[i][j] == s + dp[i + 1][j + 1]:
            pairs[i] = instructions[j]
            i += 1
            j += 1
        elif dp[i][j] == dp[i + 1][j]:
            i += 1
        else:
            j += 1
    first = min(pairs) if pairs else n
    out = []
    for k in range(n):
        if k in pairs:
            out.append(Attribution(k, pairs[k], "matched"))
        else:
            out.append(Attribution(k, None, "base-image" if k < first else "unmatched"))
    return out
