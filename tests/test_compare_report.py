"""The behaviour-check rules and the comparison reports, on hand-made results (no engine)."""

from __future__ import annotations

import io
import json

import pytest

from imgopt.build.compare import (
    DEFAULT_CHECK,
    Comparison,
    Measure,
    Side,
    judge_command,
    judge_default,
    stdout_diff,
)
from imgopt.build.engine import Run, needs_buildkit, split_check
from imgopt.dockerfile import parse
from imgopt.errors import CheckError
from imgopt.report.compare import comparison_markdown, comparison_text, verdict
from imgopt.report.pages import comparison_body


def _run(code: int | None, out: str = "", err: str = "") -> Run:
    return Run(None, code, out, err, 0.5)


def _measure(tag: str, size: int, layers: int, user: str = "") -> Measure:
    config = {"entrypoint": None, "cmd": ["app"], "user": user, "workdir": "", "env": [], "exposed_ports": []}
    return Measure(tag, "sha256:" + tag, size, size // 3, size - 10, 10, layers, 12.5, "classic", config)


def test_default_check_rules() -> None:
    assert judge_default(_run(0, "hi\n"), _run(0, "hi\n")).passed
    assert not judge_default(_run(0, "hi\n"), _run(0, "hello\n")).passed
    bad = judge_default(_run(0, "hi\n"), _run(127, "", "error while loading shared libraries"))
    assert not bad.passed and "exit 127" in bad.reason
    service = judge_default(_run(None), _run(None))
    assert service.passed and "still running" in service.reason and service.name == DEFAULT_CHECK
    assert not judge_default(_run(None), _run(0)).passed  # a service that now exits at once


def test_command_check_rules() -> None:
    assert judge_command("t", _run(0), _run(0)).passed
    assert "new image" in judge_command("t", _run(0), _run(1)).reason
    assert "original image too" in judge_command("t", _run(2), _run(0)).reason


def test_a_failed_check_is_never_a_saving() -> None:
    before = Side("A", "", _measure("a", 1000, 5))
    after = Side("B", "", _measure("b", 400, 3, user="app"))
    ok = Comparison(before, after, (judge_default(_run(0, "x"), _run(0, "x")),), {"user": ("", "app")})
    assert ok.saved_bytes == 600 and ok.saved_percent == 60.0 and ok.checks_passed
    failed = Comparison(before, after, (judge_default(_run(0, "x"), _run(1, "")),))
    assert failed.saved_bytes is None and failed.saved_percent is None and verdict(failed).startswith("FAILED")
    not_built = Comparison(before, Side("B", "", None, "build failed at Step 2/3: boom"), ())
    assert not not_built.checks_passed and "did not build" in verdict(not_built)
    doc = json.loads(ok.to_json())
    assert doc["schema"] == "imgopt.compare/1" and doc["saved_bytes"] == 600 and doc["check"]["passed"]
    assert doc["config_changes"] == {"user": {"before": "", "after": "app"}}
    text = comparison_text(ok)
    assert "-600 Bytes (-60.0%)" in text and "config user: '' -> 'app'" in text and "passes the check" in text
    assert comparison_markdown(failed).startswith("### imgopt compare") and "| check:" in comparison_markdown(failed)
    assert "<table" in comparison_body(ok) and comparison_body(ok) in ok._repr_html_()
    page = ok.encode("html")
    assert page.startswith("<!DOCTYPE html>") and "passed" in page and "FAILED" in failed.encode("html")
    pd = pytest.importorskip("pandas")
    frame = ok.to_dataframe()
    assert isinstance(frame, pd.DataFrame) and frame.loc["layers", "change"] == "-2"


def test_split_check() -> None:
    assert split_check("sh -c 'echo a && echo b'") == ("sh", "-c", "echo a && echo b")
    with pytest.raises(CheckError):
        split_check("   ")
    with pytest.raises(CheckError):
        split_check("echo 'open")


def test_needs_buildkit() -> None:
    assert not needs_buildkit(parse("FROM a\nRUN x\nCOPY --chown=1:1 a b\n"))
    assert needs_buildkit(parse("FROM a\nRUN --mount=type=cache,target=/c x\n"))
    assert needs_buildkit(parse("FROM a\nCOPY --chmod=755 a b\n"))
    assert needs_buildkit(parse("# syntax=docker/dockerfile:1\nFROM a\n"))
    assert needs_buildkit(parse("FROM a\nRUN <<EOF\nx\nEOF\n"))


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_build_progress_only_on_a_terminal() -> None:
    from imgopt.cli import build_options, build_parser, end_progress

    args = build_parser().parse_args(["compare", "a", "b"])
    assert build_options(args, io.StringIO()).progress is None  # not a terminal
    tty = _Tty()
    opts = build_options(args, tty)
    opts.progress("Step 2/5 : RUN apt-get update")
    end_progress(opts, tty)
    assert tty.getvalue().startswith("\rStep 2/5 : RUN apt-get update") and tty.getvalue().endswith("\r")
    quiet = build_parser().parse_args(["compare", "a", "b", "--no-progress"])
    assert build_options(quiet, _Tty()).progress is None


def test_build_log_names_the_failing_step() -> None:
    from imgopt.build.engine import BuildLog

    seen: list[str] = []
    log = BuildLog(seen.append)
    for ln in ("Step 1/3 : FROM x\n", "   \n", "Step 2/3 : RUN exit 3\n", " ---> Running in 1234\n"):
        log.add(ln)
    assert seen == ["Step 1/3 : FROM x", "Step 2/3 : RUN exit 3", " ---> Running in 1234"]  # blank lines dropped
    assert (
        log.failure("returned a non-zero code: 3")
        == "build failed at Step 2/3 : RUN exit 3: returned a non-zero code: 3"
    )
    kit = BuildLog(None)
    for ln in ("#5 [2/2] RUN <<EOF", "failed to solve: parse error line 2"):
        kit.add(ln)
    assert (
        kit.failure(kit.tail[-1], skip_last=True)
        == "build failed at #5 [2/2] RUN <<EOF: failed to solve: parse error line 2"
    )


@pytest.mark.parametrize(
    "stamp",
    [
        "Nov 30 17:40",  # ls -l, this year
        "Jan  2  2025",  # ls -l, another year
        "2026-11-30T17:40:56Z",
        "2026-11-30 17:40:56.123456789 +0000",  # stat %y
        "Mon Nov 30 17:40:56 UTC 2026",  # date
        "Mon, 30 Nov 2026 17:40:56",  # RFC 2822 without the zone
    ],
)
def test_stdout_differing_only_in_timestamps_passes(stamp: str) -> None:
    other = stamp.replace("17:40", "09:05").replace("30", "29").replace("2025", "2024").replace(" 2 ", " 9 ")
    assert other != stamp
    before = _run(0, f"-rw-r--r-- 1 app app 1920000 {stamp} records.txt\n")
    after = _run(0, f"-rw-r--r-- 1 app app 1920000 {other} records.txt\n")
    result = judge_default(before, after)
    assert result.passed and "but for dates and times" in result.reason
    # the size still counts: a real difference fails, and the report shows the diff
    changed = _run(0, f"-rw-r--r-- 1 app app 1919999 {other} records.txt\n")
    failed = judge_default(before, changed)
    assert not failed.passed
    diff = stdout_diff(failed)
    assert "-rw-r--r-- 1 app app 1920000 <time> records.txt" in diff and "+-rw-r--r-- 1 app app 1919999" in diff


def test_a_container_that_cannot_start_fails_the_check_with_the_engine_reason() -> None:
    before = _run(0, "ok\n")
    after = Run(None, None, "", "exec: \"/usr/local/bin/hello\": stat /usr/local/bin/hello: no such file", 0.1,
                error="exec: \"/usr/local/bin/hello\": stat /usr/local/bin/hello: no such file")  # fmt: skip
    assert not after.timed_out
    result = judge_default(before, after)
    assert not result.passed and 'did not start (exec: "/usr/local/bin/hello"' in result.reason
    assert not judge_command("t", before, after).passed
    assert not judge_default(_run(None), after).passed  # a service that now cannot start


def test_changes_are_measured_by_the_paths_they_name() -> None:
    """After a verified build: a change's measured saving is what the original shipped for its paths
    minus what the variant ships; changes sharing paths are measured together; gaps are explained."""
    from imgopt.analysis.packages import Footprint
    from imgopt.dockerfile.rewrite import Change
    from imgopt.evidence.measure import measure_changes

    before = Footprint(
        shipped={"a": 100, "b": 50, "c": 30, "d": 7, "x": 9},
        final={"b": 50, "c": 30, "x": 9},
        waste={"a": 100},
    )
    after = Footprint(shipped={"b": 50, "c": 10, "x": 9, "d": 7}, final={"b": 50, "c": 10, "x": 9}, waste={"d": 7})
    changes = [
        Change("pair-merge", 2, "merge", expected_bytes=100, paths=frozenset({"a"})),
        Change("IMG101", 3, "lists", expected_bytes=25, paths=frozenset({"c", "d"})),
        Change("pair-clean-cache", 4, "clean", expected_bytes=10, paths=frozenset({"d"})),
        Change("IMG109", 5, "merged RUNs"),
    ]
    measured, other = measure_changes(changes, before, after)
    assert measured[0].measured_bytes == 100 and not measured[0].note  # exactly as expected
    # IMG101 and the clean-up share /d: measured together (20 B of 35 B), the gap explained
    for c in measured[1:3]:
        assert c.measured_bytes is None and "lines 3, 4 (their paths overlap): 20 Bytes in all" in c.note
        assert "/c is 20 Bytes smaller in the new build" in c.note and "/d is still shipped and discarded" in c.note
    assert measured[3] == changes[3]  # nothing to measure by
    assert other == ()  # every changed path belongs to a change


def test_the_smallest_passing_variant_wins_unless_a_simpler_one_is_within_one_percent() -> None:
    from imgopt.build.optimize import CHECK_FAILED, PASSED, Candidate, choose
    from imgopt.dockerfile.variants import Variant

    def cand(target: str, size: int, status: str = PASSED) -> Candidate:
        return Candidate(Variant(target, "", ()), status, Side(target, "", _measure(target, size, 3)))

    hygiene, split = cand("hygiene", 100_500), cand("multistage", 100_000)
    assert choose([split, hygiene]) is hygiene  # 0.5 % is not worth two stages
    far = cand("multistage", 90_000)
    assert choose([hygiene, far]) is far
    failing = cand("distroless", 10_000, CHECK_FAILED)
    assert choose([hygiene, failing]) is hygiene  # a failing variant is never chosen, however small
    assert choose([failing]) is None
