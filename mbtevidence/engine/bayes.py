"""Bayesian random-effects meta-analysis by deterministic integration (no MCMC).

Model: the normal-normal hierarchical model (NNHM; Röver 2020, J Stat Softw 93(6), Sec. 2)

    y_i | θ_i ~ N(θ_i, v_i),   θ_i | μ, τ ~ N(μ, τ²),   i = 1, ..., k,

with independent priors: μ flat (improper uniform) or N(m₀, s₀²), and a *proper* prior p(τ).

Computation (Röver 2020, Sec. 2.4). Given τ, with w_i = 1/(v_i + τ²) and s₀⁻² = 0 for the flat
prior, μ is conditionally normal:

    μ | τ, y ~ N(μ̂(τ), σ̂²(τ)),   σ̂⁻² = Σ w_i + s₀⁻²,   μ̂ = σ̂² (Σ w_i y_i + m₀ s₀⁻²),

so the marginal posterior of τ is known up to a constant,

    p(τ | y) ∝ p(τ) · σ̂(τ) · Π w_i^½ · exp(-½ [Σ w_i (y_i - μ̂)² + s₀⁻² (μ̂ - m₀)²]).

Only this 1-D density is integrated numerically, on x = log τ, by composite 16-point
Gauss-Legendre quadrature over the range where the integrand lies within e⁻⁵⁰ of its peak; the
number of panels is doubled until log Z and the posterior mean/SD of τ and μ change by < 1e-10
(relative); the prior mass beyond that range, times the likelihood at its ends, is kept as two
point masses.  Everything else is a finite normal mixture over the nodes τ_j with weights W_j, the
discretisation idea of the DIRECT algorithm (Röver & Friede 2017, J Comput Graph Stat 26(1)):

    μ | y      ~ Σ_j W_j N(μ̂_j, σ̂_j²),
    θ_new | y  ~ Σ_j W_j N(μ̂_j, σ̂_j² + τ_j²)                                (Sec. 2.7),
    θ_i | y    ~ Σ_j W_j N((1 - b_ij) y_i + b_ij μ̂_j, (1 - b_ij) v_i + b_ij² σ̂_j²),
                 b_ij = v_i / (v_i + τ_j²)                                      (Sec. 2.8).

Quantiles come from root-finding on these CDFs; every interval is equal-tailed (central),
whereas bayesmeta prints shortest intervals by default.

Empirical τ priors (``turner_prior``, ``rhodes_prior``) are log-normal / log-t₅ on τ² from Turner
et al. (2015, Stat Med 34(6):984-998, Table IV) and Rhodes et al. (2015, J Clin Epidemiol
68(1):52-60, Table 3); every number is copied from bayesmeta 3.4, R/bayesmeta.R
(``TurnerEtAlParameters``, ``RhodesEtAlParameters``, ``TurnerEtAlPrior()``, ``RhodesEtAlPrior()``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

ALLOWED_PRIORS = (
    "flat | normal:MEAN:SD | halfnormal:SCALE | halfcauchy:SCALE | halfstudent:SCALE:DF | "
    "uniform:UPPER | lognormal_tau2:MU:SIGMA | logt_tau2:MU:SIGMA:DF | "
    "turner:OUTCOME:COMPARISON | turner:any | rhodes:OUTCOME:COMPARISON | rhodes:any"
)
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
_TOL = 1e-10

# Turner et al. (2015) Table IV via bayesmeta (meanmat, sdmat).  Outcome keys in bayesmeta's order:
# all-cause mortality; obstetric outcomes; cause-specific mortality / major morbidity event /
# composite; resource use / hospital stay / process; surgical / device related success / failure;
# withdrawals / drop-outs; internal / structure-related outcomes; general physical health
# indicators; adverse events; infection / onset of new disease; signs / symptoms reflecting
# continuation / end of condition; pain; quality of life / functioning (dichotomized); mental
# health indicators; biological markers (dichotomized); subjective outcomes (various).
TURNER_OUTCOMES = (
    "all-cause-mortality",
    "obstetric",
    "cause-specific-mortality",
    "resource-use",
    "surgical",
    "withdrawals",
    "internal-structure",
    "general-physical-health",
    "adverse-events",
    "infection",
    "signs-symptoms",
    "pain",
    "quality-of-life",
    "mental-health",
    "biological-markers",
    "subjective",
)
_TURNER = {  # comparison: (-mean of log τ², SD of log τ²), one value per outcome above
    "pharma-vs-placebo": (
        (3.95, 3.52, 3.71, 2.34, 2.14, 2.99, 2.71, 2.29, 1.87, 2.49, 2.06, 1.83, 2.54, 2.12, 1.77, 2.70),
        (1.34, 1.74, 1.74, 1.74, 1.74, 1.74, 1.74, 1.53, 1.52, 1.52, 1.51, 1.52, 1.54, 1.53, 1.52, 1.52),
    ),
    "pharma-vs-pharma": (
        (4.18, 3.75, 3.95, 2.58, 2.37, 3.23, 2.94, 2.53, 2.10, 2.73, 2.29, 2.06, 2.78, 2.35, 2.00, 2.93),
        (1.41, 1.79, 1.79, 1.79, 1.79, 1.79, 1.79, 1.58, 1.58, 1.58, 1.58, 1.58, 1.60, 1.60, 1.58, 1.58),
    ),
    "nonpharma-vs-placebo": (
        (4.17, 3.74, 3.93, 2.56, 2.36, 3.21, 2.93, 2.51, 2.10, 2.71, 2.28, 2.05, 2.77, 2.34, 1.99, 2.92),
        (1.55, 1.91, 1.91, 1.91, 1.91, 1.91, 1.92, 1.72, 1.71, 1.71, 1.71, 1.71, 1.73, 1.72, 1.71, 1.71),
    ),
    "nonpharma-vs-pharma": (
        (2.92, 2.49, 2.68, 1.31, 1.11, 1.96, 1.67, 1.26, 0.84, 1.46, 1.03, 0.80, 1.51, 1.09, 0.74, 1.67),
        (1.02, 1.50, 1.51, 1.50, 1.50, 1.51, 1.51, 1.25, 1.24, 1.24, 1.24, 1.25, 1.27, 1.27, 1.24, 1.25),
    ),
    "nonpharma-vs-nonpharma": (
        (3.50, 3.08, 3.27, 1.90, 1.69, 2.55, 2.26, 1.85, 1.43, 2.05, 1.61, 1.38, 2.10, 1.67, 1.33, 2.26),
        (1.26, 1.68, 1.68, 1.68, 1.68, 1.68, 1.68, 1.46, 1.45, 1.45, 1.45, 1.45, 1.47, 1.47, 1.45, 1.45),
    ),
}
# Rhodes et al. (2015) Table 3 via bayesmeta (locationmat, scalemat).  Outcomes: obstetric outcome;
# resource use and hospital stay / process; internal and external structure-related outcome;
# general physical health and adverse event and pain and quality of life / functioning; signs /
# symptoms reflecting continuation / end of condition and infection / onset of new acute /
# chronic disease; mental health outcome; biological marker; various subjectively measured outcomes.
RHODES_OUTCOMES = (
    "obstetric",
    "resource-use",
    "internal-structure",
    "general-physical-health",
    "signs-symptoms",
    "mental-health",
    "biological-marker",
    "subjective",
)
_RHODES = {  # comparison: (-location of log τ², scale of log τ²), t with 5 d.f.
    "pharma-vs-placebo": (
        (4.13, 2.55, 2.43, 3.16, 3.00, 2.99, 3.41, 2.76),
        (2.34, 2.73, 2.50, 2.50, 2.50, 2.16, 2.83, 2.58),
    ),
    "pharma-vs-pharma": (
        (4.40, 2.83, 2.70, 3.44, 3.27, 3.27, 3.68, 3.03),
        (2.31, 2.70, 2.46, 2.44, 2.47, 2.14, 2.78, 2.59),
    ),
    "nonpharma": ((3.99, 2.41, 2.29, 3.02, 2.86, 3.85, 3.27, 2.62), (2.11, 2.57, 2.32, 2.27, 2.33, 1.93, 2.66, 2.41)),
}


@dataclass(frozen=True)
class TauPrior:
    """Proper prior for τ.  ``kind`` is one of halfnormal (scale), halfcauchy (scale),
    halfstudent (scale, df), uniform (upper), lognormal_tau2 (μ, σ of log τ²) and
    logt_tau2 (location, scale, df of log τ²); ``label`` is the canonical prior string."""

    kind: str
    params: tuple[float, ...]
    label: str

    def _base(self) -> tuple[str, stats.rv_continuous]:
        p = self.params
        return {
            "halfnormal": lambda: ("half", stats.norm(0.0, p[0])),
            "halfcauchy": lambda: ("half", stats.cauchy(0.0, p[0])),
            "halfstudent": lambda: ("half", stats.t(p[1], 0.0, p[0])),
            "uniform": lambda: ("plain", stats.uniform(0.0, p[0])),
            "lognormal_tau2": lambda: ("log", stats.norm(p[0] / 2, p[1] / 2)),
            "logt_tau2": lambda: ("log", stats.t(p[2], p[0] / 2, p[1] / 2)),
        }[self.kind]()

    @property
    def upper(self) -> float:
        """Upper end of the support (finite only for the uniform prior)."""
        return self.params[0] if self.kind == "uniform" else math.inf

    def logpdf(self, tau: np.ndarray) -> np.ndarray:
        """Log density of τ (-inf outside the support)."""
        t = np.asarray(tau, dtype=float)
        how, base = self._base()
        with np.errstate(divide="ignore", invalid="ignore"):
            if how == "half":
                return np.where(t >= 0, math.log(2.0) + base.logpdf(t), -np.inf)
            return np.where(t > 0, base.logpdf(np.log(t)) - np.log(t), -np.inf) if how == "log" else base.logpdf(t)

    def pdf(self, tau: np.ndarray) -> np.ndarray:
        """Density of τ."""
        return np.exp(self.logpdf(tau))

    def cdf(self, tau: np.ndarray) -> np.ndarray:
        """Cumulative distribution function of τ."""
        t = np.asarray(tau, dtype=float)
        how, base = self._base()
        with np.errstate(divide="ignore"):
            if how == "half":
                return np.where(t >= 0, 2.0 * base.cdf(t) - 1.0, 0.0)
            return base.cdf(np.log(t)) if how == "log" else base.cdf(t)

    def ppf(self, p: np.ndarray | float) -> np.ndarray:
        """Quantile function of τ."""
        how, base = self._base()
        q = np.asarray(p, dtype=float)
        return base.ppf((1 + q) / 2) if how == "half" else np.exp(base.ppf(q)) if how == "log" else base.ppf(q)


@dataclass(frozen=True)
class MuPrior:
    """Prior for μ: ``flat`` (improper uniform; mean/sd None) or ``normal`` (mean, sd)."""

    kind: str
    mean: float | None = None
    sd: float | None = None

    @property
    def label(self) -> str:
        return "flat" if self.kind == "flat" else f"normal:{self.mean:g}:{self.sd:g}"


def _table_prior(name: str, table: dict, outcomes: tuple[str, ...], outcome: str, comparison: str) -> tuple:
    if outcome not in outcomes or comparison not in table:
        raise ValueError(
            f"{name} prior: outcome must be any or one of {', '.join(outcomes)}; comparison one of {', '.join(table)}"
        )
    return tuple(col[outcomes.index(outcome)] for col in table[comparison])


def turner_prior(outcome: str = "any", comparison: str = "pharma-vs-placebo") -> TauPrior:
    """Turner et al. (2015, Table IV) log-normal prior, as bayesmeta's ``TurnerEtAlPrior()``.

    log τ² ~ N(μ, σ²), i.e. log τ ~ N(μ/2, (σ/2)²).  ``outcome`` is one of
    ``TURNER_OUTCOMES`` or ``"any"`` (marginal setting, μ = -2.56, σ = 1.74, comparison ignored);
    ``comparison`` one of pharma-vs-placebo, pharma-vs-pharma, nonpharma-vs-placebo,
    nonpharma-vs-pharma, nonpharma-vs-nonpharma (placebo = placebo / control).

    References
    ----------
    Turner RM, Jackson D, Wei Y, Thompson SG, Higgins JPT (2015). Predictive distributions for
    between-study heterogeneity and simple methods for their application in Bayesian
    meta-analysis. Stat Med 34(6):984-998 (Table IV; log odds ratios).
    """
    if outcome == "any":
        return TauPrior("lognormal_tau2", (-2.56, 1.74), "turner:any")
    neg_mu, sigma = _table_prior("turner", _TURNER, TURNER_OUTCOMES, outcome, comparison)
    return TauPrior("lognormal_tau2", (-neg_mu, sigma), f"turner:{outcome}:{comparison}")


def rhodes_prior(outcome: str = "any", comparison: str = "pharma-vs-placebo") -> TauPrior:
    """Rhodes et al. (2015, Table 3, area "other") log-t₅ prior, as ``RhodesEtAlPrior()``.

    log τ² ~ t₅(location, scale) on the SMD scale, so log τ ~ t₅(location/2, scale/2).
    ``outcome`` is one of ``RHODES_OUTCOMES`` or ``"any"`` (marginal: -3.44, 2.59);
    ``comparison`` one of pharma-vs-placebo, pharma-vs-pharma, nonpharma (any comparison
    involving a non-pharmacological intervention).

    References
    ----------
    Rhodes KM, Turner RM, Higgins JPT (2015). Predictive distributions were developed for the
    extent of heterogeneity in meta-analyses of continuous outcome data. J Clin Epidemiol
    68(1):52-60 (Table 3; standardised mean differences).
    """
    if outcome == "any":
        return TauPrior("logt_tau2", (-3.44, 2.59, 5.0), "rhodes:any")
    neg_loc, scale = _table_prior("rhodes", _RHODES, RHODES_OUTCOMES, outcome, comparison)
    return TauPrior("logt_tau2", (-neg_loc, scale, 5.0), f"rhodes:{outcome}:{comparison}")


def parse_prior(text: str) -> TauPrior | MuPrior:
    """Parse a prior string (CLI form) into a :class:`TauPrior` or :class:`MuPrior`.

    Forms: ``flat``, ``normal:MEAN:SD`` (μ); ``halfnormal:SCALE``, ``halfcauchy:SCALE``,
    ``halfstudent:SCALE:DF``, ``uniform:UPPER``, ``lognormal_tau2:MU:SIGMA``,
    ``logt_tau2:MU:SIGMA:DF``, ``turner:OUTCOME:COMPARISON``, ``rhodes:OUTCOME:COMPARISON``,
    ``turner:any``, ``rhodes:any`` (τ).  Improper τ priors (e.g. uniform on [0, ∞)) are rejected.
    """
    parts = [s.strip() for s in str(text).strip().lower().split(":")]
    kind, args = parts[0], parts[1:]
    if kind == "uniform" and not args:
        args = ["inf"]
    if kind in ("turner", "rhodes") and (args == ["any"] or len(args) == 2):
        return (turner_prior if kind == "turner" else rhodes_prior)(*args)
    arity = {
        "flat": 0,
        "normal": 2,
        "halfnormal": 1,
        "halfcauchy": 1,
        "halfstudent": 2,
        "uniform": 1,
        "lognormal_tau2": 2,
        "logt_tau2": 3,
    }
    if kind not in arity or len(args) != arity[kind]:
        raise ValueError(f"invalid prior {text!r}; allowed forms: {ALLOWED_PRIORS}")
    try:
        nums = [float(a) for a in args]
    except ValueError:
        raise ValueError(
            f"invalid prior {text!r}: parameters must be numbers; allowed forms: {ALLOWED_PRIORS}"
        ) from None
    if kind == "uniform" and not math.isfinite(nums[0]):
        raise ValueError(
            "improper τ priors (uniform on [0, ∞)) are not supported: give a finite upper bound, e.g. uniform:2"
        )
    positive = nums if kind not in ("normal", "lognormal_tau2", "logt_tau2") else nums[1:]
    if not all(math.isfinite(x) for x in nums) or not all(x > 0 for x in positive):
        raise ValueError(
            f"invalid prior {text!r}: parameters must be finite and scales/df > 0; allowed forms: {ALLOWED_PRIORS}"
        )
    if kind == "flat":
        return MuPrior("flat")
    if kind == "normal":
        return MuPrior("normal", nums[0], nums[1])
    return TauPrior(kind, tuple(nums), ":".join([kind, *(f"{x:g}" for x in nums)]))


class _Posterior:
    """Quadrature representation of p(τ | y) and the conditional moments of μ at its nodes."""

    def __init__(self, y: np.ndarray, v: np.ndarray, tau_prior: TauPrior, mu_prior: MuPrior) -> None:
        self.y, self.v, self.prior = y, v, tau_prior
        self.p0 = 0.0 if mu_prior.sd is None else mu_prior.sd**-2
        self.m0 = 0.0 if mu_prior.mean is None else mu_prior.mean
        self.notes: list[str] = []
        # 1. locate the mass of f(x) = p(τ) L(τ) τ on a coarse grid of x = log τ
        median, bounded = float(tau_prior.ppf(0.5)), math.isfinite(tau_prior.upper)
        lo = math.log(min(median, math.sqrt(v.min()))) - 60
        hi = min(math.log(max(median, math.sqrt(v.max()), np.ptp(y))) + 60, math.log(tau_prior.upper))
        xs = np.linspace(lo, hi, int((hi - lo) / 0.05) + 2)
        lf = self.log_f(xs)
        self.lmax = lf.max()
        inside = np.flatnonzero(lf > self.lmax - 50)
        self.a, self.b = xs[max(inside[0] - 1, 0)], xs[min(inside[-1] + 1, len(xs) - 1)]
        # E[τ] is taken as non-existent when τ·f(x) has not decayed by e⁻²⁰ at the window's end
        self.tau_mean_finite = bounded or (lf + xs)[-1] < (lf + xs).max() - 20
        # 2. composite Gauss-Legendre on [a, b], doubling the panels until converged
        n, prev = 8, None
        while True:
            h = (self.b - self.a) / n
            x = (self.a + h * np.arange(n)[:, None] + h / 2 * (_GL_X + 1)).ravel()
            f = np.exp(self.log_f(x) - self.lmax) * np.tile(h / 2 * _GL_W, n)
            tau, w = np.exp(x), f / f.sum()
            mu_hat, mu_sd = self.cond(tau)[1:]
            m_tau, m_mu = w @ tau, w @ mu_hat
            sd_tau, sd_mu = math.sqrt(w @ (tau - m_tau) ** 2), math.sqrt(w @ (mu_sd**2 + (mu_hat - m_mu) ** 2))
            cur = np.array([math.log(f.sum()), m_tau / sd_tau, math.log(sd_tau), m_mu / sd_mu, math.log(sd_mu)])
            if prev is not None and np.all(np.abs(cur - prev) <= _TOL * np.maximum(1, np.abs(cur))):
                break
            if n >= 2048:
                self.notes.append("tau quadrature did not reach the 1e-10 tolerance")
                break
            prev, n = cur, 2 * n
        # 3. mass outside [e^a, e^b]: prior tail mass times the likelihood at the end, kept as point
        #    masses at the ends.  L(τ) is flat as τ -> 0, so the left one is accurate; the right one
        #    is exact only when L is flat there too (k = 1 with a flat μ prior), else an upper bound.
        ends = np.exp([self.a, self.b])
        with np.errstate(divide="ignore"):
            log_tails = np.log([tau_prior.cdf(ends[0]), 1 - tau_prior.cdf(ends[1])])
        tails = np.exp(log_tails + self.log_lik(ends) - self.lmax)
        z = f.sum() + tails.sum()
        if tails[1] > 1e-6 * z:
            self.notes.append(f"heavy right tail: {tails[1] / z:.2g} of p(tau|y) lies beyond tau = {ends[1]:.3g}")
        self.tau = np.concatenate([ends[:1], tau, ends[1:]])
        self.W = np.concatenate([tails[:1], f, tails[1:]]) / z
        self.mu_hat, self.mu_sd = self.cond(self.tau)[1:]
        self.h, self.n_panels = h, n
        self.panel_cum = (tails[0] + np.concatenate([[0.0], np.cumsum(f.reshape(n, -1).sum(1))])) / z
        self.log_z = math.log(z) + self.lmax

    def cond(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """w_ij = 1/(v_i + τ_j²), μ̂(τ_j) and σ̂(τ_j) for a 1-D array of τ values."""
        w = 1.0 / (self.v + tau[:, None] ** 2)
        prec = w.sum(1) + self.p0
        return w, (w @ self.y + self.p0 * self.m0) / prec, 1.0 / np.sqrt(prec)

    def log_lik(self, tau: np.ndarray) -> np.ndarray:
        """log L(τ), the μ-integrated likelihood (up to a constant), for a 1-D array of τ."""
        w, mh, sd = self.cond(tau)
        q = (w * (self.y - mh[:, None]) ** 2).sum(1) + self.p0 * (mh - self.m0) ** 2
        return 0.5 * np.log(w).sum(1) + np.log(sd) - 0.5 * q

    def log_pl(self, tau: np.ndarray) -> np.ndarray:
        """log p(τ) + log L(τ) for an array of any shape."""
        t = np.asarray(tau, dtype=float).ravel()
        return (self.prior.logpdf(t) + self.log_lik(t)).reshape(np.shape(tau))

    def log_f(self, x: np.ndarray) -> np.ndarray:
        """log f(x) = log p(τ) + log L(τ) + x at x = log τ (the integrand on the log scale)."""
        return self.log_pl(np.exp(x)) + x

    def tau_cdf(self, tau: np.ndarray | float) -> np.ndarray:
        """P(τ ≤ t | y): whole panels below t plus Gauss-Legendre on the partial panel."""
        with np.errstate(divide="ignore"):
            x = np.clip(np.log(np.atleast_1d(np.asarray(tau, dtype=float))), self.a, self.b)
        idx = np.minimum(((x - self.a) / self.h).astype(int), self.n_panels - 1)
        left = self.a + idx * self.h
        half = (x - left) / 2
        nodes = left[:, None] + half[:, None] * (_GL_X + 1)
        part = (half[:, None] * _GL_W * np.exp(self.log_f(nodes) - self.lmax)).sum(1)
        return np.clip(self.panel_cum[idx] + part / math.exp(self.log_z - self.lmax), 0.0, 1.0)

    def quantile(self, parameter: str, p: float) -> float:
        """Quantile of the posterior of ``mu``, ``tau`` or the predictive ``theta_new``."""
        if parameter == "tau":
            g = lambda x: self.tau_cdf(math.exp(x))[0] - p
            return math.exp(optimize.brentq(g, self.a, self.b, xtol=1e-13))
        if parameter not in ("mu", "theta_new"):
            raise ValueError("parameter must be 'mu', 'tau' or 'theta_new'")
        s = self.mu_sd if parameter == "mu" else np.sqrt(self.mu_sd**2 + self.tau**2)
        return _mix_quantile(p, self.W, self.mu_hat, s)


def _mix_cdf(q: np.ndarray, w: np.ndarray, m: np.ndarray, s: np.ndarray) -> np.ndarray:
    """CDF of the normal mixture Σ_j w_j N(m_j, s_j²) at the points q."""
    return stats.norm.cdf((np.asarray(q, dtype=float)[..., None] - m) / s) @ w


def _mix_quantile(p: float, w: np.ndarray, m: np.ndarray, s: np.ndarray) -> float:
    keep = w > 1e-14 * w.max()
    lo, hi = (m - 40 * s)[keep].min(), (m + 40 * s)[keep].max()
    return optimize.brentq(lambda q: _mix_cdf(q, w, m, s) - p, lo, hi, xtol=1e-13 * (hi - lo))


@dataclass(frozen=True)
class BayesResult:
    """Posterior summaries of a Bayesian random-effects meta-analysis (equal-tailed intervals).

    ``pi_*`` refer to the predictive distribution of a new study's true effect θ_new.  Means are
    None where they do not exist (heavy-tailed posterior of τ, e.g. k = 1 with a half-Cauchy prior).
    """

    k: int
    mu_median: float
    mu_mean: float | None
    mu_low: float
    mu_high: float
    tau_median: float
    tau_mean: float | None
    tau_low: float
    tau_high: float
    pi_median: float
    pi_mean: float | None
    pi_low: float
    pi_high: float
    p_mu_gt_0: float
    p_mu_gt_delta: float | None
    delta: float | None
    tau_prior: TauPrior
    mu_prior: MuPrior
    level: float
    notes: tuple[str, ...]
    slab: tuple[str, ...]
    _post: _Posterior = field(repr=False, compare=False)

    def to_dict(self) -> dict:
        """JSON-safe summary (non-finite numbers become None)."""
        keys = (
            "mu_median",
            "mu_mean",
            "mu_low",
            "mu_high",
            "tau_median",
            "tau_mean",
            "tau_low",
            "tau_high",
            "pi_low",
            "pi_high",
            "p_mu_gt_0",
            "p_mu_gt_delta",
            "delta",
        )
        num = {key: getattr(self, key) for key in keys}
        return {
            "k": self.k,
            **{key: float(x) if x is not None and math.isfinite(x) else None for key, x in num.items()},
            "tau_prior": self.tau_prior.label,
            "mu_prior": self.mu_prior.label,
            "level": float(self.level),
            "interval": "equal-tailed",
            "notes": list(self.notes),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per quantity (mu, tau, theta_new): parameter, median, mean, low, high."""
        return pd.DataFrame(
            [
                (p, *(getattr(self, f"{q}_{s}") for s in ("median", "mean", "low", "high")))
                for p, q in (("mu", "mu"), ("tau", "tau"), ("theta_new", "pi"))
            ],
            columns=["parameter", "median", "mean", "low", "high"],
        )

    def shrinkage(self) -> pd.DataFrame:
        """Posterior of each study's true effect θ_i: mean, sd, median and equal-tailed interval."""
        post, a = self._post, (1 - self.level / 100) / 2
        b = post.v * post.cond(post.tau)[0]
        m = (1 - b) * post.y + b * post.mu_hat[:, None]
        s = np.sqrt((1 - b) * post.v + b**2 * post.mu_sd[:, None] ** 2)
        rows = []
        for i in range(self.k):
            mean = post.W @ m[:, i]
            sd = math.sqrt(post.W @ (s[:, i] ** 2 + (m[:, i] - mean) ** 2))
            q = [_mix_quantile(p, post.W, m[:, i], s[:, i]) for p in (0.5, a, 1 - a)]
            rows.append((self.slab[i], post.y[i], math.sqrt(post.v[i]), mean, sd, *q))
        return pd.DataFrame(rows, columns=["study", "yi", "sei", "mean", "sd", "median", "low", "high"])

    def tau_prior_density(self, grid: np.ndarray) -> np.ndarray:
        """Prior density p(τ) on a grid."""
        return self.tau_prior.pdf(grid)

    def tau_posterior(self, grid: np.ndarray) -> np.ndarray:
        """Marginal posterior density p(τ | y) on a grid (0 for τ < 0)."""
        g = np.asarray(grid, dtype=float)
        out = np.zeros_like(g)
        out[g >= 0] = np.exp(self._post.log_pl(g[g >= 0]) - self._post.log_z)
        return out

    def tau_cdf(self, grid: np.ndarray) -> np.ndarray:
        """Marginal posterior CDF P(τ ≤ t | y) on a grid."""
        g = np.asarray(grid, dtype=float)
        return np.where(g > 0, self._post.tau_cdf(np.maximum(g, 1e-300)).reshape(g.shape), 0.0)

    def mu_posterior(self, grid: np.ndarray) -> np.ndarray:
        """Marginal posterior density p(μ | y) on a grid."""
        post = self._post
        return stats.norm.pdf((np.asarray(grid, dtype=float)[..., None] - post.mu_hat) / post.mu_sd) @ (
            post.W / post.mu_sd
        )

    def mu_cdf(self, grid: np.ndarray) -> np.ndarray:
        """Marginal posterior CDF P(μ ≤ m | y) on a grid."""
        return _mix_cdf(grid, self._post.W, self._post.mu_hat, self._post.mu_sd)

    def quantile(self, parameter: str, p: float) -> float:
        """Posterior quantile of ``"mu"``, ``"tau"`` or ``"theta_new"`` (predictive)."""
        return self._post.quantile(parameter, p)

    def summary(self) -> str:
        """Text summary: model, priors, integration method, level and estimates."""
        post, fmt = self._post, lambda v: "NA" if v is None else f"{v:.4f}"
        lines = [
            "Bayesian random-effects meta-analysis (normal-normal hierarchical model)",
            f"  y_i ~ N(theta_i, v_i), theta_i ~ N(mu, tau^2); k = {self.k}",
            f"  priors: mu ~ {self.mu_prior.label}; tau ~ {self.tau_prior.label}",
            f"  integration: mu|tau in closed form; tau by composite 16-point Gauss-Legendre on "
            f"log(tau) ({post.n_panels * 16} nodes, relative tolerance {_TOL:g}); no MCMC",
            f"  intervals: {self.level:g}% equal-tailed",
            "",
            f"  {'':10}{'median':>10}{'mean':>10}{'low':>10}{'high':>10}",
        ]
        for r in self.to_frame().itertuples(index=False):
            lines.append(f"  {r.parameter:10}" + "".join(f"{fmt(v):>10}" for v in r[1:]))
        lines += ["", f"  P(mu > 0) = {self.p_mu_gt_0:.4g}"]
        if self.delta is not None:
            lines.append(f"  P(mu > {self.delta:g}) = {self.p_mu_gt_delta:.4g}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    __str__ = summary


def bayes_meta_analysis(
    yi,
    vi,
    tau_prior: str | TauPrior = "halfnormal:0.5",
    mu_prior: str | MuPrior = "flat",
    level: float = 95.0,
    delta: float | None = None,
    slab=None,
) -> BayesResult:
    """Bayesian random-effects meta-analysis of estimates ``yi`` with variances ``vi``.

    Parameters
    ----------
    yi, vi : array-like
        Effect estimates and their (positive) sampling variances.
    tau_prior, mu_prior : str or prior object
        See :func:`parse_prior`; the τ prior must be proper.
    level : float
        Credibility level in percent for the equal-tailed intervals.
    delta : float, optional
        Clinically important difference; P(μ > delta | y) is reported.
    slab : sequence of str, optional
        Study labels.

    Returns
    -------
    BayesResult

    Notes
    -----
    Only proper τ priors are accepted, so the posterior is proper for every k >= 1, also under
    the flat μ prior (for k = 1 the τ posterior then equals its prior).  Model and computation:
    see the module docstring; Röver C (2020), J Stat Softw 93(6), doi:10.18637/jss.v093.i06.
    """
    y, v = np.atleast_1d(np.asarray(yi, dtype=float)), np.atleast_1d(np.asarray(vi, dtype=float))
    labels = tuple(str(s) for s in slab) if slab is not None else tuple(f"study {i + 1}" for i in range(y.size))
    for ok, message in (
        (y.ndim == 1 and y.shape == v.shape, "yi and vi must be 1-D and of equal length"),
        (y.size > 0, "no studies: yi and vi are empty"),
        (np.all(np.isfinite(y)), "yi must be finite"),
        (np.all(np.isfinite(v) & (v > 0)), "vi must be finite and > 0"),
        (len(labels) == y.size, "slab must have one label per study"),
        (0 < level < 100, "level must be between 0 and 100 (a percentage)"),
        (delta is None or math.isfinite(delta), "delta must be finite"),
    ):
        if not ok:
            raise ValueError(message)
    tp = parse_prior(tau_prior) if isinstance(tau_prior, str) else tau_prior
    mp = parse_prior(mu_prior) if isinstance(mu_prior, str) else mu_prior
    if not isinstance(tp, TauPrior) or not isinstance(mp, MuPrior):
        raise ValueError(
            f"tau_prior must be a tau prior and mu_prior flat or normal:MEAN:SD; allowed forms: {ALLOWED_PRIORS}"
        )
    post = _Posterior(y, v, tp, mp)
    notes = list(post.notes)
    if y.size == 1 and mp.kind == "flat":
        notes.append("k = 1 with a flat mu prior: the posterior of tau equals its prior")
    if not post.tau_mean_finite:
        notes.append(
            "posterior mean of tau (and of mu/theta_new under a flat mu prior) is infinite or not numerically "
            "reliable (very heavy right tail)"
        )
    a = (1 - level / 100) / 2
    q = {par: [post.quantile(par, p) for p in (0.5, a, 1 - a)] for par in ("mu", "tau", "theta_new")}
    mean_mu = float(post.W @ post.mu_hat) if post.tau_mean_finite or mp.kind == "normal" else None

    def p_gt(d: float) -> float:
        return float(stats.norm.sf((d - post.mu_hat) / post.mu_sd) @ post.W)

    fields = {
        f"{pre}_{stat}": q[par][i]
        for par, pre in (("mu", "mu"), ("tau", "tau"), ("theta_new", "pi"))
        for i, stat in enumerate(("median", "low", "high"))
    }
    finite = post.tau_mean_finite
    return BayesResult(
        k=int(y.size),
        **fields,
        mu_mean=mean_mu,
        tau_mean=float(post.W @ post.tau) if finite else None,
        pi_mean=mean_mu if finite else None,
        p_mu_gt_0=p_gt(0.0),
        p_mu_gt_delta=None if delta is None else p_gt(float(delta)),
        delta=None if delta is None else float(delta),
        tau_prior=tp,
        mu_prior=mp,
        level=float(level),
        notes=tuple(notes),
        slab=labels,
        _post=post,
    )
