"""Fleet scan scale: N images on k shared bases, scanned with an empty layer cache (in this
process alone, --jobs 1, and on the default pool of worker processes), against N single analyses
without a cache (every image read on its own). Prints, for each N, the wall times, the layers
parsed (in every process) and the distinct layer bytes: the scan's reading should follow the
distinct bytes, not N.

python benchmarks/bench_fleet.py [--sizes 10 50 200] [--bases 4] [--base-files 4000] [--dask]

--dask: also the same scans on a distributed.LocalCluster of 2 single-threaded worker processes
(the 2-core case of the issue) against the local pool with 1 and with the default processes, and
Dask's own cost per task (a round trip of 2,000 tasks that do nothing) - the numbers to predict
what more workers would give.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import fleet_reads  # noqa: E402
from builders import docker_archive  # noqa: E402

import imgopt  # noqa: E402
import imgopt.fleet  # noqa: E402
from imgopt.sources import source_settings  # noqa: E402


def make_images(directory: str, n: int, bases: int, base_files: int) -> list[str]:
    base_layers = [
        [("file", f"usr/lib/b{b}/f{i:05d}", bytes([b]) * (200 + i % 900)) for i in range(base_files)]
        for b in range(bases)
    ]
    refs = []
    for i in range(n):
        layers = [base_layers[i % bases], [("file", f"app/bin{i}", bytes([i % 256]) * 5_000)]]
        path = os.path.join(directory, f"img{i:04d}.tar")
        with open(path, "wb") as f:
            f.write(docker_archive(layers, tag=f"img{i}:1"))
        refs.append("docker-archive:" + path)
    return refs


def _noop(x: int) -> int:
    return x


def on_dask(sizes: list[int], bases: int, base_files: int) -> None:
    import distributed

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        client.submit(_noop, 0).result()
        t = time.perf_counter()
        futures = client.map(_noop, range(2000), pure=False)
        client.gather(futures)
        per_task = (time.perf_counter() - t) / 2000
        del futures
        print(f"Dask round trip of a task that does nothing: {per_task * 1000:.2f} ms (2,000 tasks, 2 workers)\n")
        print(
            "| images | tasks | local pool, --jobs 1 | local pool, default processes | Dask, 2 workers | Dask / local |"
        )
        print("|---|---|---|---|---|---|")
        for n in sizes:
            with tempfile.TemporaryDirectory() as d:
                refs = make_images(d, n, bases, base_files)
                times = []
                for i, kw in enumerate(({"jobs": 1}, {}, {"scheduler": cluster.scheduler_address})):
                    with source_settings(cache=os.path.join(d, f"cache{i}")):
                        t = time.perf_counter()
                        fleet = imgopt.scan(refs, **kw)  # type: ignore[arg-type]
                        times.append(time.perf_counter() - t)
                    assert not fleet.failed
                tasks = 2 * n + len(fleet.layers)  # a probe and an image task per image, a task per layer
                print(
                    f"| {n} | {tasks} | {times[0]:.2f} s | {times[1]:.2f} s | {times[2]:.2f} s | "
                    f"{times[2] / times[1]:.2f} |",
                    flush=True,
                )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200])
    ap.add_argument("--bases", type=int, default=4)
    ap.add_argument("--base-files", type=int, default=4000)
    ap.add_argument("--dask", action="store_true")
    args = ap.parse_args()
    if args.dask:
        on_dask(args.sizes, args.bases, args.base_files)
        return
    print(
        "| images | scan, --jobs 1 | scan, default pool | layers parsed | distinct layer bytes "
        "| N single analyses, no cache | ratio (pool / single) |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as d:
            refs = make_images(d, n, args.bases, args.base_files)
            times, parsed = [], []
            for jobs in (1, None):
                reads = os.path.join(d, f"reads-{jobs}")
                open(reads, "w").close()
                os.environ["IMGOPT_TEST_READS"] = reads
                imgopt.fleet._worker_init = fleet_reads.count  # the workers count their parses
                with source_settings(cache=os.path.join(d, f"cache-{jobs}")):
                    real = fleet_reads.counting_here()
                    t = time.perf_counter()
                    fleet = imgopt.scan(refs, jobs=jobs)
                    times.append(time.perf_counter() - t)
                    real()
                assert not fleet.failed
                with open(reads) as f:
                    parsed.append(len(f.read().splitlines()))
            with source_settings(cache=False):
                t = time.perf_counter()
                for ref in refs:
                    imgopt.analyze(ref)
                single_s = time.perf_counter() - t
            print(
                f"| {n} | {times[0]:.2f} s | {times[1]:.2f} s | {'/'.join(map(str, parsed))} | "
                f"{fleet.distinct_layer_bytes / 1e6:.1f} MB | {single_s:.2f} s | {times[1] / single_s:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
