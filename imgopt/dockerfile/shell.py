"""Just enough shell to lint RUN instructions: split a script into simple commands.

``a && b || c; d | e`` gives five commands; ``sh -c '...'`` and ``bash -c "..."`` are looked into;
heredoc bodies are scripts of their own; leading ``VAR=x``, ``sudo``, ``env``, ``exec``, ``nohup``
and ``time`` are stripped. Word splitting follows POSIX quoting (shlex); a script shlex cannot
split (unbalanced quotes) falls back to whitespace splitting rather than failing the lint.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass

from .model import Instruction

SEPARATORS = frozenset({"&&", "||", ";", "|", "&", "(", ")", "\n", ";;", "|&"})
WRAPPERS = frozenset({"sudo", "env", "exec", "nohup", "time", "command", "xargs"})
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_VALUE_OPTIONS = frozenset({"-o", "-c", "-t", "-u", "-g", "-G", "-d", "-s", "--option", "--target-release"})
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})


@dataclass(frozen=True, slots=True)
class Command:
    words: tuple[str, ...]

    @property
    def name(self) -> str:
        return posixpath.basename(self.words[0]) if self.words else ""

    @property
    def args(self) -> tuple[str, ...]:
        return self.words[1:]

    def positional(self) -> list[str]:
        """Non-option words; the value after an option that takes one (``-o X``) is skipped."""
        out = []
        skip = False
        for w in self.words[1:]:
            if skip:
                skip = False
                continue
            if w.startswith("-"):
                skip = w in _VALUE_OPTIONS
                continue
            out.append(w)
        return out

    def has_flag(self, *flags: str) -> bool:
        """Long flags match exactly or as ``--flag=value``; single-letter flags also inside
        clusters (``-rf`` has ``-r`` and ``-f``)."""
        for w in self.words[1:]:
            for f in flags:
                if w == f or (f.startswith("--") and w.startswith(f + "=")):
                    return True
                if (
                    len(f) == 2
                    and f[0] == "-"
                    and f[1] != "-"
                    and w.startswith("-")
                    and not w.startswith("--")
                    and f[1] in w[1:]
                ):
                    return True
        return False

    def is_(self, name: str, *subcommands: str) -> bool:
        """``apt-get install`` style: the program and (any of) the first positional words."""
        if self.name != name:
            return False
        if not subcommands:
            return True
        pos = self.positional()
        return bool(pos) and pos[0] in subcommands


def shell_words(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:
        return text.replace("&&", " && ").replace(";", " ; ").replace("||", " || ").split()


# reserved words that open a compound command: what follows them is a command
OPENERS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{"})
# words that start no command: closers, and the heads of for/select/case (their words are data)
NOT_COMMANDS = frozenset({"fi", "done", "esac", "}", "for", "select", "case", "in", "function"})
# a backtick command substitution holding only a comment: the Dockerfile idiom for a comment
# inside a continued RUN (`# why`); it expands to nothing
_BACKTICK_COMMENT = re.compile(r"`[ \t]*#[^`\n]*`")


def _strip_prefix(words: list[str]) -> list[str]:
    while words:
        w = words[0]
        if w in OPENERS or _ASSIGN.match(w):
            words = words[1:]
        elif posixpath.basename(w) in WRAPPERS:
            words = words[1:]
            while words and words[0].startswith("-"):
                words = words[1:]
        else:
            break
    return words


def commands(script: str, depth: int = 0, *, expand_shells: bool = True) -> list[Command]:
    """Simple commands of a shell script, in order (``sh -c '...'`` looked into unless told not to)."""
    out: list[Command] = []
    # newlines separate commands (continuations were joined by the Dockerfile parser already)
    for line in re.split(r"(?<!\\)\n", script):
        current: list[str] = []
        parens = 0
        for w in [*shell_words(_BACKTICK_COMMENT.sub(" ", line.replace("\\\n", " "))), ";"]:
            if w in SEPARATORS or (len(w) > 1 and set(w) <= set(";&|")):
                if w == "(":
                    parens += 1
                elif w == ")":
                    if parens == 0:
                        current = []  # `pattern)` of a case: the words before it are a pattern
                        continue
                    parens -= 1
                words = _strip_prefix(current)
                current = []
                if not words or words[0] in NOT_COMMANDS:
                    continue
                cmd = Command(tuple(words))
                if expand_shells and cmd.name in _SHELLS and depth < 3:
                    inner = _inline_script(words)
                    if inner is not None:
                        out.extend(commands(inner, depth + 1))
                        continue
                out.append(cmd)
            else:
                current.append(w)
    return out


def _inline_script(words: list[str]) -> str | None:
    for i, w in enumerate(words[1:], 1):
        if w.startswith("-") and "c" in w[1:] and not w.startswith("--") and i + 1 < len(words):
            return words[i + 1]
    return None


def split_top(script: str) -> list[tuple[str, str]]:
    """``a && b; c`` -> [("a", "&&"), ("b", ";"), ("c", "")] (quotes, ``$(...)`` and subshells respected)."""
    out: list[tuple[str, str]] = []
    buf: list[str] = []
    quote: str | None = None
    depth = 0
    i = 0
    while i < len(script):
        ch = script[i]
        if quote:
            buf.append(ch)
            if ch == "\\" and quote == '"' and i + 1 < len(script):
                buf.append(script[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch == "\\" and i + 1 < len(script):
            buf += [ch, script[i + 1]]
            i += 1
        elif ch in "'\"":
            quote = ch
            buf.append(ch)
        elif ch == "(":
            depth += 1
            buf.append(ch)
        elif ch == ")":
            depth -= 1
            buf.append(ch)
        elif depth == 0 and script.startswith(("&&", "||"), i):
            out.append(("".join(buf).strip(), script[i : i + 2]))
            buf = []
            i += 1
        elif depth == 0 and ch in ";\n":
            out.append(("".join(buf).strip(), ";"))
            buf = []
        else:
            buf.append(ch)
        i += 1
    out.append(("".join(buf).strip(), ""))
    return [(seg, sep) for seg, sep in out if seg]


def join_top(segments: list[tuple[str, str]], escape: str = "\\") -> str:
    """Segments back into a script, one per continuation line (``escape`` is the Dockerfile's)."""
    parts = []
    for k, (seg, sep) in enumerate(segments):
        parts.append(seg)
        if k < len(segments) - 1:
            parts.append(f" ; {escape}\n    " if sep == ";" else f" {sep or '&&'} {escape}\n    ")
    return "".join(parts)


def is_pip_install(c: Command) -> bool:
    """``pip install``/``pip3.11 install``/``python3 -m pip install`` (not pipx or pipenv)."""
    if c.name.startswith("pip") and c.name not in ("pipx", "pipenv") and c.is_(c.name, "install"):
        return True
    w = c.words
    return (
        c.name.startswith("python")
        and len(w) > 3
        and w[1] == "-m"
        and w[2].startswith("pip")
        and w[2] not in ("pipx", "pipenv")
        and "install" in w[3:]
    )


def is_apt_install(c: Command) -> bool:
    return c.is_("apt-get", "install") or c.is_("apt", "install") or c.is_("aptitude", "install")


def run_script(ins: Instruction) -> str:
    """The shell text a RUN executes: exec-form words, heredoc bodies, or the arguments."""
    if ins.json_args is not None:
        return shlex.join(ins.json_args)
    parts = [ins.args]
    for h in ins.heredocs:
        parts.append(h.body)
    return "\n".join(parts)


def run_commands(ins: Instruction) -> list[Command]:
    cmds = commands(run_script(ins))
    # a bare heredoc opener ("<<EOF") is not a command
    return [c for c in cmds if not (c.words and c.words[0].startswith("<<"))]
