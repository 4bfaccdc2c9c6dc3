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
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import ROOT

import imgopt
from imgopt.build.compare import compare
from imgopt.build.engine import Session
from imgopt.build.optimize import CHECK_FAILED, PASSED, SKIPPED, Plan, optimize
from imgopt.build.options import BuildOptions
from imgopt.cli import main
from imgopt.errors import BuildError
from imgopt.report.compare import verdict

pytestmark = [pytest.mark.docker]

PROJECTS = os.path.join(ROOT, "fixtures", "projects")
# project -> (target asked for, target that must win, fixes one of which must be among the chosen changes)
EXPECTED = {
    "python-app": ("multistage", "multistage", {"IMG142", "closure"}),
    "c-app": ("auto", "multistage", {"IMG142", "closure"}),
    "chown-app": ("auto", "hygiene", {"IMG140", "pair-copy-chown"}),
    "download-app": ("auto", "multistage", {"IMG141", "pair-merge"}),  # the program needs no curl at run time
    "apt-update-app": ("auto", "hygiene", {"IMG101"}),
    "report-app": ("auto", "multistage", {"pair-copy-chown", "pair-clean-cache"}),
    "tls-app": ("auto", "hygiene", {"IMG101"}),
    "notes-app": ("multistage", "multistage", {"closure"}),
    "greeter-go": ("multistage", "multistage", {"closure"}),
}
RUN_ID = f"imgopt-test-{os.getpid()}"  # every image and container the plans make carries this label

# the first test that asks for the plans fixture pays for it: 9 projects built and verified (5.5 min on
# a quiet day here, over 10 on a machine 2.5 x slower, where the suite's 600 s limit cut it off)
pytestmark = pytest.mark.timeout(1800)


def _records(directory: str, name: str, lines: int, seed: int) -> None:
    os.makedirs(directory, exist_ok=True)
    rng = random.Random(seed)
    with open(os.path.join(directory, name), "w") as f:
        for i in range(lines):
            f.write(f"{i:06d} {rng.getrandbits(160):040x}\n")


# the committed data of chown-app and report-app (the projects build as committed), and how it was made
DATA = {
    "chown-app": (("records.txt", 40000, 7),),
    "report-app": (("2025.txt", 20000, 8), ("2026.txt", 20000, 9)),
}


def _project(name: str, tmp: str) -> str:
    """A copy of a fixture project."""
    dest = os.path.join(tmp, name)
    shutil.copytree(os.path.join(PROJECTS, name), dest)
    return dest


@pytest.mark.parametrize("name", sorted(DATA))
def test_committed_project_data_is_what_the_generator_makes(name: str, tmp_path: str) -> None:
    for file, lines, seed in DATA[name]:
        _records(str(tmp_path), file, lines, seed)
        with open(os.path.join(str(tmp_path), file)) as a, open(os.path.join(PROJECTS, name, "data", file)) as b:
            assert a.read() == b.read(), file


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def _labelled(run_id: str) -> tuple[set[str], set[str]]:
    """The images and containers (any state) that carry ``imgopt.run=<run_id>``: what one run made,
    whoever else uses the engine."""
    label = f"label=imgopt.run={run_id}"
    images = set(_docker("images", "-q", "--filter", label).split())
    containers = set(_docker("ps", "-a", "-q", "--filter", label).split())
    return images, containers


def _new_run_id(tag: str) -> str:
    return f"imgopt-test-{tag}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def plans(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Plan]]:
    """Every project optimized for real, up to three at a time (the engine builds in parallel)."""
    tmp = str(tmp_path_factory.mktemp("projects"))

    def run(name: str) -> Plan:
        path = os.path.join(_project(name, tmp), "Dockerfile")
        return optimize(path, target=EXPECTED[name][0], verify=True, options=BuildOptions(keep=True, run_id=RUN_ID))

    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            yield dict(zip(EXPECTED, pool.map(run, EXPECTED), strict=True))
    finally:
        images, _ = _labelled(RUN_ID)
        if images:
            subprocess.run(["docker", "rmi", "-f", *images], capture_output=True)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_verified_plan_is_smaller_and_behaves_the_same(plans: dict[str, Plan], name: str) -> None:
    plan = plans[name]
    _, target, rules = EXPECTED[name]
    assert plan.verified and not plan.failed
    assert plan.chosen is not None and plan.chosen.target == target and plan.chosen.status == PASSED
    assert plan.chosen.check_passed is True
    assert plan.saved_bytes is not None and plan.saved_bytes > 0
    assert rules & {c.rule for c in plan.changes}
    # no candidate that was built and passed is more than 1 % smaller than the chosen one
    built = [c for c in plan.candidates if c.status == PASSED]
    assert all((c.size_bytes or 0) >= 0.99 * (plan.after_size or 0) for c in built)
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
    assert EXPECTED[name][1] in {v["target"] for v in doc["variants"]}


