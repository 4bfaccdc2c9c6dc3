"""Every format reads to the same model; references, tags and platforms resolve as documented."""

from __future__ import annotations

import os

import pytest
from builders import WASTE_EXPECTED, docker_archive, oci_layout
from conftest import fixture

import imgopt
from imgopt.errors import ImageNotFound, PlatformNotFound, UsageError
from imgopt.sources import parse_ref

FORMATS = [
    ("docker-archive:" + fixture("waste-docker.tar"), "docker-archive", False),
    ("docker-archive:" + fixture("waste-docker-oci.tar"), "docker-archive", False),
    ("oci:" + fixture("waste-oci-zstd"), "oci", True),
    ("oci-archive:" + fixture("waste-oci-gzip.tar"), "oci-archive", True),
]


@pytest.mark.parametrize(("ref", "source", "compressed"), FORMATS)
def test_every_format_gives_the_same_numbers(ref: str, source: str, compressed: bool) -> None:
    a = imgopt.analyze(ref)
    assert a.image.source == source
    assert a.size_bytes == WASTE_EXPECTED["size_bytes"]
    assert a.final_size_bytes == WASTE_EXPECTED["final_size_bytes"]
    assert a.waste_by_cause == WASTE_EXPECTED["by_cause"]
    assert a.reclaimable_bytes == a.size_bytes - a.final_size_bytes
    assert len(a.layers) == 4
    assert [lr.created_by.split()[0] for lr in a.layers] == ["/bin/sh", "RUN", "RUN", "RUN"]
    assert a.image.config.cmd == ("/bin/app",)
    assert all(lr.diff_id and lr.diff_id.startswith("sha256:") for lr in a.layers)
    if compressed:
        assert all(lr.compressed_size_bytes and lr.compressed_size_bytes > 0 for lr in a.layers)
        assert all(lr.digest and lr.digest.startswith("sha256:") for lr in a.layers)
        assert a.compressed_size_bytes == sum(lr.compressed_size_bytes or 0 for lr in a.layers)
    else:
        assert a.compressed_size_bytes is None


def test_layer_media_types_and_digests_come_from_the_oci_index_of_docker25_archives() -> None:
    img = imgopt.load("docker-archive:" + fixture("waste-docker-oci.tar"))
    assert {layer.media_type for layer in img.layers} == {"application/vnd.oci.image.layer.v1.tar"}
    assert img.manifest_digest is not None
    assert all(layer.digest == layer.diff_id for layer in img.layers)  # uncompressed blobs


def test_compression_is_sniffed_not_taken_from_names(tmp_path: str) -> None:
    # a gzip layer stored under a name ending in .tar, and zstd blobs in a docker archive
    for how in ("gzip", "zstd"):
        path = os.path.join(tmp_path, f"{how}.tar")
        with open(path, "wb") as f:
            f.write(
                docker_archive(
                    [[("file", "a", b"x" * 5000)], [("file", "b", b"y" * 10)]], oci_style=True, layer_compression=how
                )
            )
        img = imgopt.load("docker-archive:" + path)
        assert img.size == 5010
        assert all(layer.compressed_size for layer in img.layers)
    path = os.path.join(tmp_path, "legacy-gz.tar")
    with open(path, "wb") as f:
        f.write(docker_archive([[("file", "a", b"x" * 5000)]], layer_compression="gzip"))
    assert imgopt.load(path).size == 5000


def test_bare_paths_are_detected() -> None:
    assert parse_ref(fixture("waste-docker.tar")).transport == "docker-archive"
    assert parse_ref(fixture("waste-oci-zstd")).transport == "oci"
    assert parse_ref("debian:bookworm").transport == "docker-daemon"
    assert parse_ref("docker-daemon:debian:bookworm").location == "debian:bookworm"
    with pytest.raises(ImageNotFound):
        parse_ref("./missing.tar")


