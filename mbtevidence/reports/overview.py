"""The evidence overview: how far the evidence base reaches, from the table to each synthesis.

A table of 20 studies and 400-odd records looks larger than the evidence that can be pooled.
These functions count every step (PRISMA-style), describe the independent samples that reach a
synthesis, and list what is missing: studies without a usable record, settings without
outcome data, records whose effect size cannot be computed and why.
"""

from __future__ import annotations

import pandas as pd

from ..evidence import Evidence
from ..evidence.tables import NOT_OUTCOMES
from ..figures.labels import dosage_text, fidelity_text
from .parameters import VOCABULARIES, ReportOptions
from .selection import all_effect_sizes, select_effects
from .tables import interval, number, study_names, words


def _study_label(evidence: Evidence) -> dict[str, str]:
    studies = evidence.studies
    return dict(zip(studies["study"], study_names(studies), strict=True))


def evidence_flow(evidence: Evidence, options: ReportOptions) -> pd.DataFrame:
    """From the table to the syntheses: studies, samples and records at every step."""
    es = all_effect_sizes(evidence, options)
    computable = es[es["yi"].notna()]
    outcome = computable[~computable["outcome_construct"].isin(NOT_OUTCOMES)]
    mbt_within = outcome[(outcome["condition"] == "mbt") & (outcome["measure"] == "SMCR")]
    steps = [
        ("studies in the evidence table", len(evidence.studies), evidence.arms["sample_id"].nunique(), "–"),
        ("studies with at least one effect record", es["study"].nunique(), es["sample_id"].nunique(), len(es)),
        (
            "records with a computable effect size",
            computable["study"].nunique(),
            computable["sample_id"].nunique(),
            len(computable),
        ),
        (
            "… of a treatment outcome (not dropout, trauma, alliance)",
            outcome["study"].nunique(),
            outcome["sample_id"].nunique(),
            len(outcome),
        ),
        (
            "… within-group change of an MBT programme (SMCR)",
            mbt_within["study"].nunique(),
            mbt_within["sample_id"].nunique(),
            len(mbt_within),
        ),
    ]
    return pd.DataFrame(steps, columns=["Step", "Studies", "Independent samples", "Records"])


def syntheses_flow(evidence: Evidence, options: ReportOptions) -> pd.DataFrame:
    """Each outcome construct's default synthesis (the options' window, measure and rule): how
    many records are candidates and how many independent samples are pooled."""
    rows = []
    es = all_effect_sizes(evidence, options)
    constructs = es.loc[es["yi"].notna() & (es["measure"] == options.effect_measure), "outcome_construct"].unique()
    for construct in sorted(constructs):
        chosen = ReportOptions(**{**options.__dict__, "outcome_construct": construct})
        selection = select_effects(evidence, chosen, require=False)
        if selection.effects.empty:
            rows.append(
                {
                    "Outcome": words(construct),
                    "Candidate records": 0,
                    "Samples pooled": 0,
                    "Pooled effect": "–",
                    "95% CI": "–",
                }
            )
            continue
        synthesis = selection.pool()
        d = synthesis.overall.to_dict()
        rows.append(
            {
                "Outcome": words(construct),
                "Candidate records": len(selection.effects),
                "Samples pooled": d["k"],
                "Pooled effect": number(d["estimate"]),
                "95% CI": interval(d["ci_low"], d["ci_high"]),
            }
        )
    return pd.DataFrame(rows).sort_values("Samples pooled", ascending=False, kind="stable")


def studies_without_records(evidence: Evidence) -> pd.DataFrame:
    """Studies in the table that no effect record comes from, with what the table says about them."""
    with_records = set(evidence.effects["study"])
    studies = evidence.studies[~evidence.studies["study"].isin(with_records)]
    labels = _study_label(evidence)
    return pd.DataFrame(
        {
            "Study": studies["study"].map(labels).to_numpy(),
            "Design": studies["design"].map(words).to_numpy(),
            "Population": studies["population"].map(words).to_numpy(),
            "Risk of bias": studies["rob_tool"].map(lambda t: "not assessed" if t == "not_assessed" else words(t)),
        }
    )


def unusable_records(evidence: Evidence, options: ReportOptions) -> pd.DataFrame:
    """Records without a computable effect size, counted by reason."""
    es = all_effect_sizes(evidence, options)
    missing = es[es["yi"].isna()]
    counts = missing.groupby("es_note").agg(records=("effect_id", "size"), studies=("study", "nunique"))
    counts = counts.sort_values("records", ascending=False).reset_index()
    return counts.rename(columns={"es_note": "Why no effect size", "records": "Records", "studies": "Studies"})


