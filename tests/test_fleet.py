"""Fleet scan: many images, each shared layer read once, every row what a single analysis says,
failures as rows; against local archives and a real registry of 21 images on three bases."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dask_dying_worker
import fleet_reads
import pytest
from builders import docker_archive
from conftest import fixture
from test_registry import _need_tools

import imgopt
from imgopt.cli import main
from imgopt.fleet import Fleet, ImageRow, image_row, select
from imgopt.sources import archive, source_settings

BASES = {
    "alpine-ish": [[("file", "lib/libc.so", b"c" * 30_000), ("file", "bin/sh", b"s" * 5_000)]],
    "debian-ish": [
        [("file", "usr/lib/libc.so.6", b"d" * 60_000), ("file", "var/lib/apt/lists/x", b"a" * 9_000)],
        [("whiteout", "var/lib/apt/lists/x")],
    ],
    "python-ish": [[("file", "usr/lib/python3/os.py", b"p" * 40_000)], [("file", "usr/bin/python3", b"y" * 20_000)]],
}


def _app(base: str, i: int) -> list[list[tuple[object, ...]]]:
    layers = [list(x) for x in BASES[base]]
    layers.append([("file", f"app/{base}-{i}.bin", bytes([i]) * (1_000 * (i + 1))), ("file", "tmp/junk", b"j" * 500)])
    layers.append([("whiteout", "tmp/junk")])
    return layers


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = str(tmp_path_factory.mktemp("fleet"))
    out = {}
    for base in BASES:
        path = os.path.join(d, f"{base}.tar")
        with open(path, "wb") as f:
            f.write(docker_archive(BASES[base], tag=f"{base}:1"))
        out[base] = path
        for i in range(6):
            name = f"{base}-app{i}"
            path = os.path.join(d, f"{name}.tar")
            with open(path, "wb") as f:
                f.write(docker_archive(_app(base, i), tag=f"{name}:1"))
            out[name] = path
    return out


def _row_numbers(row: object) -> dict[str, object]:
    d = dict(vars(row))
    d.pop("ref")
    for fleet_wide in ("base", "base_layers", "shared_layers"):  # relations to the other images
        d.pop(fleet_wide)
    return d


def test_every_row_is_what_a_single_analysis_says(archives: dict[str, str], tmp_path: str) -> None:
    refs = [f"docker-archive:{p}" for p in archives.values()]
    with source_settings(cache=str(tmp_path)):
        fleet = imgopt.scan([*refs, "docker-archive:/nonexistent/x.tar"], jobs=4)
    assert len(fleet.images) == len(refs) + 1
    for ref, row in zip(refs, fleet.images, strict=False):
        with source_settings(cache=False):
            assert _row_numbers(row) == _row_numbers(image_row(ref, imgopt.analyze(ref)))
    assert [r.ref for r in fleet.failed] == ["docker-archive:/nonexistent/x.tar"]
    assert "no such" in (fleet.failed[0].error or "")


def test_bases_and_shared_layers(archives: dict[str, str], tmp_path: str) -> None:
    refs = [f"docker-archive:{p}" for p in archives.values()]
    with source_settings(cache=str(tmp_path)):
        fleet = imgopt.scan(refs)
    by_ref = {r.ref: r for r in fleet.images}
    for base in BASES:
        base_ref = f"docker-archive:{archives[base]}"
        assert by_ref[base_ref].base is None
        for i in range(6):
            row = by_ref[f"docker-archive:{archives[f'{base}-app{i}']}"]
            assert row.base == base_ref and row.shared_layers == len(BASES[base])
    from imgopt.report.fleetfmt import bases, fleet_text

    assert sorted(bases(fleet)) == sorted((f"docker-archive:{archives[b]}", 6, 69_000 if b == "debian-ish" else
                                           sum(len(e[2]) for layer in BASES[b] for e in layer if e[0] == "file"))
                                          for b in BASES)  # fmt: skip
    # a base that is not scanned itself (the apps of a registry on a Docker Hub base) is named by its layers
    apps = imgopt.scan([f"docker-archive:{archives[f'debian-ish-app{i}']}" for i in range(6)])
    diff = apps.images[0].diff_ids[1]
    assert bases(apps) == [(f"2 layers up to {diff[7:19]} (not scanned)", 6, 69_000)]
    assert f"2 layers up to {diff[7:19]} (not scanned)" in fleet_text(apps)
    first_debian = next(lr for lr in fleet.layers if lr.size_bytes == 69_000)  # libc + the apt list
    assert first_debian.images == 7 and first_debian.saved_by_sharing == 69_000 * 6
    assert sum(lr.size_bytes for lr in fleet.layers) == fleet.distinct_layer_bytes


def test_each_distinct_layer_is_read_once(
    archives: dict[str, str], tmp_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = [f"docker-archive:{p}" for p in archives.values()]
    # the disk cache; none (off, or the environment's); worker processes, and this process alone
    for cache, env, jobs in ((str(tmp_path), "", 3), (False, "", 3), (str(tmp_path), "1", 1)):
        monkeypatch.setenv("IMGOPT_NO_CACHE", env)
        reads = _count_reads(monkeypatch, tmp_path)
        with source_settings(cache=cache):
            fleet = imgopt.scan(refs, jobs=jobs)
        assert not fleet.failed
        assert len(reads()) == len(fleet.layers), (cache, env, jobs)  # 21 images, and no layer parsed twice


def test_a_worker_process_killed_mid_scan_loses_nothing(
    archives: dict[str, str], tmp_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local pool's worker process killed on its first layer read (as the kernel kills one for
    memory): a new pool takes the tasks the broken one lost; every row is a single analysis's."""
    import imgopt.fleet as fleet_module

    refs = [f"docker-archive:{p}" for p in list(archives.values())[:9]]
    mark = os.path.join(tmp_path, "died")
    monkeypatch.setenv("IMGOPT_TEST_DEATH_MARK", mark)
    monkeypatch.setattr(fleet_module, "_worker_init", dask_dying_worker.die_once)
    with source_settings(cache=False):
        fleet = imgopt.scan(refs, jobs=2)
        monkeypatch.undo()
        alone = [image_row(r, imgopt.analyze(r)) for r in refs]
    assert os.path.exists(mark)  # a worker really died
    assert not fleet.failed and [_row_numbers(r) for r in fleet.images] == [_row_numbers(r) for r in alone]


