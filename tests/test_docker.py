"""Integration with a real Docker engine: real builds, `docker save`, `docker export` ground truth,
the daemon stream source, skopeo-made OCI layouts, and dive on real archives.

These need the engine (``.ci/run`` starts one and sets IMGOPT_REQUIRE_DOCKER=1, which turns a
missing engine into a failure). Base images are made locally (debian:bookworm-slim, see
../shared/tools/docker-up); nothing is pulled.
"""

from __future__ import annotations

import fnmatch
import io
import os
import subprocess
import tarfile
from collections.abc import Iterator

import pytest
from conftest import REQUIRE_DOCKER, require_tool, run_dive

import imgopt
from imgopt.errors import ImageNotFound
from imgopt.report.lintfmt import cost_sentence

pytestmark = [pytest.mark.docker]

BASE = "debian:bookworm-slim"
PREFIX = "imgopt-test-"

DOCKERFILES = {
    # every way of shipping bytes that the final filesystem does not hold
    "waste": f"""FROM {BASE}
RUN mkdir -p /data/sub /cache && head -c 300000 /dev/urandom > /data/a.bin \\
 && head -c 200000 /dev/urandom > /data/sub/b.bin && head -c 100000 /dev/urandom > /cache/x \\
 && ln /data/a.bin /data/hard.bin
RUN head -c 50000 /dev/urandom > /data/a.bin && rm -rf /data/sub && chmod 600 /data/hard.bin
# rm -rf then mkdir makes an opaque directory in overlay2
RUN rm -rf /cache && mkdir /cache && echo hi > /cache/y && rm /data/a.bin && rm -rf /var/lib/apt/lists/*
RUN chown -R 1000:1000 /data /usr/share/doc
CMD ["cat", "/cache/y"]
""",
    # a hardlink whose original name is deleted later keeps the content
    "hardlinks": f"""FROM {BASE}
RUN head -c 400000 /dev/urandom > /big && ln /big /big2 && ln /big /big3
RUN rm /big /big2
""",
    # a clean image: nothing reclaimable but what the base itself carries
    "clean": f"""FROM {BASE}
COPY payload /opt/payload
WORKDIR /opt
""",
}


def _build(client, name: str, dockerfile: str, tmp: str) -> str:  # type: ignore[no-untyped-def]
    ctx = os.path.join(tmp, name)
    os.makedirs(ctx, exist_ok=True)
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(dockerfile)
    with open(os.path.join(ctx, "payload"), "wb") as f:
        f.write(b"p" * 123_456)
    tag = PREFIX + name + ":latest"
    client.images.build(path=ctx, tag=tag, rm=True, forcerm=True, pull=False)
    return tag


