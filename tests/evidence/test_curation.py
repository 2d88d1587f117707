"""The bundled evidence against its sources (issue #3): beyond the validator's quote check.

Every row of every table is re-read: each quote segment (``quote`` and any second quote such as
``quote_n``) is located in the source text with its own normalisation, not the validator's, and
every number of the row must be printed inside one of its quotes unless the row names the column
in ``derived_columns`` (with the derivation in its notes).  The evidence must also keep the known shared samples
together, and default analyses must not double-count them.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from conftest import real_seeds, requires_seeds

from mbtevidence.evidence import load_evidence, load_schema
from mbtevidence.paths import EVIDENCE_DIR as DEFAULT_EVIDENCE_DIR


def squeeze(text: str) -> str:
    """Letters and digits only, with decimal commas as points: survives any whitespace/hyphen damage."""
    return re.sub(r"[^0-9a-z.]", "", text.lower().replace(",", "."))


def printed_numbers(text: str) -> list[float]:
    words = {
        w: i + 1
        for i, w in enumerate(
            ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
        )
    }
    words |= {"once": 1, "twice": 2}
    numbers = [abs(float(t.replace(",", "."))) for t in re.findall(r"\d*[.,]?\d+", text)]
    numbers += [float(words[w]) for w in re.findall(r"[a-z]+", text.lower()) if w in words]
    numbers += [float(t.replace(",", "")) for t in re.findall(r"\d{1,3}(?:,\d{3})+", text)]
    numbers += [words[w] + 0.5 for w in re.findall(r"([a-z]+) and a half", text.lower()) if w in words]
    return numbers


@pytest.fixture(scope="module")
def evidence():
    return load_evidence(DEFAULT_EVIDENCE_DIR, real_seeds())


def data_numbers(table: str, row: pd.Series) -> dict[str, float]:
    columns = load_schema()["tables"][table]["columns"]
    skip = {"timepoint_months", "baseline_months", "year"}
    derived = str(row.get("derived_columns") or "").replace(" ", "").split(",")
    return {
        c: float(row[c])
        for c, spec in columns.items()
        if spec["type"] in ("number", "integer") and c not in skip and c not in derived and not pd.isna(row[c])
    }


TABLES = ["studies", "arms", "effects", "fidelity", "overlap"]


@requires_seeds
@pytest.mark.parametrize("table", TABLES)
def test_every_row_reread_against_its_source(evidence, table) -> None:
    frame = evidence.tables[table]
    if "provenance_kind" in frame:  # rows imported from a dataset cite a dataset row (tests/metapsy)
        frame = frame[frame["provenance_kind"] != "dataset"]
    quotes = [c for c, spec in load_schema()["tables"][table]["columns"].items() if spec["type"] == "quote"]
    sources: dict[str, str] = {}
    for i, row in frame.iterrows():
        text = sources.setdefault(row.source, squeeze((real_seeds() / row.source).read_text(encoding="utf-8")))
        printed: list[float] = []
        for column in quotes:
            if pd.isna(row[column]):
                continue
            for segment in row[column].split(" [...] "):
                assert squeeze(segment) in text, (
                    f"{table} row {i + 2}: {column} segment not in {row.source}: {segment[:60]}"
                )
            printed += printed_numbers(row[column])
        for column, value in data_numbers(table, row).items():
            assert any(abs(abs(value) - p) < 1e-9 for p in printed), (
                f"{table} row {i + 2}: {column}={value} not printed in its quotes"
            )


def test_derived_numbers_say_how_and_are_right(evidence) -> None:
    arms = evidence.arms[evidence.arms["derived_columns"].notna()]
    assert arms["notes"].str.contains("deriv", case=False).all(), arms[["derived_columns", "notes"]]
    fidelity = evidence.tables["fidelity"].dropna(subset=["rescaled_0_1"])
    expected = (fidelity["mean"] - fidelity["scale_min"]) / (fidelity["scale_max"] - fidelity["scale_min"])
    assert len(fidelity) >= 20
    assert (expected.astype(float) - fidelity["rescaled_0_1"].astype(float)).abs().max() < 0.006, "rescaled to 0-1"


def test_every_record_has_provenance(evidence) -> None:
    for table in TABLES:
        frame = evidence.tables[table]
        dataset = frame["provenance_kind"] == "dataset" if "provenance_kind" in frame else frame["source"].isna()
        for column in ("source", "location", "quote"):
            rows = frame[~dataset] if column == "quote" else frame
            assert rows[column].notna().all() and (rows[column].str.len() > 0).all(), (table, column)
        assert frame.loc[dataset, "dataset_row_id"].str.len().gt(0).all() if dataset.any() else True, table


def test_metapsy_time_weeks_is_derived(evidence) -> None:
    assert (evidence.records.loc[evidence.records.timepoint_months == 18, "time_weeks"] == 78).all()


def test_the_dutch_day_hospital_cohort_is_one_sample(evidence) -> None:
    arms = evidence.arms.set_index(["study", "arm"])
    shared = {("Bales2012", "MBT-DH"), ("Bales2015", "MBT-DH"), ("Bales2017reorg", "PRE-REORG")}
    assert {arms.loc[key, "sample_id"] for key in shared} == {"viersprong_dh_cohort"}
    assert arms.loc[("Bales2017reorg", "REORG"), "sample_id"] != "viersprong_dh_cohort"


def test_scope_of_the_curation(evidence) -> None:
    """Issue #3's floor: the named studies, >= 10 independent samples, three settings with records."""
    studies = set(evidence.studies.study)
    assert {
        "Bales2012",
        "Bales2015",
        "Bales2017reorg",
        "Bales2017impl",
        "Hutsebaut2012",
        "Smits2022",
        "Folmo2020",
        "Bateman1999",
    } <= studies
    assert any(s.startswith("Lof") for s in studies)
    assert evidence.arms.sample_id.nunique() >= 10
    settings = set(evidence.records.setting)
    assert {"day_hospital", "intensive_outpatient", "outpatient"} <= settings
    assert evidence.records.secondary_report.any()


def test_dosage_and_implementation_fields_are_filled_where_printed(evidence) -> None:
    arms = evidence.arms.set_index(["study", "arm"])
    assert (
        arms.loc[("Bales2017reorg", "PRE-REORG"), "fidelity_rating"]
        > arms.loc[("Bales2017reorg", "REORG"), "fidelity_rating"]
    )
    assert arms.loc[("Smits2022", "MBT-DH"), "days_per_week"] > arms.loc[("Smits2022", "MBT-IOP"), "days_per_week"]
    assert arms.loc[("Bales2012", "MBT-DH"), "planned_duration_months"] == 18
    assert arms.loc[("Bales2012", "MBT-DH"), "hours_per_day"] == 4.5
    assert arms.organisational_stability.notna().sum() >= 2
