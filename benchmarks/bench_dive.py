"""imgopt vs dive 0.13 on the same docker-archive files, in the same run.

Generates (once, cached in benchmarks/.cache/) two real `docker save`-format archives:

* ``large``: ~1.1 GB in ~27.7k files over 4 layers (overwrites, deletes, an opaque directory);
* ``many``:  ~237k files over 5 layers.

Then runs ``imgopt analyze --format json`` and ``CI=true dive --source docker-archive`` on each,
REPEAT times, and prints median wall time, peak RSS (from wait4) and the ratios, plus whether the
dive-compatible numbers are identical. Usage: python benchmarks/bench_dive.py [--repeat N] [--only NAME]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache")
MTIME = 1_700_000_000
POOL = random.Random(7).randbytes(4 << 20)


class _PoolReader(io.RawIOBase):
    def __init__(self, size: int, offset: int) -> None:
        self.left = size
        self.pos = offset % len(POOL)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        n = min(len(b), self.left, len(POOL) - self.pos)
        if n <= 0:
            return 0
        b[:n] = POOL[self.pos : self.pos + n]
        self.pos = (self.pos + n) % len(POOL)
        self.left -= n
        return n


def _write_layer(path: str, entries: list[tuple[str, str, int]]) -> None:
    """entries: (kind, name, size) with kind in file/dir/whiteout/opaque."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for i, (kind, name, size) in enumerate(entries):
            info = tarfile.TarInfo(name)
            info.mtime = MTIME
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                t.addfile(info)
            elif kind == "file":
                info.size = size
                info.mode = 0o644
                t.addfile(info, io.BufferedReader(_PoolReader(size, i * 7919)))
            else:
                head, _, base = name.rpartition("/")
                info.name = f"{head}/.wh..wh..opq" if kind == "opaque" else f"{head}/.wh.{base}"
                t.addfile(info)


def _tree(prefix: str, nfiles: int, per_dir: int, size_of) -> list[tuple[str, str, int]]:  # type: ignore[no-untyped-def]
    out: list[tuple[str, str, int]] = []
    dirs = set()
    for i in range(nfiles):
        d = f"{prefix}/d{i // per_dir // 50:03d}/s{i // per_dir:05d}"
        parts = d.split("/")
        for j in range(1, len(parts) + 1):
            p = "/".join(parts[:j])
            if p not in dirs:
                dirs.add(p)
                out.append(("dir", p, 0))
        out.append(("file", f"{d}/f{i:07d}.bin", size_of(i)))
    return out


def scenario(name: str) -> list[list[tuple[str, str, int]]]:
    rng = random.Random(name)
    if name == "large":  # ~1.1 GB, ~27.7k files
        base = _tree("usr/lib", 24_000, 40, lambda i: rng.choice((2_000, 9_000, 30_000, 80_000)))
        app = _tree("opt/app", 3_000, 30, lambda i: rng.choice((20_000, 60_000, 150_000)))
        over = [e for e in base if e[0] == "dir" or int(e[1][-11:-4]) % 20 == 0]  # rewrite 5 %
        cleanup = [
            ("dir", "usr", 0),
            ("dir", "usr/lib", 0),
            ("whiteout", "usr/lib/d001", 0),
            ("dir", "opt", 0),
            ("dir", "opt/app", 0),
            ("dir", "opt/app/d000", 0),
            ("opaque", "opt/app/d000/x", 0),
            ("file", "opt/app/d000/new.bin", 5_000),
        ]
        return [base, app, over, cleanup]
    if name == "many":  # ~237k files over 5 layers; layer 3 rewrites 10 % of layer 0, layer 4 deletes a tree
        layers = [_tree(f"l{k}", 47_400, 100, lambda i: rng.choice((0, 300, 1_200, 4_000))) for k in range(5)]
        layers[3] += [e for e in layers[0] if e[0] == "dir" or int(e[1][-11:-4]) % 10 == 0]
        layers[4] += [("dir", "l1", 0), ("whiteout", "l1/d000", 0)]
        return layers
    raise SystemExit(f"unknown scenario {name}")


SCENARIO_VERSION = 2


def build_archive(name: str) -> str:
    out = os.path.join(CACHE, f"{name}-v{SCENARIO_VERSION}.tar")
    if os.path.exists(out):
        return out
    os.makedirs(CACHE, exist_ok=True)
    import hashlib

    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        members, diff_ids = [], []
        for k, entries in enumerate(scenario(name)):
            lpath = os.path.join(tmp, f"layer{k}.tar")
            _write_layer(lpath, entries)
            h = hashlib.sha256()
            with open(lpath, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            diff_ids.append("sha256:" + h.hexdigest())
            members.append((f"{h.hexdigest()}/layer.tar", lpath))
        cfg = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": [{"created_by": f"RUN step {k}"} for k in range(len(diff_ids))],
                "config": {},
            }
        ).encode()
        cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
        manifest = json.dumps(
            [{"Config": cfg_name, "RepoTags": [f"bench-{name}:latest"], "Layers": [m[0] for m in members]}]
        ).encode()
        partial = out + ".partial"
        with tarfile.open(partial, "w") as t:
            for arc, path in members:
                t.add(path, arcname=arc)
            for arc, data in ((cfg_name, cfg), ("manifest.json", manifest)):
                info = tarfile.TarInfo(arc)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        os.replace(partial, out)
    return out


