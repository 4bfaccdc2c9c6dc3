"""Sources and the layer cache, measured against their floors and peers in the same run.

* archive: ``imgopt analyze`` on the bench_dive archives with no cache, cold (an empty cache
  directory each run) and warm (every layer cached), against ``dive`` (CI mode);
* registry: the same images pushed (skopeo, gzip) to a loopback ``docker-registry``; imgopt cold
  and warm against the floor: downloading every blob once (the same 4 parallel streams, bytes
  discarded);
* engine: the large image loaded into the Docker engine; imgopt cold and warm against
  ``docker save`` alone (the export imgopt reads on a cold run).

Each line prints medians of ``--repeat`` runs and the ratios. Usage:
python benchmarks/bench_sources.py [--repeat N] [--only archive|registry|engine] [--image large|many]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from bench_dive import build_archive, dive_binary, measure  # noqa: E402

Result = tuple[float, int]


def _median(runs: list[tuple[float, int, int]]) -> Result:
    for _, _, code in runs:
        if code != 0:
            raise SystemExit("a measured command failed")
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def _imgopt(ref: str, mode: str, repeat: int, extra_env: dict[str, str] | None = None) -> Result:
    """mode: none (IMGOPT_NO_CACHE), cold (fresh cache each run), warm (cache filled first)."""
    cmd = [sys.executable, "-m", "imgopt", "analyze", ref, "--format", "json", "-o", os.devnull]
    runs = []
    with tempfile.TemporaryDirectory(prefix="imgopt-bench-cache-") as d:
        env = {**os.environ, "CI": "true", "IMGOPT_CACHE_DIR": d, **(extra_env or {})}
        if mode == "none":
            env["IMGOPT_NO_CACHE"] = "1"
        if mode == "warm":
            measure(cmd, env)
        for _ in range(repeat):
            if mode == "cold":
                shutil.rmtree(d, ignore_errors=True)
            runs.append(measure(cmd, env))
    return _median(runs)


def _timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _row(name: str, what: str, r: Result, base: Result | float, base_name: str) -> None:
    b = base if isinstance(base, float) else base[0]
    mem = "" if isinstance(base, float) else f" | memory {r[1] / 2**20:.0f} MiB vs {base[1] / 2**20:.0f} MiB"
    print(f"{name:>6} {what:<22} {r[0]:7.2f} s | {base_name} {b:.2f} s | ratio {r[0] / b:.3f}{mem}", flush=True)


def bench_archive(names: list[str], repeat: int) -> None:
    print("## archive (docker save format, page cache warm)")
    dive = dive_binary()
    for name in names:
        path = build_archive(name)
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass
        ref = "docker-archive:" + path
        out = os.path.join(tempfile.gettempdir(), "bench-dive.json")
        dive_runs = []
        for _ in range(repeat):
            if os.path.exists(out):
                os.unlink(out)
            dive_runs.append(
                measure([dive, "--source", "docker-archive", path, "--json", out], {**os.environ, "CI": "true"})
            )
        d = _median(dive_runs)
        none = _imgopt(ref, "none", repeat)
        cold = _imgopt(ref, "cold", repeat)
        warm = _imgopt(ref, "warm", repeat)
        _row(name, "imgopt, no cache", none, d, "dive")
        _row(name, "imgopt, cold cache", cold, d, "dive")
        _row(name, "imgopt, warm cache", warm, d, "dive")
        print(f"{name:>6} warm speed-up over cold: {cold[0] / warm[0]:.1f}x; over no cache: {none[0] / warm[0]:.1f}x")


def _download_all(host: str, repo: str) -> int:
    """Every blob of the image once, 4 streams at a time, bytes discarded: the floor."""
    import json

    import requests

    s = requests.Session()
    accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
    manifest = json.loads(s.get(f"http://{host}/v2/{repo}/manifests/1", headers={"Accept": accept}).content)
    digests = [manifest["config"]["digest"]] + [d["digest"] for d in manifest["layers"]]

    def get(digest: str) -> int:
        n = 0
        with s.get(f"http://{host}/v2/{repo}/blobs/{digest}", stream=True) as r:
            for chunk in r.iter_content(256 << 10):
                n += len(chunk)
        return n

    with ThreadPoolExecutor(4) as pool:
        return sum(pool.map(get, digests))


def bench_registry(names: list[str], repeat: int) -> None:
    from registries import running_registry

    print("## registry (docker-registry 2.8 on 127.0.0.1, layers pushed gzip-compressed by skopeo)")
    with running_registry("plain") as reg:
        for name in names:
            path = build_archive(name)
            t = time.perf_counter()
            reg.push("docker-archive:" + path, f"{name}:1")
            print(f"{name:>6} pushed in {time.perf_counter() - t:.0f} s", flush=True)
            nbytes = _download_all(reg.host, name)
            floor = _timed(lambda n=name: _download_all(reg.host, n), repeat)
            print(f"{name:>6} floor: {nbytes / 1e6:.0f} MB of blobs downloaded in {floor:.2f} s", flush=True)
            ref = reg.ref(f"{name}:1")
            for mode in ("none", "cold", "warm"):
                _row(
                    name,
                    f"imgopt, {'no' if mode == 'none' else mode} cache",
                    _imgopt(ref, mode, repeat),
                    floor,
                    "download",
                )


def bench_engine(names: list[str], repeat: int) -> None:
    print("## engine (Docker Engine API; imgopt streams the export, or skips it when the cache holds the image)")
    for name in names:
        path = build_archive(name)
        tag = f"bench-{name}:latest"
        if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode != 0:
            subprocess.run(["docker", "load", "-q", "-i", path], check=True, capture_output=True)
        save = _timed(lambda t=tag: subprocess.run(f"docker save {t} > /dev/null", shell=True, check=True), repeat)
        print(f"{name:>6} docker save alone: {save:.2f} s", flush=True)
        ref = "docker-daemon:" + tag
        for mode in ("none", "cold", "warm"):
            _row(
                name,
                f"imgopt, {'no' if mode == 'none' else mode} cache",
                _imgopt(ref, mode, repeat),
                save,
                "docker save",
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=("archive", "registry", "engine"))
    ap.add_argument("--image", choices=("large", "many"), action="append")
    args = ap.parse_args()
    names = args.image or ["large", "many"]
    for part, fn in (("archive", bench_archive), ("registry", bench_registry), ("engine", bench_engine)):
        if args.only in (None, part):
            fn(names, args.repeat)


if __name__ == "__main__":
    main()
