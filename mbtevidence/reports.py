"""Execute the report notebooks with papermill and convert them to HTML."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import nbformat
import papermill
from jupyter_client import KernelManager
from nbconvert import HTMLExporter

from .paths import NOTEBOOKS_DIR

REPORT_NOTEBOOKS = ("01_evidence_overview.ipynb", "02_settings_dosage_quality.ipynb")


def render_notebook(notebook: Path, output_dir: Path, parameters: dict) -> Path:
    """Run ``notebook`` with papermill into ``output_dir`` and write its HTML beside it.

    Returns the HTML path.  The executed notebook keeps papermill's parameter cell, so the
    report says which evidence it was built from.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    executed = output_dir / notebook.name
    logging.getLogger("papermill").setLevel(logging.WARNING)
    # a local IPC kernel (sockets in a temporary folder): no network ports, no warning about
    # unencrypted TCP, nothing left beside the notebooks
    with tempfile.TemporaryDirectory(prefix="mbtevidence-kernel-") as sockets:
        kernel = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "kernel"))
        try:
            papermill.execute_notebook(
                str(notebook),
                str(executed),
                parameters=parameters,
                kernel_name="python3",
                cwd=str(notebook.parent),
                progress_bar=False,
                km=kernel,
            )
        finally:
            if kernel.has_kernel:
                kernel.shutdown_kernel(now=True)
    exporter = HTMLExporter(exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    html = executed.with_suffix(".html")
    html.write_text(body, encoding="utf-8")
    return html


def render_reports(output_dir: Path, evidence_dir: Path, seeds_dir: Path | None = None) -> list[Path]:
    """Render every report notebook against the given evidence; returns the HTML paths."""
    parameters = {
        "evidence_dir": str(Path(evidence_dir).resolve()),
        "seeds_dir": None if seeds_dir is None else str(Path(seeds_dir).resolve()),
    }
    return [render_notebook(NOTEBOOKS_DIR / name, Path(output_dir), parameters) for name in REPORT_NOTEBOOKS]
