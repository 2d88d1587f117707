"""The report set, rendered once per session by the real command (``--jobs 2``) and shared."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import real_seeds


@dataclass(frozen=True)
class Rendered:
    folder: Path
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> Rendered:
    """``mbtevidence render --jobs 2`` of the whole report set on the bundled evidence."""
    folder = tmp_path_factory.mktemp("render") / "reports"
    seeds = real_seeds()
    command = [sys.executable, "-m", "mbtevidence", "render", "--jobs", "2", "--output", str(folder)]
    command += ["--seeds", str(seeds)] if seeds else []
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout + done.stderr
    return Rendered(folder, done.stdout, done.stderr)


RENDER_PARAMETERS = 'evidence_dir = None\nseeds_dir = None\nvalidated_hash = None\nmessage = "hello"'


def tiny_notebook(path: Path, cells: list[str]) -> Path:
    """A notebook with a parameters cell (the render's own parameters and ``message``) and ``cells``."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    parameters = new_code_cell(RENDER_PARAMETERS)
    parameters.metadata["tags"] = ["parameters"]
    nb = new_notebook(
        cells=[new_markdown_cell(f"# {path.stem}"), parameters] + [new_code_cell(c) for c in cells]
    )  # fmt: skip
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def write_notebook():
    return tiny_notebook


def make_grid(folder: Path, reports: dict[str, list[str]]) -> Path:
    """A report set of tiny notebooks (``{"name": [cells...]}``) in ``folder``; returns the grid file."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["reports:"]
    for name, cells in reports.items():
        tiny_notebook(folder / f"{name}.ipynb", cells)
        lines.append(f"  - {{name: {name}, notebook: {name}.ipynb, title: Report {name}}}")
    (folder / "reports.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "reports.yaml"


@pytest.fixture(scope="session")
def grid_writer():
    """:func:`make_grid` (for fixtures of wider scope than a test)."""
    return make_grid


@pytest.fixture
def tiny_grid(tmp_path: Path):
    """Write a report set of tiny notebooks: ``tiny_grid({"name": [cells...]})`` -> the grid file."""
    return lambda reports: make_grid(tmp_path / "grid", reports)
