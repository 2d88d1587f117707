"""The rows of a forest plot, top to bottom, from an :class:`~mbtevidence.synthesis.EvidenceSynthesis`.

Per subgroup: a heading, the study rows, the pooled row, a heterogeneity line (τ², I², Q(df), p)
and the prediction interval as its own row where it is defined (random effects, k >= 3); then the
same for all samples and the test for subgroup differences in both conventions.  Subgroups that
exist in the evidence but have no pooled estimate appear as a row saying why.

Weights shown (and square areas) are those of the model whose diamond the study belongs to: the
subgroup's own model (separate τ² per subgroup) when the plot is grouped, else the overall model.
When the plot is grouped differently from the synthesis (``group_by`` other than
``synthesis.by``), subgroups are re-derived with the engine's :func:`subgroup_analysis` using the
synthesis' τ² estimator, test and level.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..engine import MetaAnalysisResult, SubgroupResult, few_study_comparison, meta_analysis, subgroup_analysis
from ..synthesis import EvidenceSynthesis
from .labels import (
    Grouping,
    arm_text,
    dosage_text,
    fidelity_text,
    grouping,
    interval_text,
    n_text,
    number,
    p_text,
    population_text,
    present,
    statistic_text,
    study_labels,
)
from .style import (
    CONSTRUCT_LABELS,
    MEASURE_LABELS,
    NOT_REPORTED,
    RATIO_MEASURES,
    SETTING_LABELS,
    code_label,
    lower_first,
)

CONFLICT_MARK = "†"
FEW_STUDIES = 5
FEW_STUDY_METHODS = {"few_knha": "REML + knha", "few_adhoc": "REML + adhoc", "few_bayes": "Bayesian (normal-normal)"}
"""Columns of the few-study comparison and the rows of its table they show."""
TEST_NAMES = {"knha": "Knapp-Hartung CIs", "adhoc": "Knapp-Hartung CIs with s² ≥ 1 (ad hoc)", "z": "Wald z CIs"}


@dataclass
class ForestRow:
    """One row: ``kind`` is heading, study, pooled, heterogeneity, prediction, empty or test;
    ``text`` spans the left columns, ``cells`` fill named columns."""

    kind: str
    text: str = ""
    cells: dict[str, str] = field(default_factory=dict)
    estimate: float = math.nan
    low: float = math.nan
    high: float = math.nan
    weight: float = math.nan
    k: int = 0
    conflict: bool = False
    n_bound: bool = False
    overall: bool = False


@dataclass
class ForestTable:
    """Everything a forest plot shows, in words and numbers, before any drawing."""

    rows: list[ForestRow]
    measure: str
    level: float
    title: str
    subtitle: str
    grouping: Grouping | None
    grouped: bool
    notes: list[str]
    alt_text: str

    @property
    def ratio(self) -> bool:
        return self.measure in RATIO_MEASURES


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def flagged(value: object) -> bool:
    """A yes/no column's value is yes (True, 1; missing is no)."""
    return present(value) and bool(value)


def model_words(synthesis: EvidenceSynthesis) -> str:
    fit = synthesis.fit
    model = "common-effect model" if fit.method == "EE" else f"random-effects model (τ² by {fit.method})"
    return f"{model}, {TEST_NAMES[fit.test]}"


def _pooled_interval(result: MetaAnalysisResult) -> dict[str, float]:
    pred = result.fit.predict(np.ones((1, 1)))
    return {name: float(pred[name][0]) for name in ("pred", "ci_low", "ci_high", "pi_low", "pi_high")}


def heterogeneity_text(result: MetaAnalysisResult) -> str:
    """'Heterogeneity: τ² = 0.028; I² = 50%; Q(3) = 6.10, p = 0.11' (and why a PI is missing)."""
    fit = result.fit
    if not fit.has_heterogeneity:
        return "Single estimate: no heterogeneity statistics"
    parts = ([f"τ² = {number(fit.tau2, 3)}"] if fit.is_random else []) + [
        f"I² = {fit.i2:.0f}%",
        f"Q({fit.k - fit.n_coef}) = {fit.qe:.2f}, {p_text(fit.qe_p)}",
    ]
    if fit.is_random and not fit.prediction_defined:
        parts.append(f"no prediction interval (k = {fit.k} < 3)")
    return "Heterogeneity: " + "; ".join(parts)


