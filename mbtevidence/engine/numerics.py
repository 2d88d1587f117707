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
from collections.abc import Callable, Generator

import numpy as np
from scipy import special

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
    return float(special.ndtri(q)) if math.isinf(df) else float(special.stdtrit(df, q))


def two_sided_p(statistic: np.ndarray | float, df: float) -> np.ndarray:
    """Two-sided p value of a z (df = inf) or t(df) statistic."""
    stat = -np.abs(np.asarray(statistic, dtype=float))
    return 2 * (special.ndtr(stat) if math.isinf(df) else special.stdtr(df, stat))


def ratio(numerator: np.ndarray | float, denominator: np.ndarray | float) -> np.ndarray:
    """numerator / denominator, ±inf for a zero denominator and NaN for 0/0, without warnings (a
    statistic over a standard error of 0; the model's notes say why)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.true_divide(numerator, denominator)


# scipy.special's distribution functions are the ones scipy.stats calls, without its per-call overhead
def chi2_sf(x: float, df: float) -> float:
    """P(χ²(df) > x)."""
    return float(special.chdtrc(df, x))


def chi2_quantile(q: float, df: float) -> float:
    """The q-quantile of χ²(df)."""
    return float(2 * special.gammaincinv(df / 2, q))


def f_sf(x: float, df1: float, df2: float) -> float:
    """P(F(df1, df2) > x)."""
    return float(special.fdtrc(df1, df2, x))


def working_scale(v: np.ndarray) -> float:
    """The unit in which τ² is searched: 1 when s = √mean(v) lies in [0.01, 100], else the power of
    ten nearest to s.

    Fisher scoring stops at an absolute step (1e-5) and root searches at an absolute tolerance, as
    in metafor; on effects far from unit scale that makes estimates depend on the units (effects of
    size 1e-6 would give garbage).  Searching y/u, v/u² and scaling τ² back by u² fixes that, while
    data on an ordinary scale are fitted exactly as metafor fits them.  Because u is a power of ten,
    a change of units by a power of ten (×1e-6, ×1e4) changes τ² and its limits by exactly c² for
    data with s in [0.32, 3.2); otherwise by c² to within metafor's own tolerances.
    """
    spread = math.sqrt(float(v.mean()))
    return 1.0 if 1e-2 <= spread <= 1e2 else 10.0 ** round(math.log10(spread))


class WeightedFit:
    """Weighted least squares of y on X with weights w = 1/(v + τ²), and the P-quantities in O(k p²).

    Only k-vectors, k × p and p × p matrices are formed (X is best stored column-major, as
    :func:`~mbtevidence.engine.model.fit_model` does); with one column (p = 1) the p × p inverse is a
    division.  The fit is computed on construction (every caller needs β̂ and y'Py); the leverages
    on first use.  A Q-profile or a leave-one-out loop makes many such fits, so they are kept lean.

    Attributes
    ----------
    bread : ndarray
        B = (X'WX)⁻¹ (p × p).
    beta, residuals : ndarray
        β̂ = BX'Wy and r = y - Xβ̂.
    p_y : ndarray
        Py = W r.
    rss : float
        y'Py = Σ w r².
    """

    __slots__ = ("X", "_leverage", "_x2", "beta", "bread", "p_y", "residuals", "rss", "w", "y")

    def __init__(self, y: np.ndarray, X: np.ndarray, w: np.ndarray) -> None:
        self.y, self.X, self.w = y, X, w
        self._x2: np.ndarray | None = None
        if X.shape[1] == 1:  # one column x: sums instead of BLAS products with a unit dimension (slow)
            x = X[:, 0]
            self._x2 = x * x
            wx = w * x
            bread = 1.0 / float(wx @ x)
            self.bread = np.array([[bread]])
            self.beta = np.array([bread * float(wx @ y)])
            self.residuals = y - x * self.beta[0]
        else:
            xw = X.T * w
            self.bread = np.linalg.inv(xw @ X)
            self.beta = self.bread @ (xw @ y)
            self.residuals = y - X @ self.beta
        self.p_y = w * self.residuals
        self.rss = float(self.p_y @ self.residuals)
        self._leverage: np.ndarray | None = None

    @classmethod
    def at(cls, y: np.ndarray, v: np.ndarray, X: np.ndarray, tau2: float) -> WeightedFit:
        return cls(y, X, 1.0 / (v + tau2))

    @property
    def leverage(self) -> np.ndarray:
        """g_i = w_i x_i'Bx_i, the diagonal of the hat matrix X B X'W."""
        if self._leverage is None:
            if self._x2 is not None:
                self._leverage = self.w * self.bread[0, 0] * self._x2
            else:
                self._leverage = self.w * np.einsum("ij,ij->i", self.X @ self.bread, self.X)
        return self._leverage

    def trace_p(self, d: np.ndarray | None = None) -> float:
        """tr(P D) = Σ w d - Σ g w d for diagonal D (identity when None; g the leverages)."""
        wd = self.w if d is None else self.w * d
        if self._x2 is not None:  # Σ g w d = B Σ w² d x²
            return float(wd.sum() - self.bread[0, 0] * ((self.w * wd) @ self._x2))
        return float(wd.sum() - self.leverage @ wd)

    def trace_pdpd(self, d1: np.ndarray | None = None, d2: np.ndarray | None = None) -> float:
        """tr(P D₁ P D₂) for diagonal D₁, D₂ (identity when None; see the module docstring)."""
        w2 = self.w * self.w
        w2d1 = w2 if d1 is None else w2 * d1
        w2d2 = w2d1 if d2 is d1 else (w2 if d2 is None else w2 * d2)
        w2d = w2d1 if d2 is None else w2d1 * d2
        if self._x2 is not None:  # one column: the p × p terms are products of sums
            b, x2 = self.bread[0, 0], self._x2
            a1 = w2d1 @ x2
            a2 = a1 if d2 is d1 else w2d2 @ x2
            return float(w2d.sum() - 2 * b * ((w2d * self.w) @ x2) + b * b * a1 * a2)
        ba = self.bread @ ((self.X.T * w2d1) @ self.X)
        bb = ba if d2 is d1 else self.bread @ ((self.X.T * w2d2) @ self.X)
        return float(w2d.sum() - 2 * (self.leverage @ w2d) + (ba * bb.T).sum())


def generalised_q(y: np.ndarray, v: np.ndarray, X: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Q(τ²) = y'P(τ²)y = Σ w_i (y_i - x_i'β̂)², the weighted residual sum of squares at τ², as a
    function of an array of τ² values.  Root searches evaluate it many times, so it is specialised
    once for the design: for an intercept-only model β̂ is the weighted mean, and all τ² values are
    evaluated in one pass over the data."""
    if X.shape[1] == 1 and bool(np.all(X == 1.0)):

        def q_intercept(tau2: np.ndarray) -> np.ndarray:
            w = 1.0 / (v + np.asarray(tau2, dtype=float)[:, None])
            r = y - ((w @ y) / np.add.reduce(w, axis=1))[:, None]
            return np.add.reduce(w * (r * r), axis=1)

        return q_intercept
    return lambda tau2: np.array([WeightedFit.at(y, v, X, float(t)).rss for t in np.atleast_1d(tau2)])


def _zeroin_steps(
    a: float, b: float, fa: float, fb: float, tol: float, max_iter: int
) -> Generator[float, float, float]:
    """Brent's zeroin as a coroutine: yields each point to evaluate, is sent f there, returns the root."""
    eps = np.finfo(float).eps
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
        fb = yield b
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    raise ValueError("root search did not converge")


def solve_levels(
    q: Callable[[np.ndarray], np.ndarray],
    levels: list[float],
    a: float,
    b: float,
    q_ab: tuple[float, float] | None = None,
    tol: float = UNIROOT_TOL,
    max_iter: int = 1000,
) -> list[float]:
    """Roots t_j in [a, b] of q(t) = levels[j], each found by Brent's zeroin (Forsythe, Malcolm &
    Moler 1977), the algorithm behind R's ``uniroot()``, stopping at R's default tolerance so that
    PM estimates and Q-profile limits equal metafor's to the last digit rather than only to ``tol``.

    The searches run in lockstep: each round evaluates q once, at the current point of every
    unfinished search (``q`` maps an array of points to an array of values).  ``q_ab`` passes q(a)
    and q(b) when the caller has them already.
    """
    q_a, q_b = (float(x) for x in (q_ab if q_ab is not None else q(np.array([a, b]))))
    searches = [_zeroin_steps(a, b, q_a - c, q_b - c, tol, max_iter) for c in levels]
    roots: list[float | None] = [None] * len(levels)
    points: dict[int, float] = {}
    for j, search in enumerate(searches):
        try:
            points[j] = next(search)
        except StopIteration as done:
            roots[j] = float(done.value)
    while points:
        active = list(points)
        values = q(np.array([points[j] for j in active]))
        for j, value in zip(active, values, strict=True):
            try:
                points[j] = searches[j].send(float(value) - levels[j])
            except StopIteration as done:
                roots[j] = float(done.value)
                del points[j]
    return [float(r) for r in roots]  # type: ignore[arg-type]
