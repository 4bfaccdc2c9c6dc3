"""The exact final filesystem and reclaimable accounting, on hand-built layers with known answers."""

from __future__ import annotations

import os

import pytest
from builders import WASTE_LAYERS, docker_archive

import imgopt
from imgopt.analysis import Analysis


def _analyze(tmp_path: str, layers: list[list[tuple]], hash_content: bool = False) -> Analysis:  # type: ignore[type-arg]
    path = os.path.join(tmp_path, "img.tar")
    with open(path, "wb") as f:
        f.write(docker_archive(layers))
    return imgopt.analyze("docker-archive:" + path, hash_content=hash_content)


def _check_identity(a: Analysis) -> None:
    assert a.size_bytes - a.final_size_bytes == a.reclaimable_bytes
    assert sum(lr.reclaimable_bytes for lr in a.layers) == a.reclaimable_bytes
    assert sum(a.waste_by_cause.values()) == a.reclaimable_bytes


def test_waste_fixture_per_layer(tmp_path: str) -> None:
    a = _analyze(tmp_path, WASTE_LAYERS)
    _check_identity(a)
    per_layer = [lr.reclaimable_bytes for lr in a.layers]
    # layer 0: app (metadata-only 40000), conf (1000), README (7000), lists (30000)
    assert per_layer == [78_000, 11_000, 0, 0]
    assert [lr.changes.hidden_bytes for lr in a.layers] == [0, 0, 41_000, 48_000]
    l3 = a.layers[3].changes
    assert (l3.deleted_files, l3.deleted_bytes) == (4, 48_000)  # Packages, README and the two caches
    assert {p.path for p in a.top_files} == {
        "bin/app",
        "opt/data-link.bin",
        "app/__pycache__/m.cpython-311.pyc",
        "app/main.py",
        "etc/app.conf",
        "var/cache/new.cache",
    }
    cats = {c.name: c for c in a.categories}
    assert cats["apt"].wasted_bytes == 30_000 and cats["apt"].final_bytes == 0
    assert cats["docs"].wasted_bytes == 7_000
    assert cats["pycache"].final_bytes == 3_000


def test_opaque_directory_deletes_lower_content_only(tmp_path: str) -> None:
    a = _analyze(
        tmp_path,
        [
            [("dir", "d"), ("file", "d/old1", b"1" * 100), ("dir", "d/sub"), ("file", "d/sub/old2", b"2" * 50)],
            [("dir", "d"), ("file", "d/new", b"3" * 7), ("opaque", "d")],  # marker after the new file
        ],
    )
    assert set(a.squash.final) == {"d", "d/new"}
    assert a.final_size_bytes == 7
    assert a.waste_by_cause["deleted"] == 150
    _check_identity(a)


def test_hardlink_keeps_deleted_target_content(tmp_path: str) -> None:
    a = _analyze(
        tmp_path,
        [
            [("file", "a", b"x" * 1000), ("hardlink", "b", "a"), ("hardlink", "c", "a")],
            [("whiteout", "a")],
            [("whiteout", "b")],
        ],
    )
    assert a.final_size_bytes == 1000  # c still holds the content
    assert a.reclaimable_bytes == 0
    a2 = _analyze(
        tmp_path,
        [
            [("file", "a", b"x" * 1000), ("hardlink", "b", "a")],
            [("whiteout", "a"), ("whiteout", "b")],
        ],
    )
    assert a2.final_size_bytes == 0 and a2.waste_by_cause["deleted"] == 1000
    _check_identity(a)
    _check_identity(a2)


def test_hardlinks_count_once(tmp_path: str) -> None:
    a = _analyze(tmp_path, [[("file", "a", b"x" * 1000), ("hardlink", "b", "a"), ("hardlink", "c", "b")]])
    assert a.final_size_bytes == 1000 and a.reclaimable_bytes == 0


def test_directory_replaced_by_a_file(tmp_path: str) -> None:
    a = _analyze(
        tmp_path,
        [
            [("dir", "x"), ("file", "x/inner", b"i" * 500)],
            [("file", "x", b"f" * 10)],
        ],
    )
    assert set(a.squash.final) == {"x"} and a.final_size_bytes == 10
    assert a.waste_by_cause["overwritten"] == 500


def test_whiteout_then_recreate_in_the_same_layer(tmp_path: str) -> None:
    a = _analyze(
        tmp_path,
        [
            [("dir", "d"), ("file", "d/f", b"o" * 300)],
            [("dir", "d"), ("file", "d/f", b"n" * 30), ("whiteout", "d")],  # whiteout listed last
        ],
    )
    assert a.final_size_bytes == 30 and a.waste_by_cause["deleted"] == 300


def test_same_path_twice_in_one_layer(tmp_path: str) -> None:
    a = _analyze(tmp_path, [[("file", "f", b"1" * 40), ("file", "f", b"2" * 60)]])
    assert a.final_size_bytes == 60 and a.waste_by_cause["overwritten"] == 40
    _check_identity(a)


def test_symlinks_are_links(tmp_path: str) -> None:
    a = _analyze(tmp_path, [[("file", "real", b"r" * 99), ("symlink", "link", "real")]])
    assert a.final_size_bytes == 99 and a.squash.final["link"].entry.kind == "symlink"


