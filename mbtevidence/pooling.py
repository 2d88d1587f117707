"""Random-effects pooling, subgroups and meta-regression, agreeing with R's metafor.

Model: y_i = x_i'β + u_i + e_i, u_i ~ N(0, τ²), e_i ~ N(0, v_i) (Viechtbauer 2010, J Stat Softw
36(3)).  With W = diag(1/(v_i + τ²)): β̂ = (X'WX)⁻¹X'Wy, Var(β̂) = (X'WX)⁻¹.

Conventions (defaults follow the Cochrane Handbook v6.4, ch. 10.10.4):

* **τ² estimator**: REML (also EE, DL, HE, ML, PM, SJ).  DL and HE come from PyMARE; ML and
  REML are Fisher scoring from the HE estimate with metafor's stopping rule (|Δτ²| <= 1e-5), so
  they reproduce metafor's output; a fit that does not converge falls back to DL and says so.
  PM and SJ are written here.
  SE(τ²) as in metafor (Fisher information for ML/REML; moment formulas otherwise).
* **Test and CI**: Knapp-Hartung (``test="knha"``): Var(β̂) × s², s² = y'Py/(k-p), t(k-p)
  (Hartung & Knapp 2001), not truncated at 1 (metafor's default); ``test="z"`` gives Wald z tests.
* **τ² CI**: Q-profile (Viechtbauer 2007): τ² where Q(τ²) = y'P(τ²)y equals the χ²(k-p) quantiles.
* **I²** from τ² (Higgins & Thompson 2002, as metafor and Cochrane): I² = τ²/(τ² + ṽ),
  ṽ = (k-p)/tr(P_FE); H² = (τ² + ṽ)/ṽ; their CIs transform the Q-profile limits.  For the
  common-effect model I² = (Q-(k-p))/Q and H² = Q/(k-p).
* **Prediction interval**: μ̂ ± c·√(SE² + τ²), c the normal quantile under ``z`` and the
  t(k-p) quantile under Knapp-Hartung (metafor's ``predict()``).
* **Subgroup differences**: both conventions, labelled — (a) separate τ² per subgroup and a
  Q-between test on the subgroup estimates with their Wald SEs, χ²(G-1) (RevMan, R meta,
  metapsyTools); (b) a mixed-effects model with one common τ² and its omnibus QM test
  (metafor ``mods = ~ factor(group)``; F(G-1, k-G) under Knapp-Hartung).
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pymare import Dataset
    from pymare.estimators import DerSimonianLaird as _PymareDL
    from pymare.estimators import Hedges as _PymareHE

TESTS = ("knha", "z")


# ---- input checks -------------------------------------------------------------------------


def check_inputs(yi: object, vi: object) -> tuple[np.ndarray, np.ndarray]:
    """Float arrays of effects and variances, or one ValueError naming every bad row (0-based)."""
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    if y.size == 0:
        raise ValueError("no effect sizes given (empty input)")
    if y.size != v.size:
        raise ValueError(f"yi has {y.size} values but vi has {v.size}")
    bad = [f"row {i}: yi={float(y[i])!r}, vi={float(v[i])!r}" for i in range(y.size)
           if not (math.isfinite(y[i]) and math.isfinite(v[i]) and v[i] > 0)]
    if bad:
        raise ValueError("effect sizes must be finite and variances finite and > 0; offending "
                         + "; ".join(bad))
    return y, v


# ---- weighted least squares helpers -------------------------------------------------------


def _wls(y: np.ndarray, v: np.ndarray, X: np.ndarray, tau2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """β̂, (X'WX)⁻¹, weights w and the projection P = W - WX(X'WX)⁻¹X'W at τ²."""
    w = 1.0 / (v + tau2)
    xtwx_inv = np.linalg.inv(X.T @ (w[:, None] * X))
    beta = xtwx_inv @ (X.T @ (w * y))
    wx = w[:, None] * X
    P = np.diag(w) - wx @ xtwx_inv @ wx.T
    return beta, xtwx_inv, w, P


def generalised_q(tau2: float, y: np.ndarray, v: np.ndarray, X: np.ndarray) -> float:
    """Q(τ²) = y'P(τ²)y = Σ w_i (y_i - x_i'β̂)², the weighted residual sum of squares at τ²."""
    w = 1.0 / (v + tau2)
    beta = np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (w * y))
    return float(np.sum(w * (y - X @ beta) ** 2))


UNIROOT_TOL = np.finfo(float).eps ** 0.25


def zeroin(f, a: float, b: float, tol: float = UNIROOT_TOL, max_iter: int = 1000) -> float:
    """Root of ``f`` in [a, b] by Brent's zeroin (Forsythe, Malcolm & Moler 1977, the algorithm
    behind R's ``uniroot()``), stopping at R's default tolerance so that PM estimates and
    Q-profile limits equal metafor's to the last digit rather than only to ``tol``."""
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


# ---- τ² estimators --------------------------------------------------------------------------


@dataclass(frozen=True)
class Tau2Fit:
    """A τ² estimate with its standard error and the estimator actually used."""

    tau2: float
    se: float
    method: str
    note: str = ""


