"""Programme attributes follow the patients across reports (mbtevidence.evidence.programmes)."""

from __future__ import annotations

import pandas as pd

from mbtevidence.evidence import summary_tables
from mbtevidence.evidence.programmes import programmes


def test_adherence_of_pre_reorg_reaches_the_bales_2012_records(bundled_evidence) -> None:
    records = bundled_evidence.records
    bales2012 = records[(records.study == "Bales2012") & (records.arm == "MBT-DH")]
    assert (bales2012["fidelity_rating"] == 6.1).all()
    assert (bales2012["organisational_stability"] == "stable").all()
    assert bales2012["attributes_from"].str.contains("Bales2017reorg/PRE-REORG").all()
    reorg = records[(records.study == "Bales2017reorg") & (records.arm == "REORG")]
    assert (reorg["fidelity_rating"] == 2.4).all() and reorg["attributes_from"].isna().all()


def test_disagreeing_arms_of_one_sample_keep_their_own_values() -> None:
    arms = pd.DataFrame(
        {
            "study": ["A", "B", "C"],
            "arm": ["x", "y", "z"],
            "sample_id": ["s", "s", "s"],
            "planned_duration_months": [18.0, None, 12.0],
            "days_per_week": [None, 5.0, None],
        }
    )
    fidelity = pd.DataFrame(columns=["study", "arm", "item", "rescaled_0_1", "instrument"])
    table = programmes(arms, fidelity).set_index("arm")
    assert pd.isna(table.loc["y", "planned_duration_months"]), "18 vs 12: no single value to borrow"
    assert (table["days_per_week"] == 5.0).all() and table.loc["x", "attributes_from"] == "B/y"


def test_rescaled_fidelity_is_the_mean_of_total_scores(bundled_evidence) -> None:
    table = programmes(bundled_evidence.arms, bundled_evidence.tables["fidelity"]).set_index(["study", "arm"])
    assert abs(table.loc[("Bales2017reorg", "PRE-REORG"), "fidelity_0_1"] - (6.1 - 1) / 6) < 0.001
    assert abs(table.loc[("Bales2017reorg", "REORG"), "fidelity_0_1"] - (2.4 - 1) / 6) < 0.001


def test_summary_counts_samples_with_an_outcome_effect_per_setting(bundled_evidence) -> None:
    tables = summary_tables(bundled_evidence)
    per_setting = tables["per setting"]
    assert {"samples with an outcome effect", "samples in the arms table"} <= set(per_setting.columns)
    assert per_setting.loc["intensive_outpatient", "samples with an outcome effect"] == 0
    overview = tables["overview"]["count"]
    assert overview["independent samples with a computable outcome effect"] < overview["independent samples"]
    periods = tables["programme periods (dosage and implementation quality)"]
    assert "fidelity_0_1" in periods.columns and periods.loc[("Bales2012", "MBT-DH"), "fidelity_rating"] == 6.1
