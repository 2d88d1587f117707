"""Metapsy rows -> evidence records, merged into an evidence folder with the same rules as curated records."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import real_seeds
from metapsy_testdata import PUBLISHED, msd_row, requires_data, write_metapsy

from mbtevidence import evidence_effect_sizes, load_evidence, validate
from mbtevidence.metapsy import convert, read_metapsy
from mbtevidence.metapsy.mapping import parse_dosage, parse_setting, study_id
from mbtevidence.metapsy.merge import write_evidence
from mbtevidence.paths import EVIDENCE_DIR


def test_free_text_is_parsed_only_where_unambiguous() -> None:
    assert parse_setting("Day hospital mentalization-based treatment v. specialist TAU") == "day_hospital"
    assert parse_setting("outpatient mentalization-based treatment versus SCM") == "outpatient"
    assert parse_setting("intensive outpatient MBT") == "intensive_outpatient"
    assert parse_setting("day hospital followed by outpatient group therapy") == "not_reported", "two settings"
    assert parse_setting("A randomized-controlled trial of MBT") == "not_reported"
    assert parse_dosage("5 days/ week approx. 6 h/day (approximately 390 days)") == {"days_per_week": "5"}
    assert parse_dosage("approx. 140") == {} and parse_dosage("60 to 104") == {}
    assert study_id("Leppännen, 2016") == "Leppannen2016" and study_id("Kredlow, 2017a") == "Kredlow2017a"


@pytest.fixture(scope="module")
def mbt_import():
    return convert(read_metapsy(PUBLISHED), "mbt", existing=EVIDENCE_DIR)


@requires_data
def test_the_mbt_trials_become_studies_arms_and_records(mbt_import) -> None:
    tables = {name: pd.DataFrame(rows) for name, rows in mbt_import.tables.items()}
    assert set(tables["studies"].study) == {"Bateman2009metapsy", "Carlyle2020", "Laurenssen2018", "Philips2018"}
    assert (tables["studies"].design == "rct").all() and (tables["studies"].rob_tool == "rob2").all()
    arms = tables["arms"].set_index(["study", "arm"])
    assert arms.loc[("Laurenssen2018", "MBT"), ["setting", "days_per_week", "n_start"]].tolist() == [
        "day_hospital",
        "5",
        "54",
    ]
    assert arms.loc[("Laurenssen2018", "CTBE"), "condition"] == "tau"
    assert arms.loc[("Philips2018", "MBT"), "setting"] == "not_reported", "the file names no setting"
    effects = tables["effects"].set_index("effect_id")
    assert len(effects) == 6 and (effects.provenance_kind == "dataset").all() and (effects.quote == "").all()
    laurenssen = effects.loc["Laurenssen2018.MBT.bpdsi.18m.msd"]
    assert laurenssen[["timepoint_months", "mean_arm1", "n_arm2", "analysis_population"]].tolist() == [
        "18",
        "20.63",
        "41",
        "itt",
    ]
    assert laurenssen.dataset_row_id == "Laurenssen_2018_msd_bpdsi_post_78_NA_mbt_CTBE_NA_NA"
    assert "line 36; commit 0c26f8f; DOI 10.5281/zenodo.10185551" in laurenssen.location
    assert effects.loc["Philips2018.MBT.bpdsi-iv.18m.msd", "analysis_population"] == "completers", "13 of 24"


@requires_data
def test_bateman_2009_is_the_curated_trial_and_shares_its_samples(mbt_import) -> None:
    arms = pd.DataFrame(mbt_import.tables["arms"]).set_index(["study", "arm"])
    curated = load_evidence().arms.set_index(["study", "arm"])
    assert arms.loc[("Bateman2009metapsy", "MBT"), "sample_id"] == curated.loc[("Bateman2009", "MBT-OP"), "sample_id"]
    assert arms.loc[("Bateman2009metapsy", "GT"), "sample_id"] == curated.loc[("Bateman2009", "SCM"), "sample_id"]
    assert arms.loc[("Bateman2009metapsy", "GT"), "condition"] == "scm"
    assert mbt_import.linked_samples == {"bateman2009_mbt", "bateman2009_scm"}


@requires_data
def test_the_bundled_evidence_holds_the_import_and_validates() -> None:
    evidence = load_evidence(EVIDENCE_DIR, real_seeds())
    imported = evidence.effects[evidence.effects.provenance_kind == "dataset"]
    assert len(imported) == 6
    es = evidence_effect_sizes(evidence.records.loc[imported.index])
    smd = es[es.measure == "SMD"].set_index("study")["yi"]
    assert smd["Bateman2009metapsy"] > 0.9, "MBT better on the IIP, oriented positive = MBT better"
    published = {r[".id"]: r for r in read_metapsy(PUBLISHED).rows}
    assert set(imported.dataset_row_id) <= set(published)


@requires_data
def test_merging_replaces_an_earlier_import_and_marks_curated_records_secondary(tmp_path: Path) -> None:
    folder = shutil.copytree(EVIDENCE_DIR, tmp_path / "evidence")
    with (folder / "effects.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    curated = dict(rows[0], effect_id="Bateman2009.MBT-OP.demo", study="Bateman2009", arm="MBT-OP")
    curated |= {"sample_id": "bateman2009_mbt", "secondary_report": "no", "comparator_arm": ""}
    with (folder / "effects.csv").open("a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n").writerow(curated)
    before = (folder / "studies.csv").read_text(encoding="utf-8")
    result = convert(read_metapsy(PUBLISHED), "mbt", existing=folder)
    report = write_evidence(result, folder)
    assert report.replaced == {"studies": 4, "arms": 8, "effects": 6}, "the bundled import is replaced, not doubled"
    assert report.made_secondary == ["Bateman2009.MBT-OP.demo"]
    assert (folder / "studies.csv").read_text(encoding="utf-8") == before, "other rows byte for byte"


@requires_data
def test_a_changed_number_of_an_imported_record_fails_validation(tmp_path: Path) -> None:
    folder = shutil.copytree(EVIDENCE_DIR, tmp_path / "evidence")
    text = (folder / "effects.csv").read_text(encoding="utf-8")
    (folder / "effects.csv").write_text(text.replace(",20.63,11.45,54,", ",20.36,11.45,54,"), encoding="utf-8")
    report = validate(folder, real_seeds())
    rows = [r["effect_id"] for r in csv.DictReader((folder / "effects.csv").open(encoding="utf-8", newline=""))]
    row = rows.index("Laurenssen2018.MBT.bpdsi.18m.msd") + 2
    assert [str(p).split("effects.csv:")[1] for p in report.errors] == [
        f"{row} mean_arm1='20.36': number does not appear in dataset row Laurenssen_2018_msd_bpdsi_post_78_NA_mbt_CTBE_NA_NA"
    ]


def test_a_dataset_row_needs_its_row_id_and_a_quote_row_its_quote(tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "data" / "demo"
    data.mkdir(parents=True)
    write_metapsy(data / "data.csv", [msd_row(**{".id": "Demo_2020_msd"})])
    monkeypatch.setenv("MBTEVIDENCE_DATA", str(tmp_path / "data"))
    result = convert(read_metapsy(data / "data.csv"))
    folder = tmp_path / "evidence"
    write_evidence(result, folder)
    assert validate(folder, tmp_path / "no-seeds").ok
    for name, column, value in (("effects", "dataset_row_id", ""), ("arms", "provenance_kind", "")):
        path = folder / f"{name}.csv"
        rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
        rows[0][column] = value
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    rules = sorted(p.rule for p in validate(folder, tmp_path / "no-seeds").errors)
    assert rules == [
        "a dataset row names its row in the dataset",
        "required value is empty (a quote row needs its verbatim quote)",
    ]
