"""Estimators of the between-study variance τ² for y ~ N(Xβ, diag(v) + τ²I).

Each is a small class with ``fit(y, v, X) -> Tau2Fit`` (PyMARE's estimator style).  All work in
O(k p²) through :class:`~mbtevidence.engine.numerics.WeightedFit`; standard errors of τ² are those
metafor reports (Fisher information for ML/REML, moment formulas otherwise).

=======  ==============================================================  ==========================
name     estimator                                                       reference
=======  ==============================================================  ==========================
EE       τ² = 0 (equal/common effect)
DL       (Q₀ - (k-p)) / tr P₀, truncated at 0                            DerSimonian & Laird 1986
HE       (y'(I-H)y - tr((I-H)V)) / (k-p), truncated at 0                 Hedges 1983
ML       Fisher scoring: Δ = (y'PPy - Σw) / Σw²                          Viechtbauer 2005
REML     Fisher scoring: Δ = (y'PPy - tr P) / tr PP                      Viechtbauer 2005
PM       root of Q(τ²) = k - p (R's zeroin)                              Paule & Mandel 1982
SJ       τ₀² y'P(τ₀²)y / (k-p), τ₀² = Σ(y-ȳ)²/k                          Sidik & Jonkman 2005
=======  ==============================================================  ==========================

ML and REML start from HE and stop at metafor's rule |Δ| <= 1e-5, so they reproduce metafor's
output; a fit that does not converge falls back to DL and says so.  Effects far from unit scale
are rescaled internally (y / u, v / u², u a power of ten, see
:func:`~mbtevidence.engine.numerics.working_scale`) so the stopping rule and root searches do not
depend on the units; τ² is scaled back.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from .numerics import WeightedFit, generalised_q, solve_levels, working_scale


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

    def fit(self, y: np.ndarray, v: np.ndarray, X: np.ndarray) -> Tau2Fit:
        """Estimate τ², rescaling effects whose spread is far from 1 (see the module docstring)."""
        scale = working_scale(v)
        if scale == 1.0:
            return self._fit(y, v, X)
        scaled = self._fit(y / scale, v / scale**2, X)
        return Tau2Fit(scaled.tau2 * scale**2, scaled.se * scale**2, scaled.method, scaled.note)

    @abstractmethod
    def _fit(self, y: np.ndarray, v: np.ndarray, X: np.ndarray) -> Tau2Fit: ...


class CommonEffect(Tau2Estimator):
    """Equal- (common-) effect model: τ² = 0."""

    name = "EE"

    def _fit(self, y, v, X):
        return Tau2Fit(0.0, math.nan, self.name)


class DerSimonianLaird(Tau2Estimator):
    """τ² = max(0, (Q - (k-p)) / tr P), P at weights 1/v (DerSimonian & Laird 1986)."""

    name = "DL"

    def _fit(self, y, v, X):
        k, p = X.shape
        fe = WeightedFit.at(y, v, X, 0.0)
        tr = fe.trace_p()
        tau2 = max(0.0, (fe.rss - (k - p)) / tr)
        se = math.sqrt((2 * (k - p) + 4 * tau2 * tr + 2 * tau2**2 * fe.trace_pdpd()) / tr**2)
        return Tau2Fit(tau2, se, self.name)


class Hedges(Tau2Estimator):
    """Hedges (1983) moment estimator from ordinary least-squares residuals."""

    name = "HE"

    @staticmethod
    def _estimate(ols: WeightedFit, v: np.ndarray) -> float:
        k, p = ols.X.shape
        return max(0.0, (ols.rss - ols.trace_p(v)) / (k - p))

    def _fit(self, y, v, X):
        k, p = X.shape
        ols = WeightedFit(y, X, np.ones_like(y))
        tau2 = self._estimate(ols, v)
        se = math.sqrt((2 * ols.trace_pdpd(v, v) + 4 * tau2 * ols.trace_p(v) + 2 * tau2**2 * (k - p)) / (k - p) ** 2)
        return Tau2Fit(tau2, se, self.name)


class _Likelihood(Tau2Estimator):
    """ML / REML by Fisher scoring from the HE estimate, with metafor's stopping rule.

    Step: ML Δ = (y'PPy - Σw) / Σw²; REML Δ = (y'PPy - tr P) / tr(PP), halved while τ² + Δ < 0;
    stop when |Δ| <= ``threshold`` (metafor's 1e-5).  No convergence within ``max_iter`` steps falls
    back to DL and says so.
    """

    restricted: bool

    def __init__(self, max_iter: int = 100, threshold: float = 1e-5):
        self.max_iter, self.threshold = max_iter, threshold

    def _step(self, wf: WeightedFit) -> float:
        py = wf.p_y
        if self.restricted:
            return (py @ py - wf.trace_p()) / wf.trace_pdpd()
        return (py @ py - wf.w.sum()) / (wf.w @ wf.w)

    def _fit(self, y, v, X):
        tau2 = Hedges._estimate(WeightedFit(y, X, np.ones_like(y)), v)
        for _ in range(self.max_iter):
            step = self._step(WeightedFit.at(y, v, X, tau2))
            while tau2 + step < 0:
                step /= 2
            tau2 += step
            if abs(step) <= self.threshold:
                break
        else:
            fallback = DerSimonianLaird()._fit(y, v, X)
            note = (
                f"{self.name} (Fisher scoring) did not converge in {self.max_iter} iterations; "
                f"tau² estimated by DL instead"
            )
            return Tau2Fit(fallback.tau2, fallback.se, "DL", note)
        wf = WeightedFit.at(y, v, X, tau2)
        se = math.sqrt(2 / wf.trace_pdpd()) if self.restricted else math.sqrt(2 / (wf.w @ wf.w))
        return Tau2Fit(tau2, se, self.name)


class MaximumLikelihood(_Likelihood):
    name, restricted = "ML", False


class RestrictedMaximumLikelihood(_Likelihood):
    name, restricted = "REML", True


class PauleMandel(Tau2Estimator):
    """τ² solving Q(τ²) = k - p (Paule & Mandel 1982); 0 when Q(0) < k - p."""

    name = "PM"

    def _fit(self, y, v, X):
        k, p = X.shape
        target = k - p
        q = generalised_q(y, v, X)
        q_zero = float(q(np.zeros(1))[0])
        if q_zero < target:
            tau2 = 0.0
        else:
            mad = 1.4826 * float(np.median(np.abs(y - np.median(y))))
            upper = max(100.0, 10 * mad**2)
            while (q_upper := float(q(np.array([upper]))[0])) > target:
                upper *= 10
            (tau2,) = solve_levels(q, [target], 0.0, upper, (q_zero, q_upper))
        w = 1 / (v + tau2)
        return Tau2Fit(tau2, math.sqrt(2 * k**2 / (k - p) / np.sum(w) ** 2), self.name)


class SidikJonkman(Tau2Estimator):
    """τ² = τ₀² · y'P(τ₀²)y / (k-p), τ₀² = Σ(y-ȳ)²/k (Sidik & Jonkman 2005)."""

    name = "SJ"

    def _fit(self, y, v, X):
        k, p = X.shape
        tau0 = float(np.var(y))
        wf = WeightedFit.at(y, v, X, tau0)
        tau2 = tau0 * wf.rss / (k - p)
        se = math.sqrt(
            tau0**2
            / (k - p) ** 2
            * (2 * wf.trace_pdpd(v, v) + 4 * tau2 * wf.trace_pdpd(v) + 2 * tau2**2 * wf.trace_pdpd())
        )
        return Tau2Fit(tau2, se, self.name)


ESTIMATORS: dict[str, type[Tau2Estimator]] = {
    cls.name: cls
    for cls in (
        CommonEffect,
        DerSimonianLaird,
        Hedges,
        MaximumLikelihood,
        RestrictedMaximumLikelihood,
        PauleMandel,
        SidikJonkman,
    )
}


def get_estimator(method: str | Tau2Estimator) -> Tau2Estimator:
    """The estimator named ``method`` (``FE`` and ``CE`` are accepted for ``EE``)."""
    if isinstance(method, Tau2Estimator):
        return method
    key = "EE" if method in ("FE", "CE") else method
    if key not in ESTIMATORS:
        raise ValueError(f"unknown tau² estimator {method!r}; choose from {', '.join(ESTIMATORS)}")
    return ESTIMATORS[key]()
