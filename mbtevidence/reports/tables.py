"""Results as tables a guideline author reads: words for codes, named columns, no raw indices.

Every function takes a result of the library (a synthesis, a pooled result, a sensitivity
table) and returns a DataFrame whose column names are what a reader needs ("95% CI", "Months",
"Study"), with study labels in author-year form and vocabulary codes in words.  Numbers are
not recomputed here: they are read from the result objects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from ..engine import MetaAnalysisResult, TestResult
from ..figures.labels import (
    NAMED_GROUPINGS,
    arm_text,
    dosage_text,
    fidelity_text,
    grouping,
    n_text,
    population_text,
    study_labels,
)
from ..figures.style import CONSTRUCT_LABELS, PERIOD_LABELS, POPULATION_LABELS, SETTING_LABELS, code_label
from ..synthesis import EvidenceSynthesis
from .parameters import VOCABULARIES

TEST_WORDS = {"knha": "Knapp-Hartung", "adhoc": "Knapp-Hartung (ad hoc)", "z": "Wald z"}
REASON_SAME_SAMPLE = "another estimate of the same sample was kept"


def number(value: object, digits: int = 2) -> str:
    """A number for a table cell; '–' for a missing one."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or pd.isna(value):
        return "–"
    text = f"{float(value):.{digits}f}"  # type: ignore[arg-type]
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def interval(low: object, high: object, digits: int = 2) -> str:
    """'0.41 to 1.20' (words, so a negative limit is never read as a dash)."""
    if number(low) == "–":
        return "–"
    return f"{number(low, digits)} to {number(high, digits)}"


def p_value(p: object) -> str:
    if number(p) == "–":
        return "–"
    return "< 0.001" if float(p) < 0.001 else f"{float(p):.3f}"  # type: ignore[arg-type]


def _described(vocabulary: str) -> dict[str, str]:
    return {code: text[:1].upper() + text[1:] for code, text in VOCABULARIES[vocabulary].items()}


def words(code: object) -> str:
    """A vocabulary code in words: 'day_hospital' -> 'Day hospital', 'rct' -> 'Randomised controlled trial'."""
    if code is None or (isinstance(code, float) and math.isnan(code)) or pd.isna(code):
        return "–"
    labels = {
        **_described("design"),
        **_described("population"),
        **SETTING_LABELS,
        **POPULATION_LABELS,
        **PERIOD_LABELS,
        **CONSTRUCT_LABELS,
        "not_reported": "Not reported",
    }
    return code_label(code, labels)


def study_names(rows: pd.DataFrame) -> pd.Series:
    """Author-year labels of the rows' studies ('Bales 2017a')."""
    return study_labels(rows)


def pooled_summary(result: MetaAnalysisResult) -> dict[str, object]:
    """One row describing a pooled result."""
    d = result.to_dict()
    return {
        "k": d["k"],
        "Pooled effect": number(d["estimate"]),
        f"{d['level']:g}% CI": interval(d["ci_low"], d["ci_high"]),
        "p": p_value(d["p"]),
        "Prediction interval": interval(d["pi_low"], d["pi_high"]),
        "τ²": number(d["tau2"], 3),
        "I²": "–" if d["i2"] is None else f"{d['i2']:.0f}%",
        "Model": f"{d['method']}, {TEST_WORDS[str(d['test'])]}",
    }


def pooled_sentence(result: MetaAnalysisResult, measure: str = "SMCR") -> str:
    """'SMCR 0.82 (95% CI 0.36 to 1.28; k = 4); prediction interval -0.09 to 1.73' (or why there is none)."""
    d = result.to_dict()
    text = f"{measure} {number(d['estimate'])} ({d['level']:g}% CI {interval(d['ci_low'], d['ci_high'])}; k = {d['k']})"
    if d["pi_low"] is not None:
        return text + f"; prediction interval {interval(d['pi_low'], d['pi_high'])}"
    if d["k"] == 2 and d["test"] != "z":
        return text + "; with k = 2 the Knapp-Hartung interval has 1 degree of freedom and no prediction interval"
    return text + f"; no prediction interval with k = {d['k']}"


