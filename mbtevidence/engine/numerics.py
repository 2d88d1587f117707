"""Numerical building blocks of the engine: input checks, weighted least squares in O(k), R's root finder.

Every quantity of the projection P = W - WX(X'WX)⁻¹X'W that the estimators need is computed
from weighted sums and p × p solves, never from a k × k matrix (Viechtbauer 2005, J Educ Behav
Stat 30(3), for the forms of P):

* y'Py = Σ w_i r_i², with r = y - Xβ̂ (the weighted residual sum of squares);
* Py = W r, so y'PPy = Σ (w_i r_i)²;
* with Z = W^½X, B = (X'WX)⁻¹ and g_i = z_i'Bz_i (the leverages),
  tr(P D₁ P D₂) = Σ w_i² d₁ᵢ d₂ᵢ - 2 Σ g_i w_i² d₁ᵢ d₂ᵢ + tr(B (X'W²D₁X) B (X'W²D₂X))
  for diagonal D₁, D₂; tr(P) = Σ w_i (1 - g_i).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import stats

UNIROOT_TOL = np.finfo(float).eps ** 0.25
"""R's ``uniroot()`` default tolerance, used so PM estimates and Q-profile limits equal metafor's."""


def check_inputs(yi: object, vi: object) -> tuple[np.ndarray, np.ndarray]:
    """Float arrays of effects and variances, or one ValueError naming every bad row (0-based)."""
    try:
        y = np.asarray(yi, dtype=float).ravel()
        v = np.asarray(vi, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"effect sizes and variances must be numbers ({exc})") from None
    if y.size == 0:
        raise ValueError("no effect sizes given (empty input)")
    if y.size != v.size:
        raise ValueError(f"yi has {y.size} values but vi has {v.size}")
    ok = np.isfinite(y) & np.isfinite(v) & (v > 0)
    if not ok.all():
        bad = [f"row {i}: yi={float(y[i])!r}, vi={float(v[i])!r}" for i in np.flatnonzero(~ok)[:20]]
        more = f" (and {int((~ok).sum()) - 20} more)" if (~ok).sum() > 20 else ""
        raise ValueError("effect sizes must be finite and variances finite and > 0; offending " + "; ".join(bad) + more)
    return y, v


def check_level(level: float) -> float:
    """A confidence level in percent, 50 <= level <= 99.99 (as metafor's ``level=95``)."""
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise ValueError(f"level={level!r}: give a confidence level in percent between 50 and 99.99") from None
    if not 50 <= value <= 99.99:
        raise ValueError(
            f"level={level!r}: give a confidence level in percent between 50 and 99.99 (e.g. 95, not 0.95)"
        )
    return value


def critical_value(level: float, df: float) -> float:
    """Two-sided quantile for a ``level``% interval: t(df), or the normal quantile when df is inf."""
    q = 1 - (1 - level / 100) / 2
    return float(stats.norm.ppf(q)) if math.isinf(df) else float(stats.t.ppf(q, df))


def two_sided_p(statistic: np.ndarray | float, df: float) -> np.ndarray:
    """Two-sided p value of a z (df = inf) or t(df) statistic."""
    stat = np.abs(np.asarray(statistic, dtype=float))
    return 2 * (stats.norm.sf(stat) if math.isinf(df) else stats.t.sf(stat, df))


@dataclass
class WeightedFit:
    """Weighted least squares of y on X with weights w = 1/(v + τ²), and the P-quantities in O(k p²)."""

    y: np.ndarray
    X: np.ndarray
    w: np.ndarray

    @classmethod
    def at(cls, y: np.ndarray, v: np.ndarray, X: np.ndarray, tau2: float) -> WeightedFit:
        return cls(y, X, 1.0 / (v + tau2))

    @cached_property
    def bread(self) -> np.ndarray:
        """B = (X'WX)⁻¹."""
        return np.linalg.inv(self.X.T @ (self.w[:, None] * self.X))

    @cached_property
    def beta(self) -> np.ndarray:
        return self.bread @ (self.X.T @ (self.w * self.y))

    @cached_property
    def residuals(self) -> np.ndarray:
        return self.y - self.X @ self.beta

    @cached_property
    def rss(self) -> float:
        """y'Py = Σ w r²."""
        return float(np.sum(self.w * self.residuals**2))

    @cached_property
    def leverage(self) -> np.ndarray:
        """g_i = w_i x_i'Bx_i, the diagonal of the hat matrix X B X'W."""
        return self.w * np.einsum("ij,jk,ik->i", self.X, self.bread, self.X)

    @cached_property
    def p_y(self) -> np.ndarray:
        """Py = W r."""
        return self.w * self.residuals

    def trace_p(self, d: np.ndarray | float = 1.0) -> float:
        """tr(P D) for diagonal D."""
        return float(np.sum(self.w * (1 - self.leverage) * d))

    def trace_pdpd(self, d1: np.ndarray | float = 1.0, d2: np.ndarray | float = 1.0) -> float:
        """tr(P D₁ P D₂) for diagonal D₁, D₂ (see the module docstring)."""
        w2 = self.w**2
        a = self.X.T @ ((w2 * d1)[:, None] * self.X) if np.ndim(d1) else d1 * (self.X.T @ (w2[:, None] * self.X))
        b = self.X.T @ ((w2 * d2)[:, None] * self.X) if np.ndim(d2) else d2 * (self.X.T @ (w2[:, None] * self.X))
        g = self.leverage
        return float(np.sum(w2 * d1 * d2) - 2 * np.sum(g * w2 * d1 * d2) + np.trace(self.bread @ a @ self.bread @ b))


def generalised_q(tau2: float, y: np.ndarray, v: np.ndarray, X: np.ndarray) -> float:
    """Q(τ²) = y'P(τ²)y = Σ w_i (y_i - x_i'β̂)², the weighted residual sum of squares at τ²."""
    w = 1.0 / (v + tau2)
    xw = X.T * w
    beta = np.linalg.solve(xw @ X, xw @ y)
    return float(np.sum(w * (y - X @ beta) ** 2))


def zeroin(f: Callable[[float], float], a: float, b: float, tol: float = UNIROOT_TOL, max_iter: int = 1000) -> float:
    """Root of ``f`` in [a, b] by Brent's zeroin (Forsythe, Malcolm & Moler 1977), the algorithm
    behind R's ``uniroot()``, stopping at R's default tolerance so that PM estimates and Q-profile
    limits equal metafor's to the last digit rather than only to ``tol``."""
    eps = np.finfo(float).eps
    fa, fb = f(a), f(b)
    if fa == 0:
        return a
    if fb == 0:
        return b
    c, fc = a, fa
    for _ in range(max_iter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * eps * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p, q = cb * t1, 1.0 - t1
            else:
                q, t1, t2 = fa / fc, fb / fc, fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < 0.75 * cb * q - abs(tol_act * q) / 2 and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    raise ValueError("root search did not converge")
