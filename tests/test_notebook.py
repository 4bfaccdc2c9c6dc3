"""docs/examples/explore.ipynb runs from top to bottom in a real kernel, and shows what it says:
the analysis as charts, DataFrames as tables, plots as images."""

from __future__ import annotations

import os

from conftest import ROOT

NOTEBOOK = os.path.join(ROOT, "docs", "examples", "explore.ipynb")


def test_the_example_notebook_executes_and_shows_its_charts() -> None:
    import nbclient  # declared test dependencies: a missing one is a failure, not a skip
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs"), "commit the notebook without outputs (they are made here)"
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": os.path.join(ROOT, "docs", "examples")}}
    )
    client.execute()
    outputs = [cell.get("outputs", []) for cell in nb.cells if cell.cell_type == "code"]
    for cell_outputs in outputs:
        assert all(o.get("output_type") != "error" for o in cell_outputs)
    html = [o["data"]["text/html"] for out in outputs for o in out if "text/html" in o.get("data", {})]
    images = [o for out in outputs for o in out if "image/png" in o.get("data", {})]
    text = "".join(o.get("text", "") for out in outputs for o in out)
    assert any("<svg" in h and "class='bar'" in h for h in html)  # the analysis as charts
    assert any("<table" in h and "size_bytes" in h for h in html)  # a DataFrame
    assert len(images) == 2  # the two plots
    assert text.count("<Analysis ") == 1 and "<ImageDiff " in text and "+0 (0 Bytes)" in text