def test_an_interrupted_pool_leaves_no_process_behind(archives: dict[str, str]) -> None:
    """Ctrl-C in the middle of a scan on worker processes: the scan stops with the rows taken so
    far, and the pool's processes are gone soon after (none keeps running, none is orphaned)."""
    import multiprocessing
    import time

    refs = [f"docker-archive:{p}" for p in archives.values()]
    taken: list[str] = []

    def interrupt_at_the_third(row: ImageRow) -> None:
        taken.append(row.ref)
        if len(taken) == 3:
            raise KeyboardInterrupt

    with source_settings(cache=False), pytest.raises(KeyboardInterrupt):
        imgopt.scan(refs, jobs=2, on_row=interrupt_at_the_third)
    assert len(taken) == 3
    for _ in range(300):  # the workers finish the task in hand, then leave
        if not multiprocessing.active_children():
            break
        time.sleep(0.1)
    assert multiprocessing.active_children() == []


def test_outputs_and_the_results_database(archives: dict[str, str], tmp_path: str) -> None:
    refs = [f"docker-archive:{p}" for p in list(archives.values())[:5]]
    db = os.path.join(str(tmp_path), "scan.sqlite")
    for fmt in ("text", "json", "jsonl", "csv", "html"):
        out = io.StringIO()
        code = main(["scan", *refs, "--format", fmt, "--db", db], out, io.StringIO())
        assert code == 0, fmt
        text = out.getvalue()
        if fmt == "jsonl":
            kinds = [json.loads(line)["kind"] for line in text.splitlines()]
            assert kinds[:5] == ["image"] * 5 and kinds[5:10] == ["base"] * 5 and set(kinds[10:]) == {"layer"}
        elif fmt == "csv":
            assert text.splitlines()[0].startswith("ref,digest,size_bytes") and len(text.splitlines()) == 6
        elif fmt == "json":
            assert len(json.loads(text)["images"]) == 5
        elif fmt == "html":
            assert text.startswith("<!DOCTYPE html>") and "imgopt scan" in text
        else:
            assert text.startswith("5 images (0 failed)")
    with sqlite3.connect(db) as conn:  # five scans, the same five rows: updated in place
        assert conn.execute("SELECT count(*) FROM images").fetchone()[0] == 5
        assert conn.execute("SELECT count(*) FROM layers").fetchone()[0] > 0
    err = io.StringIO()
    assert main(["scan"], io.StringIO(), err) == 2 and "nothing to scan" in err.getvalue()


