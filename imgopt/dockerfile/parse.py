"""Instructions of a Dockerfile's final stage (following ``FROM <stage>`` chains).

Uses dockerfile-parse for tokenising; its heredoc handling is wrong (body lines come out as
instructions), so heredoc bodies are folded back into their instruction here.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from ..errors import DockerfileError

_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")


@dataclass(frozen=True, slots=True)
class StageInstruction:
    keyword: str
    text: str
    line: int  # 1-based
    end_line: int
    stage: str


def _read(path_or_text: str) -> str:
    if "\n" in path_or_text:
        return path_or_text
    try:
        with open(path_or_text, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError as e:
        raise DockerfileError(f"no such Dockerfile: {path_or_text}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise DockerfileError(f"cannot read Dockerfile {path_or_text}: {e}") from e


def final_stage_instructions(path_or_text: str) -> list[StageInstruction]:
    """The instructions whose history entries end up in the final image, in order."""
    from dockerfile_parse import DockerfileParser

    text = _read(path_or_text)
    # only ever from memory: given no fileobj, dockerfile-parse reads and *writes* ./Dockerfile
    parser = DockerfileParser(fileobj=io.StringIO(text))
    try:
        structure = parser.structure
    except Exception as e:  # dockerfile-parse raises assorted errors on bad input
        raise DockerfileError(f"cannot parse Dockerfile: {e}") from e
    # fold heredoc bodies (which dockerfile-parse reports as instructions) into their owner
    items: list[tuple[str, str, int, int]] = []
    open_heredocs: list[str] = []
    for s in structure:
        kw, value, start, end = s["instruction"].upper(), s["value"], s["startline"] + 1, s["endline"] + 1
        if open_heredocs:
            k0, v0, s0, _ = items[-1]
            raw = s["content"].strip()
            items[-1] = (k0, v0 + "\n" + raw, s0, end)
            if raw in open_heredocs:
                open_heredocs.remove(raw)
            continue
        if kw == "COMMENT":
            continue
        items.append((kw, value, start, end))
        if kw in ("RUN", "COPY", "ADD"):
            open_heredocs = [m.group(2) for m in _HEREDOC.finditer(value)]
    if not items or items[0][0] not in ("FROM", "ARG"):
        raise DockerfileError("Dockerfile does not start with FROM (or ARG before FROM)")
    stages: list[tuple[str, str, list[StageInstruction]]] = []
    for kw, value, start, end in items:
        if kw == "FROM":
            words = [w for w in value.split() if not w.startswith("--")]
            if not words:
                raise DockerfileError(f"line {start}: FROM without an image")
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else str(len(stages))
            stages.append((name.lower(), words[0].lower(), []))
        elif stages:
            stages[-1][2].append(StageInstruction(kw, value, start, end, stages[-1][0]))
    if not stages:
        raise DockerfileError("Dockerfile has no FROM")
    by_name = {name: (base, ins) for name, base, ins in stages}
    chain: list[StageInstruction] = []
    name, seen = stages[-1][0], set()
    while name in by_name and name not in seen:
        seen.add(name)
        base, ins = by_name[name]
        chain = ins + chain
        name = base
    return chain
