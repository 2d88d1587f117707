"""The fitted (mixed-effects) meta-analytic model.

Model: y_i = x_i'β + u_i + e_i, u_i ~ N(0, τ²), e_i ~ N(0, v_i) (Viechtbauer 2010, J Stat Softw
36(3)).  With W = diag(1/(v_i + τ²)): β̂ = (X'WX)⁻¹X'Wy, Var(β̂) = (X'WX)⁻¹.

Conventions (defaults follow the Cochrane Handbook v6.4, ch. 10.10.4):

* **Tests and CIs** (``test``): ``"knha"`` Knapp-Hartung, Var(β̂) × s², s² = y'Py/(k-p), t(k-p)
  (Hartung & Knapp 2001), not truncated; ``"adhoc"`` the same with s² truncated below at 1
  (Knapp & Hartung 2003 "ad hoc" modification; metafor ``test="adhoc"``); ``"z"`` Wald z tests.
* **τ² CI**: Q-profile (Viechtbauer 2007), computed only when asked for.
* **I²** from τ² (Higgins & Thompson 2002, as metafor and Cochrane): I² = τ²/(τ² + ṽ),
  ṽ = (k-p)/tr(P_FE); H² = (τ² + ṽ)/ṽ.  For the common-effect model I² = (Q-(k-p))/Q, H² = Q/(k-p).
* **Prediction interval**: μ̂ ± c·√(SE² + τ²), c the normal quantile under ``z`` and the t(k-p)
  quantile otherwise (metafor's ``predict()``); not reported for k < 3 (Cochrane Handbook 10.10.4.3:
  with so few studies it is uninformative), with a note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from .numerics import (
    WeightedFit,
    check_inputs,
    check_level,
    chi2_quantile,
    chi2_sf,
    critical_value,
    generalised_q,
    solve_levels,
    two_sided_p,
    working_scale,
)
from .tau2 import Tau2Estimator, Tau2Fit, get_estimator

TESTS = ("knha", "adhoc", "z")
FEW_STUDIES = 5
"""Below this k every result carries a note: intervals are unreliable (Cochrane Handbook 10.10.4)."""
MIN_K_PREDICTION = 3
EXACT_FIT_S2 = 1e-10
"""Below this Knapp-Hartung s² the effects fit the model exactly (e.g. identical effect sizes)."""


def factor_order(level: str) -> tuple[str, str]:
    """Sort key giving the order of R's ``factor()`` levels (ICU collation, as R uses on Linux and
    macOS): case-insensitive, and lower case before upper case where the letters are the same."""
    return (level.casefold(), level.swapcase())


def design_matrix(
    mods: pd.DataFrame, reference: dict[str, str] | None = None
) -> tuple[np.ndarray, list[str], dict[str, str]]:
    """Intercept plus moderators: numbers as they are, text as treatment dummies.

    The reference level of a text moderator is ``reference[name]`` when given, else the first
    level in R's ``factor()`` order (case-insensitive alphabetical).  Returns X, column names and
    the reference level of each text moderator.
    """
    reference = dict(reference or {})
    columns, names, used = [np.ones(len(mods))], ["intrcpt"], {}
    for name in mods.columns:
        col = mods[name]
        if col.isna().any():
            raise ValueError(f"moderator {name} has missing values in rows {list(np.flatnonzero(col.isna()))}")
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            columns.append(col.to_numpy(dtype=float))
            names.append(str(name))
            continue
        text = col.astype(str)
        levels = sorted(text.unique(), key=factor_order)
        ref = reference.pop(str(name), levels[0])
        if ref not in levels:
            raise ValueError(f"reference level {ref!r} of moderator {name} is not among its levels {levels}")
        used[str(name)] = ref
        for level in levels:
            if level != ref:
                columns.append((text == level).to_numpy(dtype=float))
                names.append(f"{name}{level}")
    if reference:
        raise ValueError(f"reference levels given for unknown or numeric moderators: {', '.join(reference)}")
    return np.column_stack(columns), names, used


def _qprofile(y: np.ndarray, v: np.ndarray, X: np.ndarray, level: float, tau2: float) -> tuple[float, float, str]:
    """Q-profile limits for τ² (Viechtbauer 2007), searched as metafor's ``confint()`` does: in
    [0, max(100, 10 τ̂²)] with R's root finder, in the working unit of
    :func:`~mbtevidence.engine.numerics.working_scale` (so the limits scale with the data).  Returns
    the limits and a note when the upper limit lies beyond the searched range."""
    k, p = X.shape
    unit = working_scale(v) ** 2
    q = generalised_q(y / math.sqrt(unit), v / unit, X)
    alpha = 1 - level / 100
    crit_u, crit_l = chi2_quantile(1 - alpha / 2, k - p), chi2_quantile(alpha / 2, k - p)
    upper = max(100.0, 10 * tau2 / unit)
    q_min, q_max = (float(x) for x in q(np.array([0.0, upper])))
    if q_min < crit_l:
        return 0.0, 0.0, ""
    if q_max > crit_u:  # as metafor: both limits at the end of the searched range
        return upper * unit, upper * unit, f"both Q-profile limits of tau² lie above {upper * unit:g} (searched range)"
    # the upper limit solves Q(τ²) = crit_l, the lower Q(τ²) = crit_u; both searches run together
    search_high, search_low = q_max <= crit_l, q_min >= crit_u
    levels = [crit_l] * search_high + [crit_u] * search_low
    roots = iter(solve_levels(q, levels, 0.0, upper, (q_min, q_max)))
    high = next(roots) if search_high else upper
    low = next(roots) if search_low else 0.0
    note = "" if search_high else f"the upper Q-profile limit of tau² lies above {upper * unit:g} (searched range)"
    return low * unit, high * unit, note


@dataclass
class ModelFit:
    """Everything a fitted model knows; result objects present it.  Settings travel inside."""

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
    v_typical: float
    s2: float = 1.0
    notes: list[str] = field(default_factory=list)
    reference_levels: dict[str, str] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return len(self.y)

    @property
    def n_coef(self) -> int:
        return self.X.shape[1]

    @property
    def has_heterogeneity(self) -> bool:
        """Residual heterogeneity is estimable (k > number of coefficients)."""
        return self.k > self.n_coef

    @property
    def is_random(self) -> bool:
        return self.has_heterogeneity and self.method != "EE"

    @property
    def exact_fit(self) -> bool:
        """Knapp-Hartung with s² ≈ 0: the effects fit the model exactly, so Var(β̂) = 0 (see notes)."""
        return self.test == "knha" and self.s2 < EXACT_FIT_S2

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.vb))

    @property
    def crit(self) -> float:
        return critical_value(self.level, self.df)

    def pvalues(self, stat: np.ndarray) -> np.ndarray:
        return two_sided_p(stat, self.df)

    @property
    def qe_p(self) -> float:
        return chi2_sf(self.qe, self.k - self.n_coef) if self.has_heterogeneity else math.nan

    @property
    def i2(self) -> float:
        if not self.has_heterogeneity:
            return math.nan
        if self.method == "EE":
            return max(0.0, 100 * (self.qe - (self.k - self.n_coef)) / self.qe) if self.qe > 0 else 0.0
        return 100 * self.tau2 / (self.v_typical + self.tau2)

    @property
    def h2(self) -> float:
        if not self.has_heterogeneity:
            return math.nan
        if self.method == "EE":
            return self.qe / (self.k - self.n_coef)
        return (self.tau2 + self.v_typical) / self.v_typical

    @cached_property
    def _tau2_ci(self) -> tuple[float, float, str]:
        if not self.is_random:
            return math.nan, math.nan, ""
        return _qprofile(self.y, self.v, self.X, self.level, self.tau2)

    @property
    def tau2_ci(self) -> tuple[float, float]:
        """Q-profile confidence limits for τ² (computed on first use)."""
        return self._tau2_ci[:2]

    @property
    def all_notes(self) -> list[str]:
        """The fit's notes plus the Q-profile's, once it has been computed."""
        return self.notes + ([self._tau2_ci[2]] if "_tau2_ci" in self.__dict__ and self._tau2_ci[2] else [])

    def heterogeneity_ci(self) -> dict[str, tuple[float, float]]:
        """Q-profile limits for τ², τ, I² and H²."""
        lo, hi = self.tau2_ci
        vt = self.v_typical
        return {
            "tau2": (lo, hi),
            "tau": (math.sqrt(lo), math.sqrt(hi)) if lo == lo else (lo, hi),
            "i2": (100 * lo / (vt + lo), 100 * hi / (vt + hi)),
            "h2": ((lo + vt) / vt, (hi + vt) / vt),
        }

    @property
    def prediction_defined(self) -> bool:
        return self.is_random and self.k >= MIN_K_PREDICTION

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Predicted effect at moderator rows ``x`` (with intercept column), its CI and PI
        (PI NaN where not defined: common-effect model, or k < 3)."""
        x = np.atleast_2d(x)
        pred = x @ self.beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", x, self.vb, x))
        half_pi = self.crit * np.sqrt(se**2 + self.tau2) if self.prediction_defined else np.full_like(pred, np.nan)
        return {
            "pred": pred,
            "se": se,
            "ci_low": pred - self.crit * se,
            "ci_high": pred + self.crit * se,
            "pi_low": pred - half_pi,
            "pi_high": pred + half_pi,
        }


