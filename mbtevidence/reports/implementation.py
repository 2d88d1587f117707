"""Implementation quality: programme periods compared, fidelity ratings, implementation outcomes.

* :func:`period_comparison` — records comparing two periods of one MBT programme (PRE-REORG vs
  REORG, Bales 2017): each instrument as printed and oriented, and per timepoint the composite
  across instruments with a CI (:func:`composite_effect`), so the comparison is one estimate per
  timepoint and not a raw list.
* :func:`fidelity_ratings` / :func:`item_ratings` — the printed ratings of ``fidelity.csv``.
* :func:`implementation_ratings` — the implementation study's expert ratings per programme
  against its implementation outcome, and :func:`ratings_plot`.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from ..evidence import Evidence
from ..figures.style import COLOURS, figure_style
from .parameters import ReportOptions
from .selection import mbt_comparisons
from .tables import interval, number, p_value, study_names, words

OUTCOME_ORDER = ("failed", "partially_successful", "successful")


def composite_effect(yi: object, vi: object, correlation: float, level: float = 95) -> dict[str, float]:
    """Mean of m dependent effects of one sample with its variance (Borenstein et al. 2009, ch. 24).

    ȳ = Σ y_i / m,  Var(ȳ) = (Σ v_i + Σ_{i≠j} r √(v_i v_j)) / m²,  CI ȳ ± z √Var(ȳ).
    r is the assumed correlation between the outcomes (1 is the most conservative: the CI of
    one average outcome; 0 treats them as independent, which overstates precision).

    Borenstein M, Hedges LV, Higgins JPT, Rothstein HR (2009). Introduction to Meta-Analysis,
    Wiley, chapter 24 ("Multiple outcomes or time-points within a study").
    """
    y, v = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    if not 0 <= correlation <= 1:
        raise ValueError(f"correlation={correlation!r} must be between 0 and 1")
    m = len(y)
    se = np.sqrt(v)
    variance = (v.sum() + correlation * (np.outer(se, se).sum() - v.sum())) / m**2
    z = stats.norm.ppf(0.5 + level / 200)
    mean = float(y.mean())
    return {
        "m": m,
        "estimate": mean,
        "se": math.sqrt(variance),
        "ci_low": mean - z * math.sqrt(variance),
        "ci_high": mean + z * math.sqrt(variance),
        "p": float(2 * stats.norm.sf(abs(mean) / math.sqrt(variance))),
    }


def period_records(evidence: Evidence, options: ReportOptions) -> pd.DataFrame:
    """Between-group records comparing two periods of one MBT programme (both arms MBT, one setting)."""
    records = mbt_comparisons(evidence, options, same_setting=True)
    return records[(records["design"] == "between") & records["yi"].notna()]


def _printed(row: pd.Series) -> str:
    if pd.notna(row.get("precalc_es")):
        meaning = {"improvement": "positive = arm 1 better", "deterioration": "positive = arm 1 worse"}
        return f"{row['precalc_metric']} = {row['precalc_es']:.2f} ({meaning.get(row['precalc_positive'], '')})"
    if pd.notna(row.get("event_arm1")):
        return f"events {row['event_arm1']:g}/{row['totaln_arm1']:g} vs {row['event_arm2']:g}/{row['totaln_arm2']:g}"
    return "means and SDs of both arms"


def comparison_rows(records: pd.DataFrame, level: float = 95) -> pd.DataFrame:
    """Between-group records one per row: as printed, and oriented (positive = arm 1 better) with CI."""
    z = stats.norm.ppf(0.5 + level / 200)
    se = np.sqrt(records["vi"])
    measures = records["measure"].dropna().unique()
    effect = f"Effect ({measures[0]}; + = arm 1 better)" if len(measures) == 1 else "Effect (+ = arm 1 better)"
    return pd.DataFrame(
        {
            "Comparison": (
                study_names(records) + ": " + records["arm"] + " vs " + records["comparator_arm"]
            ).to_numpy(),
            "Months": records["timepoint_months"].map("{:g}".format).to_numpy(),
            "Instrument": records["instrument"].to_numpy(),
            "Population": records["analysis_population"].map(words).to_numpy(),
            "As printed": [_printed(r) for _, r in records.iterrows()],
            effect: [
                number(y) + ("" if len(measures) == 1 else f" ({m})")
                for y, m in zip(records["yi"], records["measure"], strict=True)
            ],
            f"{level:g}% CI": [interval(y - z * s, y + z * s) for y, s in zip(records["yi"], se, strict=True)],
        }
    )


def period_comparison(evidence: Evidence, options: ReportOptions) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Instrument-level comparison of programme periods and the composite per timepoint.

    Returns
    -------
    (instruments, composites)
        ``instruments``: one row per record (as printed, oriented g with CI);
        ``composites``: per study, comparison and timepoint the composite across instruments at
        the options' ``outcome_correlation`` and at r = 1 (most conservative).
    """
    records = period_records(evidence, options).sort_values(["study", "timepoint_months"], kind="stable")
    if records.empty:
        return pd.DataFrame(), pd.DataFrame()
    comparison = records["arm"] + " vs " + records["comparator_arm"]
    instruments = comparison_rows(records, options.level).drop(columns=["Population"])
    rows = []
    for (_, arms, months), part in records.groupby([records["study"], comparison, "timepoint_months"]):
        for r, label in ((options.outcome_correlation, "assumed"), (1.0, "most conservative")):
            c = composite_effect(part["yi"], part["vi"], r, options.level)
            rows.append(
                {
                    "Comparison": f"{study_names(part).iloc[0]}: {arms}",
                    "Months": f"{months:g}",
                    "Instruments": c["m"],
                    "Correlation between instruments": f"{r:g} ({label})",
                    "Composite g": number(c["estimate"]),
                    f"{options.level:g}% CI": interval(c["ci_low"], c["ci_high"]),
                    "p": p_value(c["p"]),
                    "_estimate": c["estimate"],
                    "_low": c["ci_low"],
                    "_high": c["ci_high"],
                }
            )
    return instruments, pd.DataFrame(rows)


