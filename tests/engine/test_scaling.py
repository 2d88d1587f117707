"""The engine in O(k): the P-quantities without k × k matrices equal the dense formulas, and fits at
k = 10⁵ and 10⁶ are correct (they solve their estimating equations) with memory linear in k.

No timings here (speed is measured by ``benchmarks/run.py``).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy import stats

from mbtevidence.engine import leave_one_out, meta_analysis, meta_regression
from mbtevidence.engine.numerics import WeightedFit, generalised_q


def simulate(k: int, tau2: float = 0.1, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.2, k)
    return rng.normal(0.5, np.sqrt(vi + tau2)), vi


@pytest.mark.parametrize("p", [1, 3])
def test_p_quantities_equal_the_dense_k_by_k_formulas(p) -> None:
    """P = W - WX(X'WX)⁻¹X'W formed densely (k = 60) against the O(k p²) forms."""
    rng = np.random.default_rng(3)
    k = 60
    y, v = rng.normal(size=k), rng.uniform(0.05, 0.5, k)
    X = np.column_stack([np.ones(k)] + [rng.normal(size=k) for _ in range(p - 1)])
    d1, d2 = rng.uniform(0.1, 2, k), rng.uniform(0.1, 2, k)
    fit = WeightedFit.at(y, v, np.asfortranarray(X), 0.2)
    W = np.diag(1 / (v + 0.2))
    hat = X @ np.linalg.inv(X.T @ W @ X) @ X.T @ W
    P = W - W @ X @ np.linalg.inv(X.T @ W @ X) @ X.T @ W
    assert fit.rss == pytest.approx(y @ P @ y, rel=1e-12)
    np.testing.assert_allclose(fit.p_y, P @ y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fit.leverage, np.diag(hat), rtol=1e-10)
    assert fit.trace_p() == pytest.approx(np.trace(P), rel=1e-12)
    assert fit.trace_p(d1) == pytest.approx(np.trace(P @ np.diag(d1)), rel=1e-12)
    assert fit.trace_pdpd() == pytest.approx(np.trace(P @ P), rel=1e-12)
    assert fit.trace_pdpd(d1, d2) == pytest.approx(np.trace(P @ np.diag(d1) @ P @ np.diag(d2)), rel=1e-12)
    q = generalised_q(y, v, np.asfortranarray(X))
    np.testing.assert_allclose(q(np.array([0.0, 0.2, 3.0])), [y @ P0 @ y for P0 in _dense_p(v, X, [0.0, 0.2, 3.0])])


def _dense_p(v: np.ndarray, X: np.ndarray, taus: list[float]) -> list[np.ndarray]:
    out = []
    for t in taus:
        W = np.diag(1 / (v + t))
        out.append(W - W @ X @ np.linalg.inv(X.T @ W @ X) @ X.T @ W)
    return out


@pytest.mark.parametrize("k", [10**5, 10**6])
def test_reml_with_all_statistics_at_large_k_is_correct_and_linear_in_memory(k) -> None:
    y, v = simulate(k)
    tracemalloc.start()
    try:
        d = meta_analysis(y, v, method="REML", test="knha").to_dict()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # about 10 doubles per study (80 MB at k = 10⁶); one k × k matrix would take 8k² bytes (8 TB at 10⁶)
    assert peak < 16 * 8 * k, f"peak {peak / 1e6:.0f} MB: more than 16 doubles per study"
    # REML solves its estimating equation y'PPy = tr P (Fisher scoring stopped at |step| <= 1e-5)
    fit = WeightedFit.at(y, v, np.ones((k, 1)), d["tau2"])
    assert abs(fit.p_y @ fit.p_y - fit.trace_p()) / fit.trace_pdpd() <= 1e-5
    assert d["tau2"] == pytest.approx(0.1, abs=0.01)  # the simulated τ²
    # Q-profile limits solve Q(τ²) = χ² quantiles (to R's uniroot tolerance, 1.2e-4 in τ²)
    q = generalised_q(y, v, np.ones((k, 1)))
    low, high = d["tau2_ci_low"], d["tau2_ci_high"]
    slope = (q(np.array([low + 1e-4]))[0] - q(np.array([low]))[0]) / 1e-4
    assert abs(q(np.array([low]))[0] - stats.chi2.ppf(0.975, k - 1)) <= abs(slope) * 1.2e-4
    assert abs(q(np.array([high]))[0] - stats.chi2.ppf(0.025, k - 1)) <= abs(slope) * 1.2e-4
    assert low < d["tau2"] < high
    # the pooled estimate is the weighted mean, the PI wider than the CI by τ²
    w = 1 / (v + d["tau2"])
    assert d["estimate"] == pytest.approx(np.sum(w * y) / np.sum(w), rel=1e-12)
    assert d["pi_high"] - d["pi_low"] > d["ci_high"] - d["ci_low"]


def test_meta_regression_at_large_k_recovers_the_slope() -> None:
    k = 10**5
    y, v = simulate(k, seed=2)
    x = np.random.default_rng(5).normal(size=k)
    reg = meta_regression(y + 0.3 * x, v, {"x": x})
    assert reg.coefficients.loc["x", "estimate"] == pytest.approx(0.3, abs=0.01)
    assert reg.fit.tau2 == pytest.approx(0.1, abs=0.01)


def test_leave_one_out_at_k_1000_equals_fitting_each_subset() -> None:
    y, v = simulate(1000, seed=4)
    table = leave_one_out(meta_analysis(y, v)).to_frame()
    assert len(table) == 1000
    for i in (0, 517, 999):
        keep = np.arange(1000) != i
        alone = meta_analysis(y[keep], v[keep]).to_dict()
        assert table.iloc[i][["estimate", "tau2", "ci_low", "i2"]].tolist() == pytest.approx(
            [alone["estimate"], alone["tau2"], alone["ci_low"], alone["i2"]], rel=1e-12
        )
