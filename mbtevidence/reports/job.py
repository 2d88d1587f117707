"""One report of a render, run in its own process: execute, write the HTML page and the PDF.

``python -m mbtevidence.reports.job`` reads a :class:`Job` as JSON on standard input and prints
one JSON line with the outcome (``ok``, ``error`` in one line, ``headline``, ``pdf``).  The render
command runs several at once; a report that fails never stops the others.  SIGTERM (the render
being interrupted) shuts the report's kernel down before the process ends.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from .display import REPORT_DIR_ENV
from .grid import RENDER_PARAMETERS, declared_parameters
from .html import headline_of, notebook_html
from .pdf import write_pdf
from .stamp import Stamp


@dataclass(frozen=True)
class Job:
    """Everything one report needs: the notebook, parameters, where to write, the stamp."""

    name: str
    notebook: str
    """Path of the notebook (it runs in its own folder)."""
    title: str
    parameters: dict[str, object]
    output_dir: str
    timeout: float
    show_code: bool
    pdf: bool
    stamp: dict[str, object]


def shown_parameters(notebook: Path, injected: dict[str, object]) -> dict[str, object]:
    """The report's effective parameters (notebook defaults, then injected), without the render's own."""
    merged = {**declared_parameters(notebook), **injected}
    return {k: v for k, v in merged.items() if k not in RENDER_PARAMETERS}


def execute(job: Job, executed: Path) -> None:
    """Run the notebook with papermill in a local IPC kernel (no network ports); the kernel finds
    the report's folder in ``$MBTEVIDENCE_REPORT_DIR``."""
    import papermill
    from jupyter_client import KernelManager

    logging.getLogger("papermill").setLevel(logging.WARNING)
    os.environ[REPORT_DIR_ENV] = str(executed.parent)
    with tempfile.TemporaryDirectory(prefix="mbtevidence-kernel-") as sockets:
        kernel = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "kernel"))
        try:
            papermill.execute_notebook(
                job.notebook,
                str(executed),
                parameters=job.parameters,
                kernel_name="python3",
                cwd=str(Path(job.notebook).parent),
                progress_bar=False,
                execution_timeout=job.timeout,
                start_timeout=120,
                km=kernel,
            )
        finally:
            if kernel.has_kernel:
                kernel.shutdown_kernel(now=True)


def error_line(exc: BaseException) -> str:
    """A failed report in one line: the cell and its error."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        first = (str(exc.evalue).strip().splitlines() or [""])[0]
        return f"cell {exc.exec_count}: {exc.ename}: {first}"
    if type(exc).__name__ == "CellTimeoutError":
        return f"a cell ran longer than the timeout per cell ({exc.__class__.__name__})"
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"


def run(job: Job) -> dict[str, object]:
    """Execute ``job``; the outcome as a JSON-safe dict."""
    started = time.monotonic()
    output = Path(job.output_dir)
    executed = output / f"{job.name}.ipynb"
    try:
        execute(job, executed)
    except Exception as exc:  # any failure of the notebook is reported in one line, the others go on
        return {"name": job.name, "ok": False, "error": error_line(exc), "seconds": time.monotonic() - started}
    notebook = nbformat.read(executed, as_version=4)
    parameters = shown_parameters(Path(job.notebook), job.parameters)
    stamp = Stamp(**job.stamp).with_parameters(parameters)  # type: ignore[arg-type]
    notebook.metadata["title"] = job.title
    notebook.metadata["mbtevidence"] = {"report": job.name, "stamp": stamp.to_dict()}
    recorded = notebook.metadata.get("papermill", {})
    recorded.update(input_path=Path(job.notebook).name, output_path=executed.name)  # no local paths
    nbformat.write(notebook, executed)
    page = output / f"{job.name}.html"
    page.write_text(notebook_html(notebook, job.title, stamp, job.show_code), encoding="utf-8")
    printed = False
    if job.pdf:
        try:
            printed = write_pdf(page, page.with_suffix(".pdf"))
        except RuntimeError as exc:
            return {"name": job.name, "ok": False, "error": f"PDF: {exc}", "seconds": time.monotonic() - started}
    return {
        "name": job.name,
        "ok": True,
        "headline": headline_of(notebook),
        "parameters": parameters,
        "pdf": printed,
        "seconds": time.monotonic() - started,
    }


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    job = Job(**json.loads(sys.stdin.read()))
    try:
        outcome = run(job)
    except KeyboardInterrupt:
        return 130
    print(json.dumps(outcome, default=str), flush=True)
    return 0


def job_json(job: Job) -> str:
    return json.dumps(asdict(job))


if __name__ == "__main__":
    sys.exit(main())