class Tau2Estimator(ABC):
    """Estimates τ² for y ~ N(Xβ, diag(v) + τ²I)."""

    name: str

    @abstractmethod
    def fit(self, y: np.ndarray, v: np.ndarray, X: np.ndarray) -> Tau2Fit: ...

    @staticmethod
    def _pymare(estimator: object, y: np.ndarray, v: np.ndarray, X: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = estimator.fit_dataset(Dataset(y=y, v=v, X=X, add_intercept=False))
        return max(0.0, float(np.ravel(fitted.params_["tau2"])[0]))


class CommonEffect(Tau2Estimator):
    """Equal- (common-) effect model: τ² = 0."""

    name = "EE"

    def fit(self, y, v, X):
        return Tau2Fit(0.0, math.nan, self.name)


class DerSimonianLaird(Tau2Estimator):
    """τ² = (Q - (k-p)) / tr(P), P at weights 1/v (DerSimonian & Laird 1986); via PyMARE."""

    name = "DL"

    def fit(self, y, v, X):
        tau2 = self._pymare(_PymareDL(), y, v, X)
        k, p = X.shape
        P = _wls(y, v, X, 0.0)[3]
        tr = np.trace(P)
        se = math.sqrt((2 * (k - p) + 4 * tau2 * tr + 2 * tau2**2 * np.sum(P * P)) / tr**2)
        return Tau2Fit(tau2, se, self.name)


class Hedges(Tau2Estimator):
    """Hedges (1983) moment estimator from OLS residuals; via PyMARE."""

    name = "HE"

    def fit(self, y, v, X):
        tau2 = self._pymare(_PymareHE(), y, v, X)
        k, p = X.shape
        P = np.eye(k) - X @ np.linalg.inv(X.T @ X) @ X.T
        PV = P * v[None, :]
        se = math.sqrt((2 * np.sum(PV * PV.T) + 4 * tau2 * np.trace(PV) + 2 * tau2**2 * (k - p)) / (k - p) ** 2)
        return Tau2Fit(tau2, se, self.name)


class _Likelihood(Tau2Estimator):
    """ML / REML by Fisher scoring from the HE estimate, with metafor's stopping rule.

    Step: ML  Δ = (y'PPy - Σw) / Σw²;  REML  Δ = (y'PPy - tr P) / tr(PP), halved while τ² + Δ < 0;
    stop when |Δ| < ``threshold`` (metafor's 1e-5, so results reproduce metafor's published
    output; the likelihood's exact optimum differs by less than the threshold).  No convergence
    within ``max_iter`` steps falls back to DL and says so.
    """

    restricted: bool

    def __init__(self, max_iter: int = 100, threshold: float = 1e-5):
        self.max_iter, self.threshold = max_iter, threshold

    def _step(self, y, v, X, tau2):
        _, _, w, P = _wls(y, v, X, tau2)
        Py = P @ y
        if self.restricted:
            return (Py @ Py - np.trace(P)) / np.sum(P * P), P, w
        return (Py @ Py - np.sum(w)) / np.sum(w**2), P, w

    def fit(self, y, v, X):
        tau2 = self._pymare(_PymareHE(), y, v, X)
        for _ in range(self.max_iter):
            step, P, w = self._step(y, v, X, tau2)
            while tau2 + step < 0:
                step /= 2
            tau2 += step
            if abs(step) <= self.threshold:
                break
        else:
            fallback = DerSimonianLaird().fit(y, v, X)
            note = (f"{self.name} (Fisher scoring) did not converge in {self.max_iter} iterations; "
                    f"tau² estimated by DL instead")
            return Tau2Fit(fallback.tau2, fallback.se, "DL", note)
        _, P, w = self._step(y, v, X, tau2)
        se = math.sqrt(2 / np.sum(P * P)) if self.restricted else math.sqrt(2 / np.sum(w**2))
        return Tau2Fit(tau2, se, self.name)


class MaximumLikelihood(_Likelihood):
    name, restricted = "ML", False


class RestrictedMaximumLikelihood(_Likelihood):
    name, restricted = "REML", True


class PauleMandel(Tau2Estimator):
    """τ² solving Q(τ²) = k - p (Paule & Mandel 1982); 0 when Q(0) < k - p."""

    name = "PM"

    def fit(self, y, v, X):
        k, p = X.shape
        target = k - p
        if generalised_q(0.0, y, v, X) < target:
            tau2 = 0.0
        else:
            mad = 1.4826 * float(np.median(np.abs(y - np.median(y))))
            upper = max(100.0, 10 * mad**2)
            while generalised_q(upper, y, v, X) > target:
                upper *= 10
            tau2 = zeroin(lambda t: generalised_q(t, y, v, X) - target, 0.0, upper)
        w = 1 / (v + tau2)
        return Tau2Fit(tau2, math.sqrt(2 * k**2 / (k - p) / np.sum(w) ** 2), self.name)


class SidikJonkman(Tau2Estimator):
    """τ² = τ₀² · y'P(τ₀²)y / (k-p), τ₀² = Σ(y-ȳ)²/k (Sidik & Jonkman 2005)."""

    name = "SJ"

    def fit(self, y, v, X):
        k, p = X.shape
        tau0 = float(np.var(y))
        P = _wls(y, v, X, tau0)[3]
        tau2 = tau0 * float(y @ P @ y) / (k - p)
        PV = P * v[None, :]
        se = math.sqrt(tau0**2 / (k - p) ** 2 * (2 * np.sum(PV * PV.T) + 4 * tau2 * np.sum(PV * P)
                                                   + 2 * tau2**2 * np.sum(P * P)))
        return Tau2Fit(tau2, se, self.name)


ESTIMATORS: dict[str, type[Tau2Estimator]] = {
    cls.name: cls for cls in (CommonEffect, DerSimonianLaird, Hedges, MaximumLikelihood,
                              RestrictedMaximumLikelihood, PauleMandel, SidikJonkman)
}


def get_estimator(method: str | Tau2Estimator) -> Tau2Estimator:
    if isinstance(method, Tau2Estimator):
        return method
    key = "EE" if method in ("FE", "CE") else method
    if key not in ESTIMATORS:
        raise ValueError(f"unknown tau² estimator {method!r}; choose from {', '.join(ESTIMATORS)}")
    return ESTIMATORS[key]()


# ---- the fitted model -----------------------------------------------------------------------


def _qprofile(y, v, X, level: float, tau2: float) -> tuple[float, float, str]:
    """Q-profile confidence limits for τ² (Viechtbauer 2007), searched as metafor's
    ``confint()`` does: in [0, max(100, 10 τ̂²)] with R's root finder.  Returns the limits and a
    note when the upper limit lies beyond the searched range."""
    k, p = X.shape
    alpha = 1 - level / 100
    crit_u, crit_l = stats.chi2.ppf(1 - alpha / 2, k - p), stats.chi2.ppf(alpha / 2, k - p)
    upper = max(100.0, 10 * tau2)
    q_min, q_max = generalised_q(0.0, y, v, X), generalised_q(upper, y, v, X)
    q_at = lambda t, target: generalised_q(t, y, v, X) - target  # noqa: E731

    note = ""
    if q_min < crit_l:
        return 0.0, 0.0, note
    if q_max > crit_l:
        high, note = upper, f"the upper Q-profile limit of tau² lies above {upper:g} (searched range)"
    else:
        high = zeroin(lambda t: q_at(t, crit_l), 0.0, upper)
    low = 0.0 if q_min < crit_u else zeroin(lambda t: q_at(t, crit_u), 0.0, upper)
    return low, high, note


@dataclass
class ModelFit:
    """Everything a fitted (mixed-effects) model knows; results objects present it."""

    y: np.ndarray
    v: np.ndarray
    X: np.ndarray
    names: list[str]
    method: str
    test: str
    level: float
    tau2: float
    tau2_se: float
    beta: np.ndarray
    vb: np.ndarray
    df: float
    weights: np.ndarray
    qe: float
    i2: float
    h2: float
    v_typical: float
    tau2_ci: tuple[float, float]
    s2w: float = 1.0
    notes: list[str] = field(default_factory=list)

    @property
    def k(self) -> int:
        return len(self.y)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.vb))

    @property
    def crit(self) -> float:
        q = 1 - (1 - self.level / 100) / 2
        return float(stats.t.ppf(q, self.df)) if self.test == "knha" else float(stats.norm.ppf(q))

    def pvalues(self, stat: np.ndarray) -> np.ndarray:
        if self.test == "knha":
            return 2 * stats.t.sf(np.abs(stat), self.df)
        return 2 * stats.norm.sf(np.abs(stat))

    @property
    def qe_p(self) -> float:
        return float(stats.chi2.sf(self.qe, self.k - self.p)) if self.k > self.p else math.nan

    def heterogeneity_ci(self) -> dict[str, tuple[float, float]]:
        """Q-profile limits for τ², τ, I² and H²."""
        lo, hi = self.tau2_ci
        to_i2 = lambda t: 100 * t / (self.v_typical + t)  # noqa: E731
        return {"tau2": (lo, hi), "tau": (math.sqrt(lo), math.sqrt(hi)), "i2": (to_i2(lo), to_i2(hi)),
                "h2": ((lo + self.v_typical) / self.v_typical, (hi + self.v_typical) / self.v_typical)}

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Predicted effect at moderator rows ``x`` (with intercept column) and its CI and PI."""
        x = np.atleast_2d(x)
        pred = x @ self.beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", x, self.vb, x))
        half_pi = self.crit * np.sqrt(se**2 + self.tau2)
        return {"pred": pred, "se": se, "ci_low": pred - self.crit * se, "ci_high": pred + self.crit * se,
                "pi_low": pred - half_pi, "pi_high": pred + half_pi}


def fit_model(yi: object, vi: object, X: np.ndarray | None = None, names: list[str] | None = None,
              method: str | Tau2Estimator = "REML", test: str = "knha", level: float = 95) -> ModelFit:
    """Fit the (mixed-effects) meta-analytic model; see the module docstring for conventions."""
    y, v = check_inputs(yi, vi)
    X = np.ones((len(y), 1)) if X is None else np.asarray(X, dtype=float)
    names = names or ["intrcpt"]
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; choose from {', '.join(TESTS)}")
    k, p = X.shape
    if k != len(y):
        raise ValueError(f"moderator matrix has {k} rows for {len(y)} effect sizes")
    if np.linalg.matrix_rank(X) < p:
        raise ValueError("moderators are collinear (the model matrix is not of full rank)")
    notes: list[str] = []
    estimator = get_estimator(method)
    if k == p:
        if k == 1:
            notes.append("k = 1: the single study's estimate is returned; no heterogeneity statistics")
        else:
            notes.append(f"k = p = {k}: saturated model; no heterogeneity statistics")
        tfit = Tau2Fit(0.0, math.nan, estimator.name)
        if test == "knha":
            notes.append("Knapp-Hartung needs k > p: Wald z test used")
            test = "z"
    else:
        tfit = estimator.fit(y, v, X)
    if tfit.note:
        notes.append(tfit.note)
    beta, vb, w, P = _wls(y, v, X, tfit.tau2)
    df = float(k - p) if test == "knha" else math.inf
    s2w = float(y @ P @ y) / (k - p) if test == "knha" else 1.0
    vb = vb * s2w
    P_fe = _wls(y, v, X, 0.0)[3]
    qe = float(y @ P_fe @ y)
    if k > p:
        v_typical = (k - p) / float(np.trace(P_fe))
        if tfit.method == "EE":
            i2, h2 = max(0.0, 100 * (qe - (k - p)) / qe) if qe > 0 else 0.0, qe / (k - p)
            tau2_ci = (math.nan, math.nan)
        else:
            i2, h2 = 100 * tfit.tau2 / (v_typical + tfit.tau2), (tfit.tau2 + v_typical) / v_typical
            low, high, note = _qprofile(y, v, X, level, tfit.tau2)
            tau2_ci = (low, high)
            if note:
                notes.append(note)
    else:
        v_typical = i2 = h2 = math.nan
        tau2_ci = (math.nan, math.nan)
    return ModelFit(y, v, X, names, tfit.method, test, level, tfit.tau2, tfit.se, beta, vb, df,
                    100 * w / w.sum(), qe, i2, h2, v_typical, tau2_ci, s2w, notes)


def _clean(value: object) -> object:
    """JSON-safe scalar: NaN/inf -> None, numpy -> Python."""
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _fmt(x: float, digits: int = 4) -> str:
    return "NA" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _fmt_p(x: float) -> str:
    return "NA" if not math.isfinite(x) else ("<.0001" if x < 1e-4 else f"{x:.4f}")


def _heterogeneity_lines(fit: ModelFit, residual: bool = False) -> list[str]:
    if fit.k <= fit.p:
        return []
    word = "residual " if residual else ""
    ci = fit.heterogeneity_ci()
    lines = []
    if fit.method != "EE":
        lines += [
            f"tau^2 ({word}heterogeneity): {_fmt(fit.tau2)} (SE = {_fmt(fit.tau2_se)}), "
            f"{fit.level:g}% CI [{_fmt(ci['tau2'][0])}, {_fmt(ci['tau2'][1])}] (Q-profile)",
            f"tau ({word}SD of true effects): {_fmt(math.sqrt(fit.tau2))}",
        ]
    lines += [f"I^2 ({word}heterogeneity / {word}variability): {_fmt(fit.i2, 2)}%"
              + ("" if fit.method == "EE" else f", CI [{_fmt(ci['i2'][0], 2)}, {_fmt(ci['i2'][1], 2)}]"),
              f"H^2: {_fmt(fit.h2)}",
              f"Test for {word}heterogeneity: Q{'E' if residual else ''}(df = {fit.k - fit.p}) = {_fmt(fit.qe)}, "
              f"p = {_fmt_p(fit.qe_p)}"]
    return lines


def _conventions(fit: ModelFit) -> str:
    test = "Knapp-Hartung t(df = k-p)" if fit.test == "knha" else "Wald z"
    pi = "t(k-p) quantile" if fit.test == "knha" else "normal quantile"
    return (f"Conventions: tau² estimator {fit.method}; tests and CIs {test}; tau² CI Q-profile; "
            f"I² from tau²; prediction interval estimate ± {pi} x sqrt(SE² + tau²).")


@dataclass
class MetaAnalysisResult:
    """Pooled estimate of an intercept-only model: ``summary()``, ``to_frame()``, ``to_dict()``."""

    fit: ModelFit
    slab: list[str] | None = None

    @property
    def k(self) -> int:
        return self.fit.k

    @property
    def estimate(self) -> float:
        return float(self.fit.beta[0])

    @property
    def se(self) -> float:
        return float(self.fit.se[0])

    @property
    def stat(self) -> float:
        return self.estimate / self.se

    @property
    def p(self) -> float:
        return float(self.fit.pvalues(np.array([self.stat]))[0])

    @property
    def weights(self) -> pd.Series:
        return pd.Series(self.fit.weights, index=self.slab, name="weight (%)")

    def to_dict(self) -> dict[str, object]:
        fit = self.fit
        pred = fit.predict(np.ones((1, 1)))
        het = fit.k > fit.p
        ci = fit.heterogeneity_ci() if het else {}
        random = het and fit.method != "EE"
        out = {
            "k": fit.k, "estimate": self.estimate, "se": self.se,
            "stat": self.stat, "stat_name": "t" if fit.test == "knha" else "z",
            "df": fit.df, "p": self.p,
            "ci_low": pred["ci_low"][0], "ci_high": pred["ci_high"][0],
            "pi_low": pred["pi_low"][0] if random else math.nan, "pi_high": pred["pi_high"][0] if random else math.nan,
            "tau2": fit.tau2 if het else math.nan, "tau2_se": fit.tau2_se,
            "tau2_ci_low": ci["tau2"][0] if random else math.nan, "tau2_ci_high": ci["tau2"][1] if random else math.nan,
            "tau": math.sqrt(fit.tau2) if het else math.nan,
            "i2": fit.i2, "i2_ci_low": ci["i2"][0] if random else math.nan,
            "i2_ci_high": ci["i2"][1] if random else math.nan,
            "h2": fit.h2, "q": fit.qe if het else math.nan, "q_df": fit.k - fit.p if het else math.nan,
            "q_p": fit.qe_p, "method": fit.method, "test": fit.test, "level": fit.level,
            "notes": list(fit.notes),
        }
        return {key: _clean(value) for key, value in out.items()}

    def to_frame(self) -> pd.DataFrame:
        row = self.to_dict()
        row["notes"] = "; ".join(row["notes"])
        return pd.DataFrame([row])

    def summary(self) -> str:
        d, fit = self.to_dict(), self.fit
        kind = "Equal-Effects" if fit.method == "EE" else "Random-Effects"
        lines = [f"{kind} Model (k = {fit.k}; tau^2 estimator: {fit.method})", ""]
        lines += _heterogeneity_lines(fit)
        stat = d["stat_name"] + (f"(df = {fit.df:g})" if fit.test == "knha" else "")
        lines += ["", "Model Results:", "",
                  f"estimate = {_fmt(d['estimate'])}, se = {_fmt(d['se'])}, {stat} = {_fmt(d['stat'])}, "
                  f"p = {_fmt_p(d['p'])}, {fit.level:g}% CI [{_fmt(d['ci_low'])}, {_fmt(d['ci_high'])}]"]
        if d["pi_low"] is not None:
            lines.append(f"prediction interval [{_fmt(d['pi_low'])}, {_fmt(d['pi_high'])}]")
        lines += ["", _conventions(fit)] + [f"Note: {n}" for n in fit.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def meta_analysis(yi: object, vi: object, method: str | Tau2Estimator = "REML", test: str = "knha",
                  level: float = 95, slab: object = None) -> MetaAnalysisResult:
    """Pool effect sizes ``yi`` with sampling variances ``vi`` (random effects by default).

    Defaults: REML, Knapp-Hartung, Q-profile CI for τ², prediction interval always reported.
    """
    fit = fit_model(yi, vi, method=method, test=test, level=level)
    return MetaAnalysisResult(fit, None if slab is None else [str(s) for s in slab])


# ---- meta-regression -----------------------------------------------------------------------


def design_matrix(mods: pd.DataFrame | pd.Series) -> tuple[np.ndarray, list[str], dict[str, list[str]]]:
    """Intercept plus moderators: numbers as they are, categories as treatment dummies (first
    level, in sorted order, is the reference, as R's ``factor``).  Returns X, column names and
    the dummy columns of each categorical moderator."""
    frame = mods.to_frame() if isinstance(mods, pd.Series) else mods
    columns, names, factors = [np.ones(len(frame))], ["intrcpt"], {}
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            if col.isna().any():
                raise ValueError(f"moderator {name} has missing values in rows {list(np.flatnonzero(col.isna()))}")
            columns.append(col.to_numpy(dtype=float))
            names.append(str(name))
        else:
            if col.isna().any():
                raise ValueError(f"moderator {name} has missing values in rows {list(np.flatnonzero(col.isna()))}")
            levels = sorted(col.astype(str).unique())
            factors[str(name)] = []
            for level in levels[1:]:
                columns.append((col.astype(str) == level).to_numpy(dtype=float))
                names.append(f"{name}{level}")
                factors[str(name)].append(f"{name}{level}")
    return np.column_stack(columns), names, factors


@dataclass
class MetaRegressionResult:
    """Mixed-effects meta-regression: coefficients, omnibus QM test, residual heterogeneity, R²."""

    fit: ModelFit
    r2: float
    moderators: pd.DataFrame

    @property
    def coefficients(self) -> pd.DataFrame:
        fit = self.fit
        se = fit.se
        stat = fit.beta / se
        return pd.DataFrame({"estimate": fit.beta, "se": se, "stat": stat, "p": fit.pvalues(stat),
                             "ci_low": fit.beta - fit.crit * se, "ci_high": fit.beta + fit.crit * se},
                            index=pd.Index(fit.names, name="term"))

    def omnibus(self, terms: list[str] | None = None) -> dict[str, float]:
        """Test that the given coefficients (default: all but the intercept) are 0: QM ~ χ²(m),
        or F = QM/m ~ F(m, k-p) under Knapp-Hartung."""
        fit = self.fit
        idx = [fit.names.index(t) for t in (terms or fit.names[1:])]
        b = fit.beta[idx]
        qm = float(b @ np.linalg.solve(fit.vb[np.ix_(idx, idx)], b))
        m = len(idx)
        if fit.test == "knha":
            return {"qm": qm / m, "qm_df1": m, "qm_df2": fit.df, "qm_p": float(stats.f.sf(qm / m, m, fit.df)),
                    "qm_stat": "F"}
        return {"qm": qm, "qm_df1": m, "qm_df2": math.nan, "qm_p": float(stats.chi2.sf(qm, m)), "qm_stat": "QM"}

    def predict(self, newmods: pd.DataFrame | dict) -> pd.DataFrame:
        """Predicted effects with CI and PI at moderator values (numeric moderators only, or
        dummy columns by name), e.g. for dose-response plots."""
        new = pd.DataFrame(newmods)
        x = np.column_stack([np.ones(len(new))] + [new[name].to_numpy(dtype=float) for name in self.fit.names[1:]])
        out = pd.DataFrame(self.fit.predict(x))
        return pd.concat([new.reset_index(drop=True), out], axis=1)

    def to_dict(self) -> dict[str, object]:
        fit = self.fit
        coefs = self.coefficients.reset_index()
        out = {"k": fit.k, "method": fit.method, "test": fit.test, "level": fit.level,
               "coefficients": [{k: _clean(v) for k, v in {"name": r.term, "estimate": r.estimate, "se": r.se,
                                                          "stat": r.stat, "p": r.p, "ci_low": r.ci_low,
                                                          "ci_high": r.ci_high}.items()}
                                for r in coefs.itertuples()],
               **{k: _clean(v) for k, v in self.omnibus().items()},
               "tau2": _clean(fit.tau2), "tau2_se": _clean(fit.tau2_se), "i2": _clean(fit.i2), "h2": _clean(fit.h2),
               "qe": _clean(fit.qe), "qe_df": fit.k - fit.p, "qe_p": _clean(fit.qe_p), "r2": _clean(self.r2),
               "notes": list(fit.notes)}
        return out

    def to_frame(self) -> pd.DataFrame:
        return self.coefficients

    def summary(self) -> str:
        fit, om = self.fit, self.omnibus()
        lines = [f"Mixed-Effects Model (k = {fit.k}; tau^2 estimator: {fit.method})", ""]
        lines += _heterogeneity_lines(fit, residual=True)
        if math.isfinite(self.r2):
            lines.append(f"R^2 (amount of heterogeneity accounted for): {self.r2:.2f}%")
        if om["qm_stat"] == "F":
            lines.append(f"Test of moderators: F(df1 = {om['qm_df1']}, df2 = {om['qm_df2']:g}) = {_fmt(om['qm'])}, "
                         f"p = {_fmt_p(om['qm_p'])}")
        else:
            lines.append(f"Test of moderators: QM(df = {om['qm_df1']}) = {_fmt(om['qm'])}, p = {_fmt_p(om['qm_p'])}")
        lines += ["", "Model Results:", "", self.coefficients.to_string(float_format=lambda x: f"{x:.4f}"),
                  "", _conventions(fit)] + [f"Note: {n}" for n in fit.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def meta_regression(yi: object, vi: object, mods: pd.DataFrame | pd.Series, method: str | Tau2Estimator = "REML",
                    test: str = "knha", level: float = 95) -> MetaRegressionResult:
    """Meta-regression on continuous and categorical moderators.

    R² = max(0, (τ²_RE - τ²_ME) / τ²_RE), τ²_RE from the intercept-only model with the same
    estimator (metafor).
    """
    mods = mods.to_frame() if isinstance(mods, pd.Series) else pd.DataFrame(mods)
    X, names, _ = design_matrix(mods.reset_index(drop=True))
    fit = fit_model(yi, vi, X, names, method, test, level)
    r2 = math.nan
    if fit.method != "EE" and fit.k > fit.p:
        tau2_re = fit_model(yi, vi, method=fit.method, test=test, level=level).tau2
        r2 = 100 * max(0.0, (tau2_re - fit.tau2) / tau2_re) if tau2_re > 0 else 0.0
    return MetaRegressionResult(fit, r2, mods)


# ---- subgroups ---------------------------------------------------------------------------------


@dataclass
class SubgroupResult:
    """Pooled result per subgroup and the test for subgroup differences in both conventions."""

    groups: dict[str, MetaAnalysisResult]
    separate: dict[str, float]
    common: MetaRegressionResult

    def to_frame(self) -> pd.DataFrame:
        """One row per subgroup (separate τ² fits)."""
        rows = [dict(group=g, **{k: v for k, v in r.to_dict().items() if k != "notes"}) for g, r in self.groups.items()]
        return pd.DataFrame(rows).set_index("group")

    def common_test(self) -> dict[str, object]:
        om = self.common.omnibus()
        return {"convention": "mixed-effects model, common tau² (metafor mods = ~ factor(group))",
                "stat_name": om["qm_stat"], "stat": om["qm"], "df1": om["qm_df1"],
                "df2": _clean(om["qm_df2"]), "p": om["qm_p"], "tau2": self.common.fit.tau2}

    def to_dict(self) -> dict[str, object]:
        return {"subgroups": {g: r.to_dict() for g, r in self.groups.items()},
                "test_separate_tau2": {k: _clean(v) for k, v in self.separate.items()} | {
                    "convention": "separate tau² per subgroup; Q-between on subgroup estimates with Wald SEs "
                                  "(RevMan, R meta, metapsyTools)"},
                "test_common_tau2": {k: _clean(v) for k, v in self.common_test().items()}}

    def summary(self) -> str:
        frame = self.to_frame()[["k", "estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2"]]
        sep, com = self.separate, self.common_test()
        stat = f"{com['stat_name']}(df = {com['df1']}" + (f", {com['df2']:g})" if com["df2"] is not None else ")")
        return "\n".join([
            "Subgroups (separate tau² per subgroup):", frame.to_string(float_format=lambda x: f"{x:.4f}"), "",
            f"Test for subgroup differences, separate tau² (RevMan / meta): Q = {_fmt(sep['q_between'])}, "
            f"df = {sep['df']:g}, p = {_fmt_p(sep['p'])}",
            f"Test for subgroup differences, common tau² = {_fmt(com['tau2'])} (metafor mixed-effects): "
            f"{stat} = {_fmt(com['stat'])}, p = {_fmt_p(com['p'])}",
            "", _conventions(next(iter(self.groups.values())).fit)])

    def __str__(self) -> str:
        return self.summary()


def subgroup_analysis(yi: object, vi: object, groups: object, method: str | Tau2Estimator = "REML",
                      test: str = "knha", level: float = 95) -> SubgroupResult:
    """Pool each subgroup separately and test subgroup differences (both conventions).

    Q-between = Σ_g w_g (μ̂_g - μ̄)², w_g = 1/SE_z(μ̂_g)², df = G - 1, where SE_z is the Wald SE of
    each subgroup's estimate (the Knapp-Hartung factor is not applied to this test).
    """
    y, v = check_inputs(yi, vi)
    labels = pd.Series(np.asarray(groups, dtype=object)).astype(str)
    if len(labels) != len(y):
        raise ValueError(f"groups has {len(labels)} values for {len(y)} effect sizes")
    results, estimates, se_z = {}, [], []
    for level_name in sorted(labels.unique()):
        mask = (labels == level_name).to_numpy()
        results[level_name] = meta_analysis(y[mask], v[mask], method, test, level)
        z_fit = results[level_name] if test == "z" else meta_analysis(y[mask], v[mask], method, "z", level)
        estimates.append(z_fit.estimate)
        se_z.append(z_fit.se)
    est, w = np.array(estimates), 1 / np.array(se_z) ** 2
    q_between = float(np.sum(w * (est - np.sum(w * est) / np.sum(w)) ** 2))
    df = len(est) - 1
    separate = {"q_between": q_between, "df": float(df), "p": float(stats.chi2.sf(q_between, df)) if df else math.nan}
    common = meta_regression(y, v, labels.rename("group"), method, test, level)
    return SubgroupResult(results, separate, common)


# ---- dependent effects ------------------------------------------------------------------------

SELECTION_RULE = ("one estimate per independent sample (sample_id): prefer primary over secondary "
                  "reports, then the timepoint closest to the target (when one is set), then raw-data "
                  "blocks (pre/post or two-arm means/events) over reported statistics, then the "
                  "largest n, then the first effect_id")
BLOCK_PREFERENCE = {"prepost": 0, "two_arm_means": 0, "two_arm_events": 0, "proportion": 0, "reported": 1}


def one_per_sample(effects: pd.DataFrame, target_months: float | None = None) -> pd.DataFrame:
    """Keep one effect per ``sample_id`` by :data:`SELECTION_RULE`.

    ``effects`` needs ``sample_id``, ``secondary_report``, ``block``, ``n``, ``effect_id`` and,
    with ``target_months``, ``timepoint_months``.
    """
    distance = (effects["timepoint_months"] - target_months).abs() if target_months is not None else 0.0
    ranked = effects.assign(
        _secondary=effects["secondary_report"].fillna(False).astype(bool),
        _distance=distance,
        _block=effects["block"].map(BLOCK_PREFERENCE).fillna(1),
        _n=-effects["n"].fillna(0).astype(float),
    ).sort_values(["sample_id", "_secondary", "_distance", "_block", "_n", "effect_id"])
    return ranked.drop_duplicates("sample_id").drop(columns=["_secondary", "_distance", "_block", "_n"]).sort_index()


@dataclass
class RobustResult:
    """Cluster-robust inference for a model fitted to all (dependent) estimates."""

    fit: ModelFit
    clusters: int
    vb: np.ndarray

    @property
    def df(self) -> float:
        return float(self.clusters - self.fit.p)

    def to_frame(self) -> pd.DataFrame:
        se = np.sqrt(np.diag(self.vb))
        stat = self.fit.beta / se
        crit = stats.t.ppf(1 - (1 - self.fit.level / 100) / 2, self.df)
        return pd.DataFrame({"estimate": self.fit.beta, "se": se, "t": stat, "df": self.df,
                             "p": 2 * stats.t.sf(np.abs(stat), self.df),
                             "ci_low": self.fit.beta - crit * se, "ci_high": self.fit.beta + crit * se},
                            index=pd.Index(self.fit.names, name="term"))

    def summary(self) -> str:
        return "\n".join([
            f"Cluster-robust inference (k = {self.fit.k} estimates in {self.clusters} clusters; "
            f"tau² {self.fit.method} = {_fmt(self.fit.tau2)}; CR1 sandwich, t(df = {self.df:g}))",
            self.to_frame().to_string(float_format=lambda x: f"{x:.4f}")])


def cluster_robust(yi: object, vi: object, cluster: object, mods: pd.DataFrame | None = None,
                   method: str | Tau2Estimator = "REML", level: float = 95) -> RobustResult:
    """Keep every estimate and account for dependency with a cluster-robust (sandwich) variance.

    Var_R(β̂) = n/(n-p) · B (Σ_c X_c'W_c e_c e_c'W_c X_c) B, B = (X'WX)⁻¹, n clusters, t(n-p)
    tests (metafor ``robust(x, cluster, adjust=TRUE)``; Hedges, Tipton & Johnson 2010).
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
    levels = pd.unique(ids)
    n, p = len(levels), X.shape[1]
    if n <= p:
        raise ValueError(f"{n} clusters are too few for {p} coefficient(s)")
    w = 1 / (v + fit.tau2)
    bread = np.linalg.inv(X.T @ (w[:, None] * X))
    resid = y - X @ fit.beta
    meat = np.zeros((p, p))
    for level_id in levels:
        m = ids == level_id
        u = X[m].T @ (w[m] * resid[m])
        meat += np.outer(u, u)
    vb = n / (n - p) * bread @ meat @ bread
    return RobustResult(fit, n, vb)


# ---- the evidence table -----------------------------------------------------------------------


@dataclass
class EvidenceSynthesis:
    """A pooled analysis of evidence records: what was pooled, what was left out and why, and
    the results (overall, per subgroup, and cluster-robust when all estimates are kept)."""

    rows: pd.DataFrame
    excluded: pd.DataFrame
    overall: MetaAnalysisResult
    subgroups: SubgroupResult | None
    robust: RobustResult | None
    dependence: str

    def summary(self) -> str:
        parts = [f"Pooled {len(self.rows)} record(s); dependence: {self.dependence}; "
                 f"{len(self.excluded)} record(s) left out (see .excluded).", "", self.overall.summary()]
        if self.subgroups is not None:
            parts += ["", self.subgroups.summary()]
        if self.robust is not None:
            parts += ["", self.robust.summary()]
        return "\n".join(parts)


def pool_evidence(es: pd.DataFrame, by: str | None = None, dependence: str = "one_per_sample",
                  target_months: float | None = None, method: str | Tau2Estimator = "REML", test: str = "knha",
                  level: float = 95) -> EvidenceSynthesis:
    """Pool effect sizes of evidence records (from :func:`mbtevidence.effects.evidence_effect_sizes`).

    ``dependence="one_per_sample"`` (default) keeps one estimate per ``sample_id`` by
    :data:`SELECTION_RULE`, so the same patients are never counted twice;
    ``dependence="cluster_robust"`` keeps every estimate and adds :func:`cluster_robust` inference
    with ``sample_id`` as the cluster.  All records must share one effect-size measure.
    """
    if dependence not in ("one_per_sample", "cluster_robust"):
        raise ValueError("dependence must be 'one_per_sample' or 'cluster_robust'")
    usable = es[es["yi"].notna()]
    excluded = es[es["yi"].isna()].assign(reason=lambda d: d["es_note"])
    measures = sorted(usable["measure"].dropna().unique())
    if len(measures) > 1:
        raise ValueError(f"records mix effect-size measures {', '.join(measures)}: select one before pooling")
    if usable.empty:
        raise ValueError("no record has a computable effect size")
    rows = one_per_sample(usable, target_months) if dependence == "one_per_sample" else usable
    dropped = usable.loc[usable.index.difference(rows.index)].assign(
        reason="another estimate of the same sample_id was kept (" + SELECTION_RULE + ")")
    excluded = pd.concat([excluded, dropped])
    overall = meta_analysis(rows["yi"], rows["vi"], method, test, level, slab=rows["effect_id"])
    fit = overall.fit
    crit = float(stats.norm.ppf(1 - (1 - level / 100) / 2))  # each study's own CI: normal quantile
    se = np.sqrt(rows["vi"])
    rows = rows.assign(ci_low=rows["yi"] - crit * se, ci_high=rows["yi"] + crit * se, weight=fit.weights)
    subgroups = subgroup_analysis(rows["yi"], rows["vi"], rows[by], method, test, level) \
        if by is not None and rows[by].nunique() > 1 else None
    robust = cluster_robust(rows["yi"], rows["vi"], rows["sample_id"], method=method, level=level) \
        if dependence == "cluster_robust" and rows["sample_id"].nunique() > 1 else None
    return EvidenceSynthesis(rows, excluded, overall, subgroups, robust, dependence)
