"""The Dockerfile parser: byte-exact round trips, and agreement with BuildKit's own parser."""

from __future__ import annotations

import glob
import os

import dockerfile as buildkit
import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgopt.dockerfile import parse, parse_file
from imgopt.errors import DockerfileError

CORPUS = sorted(glob.glob(os.path.join(ROOT, "tests", "dockerfiles", "*.Dockerfile")))


def _text(path: str) -> str:
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("path", CORPUS, ids=os.path.basename)
def test_round_trip(path: str) -> None:
    text = _text(path)
    assert parse_file(path).render() == text


def _ours(text: str) -> list[tuple[str, int, int, tuple[str, ...], tuple[tuple[str, str], ...]]]:
    df = parse(text)
    out = []
    for ins in df.instructions:
        flags = tuple(f"--{f.name}" + (f"={f.value}" if f.value is not None else "") for f in ins.flags)
        out.append((ins.keyword, ins.line, ins.end_line, flags, tuple((h.name, h.body) for h in ins.heredocs)))
    return out


def _buildkit(text: str) -> list[tuple[str, int, int, tuple[str, ...], tuple[tuple[str, str], ...]]]:
    out = []
    for c in buildkit.parse_string(text):
        out.append(
            (c.cmd.upper(), c.start_line, c.end_line, tuple(c.flags), tuple((h.name, h.content) for h in c.heredocs))
        )
    return out


@pytest.mark.parametrize("path", CORPUS, ids=os.path.basename)
def test_agrees_with_buildkit(path: str) -> None:
    text = _text(path)
    assert _ours(text) == _buildkit(text)


def test_heredocs_that_dockerfile_parse_gets_wrong() -> None:
    """dockerfile-parse 2.0.1 turns heredoc body lines into instructions; we do not."""
    import io

    from dockerfile_parse import DockerfileParser

    text = _text(os.path.join(ROOT, "tests", "dockerfiles", "06-heredoc-run.Dockerfile"))
    theirs = [s["instruction"] for s in DockerfileParser(fileobj=io.StringIO(text)).structure]
    assert "APT-GET" in theirs or "SET" in theirs  # the bug this parser exists to avoid
    ours = parse(text)
    assert [i.keyword for i in ours.instructions] == ["FROM", "RUN", "COPY", "CMD"]
    run = ours.instructions[1]
    assert run.heredocs[0].name == "EOF" and "apt-get update\n" in run.heredocs[0].body
    assert (run.line, run.end_line) == (3, 7)


def test_model_details() -> None:
    df = parse_file(os.path.join(ROOT, "tests", "dockerfiles", "35-comments-in-continuation.Dockerfile"))
    run = df.instructions[1]
    assert run.comments == ("    # the package we need", "       # and certificates")
    assert "#" not in run.args and "ca-certificates" in run.args
    assert (run.line, run.end_line) == (2, 9)
    win = parse_file(os.path.join(ROOT, "tests", "dockerfiles", "08-windows-escape.Dockerfile"))
    assert win.escape == "`" and win.directives["escape"] == "`"
    assert win.instructions[1].end_line == 5 and "Invoke-WebRequest" in win.instructions[1].args
    arg = parse_file(os.path.join(ROOT, "tests", "dockerfiles", "10-arg-from.Dockerfile"))
    assert arg.stages[0].base_resolved == "python:3.12"
    assert [a.args for a in arg.global_args] == ["PYTHON_VERSION=3.12", "VARIANT="]
    ms = parse_file(os.path.join(ROOT, "tests", "dockerfiles", "05-stage-used-as-base.Dockerfile"))
    assert ms.stages[1].base_stage == 0 and ms.reaching_final() == {0, 1} and ms.edges == ((0, 1, "from"),)
    cp = parse_file(os.path.join(ROOT, "tests", "dockerfiles", "04-multistage-builder-not-flagged.Dockerfile"))
    assert cp.reaching_final() == {1} and (0, 1, "copy") in cp.edges
    ob = parse_file(os.path.join(ROOT, "tests", "dockerfiles", "09-onbuild.Dockerfile"))
    inner = ob.instructions[3].onbuild
    assert inner is not None and inner.keyword == "RUN" and inner.args == "yarn install --frozen-lockfile"
    cm = parse_file(os.path.join(ROOT, "tests", "dockerfiles", "03-apt-cache-mount.Dockerfile"))
    mounts = [f.options() for f in cm.instructions[1].flags_named("mount")]
    assert mounts[0] == {"type": "cache", "target": "/var/cache/apt", "sharing": "locked"}
    js = parse('FROM x\nCMD ["a", "b c"]\nRUN [ "sh", "-c", "echo" ]\n')
    assert js.instructions[1].json_args == ("a", "b c") and js.instructions[2].json_args == ("sh", "-c", "echo")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM x\nBOGUS y\n", "line 2: unknown instruction"),
        ("FROM x\nRUN <<EOF\necho\n", "line 2: heredoc <<EOF is never terminated"),
        ("RUN echo\nFROM x\n", "line 1: RUN before the first FROM"),
        ("# escape=!\nFROM x\n", "invalid escape"),
        ("# just a comment\n\n", "no FROM"),
        ("FROM\n", "line 1: FROM needs an image"),
        ("FROM a b c d\n", "line 1: FROM takes"),
    ],
)
def test_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(DockerfileError, match=message):
        parse(text)