def test_tags_select_images(tmp_path: str) -> None:
    img = imgopt.load("docker-archive:" + fixture("waste-docker.tar") + ":waste:latest")
    assert img.repo_tags == ("waste:latest",)
    with pytest.raises(ImageNotFound, match="tags present: waste:latest"):
        imgopt.load("docker-archive:" + fixture("waste-docker.tar") + ":other")
    assert imgopt.load("oci:" + fixture("waste-oci-zstd") + ":latest").size == WASTE_EXPECTED["size_bytes"]
    with pytest.raises(ImageNotFound):
        imgopt.load("oci:" + fixture("waste-oci-zstd") + ":nope")


def test_multi_image_archive_needs_a_tag(tmp_path: str) -> None:
    import io
    import json
    import tarfile

    one = docker_archive([[("file", "a", b"1")]], tag="one:1")
    two = docker_archive([[("file", "b", b"22")]], tag="two:2")
    members: dict[str, bytes] = {}
    manifests = []
    for blob in (one, two):
        with tarfile.open(fileobj=io.BytesIO(blob)) as t:
            for m in t.getmembers():
                if m.isfile() and m.name != "manifest.json":
                    members[m.name] = t.extractfile(m).read()  # type: ignore[union-attr]
            manifests += json.loads(t.extractfile("manifest.json").read())  # type: ignore[union-attr]
    members["manifest.json"] = json.dumps(manifests).encode()
    path = os.path.join(tmp_path, "two.tar")
    with tarfile.open(path, "w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    with pytest.raises(UsageError, match="holds 2 images"):
        imgopt.load(path)
    assert imgopt.load(path + ":two:2").size == 2
    assert imgopt.load(f"docker-archive:{path}:one:1").size == 1


def test_platform_selection() -> None:
    ref = "oci:" + fixture("multiplatform-oci")
    amd = imgopt.load(ref, platform="linux/amd64")
    arm = imgopt.load(ref, platform="linux/arm64")
    assert (amd.architecture, amd.size) == ("amd64", 100)
    assert (arm.architecture, arm.size) == ("arm64", 200)
    assert imgopt.load(ref).architecture in ("amd64", "arm64")  # the host's
    with pytest.raises(PlatformNotFound, match=r"linux/s390x .*platforms present: linux/amd64, linux/arm64"):
        imgopt.load(ref, platform="linux/s390x")
    with pytest.raises(PlatformNotFound, match="linux/amd64"):
        imgopt.load("docker-archive:" + fixture("waste-docker.tar"), platform="linux/arm64")


def test_attestation_manifests_are_not_images(tmp_path: str) -> None:
    import json

    root = os.path.join(tmp_path, "att")
    oci_layout(
        root,
        [
            {"layers": [[("file", "a", b"abc")]], "platform": ("linux", "amd64")},
            {"layers": [[("file", "att.json", b"{}")]], "platform": ("unknown", "unknown")},
        ],
    )
    # mark the second entry of the nested index as an attestation
    with open(os.path.join(root, "index.json")) as f:
        index = json.load(f)
    nested_digest = index["manifests"][0]["digest"]
    nested_path = os.path.join(root, "blobs", "sha256", nested_digest[7:])
    with open(nested_path) as f:
        nested = json.load(f)
    nested["manifests"][1]["annotations"] = {"vnd.docker.reference.type": "attestation-manifest"}
    with open(nested_path, "w") as f:
        json.dump(nested, f)
    img = imgopt.load("oci:" + root, platform="linux/amd64")
    assert img.size == 3


def test_hash_option_fills_digests_and_finds_duplicates(tmp_path: str) -> None:
    path = os.path.join(tmp_path, "dup.tar")
    with open(path, "wb") as f:
        f.write(
            docker_archive(
                [
                    [
                        ("file", "a/one", b"z" * 1000),
                        ("file", "b/two", b"z" * 1000),
                        ("file", "c/three", b"z" * 1000),
                        ("file", "d/other", b"q" * 10),
                    ]
                ]
            )
        )
    a = imgopt.analyze(path, hash_content=True)
    assert a.duplicates is not None and len(a.duplicates) == 1
    assert a.duplicates[0].paths == ("a/one", "b/two", "c/three")
    assert a.duplicate_bytes == 2000
    assert imgopt.analyze(path).duplicates is None
