"""dive-compatible metrics equal the real dive 0.13.1 binary's: bytes exactly, efficiency to 1e-12."""

from __future__ import annotations

import math
import os
import random

import pytest
from builders import docker_archive
from conftest import fixture, run_dive

import imgopt

pytestmark = pytest.mark.dive


def _assert_same(archive: str, dive_bin: str, tmp_path: str) -> None:
    ours = imgopt.analyze("docker-archive:" + archive).dive
    theirs = run_dive(dive_bin, archive, str(tmp_path))
    assert ours.size_bytes == theirs["size_bytes"]
    assert ours.wasted_bytes == theirs["wasted_bytes"]
    assert abs(ours.efficiency - theirs["efficiency"]) <= 1e-12
    pct = theirs["user_wasted_percent_text"]  # dive prints it with 4 decimals
    if math.isnan(pct):
        assert math.isnan(ours.user_wasted_percent)
    else:
        assert round(100 * ours.user_wasted_percent, 4) == pytest.approx(pct, abs=1e-4)


def _write(tmp_path: str, layers: list[list[tuple]], name: str = "img.tar", **kw: object) -> str:  # type: ignore[type-arg]
    path = os.path.join(tmp_path, name)
    with open(path, "wb") as f:
        f.write(docker_archive(layers, **kw))  # type: ignore[arg-type]
    return path


@pytest.mark.parametrize("name", ["waste-docker.tar", "waste-docker-oci.tar"])
def test_fixtures(name: str, dive_bin: str, tmp_path: str) -> None:
    _assert_same(fixture(name), dive_bin, tmp_path)


EDGE_CASES = {
    "single-layer": [[("file", "a", b"x" * 10)]],
    "whiteout-of-missing-path-aborts-the-layer": [
        [("file", "a", b"1" * 100), ("file", "z", b"2" * 50)],
        [("whiteout", "m-missing"), ("file", "a", b"3" * 10), ("file", "z", b"4" * 70), ("file", "b", b"5" * 5)],
    ],
    "missing-intermediate-directories": [
        [("file", "d1/d2/f", b"x" * 300)],
        [("file", "d1/d2/f", b"y" * 30), ("file", "d1/g", b"z" * 3)],
        [("whiteout", "d1/d2")],
    ],
    "names-sorting-before-the-whiteout-prefix": [
        [("dir", "d"), ("file", "d/-x", b"1" * 100), ("file", "d/ x", b"2" * 200)],
        [("dir", "d"), ("file", "d/-x", b"3" * 10), ("whiteout", "d/-x"), ("whiteout", "d/ x")],
    ],
    "opaque-directory": [
        [("dir", "v"), ("file", "v/a", b"1" * 1000), ("dir", "v/s"), ("file", "v/s/b", b"2" * 500)],
        [("dir", "v"), ("opaque", "v"), ("file", "v/c", b"3" * 20)],
    ],
    "directory-whiteout-across-layers": [
        [("dir", "p"), ("file", "p/a", b"1" * 100)],
        [("dir", "p"), ("dir", "p/q"), ("file", "p/q/b", b"2" * 200)],
        [("whiteout", "p")],
        [("dir", "p"), ("file", "p/a", b"3" * 1)],
    ],
    "whiteout-in-the-first-layer": [
        [("file", "a", b"1" * 10), ("whiteout", "a"), ("whiteout", "nothing")],
        [("file", "a", b"2" * 20)],
    ],
    "hardlinks-and-symlinks": [
        [("file", "t", b"1" * 400), ("hardlink", "h", "t"), ("symlink", "s", "t")],
        [("whiteout", "t"), ("file", "s", b"2" * 5)],
    ],
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases(case: str, dive_bin: str, tmp_path: str) -> None:
    _assert_same(_write(tmp_path, EDGE_CASES[case]), dive_bin, tmp_path)


def _random_layers(rng: random.Random) -> list[list[tuple]]:  # type: ignore[type-arg]
    names = ["a", "b", "c", "-d", ".e"]
    layers = []
    for _ in range(rng.randint(2, 6)):
        entries: list[tuple] = []  # type: ignore[type-arg]
        for _ in range(rng.randint(1, 12)):
            depth = rng.randint(1, 3)
            path = "/".join(rng.choice(names) for _ in range(depth))
            op = rng.random()
            if op < 0.5:
                entries.append(("file", path, bytes([rng.randrange(256)]) * rng.randint(0, 3000)))
            elif op < 0.65:
                entries.append(("dir", path))
            elif op < 0.85:
                entries.append(("whiteout", path))
            elif op < 0.93:
                entries.append(("opaque", path))
            else:
                entries.append(("symlink", path, "a"))
        layers.append(entries)
    return layers


@pytest.mark.parametrize("seed", range(12))
def test_random_images(seed: int, dive_bin: str, tmp_path: str) -> None:
    layers = _random_layers(random.Random(seed))
    archive = _write(tmp_path, layers)
    _assert_same(archive, dive_bin, tmp_path)
    a = imgopt.analyze("docker-archive:" + archive)
    assert a.size_bytes - a.final_size_bytes == a.reclaimable_bytes


def test_wasted_bytes_double_count_kept_copies(tmp_path: str) -> None:
    """dive issue #684: a file written twice counts both copies as wasted, imgopt counts one."""
    a = imgopt.analyze("docker-archive:" + _write(tmp_path, [[("file", "f", b"1" * 100)], [("file", "f", b"2" * 100)]]))
    assert a.dive.wasted_bytes == 200
    assert a.reclaimable_bytes == 100
