"""The command line: report formats, output files, CI gate and exit codes."""

from __future__ import annotations

import io
import json
import os

import pytest
from builders import WASTE_EXPECTED, docker_archive
from conftest import fixture

import imgopt
from imgopt.cli import main

WASTE = "docker-archive:" + fixture("waste-docker.tar")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_text_report() -> None:
    code, out, err = run("analyze", WASTE, "--top", "5")
    assert code == 0 and err == ""
    for heading in (
        "Summary",
        "reclaimable",
        "Reclaimable by cause",
        "Largest files",
        "Largest directories",
        "Waste category",
        "dive efficiency",
    ):
        assert heading in out
    assert "89,000 B" in out  # reclaimable, exact
    assert "68.0685 %" in out  # dive efficiency


def test_json_report_schema() -> None:
    code, out, _ = run("analyze", WASTE, "--format", "json", "--top", "3")
    doc = json.loads(out)
    assert code == 0
    assert doc["schema"] == "imgopt.analysis/1"
    assert set(doc["image"]) >= {"ref", "id", "os", "architecture"}
    assert doc["size_bytes"] == WASTE_EXPECTED["size_bytes"]
    assert doc["final_size_bytes"] == WASTE_EXPECTED["final_size_bytes"]
    assert doc["reclaimable_bytes"] == doc["size_bytes"] - doc["final_size_bytes"]
    layer = doc["layers"][0]
    assert set(layer) >= {"index", "diff_id", "size_bytes", "compressed_size_bytes", "created_by", "reclaimable_bytes"}
    assert doc["waste"]["by_cause"] == WASTE_EXPECTED["by_cause"]
    assert {c["name"] for c in doc["waste"]["by_category"]} >= {"apt", "pip", "npm", "docs", "pycache", "git"}
    assert len(doc["top_files"]) == 3 and doc["top_files"][0]["path"] == "/bin/app"
    assert set(doc["dive"]) >= {"efficiency", "wasted_bytes", "user_wasted_percent"}
    assert doc["duplicates"] is None and "ci" not in doc


def test_output_file_is_written_whole(tmp_path: str) -> None:
    target = os.path.join(tmp_path, "r.json")
    code, out, _ = run("analyze", WASTE, "--format", "json", "-o", target)
    assert code == 0 and out == ""
    with open(target) as f:
        assert json.load(f)["schema"] == "imgopt.analysis/1"


def test_ci_gate_defaults_fail_on_the_waste_fixture() -> None:
    code, out, _ = run("analyze", WASTE, "--ci")
    assert code == 1
    assert "FAIL  lowestEfficiency" in out and "Result: FAIL" in out


def gate(*flags: str) -> int:
    """Exit code of the CI gate on the waste fixture with dive's two default rules off, plus ``flags``."""
    return run("analyze", WASTE, "--ci", "--lowest-efficiency", "0", "--highest-user-wasted-percent", "off", *flags)[0]


def test_ci_flags_override(tmp_path: str) -> None:
    code, out, _ = run(
        "analyze",
        WASTE,
        "--ci",
        "--lowest-efficiency",
        "0.5",
        "--highest-user-wasted-percent",
        "disabled",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out)["ci"]["passed"] is True
    code, out, _ = run(
        "analyze",
        WASTE,
        "--ci",
        "--lowest-efficiency",
        "0",
        "--highest-user-wasted-percent",
        "disabled",
        "--max-reclaimable",
        "88999",
        "--format",
        "json",
    )
    assert code == 1
    status = {r["rule"]: r["status"] for r in json.loads(out)["ci"]["rules"]}
    assert status == {
        "lowestEfficiency": "pass",
        "highestWastedBytes": "skip",
        "highestUserWastedPercent": "skip",
        "maxSize": "skip",
        "maxReclaimable": "fail",
    }
    assert gate("--max-reclaimable", "89kB", "--max-size", "155.6 kB") == 0  # exactly at the limits passes
    assert gate("--highest-wasted-bytes", "100KiB") == 1  # 102,500 > 102,400
    assert gate("--highest-wasted-bytes", "102.5kB") == 0
    assert gate("--highest-wasted-bytes", "102499") == 1