@pytest.fixture(scope="module")
def images(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    import docker

    client = docker.from_env(timeout=300)
    try:
        client.images.get(BASE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"base image {BASE} is missing: run ../shared/tools/docker-up (as .ci/run does)")
    tmp = str(tmp_path_factory.mktemp("builds"))
    built = {name: _build(client, name, df, tmp) for name, df in DOCKERFILES.items()}
    yield built
    for tag in built.values():
        try:
            client.images.remove(tag, force=True)
        except docker.errors.APIError:
            pass
    client.close()


def _save(tag: str, path: str) -> str:
    import docker

    client = docker.from_env(timeout=300)
    with open(path, "wb") as f:
        for chunk in client.images.get(tag).save(named=True):
            f.write(chunk)
    client.close()
    return path


def _exported_regular_bytes(tag: str) -> int:
    """Ground truth: `docker create` + `docker export`, summing regular-file bytes."""
    import docker

    client = docker.from_env(timeout=300)
    container = client.containers.create(tag, command=["true"])
    try:
        buf = io.BytesIO(b"".join(container.export()))
    finally:
        container.remove(force=True)
        client.close()
    with tarfile.open(fileobj=buf) as t:
        return sum(m.size for m in t.getmembers() if m.isreg())


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_final_size_matches_docker_export(images: dict[str, str], name: str, tmp_path: str) -> None:
    archive = _save(images[name], os.path.join(tmp_path, "img.tar"))
    a = imgopt.analyze("docker-archive:" + archive)
    truth = _exported_regular_bytes(images[name])
    assert abs(a.final_size_bytes - truth) <= 64 * 1024, (a.final_size_bytes, truth)
    assert a.size_bytes - a.final_size_bytes == a.reclaimable_bytes
    if name == "waste":
        causes = a.waste_by_cause
        assert causes["deleted"] > 1_000_000  # apt lists, /data/sub, the opaque /cache
        assert causes["metadata-only"] >= 300_000  # chown -R of /data/hard.bin (same mtime, same size)
        assert causes["overwritten"] >= 300_000  # /data/a.bin written again
        apt = next(c for c in a.categories if c.name == "apt")
        assert apt.wasted_bytes > 1_000_000
    if name == "hardlinks":
        assert a.reclaimable_bytes == 0  # /big3 keeps the content


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_daemon_stream_equals_saved_archive(images: dict[str, str], name: str, tmp_path: str) -> None:
    archive = imgopt.analyze("docker-archive:" + _save(images[name], os.path.join(tmp_path, "img.tar")))
    daemon = imgopt.analyze("docker-daemon:" + images[name])
    bare = imgopt.analyze(images[name])
    for other in (daemon, bare):
        assert other.image.id == archive.image.id
        assert other.image.source == "docker-daemon"
        assert other.to_dict()["layers"] == archive.to_dict()["layers"]
        assert other.final_size_bytes == archive.final_size_bytes
        assert other.dive == archive.dive


def test_a_cached_daemon_image_is_not_exported(
    images: dict[str, str], tmp_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second read of an engine image takes the layers from the cache by the diff_ids
    inspect lists and the config by the image ID: the export (docker save) is never asked for."""
    from imgopt.sources import load_image, source_settings

    tag = images["waste"]
    with source_settings(cache=str(tmp_path)):
        cold = load_image("docker-daemon:" + tag, estimate_compressed=True)
        import docker.api.image

        def no_export(*args: object, **kw: object) -> None:
            raise AssertionError("the image was exported although the cache holds it")

        monkeypatch.setattr(docker.api.image.ImageApiMixin, "get_image", no_export)
        warm = load_image("docker-daemon:" + tag, estimate_compressed=True)
        by_id = load_image(cold.id, estimate_compressed=True)
    for image in (warm, by_id):
        assert image.layers == cold.layers and image.id == cold.id and image.history == cold.history
        assert [lr.compressed_size for lr in image.layers] == [lr.compressed_size for lr in cold.layers]
    assert warm.repo_tags == cold.repo_tags and warm.source == "docker-daemon"
    with source_settings(cache=False), pytest.raises(AssertionError, match="exported"):
        load_image("docker-daemon:" + tag)


def test_a_fleet_scan_of_engine_images_exports_each_once(
    images: dict[str, str], tmp_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engine images on the local pool's worker processes: every row is a single analysis's; in
    this process (--jobs 1) the probes are ``docker image inspect`` alone, so a scan without the
    layer cache exports each image once, and a second scan with --db exports none of them."""
    import docker.api.image

    from imgopt.cli import main
    from imgopt.fleet import image_row
    from imgopt.sources import source_settings

    refs = [f"docker-daemon:{images[n]}" for n in sorted(images)]
    with source_settings(cache=False):
        fleet = imgopt.scan(refs, jobs=3)
        assert not fleet.failed
        for row, ref in zip(fleet.images, refs, strict=True):
            alone = image_row(ref, imgopt.analyze(ref))
            assert (row.digest, row.final_size_bytes, row.reclaimable_by_cause) == (
                alone.digest,
                alone.final_size_bytes,
                alone.reclaimable_by_cause,
            )
        exports: list[str] = []
        real = docker.api.image.ImageApiMixin.get_image

        def counted(self: object, image: str, *args: object, **kw: object) -> object:
            exports.append(image)
            return real(self, image, *args, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(docker.api.image.ImageApiMixin, "get_image", counted)
        db = os.path.join(tmp_path, "scan.sqlite")
        out = io.StringIO()
        assert main(["scan", *refs, "--db", db, "--jobs", "1"], out, io.StringIO()) == 0
        assert sorted(exports) == sorted(images.values())  # once each: no probe exported
        exports.clear()
        assert main(["scan", *refs, "--db", db, "--jobs", "1"], out, io.StringIO()) == 0
        assert exports == [] and "3 unchanged since the last scan" in out.getvalue()


@pytest.mark.dive
@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_dive_agrees_on_real_archives(images: dict[str, str], name: str, dive_bin: str, tmp_path: str) -> None:
    archive = _save(images[name], os.path.join(tmp_path, "img.tar"))
    ours = imgopt.analyze("docker-archive:" + archive).dive
    theirs = run_dive(dive_bin, archive, str(tmp_path))
    assert (ours.size_bytes, ours.wasted_bytes) == (theirs["size_bytes"], theirs["wasted_bytes"])
    assert abs(ours.efficiency - theirs["efficiency"]) <= 1e-12


@pytest.fixture(scope="module")
def skopeo() -> str:
    return require_tool("skopeo", "apt-get install skopeo; .ci/run installs it", required=REQUIRE_DOCKER)


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_real_oci_layouts_made_by_skopeo(images: dict[str, str], skopeo: str, compression: str, tmp_path: str) -> None:
    archive = _save(images["waste"], os.path.join(tmp_path, "img.tar"))
    layout = os.path.join(tmp_path, "oci")
    oci_archive = os.path.join(tmp_path, "img.oci.tar")
    for dest in (f"oci:{layout}:waste", f"oci-archive:{oci_archive}:waste"):
        subprocess.run(
            [
                skopeo,
                "copy",
                "--quiet",
                "--dest-compress",
                "--dest-compress-format",
                compression,
                "docker-archive:" + archive,
                dest,
            ],
            check=True,
            timeout=600,
        )
    want = imgopt.analyze("docker-archive:" + archive)
    for ref in (f"oci:{layout}:waste", f"oci-archive:{oci_archive}"):
        got = imgopt.analyze(ref)
        assert [lr.diff_id for lr in got.layers] == [lr.diff_id for lr in want.layers]
        assert got.size_bytes == want.size_bytes and got.final_size_bytes == want.final_size_bytes
        assert got.waste_by_cause == want.waste_by_cause and got.dive == want.dive
        assert all(lr.compressed_size_bytes for lr in got.layers)
        assert got.compressed_size_bytes is not None and got.compressed_size_bytes < got.size_bytes
        assert all(compression in lr.media_type for lr in got.layers)


def test_missing_image_is_not_pulled(docker_engine: None) -> None:
    with pytest.raises(ImageNotFound, match="never pulls"):
        imgopt.analyze("docker-daemon:imgopt-test-does-not-exist:latest")
    with pytest.raises(ImageNotFound):
        imgopt.analyze("busybox:latest")


def test_buildkit_history_maps_to_dockerfile_lines(images: dict[str, str], tmp_path: str) -> None:
    docker_cli = "/usr/bin/docker"
    if not os.path.exists(docker_cli):
        pytest.fail("Debian's docker.io CLI (/usr/bin/docker, with built-in BuildKit) is missing")
    ctx = os.path.join(tmp_path, "bk")
    os.makedirs(ctx)
    dockerfile = os.path.join(ctx, "Dockerfile")
    with open(dockerfile, "w") as f:
        f.write(DOCKERFILES["waste"])
    tag = PREFIX + "buildkit:latest"
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    subprocess.run([docker_cli, "build", "-q", "-t", tag, ctx], check=True, env=env, timeout=900, capture_output=True)
    try:
        a = imgopt.analyze("docker-daemon:" + tag, dockerfile=dockerfile)
        status = [
            (
                lr.instruction.status,
                lr.instruction.instruction.line if lr.instruction and lr.instruction.instruction else None,
            )
            for lr in a.layers
            if lr.instruction
        ]
        assert status[0] == ("base-image", None)
        assert status[1:] == [("matched", 2), ("matched", 5), ("matched", 7), ("matched", 8)]
        assert a.layers[1].instruction and a.layers[1].instruction.instruction
        assert a.layers[1].instruction.instruction.end_line == 4
    finally:
        subprocess.run([docker_cli, "rmi", "-f", tag], capture_output=True)


LINT_DOCKERFILE = f"""FROM {BASE}
# apt-get update reaches Debian's mirror from containers on this machine
RUN apt-get update
RUN head -c 250000 /dev/urandom > /srv/data.bin
RUN chown -R 1000:1000 /srv
COPY payload.tar.gz /tmp/payload.tar.gz
RUN rm /tmp/payload.tar.gz
"""


def test_lint_with_image_measures_each_finding(docker_engine: None, tmp_path: str) -> None:
    import gzip
    import json as _json

    import docker

    from imgopt.cli import main

    ctx = os.path.join(tmp_path, "lintctx")
    os.makedirs(ctx)
    dockerfile = os.path.join(ctx, "Dockerfile")
    with open(dockerfile, "w") as f:
        f.write(LINT_DOCKERFILE)
    payload = gzip.compress(os.urandom(150_000))
    with open(os.path.join(ctx, "payload.tar.gz"), "wb") as f:
        f.write(payload)
    with open(os.path.join(ctx, ".dockerignore"), "w") as f:
        f.write(".git\nnode_modules\n")
    tag = PREFIX + "lint:latest"
    client = docker.from_env(timeout=600)
    client.images.build(path=ctx, tag=tag, rm=True, forcerm=True, pull=False)
    try:
        findings = {f.rule: f for f in imgopt.lint(dockerfile, image="docker-daemon:" + tag)}
        image = imgopt.load("docker-daemon:" + tag)
        # apt-get update writes the lists and (on bases without docker-clean) the *.bin caches
        lists = sum(
            e.size
            for e in image.layers[1].entries
            if e.kind == "file"
            and (e.path.startswith("var/lib/apt/lists/") or fnmatch.fnmatch(e.path, "var/cache/apt/*.bin"))
        )
        assert lists > 1_000_000
        assert findings["IMG101"].bytes == lists and findings["IMG101"].line == 3
        assert "/var/lib/apt/lists" in (cost_sentence(findings["IMG101"]) or "")
        assert findings["IMG140"].bytes == 250_000  # the chown rewrote data.bin with the same content
        assert findings["IMG141"].bytes == len(payload) and findings["IMG141"].line == 6
        assert findings["IMG121"].bytes == len(payload)
        assert findings["IMG109"].bytes is None  # not measurable: says so
        out = io.StringIO()
        code = main(["lint", dockerfile, "--image", "docker-daemon:" + tag, "--format", "json"], out, io.StringIO())
        doc = _json.loads(out.getvalue())
        assert code == 1
        sizes = [f["bytes"] for f in doc["findings"] if f["bytes"] is not None]
        assert sizes == sorted(sizes, reverse=True) and sizes[0] == lists
        assert doc["total_bytes"] == lists + 250_000 + len(payload)  # the payload counted once
        text = io.StringIO()
        main(["lint", dockerfile, "--image", "docker-daemon:" + tag], text, io.StringIO())
        assert "Fixing these would save" in text.getvalue() and "left" in text.getvalue()
    finally:
        client.images.remove(tag, force=True)
        client.close()
