"""Random damage to real inputs must end in a result or one ImgoptError, never another exception."""

from __future__ import annotations

import os
import random

import pytest
from builders import WASTE_LAYERS, docker_archive
from conftest import fixture

import imgopt
from imgopt.dockerfile import parse
from imgopt.errors import ImgoptError


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


SOURCES = {
    "legacy": _read(fixture("waste-docker.tar")),
    "oci-style": _read(fixture("waste-docker-oci.tar")),
    "oci-gzip": _read(fixture("waste-oci-gzip.tar")),
    "zstd": docker_archive(WASTE_LAYERS, oci_style=True, layer_compression="zstd"),
}


def _damage(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    how = rng.random()
    if how < 0.25:
        return bytes(b[: rng.randrange(len(b))])
    if how < 0.5:
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if how < 0.75:  # damage inside a header block, where parsing decisions are made
        block = rng.randrange(len(b) // 512) * 512
        for _ in range(rng.randint(1, 4)):
            b[block + rng.randrange(512)] = rng.randrange(256)
        # keep the checksum right half of the time, so the damage reaches the field parsers
        if rng.random() < 0.5:
            hdr = b[block : block + 512]
            hdr[148:156] = b" " * 8
            b[block + 148 : block + 156] = (b"%06o\0 " % sum(hdr))[:8]
        return bytes(b)
    start = rng.randrange(len(b))
    return bytes(b[:start] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 600))) + b[start:])


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_damaged_archives_fail_cleanly(kind: str, tmp_path: str) -> None:
    rng = random.Random(kind)
    path = os.path.join(tmp_path, "x.tar")
    outcomes = {"ok": 0, "error": 0}
    for _ in range(150):
        with open(path, "wb") as f:
            f.write(_damage(SOURCES[kind], rng))
        try:
            a = imgopt.analyze("docker-archive:" + path)
            a.to_json()
            outcomes["ok"] += 1
        except ImgoptError as e:
            assert str(e) and "\n" not in str(e)
            outcomes["error"] += 1
    assert outcomes["error"] > 0


def test_random_dockerfile_text_parses_or_fails_cleanly() -> None:
    rng = random.Random(3)
    base = _read(os.path.join(os.path.dirname(__file__), "dockerfiles", "31-tricky-shell.Dockerfile")).decode()
    alphabet = "\\`\n #<>\"'=-$[]{}ABCRUNFROMEOF\t\r"
    for _ in range(400):
        chars = list(base)
        for _ in range(rng.randint(1, 10)):
            chars.insert(rng.randrange(len(chars) + 1), rng.choice(alphabet))
        text = "".join(chars)
        try:
            df = parse(text)
        except ImgoptError:
            continue
        assert df.render() == text
        imgopt.lint(df)