def test_select_by_repository_and_tag() -> None:
    refs = ["docker://r:5000/team/app:1", "docker://r:5000/team/app:2", "docker://r:5000/tools/ci:latest"]
    assert select(refs, ["team/*"]) == refs[:2]
    assert select(refs, exclude=["*:2"]) == [refs[0], refs[2]]


def test_the_fleet_repr_and_frame(archives: dict[str, str]) -> None:
    fleet = imgopt.scan([f"docker-archive:{archives['alpine-ish']}", fixture("waste-docker.tar")])
    assert isinstance(fleet, Fleet) and repr(fleet).startswith("<Fleet 2 images (0 failed)")
    assert "<table" in fleet._repr_html_()


# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry(archives: dict[str, str]) -> Iterator[str]:
    _need_tools()
    from registries import running_registry

    with running_registry("plain") as reg:
        for name, path in archives.items():
            reg.push(f"docker-archive:{path}", f"fleet/{name}:1")
        reg.push(f"docker-archive:{archives['alpine-ish']}", "fleet/alpine-ish:latest")
        reg.push(f"docker-archive:{archives['alpine-ish']}", "other/x:1")
        # tags whose names sort otherwise than their images' dates (one with nanoseconds, one undated)
        for tag, created in DATED.items():
            path = os.path.join(os.path.dirname(archives["alpine-ish"]), f"dated-{tag}.tar")
            with open(path, "wb") as f:
                f.write(docker_archive(_app("alpine-ish", len(tag)), tag=f"dated:{tag}", created=created))
            reg.push(f"docker-archive:{path}", f"dated/app:{tag}")
        yield reg.host


DATED: dict[str, str | None] = {
    "v1": "2024-03-01T10:00:00Z",
    "v10": "2024-03-01T12:00:00+05:00",  # 07:00 UTC: older than v1, though its text sorts after
    "v2": "2024-05-02T09:30:00.123456789Z",
    "zeta": "2023-12-31T23:59:59Z",
    "nodate": None,
}


@pytest.mark.registry
def test_tags_n_are_the_n_newest_by_creation_date(registry: str) -> None:
    out = io.StringIO()
    assert main(["scan", "--registry", f"{registry}/dated", "--tags", "2", "--format", "csv"], out, io.StringIO()) == 0
    refs = [line.split(",")[0] for line in out.getvalue().splitlines()[1:]]
    assert refs == [f"docker://{registry}/dated/app:{t}" for t in ("v1", "v2")]  # not the last two names
    fleet = imgopt.scan(registry=f"{registry}/dated", tags="4")
    assert {r.ref.rsplit(":", 1)[1] for r in fleet.images} == {"v1", "v2", "v10", "zeta"}  # the undated is oldest
    err = io.StringIO()
    assert main(["scan", "--registry", registry, "--tags", "newest"], io.StringIO(), err) == 2
    assert "--tags" in err.getvalue()


