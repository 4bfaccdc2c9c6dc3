"""What a read asks of file contents (sources.core.ContentPlan): hashes, whole small files, probes,
in the same pass as the headers, over every archive format; and the source core's order (config
first, then layers by diff_id) that lets a cache wrap any store."""

from __future__ import annotations

import hashlib
import os

import pytest
from builders import layer_tar, oci_layout, write_image

from imgopt.sources import ContentPlan, Probe, ReadOptions, load_image
from imgopt.sources.archive import DirectoryStore, assemble
from imgopt.sources.core import ImageRef, Read

STATUS = b"Package: libc6\nStatus: install ok installed\n\nPackage: jq\nStatus: install ok installed\n"
ELF = b"\x7fELF" + b"\x02\x01\x01" + bytes(57)
BIG = b"x" * 5000
LAYERS = [
    [
        ("dir", "var"), ("dir", "var/lib"), ("dir", "var/lib/dpkg"),
        ("file", "var/lib/dpkg/status", STATUS),
        ("file", "usr/bin/jq", ELF + b"jq", {"mode": 0o755}),
        ("file", "usr/share/doc/jq/README", b"docs"),
        ("file", "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
    ],
    [
        ("file", "usr/bin/tool", ELF + b"tool", {"mode": 0o755}),
        ("file", "usr/bin/script", b"#!/bin/sh\necho hi\n", {"mode": 0o755}),
        ("file", "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/home/app:/bin/sh\n"),
        ("file", "var/big.db", BIG),
    ],
]  # fmt: skip


def _elf(path: str, data: bytes) -> object:
    return {"class": data[4], "size": len(data)} if data[:4] == b"\x7fELF" else None


PLAN = ContentPlan(
    keep=("var/lib/dpkg/status", "etc/passwd", "var/*.db"),
    probes=(Probe("elf", lambda p, size, mode: bool(mode & 0o111), _elf),),
    keep_max=4096,
)


@pytest.fixture(params=["docker", "docker-oci", "oci-dir"])
def ref(request: pytest.FixtureRequest, tmp_path: str) -> str:
    return write_image(request.param, LAYERS, str(tmp_path))


def test_one_pass_reads_what_the_plan_asks(ref: str) -> None:
    image = load_image(ref, ReadOptions(content=PLAN))
    base, top = image.layers
    assert base.contents == {"var/lib/dpkg/status": STATUS, "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\n"}
    assert top.contents["etc/passwd"].endswith(b"/home/app:/bin/sh\n")
    assert "var/big.db" not in top.contents  # larger than keep_max: skipped, not truncated
    assert base.facts == {"elf": {"usr/bin/jq": {"class": 2, "size": len(ELF) + 2}}}
    assert top.facts == {"elf": {"usr/bin/tool": {"class": 2, "size": len(ELF) + 4}}}  # the script is no ELF
    # headers and sizes are exactly those of a plain read
    plain = load_image(ref)
    assert [lr.entries for lr in plain.layers] == [lr.entries for lr in image.layers]
    assert all(not lr.contents and not lr.facts for lr in plain.layers)


def test_hashing_and_keeping_together(ref: str) -> None:
    image = load_image(ref, ReadOptions(content=ContentPlan(hash=True, keep=("etc/passwd",))))
    digests = {e.path: e.digest for e in image.layers[1].entries if e.kind == "file"}
    assert digests["var/big.db"] == "sha256:" + hashlib.sha256(BIG).hexdigest()
    assert digests["etc/passwd"] == "sha256:" + hashlib.sha256(image.layers[1].contents["etc/passwd"]).hexdigest()
    assert image.hashed


def test_layers_are_asked_for_by_diff_id_after_the_config(tmp_path: str) -> None:
    root = os.path.join(str(tmp_path), "layout")
    oci_layout(root, [{"layers": LAYERS, "tag": "latest"}])
    asked: list[tuple[str, str | None]] = []

    class Recording(DirectoryStore):
        def layers(self, wanted):  # type: ignore[no-untyped-def]
            asked.extend(wanted)
            return super().layers(wanted)

    image = assemble(Recording(root, ReadOptions(cache=False)), Read(ImageRef("oci", root), ReadOptions(cache=False)))
    expected = ["sha256:" + hashlib.sha256(layer_tar(entries)).hexdigest() for entries in LAYERS]
    assert [d for _, d in asked] == expected == [lr.diff_id for lr in image.layers]