def results_table(results: Mapping[str, MetaAnalysisResult | None], first: str = "Analysis") -> pd.DataFrame:
    """Pooled results side by side, one row each (a None result is a row saying 'not estimable')."""
    rows = []
    for label, result in results.items():
        rows.append({first: label, **(pooled_summary(result) if result is not None else {"k": "not estimable"})})
    return pd.DataFrame(rows).fillna("–")


def rows_table(synthesis: EvidenceSynthesis) -> pd.DataFrame:
    """The pooled estimates: one row per independent sample, as a reader needs them."""
    rows = synthesis.rows
    measure = str(rows["measure"].iloc[0]) if "measure" in rows and len(rows) else "effect"
    table = pd.DataFrame(
        {
            "Study": study_names(rows).to_numpy(),
            "Programme": [arm_text(r) for _, r in rows.iterrows()],
            "Setting": rows["setting"].map(words).to_numpy(),
            "Instrument": rows["instrument"].to_numpy(),
            "Months": rows["timepoint_months"].map("{:g}".format).to_numpy(),
            "Population": [population_text(r) for _, r in rows.iterrows()],
            "n": [n_text(r) for _, r in rows.iterrows()],
            "Dosage": [dosage_text(r) or "–" for _, r in rows.iterrows()],
            "Fidelity (0–1)": [fidelity_text(r) or "–" for _, r in rows.iterrows()],
            f"Effect ({measure})": rows["yi"].map(number).to_numpy(),
            "95% CI": [interval(lo, hi) for lo, hi in zip(rows["ci_low"], rows["ci_high"], strict=True)],
            "Weight": rows["weight"].map(lambda w: f"{w:.0f}%").to_numpy(),
        }
    )
    return table


