"""Sensitivity and small-study analyses of a pooled result, as in metafor.

* :func:`leave_one_out` — metafor ``leave1out()``;
* :func:`influence` — metafor ``influence()`` (Viechtbauer & Cheung 2010): studentised deleted
  residuals, DFFITS, Cook's distances, covariance ratios, leave-one-out τ² and QE, hat values and
  weights;
* :func:`cumulative` — metafor ``cumul()``, studies added in the order of a column;
* :func:`egger_test` — metafor ``regtest()``: ``model="rma"`` (default; the mixed-effects model
  with the standard error as moderator, same τ² estimator and test) or ``model="lm"`` (the
  classical Egger et al. 1997 weighted regression, t(k-2));
* :func:`trim_and_fill` — metafor ``trimfill()`` with the L0 estimator (Duval & Tweedie 2000),
  side chosen from the sign of the Egger slope when not given;
* :func:`correlation_sweep` — how the pooled result moves with the assumed pre-post correlation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .effects import evidence_effect_sizes
from .pooling import (MetaAnalysisResult, Tau2Estimator, check_inputs, fit_model, meta_analysis,
                      meta_regression)

SUMMARY_COLUMNS = ["k", "estimate", "se", "stat", "p", "ci_low", "ci_high", "pi_low", "pi_high",
                   "q", "q_p", "tau2", "i2", "h2"]


def _labels(slab: object, k: int) -> list[str]:
    return [f"Study {i + 1}" for i in range(k)] if slab is None else [str(s) for s in slab]


def _row(result: MetaAnalysisResult) -> dict[str, object]:
    d = result.to_dict()
    return {c: (math.nan if d[c] is None else d[c]) for c in SUMMARY_COLUMNS}


def leave_one_out(yi: object, vi: object, slab: object = None, method: str | Tau2Estimator = "REML",
                  test: str = "knha", level: float = 95) -> pd.DataFrame:
    """The pooled result with each study left out in turn (row = the study omitted)."""
    y, v = check_inputs(yi, vi)
    if len(y) < 2:
        raise ValueError("leave-one-out needs k >= 2")
    rows = [_row(meta_analysis(np.delete(y, i), np.delete(v, i), method, test, level)) for i in range(len(y))]
    return pd.DataFrame(rows, index=pd.Index(_labels(slab, len(y)), name="omitted"))


def influence(yi: object, vi: object, slab: object = None, mods: pd.DataFrame | None = None,
              method: str | Tau2Estimator = "REML", test: str = "knha") -> pd.DataFrame:
    """Case diagnostics of the (mixed-effects) model, one row per study (metafor ``influence()``).

    With fit (-i) the model without study i and s² its Knapp-Hartung factor (1 under ``z``):
    rstudent = (y_i - x_i'β̂₍₋ᵢ₎) / √(s²₍₋ᵢ₎(v_i + τ̂²₍₋ᵢ₎) + x_i'V₍₋ᵢ₎x_i);
    dffits = x_i'(β̂ - β̂₍₋ᵢ₎) / √(s²₍₋ᵢ₎ h_i (τ̂²₍₋ᵢ₎ + v_i));
    cook_d = (β̂ - β̂₍₋ᵢ₎)' V⁻¹ (β̂ - β̂₍₋ᵢ₎); cov_r = det V₍₋ᵢ₎ / det V;
    hat = diag(X(X'WX)⁻¹X'W); weight = 100 w_i / Σw.
    """
    y, v = check_inputs(yi, vi)
    k = len(y)
    if k < 2:
        raise ValueError("influence diagnostics need k >= 2")
    if mods is None:
        X, names = np.ones((k, 1)), ["intrcpt"]
    else:
        reg = meta_regression(y, v, mods, method, test)
        X, names = reg.fit.X, reg.fit.names
    full = fit_model(y, v, X, names, method, test)
    w = 1 / (v + full.tau2)
    hat = np.diag(X @ np.linalg.inv(X.T @ (w[:, None] * X)) @ (X.T * w))
    vb_inv = np.linalg.inv(full.vb)
    rows = []
    for i in range(k):
        keep = np.arange(k) != i
        sub = fit_model(y[keep], v[keep], X[keep], names, method, test)
        s2w = sub.s2w
        x_i = X[i]
        delpred = float(x_i @ sub.beta)
        vdelpred = float(x_i @ sub.vb @ x_i)
        dfb = full.beta - sub.beta
        rows.append({
            "rstudent": (y[i] - delpred) / math.sqrt(v[i] * s2w + vdelpred + sub.tau2 * s2w),
            "dffits": (float(x_i @ full.beta) - delpred) / math.sqrt(s2w * hat[i] * (sub.tau2 + v[i])),
            "cook_d": float(dfb @ vb_inv @ dfb),
            "cov_r": float(np.linalg.det(sub.vb) / np.linalg.det(full.vb)),
            "tau2_del": sub.tau2, "qe_del": sub.qe, "hat": hat[i], "weight": full.weights[i],
        })
    return pd.DataFrame(rows, index=pd.Index(_labels(slab, k), name="study"))


def cumulative(yi: object, vi: object, order: object = None, slab: object = None,
               method: str | Tau2Estimator = "REML", test: str = "knha", level: float = 95) -> pd.DataFrame:
    """Cumulative meta-analysis: row j pools the first j studies in ``order`` (e.g. year)."""
    y, v = check_inputs(yi, vi)
    labels = np.array(_labels(slab, len(y)), dtype=object)
    idx = np.arange(len(y)) if order is None else np.argsort(np.asarray(order), kind="stable")
    y, v, labels = y[idx], v[idx], labels[idx]
    rows = [_row(meta_analysis(y[: j + 1], v[: j + 1], method, test, level)) for j in range(len(y))]
    return pd.DataFrame(rows, index=pd.Index(list(labels), name="added"))


@dataclass
class EggerResult:
    """Regression test for funnel-plot asymmetry."""

    model: str
    stat_name: str
    stat: float
    df: float
    p: float
    limit_estimate: float
    limit_ci: tuple[float, float]

    def summary(self) -> str:
        kind = ("mixed-effects meta-regression on the standard error (metafor regtest default)"
                if self.model == "rma" else "classical Egger weighted regression (lm)")
        df = f"(df = {self.df:g})" if math.isfinite(self.df) else ""
        return (f"Regression test for funnel plot asymmetry: {kind}\n"
                f"test for asymmetry: {self.stat_name}{df} = {self.stat:.4f}, p = {self.p:.4f}\n"
                f"limit estimate (as sei -> 0): {self.limit_estimate:.4f} "
                f"(CI: {self.limit_ci[0]:.4f}, {self.limit_ci[1]:.4f})")


def egger_test(yi: object, vi: object, model: str = "rma", method: str | Tau2Estimator = "REML",
               test: str = "knha", level: float = 95) -> EggerResult:
    """Egger's regression test with the standard error √v_i as predictor."""
    y, v = check_inputs(yi, vi)
    if len(y) < 3:
        raise ValueError("Egger's test needs k >= 3")
    sei = pd.DataFrame({"sei": np.sqrt(v)})
    if model == "rma":
        reg = meta_regression(y, v, sei, method, test, level)
        coef = reg.coefficients
        return EggerResult("rma", "t" if reg.fit.test == "knha" else "z", float(coef.loc["sei", "stat"]),
                           reg.fit.df, float(coef.loc["sei", "p"]), float(coef.loc["intrcpt", "estimate"]),
                           (float(coef.loc["intrcpt", "ci_low"]), float(coef.loc["intrcpt", "ci_high"])))
    if model != "lm":
        raise ValueError("model must be 'rma' or 'lm'")
    X = np.column_stack([np.ones(len(y)), sei["sei"]])
    w = 1 / v
    xtwx_inv = np.linalg.inv(X.T @ (w[:, None] * X))
    beta = xtwx_inv @ X.T @ (w * y)
    df = len(y) - 2
    sigma2 = float(np.sum(w * (y - X @ beta) ** 2)) / df
    se = np.sqrt(np.diag(xtwx_inv) * sigma2)
    stat = beta / se
    crit = stats.t.ppf(1 - (1 - level / 100) / 2, df)
    return EggerResult("lm", "t", float(stat[1]), float(df), float(2 * stats.t.sf(abs(stat[1]), df)),
                       float(beta[0]), (float(beta[0] - crit * se[0]), float(beta[0] + crit * se[0])))


@dataclass
class TrimFillResult:
    """Trim-and-fill: number and side of imputed studies and the model on the filled data."""

    k0: int
    side: str
    filled: pd.DataFrame
    result: MetaAnalysisResult

    def summary(self) -> str:
        return (f"Estimated number of missing studies on the {self.side} side: {self.k0} (L0 estimator)\n\n"
                + self.result.summary())


def trim_and_fill(yi: object, vi: object, side: str | None = None, method: str | Tau2Estimator = "REML",
                  test: str = "knha", level: float = 95, max_iter: int = 100) -> TrimFillResult:
    """Duval & Tweedie's trim and fill with the L0 estimator, as metafor ``trimfill()``.

    k0 = max(0, round((4 S_r - k(k+1)) / (2k - 1))), S_r the sum of the signed ranks of the
    positive centred values; iterate trimming the k0 most extreme studies until k0 is stable,
    then mirror them around the trimmed estimate and refit.
    """
    y0, v0 = check_inputs(yi, vi)
    k = len(y0)
    if k < 3:
        raise ValueError("trim and fill needs k >= 3")
    if side is None:
        slope = meta_regression(y0, v0, pd.DataFrame({"sei": np.sqrt(v0)}), method, "z").fit.beta[1]
        side = "right" if slope < 0 else "left"
    if side not in ("left", "right"):
        raise ValueError("side must be 'left' or 'right'")
    sign = -1.0 if side == "right" else 1.0
    order = np.argsort(sign * y0, kind="stable")
    y, v = sign * y0[order], v0[order]
    k0, previous = 0, -1
    for _ in range(max_iter):
        if k0 == previous:
            break
        previous = k0
        beta = meta_analysis(y[: k - k0], v[: k - k0], method, "z").estimate
        centred = y - beta
        ranks = stats.rankdata(np.abs(centred), method="ordinal")
        s_r = float(np.sum(ranks[centred > 0]))
        k0 = max(0, round((4 * s_r - k * (k + 1)) / (2 * k - 1)))
    else:
        raise ValueError("trim and fill did not converge")
    fill_y = sign * (2 * beta - y[k - k0:]) if k0 else np.array([])
    filled = pd.DataFrame({"yi": np.concatenate([y0, fill_y]), "vi": np.concatenate([v0, v[k - k0:]]),
                           "filled": [False] * k + [True] * k0})
    return TrimFillResult(k0, side, filled, meta_analysis(filled["yi"], filled["vi"], method, test, level))


def correlation_sweep(records: pd.DataFrame, correlations: list[float] = (0.3, 0.5, 0.7, 0.9),
                      method: str | Tau2Estimator = "REML", test: str = "knha", level: float = 95) -> pd.DataFrame:
    """Recompute pre/post effect sizes at each assumed pre-post correlation and pool them.

    ``records`` are evidence records (one per independent sample, as selected for the analysis).
    Records with a printed ``ri`` keep it; the others take each value in turn.
    """
    rows = []
    for r in correlations:
        es = evidence_effect_sizes(records, ri=r).dropna(subset=["yi"])
        row = _row(meta_analysis(es["yi"], es["vi"], method, test, level))
        rows.append({"ri": r, **row})
    return pd.DataFrame(rows).set_index("ri")