def save_engine_image(image: str) -> str:
    import docker

    out = os.path.join(CACHE, image.replace("/", "_").replace(":", "_") + ".engine.tar")
    if not os.path.exists(out):
        os.makedirs(CACHE, exist_ok=True)
        client = docker.from_env(timeout=600)
        with open(out + ".partial", "wb") as f:
            for chunk in client.images.get(image).save(named=True):
                f.write(chunk)
        os.replace(out + ".partial", out)
    return out


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS bytes, exit code) of one run.

    Peak RSS comes from GNU time when present: a child forked from this (large) Python process
    would report this process's high-water mark, not its own."""
    gnu_time = "/usr/bin/time"
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        wrapped = [gnu_time, "-f", "%M", "-o", out.name, *cmd] if os.path.exists(gnu_time) else cmd
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if wrapped is not cmd:
            lines = out.read().split()
            return wall, int(lines[-1]) * 1024, os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status)


def dive_binary() -> str:
    local = os.path.join(os.path.dirname(sys.executable), "dive")
    return local if os.path.exists(local) else "dive"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=("large", "many"))
    ap.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="NAME",
        help="also benchmark this image from the Docker engine (saved once with docker save)",
    )
    args = ap.parse_args()
    env = {**os.environ, "CI": "true"}
    dive = dive_binary()
    rows = []
    names = [args.only] if args.only else ["large", "many"]
    for name in names + [f"engine:{i}" for i in args.image]:
        t0 = time.perf_counter()
        archive = save_engine_image(name[7:]) if name.startswith("engine:") else build_archive(name)
        print(
            f"# {name}: {os.path.getsize(archive) / 1e9:.2f} GB archive ready ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
        with open(archive, "rb") as f:  # warm the page cache for both tools alike
            while f.read(1 << 24):
                pass
        ours_cmd = [sys.executable, "-m", "imgopt", "analyze", "docker-archive:" + archive, "--format", "json"]
        out_json = os.path.join(CACHE, f"{name.replace(':', '_')}.dive.json")
        dive_cmd = [dive, "--source", "docker-archive", archive, "--json", out_json]
        res: dict[str, list[tuple[float, int, int]]] = {"imgopt": [], "dive": []}
        for _ in range(args.repeat):
            res["imgopt"].append(measure(ours_cmd, env))
            if os.path.exists(out_json):
                os.unlink(out_json)  # dive does not truncate its --json output
            res["dive"].append(measure(dive_cmd, env))
        ours = json.loads(subprocess.run(ours_cmd, capture_output=True, check=True, env=env).stdout)["dive"]
        with open(out_json) as f:
            theirs = json.load(f)["image"]
        theirs.pop("fileReference", None)
        same = (
            ours["wasted_bytes"] == theirs["inefficientBytes"]
            and ours["size_bytes"] == theirs["sizeBytes"]
            and abs(ours["efficiency"] - theirs["efficiencyScore"]) <= 1e-12
        )
        w_i = statistics.median(r[0] for r in res["imgopt"])
        w_d = statistics.median(r[0] for r in res["dive"])
        m_i = max(r[1] for r in res["imgopt"])
        m_d = max(r[1] for r in res["dive"])
        rows.append((name, w_i, w_d, m_i, m_d, same))
        print(
            f"{name}: imgopt {w_i:.2f} s {m_i / 2**20:.0f} MiB | dive {w_d:.2f} s {m_d / 2**20:.0f} MiB | "
            f"time ratio {w_i / w_d:.3f} | memory ratio {m_i / m_d:.3f} | dive numbers identical: {same}",
            flush=True,
        )
        print(
            f"   efficiency {ours['efficiency']!r} vs {theirs['efficiencyScore']!r}; "
            f"wasted {ours['wasted_bytes']} vs {theirs['inefficientBytes']}",
            flush=True,
        )
    print("\n| image | imgopt wall | dive wall | ratio | imgopt peak RSS | dive peak RSS | ratio | same numbers |")
    print("|---|---|---|---|---|---|---|---|")
    for name, w_i, w_d, m_i, m_d, same in rows:
        print(
            f"| {name} | {w_i:.2f} s | {w_d:.2f} s | {w_i / w_d:.3f} | {m_i / 2**20:.0f} MiB | "
            f"{m_d / 2**20:.0f} MiB | {m_i / m_d:.3f} | {same} |"
        )


if __name__ == "__main__":
    main()
