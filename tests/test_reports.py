"""Report rendering (mbtevidence.reports): real papermill runs of the real notebooks."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from mbtevidence.paths import EVIDENCE_DIR as DEFAULT_EVIDENCE_DIR
from mbtevidence.reports import NOTEBOOKS_DIR, REPORT_NOTEBOOKS, render_reports


@pytest.mark.parametrize("name", REPORT_NOTEBOOKS)
def test_notebooks_are_committed_clean_with_a_parameters_cell(name) -> None:
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), "commit notebooks without outputs"
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    assert not any("matplotlib.use(" in c.source for c in code), "matplotlib.use() in a notebook drops its figures"


def test_render_executes_the_notebooks_and_writes_html(tmp_path: Path) -> None:
    before = sorted(p.name for p in NOTEBOOKS_DIR.iterdir())
    paths = render_reports(tmp_path / "reports", DEFAULT_EVIDENCE_DIR)
    assert sorted(p.name for p in NOTEBOOKS_DIR.iterdir()) == before, "rendering leaves notebooks/ as it was"
    assert [p.name for p in paths] == [n.replace(".ipynb", ".html") for n in REPORT_NOTEBOOKS]
    for html_path in paths:
        executed = nbformat.read(html_path.with_suffix(".ipynb"), as_version=4)
        errors = [
            o
            for c in executed.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            if o.get("output_type") == "error"
        ]
        assert not errors, errors
        injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert injected and str(DEFAULT_EVIDENCE_DIR) in injected[0].source
        html = html_path.read_text(encoding="utf-8")
        assert "<table" in html and "Traceback" not in html
    overview = paths[0].read_text(encoding="utf-8")
    for word in ("independent samples", "day_hospital", "outpatient", "intensive_outpatient"):
        assert word in overview


def test_render_command_on_other_evidence(tmp_path: Path, seeds: Path) -> None:
    """A one-study evidence folder renders; one without the report's outcome fails with one clear line."""
    import subprocess
    import sys

    from conftest import minimal_tables, write_evidence

    def render(evidence: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "mbtevidence",
                "render",
                "--output",
                str(tmp_path / evidence.name),
                "--evidence",
                str(evidence),
                "--seeds",
                str(seeds),
            ],
            capture_output=True,
            text=True,
        )

    one_study = render(write_evidence(tmp_path / "one", minimal_tables()))
    assert one_study.returncode == 0, one_study.stderr
    tables = minimal_tables()
    for row in tables["effects"]:
        row["outcome_construct"] = "depression"
    failing = render(write_evidence(tmp_path / "none", tables))
    assert failing.returncode == 1
    assert (
        "a report notebook failed in cell" in failing.stderr
        and "no record has a computable effect size" in failing.stderr
    )
    assert "Traceback" not in failing.stderr
