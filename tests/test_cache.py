"""The layer index cache: what it stores is exactly what a read gives, a warm read reads no
layer blob, and each way it can fail (a damaged entry, a damaged database file, a full disk,
concurrent writers, a layer that does not hash to its diff_id, the size cap) only costs speed."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import sqlite3
import subprocess
import tarfile
from collections.abc import Iterator
from typing import Any

import pytest
from builders import docker_archive, write_image
from conftest import REQUIRE_DOCKER, fixture
from hypothesis import given, settings
from hypothesis import strategies as st
from test_content_plan import LAYERS, PLAN

from imgopt.cli import main
from imgopt.model import FileEntry, Image
from imgopt.sources import ContentPlan, ReadOptions, archive, load_image, source_settings
from imgopt.sources.cache import LayerCache, decode_layer, encode_layer, plan_key, settle
from imgopt.sources.core import ParsedLayer


@pytest.fixture
def cache_dir(tmp_path: str) -> Iterator[str]:
    d = os.path.join(str(tmp_path), "cache")
    with source_settings(cache=d):
        yield d


@pytest.fixture(params=["docker", "docker-oci-gzip", "oci-dir"])
def ref(request: pytest.FixtureRequest, tmp_path: str) -> str:
    return write_image(request.param, LAYERS, str(tmp_path))


def _same(a: Image, b: Image) -> None:
    assert a.layers == b.layers and a.id == b.id and a.config == b.config and a.repo_tags == b.repo_tags


def _no_layer_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(src: object, size: int, name: str, *args: object) -> None:
        raise AssertionError(f"layer {name} was read although the cache holds it")

    monkeypatch.setattr(archive, "parse_blob", refuse)


@pytest.mark.parametrize("estimate", [False, True])
def test_a_warm_read_reads_no_layer_and_gives_the_same_image(
    ref: str, cache_dir: str, monkeypatch: pytest.MonkeyPatch, estimate: bool
) -> None:
    options = ReadOptions(content=PLAN, estimate_compressed=estimate)
    with source_settings(cache=False):
        fresh = load_image(ref, options)
    cold = load_image(ref, options)
    _same(cold, fresh)
    assert [lr.compressed_size for lr in cold.layers] == [lr.compressed_size for lr in fresh.layers]
    _no_layer_reads(monkeypatch)
    warm = load_image(ref, options)
    _same(warm, fresh)
    assert [lr.compressed_size for lr in warm.layers] == [lr.compressed_size for lr in fresh.layers]
    assert warm.layers[0].contents and warm.layers[1].facts  # kept files and probe facts come back too
    # another plan is another entry: it must read
    with pytest.raises(AssertionError, match="was read although"):
        load_image(ref, ReadOptions(content=ContentPlan(hash=True)))


def test_an_image_sharing_layers_reads_only_its_own(tmp_path: str, cache_dir: str) -> None:
    base = LAYERS[:1]
    a = os.path.join(str(tmp_path), "a.tar")
    b = os.path.join(str(tmp_path), "b.tar")
    with open(a, "wb") as f:
        f.write(docker_archive([*base, [("file", "app/a", b"a" * 100)]]))
    with open(b, "wb") as f:
        f.write(docker_archive([*base, [("file", "app/b", b"b" * 100)]]))
    load_image(a)
    events: list[tuple[str, bool]] = []
    load_image(b, ReadOptions(on_layer=lambda name, cached: events.append((name, cached))))
    assert [cached for _, cached in events] == [True, False]


def test_a_damaged_entry_is_dropped_and_read_again(ref: str, cache_dir: str, caplog: pytest.LogCaptureFixture) -> None:
    first = load_image(ref)
    settle()  # the entries of uncompressed layers are written once their hash (computed aside) proves them
    db = sqlite3.connect(os.path.join(cache_dir, "layers.sqlite"))
    payload = db.execute("SELECT payload FROM layers LIMIT 1").fetchone()[0]
    damaged = payload[:20] + bytes([payload[20] ^ 0xFF]) + payload[21:]
    with db:
        db.execute("UPDATE layers SET payload=? WHERE payload=?", (damaged, payload))
    db.close()
    second = load_image(ref)
    _same(second, first)
    assert "damaged" in caplog.text
    db = sqlite3.connect(os.path.join(cache_dir, "layers.sqlite"))
    assert db.execute("SELECT count(*) FROM layers WHERE payload=?", (damaged,)).fetchone()[0] == 0  # re-written
    db.close()


def test_an_entry_that_decodes_wrongly_is_never_trusted(cache_dir: str) -> None:
    """A checksum that matches bytes that are not an index (written by a bug, or by hand)."""
    cache = LayerCache(cache_dir)
    import hashlib

    junk = b"\x78\x01not zlib"
    cache.put("sha256:" + "1" * 64, "p", ParsedLayer((), 0, 1024), 1024, None)
    with sqlite3.connect(cache.path) as db:
        db.execute("UPDATE layers SET payload=?, checksum=?", (junk, hashlib.sha256(junk).hexdigest()))
    assert cache.get("sha256:" + "1" * 64, "p") is None
    assert not cache.has("sha256:" + "1" * 64, "p")
    cache.close()


def test_a_damaged_database_file_is_moved_aside(ref: str, cache_dir: str, caplog: pytest.LogCaptureFixture) -> None:
    os.makedirs(cache_dir, exist_ok=True)
    with open(os.path.join(cache_dir, "layers.sqlite"), "wb") as f:
        f.write(b"this is not a database" * 100)
    image = load_image(ref)
    with source_settings(cache=False):
        _same(image, load_image(ref))
    assert any(n.startswith("layers.sqlite.corrupt-") for n in os.listdir(cache_dir))
    assert LayerCache(cache_dir).info().layers == len(LAYERS)  # a fresh cache was made and filled


def test_a_full_disk_costs_speed_not_the_read(ref: str, tmp_path: str, caplog: pytest.LogCaptureFixture) -> None:
    small = os.path.join(str(tmp_path), "small")
    os.makedirs(small)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", small], capture_output=True)
    if done.returncode != 0:
        why = f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}"
        if REQUIRE_DOCKER:  # CI runs as root: the full-disk test must run there
            pytest.fail(why)
        pytest.skip(why)
    try:
        with open(os.path.join(small, "filler"), "wb") as f:  # leave almost nothing free
            try:
                f.write(b"\0" * (44 << 10))
            except OSError:
                pass
        big = [[("file", f"data/{i}", os.urandom(2048)) for i in range(40)]]
        path = os.path.join(str(tmp_path), "big.tar")
        with open(path, "wb") as f:
            f.write(docker_archive(big))
        with source_settings(cache=small):
            image = load_image(path)
            again = load_image(ref)
        assert len(image.layers[0].entries) == 40 and again.layers
        assert "going on without it" in caplog.text
    finally:
        subprocess.run(["umount", small], check=False)


def test_a_layer_that_does_not_hash_to_its_diff_id_is_not_cached(
    tmp_path: str, cache_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    raw = docker_archive(LAYERS)
    src = tarfile.open(fileobj=io.BytesIO(raw))
    out = io.BytesIO()
    lie = "sha256:" + "ab" * 32
    with tarfile.open(fileobj=out, mode="w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isfile() else None  # type: ignore[union-attr]
            if data is not None and m.name.endswith(".json") and m.name != "manifest.json":
                cfg = json.loads(data)
                cfg["rootfs"]["diff_ids"][0] = lie
                data = json.dumps(cfg).encode()
                m.size = len(data)
            dst.addfile(m, io.BytesIO(data) if data is not None else None)
    path = os.path.join(str(tmp_path), "lie.tar")
    with open(path, "wb") as f:
        f.write(out.getvalue())
    image = load_image(path)
    assert image.layers[0].diff_id == lie
    cache = LayerCache(cache_dir)
    assert not cache.has(lie, plan_key(ReadOptions().content))
    assert cache.has(image.layers[1].diff_id, plan_key(ReadOptions().content))
    assert "not to the diff_id" in caplog.text
    cache.close()


def test_the_size_cap_evicts_least_recently_used(tmp_path: str) -> None:
    d = os.path.join(str(tmp_path), "capped")
    cache = LayerCache(d, max_bytes=10_000)
    for i in range(20):
        entries = tuple(FileEntry(f"f/{i}/{j}", "file", j) for j in range(200))
        cache.put(f"sha256:{i:064x}", "p", ParsedLayer(entries, 0, 0), 0, None)
        cache.get("sha256:" + f"{0:064x}", "p")  # the first one stays in use
    info = cache.info()
    assert info.bytes <= 10_000
    assert cache.has(f"sha256:{0:064x}", "p") and cache.has(f"sha256:{19:064x}", "p")
    assert not cache.has(f"sha256:{5:064x}", "p")
    cache.close()


def _read_into(args: tuple[str, str]) -> list[str]:
    directory, path = args
    with source_settings(cache=directory):
        return [lr.diff_id for lr in load_image(path).layers]


def test_concurrent_processes_share_one_cache(tmp_path: str) -> None:
    paths = []
    for i in range(4):
        p = os.path.join(str(tmp_path), f"img{i}.tar")
        layers = [*LAYERS, [("file", f"app/{i}", os.urandom(20000))]]
        with open(p, "wb") as f:
            f.write(docker_archive(layers))
        paths.append(p)
    d = os.path.join(str(tmp_path), "shared")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.map(_read_into, [(d, p) for p in paths * 3])
    distinct = {x for r in results for x in r}
    cache = LayerCache(d)
    assert cache.info().layers == len(distinct) == len(LAYERS) + 4
    for diff_id in distinct:  # every entry decodes and checks
        assert cache.get(diff_id, plan_key(ReadOptions().content)) is not None
    cache.close()


def test_no_cache_writes_nothing(ref: str, cache_dir: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["analyze", ref, "--no-cache", "--format", "json"], out, err) == 0, err.getvalue()
    assert not os.path.exists(os.path.join(cache_dir, "layers.sqlite"))


def test_cache_info_and_prune(ref: str, tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    d = os.path.join(str(tmp_path), "cli-cache")
    monkeypatch.setenv("IMGOPT_CACHE_DIR", d)
    out = io.StringIO()
    assert main(["analyze", ref, "--format", "json"], out, io.StringIO()) == 0
    out = io.StringIO()
    assert main(["cache", "info", "--format", "json"], out, io.StringIO()) == 0
    info = json.loads(out.getvalue())
    assert info["layers"] == len(LAYERS) and info["documents"] >= 1 and info["path"].startswith(d)
    out = io.StringIO()
    assert main(["cache", "prune"], out, io.StringIO()) == 0
    assert "removed" in out.getvalue()
    out = io.StringIO()
    assert main(["cache", "info", "--format", "json"], out, io.StringIO()) == 0
    assert json.loads(out.getvalue())["layers"] == 0
    err = io.StringIO()
    assert main(["cache", "prune", "--keep", "lots"], io.StringIO(), err) == 2 and "not a size" in err.getvalue()


paths = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), min_size=1, max_size=30)
entries = st.builds(
    FileEntry,
    paths,
    st.sampled_from(["file", "dir", "symlink", "hardlink", "other", "whiteout", "opaque"]),
    st.integers(0, 2**40),
    st.integers(0, 0o7777),
    st.integers(0, 2**31),
    st.integers(0, 2**31),
    st.integers(-(2**40), 2**40),
    st.one_of(st.none(), paths),
    st.one_of(st.none(), st.just("sha256:" + "0" * 64)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(entries, max_size=30), st.dictionaries(paths, st.binary(max_size=50), max_size=3))
def test_encoding_round_trips(items: list[FileEntry], contents: dict[str, bytes]) -> None:
    layer = ParsedLayer(tuple(items), 123, 4096, contents, {"exec": {"a": {"elf": {"needed": ["x"]}}}}, ("big",))
    back = decode_layer(encode_layer(layer, 4096, 77))
    assert back.layer == layer and back.tar_bytes == 4096 and back.gzip_estimate == 77


def test_non_utf8_names_survive(tmp_path: str, cache_dir: str) -> None:
    name = b"caf\xe9".decode("utf-8", "surrogateescape")
    path = os.path.join(str(tmp_path), "latin1.tar")
    with open(path, "wb") as f:
        f.write(docker_archive([[("file", name, b"x")]]))
    first = load_image(path)
    assert first.layers == load_image(path).layers


def test_the_committed_fixtures_read_the_same_warm(cache_dir: str) -> None:
    for name in ("waste-docker.tar", "waste-docker-oci.tar", "waste-oci-gzip.tar"):
        with source_settings(cache=False):
            fresh = load_image(fixture(name))
        load_image(fixture(name))
        _same(load_image(fixture(name)), fresh)


def test_a_cli_run_leaves_its_entries_written(tmp_path: str) -> None:
    """Hashes computed aside finish before the process exits: the next process finds every layer."""
    import sys

    ref = write_image("docker", [*LAYERS, [("file", "big", os.urandom(3 << 20))]], str(tmp_path))
    d = os.path.join(str(tmp_path), "cli")
    env = dict(os.environ, IMGOPT_CACHE_DIR=d)
    done = subprocess.run(
        [sys.executable, "-m", "imgopt", "analyze", ref, "--format", "json"], env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    cache = LayerCache(d)
    assert cache.info().layers == len(LAYERS) + 1
    cache.close()


def test_a_layer_two_threads_want_at_once_is_read_once(
    tmp_path: str, cache_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two images sharing a base, read at the same time (a fleet scan): the base is parsed once,
    the second reader waits for it and takes it from the cache."""
    import threading
    import time

    base = [("file", f"usr/lib/{i}", os.urandom(500)) for i in range(50)]
    refs = []
    for name in ("a", "b"):
        d = os.path.join(str(tmp_path), name)
        os.makedirs(d)
        refs.append(write_image("oci-dir", [base, [("file", f"app/{name}", name.encode())]], d))
    parsed: list[str] = []
    real = archive.parse_blob

    def slow(src: object, size: int, name: str, *args: object) -> object:
        parsed.append(name)
        time.sleep(0.3)  # both threads are inside the read at once
        return real(src, size, name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(archive, "parse_blob", slow)
    images: dict[str, object] = {}
    threads = [threading.Thread(target=lambda r=r: images.__setitem__(r, load_image(r))) for r in refs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(images) == 2
    assert len(parsed) == 3  # the base once, each app layer once
    a, b = (images[r] for r in refs)
    assert a.layers[0] == b.layers[0]  # type: ignore[attr-defined]


def test_a_failed_hash_lets_the_next_reader_go_on(
    tmp_path: str, cache_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hash that fails (the file vanished, a disk error) stores nothing and holds nobody up."""
    ref = write_image("docker", LAYERS, str(tmp_path))

    def broken(region: object, fd: int) -> str:
        os.close(fd)
        raise OSError("disk error")

    monkeypatch.setattr(archive, "_hash_region", broken)
    first = load_image(ref)
    settle()
    assert archive._INFLIGHT == {}  # nobody would wait for a reader that has given up
    cache = LayerCache(cache_dir)
    plan = plan_key(ReadOptions().content)
    assert not any(cache.has(lr.diff_id, plan) for lr in first.layers)  # unproven: not stored
    monkeypatch.undo()
    _same(load_image(ref), first)
    settle()
    assert all(cache.has(lr.diff_id, plan) for lr in first.layers)
    cache.close()


def test_a_failed_read_leaves_no_hashing_thread_behind(tmp_path: str, cache_dir: str) -> None:
    import threading

    from imgopt.errors import CorruptArchive

    good = write_image("docker-oci-gzip", LAYERS, str(tmp_path))
    path = good.split(":", 1)[1]
    with open(path, "rb") as f:
        data = bytearray(f.read())
    with tarfile.open(path) as t:  # the first gzip layer blob: damage its deflate stream
        member = next(
            m for m in t.getmembers() if m.isfile() and data[m.offset_data : m.offset_data + 2] == b"\x1f\x8b"
        )
    start = member.offset_data + 20
    data[start : start + 64] = b"\xff" * 64
    bad = os.path.join(str(tmp_path), "bad.tar")
    with open(bad, "wb") as f:
        f.write(bytes(data))
    before = {t.ident for t in threading.enumerate() if t.name == "imgopt-digest"}
    for _ in range(5):
        with pytest.raises(CorruptArchive):
            load_image(bad)
    for t in threading.enumerate():
        if t.name == "imgopt-digest" and t.ident not in before:
            t.join(5)
            assert not t.is_alive()


def _open_at_once(args: tuple[str, int, Any]) -> bool:
    directory, i, barrier = args
    cache = LayerCache(directory)
    barrier.wait()  # every process creates the new file at the same moment
    cache.put_payload(f"sha256:{i:064x}", "plan", b"payload %d" % i)
    broken = cache._broken
    cache.close()
    return broken


def test_processes_creating_the_cache_at_the_same_moment_all_use_it(tmp_path: str) -> None:
    """Workers of a fleet scan open one new cache directory together: none may give the cache up
    (switching a new file to WAL answers "locked" at once instead of waiting)."""
    d = os.path.join(str(tmp_path), "fresh")
    n = 8
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(n)
        with ctx.Pool(n) as pool:
            broken = pool.map(_open_at_once, [(d, i, barrier) for i in range(n)])
    assert broken == [False] * n
    cache = LayerCache(d)
    assert cache.info().layers == n
    cache.close()