def _group_results(
    synthesis: EvidenceSynthesis, groups: Grouping
) -> tuple[dict[str, MetaAnalysisResult], SubgroupResult | None]:
    """Pooled result per subgroup and the subgroup test among groups with a reported value."""
    rows, fit = synthesis.rows, synthesis.fit
    known = (groups.keys != NOT_REPORTED).to_numpy()
    subgroups = None
    if groups.keys[known].nunique() >= 2:
        reuse = synthesis.subgroups is not None and groups.name == synthesis.by and known.all()
        subgroups = (
            synthesis.subgroups
            if reuse
            else subgroup_analysis(
                rows["yi"][known], rows["vi"][known], groups.keys[known], fit.method, fit.test, fit.level
            )
        )
    results = dict(subgroups.groups) if subgroups is not None else {}
    for key in groups.keys.unique():
        if key not in results:
            mask = (groups.keys == key).to_numpy()
            results[key] = meta_analysis(rows["yi"][mask], rows["vi"][mask], fit.method, fit.test, fit.level)
    return results, subgroups


def _empty_groups(synthesis: EvidenceSynthesis, groups: Grouping, given: dict[str, str]) -> dict[str, str]:
    """Groups without a pooled estimate: records of the synthesis left out (with their reason),
    then the caller's ``given`` reasons (by code or by label)."""
    found: dict[str, str] = {}
    excluded = synthesis.excluded
    if len(excluded) and groups.column in excluded:
        keys = grouping(excluded, groups.name).keys
        for key in sorted(set(keys) - set(groups.keys) - {NOT_REPORTED}):
            reasons = Counter(str(r).split(" (")[0] for r in excluded.loc[keys == key, "reason"])
            count = int((keys == key).sum())
            found[key] = f"no pooled estimate: {count} record(s) left out ({reasons.most_common(1)[0][0]})"
    by_label = {label: key for key, label in groups.labels.items()}
    for name, reason in given.items():
        key = by_label.get(name, name)
        if groups.closed and key not in groups.order:
            raise ValueError(f"empty_groups: {name!r} is not a group of {groups.name} ({', '.join(groups.order)})")
        found[key] = reason
    return {key: reason for key, reason in found.items() if key not in set(groups.keys)}


def _study_rows(
    synthesis: EvidenceSynthesis, index: pd.Index, weights: pd.Series, labels: pd.Series, ratio: bool
) -> list[ForestRow]:
    part = synthesis.rows.loc[index].assign(_label=labels[index])
    sort = ["year", "_label"] if "year" in part else ["_label"]
    out = []
    for i, row in part.sort_values(sort, kind="stable").iterrows():
        conflict = flagged(row.get("conflict"))
        out.append(
            ForestRow(
                "study",
                cells={
                    "study": row["_label"] + (f" {CONFLICT_MARK}" if conflict else ""),
                    "arm": arm_text(row),
                    "setting": code_label(row["setting"], SETTING_LABELS) if present(row.get("setting")) else "",
                    "dosage": dosage_text(row),
                    "fidelity": fidelity_text(row),
                    "n": n_text(row),
                    "population": population_text(row),
                    "estimate": interval_text(row["yi"], row["ci_low"], row["ci_high"], ratio),
                    "weight": f"{weights[i]:.1f}",
                },
                estimate=float(row["yi"]),
                low=float(row["ci_low"]),
                high=float(row["ci_high"]),
                weight=float(weights[i]),
                conflict=conflict,
                n_bound=flagged(row.get("n_bound")),
            )
        )
    return out


def few_study_cells(result: MetaAnalysisResult, ratio: bool) -> dict[str, str]:
    """The pooled result refitted by REML + Knapp-Hartung, the ad hoc variant and the Bayesian
    model (:func:`~mbtevidence.engine.few_study_comparison`), for subgroups with 2 <= k < 5."""
    if not 2 <= result.k < FEW_STUDIES:
        return {}
    table = few_study_comparison(result).table
    return {
        column: interval_text(table.loc[method, "estimate"], table.loc[method, "low"], table.loc[method, "high"], ratio)
        for column, method in FEW_STUDY_METHODS.items()
    }


