"""Sensitivity of a synthesis to the choices behind it, each as a readable table.

Every row is a result of the library: the few-study comparison
(:func:`mbtevidence.engine.few_study_comparison`), τ² estimators and tests
(:func:`mbtevidence.meta_analysis`), the selection rule (:class:`mbtevidence.SelectionRule`),
overlapping samples (``evidence/overlap.csv``), dependence (one estimate per sample vs all
estimates with cluster-robust inference) and the pre-post correlation
(:func:`mbtevidence.correlation_sweep`).
"""

from __future__ import annotations

import pandas as pd

from ..engine import MetaAnalysisResult, MethodComparison, few_study_comparison, leave_one_out, meta_analysis
from ..engine.tau2 import ESTIMATORS
from ..evidence import Evidence
from ..figures.labels import row_names
from ..synthesis import EvidenceSynthesis, correlation_sweep
from .selection import Selection
from .tables import TEST_WORDS, group_label, interval, number, p_value, results_table, study_names, words

FEW_STUDIES = 5
OVERLAP_DROPPED = ("same_patients", "probable_overlap")


METHOD_NAMES = {
    "REML + z": "REML, Wald z",
    "REML + knha": "REML, Knapp-Hartung",
    "REML + adhoc": "REML, Knapp-Hartung (ad hoc)",
    "DL + z": "DerSimonian-Laird, Wald z",
}


def comparison_table(comparison: MethodComparison) -> pd.DataFrame:
    """The few-study comparison with readable columns."""
    table = comparison.to_frame()
    names = METHOD_NAMES
    return pd.DataFrame(
        {
            "Method": [names.get(m, m) for m in table.index],
            "Pooled effect": table["estimate"].map(number).to_numpy(),
            f"{comparison.level:g}% interval": [
                interval(lo, hi) for lo, hi in zip(table["low"], table["high"], strict=True)
            ],
            "Prediction interval": [interval(lo, hi) for lo, hi in zip(table["pi_low"], table["pi_high"], strict=True)],
            "τ": table["tau"].map(lambda v: number(v, 3)).to_numpy(),
            "p (Bayesian: P(μ ≤ 0))": table["p"].map(p_value).to_numpy(),
        }
    )


def few_study_comparisons(synthesis: EvidenceSynthesis, tau_prior: str) -> dict[str, MethodComparison]:
    """The comparison for the overall result and every subgroup with 2 <= k < 5, by readable name."""
    found = {}
    if 2 <= synthesis.overall.k < FEW_STUDIES:
        found["All samples"] = few_study_comparison(synthesis.overall, tau_prior=tau_prior)
    if synthesis.subgroups is not None:
        for name, result in synthesis.subgroups.groups.items():
            if 2 <= result.k < FEW_STUDIES:
                found[group_label(synthesis, name)] = few_study_comparison(result, tau_prior=tau_prior)
    return found


def estimator_table(synthesis: EvidenceSynthesis, tests: tuple[str, ...] = ("knha", "z")) -> pd.DataFrame:
    """The pooled result under every τ² estimator and test (same samples)."""
    fit = synthesis.fit
    results = {
        f"{method}, {TEST_WORDS[test]}": meta_analysis(fit.y, fit.v, method, test, fit.level)
        for method in ESTIMATORS
        for test in tests
    }
    return results_table(results, first="τ² estimator, test").drop(columns="Model")


def rule_table(selection: Selection) -> pd.DataFrame:
    """ITT-first (default) against completers-first selection of one estimate per sample."""
    results = {}
    for population, label in (("itt_first", "ITT first (default)"), ("completers_first", "completers first")):
        synthesis = selection.pool(rule=selection.rule(population))
        populations = ", ".join(sorted(synthesis.rows["analysis_population"].astype(str).unique()))
        results[f"{label}: {populations}"] = synthesis.overall
    return results_table(results, first="Selection rule: populations pooled")


def overlapping_samples(selection: Selection, evidence: Evidence) -> tuple[set[str], list[str]]:
    """Samples to leave out for overlap, and why.

    For each pair of ``overlap.csv`` with relation same_patients or probable_overlap whose two
    samples are both pooled, the sample with fewer patients behind its estimate is left out.
    """
    full = selection.pool()
    rows = full.rows.set_index("sample_id")
    name = dict(zip(full.rows["sample_id"], names_of(full), strict=True))
    overlap = evidence.tables["overlap"]
    dropped: set[str] = set()
    reasons: list[str] = []
    for _, pair in overlap[overlap["relation"].isin(OVERLAP_DROPPED)].iterrows():
        a, b = pair["sample_a"], pair["sample_b"]
        if a in rows.index and b in rows.index and not {a, b} & dropped:
            smaller = a if rows.at[a, "n"] < rows.at[b, "n"] else b
            dropped.add(smaller)
            other = a if smaller == b else b
            reasons.append(f"{name[smaller]} left out: {pair['relation'].replace('_', ' ')} with {name[other]}")
    return dropped, reasons


