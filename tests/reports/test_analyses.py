"""What the notebooks compute (selection, overview, dosage, implementation, robustness) on the bundled evidence,
checked against direct library calls and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mbtevidence as mbt
from mbtevidence.reports import check, dosage, implementation, overview, robustness
from mbtevidence.reports.parameters import ParameterError
from mbtevidence.reports.selection import select_effects


@pytest.fixture(scope="module")
def evidence():
    return mbt.load_evidence(validated_hash=mbt.evidence.content_hash())


def direct_synthesis(evidence, construct="symptom_severity", months=(12, 27), target=18, **model):
    """The report's default synthesis written with the public API only."""
    es = mbt.evidence_effect_sizes(evidence.records[evidence.records["condition"] == "mbt"])
    chosen = es[(es["outcome_construct"] == construct) & (es["design"] == "within") & (es["measure"] == "SMCR")
                & es["timepoint_months"].between(*months)]  # fmt: skip
    return mbt.pool_evidence(chosen, rule=mbt.SelectionRule(target_months=target), **model)


def test_the_report_selection_pools_what_the_public_api_pools(evidence) -> None:
    ours = select_effects(evidence, check()).pool().overall.to_dict()
    theirs = direct_synthesis(evidence).overall.to_dict()
    for key in ("k", "estimate", "ci_low", "ci_high", "tau2", "pi_low", "pi_high"):
        assert ours[key] == pytest.approx(theirs[key], rel=1e-12), key


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"outcome_construct": "dropout"}, ["outcome_construct='dropout'", "no record with a computable SMCR",
                                            "symptom_severity (4 samples)"]),
        ({"months_from": 40, "months_to": 50, "target_months": None}, ["months_from=40", "no symptom_severity record",
                                                                       "18 ("]),
        ({"instrument": "HADS"}, ["instrument='HADS'", "instruments that have", "GSI"]),
        ({"study_designs": ["rct"]}, ["study_designs=['rct']", "naturalistic_prepost"]),
    ],
)  # fmt: skip
def test_an_empty_selection_names_the_parameter_that_emptied_it(evidence, given, words) -> None:
    with pytest.raises(ParameterError) as raised:
        select_effects(evidence, check(**given))
    for word in words:
        assert word in str(raised.value)


def test_the_flow_only_narrows(evidence) -> None:
    flow = select_effects(evidence, check()).flow
    for column in ("Records", "Independent samples", "Studies"):
        assert list(flow[column]) == sorted(flow[column], reverse=True)
    steps = overview.evidence_flow(evidence, check())
    assert steps["Studies"].iloc[0] == len(evidence.studies)
    assert steps["Studies"].iloc[1] == evidence.effects["study"].nunique()


def test_flagged_rows_are_counted_per_table_as_the_validator_counts_them(evidence) -> None:
    report = mbt.validate(seeds_dir="/nonexistent")
    table = overview.flagged_by_table(evidence).set_index("Table")["Flagged rows"]
    assert table["all tables"] == len(report.flagged)
    assert table["effects.csv"] == sum(f.startswith("effects ") for f in report.flagged)


def test_the_composite_of_dependent_instruments_has_the_borenstein_variance() -> None:
    yi, vi = [0.2, 0.6, 0.4], [0.04, 0.09, 0.01]
    se = np.sqrt(vi)
    for r, variance in (
        (0.0, sum(vi) / 9),
        (1.0, se.mean() ** 2),
        (0.5, (sum(vi) + 0.5 * (se.sum() ** 2 - sum(vi))) / 9),
    ):
        c = implementation.composite_effect(yi, vi, r)
        assert c["estimate"] == pytest.approx(0.4)
        assert c["se"] ** 2 == pytest.approx(variance)
        assert c["ci_high"] - c["estimate"] == pytest.approx(1.959963985 * math.sqrt(variance))


def test_the_reorganisation_comparison_is_one_composite_per_timepoint(evidence) -> None:
    instruments, composites = implementation.period_comparison(evidence, check())
    assumed = composites[composites["Correlation between instruments"].str.contains("assumed")]
    assert list(assumed["Months"]) == ["0", "18", "36"]
    es = mbt.evidence_effect_sizes(evidence.records)
    at36 = es[(es["study"] == "Bales2017reorg") & (es["design"] == "between") & (es["timepoint_months"] == 36)]
    direct = implementation.composite_effect(at36["yi"], at36["vi"], 0.5)
    assert float(assumed["_estimate"].iloc[-1]) == pytest.approx(direct["estimate"])
    gsi = instruments[(instruments["Months"] == "18") & instruments["Instrument"].str.contains("GSI")].iloc[0]
    assert gsi["As printed"].startswith("d = -0.42") and gsi["Effect (SMD; + = arm 1 better)"] == "0.41"


def test_a_dosage_moderator_with_too_few_samples_is_never_fitted(evidence) -> None:
    synthesis = select_effects(evidence, check(target_months=None)).pool()
    checks = {c.moderator: c for c in dosage.moderator_checks(synthesis, 10)}
    planned = checks["planned_duration_months"]
    assert planned.plot and "too few for a meta-regression" in planned.reason
    with pytest.raises(ValueError, match="too few"):
        dosage.fit(synthesis, planned)
    loose = dosage.check_moderator(synthesis, "planned_duration_months", min_k=2)
    assert "confounded with the timepoint" in loose.reason, "36-month programme measured at 27 months"


def test_overlapping_samples_are_left_out_with_a_reason(evidence) -> None:
    selection = select_effects(evidence, check())
    table, reasons = robustness.overlap_table(selection, evidence)
    assert list(table["k"]) == [4, 3]
    assert reasons == [
        "Bales 2017 REORG – Day hospital left out: probable overlap with Bales 2017 PRE-REORG – Day hospital"
    ]


def test_sensitivity_summary_reads_the_library_results(evidence) -> None:
    selection = select_effects(evidence, check())
    synthesis = selection.pool()
    comparison = mbt.few_study_comparison(synthesis.overall)
    summary = robustness.summary_table(selection, synthesis, evidence, comparison).set_index("Analysis")
    assert summary.loc["main analysis", "estimate"] == pytest.approx(synthesis.overall.estimate)
    completers = mbt.pool_evidence(selection.effects, rule=mbt.SelectionRule("completers_first", 18)).overall
    assert summary.loc["completers first", "estimate"] == pytest.approx(completers.estimate)
    sweep = mbt.correlation_sweep(synthesis, evidence.records, (0.9,))
    assert summary.loc["pre-post r = 0.9", "estimate"] == pytest.approx(sweep["estimate"].iloc[0])