def _pooled_rows(
    label: str, result: MetaAnalysisResult, ratio: bool, weight: str, overall: bool, few_study: bool
) -> list[ForestRow]:
    iv = _pooled_interval(result)
    cells = {"estimate": interval_text(iv["pred"], iv["ci_low"], iv["ci_high"], ratio), "weight": weight}
    rows = [
        ForestRow(
            "pooled",
            text=label,
            cells=cells | (few_study_cells(result, ratio) if few_study else {}),
            estimate=iv["pred"],
            low=iv["ci_low"],
            high=iv["ci_high"],
            k=result.k,
            overall=overall,
        ),
        ForestRow("heterogeneity", text=heterogeneity_text(result), k=result.k, overall=overall),
    ]
    if result.fit.prediction_defined:
        rows.append(
            ForestRow(
                "prediction",
                text="Prediction interval",
                cells={"estimate": interval_text(math.nan, iv["pi_low"], iv["pi_high"], ratio)},
                low=iv["pi_low"],
                high=iv["pi_high"],
                k=result.k,
                overall=overall,
            )
        )
    return rows


def _test_rows(subgroups: SubgroupResult | None, groups: Grouping, present: list[str]) -> list[ForestRow]:
    if subgroups is None:
        reported = [k for k in present if k != NOT_REPORTED]
        why = (
            f"every pooled sample is in one group ({groups.label(reported[0])})"
            if len(present) == 1 and reported
            else "fewer than two groups with a reported value"
        )
        return [ForestRow("test", text=f"No test for subgroup differences: {why}")]
    common = subgroups.common.fit.tau2
    excluded = " among groups with a value" if NOT_REPORTED in present else ""
    return [
        ForestRow(
            "test",
            text=f"Subgroup differences{excluded}, separate τ² per subgroup (RevMan, R meta): "
            f"{statistic_text(subgroups.between_separate)}",
        ),
        ForestRow(
            "test",
            text=f"Subgroup differences{excluded}, one common τ² = {number(common, 3)} (metafor mixed-effects "
            f"model): {statistic_text(subgroups.between_common)}",
        ),
    ]


def _title(synthesis: EvidenceSynthesis, timepoints: str | None) -> tuple[str, str]:
    rows = synthesis.rows
    constructs = rows["outcome_construct"].dropna().unique() if "outcome_construct" in rows else []
    construct = " / ".join(code_label(c, CONSTRUCT_LABELS) for c in constructs) or "Pooled estimates"
    if timepoints is None and "timepoint_months" in rows and rows["timepoint_months"].notna().any():
        low, high = rows["timepoint_months"].min(), rows["timepoint_months"].max()
        timepoints = f"{low:g} months" if low == high else f"{low:g}–{high:g} months"
        if synthesis.rule.target_months is not None:
            timepoints += f" (per sample the timepoint closest to {synthesis.rule.target_months:g})"
    title = construct + (f" at {timepoints}" if timepoints else "")
    measure = str(rows["measure"].iloc[0]) if "measure" in rows else ""
    if synthesis.dependence == "one_per_sample":
        first = "ITT first" if synthesis.rule.population == "itt_first" else "completers first"
        dependence = f"one estimate per independent sample ({first})"
    else:
        dependence = "every estimate, cluster-robust inference by sample"
    subtitle = f"{MEASURE_LABELS.get(measure, measure)}; {model_words(synthesis)}; {dependence}"
    return title, subtitle


