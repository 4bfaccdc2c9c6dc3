"""Build real image archives from plain Python data, in every format imgopt reads.

A layer is a list of entries::

    ("file", "etc/app.conf", b"content", {"mode": 0o644, "mtime": 1})
    ("dir", "etc")                    ("symlink", "bin/sh", "busybox")
    ("hardlink", "bin/ls2", "bin/ls") ("whiteout", "etc/old")   ("opaque", "var/cache")

``python tests/builders.py`` regenerates the committed fixtures under fixtures/images/.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
from collections.abc import Sequence
from typing import Any

Entry = tuple[Any, ...]
MTIME = 1_700_000_000


def layer_tar(entries: Sequence[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            kind, path = e[0], e[1]
            opts: dict[str, Any] = e[3] if len(e) > 3 else {}
            if kind == "whiteout":
                head, _, name = path.rpartition("/")
                path = f"{head}/.wh.{name}" if head else f".wh.{name}"
            elif kind == "opaque":
                path = f"{path}/.wh..wh..opq"
            info = tarfile.TarInfo(path)
            info.mtime = opts.get("mtime", MTIME)
            info.uid = opts.get("uid", 0)
            info.gid = opts.get("gid", 0)
            data = None
            if kind in ("file",):
                data = e[2]
                info.size = len(data)
                info.mode = opts.get("mode", 0o644)
            elif kind in ("whiteout", "opaque"):
                info.mode = 0o644
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = opts.get("mode", 0o755)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = e[2]
                info.mode = 0o777
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = e[2]
                info.mode = opts.get("mode", 0o644)
            else:
                raise ValueError(kind)
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    return data


def config_json(
    layer_tars: Sequence[bytes],
    history: Sequence[str] | None = None,
    *,
    os_: str = "linux",
    arch: str = "amd64",
    cmd: Sequence[str] | None = ("/bin/app",),
    created: str | None = "2024-01-01T00:00:00Z",  # None: no date at all
) -> bytes:
    hist = [
        {"created": created, "created_by": h} for h in (history or [f"RUN step {i}" for i in range(len(layer_tars))])
    ]
    cfg = {
        "architecture": arch,
        "os": os_,
        "created": created,
        "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": list(cmd) if cmd else None, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in layer_tars]},
        "history": hist,
    }
    if created is None:
        del cfg["created"]
        for h in hist:
            del h["created"]
    return json.dumps(cfg, sort_keys=True).encode()


def _tar_bytes(members: Sequence[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        dirs: set[str] = set()
        for name, data in members:
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    info.mtime = MTIME
                    t.addfile(info)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = MTIME
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def docker_archive(
    layers: Sequence[Sequence[Entry]],
    *,
    tag: str = "fixture:latest",
    history: Sequence[str] | None = None,
    oci_style: bool = False,
    layer_compression: str = "none",
    cmd: Sequence[str] | None = ("/bin/app",),
    created: str | None = "2024-01-01T00:00:00Z",
) -> bytes:
    """A ``docker save`` archive: legacy layout, or Docker >= 25's OCI-style layout."""
    tars = [layer_tar(entries) for entries in layers]
    cfg = config_json(tars, history, cmd=cmd, created=created)
    cfg_hex = sha(cfg)[7:]
    members: list[tuple[str, bytes]] = []
    layer_paths = []
    if oci_style:
        descs = []
        for t in tars:
            blob = compress(t, layer_compression)
            name = "blobs/sha256/" + sha(blob)[7:]
            if name not in dict(members):
                members.append((name, blob))
            layer_paths.append(name)
            media = "application/vnd.oci.image.layer.v1.tar" + (
                {"gzip": "+gzip", "zstd": "+zstd"}.get(layer_compression, "")
            )
            descs.append({"mediaType": media, "digest": sha(blob), "size": len(blob)})
        members.append(("blobs/sha256/" + cfg_hex, cfg))
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": sha(cfg),
                    "size": len(cfg),
                },
                "layers": descs,
            }
        ).encode()
        members.append(("blobs/sha256/" + sha(manifest)[7:], manifest))
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": sha(manifest),
                    "size": len(manifest),
                    "annotations": {
                        "io.containerd.image.name": "docker.io/library/" + tag,
                        "org.opencontainers.image.ref.name": tag.split(":")[-1],
                    },
                }
            ],
        }
        members.append(("index.json", json.dumps(index).encode()))
        members.append(("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'))
        config_path = "blobs/sha256/" + cfg_hex
    else:
        for i, t in enumerate(tars):
            lid = hashlib.sha256(f"{i}:{sha(t)}".encode()).hexdigest()
            blob = compress(t, layer_compression)
            suffix = {"gzip": "layer.tar.gz"}.get(layer_compression, "layer.tar")
            members += [(f"{lid}/VERSION", b"1.0"), (f"{lid}/json", b"{}"), (f"{lid}/{suffix}", blob)]
            layer_paths.append(f"{lid}/{suffix}")
        members.append((cfg_hex + ".json", cfg))
        config_path = cfg_hex + ".json"
    manifest_json = json.dumps([{"Config": config_path, "RepoTags": [tag], "Layers": layer_paths}]).encode()
    members.append(("manifest.json", manifest_json))
    return _tar_bytes(members)


def oci_layout(root: str, images: Sequence[dict[str, Any]]) -> None:
    """Write an OCI image layout. Each image: {"layers": [...], "compression": "gzip", "platform":
    ("linux","arm64") or None, "tag": "v1" or None}. More than one image with platforms makes a
    nested multi-platform index."""
    os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)

    def put(data: bytes) -> str:
        d = sha(data)
        with open(os.path.join(root, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(data)
        return d

    manifests = []
    for img in images:
        tars = [layer_tar(entries) for entries in img["layers"]]
        plat = img.get("platform") or ("linux", "amd64")
        cfg = config_json(tars, img.get("history"), os_=plat[0], arch=plat[1])
        how = img.get("compression", "gzip")
        media = "application/vnd.oci.image.layer.v1.tar" + {"gzip": "+gzip", "zstd": "+zstd"}.get(how, "")
        descs = []
        for t in tars:
            blob = compress(t, how)
            descs.append({"mediaType": img.get("media_type", media), "digest": put(blob), "size": len(blob)})
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": put(cfg),
                    "size": len(cfg),
                },
                "layers": descs,
            }
        ).encode()
        desc: dict[str, Any] = {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": put(manifest),
            "size": len(manifest),
        }
        if img.get("platform"):
            desc["platform"] = {"os": plat[0], "architecture": plat[1]}
        if img.get("tag"):
            desc["annotations"] = {"org.opencontainers.image.ref.name": img["tag"]}
        manifests.append(desc)
    if len(manifests) > 1 and all("platform" in m for m in manifests):
        nested = json.dumps(
            {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
        ).encode()
        manifests = [
            {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": put(nested),
                "size": len(nested),
                "annotations": {"org.opencontainers.image.ref.name": "multi"},
            }
        ]
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(
            {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}, f
        )
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')


def write_image(kind: str, layers: Sequence[Sequence[Entry]], directory: str) -> str:
    """An image of ``layers`` written under ``directory`` as ``kind`` (docker, docker-oci,
    docker-oci-gzip, oci-dir); returns its reference."""
    if kind == "oci-dir":
        root = os.path.join(directory, "layout")
        oci_layout(root, [{"layers": layers, "tag": "latest"}])
        return "oci:" + root
    path = os.path.join(directory, "image.tar")
    gz = kind.endswith("gzip")
    with open(path, "wb") as f:
        f.write(docker_archive(layers, oci_style=kind != "docker", layer_compression="gzip" if gz else "none"))
    return "docker-archive:" + path


def tar_directory(root: str) -> bytes:
    members = []
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            full = os.path.join(dirpath, name)
            with open(full, "rb") as f:
                members.append((os.path.relpath(full, root).replace(os.sep, "/"), f.read()))
    return _tar_bytes(members)


# ------------------------------------------------------------------------------------------
# The "waste" scenario: every way bytes can be shipped without reaching the final filesystem.


def _blob(n: int, seed: int) -> bytes:
    out = bytearray()
    h = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < n:
        h = hashlib.sha256(h).digest()
        out += h
    return bytes(out[:n])


WASTE_LAYERS: list[list[Entry]] = [
    [  # 0: base
        ("dir", "bin"),
        ("file", "bin/app", _blob(40_000, 1), {"mode": 0o755}),
        ("symlink", "bin/sh", "app"),
        ("dir", "etc"),
        ("file", "etc/app.conf", _blob(1_000, 2)),
        ("dir", "usr"),
        ("dir", "usr/share"),
        ("dir", "usr/share/doc"),
        ("dir", "usr/share/doc/app"),
        ("file", "usr/share/doc/app/README", _blob(7_000, 3)),
        ("dir", "var"),
        ("dir", "var/lib"),
        ("dir", "var/lib/apt"),
        ("dir", "var/lib/apt/lists"),
        ("file", "var/lib/apt/lists/main_Packages", _blob(30_000, 4)),
    ],
    [  # 1: build products, a hardlink, a cache dir
        ("dir", "opt"),
        ("file", "opt/data.bin", _blob(20_000, 5)),
        ("hardlink", "opt/data-link.bin", "opt/data.bin"),
        ("dir", "var"),
        ("dir", "var/cache"),
        ("file", "var/cache/a.cache", _blob(5_000, 6)),
        ("file", "var/cache/b.cache", _blob(6_000, 7)),
        ("dir", "app"),
        ("dir", "app/__pycache__"),
        ("file", "app/__pycache__/m.cpython-311.pyc", _blob(3_000, 8)),
        ("file", "app/main.py", _blob(2_000, 9)),
    ],
    [  # 2: overwrite, metadata-only rewrite (chmod), delete the hardlink target
        ("dir", "etc"),
        ("file", "etc/app.conf", _blob(1_500, 10)),
        ("dir", "bin"),
        ("file", "bin/app", _blob(40_000, 1), {"mode": 0o700}),
        ("dir", "opt"),
        ("whiteout", "opt/data.bin"),
    ],
    [  # 3: rm -rf of lists, an opaque directory replacing var/cache, docs removed
        ("dir", "var"),
        ("dir", "var/lib"),
        ("dir", "var/lib/apt"),
        ("whiteout", "var/lib/apt/lists"),
        ("dir", "var/cache"),
        ("opaque", "var/cache"),
        ("file", "var/cache/new.cache", _blob(100, 11)),
        ("dir", "usr"),
        ("dir", "usr/share"),
        ("whiteout", "usr/share/doc"),
    ],
]
WASTE_HISTORY = [
    "/bin/sh -c #(nop) ADD file:base in / ",
    "RUN /bin/sh -c make install # buildkit",
    "RUN /bin/sh -c chmod 700 /bin/app && echo x > /etc/app.conf && rm /opt/data.bin # buildkit",
    "RUN /bin/sh -c rm -rf /var/lib/apt/lists /usr/share/doc && rm -rf /var/cache && mkdir /var/cache # buildkit",
]
# by construction:
WASTE_EXPECTED = {
    "size_bytes": 40_000 + 1_000 + 7_000 + 30_000 + 20_000 + 5_000 + 6_000 + 3_000 + 2_000 + 1_500 + 40_000 + 100,
    # final: bin/app 40000 (layer 2), etc/app.conf 1500, data-link 20000 (kept by the hardlink),
    # pyc 3000, main.py 2000, new.cache 100
    "final_size_bytes": 40_000 + 1_500 + 20_000 + 3_000 + 2_000 + 100,
    "by_cause": {"overwritten": 1_000, "metadata-only": 40_000, "deleted": 7_000 + 30_000 + 5_000 + 6_000},
}


APP_V2_LAYERS: list[list[Entry]] = [
    [  # the same base, without the apt lists and the docs
        ("dir", "bin"),
        ("file", "bin/app", _blob(40_000, 1), {"mode": 0o755}),
        ("symlink", "bin/sh", "app"),
        ("dir", "etc"),
        ("file", "etc/app.conf", _blob(1_200, 12)),
    ],
    [  # a bigger build product, no caches, a new library
        ("dir", "opt"),
        ("file", "opt/data.bin", _blob(26_000, 15)),
        ("dir", "app"),
        ("file", "app/main.py", _blob(2_400, 19)),
        ("dir", "usr"),
        ("dir", "usr/lib"),
        ("file", "usr/lib/libfast.so.1", _blob(12_000, 20), {"mode": 0o755}),
    ],
]
APP_V2_HISTORY = ["/bin/sh -c #(nop) ADD file:base in /", "RUN /bin/sh -c make install # buildkit"]


def write_fixtures(out: str) -> None:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "waste-docker.tar"), "wb") as f:
        f.write(docker_archive(WASTE_LAYERS, tag="waste:latest", history=WASTE_HISTORY))
    with open(os.path.join(out, "waste-docker-oci.tar"), "wb") as f:
        f.write(docker_archive(WASTE_LAYERS, tag="waste:latest", history=WASTE_HISTORY, oci_style=True))
    layout = os.path.join(out, "waste-oci-zstd")
    shutil.rmtree(layout, ignore_errors=True)
    oci_layout(layout, [{"layers": WASTE_LAYERS, "compression": "zstd", "history": WASTE_HISTORY, "tag": "latest"}])
    gz = os.path.join(out, "_gz")
    shutil.rmtree(gz, ignore_errors=True)
    oci_layout(gz, [{"layers": WASTE_LAYERS, "compression": "gzip", "history": WASTE_HISTORY, "tag": "latest"}])
    with open(os.path.join(out, "waste-oci-gzip.tar"), "wb") as f:
        f.write(tar_directory(gz))
    shutil.rmtree(gz)
    # a pair to try `imgopt diff` on: the waste image, then a release that fixed some of it
    with open(os.path.join(out, "app-v2.tar"), "wb") as f:
        f.write(docker_archive(APP_V2_LAYERS, tag="waste:v2", history=APP_V2_HISTORY))
    multi = os.path.join(out, "multiplatform-oci")
    shutil.rmtree(multi, ignore_errors=True)
    oci_layout(
        multi,
        [
            {"layers": [[("file", "amd64.txt", b"x" * 100)]], "platform": ("linux", "amd64")},
            {"layers": [[("file", "arm64.txt", b"y" * 200)]], "platform": ("linux", "arm64")},
        ],
    )


if __name__ == "__main__":
    write_fixtures(
        sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures", "images")
    )
