"""The MBT synthesis policy (mbtevidence.synthesis): one estimate per sample, stated rule, settings kept."""

from __future__ import annotations

import pandas as pd
import pytest

from mbtevidence import SelectionRule, correlation_sweep, evidence_effect_sizes, meta_analysis, pool_evidence


def _candidates() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "effect_id": ["a", "b", "c", "d", "e", "f", "g"],
            "sample_id": ["s1", "s1", "s1", "s2", "s2", "s2", "s2"],
            "secondary_report": [True, False, False, False, False, False, False],
            "analysis_population": [
                "itt",
                "completers",
                "model_based_itt",
                "completers",
                "completers",
                "completers",
                "itt",
            ],
            "instrument": ["GSI", "GSI", "GSI", "GSI", "GSI", "BSI", "BSI"],
            "n": [99, 50, 40, 10, 20, 15, 12],
            "n_bound": [False] * 7,
            "timepoint_months": [18, 18, 18, 18, 12, 18, 36],
        }
    )


def test_itt_first_rule() -> None:
    es = _candidates()
    # s1: the secondary report loses, then model-based ITT beats completers; s2: ITT beats completers
    assert SelectionRule().select(es)["effect_id"].tolist() == ["c", "g"]
    # the completers rule (sensitivity) picks completer data; the most-used instrument (GSI) first
    assert SelectionRule(population="completers_first").select(es)["effect_id"].tolist() == ["b", "e"]
    assert SelectionRule(population="completers_first", target_months=18).select(es)["effect_id"].tolist() == ["b", "d"]
    assert SelectionRule(population="completers_first", instruments=("BSI",)).select(es)["effect_id"].tolist() == [
        "b",
        "f",
    ]


def test_rule_is_stated_and_validated() -> None:
    assert "intention-to-treat" in SelectionRule().describe()
    with pytest.raises(ValueError, match="population='x'"):
        SelectionRule(population="x")


def test_default_pooling_counts_each_sample_once(symptom_synthesis) -> None:
    synthesis = symptom_synthesis
    assert synthesis.rows.sample_id.is_unique
    assert (synthesis.rows.sample_id == "viersprong_dh_cohort").sum() == 1
    dropped = synthesis.excluded[synthesis.excluded.sample_id == "viersprong_dh_cohort"]
    assert len(dropped) >= 2 and dropped.reason.str.contains("same sample").all()
    assert synthesis.by == "setting" and synthesis.rule.target_months == 18
    assert "Selection: one estimate per independent sample" in synthesis.summary()


def test_cluster_robust_keeps_every_estimate(bundled_evidence) -> None:
    es = evidence_effect_sizes(bundled_evidence.records[bundled_evidence.records.condition == "mbt"])
    selected = es[(es.outcome_construct == "symptom_severity") & (es.measure == "SMCR")]
    syn = pool_evidence(selected, dependence="cluster_robust")
    assert len(syn.rows) == selected.yi.notna().sum() and syn.robust is not None
    assert syn.robust.clusters == selected.sample_id.nunique()


def test_mixed_measures_are_refused(bundled_evidence) -> None:
    es = evidence_effect_sizes(bundled_evidence.records)
    with pytest.raises(ValueError, match="mix effect-size measures"):
        pool_evidence(es)


def test_one_group_gives_a_note_not_a_test(symptom_synthesis) -> None:
    rows = symptom_synthesis.rows.assign(setting="outpatient")
    syn = pool_evidence(rows, by="setting")
    assert syn.subgroups is None and "no subgroup test is possible" in syn.notes[0]


def test_correlation_sweep_uses_the_synthesis_settings(symptom_synthesis, bundled_evidence) -> None:
    sweep = correlation_sweep(symptom_synthesis, bundled_evidence.records, (0.3, 0.5, 0.8))
    k = len(symptom_synthesis.rows)
    assert list(sweep.index) == [0.3, 0.5, 0.8] and (sweep["k"] == k).all()
    at_half = sweep.loc[0.5]
    direct = meta_analysis(symptom_synthesis.rows.yi, symptom_synthesis.rows.vi).to_dict()
    printed = symptom_synthesis.rows.ri.notna().any() if "ri" in symptom_synthesis.rows else False
    if not printed:
        assert at_half["estimate"] == pytest.approx(direct["estimate"])
    assert sweep["se"].nunique() == 3, "the assumed correlation moves the sampling variances"