def fidelity_ratings(evidence: Evidence) -> pd.DataFrame:
    """Total fidelity scores per programme (period), as printed and rescaled to 0–1."""
    fidelity = evidence.tables["fidelity"]
    totals = fidelity[fidelity["item"].isna()]
    arms = evidence.arms.set_index(["study", "arm"])

    def printed(r: pd.Series) -> str:
        if pd.notna(r["mean"]):
            sd = f" (SD {r['sd']:g})" if pd.notna(r["sd"]) else ""
            return f"{r['mean']:g}{sd} on {r['scale_min']:g}–{r['scale_max']:g}"
        if pd.notna(r["percent_low"]):
            return f"{r['percent_low']:g}–{r['percent_high']:g}% positive scores"
        return str(r["value_as_printed"])

    return pd.DataFrame(
        {
            "Study": study_names(totals).to_numpy(),
            "Programme": [arms.loc[(s, a), "label"] for s, a in zip(totals["study"], totals["arm"], strict=True)],
            "Instrument": totals["instrument"].to_numpy(),
            "Rater": totals["rater_type"].map(words).to_numpy(),
            "As printed": [printed(r) for _, r in totals.iterrows()],
            "Rescaled 0–1": totals["rescaled_0_1"].map(number).to_numpy(),
        }
    )


def item_ratings(evidence: Evidence, study: str) -> pd.DataFrame:
    """Item ratings of one study's programme periods side by side (as printed)."""
    fidelity = evidence.tables["fidelity"]
    items = fidelity[(fidelity["study"] == study) & fidelity["item"].notna()]
    if items.empty:
        return pd.DataFrame()
    shown = items.assign(
        value=items["mean"].map(lambda v: f"{v:g}").where(items["mean"].notna(), items["value_as_printed"])
    )
    table = shown.pivot_table(index=["level", "item"], columns="arm", values="value", aggfunc="first", sort=False)
    table = table.reset_index().rename(columns={"level": "Level", "item": "Item"})
    table["Level"] = table["Level"].map(words)
    return table.fillna("–")


def implementation_ratings(evidence: Evidence) -> pd.DataFrame:
    """Programmes of the implementation study (expert ratings per level) with their implementation
    outcome: one row per programme, ordered failed → successful."""
    fidelity = evidence.tables["fidelity"]
    arms = evidence.arms[evidence.arms["implementation_outcome"].notna()]
    rated = fidelity[fidelity["rescaled_0_1"].notna() & (fidelity["rater_type"] == "expert")]
    rated = rated.merge(arms[["study", "arm", "label", "setting", "implementation_outcome"]], on=["study", "arm"])
    if rated.empty:
        return pd.DataFrame()
    table = rated.pivot_table(
        index=["study", "arm", "label", "setting", "implementation_outcome"],
        columns="level",
        values="mean",
        aggfunc="mean",
    ).reset_index()
    table["_order"] = table["implementation_outcome"].map({o: i for i, o in enumerate(OUTCOME_ORDER)})
    return table.sort_values(["_order", "arm"]).reset_index(drop=True)