# ---- generated Dockerfiles: round trip, and the same reading as BuildKit

WORD = st.text(alphabet="abcxyz019_-./", min_size=1, max_size=8)
SHELL = st.lists(WORD, min_size=1, max_size=4).map(" ".join)


@st.composite
def dockerfiles(draw: st.DrawFn) -> str:
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append("# syntax=docker/dockerfile:1")
    if draw(st.booleans()):
        lines.append("ARG V=1")
    for stage in range(draw(st.integers(1, 3))):
        lines.append(f"FROM img{stage}:{draw(WORD)} AS s{stage}")
        for _ in range(draw(st.integers(0, 5))):
            kind = draw(st.sampled_from(["run", "cont", "heredoc", "comment", "blank", "copy", "env", "json", "crlf"]))
            if kind == "run":
                lines.append(f"RUN {draw(SHELL)}")
            elif kind == "cont":
                lines.append(f"RUN {draw(SHELL)} \\")
                if draw(st.booleans()):
                    lines.append(f"  # {draw(WORD)}")
                lines.append(f"  && {draw(SHELL)}")
            elif kind == "heredoc":
                tabs = draw(st.booleans())
                lines.append(f"RUN <<{'-' if tabs else ''}EOT")
                lines.extend(("\t" if tabs else "") + draw(SHELL) for _ in range(draw(st.integers(0, 3))))
                lines.append(("\t" if tabs else "") + "EOT")
            elif kind == "comment":
                lines.append(f"# {draw(WORD)}")
            elif kind == "blank":
                lines.append(draw(st.sampled_from(["", "   ", "\t"])))
            elif kind == "copy":
                frm = f"--from=s{stage - 1} " if stage and draw(st.booleans()) else ""
                lines.append(f"COPY {frm}--chown=1:1 {draw(WORD)} /{draw(WORD)}")
            elif kind == "env":
                lines.append(f"ENV K{draw(st.integers(0, 9))}={draw(WORD)}")
            elif kind == "json":
                lines.append(f'CMD ["{draw(WORD)}", "{draw(WORD)}"]')
            else:
                lines.append(f"RUN {draw(SHELL)}\r")
    end = draw(st.sampled_from(["\n", ""]))
    return "\n".join(lines) + end


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dockerfiles())
def test_generated_round_trip_and_buildkit_agreement(text: str) -> None:
    df = parse(text)
    assert df.render() == text
    ours = [(k, a, b, f, h) for k, a, b, f, h in _ours(text)]
    assert ours == _buildkit(text)
