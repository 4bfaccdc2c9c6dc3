"""``imgopt optimize --verify``, ``compare`` and ``diff`` against a real Docker engine.

Every project under fixtures/projects is optimized for real: the original and each candidate are
built on locally made Debian bases, measured and checked. The chosen variant must be smaller, pass
the check, and its numbers must be the built images' numbers. Candidates on alpine or distroless
bases are skipped here (no registry on this machine; tests/test_optimize.py covers them with
golden files). ``.ci/run`` starts the engine and sets IMGOPT_REQUIRE_DOCKER=1.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
from conftest import ROOT

import imgopt
from imgopt.build.compare import compare
from imgopt.build.engine import Session
from imgopt.build.optimize import PASSED, SKIPPED, Plan, optimize
from imgopt.build.options import BuildOptions
from imgopt.cli import main
from imgopt.errors import BuildError
from imgopt.report.compare import verdict

pytestmark = [pytest.mark.docker]

PROJECTS = os.path.join(ROOT, "fixtures", "projects")
# project -> (target that must win, a rule whose fix must be among the chosen changes)
EXPECTED = {
    "python-app": ("multistage", "IMG142"),
    "c-app": ("multistage", "IMG142"),
    "chown-app": ("hygiene", "IMG140"),
    "download-app": ("hygiene", "IMG141"),
    "apt-update-app": ("hygiene", "IMG101"),
}


def _project(name: str, tmp: str) -> str:
    """A copy of a fixture project (chown-app gets its 2 MB of data generated, not committed)."""
    dest = os.path.join(tmp, name)
    shutil.copytree(os.path.join(PROJECTS, name), dest)
    if name == "chown-app":
        os.makedirs(os.path.join(dest, "data"), exist_ok=True)
        rng = random.Random(7)
        with open(os.path.join(dest, "data", "records.txt"), "w") as f:
            for i in range(40000):
                f.write(f"{i:06d} {rng.getrandbits(160):040x}\n")
    return dest


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def _tmp_tags() -> set[str]:
    out = _docker("images", "--format", "{{.Repository}}:{{.Tag}}")
    return {t for t in out.split() if t.startswith("imgopt-tmp/")}


def _tmp_containers() -> set[str]:
    return set(_docker("ps", "-a", "--filter", "ancestor=debian:bookworm-slim", "-q").split())


@pytest.fixture(scope="module")
def plans(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Plan]]:
    tmp = str(tmp_path_factory.mktemp("projects"))
    out: dict[str, Plan] = {}
    try:
        for name in EXPECTED:
            out[name] = optimize(
                os.path.join(_project(name, tmp), "Dockerfile"), verify=True, options=BuildOptions(keep=True)
            )
        yield out
    finally:
        for tag in _tmp_tags():
            subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_verified_plan_is_smaller_and_behaves_the_same(plans: dict[str, Plan], name: str) -> None:
    plan = plans[name]
    target, rule = EXPECTED[name]
    assert plan.verified and not plan.failed
    assert plan.chosen is not None and plan.chosen.target == target and plan.chosen.status == PASSED
    assert plan.chosen.check_passed is True
    assert plan.saved_bytes is not None and plan.saved_bytes > 0
    assert rule in {c.rule for c in plan.changes}
    # every candidate that was built and passed is at least as large as the chosen one
    built = [c for c in plan.candidates if c.status == PASSED]
    assert all((c.size_bytes or 0) >= (plan.after_size or 0) for c in built)
    # candidates whose base is not local are skipped with the reason, never reported as savings
    for c in plan.candidates:
        if c.status == SKIPPED:
            assert "not in the local engine" in c.reason and c.size_bytes is None


@pytest.mark.parametrize("name", list(EXPECTED))
def test_report_numbers_are_the_built_images(plans: dict[str, Plan], name: str) -> None:
    plan = plans[name]
    assert plan.before is not None and plan.before.measure is not None and plan.chosen is not None
    assert plan.chosen.side is not None and plan.chosen.side.measure is not None
    for m in (plan.before.measure, plan.chosen.side.measure):
        again = imgopt.analyze(f"docker-daemon:{m.tag}")
        assert again.size_bytes == m.size_bytes and again.final_size_bytes == m.final_size_bytes
        assert again.image.id == m.image_id and len(again.image.layers) == m.layers
        engine_size = int(_docker("image", "inspect", "--format", "{{.Size}}", m.tag))
        assert abs(engine_size - m.size_bytes) <= 0.01 * engine_size + 2**20, (engine_size, m.size_bytes)
    doc = json.loads(plan.to_json())
    assert doc["before"]["size_bytes"] - doc["after"]["size_bytes"] == doc["saved_bytes"] == plan.saved_bytes
    assert doc["check"]["passed"] is True
    assert {v["target"] for v in doc["variants"]} >= {"hygiene"}


def test_savings_are_where_the_findings_said(plans: dict[str, Plan]) -> None:
    # the chown -R duplicate is exactly the data (40000 lines of 48 bytes); the hidden download is Packages.gz
    chown = plans["chown-app"]
    assert chown.saved_bytes == 40000 * 48
    change = next(c for c in chown.changes if c.rule == "IMG140")
    assert change.expected_bytes is not None and abs(change.expected_bytes - chown.saved_bytes) < 100_000
    download = plans["download-app"]
    hidden = next(c for c in download.changes if c.rule == "IMG141")
    assert hidden.expected_bytes is not None and download.saved_bytes is not None
    assert abs(hidden.expected_bytes - download.saved_bytes) < 100_000
    # the compiler left the image: the diff of before and after shows gcc removed
    c_app = plans["c-app"]
    assert c_app.before and c_app.before.measure and c_app.chosen and c_app.chosen.side and c_app.chosen.side.measure
    d = imgopt.diff(f"docker-daemon:{c_app.before.measure.tag}", f"docker-daemon:{c_app.chosen.side.measure.tag}")
    removed = {e.path for e in d.removed}
    assert any(p.endswith("/gcc-12") or p.endswith("bin/gcc") for p in removed)
    assert "usr/local/bin/crc" not in {e.path for e in d.removed}
    assert d.removed_bytes > 50_000_000


def _c_app_multistage(plans: dict[str, Plan]) -> str:
    chosen = plans["c-app"].chosen
    assert chosen is not None
    return chosen.variant.text


def test_broken_variant_fails_its_check(plans: dict[str, Plan], tmp_path: str) -> None:
    """A runtime library removed: the image builds and is smaller, and compare says FAILED."""
    ctx = _project("c-app", str(tmp_path))
    broken = _c_app_multistage(plans).replace("USER app", "RUN rm -f /usr/lib/*/libz.so.1*\nUSER app")
    with open(os.path.join(ctx, "broken.Dockerfile"), "w") as f:
        f.write(broken)
    before_tags = _tmp_tags()
    result = compare(os.path.join(ctx, "Dockerfile"), os.path.join(ctx, "broken.Dockerfile"))
    assert result.before.built and result.after.built
    assert result.after.measure and result.before.measure
    assert result.after.measure.size_bytes < result.before.measure.size_bytes  # smaller, yet...
    assert not result.checks_passed and result.saved_bytes is None and result.saved_percent is None
    assert verdict(result).startswith("FAILED") and result.checks[0].after.exit_code == 127
    assert "libz.so.1" in result.checks[0].after.stderr
    assert _tmp_tags() == before_tags  # nothing left behind
    code = main(
        ["compare", os.path.join(ctx, "Dockerfile"), os.path.join(ctx, "broken.Dockerfile"), "--format", "json"]
    )
    assert code == 1


def test_user_checks_must_pass_in_both(plans: dict[str, Plan], tmp_path: str) -> None:
    ctx = _project("c-app", str(tmp_path))
    with open(os.path.join(ctx, "ms.Dockerfile"), "w") as f:
        f.write(_c_app_multistage(plans))
    out = os.path.join(str(tmp_path), "report.md")
    code = main(
        [
            "compare", os.path.join(ctx, "Dockerfile"), os.path.join(ctx, "ms.Dockerfile"), "--format", "markdown",
            "--check", "crc abc", "--check", "sh -c 'gcc --version'", "-o", out,
        ]
    )  # fmt: skip
    assert code == 1
    with open(out) as f:
        report = f.read()
    assert "| check: crc abc" in report and "passed" in report
    assert "FAILED: sh -c 'gcc --version': fails on the new image" in report


def test_services_and_timeouts(docker_engine: None, tmp_path: str) -> None:
    """A CMD that does not exit: both still running at the timeout is the same behaviour; the
    containers are killed and removed."""
    ctx = str(tmp_path)
    for name, text in (("a", "FROM debian:bookworm-slim\nCMD [\"sleep\", \"300\"]\n"),
                       ("b", "FROM debian:bookworm-slim\nRUN true\nCMD [\"sleep\", \"300\"]\n")):  # fmt: skip
        with open(os.path.join(ctx, name), "w") as f:
            f.write(text)
    before = _tmp_containers()
    result = compare(os.path.join(ctx, "a"), os.path.join(ctx, "b"), BuildOptions(timeout=2))
    assert result.checks_passed and "still running" in result.checks[0].reason
    assert result.checks[0].before.timed_out and result.checks[0].after.timed_out
    assert _tmp_containers() == before


def test_build_timeout_and_interrupt_clean_up(docker_engine: None, tmp_path: str) -> None:
    ctx = str(tmp_path)
    before_tags = _tmp_tags()
    with Session(timeout=3) as session, pytest.raises(BuildError, match="timed out"):
        session.build(ctx, "FROM debian:bookworm-slim\nRUN sleep 20\n", "slow")
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write('FROM debian:bookworm-slim\nRUN echo one\nCMD ["true"]\n')

    def interrupt(line: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compare(os.path.join(ctx, "Dockerfile"), os.path.join(ctx, "Dockerfile"), BuildOptions(progress=interrupt))
    assert _tmp_tags() == before_tags


def test_buildkit_dockerfiles_are_built_with_buildkit(docker_engine: None, tmp_path: str) -> None:
    ctx = str(tmp_path)
    # (heredocs need the dockerfile:1.4 frontend image from a registry; RUN --mount is built in)
    text = "FROM debian:bookworm-slim\nRUN --mount=type=cache,target=/cache echo built > /built\n"
    text += 'CMD ["cat", "/built"]\n'
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(text)
    result = compare(os.path.join(ctx, "Dockerfile"), os.path.join(ctx, "Dockerfile"))
    assert result.before.measure and result.before.measure.builder == "buildkit"
    assert result.checks_passed and result.checks[0].before.stdout == "built\n"
    # heredocs: the engine's built-in frontend rejects them; the error says why
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write("FROM debian:bookworm-slim\nRUN <<EOF\nset -e\necho hi\nEOF\n")
    with pytest.raises(BuildError, match="no heredocs"):
        compare(os.path.join(ctx, "Dockerfile"), os.path.join(ctx, "Dockerfile"))


def test_optimize_cli_writes_files_atomically(plans: dict[str, Plan], tmp_path: str) -> None:
    ctx = _project("apt-update-app", str(tmp_path))
    path = os.path.join(ctx, "Dockerfile")
    with open(path) as f:
        original = f.read()
    out = os.path.join(str(tmp_path), "out.json")
    assert main(["optimize", path, "--verify", "--format", "json", "--report", out, "--in-place"]) == 0
    with open(out) as f:
        doc = json.load(f)
    with open(path) as f:
        assert f.read() == doc["new_dockerfile"] != original
    with open(path + ".orig") as f:
        assert f.read() == original
    with open(os.path.join(ctx, ".dockerignore")) as f:
        assert ".git" in f.read()
    assert doc["check"]["passed"] and doc["saved_bytes"] == doc["before"]["size_bytes"] - doc["after"]["size_bytes"]


def test_a_failing_original_is_one_error_line(docker_engine: None, tmp_path: str) -> None:
    ctx = str(tmp_path)
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write("FROM debian:bookworm-slim\nRUN exit 3\n")
    import io

    err = io.StringIO()
    assert main(["optimize", os.path.join(ctx, "Dockerfile"), "--verify"], io.StringIO(), err) == 3
    assert err.getvalue().count("\n") == 1 and "build failed" in err.getvalue()
    assert main(["compare", os.path.join(ctx, "Dockerfile"), os.path.join(ctx, "Dockerfile")], io.StringIO(), err) == 3


def test_sigterm_cleans_up(docker_engine: None, tmp_path: str) -> None:
    """CI systems stop jobs with SIGTERM: the CLI treats it like Ctrl-C, removing what it made."""
    import signal
    import time

    ctx = str(tmp_path)
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write('FROM debian:bookworm-slim\nRUN echo fast\nCMD ["sleep", "60"]\n')
    before = _tmp_tags()
    exe = os.path.join(os.path.dirname(sys.executable), "imgopt")
    proc = subprocess.Popen(
        [exe, "compare", os.path.join(ctx, "Dockerfile"), os.path.join(ctx, "Dockerfile"), "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (_tmp_tags() - before):
        time.sleep(0.2)  # wait until it has built something it must clean up
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and err.strip() == "imgopt: terminated"
    assert _tmp_tags() == before


def test_expected_savings_from_a_given_image(plans: dict[str, Plan], tmp_path: str) -> None:
    """Without --verify, --image (an image built from the Dockerfile) prices each change."""
    verified = plans["apt-update-app"]
    assert verified.before is not None and verified.before.measure is not None
    ctx = _project("apt-update-app", str(tmp_path))
    plan = optimize(os.path.join(ctx, "Dockerfile"), image=f"docker-daemon:{verified.before.measure.tag}")
    assert not plan.verified and plan.chosen is not None
    priced = {c.rule: c.expected_bytes for c in plan.changes}
    assert priced["IMG101"] == {c.rule: c.expected_bytes for c in verified.changes}["IMG101"]
    assert priced["IMG101"] is not None and priced["IMG101"] > 30_000_000
    out = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "imgopt"), "optimize", os.path.join(ctx, "Dockerfile"),
         "--image", f"docker-daemon:{verified.before.measure.tag}"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0 and "MB in the original]" in out.stdout
