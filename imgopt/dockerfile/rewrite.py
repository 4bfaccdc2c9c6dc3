"""Hygiene rewrites: line-span text edits that fix size findings, applied bottom-up, so every byte
the fixes do not touch stays identical.

One mechanism: lint the text, ask each finding's fixer for edits, apply the ones that do not
overlap, and repeat on the result until nothing changes (a merge made in one round can be
cleaned up in the next). Fixers are pure: Dockerfile model and finding in, edits out; a fixer that
is not sure the rewrite keeps the build's meaning returns None and the finding stays unfixed.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .model import Comment, Dockerfile, Instruction, Item, Stage
from .parser import parse
from .rules import Context, Hit, check, pragma_ignores
from .shell import Command, _words, run_commands

POSIX_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})
MAX_ROUNDS = 6


@dataclass(frozen=True, slots=True)
class Edit:
    first: int  # 1-based first line replaced
    last: int  # last line replaced, inclusive
    text: str  # the replacement: whole lines ("" deletes them)


@dataclass(frozen=True, slots=True)
class Fix:
    edits: tuple[Edit, ...]
    description: str


@dataclass(frozen=True, slots=True)
class Change:
    """One applied fix: the rule, the line of the *input* Dockerfile it started from, and what it did."""

    rule: str
    line: int
    description: str
    expected_bytes: int | None = None  # what the finding costs in the original image, when measured
    end_line: int = 0  # last input line the change touched (0: just ``line``)

    @property
    def lines(self) -> range:
        return range(self.line, max(self.line, self.end_line) + 1)

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "line": self.line,
            "description": self.description,
            "expected_bytes": self.expected_bytes,
        }


Fixer = Callable[[Context, Hit], Fix | None]
FIXERS: dict[str, Fixer] = {}


def fixer(*rules: str) -> Callable[[Fixer], Fixer]:
    def register(fn: Fixer) -> Fixer:
        for r in rules:
            FIXERS[r] = fn
        return fn

    return register


def can_fix(ctx: Context, hit: Hit) -> bool:
    """Whether ``imgopt optimize`` fixes this finding (an edit, or the proposed .dockerignore)."""
    if hit.rule in DOCKERIGNORE_RULES:
        return ctx.has_context and not ctx.dockerignore
    fn = FIXERS.get(hit.rule)
    return fn is not None and fn(ctx, hit) is not None


# ---------------------------------------------------------------------------------------------
# text helpers


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Replace line spans, bottom-up. Spans must not overlap."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    ordered = sorted(edits, key=lambda e: (e.first, e.last))
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.first <= a.last:
            raise ValueError(f"overlapping edits at lines {a.first}-{a.last} and {b.first}-{b.last}")
    for e in reversed(ordered):
        lines[e.first - 1 : e.last] = [e.text] if e.text else []
    return "".join(lines)


def _stage_of(df: Dockerfile, ins: Instruction) -> Stage | None:
    return df.stages[ins.stage] if 0 <= ins.stage < len(df.stages) else None


def _posix_shell(st: Stage) -> bool:
    for ins in st.instructions:
        if ins.keyword == "SHELL" and ins.json_args and posixpath.basename(ins.json_args[0]) not in POSIX_SHELLS:
            return False
    return True


def _cont(df: Dockerfile) -> str:
    return df.escape + "\n"


def _last_line_comment(raw: str) -> bool:
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
    if _last_line_comment(raw):
        return None
    body = raw.rstrip()
    joiner = " && " + _cont(df) + "    " if _cont(df) in raw else " && "
    return body + joiner + command + "\n"


def _opts(df: Dockerfile) -> str:
    sep = r"(?:[ \t]|" + re.escape(_cont(df)) + ")+"
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


# ---------------------------------------------------------------------------------------------
# structure helpers


def _items_between(df: Dockerfile, first: int, last: int) -> list[Item]:
    return [it for it in df.items if first <= it.line <= last]


def _next_instruction(st: Stage, ins: Instruction) -> Instruction | None:
    seq = st.instructions
    for i, x in enumerate(seq):
        if x.line == ins.line:  # by position: the finding may come from another parse of the same text
            return seq[i + 1] if i + 1 < len(seq) else None
    return None


def _previous_instruction(st: Stage, ins: Instruction) -> Instruction | None:
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
    for w in _words(script):
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
    st = _stage_of(df, run[0])
    if st is None or not _posix_shell(st):
        return False
    flags = run[0].flags
    for ins in run:
        if ins.keyword != "RUN" or ins.json_args is not None or ins.heredocs or ins.flags != flags:
            return False
        if ins.stage != run[0].stage or _last_line_comment(ins.raw):
            return False
    return True


def merge_runs(df: Dockerfile, run: Sequence[Instruction]) -> Edit | None:
    """One RUN in place of consecutive RUNs (comments between them move into the continuation;
    blank lines between them go)."""
    if not mergeable(df, run):
        return None
    cont = _cont(df)
    text = run[0].raw.rstrip()
    if _needs_group(run[0].args, first=True):
        head = re.match(r"\s*\w+((?:[ \t]+--\S+)*)[ \t]*", text)
        assert head is not None
        text = text[: head.end()] + "{ " + text[head.end() :] + "; }"
    for prev, ins in zip(run, run[1:], strict=False):
        between = [it for it in _items_between(df, prev.end_line + 1, ins.line - 1) if isinstance(it, Comment)]
        script = _script_after_flags(ins.raw, df.escape).rstrip()
        if _needs_group(ins.args, first=False):
            script = "{ " + script + "; }"
        text += " && " + cont + "".join(c.text if c.text.endswith("\n") else c.text + "\n" for c in between)
        text += "    " + script
    return Edit(run[0].line, run[-1].end_line, text + "\n")


def _span(st: Stage, first: Instruction, last: Instruction) -> list[Instruction]:
    seq = list(st.instructions)
    i, j = seq.index(first), seq.index(last)
    return seq[i : j + 1]


def _one_line(ins: Instruction) -> str:
    text = " ".join(ins.args.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _replace(ins: Instruction, text: str | None, what: str) -> Fix | None:
    return None if text is None else Fix((Edit(ins.line, ins.end_line, text),), what)


# ---------------------------------------------------------------------------------------------
# the fixers


@fixer("IMG101")
def _apt_lists(ctx: Context, hit: Hit) -> Fix | None:
    df, ins = ctx.dockerfile, hit.ins
    st = _stage_of(df, ins)
    cmds = run_commands(ins)
    installs = any(c.is_("apt-get", "install") or c.is_("apt", "install") for c in cmds)
    if st is not None and not installs:
        nxt = _next_instruction(st, ins)
        if nxt is not None and nxt.keyword == "RUN" and any(c.is_("apt-get", "install") for c in run_commands(nxt)):
            edit = merge_runs(df, [ins, nxt])
            if edit is not None:
                return Fix((edit,), f"merged the lone `apt-get update` into the install RUN at line {nxt.line}")
        return None  # deleting the lists right after updating them would break a later install
    # apt-get clean also drops /var/cache/apt/*.bin, which bases without Docker's official
    # apt.conf.d/docker-clean keep (about 2 x 40 MB for Debian's main archive)
    cleaned = any(c.is_("apt-get", "clean") or c.is_("apt", "clean") for c in cmds)
    cleanup = "rm -rf /var/lib/apt/lists/*" if cleaned else "apt-get clean && rm -rf /var/lib/apt/lists/*"
    return _replace(ins, append_command(df, ins, cleanup), "delete the apt lists and caches in the RUN that made them")


@fixer("IMG102")
def _apt_recommends(ctx: Context, hit: Hit) -> Fix | None:
    text = insert_option(ctx.dockerfile, hit.ins, r"apt-get", "install", "--no-install-recommends")
    return _replace(hit.ins, text, "apt-get install --no-install-recommends")


@fixer("IMG103")
def _apk_cache(ctx: Context, hit: Hit) -> Fix | None:
    return _replace(hit.ins, insert_option(ctx.dockerfile, hit.ins, "apk", "add", "--no-cache"), "apk add --no-cache")


@fixer("IMG107")
def _pip_cache(ctx: Context, hit: Hit) -> Fix | None:
    text = insert_option(
        ctx.dockerfile, hit.ins, r"pip[\d.]*|python[\d.]*[ \t]+-m[ \t]+pip[\d.]*", "install", "--no-cache-dir"
    )
    return _replace(hit.ins, text, "pip install --no-cache-dir")


@fixer("IMG108")
def _useradd(ctx: Context, hit: Hit) -> Fix | None:
    return _replace(hit.ins, insert_option(ctx.dockerfile, hit.ins, "useradd", None, "-l"), "useradd -l")


@fixer("IMG131")
def _gem_doc(ctx: Context, hit: Hit) -> Fix | None:
    text = insert_option(ctx.dockerfile, hit.ins, "gem", "install", "--no-document")
    return _replace(hit.ins, text, "gem install --no-document")


CLEANUPS = {
    "IMG104": ("yum clean all && rm -rf /var/cache/yum", "clean the yum cache in the installing RUN"),
    "IMG105": ("zypper clean --all", "clean the zypper cache in the installing RUN"),
    "IMG110": ("yarn cache clean", "clean the yarn cache in the installing RUN"),
    "IMG130": ("npm cache clean --force", "clean the npm cache in the installing RUN"),
    "IMG132": ("rm -rf /usr/local/bundle/cache", "remove the bundler cache in the installing RUN"),
    "IMG133": ("conda clean -afy", "clean the conda package cache in the installing RUN"),
    "IMG134": ("rm -rf ~/.cache/pypoetry", "remove the poetry cache in the installing RUN"),
}


@fixer(*CLEANUPS)
def _cleanup(ctx: Context, hit: Hit) -> Fix | None:
    command, what = CLEANUPS[hit.rule]
    return _replace(hit.ins, append_command(ctx.dockerfile, hit.ins, command), what)


@fixer("IMG106")
def _dnf_cache(ctx: Context, hit: Hit) -> Fix | None:
    tool = "microdnf" if any(c.name == "microdnf" for c in run_commands(hit.ins)) else "dnf"
    text = append_command(ctx.dockerfile, hit.ins, f"{tool} clean all")
    return _replace(hit.ins, text, f"clean the {tool} cache in the installing RUN")


@fixer("IMG109")
def _consecutive(ctx: Context, hit: Hit) -> Fix | None:
    st = _stage_of(ctx.dockerfile, hit.ins)
    prev = _previous_instruction(st, hit.ins) if st else None
    if prev is None:
        return None
    edit = merge_runs(ctx.dockerfile, [prev, hit.ins])
    return None if edit is None else Fix((edit,), f"merged with the RUN at line {prev.line}: one layer instead of two")


@fixer("IMG121")
def _separate_cleanup(ctx: Context, hit: Hit) -> Fix | None:
    st = _stage_of(ctx.dockerfile, hit.ins)
    prev = _previous_instruction(st, hit.ins) if st else None
    if prev is None or prev.keyword != "RUN":
        return None  # the files come from a COPY or the base: only a different build can drop them
    edit = merge_runs(ctx.dockerfile, [prev, hit.ins])
    if edit is None:
        return None
    return Fix((edit,), f"moved the cleanup into the RUN at line {prev.line} that creates the files")


_DELETED_AT = re.compile(r"deleted at line (\d+)")


@fixer("IMG141")
def _download_deleted(ctx: Context, hit: Hit) -> Fix | None:
    df, ins = ctx.dockerfile, hit.ins
    m = _DELETED_AT.search(hit.message)
    st = _stage_of(df, ins)
    if m is None or st is None or ins.keyword != "RUN":
        return None
    deleting = next((x for x in st.instructions if x.line == int(m.group(1))), None)
    if deleting is None:
        return None
    span = _span(st, ins, deleting)
    edit = merge_runs(df, span)
    if edit is None:
        return None
    return Fix((edit,), f"fetch, use and delete in one RUN (lines {ins.line}-{deleting.end_line} merged)")


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


@fixer("IMG140")
def _chown_copy(ctx: Context, hit: Hit) -> Fix | None:
    """``COPY src /app`` ... ``RUN chown -R u:g /app`` -> ``COPY --chown=u:g src /app`` (the RUN goes).
    Only when the RUN is that single chown, its target is exactly what COPYs created, and no RUN
    in between writes there; if the user is created after the COPY, the COPY moves down to where
    the chown was."""
    df, ins = ctx.dockerfile, hit.ins
    st = _stage_of(df, ins)
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


# ---------------------------------------------------------------------------------------------
# the driver


@dataclass(frozen=True)
class Rewrite:
    text: str
    changes: tuple[Change, ...]
    unfixed: tuple[Hit, ...]  # hygiene findings of the result that no fixer could handle
    origin: tuple[int, ...] = ()  # line of the result (index + 1) -> line of the input it came from

    def input_line(self, line: int) -> int:
        return self.origin[line - 1] if 0 < line <= len(self.origin) else line


HYGIENE = frozenset(FIXERS)
STRUCTURAL = ("IMG140", "IMG141", "IMG121", "IMG101", "IMG109")  # moves and merges go before in-place edits


def hygiene(
    df: Dockerfile,
    *,
    dockerignore: tuple[str, ...] | None = None,
    has_context: bool = False,
    rules: frozenset[str] = HYGIENE,
    ignore: frozenset[str] = frozenset(),
) -> Rewrite:
    """Apply every fixer until nothing changes. Findings silenced by ``ignore`` (configuration) or
    by an ignore pragma in the file are left alone, like the linter leaves them."""
    text = df.render()
    origin = list(range(1, text.count("\n") + 2))  # current line -> input line
    changes: list[Change] = []
    done: set[tuple[str, int, str]] = set()  # (rule, input line, what): a fix is never applied twice
    current = df

    def wanted(d: Dockerfile, ctx: Context) -> list[Hit]:
        global_ids, per_line = pragma_ignores(d)
        hits = [
            h
            for h in check(ctx)
            if h.rule in rules
            and h.rule not in ignore
            and h.rule not in global_ids
            and h.rule not in per_line.get(h.ins.line, ())
        ]
        return sorted(hits, key=lambda h: (STRUCTURAL.index(h.rule) if h.rule in STRUCTURAL else 99, h.ins.line))

    for _ in range(MAX_ROUNDS):
        ctx = Context(current, frozenset(current.reaching_final()), dockerignore, has_context)
        edits: list[Edit] = []
        taken: list[tuple[int, int]] = []
        for hit in wanted(current, ctx):
            fix = FIXERS[hit.rule](ctx, hit) if hit.rule in FIXERS else None
            key = (hit.rule, origin[hit.ins.line - 1], fix.description if fix else "")
            if fix is None or key in done:
                continue
            spans = [(e.first, e.last) for e in fix.edits]
            if any(a <= d and c <= b for a, b in spans for c, d in taken):
                continue  # next round, on the result of this one
            taken += spans
            edits += fix.edits
            done.add(key)
            end = max(origin[min(e.last, len(origin)) - 1] for e in fix.edits)
            changes.append(Change(hit.rule, key[1], fix.description, end_line=max(end, key[1])))
        if not edits:
            break
        text, origin = _apply_tracking(text, origin, edits)
        current = parse(text, df.path)
    ctx = Context(current, frozenset(current.reaching_final()), dockerignore, has_context)
    merged: dict[tuple[str, int], Change] = {}
    for c in changes:  # one entry per finding: fixes of the same finding over several rounds join
        finding = (c.rule, c.line)
        prev = merged.get(finding)
        merged[finding] = (
            c
            if prev is None
            else replace(
                prev, description=f"{prev.description}; {c.description}", end_line=max(prev.end_line, c.end_line)
            )
        )
    ordered = tuple(sorted(merged.values(), key=lambda c: c.line))
    return Rewrite(text, ordered, tuple(wanted(current, ctx)), tuple(origin))


def _apply_tracking(text: str, origin: list[int], edits: list[Edit]) -> tuple[str, list[int]]:
    new_text = apply_edits(text, edits)
    new_origin = list(origin)
    for e in sorted(edits, key=lambda e: e.first, reverse=True):
        n = e.text.count("\n")
        # new lines come from the span's first line; the last one from its last line, so a merged
        # instruction still reaches (by end_line) every input line it was made of
        span = [origin[e.first - 1]] * n
        if n > 1:
            span[-1] = origin[e.last - 1]
        new_origin[e.first - 1 : e.last] = span
    return new_text, new_origin


def unified_diff(before: str, after: str, name: str = "Dockerfile") -> str:
    import difflib

    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{name}", f"b/{name}"
        )
    )


DOCKERIGNORE_RULES = frozenset({"IMG120", "IMG144"})
ALWAYS_IGNORED = (
    "**/__pycache__",
    "**/*.py[co]",
    "**/.venv",
    "**/.tox",
    "**/.nox",
    "**/.pytest_cache",
    "**/.mypy_cache",
    "**/.DS_Store",
)


def proposed_dockerignore(df: Dockerfile, existing: tuple[str, ...] | None) -> str | None:
    """A .dockerignore for a context that has none (or an empty one); None when one exists.
    Conservative: ``.git`` only when no instruction uses git data, ``node_modules`` only when the
    build installs them itself; caches of Python tools always. Build output directories (dist,
    target, build) are never proposed: a Dockerfile may COPY artifacts built outside it."""
    if existing:
        return None
    text = df.render()
    lines = ["# proposed by imgopt: keep VCS data, caches and host dependencies out of the build context"]
    if ".git" not in text and not any(c.name == "git" for i in df.instructions for c in _run_cmds(i)):
        lines.append(".git")
    if any(c.is_("npm", "install", "i", "ci") or c.name == "yarn" for i in df.instructions for c in _run_cmds(i)):
        lines.append("**/node_modules")
    lines += ALWAYS_IGNORED
    return "\n".join(lines) + "\n"


def _run_cmds(ins: Instruction) -> list[Command]:
    return run_commands(ins) if ins.keyword == "RUN" else []


__all__ = [
    "Change",
    "Edit",
    "FIXERS",
    "Fix",
    "Rewrite",
    "append_command",
    "apply_edits",
    "can_fix",
    "hygiene",
    "insert_option",
    "merge_runs",
    "proposed_dockerignore",
    "unified_diff",
]