def _few_study_notes(k: int, n_coef: int, test: str, s2: float, is_random: bool) -> list[str]:
    notes = []
    if 1 < k < FEW_STUDIES:
        notes.append(
            f"k = {k} < {FEW_STUDIES}: between-study variance and intervals are poorly estimated "
            f"with so few studies; compare methods (few_study_comparison) before reading a finding"
        )
    if test == "knha" and k > n_coef and EXACT_FIT_S2 <= s2 < 0.99:
        notes.append(
            f"Knapp-Hartung scaling s² = {s2:.3g} < 1 narrows the interval below the z interval; "
            f"test='adhoc' truncates s² at 1"
        )
    if is_random and k < MIN_K_PREDICTION:
        notes.append(f"no prediction interval for k = {k} < {MIN_K_PREDICTION}: it would be uninformative")
    return notes


def _exact_fit_note(wf: WeightedFit, s2: float, level: float, df: int) -> str:
    """Knapp-Hartung with effects that fit the model exactly (s² ≈ 0), and the ad hoc alternative."""
    omnibus = "" if wf.X.shape[1] == 1 else "; the test of moderators is undefined"
    note = (
        f"the effect sizes fit the model exactly (Knapp-Hartung s² = {s2:.2g}): standard errors are 0, "
        f"intervals have zero width and t statistics are infinite (as in metafor{omnibus}); "
        f"test='adhoc' truncates s² at 1"
    )
    if wf.X.shape[1] == 1:
        se = math.sqrt(wf.bread[0, 0])
        half = critical_value(level, df) * se
        est = float(wf.beta[0])
        note += f" and gives SE {se:.4f}, {level:g}% CI [{est - half:.4f}, {est + half:.4f}]"
    return note


