"""The guideline notebook runs under papermill and writes every file it promises."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import docx
import nbformat
import papermill
from jupyter_client import KernelManager

from mbtevidence.evidence import content_hash
from mbtevidence.paths import NOTEBOOKS_DIR

NOTEBOOK = NOTEBOOKS_DIR / "07_guideline_tables.ipynb"


def test_notebook_is_clean_with_one_parameters_cell_of_plain_assignments() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    lines = [line for line in tagged[0].source.splitlines() if line.strip()]
    assert all(" = " in line and not line.startswith((" ", "#")) for line in lines)
    assert set(papermill.inspect_notebook(str(NOTEBOOK))) == {line.split(" = ")[0] for line in lines}
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")


def test_notebook_writes_the_tables_and_figures(tmp_path: Path) -> None:
    out = tmp_path / "guideline"
    with tempfile.TemporaryDirectory(prefix="mbtevidence-kernel-") as sockets:
        kernel = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "kernel"))
        try:
            papermill.execute_notebook(
                str(NOTEBOOK),
                str(tmp_path / "executed.ipynb"),
                parameters={"output_dir": str(out), "setting_tables": [], "validated_hash": content_hash()},
                kernel_name="python3",
                cwd=str(NOTEBOOKS_DIR),
                progress_bar=False,
                km=kernel,
            )
        finally:
            if kernel.has_kernel:
                kernel.shutdown_kernel(now=True)
    written = {p.name for p in out.iterdir()}
    for comparison in ("between", "within"):
        assert {f"sof_{comparison}.{ext}" for ext in ("html", "csv", "docx")} <= written
        assert {f"prisma_flow_{comparison}.png", f"prisma_flow_{comparison}.svg"} <= written
    assert {"characteristics.csv", "risk_of_bias.csv", "risk_of_bias.png", "risk_of_bias.svg"} <= written
    assert "Summary of findings: MBT compared with another treatment" in (out / "sof_between.html").read_text()
    assert docx.Document(str(out / "sof_within.docx")).tables
    executed = json.loads((tmp_path / "executed.ipynb").read_text(encoding="utf-8"))
    html_outputs = [
        "".join(o["data"]["text/html"])
        for c in executed["cells"]
        for o in c.get("outputs", [])
        if "text/html" in o.get("data", {})
    ]
    assert sum("<section class='sof'>" in h for h in html_outputs) == 2
