"""The Python API: typed results, exports, notebook HTML, and the module boundaries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import fixture

import imgopt
from imgopt.analysis.instructions import Instruction, attribute, parse_created_by
from imgopt.model import HistoryEntry

WASTE = "docker-archive:" + fixture("waste-docker.tar")


def test_analyze_accepts_a_loaded_image() -> None:
    img = imgopt.load(WASTE)
    a = imgopt.analyze(img, top=2)
    assert a.image is img and len(a.top_files) == 2
    assert json.loads(a.to_json())["reclaimable_bytes"] == a.reclaimable_bytes == a.to_dict()["reclaimable_bytes"]


def test_dataframes() -> None:
    pytest.importorskip("pandas")
    a = imgopt.analyze(WASTE)
    layers = a.to_dataframe()
    assert list(layers["size_bytes"]) == [lr.size_bytes for lr in a.layers]
    files = a.to_dataframe("files")
    assert int(files["size_bytes"].sum()) == a.final_size_bytes
    waste = a.to_dataframe("waste")
    assert int(waste["bytes"].sum()) == a.reclaimable_bytes
    assert set(a.to_dataframe("categories")["category"]) >= {"apt", "docs"}
    with pytest.raises(imgopt.UsageError):
        a.to_dataframe("nope")


def test_html_repr() -> None:
    html = imgopt.analyze(WASTE)._repr_html_()
    assert html.startswith("<div") and "reclaimable" in html and "<table" in html


def test_errors_share_one_root() -> None:
    import imgopt.errors

    for name in imgopt.errors.__all__:
        cls = getattr(imgopt.errors, name)
        assert issubclass(cls, imgopt.ImgoptError)
        if name != "ReferenceError_":  # a UsageError subclass kept internal
            assert getattr(imgopt, name) is cls


def test_pure_core_imports_no_docker_or_dockerfile_parse() -> None:
    code = (
        "import sys, imgopt, imgopt.analysis, imgopt.model, imgopt.report.jsonfmt, imgopt.report.text\n"
        f"a = imgopt.analyze({WASTE!r})\n"
        "a.to_json()\n"
        "bad = [m for m in ('docker', 'dockerfile_parse', 'pandas', 'requests') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_py_typed_is_shipped() -> None:
    import importlib.resources

    assert importlib.resources.files("imgopt").joinpath("py.typed").is_file()


@pytest.mark.parametrize(
    ("created_by", "expected"),
    [
        ("/bin/sh -c #(nop)  COPY file:abc123 in /app ", ("COPY", "file:abc123 in /app")),
        ('/bin/sh -c #(nop)  CMD ["python" "app.py"]', ("CMD", '["python" "app.py"]')),
        ("/bin/sh -c apt-get update && apt-get install -y gcc", ("RUN", "apt-get update && apt-get install -y gcc")),
        ("|2 A=1 B=2 /bin/sh -c make", ("RUN", "make")),
        ("RUN /bin/sh -c pip install . # buildkit", ("RUN", "pip install .")),
        ("RUN |1 VERSION=3 /bin/sh -c echo $VERSION # buildkit", ("RUN", "echo $VERSION")),
        ("COPY . /src # buildkit", ("COPY", ". /src")),
        ("RUN --mount=type=cache,target=/c /bin/sh -c make # buildkit", ("RUN", "make")),
        ("WORKDIR /app", ("WORKDIR", "/app")),
    ],
)
def test_created_by_parsing(created_by: str, expected: tuple[str, str]) -> None:
    assert parse_created_by(created_by) == expected


def test_attribution_aligns_in_order_and_marks_base_layers() -> None:
    history = [
        HistoryEntry("/bin/sh -c #(nop) ADD file:x in / "),
        HistoryEntry('/bin/sh -c #(nop)  CMD ["bash"]', empty_layer=True),
        HistoryEntry("WORKDIR /app", empty_layer=True),
        HistoryEntry("COPY . /app # buildkit"),
        HistoryEntry("RUN /bin/sh -c make # buildkit"),
        HistoryEntry("RUN /bin/sh -c rm -rf /tmp/x # buildkit"),
    ]
    ins = [
        Instruction("WORKDIR", "/app", 2, 2),
        Instruction("COPY", ". /app", 3, 3),
        Instruction("RUN", "make", 4, 4),
        Instruction("RUN", "echo not-built", 5, 5),
    ]
    got = [(a.status, a.instruction.line if a.instruction else None) for a in attribute(history, ins)]
    assert got == [
        ("base-image", None),
        ("base-image", None),
        ("matched", 2),
        ("matched", 3),
        ("matched", 4),
        ("unmatched", None),
    ]


def test_attribution_keeps_the_options_of_commands() -> None:
    """A command's own long options (``--selftest``) are part of its text: only the instruction's
    leading flags are dropped (a RUN with ``--`` options was once never attributed)."""
    history = [HistoryEntry("RUN /bin/sh -c ./app --selftest && rm -rf /tmp/x # buildkit")]
    ins = [Instruction("RUN", "--network=none ./app --selftest && rm -rf /tmp/x", 2, 2)]
    assert [a.status for a in attribute(history, ins)] == ["matched"]
    other = [Instruction("RUN", "./app --other && rm -rf /tmp/x", 2, 2)]
    assert [a.status for a in attribute(history, other)] == ["base-image"]


def test_reprs_are_one_line_with_the_headline_numbers() -> None:
    a = imgopt.analyze(WASTE)
    r = repr(a)
    assert "\n" not in r and len(r) < 300 and r.startswith("<Analysis ") and "reclaimable" in r
    assert "FileEntry" not in r  # never the dataclass dump
    d = repr(imgopt.diff(WASTE, WASTE))
    assert d.startswith("<ImageDiff ") and "+0" in d and "\n" not in d


def test_the_notebook_view_has_the_charts_but_no_page() -> None:
    a = imgopt.analyze(WASTE)
    html = a._repr_html_()
    assert "<svg" in html and "<html" not in html and "<script>" not in html
    causes = sum(1 for v in a.waste_by_cause.values() if v)
    categories = sum(1 for c in a.categories if c.final_bytes or c.wasted_bytes)
    assert html.count("class='bar'") == len(a.layers) + causes + categories  # a bar per layer, cause, category
    page = imgopt.analyze(WASTE).encode("html")
    assert page.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in page and "<script>" in page


def test_dataframes_for_every_result_with_nan_for_unknown_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd  # a declared test dependency: never skipped

    a = imgopt.analyze(WASTE)
    dirs = a.to_dataframe("dirs")
    assert dirs.loc[dirs.path == "/", "size_bytes"].item() == a.final_size_bytes
    assert set(dirs.columns) >= {"path", "size_bytes", "files", "reclaimable_bytes", "category"}
    layers = a.to_dataframe("layers")
    assert layers["compressed_size_bytes"].isna().all() and layers["compressed_size_bytes"].dtype == float
    report = imgopt.LintReport("Dockerfile", tuple(imgopt.lint("fixtures/projects/python-app/Dockerfile")))
    findings = report.to_dataframe()
    assert isinstance(findings, pd.DataFrame) and len(findings) == len(report.findings)
    assert findings["bytes"].isna().all()  # no image measured: unknown, not 0
    diff = imgopt.diff(WASTE, WASTE).to_dataframe()
    assert list(diff.columns)[:2] == ["change", "path"] and diff.empty
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if it were not installed
    with pytest.raises(imgopt.UsageError, match=r"pip install 'imgopt\[pandas\]'"):
        a.to_dataframe()


def test_plots_are_matplotlib_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib  # noqa: F401  # a declared test dependency: never skipped

    a = imgopt.analyze(WASTE)
    fig = a.plot()
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == len(a.layers)
    assert {p.get_facecolor()[:3] for p in ax.patches}  # bars were drawn
    for kind in ("dirs", "categories"):
        assert a.plot(kind).axes
    with pytest.raises(imgopt.UsageError, match="unknown plot"):
        a.plot("pie")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(imgopt.UsageError, match=r"imgopt\[plot\]"):
        a.plot()