def fit_model(
    yi: object,
    vi: object,
    X: np.ndarray | None = None,
    names: list[str] | None = None,
    method: str | Tau2Estimator = "REML",
    test: str = "knha",
    level: float = 95,
    reference_levels: dict[str, str] | None = None,
) -> ModelFit:
    """Fit the (mixed-effects) meta-analytic model; see the module docstring for conventions."""
    y, v = check_inputs(yi, vi)
    level = check_level(level)
    X = np.ones((len(y), 1)) if X is None else np.asfortranarray(X, dtype=float)
    names = names or ["intrcpt"]
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; choose from {', '.join(TESTS)}")
    k, p = X.shape
    if k != len(y):
        raise ValueError(f"moderator matrix has {k} rows for {len(y)} effect sizes")
    full_rank = bool(np.any(X)) if p == 1 else np.linalg.matrix_rank(X) == p
    if not full_rank:
        raise ValueError("moderators are collinear (the model matrix is not of full rank)")
    notes: list[str] = []
    estimator = get_estimator(method)
    if k == p:
        notes.append(
            "k = 1: the single study's estimate is returned; no heterogeneity statistics"
            if k == 1
            else f"k = p = {k}: saturated model; no heterogeneity statistics"
        )
        tfit = Tau2Fit(0.0, math.nan, estimator.name)
        if test != "z":
            notes.append("Knapp-Hartung needs k > p: Wald z test used")
            test = "z"
    else:
        tfit = estimator.fit(y, v, X)
    if tfit.note:
        notes.append(tfit.note)
    wf = WeightedFit.at(y, v, X, tfit.tau2)
    s2 = wf.rss / (k - p) if test != "z" else 1.0
    if test == "adhoc":
        s2 = max(1.0, s2)
    fe = WeightedFit.at(y, v, X, 0.0)
    v_typical = (k - p) / fe.trace_p() if k > p else math.nan
    is_random = k > p and tfit.method != "EE"
    notes += _few_study_notes(k, p, test, s2, is_random)
    if test == "knha" and s2 < EXACT_FIT_S2:
        notes.append(_exact_fit_note(wf, s2, level, k - p))
    return ModelFit(
        y,
        v,
        X,
        names,
        tfit.method,
        test,
        level,
        tfit.tau2,
        tfit.se,
        wf.beta,
        wf.bread * s2,
        float(k - p) if test != "z" else math.inf,
        100 * wf.w / wf.w.sum(),
        fe.rss,
        v_typical,
        s2,
        notes,
        dict(reference_levels or {}),
    )
