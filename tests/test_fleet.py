"""Fleet scan: many images, each shared layer read once, every row what a single analysis says,
failures as rows; against local archives and a real registry of 21 images on three bases."""

from __future__ import annotations

import io
import json
import os
import sqlite3
from collections.abc import Iterator

import pytest
from builders import docker_archive
from conftest import fixture
from test_registry import _need_tools

import imgopt
from imgopt.cli import main
from imgopt.fleet import Fleet, image_row, select
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
    d.pop("base")
    d.pop("shared_layers")
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
    first_debian = next(lr for lr in fleet.layers if lr.size_bytes == 69_000)  # libc + the apt list
    assert first_debian.images == 7 and first_debian.saved_by_sharing == 69_000 * 6
    assert sum(lr.size_bytes for lr in fleet.layers) == fleet.distinct_layer_bytes


def test_each_distinct_layer_is_read_once(
    archives: dict[str, str], tmp_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    real = archive.parse_blob

    def counting(src: object, size: int, name: str, *args: object) -> object:
        reads.append(name)
        return real(src, size, name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(archive, "parse_blob", counting)
    refs = [f"docker-archive:{p}" for p in archives.values()]
    with source_settings(cache=str(tmp_path)):
        fleet = imgopt.scan(refs, jobs=6)
    assert not fleet.failed
    assert len(reads) == len(fleet.layers)  # 21 images, and no layer parsed twice


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
            assert kinds.count("image") == 5 and "layer" in kinds
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
        yield reg.host


@pytest.mark.registry
def test_a_registry_scan(registry: str, tmp_path: str) -> None:
    with source_settings(cache=str(tmp_path)):
        fleet = imgopt.scan(registry=f"{registry}/fleet", tags="all")
    refs = [r.ref for r in fleet.images]
    assert len(refs) == 22 and not fleet.failed  # 21 images, alpine-ish under two tags
    assert all(r.startswith(f"docker://{registry}/fleet/") for r in refs)
    one = next(r for r in fleet.images if r.ref.endswith("debian-ish-app3:1"))
    with source_settings(cache=False):
        single = image_row(one.ref, imgopt.analyze(one.ref))
    assert _row_numbers(one) == _row_numbers(single)
    assert one.base is not None and one.base.endswith("fleet/debian-ish:1")
    out = io.StringIO()
    assert (
        main(["scan", "--registry", registry, "--include", "fleet/python*", "--format", "csv"], out, io.StringIO()) == 0
    )
    assert len(out.getvalue().splitlines()) == 1 + 7  # latest or the last tag of each python-ish repository


def test_resume_skips_what_an_interrupted_scan_finished(archives: dict[str, str], tmp_path: str) -> None:
    refs = [f"docker-archive:{p}" for p in archives.values()]
    db = os.path.join(str(tmp_path), "scan.sqlite")
    assert main(["scan", *refs[:4], "--db", db], io.StringIO(), io.StringIO()) == 0  # "interrupted" after 4
    out = io.StringIO()
    assert main(["scan", *refs, "--db", db, "--resume", "--format", "jsonl"], out, io.StringIO()) == 0
    scanned = [json.loads(line)["ref"] for line in out.getvalue().splitlines() if '"kind": "image"' in line]
    assert scanned == refs[4:]  # only what the first run did not finish
    with sqlite3.connect(db) as conn:
        assert {r for (r,) in conn.execute("SELECT ref FROM images")} == set(refs)
    err = io.StringIO()
    assert main(["scan", *refs, "--resume"], io.StringIO(), err) == 2 and "--db" in err.getvalue()


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
    real = fleet_module._analyze
    calls = [0]

    def interrupted(ref: str) -> object:
        calls[0] += 1
        if calls[0] == 6:
            raise KeyboardInterrupt  # Ctrl-C while the sixth image is analysed
        return real(ref)

    monkeypatch.setattr(fleet_module, "_analyze", interrupted)
    err = io.StringIO()
    assert main(["scan", *refs, "--db", db, "--jobs", "1"], io.StringIO(), err) == 130
    with sqlite3.connect(db) as conn:
        kept = {r for (r,) in conn.execute("SELECT ref FROM images WHERE error IS NULL")}
    assert kept == set(refs[:5])
    monkeypatch.undo()
    out = io.StringIO()
    assert main(["scan", *refs, "--db", db, "--resume", "--format", "csv"], out, io.StringIO()) == 0
    assert len(out.getvalue().splitlines()) == 1 + len(refs) - 5
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM images WHERE error IS NULL").fetchone()[0] == len(refs)


@pytest.mark.timeout(180)
def test_a_dask_cluster_gives_the_same_rows(archives: dict[str, str], tmp_path: str) -> None:
    """The same scan on a real distributed.LocalCluster (two worker processes) as on the local pool."""
    import distributed  # a declared test dependency: never skipped

    refs = [f"docker-archive:{p}" for p in list(archives.values())[:8]] + ["docker-archive:/missing.tar"]
    with source_settings(cache=str(tmp_path)):
        local = imgopt.scan(refs)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, source_settings(cache=os.path.join(str(tmp_path), "dask")):
        remote = imgopt.scan(refs, scheduler=cluster.scheduler_address)
    assert [_row_numbers(r) for r in remote.images] == [_row_numbers(r) for r in local.images]
    assert remote.layers == local.layers and len(remote.failed) == 1
    # the workers used the scan's cache directory: the settings travelled with the tasks
    assert os.path.exists(os.path.join(str(tmp_path), "dask", "layers.sqlite"))
