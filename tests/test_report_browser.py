"""The HTML report in a real browser: Debian's Chromium driven by Playwright (its own browser
download is never used). The page must load with no console error and no request leaving the
file, draw a treemap node per top directory that zooms on click, sort its file table, and stay
small for images with very many files."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from builders import docker_archive
from conftest import REQUIRE_DOCKER, fixture

import imgopt
from imgopt.analysis.categories import Categorizer
from imgopt.analysis.tree import directory_tree
from imgopt.cli import main

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        if REQUIRE_DOCKER:
            pytest.fail("the browser tests need Debian's chromium (CI installs it)")
        pytest.skip("chromium is not installed (apt install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if REQUIRE_DOCKER:
            raise
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A page opened from a file, with every console message and request it made."""

    def __init__(self, browser: Any, path: str) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 800})
        self.console: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto("file://" + os.path.abspath(path))

    def close(self) -> None:
        self.page.close()


def _report(ref: str, path: str) -> str:
    err = io.StringIO()
    assert main(["analyze", ref, "--format", "html", "-o", path], io.StringIO(), err) == 0, err.getvalue()
    return path


@pytest.fixture
def waste_page(browser: Any, tmp_path: str) -> Iterator[Page]:
    p = Page(browser, _report(fixture("waste-docker.tar"), os.path.join(str(tmp_path), "report.html")))
    yield p
    p.close()


def test_the_page_loads_with_no_error_and_no_request(waste_page: Page) -> None:
    waste_page.page.wait_for_selector(".tm-node")
    assert waste_page.console == []
    assert all(u.startswith("file://") for u in waste_page.requests), waste_page.requests
    assert len(waste_page.requests) == 1  # the file itself: nothing else is fetched


def test_the_treemap_has_a_node_per_top_directory_and_zooms(waste_page: Page) -> None:
    a = imgopt.analyze(fixture("waste-docker.tar"))
    tree = directory_tree(a.squash.final.values(), a.squash.waste, Categorizer())
    top = {c.path for c in tree.children if c.size > 0}
    page = waste_page.page
    drawn = set(page.eval_on_selector_all(".tm-box .tm-node", "ns => ns.map(n => n.dataset.path)"))
    assert drawn == top
    target = max((c for c in tree.children if c.children), key=lambda c: c.size)
    page.click(f".tm-box .tm-node[data-path='{target.path}']")
    inside = page.eval_on_selector_all(".tm-box .tm-node", "ns => ns.map(n => n.dataset.path)")
    assert sorted(inside) == sorted(c.path for c in target.children if c.size > 0)
    assert page.inner_text(".tm-crumbs").split("/")[1].strip().startswith(target.name)
    page.click(".tm-crumb[data-depth='0']")  # back to the root
    assert set(page.eval_on_selector_all(".tm-box .tm-node", "ns => ns.map(n => n.dataset.path)")) == top


def test_sorting_and_filtering_the_file_table(waste_page: Page) -> None:
    page = waste_page.page

    def sizes() -> list[float]:
        return [
            float(x) for x in page.eval_on_selector_all("#files tbody tr", "rs => rs.map(r => r.cells[1].dataset.sort)")
        ]

    assert sizes() == sorted(sizes(), reverse=True)
    page.click("#files th:nth-child(2)")  # descending first
    page.click("#files th:nth-child(2)")  # then ascending
    assert sizes() == sorted(sizes()) and sizes() != sorted(sizes(), reverse=True)
    page.click("#files th:nth-child(1)")
    paths = page.eval_on_selector_all("#files tbody tr", "rs => rs.map(r => r.cells[0].textContent)")
    assert paths == sorted(paths, reverse=True)
    page.fill("input[data-table='files']", "cache")
    shown = page.eval_on_selector_all(
        "#files tbody tr", "rs => rs.filter(r => r.style.display !== 'none').map(r => r.cells[0].textContent)"
    )
    assert shown and all("cache" in s for s in shown) and len(shown) < len(paths)


def test_a_screenshot_is_not_blank(waste_page: Page, tmp_path: str) -> None:
    from PIL import Image

    shot = os.path.join(str(tmp_path), "report.png")
    waste_page.page.screenshot(path=shot)
    with Image.open(shot) as im:
        assert im.size == (1280, 800)
        colors = im.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colors is None or len(colors) > 50  # text, bars and the treemap, not one flat colour


def test_a_page_without_scripts_still_shows_the_charts(browser: Any, tmp_path: str) -> None:
    path = _report(fixture("waste-docker.tar"), os.path.join(str(tmp_path), "r.html"))
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto("file://" + path)
    assert page.is_visible("svg.tm-static") and page.is_visible("#files")
    assert page.locator("svg.chart g.bar").count() >= 4  # one bar per layer
    ctx.close()


def test_many_files_make_a_small_page(browser: Any, tmp_path: str) -> None:
    """60k files in 600 directories: the page aggregates, it does not emit a node per file."""
    layer = [("file", f"srv/d{i // 100:03d}/f{i:05d}", b"x" * (i % 7)) for i in range(60_000)]
    path = os.path.join(str(tmp_path), "many.tar")
    with open(path, "wb") as f:
        f.write(docker_archive([layer]))
    out = _report(path, os.path.join(str(tmp_path), "many.html"))
    assert os.path.getsize(out) < 2_000_000
    p = Page(browser, out)
    try:
        p.page.wait_for_selector(".tm-node")
        assert p.page.evaluate("document.querySelectorAll('*').length") < 6000
        assert p.console == []
    finally:
        p.close()


def test_diff_and_lint_pages(browser: Any, tmp_path: str) -> None:
    """Every result's page loads clean; the diff page charts and sorts its changes."""
    base = [("file", "usr/lib/libold.so", b"o" * 5000), ("file", "app/main", b"m" * 3000), ("file", "etc/conf", b"c")]
    new = [("file", "usr/lib/libnew.so", b"n" * 9000), ("file", "app/main", b"m" * 1000), ("file", "etc/conf", b"c")]
    paths = []
    for name, layer in (("a", base), ("b", new)):
        p = os.path.join(str(tmp_path), f"{name}.tar")
        with open(p, "wb") as f:
            f.write(docker_archive([layer]))
        paths.append(p)
    out = os.path.join(str(tmp_path), "diff.html")
    err = io.StringIO()
    assert main(["diff", *paths, "--format", "html", "-o", out], io.StringIO(), err) == 0, err.getvalue()
    lint_out = os.path.join(str(tmp_path), "lint.html")
    dockerfile = os.path.join(str(tmp_path), "Dockerfile")
    with open(dockerfile, "w") as f:
        f.write("FROM debian:bookworm-slim\nRUN apt-get update\nRUN apt-get install -y curl\n")
    assert main(["lint", dockerfile, "--format", "html", "-o", lint_out], io.StringIO(), io.StringIO()) == 1
    for path in (out, lint_out):
        p = Page(browser, path)
        try:
            assert p.console == [] and len(p.requests) == 1
            if path == out:
                assert p.page.locator("svg.chart g.bar").count() == 2  # /usr and /app
                rows = p.page.eval_on_selector_all("#changes tbody tr", "rs => rs.map(r => r.cells[1].textContent)")
                assert set(rows) == {"/usr/lib/libnew.so", "/usr/lib/libold.so", "/app/main"}
                p.page.click("#changes th:nth-child(5)")  # by delta, largest first
                first = p.page.eval_on_selector("#changes tbody tr", "r => r.cells[1].textContent")
                assert first == "/usr/lib/libnew.so"
            else:
                assert p.page.locator("#findings tbody tr").count() >= 2
        finally:
            p.close()
