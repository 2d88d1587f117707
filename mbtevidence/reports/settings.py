"""Settings compared: MBT against another treatment, and MBT programmes in two settings.

The within-group syntheses compare settings across studies (confounded by everything else that
differs between studies).  Two kinds of records compare more directly: between-group effects of
MBT against another treatment (reported per setting of the MBT arm), and records of a trial that
randomised patients to MBT in two settings, which the evidence holds only as the tests the
report prints (here: moderator tests), reported for what they are.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from ..evidence import Evidence
from .implementation import comparison_rows
from .parameters import ReportOptions
from .selection import Selection, all_effect_sizes, mbt_comparisons, select_effects
from .tables import number, p_value, study_names, words


def between_treatments(evidence: Evidence, options: ReportOptions) -> Selection:
    """Between-group records (SMD) of MBT against a non-MBT comparator for the report's outcome and window."""
    return select_effects(evidence, replace(options, effect_measure="SMD"), require=False)


def treatment_comparisons(evidence: Evidence, options: ReportOptions) -> pd.DataFrame:
    """Every between-group effect of MBT against a non-MBT comparator in the evidence (all outcomes,
    timepoints and analyses), as printed and oriented, ordered by study, outcome and timepoint."""
    es = all_effect_sizes(evidence, options)
    records = es[
        (es["design"] == "between")
        & (es["condition"] == "mbt")
        & (es["comparator_condition"] != "mbt")
        & es["yi"].notna()
    ]
    records = records.sort_values(["study", "outcome_construct", "timepoint_months", "instrument"], kind="stable")
    return comparison_rows(records, options.level).assign(Outcome=records["outcome_construct"].map(words).to_numpy())


def _arm_labels(evidence: Evidence) -> dict[tuple[str, str], str]:
    arms = evidence.arms
    return {(s, a): f"{a} ({words(t)})" for s, a, t in zip(arms["study"], arms["arm"], arms["setting"], strict=True)}


def setting_trial(evidence: Evidence, options: ReportOptions) -> pd.DataFrame:
    """Records comparing MBT in two settings for the report's outcome: what each tested and found."""
    records = mbt_comparisons(evidence, options, same_setting=False)
    records = records[records["outcome_construct"] == options.outcome_construct]
    if records.empty:
        return pd.DataFrame()
    labels = _arm_labels(evidence)

    def result(r: pd.Series) -> str:
        if pd.notna(r["yi"]):
            return f"g = {number(r['yi'])} (positive = first arm better)"
        if pd.notna(r.get("precalc_es")):
            return f"{r['precalc_metric']} = {r['precalc_es']:g}"
        return "test printed only by its p value"

    return pd.DataFrame(
        {
            "Study": study_names(records).to_numpy(),
            "Arms": [
                f"{labels.get((s, a), a)} vs {labels.get((s, c), c)}"
                for s, a, c in zip(records["study"], records["arm"], records["comparator_arm"], strict=True)
            ],
            "Instrument": records["instrument"].to_numpy(),
            "Months": records["timepoint_months"].map("{:g}".format).to_numpy(),
            "What was tested": records["analysis"].fillna("–").to_numpy(),
            "Result": [result(r) for _, r in records.iterrows()],
            "p": [p_value(v) if isinstance(v, float) else str(v) for v in records["precalc_p"].fillna(float("nan"))],
        }
    )


__all__ = ["between_treatments", "setting_trial", "treatment_comparisons"]