def sample_characteristics(evidence: Evidence, options: ReportOptions) -> pd.DataFrame:
    """Independent samples with a computable outcome effect: design, setting, programme, dosage,
    fidelity, n, age, % women and the analysis populations of their records."""
    es = all_effect_sizes(evidence, options)
    outcome = es[es["yi"].notna() & ~es["outcome_construct"].isin(NOT_OUTCOMES) & (es["condition"] == "mbt")]
    studies = evidence.studies.set_index("study")
    labels = _study_label(evidence)
    rows = []
    for sample, part in outcome.groupby("sample_id", sort=False):
        first = part.iloc[0]
        reports = sorted(part["study"].unique())
        primary = studies.loc[reports[0]]
        rows.append(
            {
                "Sample": first.get("label") or sample,
                "Reports": "; ".join(labels[s] for s in reports),
                "Design": words(primary["design"]),
                "Setting": words(first["setting"]),
                "Programme period": first.get("implementation_period")
                if pd.notna(first.get("implementation_period"))
                else "–",
                "Dosage": dosage_text(first) or "–",
                "Fidelity (0–1)": fidelity_text(first) or "–",
                "n (included)": number(primary["n_included"], 0) if pd.notna(primary["n_included"]) else "–",
                "Age, mean": number(primary["age_mean"], 1),
                "Women": "–" if pd.isna(primary["percent_women"]) else f"{primary['percent_women']:.0f}%",
                "Analysis populations": ", ".join(sorted(part["analysis_population"].map(words).unique())),
                "Outcome records": len(part),
            }
        )
    return pd.DataFrame(rows)


def risk_of_bias(evidence: Evidence) -> pd.DataFrame:
    """Risk-of-bias judgements of the studies that were assessed."""
    studies = evidence.studies[evidence.studies["rob_tool"].fillna("not_assessed") != "not_assessed"]
    labels = _study_label(evidence)
    judged = {c: studies[c].map(words).to_numpy() for c in ("rob_selection", "rob_attrition", "rob_measurement")}
    return pd.DataFrame(
        {
            "Study": studies["study"].map(labels).to_numpy(),
            "Tool": studies["rob_tool"].map({"rob2": "RoB 2", "robins_i": "ROBINS-I"}).to_numpy(),
            "Selection / confounding": judged["rob_selection"],
            "Missing outcome data": judged["rob_attrition"],
            "Outcome measurement": judged["rob_measurement"],
            "Overall": studies["rob_overall"].map(words).to_numpy(),
            "Reasons": studies["rob_reason"].fillna("–").to_numpy(),
        }
    )


def attrition(evidence: Evidence, options: ReportOptions) -> pd.DataFrame:
    """Dropout and retention of MBT programmes as printed (counts where printed, else the percentage)."""
    es = all_effect_sizes(evidence, options)
    rows = es[es["outcome_construct"].isin(("dropout", "retention")) & (es["condition"] == "mbt")]

    def share(r: pd.Series) -> str:
        if pd.notna(r["prop_events"]) and pd.notna(r["prop_n"]):
            return f"{int(r['prop_events'])} of {int(r['prop_n'])} ({100 * r['prop_events'] / r['prop_n']:.0f}%)"
        n = r["prop_n"] if pd.notna(r["prop_n"]) else r["n_upper"]
        return f"{r['prop_percent']:g}% of {int(n)}" + (" (n is a bound)" if pd.isna(r["prop_n"]) else "")

    return pd.DataFrame(
        {
            "Study": study_names(rows).to_numpy(),
            "Outcome": rows["instrument"].to_numpy(),
            "Months": rows["timepoint_months"].map("{:g}".format).to_numpy(),
            "Share of patients": [share(r) for _, r in rows.iterrows()],
            "Which patients": rows["analysis"].fillna("–").to_numpy(),
        }
    )


def settings_coverage(evidence: Evidence, options: ReportOptions) -> pd.DataFrame:
    """Every setting of the vocabulary: MBT samples in the arms table and samples with outcome data."""
    es = all_effect_sizes(evidence, options)
    outcome = es[es["yi"].notna() & ~es["outcome_construct"].isin(NOT_OUTCOMES) & (es["condition"] == "mbt")]
    mbt_arms = evidence.arms[evidence.arms["condition"] == "mbt"]
    rows = []
    for setting in VOCABULARIES["setting"]:
        samples = mbt_arms.loc[mbt_arms["setting"] == setting, "sample_id"].nunique()
        with_data = outcome.loc[outcome["setting"] == setting, "sample_id"].nunique()
        records = es[(es["setting"] == setting) & (es["condition"] == "mbt")]
        what = ", ".join(sorted(records["outcome_construct"].map(words).unique())) or "no record"
        rows.append(
            {
                "Setting": words(setting),
                "MBT samples in the table": samples,
                "… with a computable outcome effect": with_data,
                "What the records are": what if with_data == 0 else "–",
            }
        )
    return pd.DataFrame(rows)


def flagged_by_table(evidence: Evidence) -> pd.DataFrame:
    """Rows flagged as source conflicts (``conflict=yes``), per table: the validator's count covers
    every table, a count of effect records only the effects table."""
    counts = {
        f"{name}.csv": int(table["conflict"].fillna(False).astype(bool).sum())
        for name, table in evidence.tables.items()
        if "conflict" in table and len(table)
    }
    frame = pd.DataFrame({"Table": list(counts), "Flagged rows": list(counts.values())})
    return pd.concat([frame, pd.DataFrame([{"Table": "all tables", "Flagged rows": sum(counts.values())}])])


__all__ = [
    "attrition",
    "evidence_flow",
    "flagged_by_table",
    "risk_of_bias",
    "sample_characteristics",
    "settings_coverage",
    "studies_without_records",
    "syntheses_flow",
    "unusable_records",
]