@pytest.mark.parametrize("hash_content", [False, True])
def test_metadata_only_rewrite(tmp_path: str, hash_content: bool) -> None:
    layers = [
        [("file", "same", b"s" * 100, {"mode": 0o644}), ("file", "changed", b"c" * 100, {"mode": 0o644})],
        [
            ("file", "same", b"s" * 100, {"mode": 0o600, "uid": 1000}),
            ("file", "changed", b"C" * 100, {"mode": 0o600, "uid": 1000}),
        ],  # same size and mtime, new bytes
    ]
    a = _analyze(tmp_path, layers, hash_content=hash_content)
    if hash_content:  # digests prove which rewrite kept the content
        assert a.waste_by_cause == {"overwritten": 100, "deleted": 0, "metadata-only": 100}
    else:  # without content, same size and mtime is taken as metadata-only
        assert a.waste_by_cause == {"overwritten": 0, "deleted": 0, "metadata-only": 200}


def test_top_dirs_aggregate_recursively(tmp_path: str) -> None:
    a = _analyze(
        tmp_path,
        [
            [
                ("file", "a/b/c/f1", b"1" * 10),
                ("file", "a/b/f2", b"2" * 20),
                ("file", "a/f3", b"3" * 5),
                ("file", "z/f4", b"4" * 1),
            ]
        ],
    )
    dirs = {d.path: (d.bytes, d.files) for d in a.top_dirs}
    assert dirs == {"a": (35, 3), "a/b": (30, 2), "a/b/c": (10, 1), "z": (1, 1)}


def test_waste_pairs_name_who_shipped_and_who_made_unreachable() -> None:
    """Each reclaimable byte is in exactly one pair; the chown layer is blamed, not the base layer."""
    from conftest import fixture

    from imgopt.report.text import render_text

    a = imgopt.analyze("docker-archive:" + fixture("waste-docker.tar"))
    got = {(p.shipped_by, p.made_unreachable_by, p.cause): (p.bytes, p.files) for p in a.waste_pairs}
    assert got == {
        (0, 2, "metadata-only"): (40_000, 1),  # bin/app, chmod in layer 2
        (0, 3, "deleted"): (37_000, 2),  # apt lists and docs, rm -rf in layer 3
        (1, 3, "deleted"): (11_000, 2),  # the caches layer 1 made
        (0, 2, "overwritten"): (1_000, 1),  # etc/app.conf written again
    }
    assert sum(p.bytes for p in a.waste_pairs) == a.reclaimable_bytes
    assert [p.bytes for p in a.waste_pairs] == sorted((p.bytes for p in a.waste_pairs), reverse=True)
    top = a.waste_pairs[0]
    assert top.top_paths == (("bin/app", 40_000),) and top.paths == frozenset({"bin/app"})
    # the layer that causes waste shows it
    assert [lr.changes.hidden_bytes for lr in a.layers] == [0, 0, 41_000, 48_000]
    text = render_text(a)
    assert "layer 0 shipped 40.0 kB (1 file) that layer 2 rewrote unchanged (chown/chmod)" in text
    doc = a.to_dict()["waste"]["pairs"]
    assert doc[0]["shipped_by"] == {"layer": 0, "instruction": None} and doc[0]["cause"] == "metadata-only"
    assert doc[0]["made_unreachable_by"]["layer"] == 2 and doc[0]["top_paths"] == [
        {"path": "/bin/app", "bytes": 40_000}
    ]


def test_waste_pairs_map_to_dockerfile_lines(tmp_path: str) -> None:
    dockerfile = os.path.join(str(tmp_path), "Dockerfile")
    with open(dockerfile, "w") as f:
        f.write(
            "FROM base\nRUN make install\n"
            "RUN chmod 700 /bin/app && echo x > /etc/app.conf && rm /opt/data.bin\n"
            "RUN rm -rf /var/lib/apt/lists /usr/share/doc && rm -rf /var/cache && mkdir /var/cache\n"
        )
    from conftest import fixture

    a = imgopt.analyze("docker-archive:" + fixture("waste-docker.tar"), dockerfile=dockerfile)
    pairs = a.to_dict()["waste"]["pairs"]
    by_cause = {(p["shipped_by"]["layer"], p["cause"]): p for p in pairs}
    caches = by_cause[(1, "deleted")]
    assert caches["shipped_by"]["instruction"]["line"] == 2
    assert caches["made_unreachable_by"]["instruction"]["line"] == 4
    assert by_cause[(0, "deleted")]["shipped_by"]["instruction"]["status"] == "base-image"


def test_without_hashes_same_content_is_guessed_from_mtime(tmp_path: str) -> None:
    """Same size and mode change, but another mtime: a rewrite with new content (overwritten)."""
    layers = [
        [("file", "f", b"s" * 100, {"mtime": 1_000})],
        [("file", "f", b"s" * 100, {"mtime": 2_000, "mode": 0o600})],
    ]
    assert _analyze(tmp_path, layers).waste_by_cause == {"overwritten": 100, "deleted": 0, "metadata-only": 0}
    same = [layers[0], [("file", "f", b"s" * 100, {"mtime": 1_000, "mode": 0o600})]]
    assert _analyze(tmp_path, same).waste_by_cause == {"overwritten": 0, "deleted": 0, "metadata-only": 100}