LEVEL_WORDS = {
    "programme": "Combination of levels",
    "organisation": "Organisational factors",
    "team": "Team factors",
    "therapist": "Therapist factors",
}


def ratings_table(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`implementation_ratings` for reading: programme, setting, outcome, ratings as printed."""
    levels = [c for c in LEVEL_WORDS if c in table]
    shown = pd.DataFrame(
        {
            "Programme": table["label"].to_numpy(),
            "Setting": table["setting"].map(words).to_numpy(),
            "Implementation outcome": table["implementation_outcome"].map(words).to_numpy(),
        }
    )
    for level in levels:
        shown[LEVEL_WORDS[level]] = table[level].map("{:g}".format).to_numpy()
    return shown


def ratings_vs_outcome(table: pd.DataFrame) -> pd.DataFrame:
    """Spearman rank correlation of each level's rating with the outcome (failed < partial < successful)."""
    levels = [c for c in ("programme", "organisation", "team", "therapist") if c in table]
    rows = []
    for level in levels:
        rho, p = stats.spearmanr(table["_order"], table[level])
        rows.append(
            {
                "Contribution rated": LEVEL_WORDS[level],
                "Programmes": len(table),
                "Spearman ρ": number(rho),
                "p": p_value(p),
            }
        )
    return pd.DataFrame(rows)


def ratings_plot(table: pd.DataFrame, scale_max: float = 5):
    """Each programme's expert rating per level against its implementation outcome."""
    levels = [c for c in ("programme", "organisation", "team", "therapist") if c in table]
    with figure_style():
        fig, axes = plt.subplots(1, len(levels), figsize=(2.1 * len(levels) + 0.6, 2.8), sharey=True)
        for ax, level in zip(np.atleast_1d(axes), levels, strict=True):
            x = table["_order"] + np.linspace(-0.12, 0.12, len(table))
            ax.scatter(x, table[level], color=COLOURS["study"], s=22, zorder=3)
            for xi, yi, arm in zip(x, table[level], table["arm"], strict=True):
                ax.annotate(
                    str(arm).replace("CASE-", ""),
                    (xi, yi),
                    xytext=(4, 0),
                    textcoords="offset points",
                    fontsize=6.5,
                    va="center",
                    color=COLOURS["muted"],
                )
            ax.set_xticks(range(len(OUTCOME_ORDER)), ["failed", "partial", "successful"])
            ax.set_xlim(-0.5, len(OUTCOME_ORDER) - 0.5)
            ax.set_ylim(0, scale_max)
            ax.set_title(LEVEL_WORDS[level])
            ax.grid(axis="y", color=COLOURS["grid"])
        np.atleast_1d(axes)[0].set_ylabel(f"Contributed to success or failure (0–{scale_max:g})")
        fig.suptitle(
            "Expert ratings of what contributed, by implementation outcome (letters: programmes A–G)", fontsize=9
        )
        fig.tight_layout()
    return fig


def composite_plot(composites: pd.DataFrame):
    """The composite comparison of periods per timepoint with its CI (assumed and conservative r)."""
    with figure_style():
        fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(composites) + 1.2))
        correlation = composites["Correlation between instruments"].str.split(" ").str[0]
        labels = [
            f"{c}, {m} months (r = {r})"
            for c, m, r in zip(composites["Comparison"], composites["Months"], correlation, strict=True)
        ]
        y = np.arange(len(composites))[::-1]
        ax.errorbar(
            composites["_estimate"],
            y,
            xerr=[composites["_estimate"] - composites["_low"], composites["_high"] - composites["_estimate"]],
            fmt="D",
            color=COLOURS["pooled"],
            capsize=3,
        )
        ax.axvline(0, color=COLOURS["null"], lw=0.8)
        ax.set_yticks(y, labels)
        ax.set_xlabel("Composite g across instruments (positive = first period better)")
        fig.tight_layout()
    return fig


__all__ = [
    "comparison_rows",
    "composite_effect",
    "composite_plot",
    "fidelity_ratings",
    "implementation_ratings",
    "item_ratings",
    "period_comparison",
    "period_records",
    "ratings_plot",
    "ratings_table",
    "ratings_vs_outcome",
]