def test_dive_ci_file(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open(".dive-ci", "w") as f:
        f.write("rules:\n  lowestEfficiency: 0.6\n  highestWastedBytes: 20MB\n  highestUserWastedPercent: 'disabled'\n")
    assert run("analyze", WASTE, "--ci")[0] == 0
    assert run("analyze", WASTE, "--ci", "--lowest-efficiency", "0.7")[0] == 1  # flags override the file
    other = os.path.join(tmp_path, "strict.yaml")
    with open(other, "w") as f:
        f.write("rules:\n  lowestEfficiency: 0.99\n")
    assert run("analyze", WASTE, "--ci", "--ci-config", other)[0] == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze"],
        ["analyze", WASTE, "--format", "xml"],
        ["analyze", WASTE, "--top", "0"],
        ["analyze", WASTE, "--ci", "--lowest-efficiency", "1.5"],
        ["analyze", WASTE, "--ci", "--highest-user-wasted-percent", "2"],
        ["analyze", WASTE, "--ci", "--max-size", "lots"],
        ["analyze", "docker:foo"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    code, out, err = run(*argv)
    assert code == 2
    assert err.startswith("imgopt: error: ") and err.count("\n") == 1


def test_bad_dive_ci_is_a_usage_error(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open(".dive-ci", "w") as f:
        f.write("rules: [oops\n")
    code, _, err = run("analyze", WASTE, "--ci")
    assert code == 2 and "YAML" in err


def test_dockerfile_mapping_in_the_report(tmp_path: str) -> None:
    dockerfile = os.path.join(tmp_path, "Dockerfile")
    with open(dockerfile, "w") as f:
        f.write(
            "FROM base\nRUN make install\nRUN chmod 700 /bin/app && echo x > /etc/app.conf && rm /opt/data.bin\n"
            "# cleanup\nRUN rm -rf /var/lib/apt/lists /usr/share/doc && \\\n    rm -rf /var/cache && mkdir /var/cache\n"
            'CMD ["/bin/app"]\n'
        )
    code, out, _ = run("analyze", WASTE, "--dockerfile", dockerfile, "--format", "json")
    layers = json.loads(out)["layers"]
    assert [(lr["instruction"]["status"], lr["instruction"]["line"]) for lr in layers] == [
        ("base-image", None),
        ("matched", 2),
        ("matched", 3),
        ("matched", 5),
    ]
    assert layers[3]["instruction"]["end_line"] == 6
    code, _, err = run("analyze", WASTE, "--dockerfile", os.path.join(tmp_path, "missing"))
    assert code == 3 and "no such Dockerfile" in err


def test_hash_flag_reports_duplicates() -> None:
    code, out, _ = run("analyze", WASTE, "--hash", "--format", "json")
    assert json.loads(out)["duplicates"] == {"reclaimable_bytes": 0, "groups": []}


def test_help_and_version() -> None:
    assert run("--version")[0] == 0
    assert run("analyze", "--help")[0] == 0


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal() -> None:
    err = _Terminal()
    assert main(["analyze", WASTE, "--format", "json"], io.StringIO(), err) == 0
    assert "reading" in err.getvalue() and err.getvalue().endswith("\r")  # the line is cleared at the end
    quiet = _Terminal()
    assert main(["analyze", WASTE, "--no-progress"], io.StringIO(), quiet) == 0
    assert quiet.getvalue() == ""
    plain = io.StringIO()  # not a terminal: silent
    assert main(["analyze", WASTE], io.StringIO(), plain) == 0 and plain.getvalue() == ""


def test_dockerfile_mapping_writes_nothing(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """dockerfile-parse writes ./Dockerfile when handed content; imgopt must never let it."""
    work = os.path.join(tmp_path, "cwd")
    os.makedirs(work)
    monkeypatch.chdir(work)
    dockerfile = os.path.join(tmp_path, "Dockerfile.app")
    with open(dockerfile, "w") as f:
        f.write("FROM base\nRUN make install\n")
    assert run("analyze", WASTE, "--dockerfile", dockerfile)[0] == 0
    assert os.listdir(work) == []


def test_the_layer_table_fits_the_terminal_and_wide_shows_everything() -> None:
    from imgopt.report.text import render_text

    a = imgopt.analyze(WASTE)
    full = max(len(lr.created_by) for lr in a.layers)
    for width in (80, 100, 140):
        table = render_text(a, width=width).split("\n\n")[1]  # the layer table
        assert max(len(line) for line in table.splitlines()) <= width
        assert "…" in table
    wide = render_text(a, width=0).split("\n\n")[1]
    assert "…" not in wide and max(len(line) for line in wide.splitlines()) >= full
    out = io.StringIO()
    assert main(["analyze", WASTE, "--wide"], out, io.StringIO()) == 0
    assert "rm -rf /var/lib/apt/lists /usr/share/doc" in out.getvalue() and "…" not in out.getvalue().split("\n\n")[1]


def test_ci_rules_come_first_and_alone_with_quiet() -> None:
    out = io.StringIO()
    assert main(["analyze", WASTE, "--ci", "--lowest-efficiency", "0.5"], out, io.StringIO()) == 1
    assert out.getvalue().startswith("CI ")
    quiet = io.StringIO()
    assert main(["analyze", WASTE, "--ci", "-q"], quiet, io.StringIO()) == 1
    assert (
        quiet.getvalue().startswith("CI ") and "Summary" not in quiet.getvalue() and "Result: FAIL" in quiet.getvalue()
    )


def test_user_wasted_percent_is_said_in_words(tmp_path: str) -> None:
    out = io.StringIO()
    assert main(["analyze", WASTE], out, io.StringIO()) == 0
    line = next(x for x in out.getvalue().splitlines() if x.startswith("dive user wasted"))
    assert "over 100 %" in line  # this image's 132 % is dive's arithmetic, explained
    one_layer = os.path.join(str(tmp_path), "one.tar")
    with open(one_layer, "wb") as f:
        f.write(docker_archive([[("file", "a", b"x")]]))
    out = io.StringIO()
    assert main(["analyze", one_layer], out, io.StringIO()) == 0
    assert "NaN" not in out.getvalue() and "undefined (no bytes above the base layer" in out.getvalue()


def test_a_dockerfile_that_matches_no_layer_warns(tmp_path: str) -> None:
    df = os.path.join(str(tmp_path), "Dockerfile")
    with open(df, "w") as f:
        f.write("FROM scratch\nCOPY nothing /here\n")
    err = io.StringIO()
    assert main(["analyze", WASTE, "--dockerfile", df], io.StringIO(), err) == 0
    assert "warning: no layer" in err.getvalue() and df in err.getvalue()
