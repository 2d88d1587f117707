"""Sensitivity and small-study analyses of a fitted result, as in metafor.

Each function takes a fitted :class:`MetaAnalysisResult` (or, for :func:`influence`, a
:class:`MetaRegressionResult`) and reuses its τ² estimator, test and level, as metafor's
``leave1out(x)`` does:

* :func:`leave_one_out` — metafor ``leave1out()``;
* :func:`influence` — metafor ``influence()`` (Viechtbauer & Cheung 2010);
* :func:`cumulative` — metafor ``cumul()``, studies added in the order of a column;
* :func:`egger_test` — metafor ``regtest()``: ``model="rma"`` (the mixed-effects model with the
  standard error as moderator) or ``model="lm"`` (Egger et al. 1997 weighted regression, t(k-2));
* :func:`trim_and_fill` — metafor ``trimfill()``, L0 estimator (Duval & Tweedie 2000); the filled
  data are refitted with a z test as metafor 3.8 does, or with the result's own test on request.

Refits never compute Q-profile limits (they are computed only when asked for).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .analyses import meta_analysis, meta_regression
from .model import EXACT_FIT_S2, ModelFit, fit_model
from .numerics import WeightedFit, critical_value, ratio, two_sided_p
from .results import MetaAnalysisResult, MetaRegressionResult, Result, TestResult, labels
from .text import clean, fmt, frame_text, notes_lines

FEW_FOR_SMALL_STUDY_TESTS = 10


def _refit(fit: ModelFit, keep: np.ndarray) -> ModelFit:
    """The same model on a subset.  ML/REML restart from HE as metafor does: a warm start from the
    full model's τ² stops the Fisher scoring elsewhere within its 1e-5 tolerance and moves
    covariance ratios by up to 4e-4."""
    return fit_model(fit.y[keep], fit.v[keep], fit.X[keep], fit.names, fit.method, fit.test, fit.level)


def _row(fit: ModelFit) -> dict[str, float]:
    """Pooled-row quantities without the Q-profile (estimate, CI, τ², I², H², Q)."""
    se = float(fit.se[0])
    stat = float(ratio(fit.beta[0], se))
    half = fit.crit * se
    return {
        "k": fit.k,
        "estimate": float(fit.beta[0]),
        "se": se,
        "stat": stat,
        "p": float(fit.pvalues(np.array([stat]))[0]),
        "ci_low": float(fit.beta[0]) - half,
        "ci_high": float(fit.beta[0]) + half,
        "qe": fit.qe if fit.has_heterogeneity else math.nan,
        "qe_p": fit.qe_p,
        "tau2": fit.tau2 if fit.has_heterogeneity else math.nan,
        "i2": fit.i2,
        "h2": fit.h2,
    }


@dataclass
class TableResult(Result):
    """A sensitivity table (one row per study left out, added or diagnosed) and its settings."""

    title: str
    table: pd.DataFrame
    fit: ModelFit
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def to_dict(self) -> dict[str, object]:
        rows = [
            {self.table.index.name or "row": str(i), **{k: clean(v) for k, v in r.items()}}
            for i, r in self.table.iterrows()
        ]
        return {
            "title": self.title,
            "method": self.fit.method,
            "test": self.fit.test,
            "level": self.fit.level,
            "rows": rows,
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        head = f"{self.title} (tau² {self.fit.method}, test {self.fit.test})"
        return "\n".join([head, frame_text(self.table)] + notes_lines(self.notes))


def _exact_fit_notes(
    fits: list[ModelFit], rows: str, consequence: str = "standard errors are 0 and t statistics infinite there"
) -> list[str]:
    """A note when some refits fit their data exactly under Knapp-Hartung (s² ≈ 0)."""
    exact = sum(f.exact_fit for f in fits)
    if not exact:
        return []
    return [
        f"{exact} of {len(fits)} {rows}: the effect sizes fit the model exactly (Knapp-Hartung s² ≈ 0), so "
        f"{consequence} (test='adhoc' truncates s² at 1)"
    ]


def leave_one_out(result: MetaAnalysisResult) -> TableResult:
    """The pooled result with each study left out in turn (row = the study omitted)."""
    fit = result.fit
    if fit.k < 2:
        raise ValueError("leave-one-out needs k >= 2")
    fits = [_refit(fit, np.arange(fit.k) != i) for i in range(fit.k)]
    table = pd.DataFrame([_row(f) for f in fits], index=pd.Index(labels(result.slab, fit.k), name="omitted"))
    return TableResult("Leave-one-out analysis", table, fit, _exact_fit_notes(fits, "leave-one-out fits"))


def influence(result: MetaAnalysisResult | MetaRegressionResult, slab: Iterable[object] | None = None) -> TableResult:
    """Case diagnostics, one row per study (metafor ``influence()``).

    With fit (-i) the model without study i and s² its Knapp-Hartung factor (1 under ``z``):
    rstudent = (y_i - x_i'β̂₍₋ᵢ₎) / √(s²₍₋ᵢ₎(v_i + τ̂²₍₋ᵢ₎) + x_i'V₍₋ᵢ₎x_i);
    dffits = x_i'(β̂ - β̂₍₋ᵢ₎) / √(s²₍₋ᵢ₎ h_i (τ̂²₍₋ᵢ₎ + v_i));
    cook_d = (β̂ - β̂₍₋ᵢ₎)' V⁻¹ (β̂ - β̂₍₋ᵢ₎); cov_r = det V₍₋ᵢ₎ / det V;
    hat = diag(X(X'WX)⁻¹X'W); weight = 100 w_i / Σw.
    """
    full = result.fit
    k = full.k
    if k < 2:
        raise ValueError("influence diagnostics need k >= 2")
    hat = WeightedFit.at(full.y, full.v, full.X, full.tau2).leverage
    # Var(β̂) = 0 when the effects fit exactly: Cook's distance and covariance ratio are undefined
    vb_inv = np.full_like(full.vb, np.nan) if full.exact_fit else np.linalg.inv(full.vb)
    det_full = math.nan if full.exact_fit else float(np.linalg.det(full.vb))
    rows, subs = [], []
    for i in range(k):
        sub = _refit(full, np.arange(k) != i)
        subs.append(sub)
        x_i = full.X[i]
        delpred = float(x_i @ sub.beta)
        dfb = full.beta - sub.beta
        # a refit that fits exactly has s² ≈ 0: its residual ratios are rounding noise, so undefined
        rows.append(
            {
                "rstudent": math.nan
                if sub.exact_fit
                else (full.y[i] - delpred) / math.sqrt(sub.s2 * (full.v[i] + sub.tau2) + float(x_i @ sub.vb @ x_i)),
                "dffits": math.nan
                if sub.exact_fit
                else (float(x_i @ full.beta) - delpred) / math.sqrt(sub.s2 * hat[i] * (sub.tau2 + full.v[i])),
                "cook_d": float(dfb @ vb_inv @ dfb),
                "cov_r": float(np.linalg.det(sub.vb)) / det_full,
                "tau2_del": sub.tau2,
                "qe_del": sub.qe,
                "hat": hat[i],
                "weight": full.weights[i],
            }
        )
    names = getattr(result, "slab", None) if slab is None else slab
    notes = _exact_fit_notes(subs, "fits without one study", "rstudent and dffits are undefined there")
    if full.exact_fit:
        notes.append("the full model fits exactly (s² ≈ 0): Cook's distances and covariance ratios are undefined")
    table = pd.DataFrame(rows, index=pd.Index(labels(names, k), name="study"))
    return TableResult("Influence diagnostics", table, full, notes)


def cumulative(result: MetaAnalysisResult, order: object = None) -> TableResult:
    """Cumulative meta-analysis: row j pools the first j studies in ``order`` (e.g. year)."""
    fit = result.fit
    names = np.array(labels(result.slab, fit.k), dtype=object)
    idx = np.arange(fit.k) if order is None else np.argsort(np.asarray(order), kind="stable")
    fits = [
        fit_model(fit.y[idx[: j + 1]], fit.v[idx[: j + 1]], method=fit.method, test=fit.test, level=fit.level)
        for j in range(fit.k)
    ]
    table = pd.DataFrame([_row(f) for f in fits], index=pd.Index(list(names[idx]), name="added"))
    return TableResult("Cumulative meta-analysis", table, fit, _exact_fit_notes(fits, "cumulative fits"))


@dataclass
class EggerResult(Result):
    """Regression test for funnel-plot asymmetry."""

    model: str
    test: TestResult
    limit_estimate: float
    limit_ci: tuple[float, float]
    k: int
    undefined_because: str = ""

    @property
    def notes(self) -> list[str]:
        notes = [self.undefined_because] if self.undefined_because else []
        if self.k < FEW_FOR_SMALL_STUDY_TESTS:
            notes.append(
                f"k = {self.k} < {FEW_FOR_SMALL_STUDY_TESTS}: small-study tests have too little power to be "
                f"interpreted (Cochrane Handbook 13.3.5.4)"
            )
        return notes

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "k": self.k,
            "test": self.test.to_dict(),
            "limit_estimate": clean(self.limit_estimate),
            "limit_ci_low": clean(self.limit_ci[0]),
            "limit_ci_high": clean(self.limit_ci[1]),
            "notes": self.notes,
        }

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "model": self.model,
                    "k": self.k,
                    "statistic": self.test.statistic,
                    "value": self.test.value,
                    "df": self.test.df1,
                    "p": self.test.p,
                    "limit_estimate": self.limit_estimate,
                    "limit_ci_low": self.limit_ci[0],
                    "limit_ci_high": self.limit_ci[1],
                }
            ]
        )

    def summary(self) -> str:
        kind = (
            "mixed-effects meta-regression on the standard error (metafor regtest default)"
            if self.model == "rma"
            else "classical Egger weighted regression (lm)"
        )
        return "\n".join(
            [
                f"Regression test for funnel plot asymmetry: {kind}",
                f"test for asymmetry: {self.test}",
                f"limit estimate (as sei -> 0): {fmt(self.limit_estimate)} "
                f"(CI: {fmt(self.limit_ci[0])}, {fmt(self.limit_ci[1])})",
            ]
            + notes_lines(self.notes)
        )


def egger_test(result: MetaAnalysisResult, model: str = "rma") -> EggerResult:
    """Egger's regression test with the standard error √v_i as predictor.

    When the effects lie exactly on the regression line (Knapp-Hartung or residual s² ≈ 0) the
    test is undefined: NaN, with the reason in the notes (metafor reports an infinite statistic
    from rounding noise).
    """
    fit = result.fit
    y, v = fit.y, fit.v
    if fit.k < 3:
        raise ValueError("Egger's test needs k >= 3")
    if np.ptp(v) == 0:
        raise ValueError(f"Egger's test needs differing standard errors; all {fit.k} studies have vi = {v[0]:g}")
    if model not in ("rma", "lm"):
        raise ValueError("model must be 'rma' or 'lm'")
    sei = pd.DataFrame({"sei": np.sqrt(v)})
    if model == "rma":
        reg = meta_regression(y, v, sei, fit.method, fit.test, fit.level)
        coef = reg.coefficients
        name, df, exact = ("z" if fit.test == "z" else "t"), reg.fit.df, reg.fit.exact_fit
        stat, p = float(coef.loc["sei", "stat"]), float(coef.loc["sei", "p"])
        limit = float(coef.loc["intrcpt", "estimate"])
        limit_ci = (float(coef.loc["intrcpt", "ci_low"]), float(coef.loc["intrcpt", "ci_high"]))
    else:
        wf = WeightedFit(y, np.column_stack([np.ones(len(y)), sei["sei"]]), 1 / v)
        name, df = "t", float(len(y) - 2)
        exact = wf.rss / df < EXACT_FIT_S2
        se = np.sqrt(np.diag(wf.bread) * wf.rss / df)
        stat = float(ratio(wf.beta[1], se[1]))
        p = float(two_sided_p(stat, df))
        crit = critical_value(fit.level, df)
        limit, limit_ci = float(wf.beta[0]), (float(wf.beta[0] - crit * se[0]), float(wf.beta[0] + crit * se[0]))
    if exact:
        reason = "the effect sizes lie exactly on the regression line (s² ≈ 0): the test is undefined"
        return EggerResult(model, TestResult(name, math.nan, df, math.inf, math.nan), limit, limit_ci, fit.k, reason)
    return EggerResult(model, TestResult(name, stat, df, math.inf, p), limit, limit_ci, fit.k)


@dataclass
class TrimFillResult(Result):
    """Trim-and-fill: number and side of imputed studies and the model on the filled data."""

    k0: int
    side: str
    filled: pd.DataFrame
    result: MetaAnalysisResult

    def to_dict(self) -> dict[str, object]:
        return {"k0": self.k0, "side": self.side, "filled_model": self.result.to_dict()}

    def to_frame(self) -> pd.DataFrame:
        return self.filled

    def summary(self) -> str:
        return (
            f"Estimated number of missing studies on the {self.side} side: {self.k0} (L0 estimator)\n\n"
            + self.result.summary()
        )


def _missing_studies(y: np.ndarray, v: np.ndarray, method: str, max_iter: int) -> tuple[int, float]:
    """L0 estimate of the number of studies missing on the left of y (sorted ascending) and the
    trimmed estimate; identical effects have none (metafor's ranks of their rounding noise need not
    converge)."""
    k = len(y)
    if np.ptp(y) == 0:
        return 0, float(y[0])
    k0, previous, beta = 0, -1, math.nan
    for _ in range(max_iter):
        if k0 == previous:
            return k0, beta
        previous = k0
        beta = meta_analysis(y[: k - k0], v[: k - k0], method, "z").estimate
        centred = y - beta
        ranks = stats.rankdata(np.abs(centred), method="ordinal")
        k0 = max(0, round((4 * float(np.sum(ranks[centred > 0])) - k * (k + 1)) / (2 * k - 1)))
    raise ValueError("trim and fill did not converge")


def trim_and_fill(
    result: MetaAnalysisResult, side: str | None = None, filled_test: str = "z", max_iter: int = 100
) -> TrimFillResult:
    """Duval & Tweedie's trim and fill with the L0 estimator, as metafor ``trimfill()``.

    k0 = max(0, round((4 S_r - k(k+1)) / (2k - 1))), S_r the sum of the signed ranks of the
    positive centred values; iterate trimming the k0 most extreme studies until k0 is stable,
    then mirror them around the trimmed estimate and refit.  ``filled_test="z"`` (default) refits
    the filled data with a z test as metafor 3.8 does; ``"same"`` uses the result's own test.  When
    no study is missing (k0 = 0) the result is the model as given, as in metafor.
    """
    fit = result.fit
    y0, v0, method = fit.y, fit.v, fit.method
    k = fit.k
    if k < 3:
        raise ValueError("trim and fill needs k >= 3")
    if filled_test not in ("z", "same"):
        raise ValueError("filled_test must be 'z' (metafor) or 'same'")
    if side is None and np.ptp(v0) == 0:
        raise ValueError(
            "trim and fill cannot tell the side when all studies have the same variance; give side='left' or 'right'"
        )
    if side is None:
        slope = meta_regression(y0, v0, pd.DataFrame({"sei": np.sqrt(v0)}), method, "z").fit.beta[1]
        side = "right" if slope < 0 else "left"
    if side not in ("left", "right"):
        raise ValueError("side must be 'left' or 'right'")
    sign = -1.0 if side == "right" else 1.0
    order = np.argsort(sign * y0, kind="stable")
    y, v = sign * y0[order], v0[order]
    k0, beta = _missing_studies(y, v, method, max_iter)
    fill_y = sign * (2 * beta - y[k - k0 :]) if k0 else np.array([])
    filled = pd.DataFrame(
        {
            "yi": np.concatenate([y0, fill_y]),
            "vi": np.concatenate([v0, v[k - k0 :]]),
            "filled": [False] * k + [True] * k0,
        }
    )
    if k0 == 0:
        return TrimFillResult(0, side, filled, result)
    test = "z" if filled_test == "z" else fit.test
    return TrimFillResult(k0, side, filled, meta_analysis(filled["yi"], filled["vi"], method, test, fit.level))