def test_savings_are_where_the_findings_said(plans: dict[str, Plan]) -> None:
    # the chown -R duplicate is exactly the data (40000 lines of 48 bytes); the hidden download is Packages.gz
    chown = plans["chown-app"]
    assert chown.saved_bytes == 40000 * 48
    change = next(c for c in chown.changes if c.rule in ("IMG140", "pair-copy-chown"))
    # known before building (the waste pair's bytes), measured after: the same bytes
    assert change.expected_bytes == change.measured_bytes == 40000 * 48 and not change.note
    download = next(c for c in plans["download-app"].candidates if c.target == "hygiene")
    before = plans["download-app"].before_size
    hidden = next(c for c in download.variant.changes if c.rule in ("IMG141", "pair-merge"))
    assert hidden.expected_bytes is not None and download.size_bytes is not None and before is not None
    assert hidden.measured_bytes is not None
    assert abs(hidden.measured_bytes - hidden.expected_bytes) <= 0.01 * hidden.expected_bytes or hidden.note
    # the plan's saving is the sum of what its changes measured (the download and apt's cache), give or take
    # what no change targeted
    measured = sum(c.measured_bytes or 0 for c in download.variant.changes)
    assert abs(measured - (before - download.size_bytes)) < 1_000_000, (measured, before - download.size_bytes)
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
    text = _c_app_multistage(plans)
    head, _, cmd = text.rpartition("\nCMD ")
    broken = head + "\nRUN rm -f /usr/lib/*/libz.so.1*\nCMD " + cmd
    assert broken != text
    with open(os.path.join(ctx, "broken.Dockerfile"), "w") as f:
        f.write(broken)
    rid = _new_run_id("broken")
    result = compare(os.path.join(ctx, "Dockerfile"), os.path.join(ctx, "broken.Dockerfile"), BuildOptions(run_id=rid))
    assert result.before.built and result.after.built
    assert result.after.measure and result.before.measure
    assert result.after.measure.size_bytes < result.before.measure.size_bytes  # smaller, yet...
    assert not result.checks_passed and result.saved_bytes is None and result.saved_percent is None
    assert verdict(result).startswith("FAILED") and result.checks[0].after.exit_code == 127
    assert "libz.so.1" in result.checks[0].after.stderr
    assert _labelled(rid) == (set(), set())  # nothing of that run left behind
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
    rid = _new_run_id("service")
    result = compare(os.path.join(ctx, "a"), os.path.join(ctx, "b"), BuildOptions(timeout=2, run_id=rid))
    assert result.checks_passed and "still running" in result.checks[0].reason
    assert result.checks[0].before.timed_out and result.checks[0].after.timed_out
    assert _labelled(rid) == (set(), set())


def test_earlier_stages_of_a_build_are_removed_too(docker_engine: None, tmp_path: str) -> None:
    """The classic builder leaves a multi-stage build's earlier stages as untagged images; the
    session removes the ones it built."""
    text = "FROM debian:bookworm-slim AS b\nRUN echo one > /one\nFROM debian:bookworm-slim\nCOPY --from=b /one /one\n"
    with Session(run_id=_new_run_id("stages")) as session:
        session.build(str(tmp_path), text + f"LABEL unique={uuid.uuid4().hex}\n", "stages", nocache=True)
        made = list(session.intermediates)
    assert made  # the stage b and each step
    gone = [i for i in made if subprocess.run(["docker", "image", "inspect", i], capture_output=True).returncode]
    assert gone == made