def _alt_text(table: ForestTable, synthesis: EvidenceSynthesis, results: dict[str, MetaAnalysisResult]) -> str:
    iv = _pooled_interval(synthesis.overall)
    fit = synthesis.fit
    exp = math.exp if table.ratio else float
    parts = [
        f"Forest plot: {table.title}. {plural(fit.k, 'estimate')} from "
        f"{plural(synthesis.rows['study'].nunique(), 'study', 'studies')}; {lower_first(table.subtitle)}.",
        f"Overall pooled estimate {number(exp(iv['pred']))} ({table.level:g}% CI {number(exp(iv['ci_low']))} to "
        f"{number(exp(iv['ci_high']))}); {heterogeneity_text(synthesis.overall)}"
        + (
            f"; prediction interval {number(exp(iv['pi_low']))} to {number(exp(iv['pi_high']))}."
            if fit.prediction_defined
            else "."
        ),
    ]
    if table.grouped and table.grouping is not None:
        groups = "; ".join(
            f"{table.grouping.label(key)} {number(exp(_pooled_interval(r)['pred']))} (k = {r.k})"
            for key, r in results.items()
        )
        parts.append(f"By {table.grouping.name.replace('_', ' ')}: {groups}.")
    parts += [row.text + "." for row in table.rows if row.kind in ("test", "empty")]
    conflicts = [row for row in table.rows if row.kind == "study" and row.conflict]
    if conflicts:
        share = float(synthesis.rows["weight"][synthesis.rows["conflict"].map(flagged)].sum())
        parts.append(
            f"{len(conflicts)} of {fit.k} estimates ({share:.0f}% of the overall weight) come from records "
            f"flagged as source conflicts."
        )
    return " ".join(parts)


def forest_table(
    synthesis: EvidenceSynthesis,
    group_by: str | None = "synthesis",
    label: str = "study",
    empty_groups: dict[str, str] | None = None,
    timepoints: str | None = None,
    few_study: bool = False,
    title: str | None = None,
) -> ForestTable:
    """Rows of the forest plot of ``synthesis``; arguments as :func:`~mbtevidence.figures.forest_plot`."""
    rows, fit = synthesis.rows, synthesis.fit
    measure = str(rows["measure"].iloc[0]) if "measure" in rows else ""
    ratio = measure in RATIO_MEASURES
    labels = study_labels(rows, label)
    column = synthesis.by if group_by == "synthesis" else group_by
    out: list[ForestRow] = []
    groups, results, subgroups, grouped = None, {"all": synthesis.overall}, None, False
    if column is None:
        weights = pd.Series(fit.weights, index=rows.index)
        out += _study_rows(synthesis, rows.index, weights, labels, ratio)
    else:
        groups = grouping(rows, column)
        results, subgroups = _group_results(synthesis, groups)
        present = [k for k in groups.order if k in results] + sorted(set(results) - set(groups.order))
        grouped = len(present) > 1
        empties = _empty_groups(synthesis, groups, empty_groups or {})
        order = [k for k in [*groups.order, *present, *empties] if k in results or k in empties]
        for key in dict.fromkeys(order):
            if key in empties:
                out += [ForestRow("heading", text=groups.label(key)), ForestRow("empty", text=empties[key])]
                continue
            index = rows.index[(groups.keys == key).to_numpy()]
            weights = pd.Series(results[key].fit.weights if grouped else fit.weights[np.isin(rows.index, index)])
            weights.index = index
            out.append(ForestRow("heading", text=f"{groups.label(key)}, k = {len(index)}"))
            out += _study_rows(synthesis, index, weights, labels, ratio)
            if grouped and len(index) > 1:
                out += _pooled_rows(f"Pooled, k = {len(index)}", results[key], ratio, "100.0", False, few_study)
            elif grouped:
                out.append(ForestRow("heterogeneity", text="Single estimate: nothing to pool in this subgroup", k=1))
    overall_label = f"Overall, all samples, k = {fit.k}" if column is not None else f"Pooled, k = {fit.k}"
    out += _pooled_rows(overall_label, synthesis.overall, ratio, "" if grouped else "100.0", True, few_study)
    if groups is not None:
        out += _test_rows(subgroups, groups, [k for k in results if k != "all"])
    built, subtitle = _title(synthesis, timepoints)
    title = title or built
    if groups is not None:
        subtitle += f"; grouped by {groups.name.replace('_', ' ')}"
    notes = [groups.statement] if groups is not None and groups.statement else []
    explained = any(r.kind == "test" and r.text.startswith("No test") for r in out)
    notes += [  # the synthesis' own notes; a missing subgroup test is already a row of the plot
        f"Note: {n}." for n in synthesis.notes if not (explained and "no subgroup test" in n)
    ]
    table = ForestTable(out, measure, fit.level, title, subtitle, groups, grouped, notes, "")
    table.alt_text = _alt_text(table, synthesis, {k: v for k, v in results.items() if k != "all"})
    return table