@pytest.mark.registry
def test_a_second_registry_scan_reads_no_blob_of_an_unchanged_image(
    registry: str, tmp_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = os.path.join(str(tmp_path), "scan.sqlite")
    args = ["scan", "--registry", f"{registry}/dated", "--tags", "all", "--db", db, "--format", "json"]
    with source_settings(cache=False):  # no layer cache: the manifests alone decide
        first = io.StringIO()
        assert main(args, first, io.StringIO()) == 0
        reads = _count_reads(monkeypatch, tmp_path)
        second = io.StringIO()
        assert main(args, second, io.StringIO()) == 0
    assert reads() == [] and len(json.loads(second.getvalue())["reused"]) == len(DATED)
    assert json.loads(second.getvalue())["images"] == json.loads(first.getvalue())["images"]


@pytest.mark.registry
def test_a_registry_scan(registry: str, tmp_path: str) -> None:
    with source_settings(cache=str(tmp_path)):
        fleet = imgopt.scan(registry=f"{registry}/fleet", tags="all")
    refs = [r.ref for r in fleet.images]
    assert len(refs) == 22 and not fleet.failed  # 21 images, alpine-ish under two tags
    assert all(r.startswith(f"docker://{registry}/fleet/") for r in refs)
    with source_settings(cache=False):  # every row what `imgopt analyze REF` alone says
        for row in fleet.images:
            assert _row_numbers(row) == _row_numbers(image_row(row.ref, imgopt.analyze(row.ref))), row.ref
    one = next(r for r in fleet.images if r.ref.endswith("debian-ish-app3:1"))
    assert one.base is not None and one.base.endswith("fleet/debian-ish:1")
    out = io.StringIO()
    assert (
        main(["scan", "--registry", registry, "--include", "fleet/python*", "--format", "csv"], out, io.StringIO()) == 0
    )
    assert len(out.getvalue().splitlines()) == 1 + 7  # latest or the last tag of each python-ish repository


def _count_reads(monkeypatch: pytest.MonkeyPatch, tmp_path: str) -> Callable[[], list[str]]:
    """The layer blobs parsed from now on (every source parses through parse_blob), in this
    process and in the scan's worker processes."""
    import imgopt.fleet as fleet_module
    from imgopt.sources import registry

    path = os.path.join(tmp_path, f"reads-{len(os.listdir(tmp_path))}.txt")
    open(path, "w").close()
    monkeypatch.setenv("IMGOPT_TEST_READS", path)
    monkeypatch.setattr(fleet_module, "_worker_init", fleet_reads.count)
    for module in (archive, registry):
        monkeypatch.setattr(module, "parse_blob", module.parse_blob)  # put back at the end of the test
    fleet_reads.count()

    def reads() -> list[str]:
        with open(path) as f:
            return f.read().splitlines()

    return reads


def test_resume_skips_what_an_interrupted_scan_finished(
    archives: dict[str, str], tmp_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import imgopt.fleet as fleet_module

    refs = [f"docker-archive:{p}" for p in archives.values()]
    db = os.path.join(str(tmp_path), "scan.sqlite")
    with source_settings(cache=False):
        assert main(["scan", *refs[:4], "--db", db], io.StringIO(), io.StringIO()) == 0  # "interrupted" after 4
        probed: list[str] = []
        real_probe = fleet_module.probe
        monkeypatch.setattr(fleet_module, "probe", lambda ref: probed.append(ref) or real_probe(ref))
        out = io.StringIO()
        assert main(["scan", *refs, "--db", db, "--resume", "--format", "json"], out, io.StringIO()) == 0
    result = json.loads(out.getvalue())
    assert result["reused"] == refs[:4]  # taken as they are: not even their manifests read
    assert sorted(probed) == sorted(refs[4:])  # (the probes run in this process, on threads)
    assert [r["ref"] for r in result["images"]] == refs  # the whole fleet, bases and layer table included
    with sqlite3.connect(db) as conn:
        assert {r for (r,) in conn.execute("SELECT ref FROM images")} == set(refs)
    err = io.StringIO()
    assert main(["scan", *refs, "--resume"], io.StringIO(), err) == 2 and "--db" in err.getvalue()


def test_a_second_scan_reads_only_the_images_that_changed(
    archives: dict[str, str], tmp_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = str(tmp_path)
    paths = {}
    for name in ("debian-ish", "debian-ish-app1", "python-ish-app2", "alpine-ish-app3"):
        paths[name] = os.path.join(d, f"{name}.tar")
        with open(archives[name], "rb") as src, open(paths[name], "wb") as dst:
            dst.write(src.read())
    refs = [f"docker-archive:{p}" for p in paths.values()]
    db = os.path.join(d, "scan.sqlite")
    with source_settings(cache=False):  # no layer cache: what is not read again is the scan's doing
        first = imgopt.scan(refs)
        from imgopt.fleet.db import read_db, write_db

        write_db(first, db)
        # a new build of one image under the same name: its app layer changed, its base did not
        with open(paths["debian-ish-app1"], "wb") as f:
            f.write(docker_archive(_app("debian-ish", 7), tag="debian-ish-app1:1"))
        reads = _count_reads(monkeypatch, d)
        second = imgopt.scan(refs, previous=read_db(db))
        read_by_second = len(reads())
        fresh = imgopt.scan(refs)
    changed = f"docker-archive:{paths['debian-ish-app1']}"
    assert second.reused == tuple(r for r in refs if r != changed)
    assert read_by_second == len(_app("debian-ish", 7))  # the changed image's layers (no cache), none of the others
    assert [vars(r) for r in second.images] == [vars(r) for r in fresh.images]
    assert second.layers == fresh.layers
    assert dict(vars(second.images[1]))["digest"] != dict(vars(first.images[1]))["digest"]
    for unchanged in (3, 4):  # the file still held the first scan; then the one just written
        out = io.StringIO()
        assert main(["scan", *refs, "--db", db], out, io.StringIO()) == 0
        assert f"; {unchanged} unchanged since the last scan (not read again)" in out.getvalue()


def test_parquet_and_dataframes(archives: dict[str, str], tmp_path: str) -> None:
    import pandas as pd  # declared test dependencies (pyarrow too): never skipped

    refs = [f"docker-archive:{p}" for p in list(archives.values())[:3]]
    out = os.path.join(str(tmp_path), "parquet")
    assert main(["scan", *refs, "--parquet", out, "--format", "json"], io.StringIO(), io.StringIO()) == 0
    images = pd.read_parquet(os.path.join(out, "images.parquet"))
    layers = pd.read_parquet(os.path.join(out, "layers.parquet"))
    assert list(images["ref"]) == refs and images["size_bytes"].dtype.kind in "if"
    assert layers["images"].sum() == sum(len(set(r)) for r in [imgopt.load(x).layers for x in refs])
    fleet = imgopt.scan(refs + ["docker-archive:/missing.tar"])
    frame = fleet.to_dataframe("images")
    assert frame["size_bytes"].isna().sum() == 1  # the failed image: unknown, not 0


def test_an_interrupted_scan_keeps_its_finished_images(
    archives: dict[str, str], tmp_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import imgopt.fleet as fleet_module

    refs = [f"docker-archive:{p}" for p in archives.values()]
    db = os.path.join(str(tmp_path), "scan.sqlite")
    real = fleet_module.analyze_row
    calls = [0]

    def interrupted(ref: str) -> object:
        calls[0] += 1
        if calls[0] == 6:
            raise KeyboardInterrupt  # Ctrl-C while the sixth image is analysed
        return real(ref)

    monkeypatch.setattr(fleet_module, "analyze_row", interrupted)
    err = io.StringIO()
    assert main(["scan", *refs, "--db", db, "--jobs", "1"], io.StringIO(), err) == 130
    with sqlite3.connect(db) as conn:
        kept = {r for (r,) in conn.execute("SELECT ref FROM images WHERE error IS NULL")}
    assert len(kept) == 5 and kept < set(refs)  # the five images finished before the interruption
    monkeypatch.undo()
    out = io.StringIO()
    assert main(["scan", *refs, "--db", db, "--resume", "--format", "json"], out, io.StringIO()) == 0
    assert json.loads(out.getvalue())["reused"] == [r for r in refs if r in kept]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM images WHERE error IS NULL").fetchone()[0] == len(refs)


@pytest.mark.timeout(180)
def test_a_dask_cluster_gives_the_same_rows(
    archives: dict[str, str], tmp_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same scan on a real distributed.LocalCluster (two worker processes) as on the local pool,
    made as a notebook makes it: the cluster in this process and a client of its own current
    (``with Client(cluster)``), on another event loop than the scan's client. The scan tracks its
    futures on its own client's loop (on the notebook client's, they were seen done late or never:
    the scan stalled)."""
    import distributed  # a declared test dependency: never skipped

    refs = [f"docker-archive:{p}" for p in list(archives.values())[:8]] + ["docker-archive:/missing.tar"]
    with source_settings(cache=str(tmp_path)):
        local = imgopt.scan(refs)
    loops: list[tuple[object, object]] = []  # (the loop a future is tracked on, its client's loop)

    class Tracking(distributed.as_completed):  # type: ignore[misc]
        def update(self, futures: Any) -> None:
            futures = list(futures)
            loops.extend((self.loop, f.client.loop) for f in futures)
            super().update(futures)

    monkeypatch.setattr(distributed, "as_completed", Tracking)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, distributed.Client(cluster), source_settings(cache=os.path.join(str(tmp_path), "dask")):
        remote = imgopt.scan(refs, scheduler=cluster.scheduler_address)
    assert loops and all(tracked is own for tracked, own in loops)
    assert [_row_numbers(r) for r in remote.images] == [_row_numbers(r) for r in local.images]
    assert remote.layers == local.layers and len(remote.failed) == 1
    # the workers used the scan's cache directory: the settings travelled with the tasks
    assert os.path.exists(os.path.join(str(tmp_path), "dask", "layers.sqlite"))


@contextmanager
def _dask_cluster(tmp_path: str, dying: str) -> Iterator[str]:
    """A real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1; the second is
    preloaded to die (SIGKILL, no nanny to restart it) on its first layer read."""
    from registries import free_port

    address = f"tcp://127.0.0.1:{free_port()}"
    cmd = [sys.executable, "-m", "dask"]
    env = dict(os.environ, IMGOPT_TEST_DEATH_MARK=dying)
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> None:
        with open(os.path.join(tmp_path, f"{name}.log"), "wb") as log:
            procs.append(subprocess.Popen([*cmd, *args], stdout=log, stderr=log, env=env))

    port = address.rsplit(":", 1)[1]
    start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard")
    try:
        start("worker", "worker", address, "--nthreads", "1", "--no-dashboard", "--name", "steady")
        preload = os.path.join(os.path.dirname(__file__), "dask_dying_worker.py")
        start("dying", "worker", address, "--nthreads", "1", "--no-dashboard", "--no-nanny", "--preload", preload)
        import distributed

        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.mark.registry
@pytest.mark.timeout(300)
def test_a_dask_scheduler_and_two_workers_one_killed_mid_scan(registry: str, tmp_path: str) -> None:
    """``imgopt scan --registry`` on the local pool and on a real Dask scheduler with two workers,
    one of which dies on its first layer: the same rows and layers, each reference once, nothing
    lost; the layer indexes came back into the scanning process's cache."""
    d = str(tmp_path)
    args = ["scan", "--registry", f"{registry}/fleet", "--tags", "all", "--format", "json"]
    local_out = io.StringIO()
    with source_settings(cache=os.path.join(d, "local")):
        assert main(args, local_out, io.StringIO()) == 0
    dying = os.path.join(d, "died")
    remote_out = io.StringIO()
    with _dask_cluster(d, dying) as address, source_settings(cache=os.path.join(d, "client")):
        assert (
            main([*args, "--scheduler", address, "--db", os.path.join(d, "s.sqlite")], remote_out, io.StringIO()) == 0
        )
        import distributed

        with distributed.Client(address, timeout=60) as client:
            alive = len(client.scheduler_info()["workers"])
    assert os.path.exists(dying) and alive == 1  # one worker really died in the middle of the scan
    local, remote = json.loads(local_out.getvalue()), json.loads(remote_out.getvalue())
    assert len(remote["images"]) == 22 and len({r["ref"] for r in remote["images"]}) == 22
    assert remote["images"] == local["images"] and remote["layers"] == local["layers"]
    from imgopt.sources.cache import LayerCache

    assert LayerCache(os.path.join(d, "client")).info().layers == len(local["layers"])


def _bases_by_definition(rows: list[ImageRow]) -> list[tuple[str | None, int, int]]:
    """The definition, image against image: the longest other image whose whole chain begins this
    one's (the first of equals), the most leading layers shared with any other chain, and the
    deepest point below the top where another chain leaves this one or ends."""
    out = []
    for r in rows:
        if r.error is not None or not r.diff_ids:
            out.append((None, 0, 0))
            continue
        base, shared, fork = None, 0, 0
        for o in rows:
            if o.error is not None or not o.diff_ids or o.diff_ids == r.diff_ids:
                continue
            k = 0
            for x, y in zip(r.diff_ids, o.diff_ids, strict=False):
                if x != y:
                    break
                k += 1
            shared = max(shared, k)
            if k < len(r.diff_ids):
                fork = max(fork, k)
            if k == len(o.diff_ids) < len(r.diff_ids) and (base is None or k > len(base.diff_ids)):
                base = o
        out.append((base.ref if base else None, shared, fork))
    return out


def test_bases_agree_with_their_definition_on_random_fleets() -> None:
    import random

    from imgopt.fleet import _with_bases

    rnd = random.Random(11)
    for _ in range(300):
        rows = []
        for i in range(rnd.randint(1, 12)):
            depth = rnd.randint(0, 5)
            chain = tuple(rnd.choice("ab") + str(k if rnd.random() < 0.8 else rnd.randint(0, 3)) for k in range(depth))
            rows.append(ImageRow(ref=f"r{i}", diff_ids=chain, error="x" if rnd.random() < 0.1 else None))
        got = [(r.base, r.shared_layers, r.base_layers) for r in _with_bases(rows)]
        assert got == _bases_by_definition(rows), rows


def test_a_results_file_of_an_older_imgopt_is_upgraded_and_its_rows_read_again(
    archives: dict[str, str], tmp_path: str
) -> None:
    refs = [f"docker-archive:{archives[n]}" for n in ("python-ish", "python-ish-app1")]
    db = os.path.join(str(tmp_path), "old.sqlite")
    fresh = imgopt.scan(refs)
    with sqlite3.connect(db) as conn:  # the first release's table: no layer sizes
        conn.execute(
            "CREATE TABLE images (ref TEXT PRIMARY KEY, digest TEXT, size_bytes INTEGER, compressed_size_bytes "
            "INTEGER, final_size_bytes INTEGER, reclaimable_bytes INTEGER, reclaimable_by_cause TEXT, efficiency "
            "REAL, top_category TEXT, base TEXT, shared_layers INTEGER, layers INTEGER, diff_ids TEXT, error TEXT, "
            "scanned REAL)"
        )
        for r in fresh.images:
            conn.execute(
                "INSERT INTO images (ref, digest, diff_ids, reclaimable_by_cause) VALUES (?,?,?,?)",
                (r.ref, r.digest, json.dumps(list(r.diff_ids)), "{}"),
            )
    out = io.StringIO()
    assert main(["scan", *refs, "--db", db, "--format", "json"], out, io.StringIO()) == 0
    result = json.loads(out.getvalue())
    assert result["reused"] == []  # rows without layer sizes cannot stand for their images
    assert result["layers"] == [dict(vars(lr)) for lr in fresh.layers]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM images WHERE layer_sizes IS NOT NULL").fetchone()[0] == 2


def test_jsonl_streams_each_image_as_it_completes(
    archives: dict[str, str], tmp_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import imgopt.fleet as fleet_module

    refs = [f"docker-archive:{p}" for p in list(archives.values())[:4]]
    out = io.StringIO()
    seen_before_the_end: list[str] = []
    real = fleet_module._with_bases

    def at_the_end(rows: Any) -> Any:  # runs once every image is done, before anything fleet-wide
        seen_before_the_end.append(out.getvalue())
        return real(rows)

    monkeypatch.setattr(fleet_module, "_with_bases", at_the_end)
    assert main(["scan", *refs, "--format", "jsonl"], out, io.StringIO()) == 0
    early = [json.loads(line) for line in seen_before_the_end[0].splitlines()]
    assert sorted(r["ref"] for r in early) == sorted(refs) and all(r["kind"] == "image" for r in early)
    assert "base" not in early[0] and early[0]["size_bytes"] > 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    bases = {r["ref"]: r for r in records if r["kind"] == "base"}
    assert set(bases) == set(refs) and all("shared_layers" in r for r in bases.values())
    to_file = os.path.join(str(tmp_path), "scan.jsonl")  # -o: the same lines, written at once at the end
    assert main(["scan", *refs, "--format", "jsonl", "-o", to_file], io.StringIO(), io.StringIO()) == 0
    with open(to_file) as f:
        assert sorted(f.read().splitlines()) == sorted(out.getvalue().splitlines())
