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


def test_every_source_file_is_a_tracked_module_of_a_package() -> None:
    """A package directory without __init__.py is left out of wheels; a source file git ignores
    (a `build/` pattern once swallowed imgopt/build/) is left out of every clone CI runs."""
    package = os.path.join(ROOT, "imgopt")
    sources = []
    for d, _, files in os.walk(package):
        if "__pycache__" in d:
            continue
        py = [f for f in files if f.endswith(".py")]
        if py:
            assert "__init__.py" in py, f"{os.path.relpath(d, ROOT)} has no __init__.py"
        sources += [os.path.relpath(os.path.join(d, f), ROOT) for f in py]
    if not os.path.isdir(os.path.join(ROOT, ".git")):
        return  # an sdist or a copy: nothing to compare with
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *sources], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert not ignored, f"ignored by .gitignore: {ignored}"
