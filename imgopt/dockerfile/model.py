"""The Dockerfile model: every byte of the input belongs to exactly one item, so rendering the
items back gives the input unchanged; instructions carry exact line spans, flags, arguments,
heredocs and the comments found inside their continuation lines."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Flag:
    name: str  # without the leading "--"
    value: str | None  # None for a bare flag (--link)

    def options(self) -> dict[str, str]:
        """``--mount=type=cache,target=/x`` -> {"type": "cache", "target": "/x"}."""
        out: dict[str, str] = {}
        for part in (self.value or "").split(","):
            key, eq, val = part.partition("=")
            if key:
                out[key.strip().lower()] = val.strip() if eq else "true"
        return out


@dataclass(frozen=True, slots=True)
class Heredoc:
    name: str
    body: str  # the lines between the opening line and the terminator, newlines included
    strip_tabs: bool  # <<-
    quoted: bool  # <<"EOF": no expansion
    line: int  # first body line
    end_line: int  # the terminator line


@dataclass(frozen=True, slots=True)
class Comment:
    text: str  # the raw line, newline included
    line: int

    @property
    def raw(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Blank:
    text: str
    line: int

    @property
    def raw(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str  # upper case (ONBUILD keeps ONBUILD; see ``onbuild``)
    raw: str  # exact source text: continuation lines, inner comments and heredoc bodies included
    line: int  # 1-based first line
    end_line: int  # last line (the heredoc terminator if any)
    flags: tuple[Flag, ...]
    args: str  # the arguments after the flags, continuations joined, inner comments dropped
    heredocs: tuple[Heredoc, ...] = ()
    comments: tuple[str, ...] = ()  # comment lines inside continuations
    json_args: tuple[str, ...] | None = None  # exec form ["a", "b"]
    onbuild: Instruction | None = None  # the instruction an ONBUILD wraps
    stage: int = -1  # index of the stage it belongs to (-1: before the first FROM)

    def flag(self, name: str) -> Flag | None:
        for f in self.flags:
            if f.name == name:
                return f
        return None

    def flags_named(self, name: str) -> list[Flag]:
        return [f for f in self.flags if f.name == name]


Item = Instruction | Comment | Blank


@dataclass(frozen=True, slots=True)
class Stage:
    index: int
    name: str | None  # FROM ... AS name (lower case)
    base: str  # as written
    base_resolved: str  # global ARGs substituted
    platform: str | None
    from_instruction: Instruction
    instructions: tuple[Instruction, ...]  # after FROM, up to the next FROM
    base_stage: int | None  # index of the stage this one is built FROM, if any


@dataclass(frozen=True)
class Dockerfile:
    text: str
    items: tuple[Item, ...]
    directives: dict[str, str]
    escape: str
    global_args: tuple[Instruction, ...]
    stages: tuple[Stage, ...]
    path: str | None = None
    edges: tuple[tuple[int, int, str], ...] = field(default=())  # (from stage, to stage, via)

    def render(self) -> str:
        return "".join(i.raw for i in self.items)

    @property
    def instructions(self) -> list[Instruction]:
        return [i for i in self.items if isinstance(i, Instruction)]

    @property
    def final_stage(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    def reaching_final(self) -> set[int]:
        """Stages whose filesystem ends up in the final image: the final stage and the chain of
        stages it is built FROM (a stage that only feeds ``COPY --from`` does not reach it)."""
        out: set[int] = set()
        stage = self.final_stage
        while stage is not None and stage.index not in out:
            out.add(stage.index)
            stage = self.stages[stage.base_stage] if stage.base_stage is not None else None
        return out
