"""Analyses: meta-analysis, meta-regression, subgroups and cluster-robust inference.

Conventions are those of :mod:`mbtevidence.engine.model`.  Subgroup differences are tested in
both conventions, labelled: (a) separate τ² per subgroup and a Q-between test on the subgroup
estimates with their Wald SEs, χ²(G-1) (RevMan, R meta, metapsyTools); (b) a mixed-effects model
with one common τ² and its omnibus test (metafor ``mods = ~ factor(group)``; F(G-1, k-G) under
Knapp-Hartung).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .model import design_matrix, factor_order, fit_model
from .numerics import WeightedFit, check_inputs, chi2_sf
from .results import SEPARATE_TAU2, MetaAnalysisResult, MetaRegressionResult, RobustResult, SubgroupResult, TestResult
from .tau2 import Tau2Estimator


def meta_analysis(
    yi: object,
    vi: object,
    method: str | Tau2Estimator = "REML",
    test: str = "knha",
    level: float = 95,
    slab: Iterable[object] | None = None,
) -> MetaAnalysisResult:
    """Pool effect sizes with their sampling variances (random effects by default).

    Parameters
    ----------
    yi, vi : array-like
        Effect sizes and sampling variances (finite, variances > 0).
    method : str or Tau2Estimator
        τ² estimator: EE, DL, HE, ML, REML (default), PM, SJ.
    test : {"knha", "adhoc", "z"}
        Knapp-Hartung (default), Knapp-Hartung with s² truncated at 1, or Wald z.
    level : float
        Confidence level in percent (50-99.99).
    slab : array-like, optional
        Study labels.

    Returns
    -------
    MetaAnalysisResult
        Estimate, CI, prediction interval (k >= 3), τ² with Q-profile CI, I², H², Q and notes.
    """
    fit = fit_model(yi, vi, method=method, test=test, level=level)
    return MetaAnalysisResult(fit, None if slab is None else [str(s) for s in slab])


def meta_regression(
    yi: object,
    vi: object,
    mods: pd.DataFrame | pd.Series,
    method: str | Tau2Estimator = "REML",
    test: str = "knha",
    level: float = 95,
    reference: dict[str, str] | None = None,
) -> MetaRegressionResult:
    """Meta-regression on continuous and categorical moderators.

    R² = max(0, (τ²_RE - τ²_ME) / τ²_RE), τ²_RE from the intercept-only model with the same
    estimator (metafor).

    Parameters
    ----------
    yi, vi : array-like
        Effect sizes and sampling variances.
    mods : DataFrame or Series
        Moderators; text columns become treatment dummies.
    method, test, level
        As :func:`meta_analysis`.
    reference : dict, optional
        Reference level per text moderator (default: R's ``factor()`` order, first level).

    Returns
    -------
    MetaRegressionResult
    """
    mods = mods.to_frame() if isinstance(mods, pd.Series) else pd.DataFrame(mods)
    X, names, used = design_matrix(mods.reset_index(drop=True), reference)
    fit = fit_model(yi, vi, X, names, method, test, level, reference_levels=used)
    r2 = math.nan
    if fit.method != "EE" and fit.has_heterogeneity:
        tau2_re = fit_model(yi, vi, method=fit.method, test=test, level=level).tau2
        r2 = 100 * max(0.0, (tau2_re - fit.tau2) / tau2_re) if tau2_re > 0 else 0.0
    return MetaRegressionResult(fit, r2, mods)


def subgroup_analysis(
    yi: object, vi: object, groups: object, method: str | Tau2Estimator = "REML", test: str = "knha", level: float = 95
) -> SubgroupResult:
    """Pool each subgroup separately and test subgroup differences (both conventions).

    Q-between = Σ_g w_g (μ̂_g - μ̄)², w_g = 1/SE_z(μ̂_g)², df = G - 1, where SE_z is the Wald SE of
    each subgroup's estimate (the Knapp-Hartung factor is not applied to this test).

    Parameters
    ----------
    yi, vi : array-like
        Effect sizes and sampling variances.
    groups : array-like
        Subgroup label per effect size; at least two different labels.
    method, test, level
        As :func:`meta_analysis`.

    Returns
    -------
    SubgroupResult
    """
    y, v = check_inputs(yi, vi)
    names = pd.Series(np.asarray(groups, dtype=object)).astype(str)
    if len(names) != len(y):
        raise ValueError(f"groups has {len(names)} values for {len(y)} effect sizes")
    levels = sorted(names.unique(), key=factor_order)
    if len(levels) < 2:
        raise ValueError(f"a subgroup analysis needs at least two groups; every row is in group {levels[0]!r}")
    results, estimates, se_z = {}, [], []
    for name in levels:
        mask = (names == name).to_numpy()
        results[name] = meta_analysis(y[mask], v[mask], method, test, level)
        z_fit = results[name] if test == "z" else meta_analysis(y[mask], v[mask], method, "z", level)
        estimates.append(z_fit.estimate)
        se_z.append(z_fit.se)
    est, w = np.array(estimates), 1 / np.array(se_z) ** 2
    q_between = float(np.sum(w * (est - np.sum(w * est) / np.sum(w)) ** 2))
    df = len(est) - 1
    separate = TestResult("Q", q_between, df, math.inf, chi2_sf(q_between, df), SEPARATE_TAU2)
    common = meta_regression(y, v, names.rename("group"), method, test, level)
    return SubgroupResult(results, separate, common)


def cluster_robust(
    yi: object,
    vi: object,
    cluster: object,
    mods: pd.DataFrame | None = None,
    method: str | Tau2Estimator = "REML",
    level: float = 95,
) -> RobustResult:
    """Keep every estimate and account for dependency with a cluster-robust (sandwich) variance.

    Var_R(β̂) = n/(n-p) · B (Σ_c X_c'W_c e_c e_c'W_c X_c) B, B = (X'WX)⁻¹, n clusters, t(n-p)
    tests (metafor ``robust(x, cluster, adjust=TRUE)``; Hedges, Tipton & Johnson 2010).

    Parameters
    ----------
    yi, vi : array-like
        Effect sizes and sampling variances.
    cluster : array-like
        Cluster (independent sample) of each estimate.
    mods : DataFrame, optional
        Moderators.
    method, level
        As :func:`meta_analysis`.

    Returns
    -------
    RobustResult
    """
    y, v = check_inputs(yi, vi)
    if mods is None:
        X, names = np.ones((len(y), 1)), ["intrcpt"]
    else:
        X, names, _ = design_matrix(pd.DataFrame(mods).reset_index(drop=True))
    fit = fit_model(y, v, X, names, method, "z", level)
    ids = np.asarray(cluster, dtype=object)
    if len(ids) != len(y):
        raise ValueError(f"cluster has {len(ids)} values for {len(y)} effect sizes")
    codes, levels = pd.factorize(ids)
    n, p = len(levels), X.shape[1]
    if n <= p:
        raise ValueError(f"{n} clusters are too few for {p} coefficient(s)")
    wf = WeightedFit.at(y, v, fit.X, fit.tau2)
    scores = fit.X * wf.p_y[:, None]
    per_cluster = np.zeros((n, p))
    np.add.at(per_cluster, codes, scores)
    vb = n / (n - p) * wf.bread @ (per_cluster.T @ per_cluster) @ wf.bread
    notes = (
        [f"{n} clusters: cluster-robust inference is unreliable with fewer than about 10 clusters"] if n < 10 else []
    )
    return RobustResult(fit, n, vb, notes)
