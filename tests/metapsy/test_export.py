"""Evidence -> Metapsy file: the dialect, and a round trip import -> export -> import that keeps every field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from metapsy_testdata import PUBLISHED, cli, requires_data

from mbtevidence import load_evidence
from mbtevidence.metapsy import convert, read_metapsy
from mbtevidence.metapsy.export import EXPORT_COLUMNS, export_metapsy
from mbtevidence.metapsy.merge import write_evidence
from mbtevidence.metapsy.reading import NUMERIC_COLUMNS, OPTIONAL_STANDARD_COLUMNS, STANDARD_COLUMNS, metapsy_id

PROVENANCE = {"source", "location", "dataset_row_id", "notes", "rob_reason"}
"""Kit columns that say where a record was read, not what it holds."""


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    """Every row of the database imported, exported and imported again."""
    tmp = tmp_path_factory.mktemp("round-trip")
    first = read_metapsy(PUBLISHED)
    imported = convert(first)
    write_evidence(imported, tmp / "evidence")
    export = export_metapsy(load_evidence(tmp / "evidence", tmp / "no-seeds"), tmp / "exported" / "data.csv")
    second = read_metapsy(export.path)
    return first, imported, export, second, convert(second)


@requires_data
def test_the_export_is_the_published_dialect(round_trip) -> None:
    _, _, export, second, _ = round_trip
    lines = export.path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ";".join(f'"{c}"' for c in ["", *EXPORT_COLUMNS])
    assert lines[0] == PUBLISHED.read_text(encoding="utf-8").splitlines()[0], "the database's own header"
    bateman = next(line for line in lines if '"Bateman, 2009";NA;"psy vs ctr";"mbt";"GT";NA;NA;"msd"' in line)
    assert ";78;1,28;0,13;71;1,65;0,55;63;" in bateman, "decimal commas, NA, text quoted"
    assert export.rows == 54 and not export.left_out
    assert not [p for p in second.problems if p.severity == "warning"], (
        "every exported .id is the one metapsyTools builds"
    )


@requires_data
def test_every_field_of_the_standard_survives_the_round_trip(round_trip) -> None:
    first, _, _, second, _ = round_trip
    standard = [*STANDARD_COLUMNS, *OPTIONAL_STANDARD_COLUMNS, "outcome_domain", "year", "full_ref", "rand_arm1"]
    standard += [
        "rand_arm2",
        "country",
        "n_sessions_ig",
        "comorbid_mental_type",
        ".g",
        ".g_se",
        ".log_rr",
        ".log_rr_se",
    ]
    standard += ["mean_age", "percent_women"]
    before, after = first.frame, second.frame
    for column in (c for c in standard if c in before):
        if column in NUMERIC_COLUMNS or column in ("mean_age", "percent_women"):
            a, b = (pd.to_numeric(s, errors="coerce") for s in (before[column], after[column]))  # "NR" age: NA
            assert np.allclose(a, b, rtol=0, atol=1e-9, equal_nan=True), column
        else:
            assert before[column].tolist() == after[column].tolist(), column
    assert after[".id"].tolist() == [metapsy_id(r) for r in first.rows]


@requires_data
def test_risk_of_bias_comes_back_as_the_studys_most_severe_judgement(round_trip) -> None:
    """RoB 2 is per outcome in the database and per study in the evidence (each record's notes keep its own)."""
    first, _, _, second, _ = round_trip
    severity = {"low": 0, "some concerns": 1, "high": 2}
    for column in ("RoB_D1", "RoB_D2", "RoB_D3", "RoB_D4", "RoB_D5", "overall_RoB"):
        worst = first.frame.groupby("study")[column].agg(lambda s: max(s, key=severity.get))
        assert (second.frame.set_index("study")[column] == worst.reindex(second.frame["study"]).to_numpy()).all()


@requires_data
def test_the_second_import_gives_the_same_records(round_trip) -> None:
    _, imported, _, _, again = round_trip
    for name, rows in imported.tables.items():
        a, b = pd.DataFrame(rows), pd.DataFrame(again.tables[name])
        columns = [c for c in a.columns if c not in PROVENANCE]
        pd.testing.assert_frame_equal(a[columns], b[columns], obj=name)


@requires_data
def test_the_command_line_exports_the_bundled_mbt_records(tmp_path: Path, capsys) -> None:
    code, out, err = cli(capsys, "metapsy", "export", "--out", str(tmp_path / "data.csv"), "--curated-only")
    assert code == 0, err
    assert "Left out" in out and "single-arm prepost record: a Metapsy row compares two arms" in out
    exported = read_metapsy(tmp_path / "data.csv")
    assert "Bales, 2015" in {r["study"] for r in exported.rows}
    assert not any(r["study"].startswith(("Laurenssen", "Bateman")) for r in exported.rows), "imported left out"
    assert all("design matched_cohort" in r["notes"] for r in exported.rows if r["study"] == "Bales, 2015")
