"""Notebook parameters (mbtevidence.reports.parameters): one check for the notebooks and the render command."""

from __future__ import annotations

import nbformat
import papermill
import pytest

from mbtevidence.reports import GRID_FILE, NOTEBOOKS_DIR, REPORT_NOTEBOOKS, load_grid
from mbtevidence.reports.parameters import PARAMETERS, ParameterError, ReportOptions, check, parse_value


def parameters_cell(name: str) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{name}: one cell tagged parameters"
    return cells[0]


def test_defaults_pass_and_give_the_documented_options() -> None:
    options = check()
    assert options == ReportOptions()
    assert options.model == {"method": "REML", "test": "knha", "level": 95}
    assert options.window == "12–27 months, closest to 18"
    assert {name: spec.default for name, spec in PARAMETERS.items()} == {
        name: list(value) if isinstance(value, tuple) else value for name, value in ReportOptions().__dict__.items()
    }


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"outcome_construct": "symptoms"}, ["outcome_construct='symptoms'", "symptom_severity", "depression"]),
        ({"months_from": 30, "months_to": 12}, ["months_from=30", "months_to=12", "months_from <= months_to"]),
        ({"target_months": 40}, ["target_months=40", "outside the window 12-27"]),
        ({"prepost_correlation": 1.5}, ["prepost_correlation=1.5", ">= 0 and < 1"]),
        ({"method": "XX"}, ["method='XX'", "REML", "DL", "PM"]),
        ({"test": "t"}, ["test='t'", "knha", "adhoc", "z"]),
        ({"level": 0.95}, ["level=0.95", "50 to 99.99"]),
        ({"study_designs": ["trial"]}, ["study_designs=['trial']", "rct"]),
        ({"tau_prior": "flat"}, ["tau_prior='flat'", "halfnormal:SCALE"]),
        ({"group_by": "country"}, ["group_by='country'", "setting", "dosage_band"]),
        ({"evidence_dir": "/no/such/folder"}, ["evidence_dir='/no/such/folder'", "existing folder"]),
        ({"validated_hash": "abc"}, ["validated_hash='abc'", "12 hexadecimal digits"]),
        ({"colour": "red"}, ["unknown parameter 'colour'", "outcome_construct"]),
    ],
)
def test_a_bad_value_is_one_line_naming_parameter_value_and_what_is_allowed(given, words) -> None:
    with pytest.raises(ParameterError) as raised:
        check(**given)
    message = str(raised.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    assert raised.value._render_traceback_() == [f"ParameterError: {message}"], "IPython shows one line"


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("months_to", "12", 12),
        ("prepost_correlation", "0.3", 0.3),
        ("target_months", "null", None),
        ("target_months", "None", None),
        ("study_designs", "[rct, matched_cohort]", ["rct", "matched_cohort"]),
    ],
)
def test_command_line_values_are_read_as_yaml(name, text, value) -> None:
    assert parse_value(name, text) == value


def test_a_command_line_instrument_that_reads_as_a_number_stays_text() -> None:
    assert parse_value("instrument", "2") == "2"
    assert parse_value("outcome_construct", "depression") == "depression"
    with pytest.raises(ParameterError, match=r"prepost_correlation=1\.5"):
        parse_value("prepost_correlation", "1.5")


@pytest.mark.parametrize("name", REPORT_NOTEBOOKS)
def test_notebooks_are_clean_with_one_plain_assignment_per_parameter(name) -> None:
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), "commit notebooks without outputs"
    assert not any("matplotlib.use(" in c.source for c in code)
    lines = [line for line in parameters_cell(name).source.splitlines() if line.strip() and not line.startswith("#")]
    seen = papermill.inspect_notebook(str(NOTEBOOKS_DIR / name))
    assert len(seen) == len(lines), f"papermill --help-notebook sees {sorted(seen)} of {lines}"


@pytest.mark.parametrize("name", [n for n in REPORT_NOTEBOOKS if n[:2] in {"01", "02", "03", "04", "05", "06"}])
def test_the_first_code_cell_checks_every_parameter(name) -> None:
    declared = papermill.inspect_notebook(str(NOTEBOOKS_DIR / name))
    assert set(declared) <= set(PARAMETERS)
    namespace: dict[str, object] = {}
    exec(parameters_cell(name).source, namespace)
    check(**{k: namespace[k] for k in declared})  # the defaults are allowed values
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    first = code[0].source
    assert "check(" in first
    for parameter in declared:
        assert f"{parameter}={parameter}" in first, f"{name}: {parameter} is not checked"


def test_the_report_set_file_is_valid_and_names_every_notebook_once_at_least() -> None:
    specs = load_grid()
    assert [s.name for s in specs][:2] == ["evidence-overview", "settings-symptom-severity"]
    assert {s.notebook for s in specs} == set(REPORT_NOTEBOOKS)
    assert GRID_FILE.parent == NOTEBOOKS_DIR