def test_build_timeout_and_interrupt_clean_up(docker_engine: None, tmp_path: str) -> None:
    ctx = str(tmp_path)
    rid = _new_run_id("timeout")
    with Session(timeout=3, run_id=rid) as session, pytest.raises(BuildError, match="timed out"):
        session.build(ctx, "FROM debian:bookworm-slim\nRUN sleep 20\n", "slow")
    assert _labelled(rid) == (set(), set())
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write('FROM debian:bookworm-slim\nRUN echo one\nCMD ["true"]\n')

    def interrupt(line: str) -> None:
        raise KeyboardInterrupt

    rid = _new_run_id("interrupt")
    with pytest.raises(KeyboardInterrupt):
        compare(
            os.path.join(ctx, "Dockerfile"),
            os.path.join(ctx, "Dockerfile"),
            BuildOptions(progress=interrupt, run_id=rid),
        )
    assert _labelled(rid) == (set(), set())


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


SLOW_SECOND_BUILD = (
    'FROM debian:bookworm-slim\nRUN echo fast\nCMD ["true"]\n',
    "FROM debian:bookworm-slim\nRUN sleep 60\n",
)
SLOW_CHECK = (
    'FROM debian:bookworm-slim\nRUN echo fast\nCMD ["sleep", "60"]\n',
    'FROM debian:bookworm-slim\nCMD ["sleep", "60"]\n',
)


