"""The report set file (notebooks/reports.yaml): every problem one line naming the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from mbtevidence.reports.grid import GridError, load_grid


@pytest.fixture
def folder(tmp_path: Path, write_notebook) -> Path:
    write_notebook(tmp_path / "ok.ipynb", ['report.headline("fine", value=1)'])
    return tmp_path


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("reports: []", ["needs a list 'reports:'"]),
        ("reports: [{name: a, notebook: ok.ipynb}]", ["entry 1 (a)", "title is missing"]),
        ("reports: [{name: a, notebook: nope.ipynb, title: A}]", ["entry 1 (a)", "nope.ipynb not found"]),
        ("reports: [{name: a, notebook: ok.ipynb, title: A, colour: red}]", ["unknown key(s) colour"]),
        ("reports: [{name: 'a b', notebook: ok.ipynb, title: A}]", ["name must be letters"]),
        ("reports: [{name: a, notebook: ok.ipynb, title: A, parameters: {method: REML}}]",
         ["parameter method is not one the grid can set", "declares message"]),
        ("reports: [{name: a, notebook: ok.ipynb, title: A, parameters: {evidence_dir: x}}]",
         ["parameter evidence_dir is not one the grid can set"]),
        ("reports: [{name: a, notebook: ok.ipynb, title: A}, {name: a, notebook: ok.ipynb, title: B}]",
         ["used twice: a"]),
        ("reports: [{name: a, notebook: ok.ipynb, title: A", ["cannot read the report set"]),
    ],
)  # fmt: skip
def test_problems_in_the_report_set_are_one_line(folder: Path, text: str, words: list[str]) -> None:
    (folder / "reports.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(GridError) as raised:
        load_grid(folder / "reports.yaml")
    assert "\n" not in str(raised.value)
    for word in words:
        assert word in str(raised.value)


def test_a_valid_entry_is_read_with_its_folder(folder: Path) -> None:
    (folder / "reports.yaml").write_text("reports:\n  - {name: a, notebook: ok.ipynb, title: A}\n", encoding="utf-8")
    [spec] = load_grid(folder / "reports.yaml")
    assert (spec.name, spec.title, spec.parameters, spec.path) == ("a", "A", {}, folder / "ok.ipynb")