def without_overlap(selection: Selection, evidence: Evidence) -> MetaAnalysisResult | None:
    """The synthesis without overlapping samples (None when nothing overlaps or nothing is left)."""
    dropped, _ = overlapping_samples(selection, evidence)
    kept = selection.effects[~selection.effects["sample_id"].isin(dropped)]
    return selection.pool(effects=kept).overall if dropped and not kept.empty else None


def overlap_table(selection: Selection, evidence: Evidence) -> tuple[pd.DataFrame, list[str]]:
    """The synthesis with and without overlapping samples (:func:`overlapping_samples`), and why."""
    dropped, reasons = overlapping_samples(selection, evidence)
    results: dict[str, MetaAnalysisResult | None] = {"all pooled samples": selection.pool().overall}
    if dropped:
        results["without overlapping samples"] = without_overlap(selection, evidence)
    return results_table(results, first="Samples"), reasons


def dependence_table(selection: Selection) -> pd.DataFrame:
    """One estimate per sample (default) against every candidate estimate with cluster-robust inference."""
    one = selection.pool()
    everything = selection.pool(dependence="cluster_robust")
    d = one.overall.to_dict()
    rows = [
        {
            "Estimates": f"one per independent sample (k = {d['k']})",
            "Pooled effect": number(d["estimate"]),
            "95% CI": interval(d["ci_low"], d["ci_high"]),
        }
    ]
    if everything.robust is not None:
        frame = everything.robust.to_frame().iloc[0]
        rows.append(
            {
                "Estimates": f"all {everything.robust.fit.k} estimates in {everything.robust.clusters} samples, "
                f"cluster-robust t({everything.robust.df:g})",
                "Pooled effect": number(frame["estimate"]),
                "95% CI": interval(frame["ci_low"], frame["ci_high"]),
            }
        )
    return pd.DataFrame(rows)


def correlation_table(synthesis: EvidenceSynthesis, evidence: Evidence) -> pd.DataFrame:
    """The synthesis recomputed at assumed pre-post correlations 0.3-0.9 (printed ri kept)."""
    sweep = correlation_sweep(synthesis, evidence.records, (0.3, 0.5, 0.7, 0.9))
    return pd.DataFrame(
        {
            "Assumed pre-post r": [f"{r:g}" for r in sweep.index],
            "k": sweep["k"].astype(int).to_numpy(),
            "Pooled effect": sweep["estimate"].map(number).to_numpy(),
            "95% CI": [interval(lo, hi) for lo, hi in zip(sweep["ci_low"], sweep["ci_high"], strict=True)],
            "τ²": sweep["tau2"].map(lambda v: number(v, 3)).to_numpy(),
            "I²": sweep["i2"].map(lambda v: "–" if pd.isna(v) else f"{v:.0f}%").to_numpy(),
        }
    )


def summary_table(
    selection: Selection, synthesis: EvidenceSynthesis, evidence: Evidence, comparison: MethodComparison
) -> pd.DataFrame:
    """Every alternative analysis of this report in one table (``estimate`` column numeric)."""
    rows = [("main analysis", synthesis.overall.estimate, synthesis.overall.to_dict())]
    loo = leave_one_out(synthesis.overall).to_frame()
    rows += [
        (f"leave out {name}", r["estimate"], r)
        for name, r in zip(names_of(synthesis), loo.to_dict("records"), strict=True)
    ]
    sweep = correlation_sweep(synthesis, evidence.records, (0.3, 0.5, 0.7, 0.9))
    rows += [(f"pre-post r = {r:g}", v["estimate"], v) for r, v in sweep.iterrows()]
    completers = selection.pool(rule=selection.rule("completers_first")).overall
    rows.append(("completers first", completers.estimate, completers.to_dict()))
    without = without_overlap(selection, evidence)
    if without is not None:
        rows.append(("without overlapping samples", without.estimate, without.to_dict()))
    robust = selection.pool(dependence="cluster_robust").robust
    if robust is not None:
        frame = robust.to_frame().iloc[0]
        rows.append(("all estimates, cluster-robust", frame["estimate"], frame.to_dict()))
    table = comparison.to_frame()
    rows += [
        (f"method: {METHOD_NAMES.get(str(m), m)}", v["estimate"], {"ci_low": v["low"], "ci_high": v["high"]})
        for m, v in table.iterrows()
    ]
    return pd.DataFrame(
        {
            "Analysis": [r[0] for r in rows],
            "Pooled effect": [number(r[1]) for r in rows],
            "Interval": [interval(r[2]["ci_low"], r[2]["ci_high"]) for r in rows],
            "estimate": [float(r[1]) for r in rows],
        }
    )


def names_of(synthesis: EvidenceSynthesis) -> list[str]:
    """Readable names of the pooled samples ('Bales 2017 – Day hospital'), in pooling order."""
    rows = synthesis.rows
    return list(row_names(rows, study_names(rows)) + " – " + rows["setting"].map(words))


__all__ = [
    "comparison_table",
    "correlation_table",
    "dependence_table",
    "estimator_table",
    "few_study_comparisons",
    "names_of",
    "overlap_table",
    "overlapping_samples",
    "rule_table",
    "summary_table",
    "without_overlap",
]
