"""How long the HTML report of a large image takes to load in Chromium (Debian's, via Playwright):
from navigation to the treemap drawn, median of --repeat loads, for the bench_dive archives.

python benchmarks/bench_report.py [--repeat 5] [--image many|large]
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_dive import build_archive  # noqa: E402

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--image", choices=("large", "many"), action="append")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or "chromium"
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        for name in args.image or ["many", "large"]:
            archive = build_archive(name)
            out = os.path.join(tmp, f"{name}.html")
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "imgopt", "analyze", "docker-archive:" + archive, "--format", "html", "-o", out],
                check=True,
            )
            made = time.perf_counter() - t
            loads, nodes = [], 0
            for _ in range(args.repeat):
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                t = time.perf_counter()
                page.goto("file://" + out)
                page.wait_for_selector(".tm-box .tm-node")
                loads.append(time.perf_counter() - t)
                nodes = page.evaluate("document.querySelectorAll('*').length")
                page.close()
            print(
                f"{name}: report {os.path.getsize(out) / 1e6:.2f} MB made in {made:.2f} s; "
                f"loads in {statistics.median(loads):.3f} s (median of {len(loads)}, max {max(loads):.3f} s); "
                f"{nodes} DOM nodes",
                flush=True,
            )
        browser.close()


if __name__ == "__main__":
    main()