def excluded_table(synthesis: EvidenceSynthesis) -> pd.DataFrame:
    """Candidate records not pooled, grouped by study, population and reason (instruments and months listed)."""
    excluded = synthesis.excluded
    columns = ["Study", "Population", "Estimates", "Instruments", "Months", "Why not pooled"]
    if excluded.empty:
        return pd.DataFrame(columns=columns)
    reason = excluded["reason"].astype(str).map(lambda r: REASON_SAME_SAMPLE if r.startswith(REASON_SAME_SAMPLE) else r)
    table = pd.DataFrame(
        {
            "Study": study_names(excluded).to_numpy(),
            "Population": excluded["analysis_population"].map(words).to_numpy(),
            "Instrument": excluded["instrument"].to_numpy(),
            "Months": excluded["timepoint_months"].to_numpy(),
            "Why not pooled": reason.to_numpy(),
        }
    )
    rows = []
    for (study, population, why), part in table.groupby(["Study", "Population", "Why not pooled"], sort=False):
        rows.append(
            {
                "Study": study,
                "Population": population,
                "Estimates": len(part),
                "Instruments": "; ".join(dict.fromkeys(part["Instrument"])),
                "Months": ", ".join(f"{m:g}" for m in sorted(set(part["Months"]))),
                "Why not pooled": why,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def one_group_sentence(synthesis: EvidenceSynthesis) -> str:
    """Why a synthesis asked for subgroups has none (every pooled sample in one group)."""
    if synthesis.by is None:
        return "No grouping was asked for."
    key = grouping(synthesis.rows, synthesis.by).keys.iloc[0] if synthesis.by in NAMED_GROUPINGS else None
    group = group_label(synthesis, key) if key is not None else words(synthesis.rows[synthesis.by].iloc[0])
    return f"Every pooled sample is in one group ({group}): there is nothing to compare, so no subgroup test."


def group_label(synthesis: EvidenceSynthesis, key: str) -> str:
    """Words for a subgroup of the synthesis, as the forest plot names it."""
    if synthesis.by in NAMED_GROUPINGS:
        return grouping(synthesis.rows, synthesis.by).label(key)
    return words(key)


def subgroup_table(synthesis: EvidenceSynthesis) -> pd.DataFrame:
    """Each subgroup's pooled result (separate τ² per subgroup)."""
    if synthesis.subgroups is None:
        return pd.DataFrame()
    groups = synthesis.subgroups.groups
    return results_table({group_label(synthesis, g): r for g, r in groups.items()}, first="Subgroup")


def test_text(test: TestResult) -> str:
    """'F(1, 2) = 4.50, p = 0.168', 'Q-between (χ²)(1) = 6.27, p = 0.012'."""
    df = f"{test.df1:g}" if not math.isfinite(test.df2) else f"{test.df1:g}, {test.df2:g}"
    name = {"Q": "Q-between (χ²)", "QM": "QM (χ²)"}.get(test.statistic, test.statistic)
    return f"{name}({df}) = {number(test.value)}, p = {p_value(test.p)}"


def subgroup_tests(synthesis: EvidenceSynthesis) -> pd.DataFrame:
    """The test for subgroup differences in both conventions."""
    if synthesis.subgroups is None:
        return pd.DataFrame()
    separate, common = synthesis.subgroups.between_separate, synthesis.subgroups.between_common
    return pd.DataFrame(
        {
            "Convention": ["Separate τ² per subgroup (RevMan, R meta)", "One common τ² (metafor mixed-effects model)"],
            "Test": [test_text(separate), test_text(common)],
        }
    )


def subgroup_caveats(synthesis: EvidenceSynthesis) -> list[str]:
    """What a reader must know before reading the subgroup tests of a small synthesis."""
    if synthesis.subgroups is None:
        return []
    single = [group_label(synthesis, g) for g, r in synthesis.subgroups.groups.items() if r.k == 1]
    caveats = []
    if single:
        caveats.append(
            f"{', '.join(single)}: one sample only. Its own τ² cannot be estimated, so the separate-τ² test treats "
            "its estimate as exact and can look significant; read the common-τ² test."
        )
    if synthesis.overall.k < 10:
        caveats.append(
            f"k = {synthesis.overall.k}: subgroup tests on fewer than 10 samples have almost no power and compare "
            "studies that differ in much else (Cochrane Handbook 10.11.2)."
        )
    return caveats


def sensitivity_table(table: pd.DataFrame, first: str) -> pd.DataFrame:
    """A leave-one-out / cumulative table of the engine with readable columns."""
    return pd.DataFrame(
        {
            first: table.index.astype(str),
            "k": table["k"].astype(int).to_numpy(),
            "Pooled effect": table["estimate"].map(number).to_numpy(),
            "95% CI": [interval(lo, hi) for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)],
            "p": table["p"].map(p_value).to_numpy(),
            "τ²": table["tau2"].map(lambda v: number(v, 3)).to_numpy(),
            "I²": table["i2"].map(lambda v: "–" if pd.isna(v) else f"{v:.0f}%").to_numpy(),
        }
    )


def influence_table(table: pd.DataFrame) -> pd.DataFrame:
    """Influence diagnostics (metafor ``influence()``) with readable columns."""
    return pd.DataFrame(
        {
            "Study": table.index.astype(str),
            "Studentised residual": table["rstudent"].map(number).to_numpy(),
            "DFFITS": table["dffits"].map(number).to_numpy(),
            "Cook's distance": table["cook_d"].map(number).to_numpy(),
            "Covariance ratio": table["cov_r"].map(number).to_numpy(),
            "τ² without it": table["tau2_del"].map(lambda v: number(v, 3)).to_numpy(),
            "Hat": table["hat"].map(number).to_numpy(),
            "Weight": table["weight"].map(lambda w: f"{w:.0f}%").to_numpy(),
        }
    )


__all__ = [
    "excluded_table",
    "group_label",
    "influence_table",
    "interval",
    "number",
    "one_group_sentence",
    "p_value",
    "pooled_sentence",
    "pooled_summary",
    "results_table",
    "rows_table",
    "sensitivity_table",
    "study_names",
    "subgroup_caveats",
    "subgroup_table",
    "subgroup_tests",
    "test_text",
    "words",
]
