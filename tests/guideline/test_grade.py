"""GRADE domain rules: each fires on a crafted case and not on its neighbour across the threshold."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from mbtevidence.guideline import grade
from mbtevidence.guideline.grade import DomainJudgement
from mbtevidence.guideline.statements import plain_language


def samples(weights, rob=None, randomised=None, population=None, setting=None) -> pd.DataFrame:
    k = len(weights)
    return pd.DataFrame(
        {
            "label": [f"S{i}" for i in range(k)],
            "weight": weights,
            "rob": rob or ["low"] * k,
            "randomised": randomised or [True] * k,
            "population": population or ["adult_bpd"] * k,
            "setting": setting or ["day_hospital"] * k,
        }
    )


# -- starting level and risk of bias -------------------------------------------------------------
def test_randomised_evidence_starts_high_from_half_the_weight() -> None:
    assert grade.starting_certainty(samples([50, 50], randomised=[True, False])) == "high"
    assert grade.starting_certainty(samples([49.9, 50.1], randomised=[True, False])) == "low"


def test_risk_of_bias_serious_from_half_the_weight_at_high_risk() -> None:
    fired = grade.rate_risk_of_bias(samples([50, 50], rob=["high", "low"]), "high")
    assert (fired.rating, fired.levels) == ("serious", 1)
    assert "50%" in fired.rule and "S0 (high)" in fired.explanation
    assert grade.rate_risk_of_bias(samples([49.9, 50.1], rob=["high", "low"]), "high").rating == "not_serious"


def test_risk_of_bias_counts_samples_without_a_judgement() -> None:
    assert grade.rate_risk_of_bias(samples([60, 40], rob=[None, "low"]), "high").rating == "serious"
    assert grade.rate_risk_of_bias(samples([60, 40], rob=["some_concerns", "low"]), "high").rating == "not_serious"


def test_non_randomised_samples_count_only_in_a_body_that_starts_high() -> None:
    body = samples([50, 50], rob=["low", "low"], randomised=[True, False])
    assert grade.rate_risk_of_bias(body, "high").rating == "serious"
    assert "S1 (non-randomised)" in grade.rate_risk_of_bias(body, "high").explanation
    assert grade.rate_risk_of_bias(body, "low").rating == "not_serious"


# -- inconsistency -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("i2", "pi", "rating"),
    [
        (50.0, (-0.1, 1.0), "serious"),
        (49.99, (-0.1, 1.0), "not_serious"),
        (50.0, (0.01, 1.0), "not_serious"),  # effects differ in size, not direction
        (50.0, (0.0, 1.0), "serious"),  # a PI touching no effect includes it
        (75.0, (-0.1, 1.0), "very_serious"),
        (74.99, (-0.1, 1.0), "serious"),
        (90.0, (0.05, 2.0), "not_serious"),
    ],
)
def test_inconsistency_thresholds(i2, pi, rating) -> None:
    assert grade.rate_inconsistency(5, i2, *pi).rating == rating


def test_inconsistency_of_two_samples_reads_the_direction_of_their_estimates() -> None:
    assert grade.rate_inconsistency(2, 91.0, None, None, (0.8, 1.5)).rating == "not_serious"
    assert grade.rate_inconsistency(2, 91.0, None, None, (-0.1, 1.5)).rating == "very_serious"
    assert grade.rate_inconsistency(2, 60.0, None, None, (-0.1, 1.5)).rating == "serious"
    assert grade.rate_inconsistency(2, 60.0, None, None).rating == "serious"  # estimates unknown: both ways


def test_inconsistency_of_one_sample_is_not_assessable() -> None:
    judgement = grade.rate_inconsistency(1, None, None, None)
    assert (judgement.rating, judgement.levels) == ("not_assessable", 0)


# -- imprecision ---------------------------------------------------------------------------------
def test_optimal_information_size_formulas() -> None:
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert grade.optimal_information_size(0.2, "between") == math.ceil(4 * z**2 / 0.04) == 785
    assert grade.optimal_information_size(0.2, "within", correlation=0.5) == math.ceil(z**2 / 0.04) == 197
    assert grade.optimal_information_size(0.5, "within", correlation=0.7) == math.ceil(0.6 * z**2 / 0.25)
    with pytest.raises(ValueError, match="must be > 0"):
        grade.optimal_information_size(0, "within")


def test_events_information_size() -> None:
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    p0, p1 = 0.2, 0.15
    assert grade.optimal_information_size_events(0.2) == 2 * math.ceil(z**2 * (p0 * (1 - p0) + p1 * (1 - p1)) / 0.05**2)
    assert grade.optimal_information_size_events(0.0) is None


def test_risk_ratio_rules_speak_in_risk_ratios() -> None:
    scale = grade.ratio_scale(-1)  # fewer events better: RR = exp(-y)
    judgement = grade.rate_imprecision(-1.0, 2.0, 300, 1022, grade.RR_MID, scale=scale)
    assert judgement.rating == "very_serious"
    assert "95% CI RR 0.14 to 2.72" in judgement.rule and "MID RR 0.80 or 1.25" in judgement.rule


@pytest.mark.parametrize(
    ("ci", "n", "rating"),
    [
        ((0.2, 1.0), 197, "not_serious"),  # lower limit on the MID: does not cross it
        ((0.199, 1.0), 197, "serious"),  # crosses the MID
        ((0.3, 1.0), 196, "serious"),  # below the OIS
        ((0.001, 0.15), 197, "not_serious"),  # precise trivial effect
        ((-0.001, 0.15), 197, "serious"),  # includes no effect
        ((-0.2, 0.2), 1000, "very_serious"),  # important benefit and important harm
        ((-0.199, 0.2), 1000, "serious"),
    ],
)
def test_imprecision_thresholds(ci, n, rating) -> None:
    assert grade.rate_imprecision(*ci, n, 197, 0.2).rating == rating


def test_imprecision_names_every_reason_that_fired() -> None:
    rule = grade.rate_imprecision(0.1, 0.9, 45, 197, 0.2).rule
    assert "crosses the MID 0.2" in rule and "total n = 45 is below the optimal information size of 197" in rule


# -- indirectness and publication bias -------------------------------------------------------------
def test_indirectness_from_population_at_half_the_weight() -> None:
    body = samples([50, 50], population=["adult_bpd", "adolescent_bpd"])
    judgement = grade.rate_indirectness(body, ("adult_bpd",), None)
    assert judgement.rating == "serious" and "S1 (adolescent bpd)" in judgement.explanation
    body = samples([50.1, 49.9], population=["adult_bpd", "adolescent_bpd"])
    assert grade.rate_indirectness(body, ("adult_bpd",), None).rating == "not_serious"


def test_indirectness_from_setting_only_when_the_question_names_one() -> None:
    body = samples([49, 51], setting=["day_hospital", "mixed"])
    assert grade.rate_indirectness(body, ("adult_bpd",), ("day_hospital",)).rating == "serious"
    assert grade.rate_indirectness(body, ("adult_bpd",), None).rating == "not_serious"


@pytest.mark.parametrize(
    ("k", "p", "rating"),
    [(10, 0.0999, "serious"), (10, 0.10, "not_serious"), (9, 0.001, "not_assessable"), (12, None, "not_assessable")],
)
def test_publication_bias_only_from_ten_samples(k, p, rating) -> None:
    assert grade.rate_publication_bias(k, p).rating == rating


# -- certainty, overrides, statements --------------------------------------------------------------
def judgements(**ratings: str) -> dict[str, DomainJudgement]:
    return {d: DomainJudgement(d, ratings.get(d, "not_serious"), "rule") for d in grade.DOMAINS}


def test_certainty_is_the_start_minus_the_downgrades_never_below_very_low() -> None:
    assert grade.overall_certainty("high", judgements()) == "high"
    assert grade.overall_certainty("high", judgements(risk_of_bias="serious")) == "moderate"
    assert (
        grade.overall_certainty("high", judgements(imprecision="very_serious", inconsistency="serious")) == "very low"
    )
    assert grade.overall_certainty("low", judgements(publication_bias="not_assessable")) == "low"
    assert grade.overall_certainty("low", judgements(risk_of_bias="serious", imprecision="serious")) == "very low"


def test_an_override_replaces_the_rating_and_keeps_the_suggestion() -> None:
    rows = pd.DataFrame(
        [{"domain": "imprecision", "rating": "not_serious", "reason": "CI is narrow enough", "reviewer": "AB"}]
    )
    out = grade.apply_overrides(judgements(imprecision="serious"), rows)
    assert out["imprecision"].rating == "not_serious" and out["imprecision"].suggested == "serious"
    assert out["imprecision"].overridden and not out["risk_of_bias"].overridden
    note = out["imprecision"].footnote()
    assert "rated not serious by the reviewer (AB) instead of the suggested serious" in note
    assert note.endswith("Reason: CI is narrow enough.")


@pytest.mark.parametrize(
    ("certainty", "estimate", "expected"),
    [
        ("high", 0.5, "MBT reduces symptom severity at 18 months."),
        ("moderate", 0.5, "MBT probably reduces symptom severity at 18 months."),
        ("low", 0.5, "MBT may reduce symptom severity at 18 months."),
        ("very low", 0.5, "The evidence is very uncertain about the effect of MBT on symptom severity at 18 months."),
        ("low", 0.1, "MBT may result in little to no difference in symptom severity at 18 months."),
        ("moderate", -0.4, "MBT probably increases symptom severity at 18 months."),
    ],
)
def test_plain_language_follows_the_grade_informative_statements(certainty, estimate, expected) -> None:
    assert plain_language(certainty, "MBT", "symptom_severity", estimate, 0.2, "at 18 months") == expected


def test_plain_language_uses_improve_for_functioning() -> None:
    text = plain_language("low", "MBT in day-hospital settings", "quality_of_life", 0.6, 0.2)
    assert text == "MBT in day-hospital settings may improve quality of life."