def _running(rid: str) -> bool:
    return bool(_docker("ps", "-q", "--filter", f"label=imgopt.run={rid}", "--filter", "status=running").split())


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("phase", ["later build", "check run"])
def test_a_signal_during_a_run_leaves_nothing_of_it(
    docker_engine: None, tmp_path: str, signame: str, phase: str
) -> None:
    """Ctrl-C (SIGINT) and CI's stop (SIGTERM) while the second image builds, or while a check runs:
    the CLI exits 130/143 with one line, and no image or container of that run remains."""
    import signal
    import time

    ctx = str(tmp_path)
    a, b = SLOW_SECOND_BUILD if phase == "later build" else SLOW_CHECK
    for name, text in (("a", a), ("b", b)):
        with open(os.path.join(ctx, name), "w") as f:
            f.write(text)
    rid = _new_run_id(signame.lower())
    exe = os.path.join(os.path.dirname(sys.executable), "imgopt")
    proc = subprocess.Popen(
        [exe, "compare", os.path.join(ctx, "a"), os.path.join(ctx, "b"), "--timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "IMGOPT_RUN_ID": rid},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    # wait until the run has made something to clean up: the first image, then (for a check) a running container
    while time.monotonic() < deadline and not _labelled(rid)[0]:
        time.sleep(0.2)
    assert _labelled(rid)[0], "the run made no labelled image: nothing would be checked below"
    while phase == "check run" and time.monotonic() < deadline and not _running(rid):
        time.sleep(0.2)
    assert phase != "check run" or _running(rid), "no labelled container ran"
    time.sleep(2 if phase == "later build" else 0.5)  # the second build is under way
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=120)
    code, said = (130, "imgopt: interrupted") if signame == "SIGINT" else (143, "imgopt: terminated")
    assert proc.returncode == code and err.strip() == said
    assert _labelled(rid) == (set(), set())


def test_a_variant_that_cannot_start_is_a_failed_check_not_an_abort(docker_engine: None, tmp_path: str) -> None:
    ctx = str(tmp_path)
    with open(os.path.join(ctx, "a"), "w") as f:
        f.write('FROM debian:bookworm-slim\nCMD ["echo", "hello"]\n')
    with open(os.path.join(ctx, "b"), "w") as f:
        f.write('FROM debian:bookworm-slim\nCMD ["/usr/local/bin/hello"]\n')
    rid = _new_run_id("nostart")
    result = compare(os.path.join(ctx, "a"), os.path.join(ctx, "b"), BuildOptions(run_id=rid))
    check = result.checks[0]
    assert not check.passed and check.after.error is not None and "/usr/local/bin/hello" in check.after.error
    assert "did not start" in check.reason and verdict(result).startswith("FAILED")
    assert _labelled(rid) == (set(), set())


def test_pairs_become_verified_fixes_on_a_project_never_tuned_for(plans: dict[str, Plan]) -> None:
    """report-app: a download deleted three instructions later across an ENV its RUNs use, and data
    COPYed then chowned. The plan fixes both from the image's waste pairs, knows their bytes before
    building, measures them after, and says what the aggressive variant drops from the package set."""
    plan = plans["report-app"]
    assert plan.chosen is not None and plan.before is not None and plan.before.measure is not None
    hygiene = next(c for c in plan.candidates if c.target == "hygiene")
    aggressive = next(c for c in plan.candidates if c.target == "aggressive")
    assert hygiene.status == aggressive.status == PASSED
    chown = next(c for c in hygiene.variant.changes if c.rule == "pair-copy-chown")
    assert chown.safety == "safe" and chown.expected_bytes == chown.measured_bytes == 2 * 20000 * 48
    assert "COPY --chown=report:report data/ /srv/report/data/" in hygiene.variant.text
    merge = next(c for c in aggressive.variant.changes if c.rule == "pair-merge")
    assert merge.safety == "needs-verify" and merge.expected_bytes and merge.expected_bytes > 1_000_000
    assert merge.measured_bytes is not None
    assert abs(merge.measured_bytes - merge.expected_bytes) <= 0.01 * merge.expected_bytes or merge.note
    assert "pair-merge" not in {c.rule for c in hygiene.variant.changes}  # not provably safe: not in hygiene
    assert "ca-certificates" in aggressive.packages_removed  # one of curl's Recommends
    # the program prints an ls -l of a file each build writes: only its time differs
    assert "but for dates and times" in aggressive.checks[0].reason
    text = plan.encode("text")
    assert "packages removed:" in text and "saved]" in text


def test_splits_come_from_the_runtime_closure(plans: dict[str, Plan]) -> None:
    """notes-app: a C program copied into /usr/local/bin, linking libsqlite3 from a -dev package,
    started by an entry script that execs it, running as a user the build made, writing to a
    directory the build made for that user. greeter-go: a static Go program and the config file
    the build wrote for it. Both split from what the built image needs, build, pass, shrink."""
    notes = plans["notes-app"].chosen
    assert notes is not None and notes.status == PASSED and notes.side is not None
    runtime = notes.variant.text.split("# runtime stage", 1)[1]
    assert "FROM debian:bookworm-slim" in runtime
    assert "apt-get install -y --no-install-recommends libsqlite3-0 " in runtime  # the runtime lib, not -dev
    assert "gcc" not in runtime and "libsqlite3-dev" not in runtime and "make" not in runtime.split("CMD")[0]
    assert "useradd -l -M -u " in runtime and " notes" in runtime and "install -d -o " in runtime
    assert "COPY --from=builder /usr/local/bin /usr/local/bin" in runtime  # notes and the entry script
    assert runtime.rstrip().endswith('CMD ["notes", "add", "built by imgopt\'s tests"]')
    assert "1 note(s); sqlite 3." in notes.checks[0].after.stdout
    greeter = plans["greeter-go"].chosen
    assert greeter is not None and greeter.status == PASSED
    runtime = greeter.variant.text.split("# runtime stage", 1)[1]
    assert "FROM scratch" in runtime and "/etc/greeter" in runtime and "COPY --from=builder /src" not in runtime
    assert greeter.checks[0].after.stdout.startswith("hello from go1.")
    assert (greeter.size_bytes or 0) < 10_000_000  # a static binary and a JSON file


def test_a_variant_that_fails_its_check_is_never_chosen(plans: dict[str, Plan]) -> None:
    """tls-app: dropping curl's Recommends drops the CA bundle; that variant is smaller and fails
    its check, and the plan picks the one that passes."""
    plan = plans["tls-app"]
    aggressive = next(c for c in plan.candidates if c.target == "aggressive")
    assert aggressive.status == CHECK_FAILED and aggressive.size_bytes is not None
    assert plan.chosen is not None and plan.chosen.target == "hygiene"
    assert aggressive.size_bytes < (plan.chosen.size_bytes or 0)  # smaller, yet not chosen
    assert "ca-certificates" in aggressive.packages_removed
    assert "no-ca-bundle" in aggressive.checks[0].after.stdout
    assert "+no-ca-bundle" in plan.encode("text")  # the stdout diff is in the report


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
