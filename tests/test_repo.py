"""The project's own promises: the README's commands are what CI runs, and they work."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import ROOT


def _readme() -> str:
    with open(os.path.join(ROOT, "README.md")) as f:
        return f.read()


def test_readme_opens_with_the_two_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", _readme(), re.S)
    assert first_block
    lines = [ln for ln in first_block.group(1).splitlines() if ln and not ln.startswith("#")]
    assert len(lines) == 2
    assert "imgopt analyze fixtures/images/" in lines[0]
    assert "pytest" in lines[1]
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        ci = f.read()
    assert "grep -m1 -E '^python3 -m venv .*pytest' README.md" in ci


def test_readme_example_runs_without_docker() -> None:
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"}
    proc = subprocess.run(
        [sys.executable, "-m", "imgopt", "analyze", "fixtures/images/waste-docker.tar"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "reclaimable" in proc.stdout


def test_fixtures_are_small_and_reproducible(tmp_path: str) -> None:
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from builders import write_fixtures

    write_fixtures(str(tmp_path))
    for name in os.listdir(tmp_path):
        committed = os.path.join(ROOT, "fixtures", "images", name)
        assert os.path.exists(committed), name
        if os.path.isfile(committed):
            with open(committed, "rb") as a, open(os.path.join(tmp_path, name), "rb") as b:
                assert a.read() == b.read(), f"fixtures/images/{name} is stale: run python tests/builders.py"
            assert os.path.getsize(committed) < 2 << 20
