"""Prior and posterior of the between-study SD τ and the posterior of the mean effect μ of a
Bayesian random-effects meta-analysis (:func:`mbtevidence.engine.bayes.bayes_meta_analysis`),
with the equal-tailed credible intervals the result reports and, optionally, a frequentist
estimate and CI for comparison."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

from ..engine import MetaAnalysisResult
from ..engine.bayes import BayesResult
from .labels import interval_text, number
from .panel import panel_figure, ratio_axis
from .style import COLOURS, MEASURE_LABELS, RATIO_MEASURES, figure_style, lower_first, set_alt_text

GRID = 401
PANEL_HEIGHT = 2.8


def _tau_grid(result: BayesResult) -> np.ndarray:
    prior_q95 = float(result.tau_prior.ppf(np.array(0.95)))
    upper = max(1.5 * result.tau_high, min(prior_q95, 4 * result.tau_high) if math.isfinite(prior_q95) else 0.0)
    return np.linspace(0.0, upper, GRID)


def _mu_grid(result: BayesResult, frequentist: MetaAnalysisResult | None) -> np.ndarray:
    low, high = result.mu_low, result.mu_high
    if frequentist is not None:
        pred = frequentist.fit.predict(np.ones((1, 1)))
        low, high = min(low, float(pred["ci_low"][0])), max(high, float(pred["ci_high"][0]))
    pad = 0.35 * (high - low or 1.0)
    return np.linspace(low - pad, high + pad, GRID)


def _shade(ax: Axes, grid: np.ndarray, density: np.ndarray, low: float, high: float, median: float, gid: str) -> None:
    inside = (grid >= low) & (grid <= high)
    ax.fill_between(grid[inside], 0, density[inside], color=COLOURS["band"], alpha=0.6, lw=0, gid=f"{gid}-interval")
    ax.plot(grid, density, color=COLOURS["study"], lw=1.5, gid=f"{gid}-posterior")
    ax.axvline(median, color=COLOURS["study"], lw=0.9, ls="-", gid=f"{gid}-median")


def bayes_plot(result: BayesResult, frequentist: MetaAnalysisResult | None = None, measure: str = "") -> Figure:
    """Prior and posterior of τ (left) and posterior of μ (right) with credible intervals.

    Parameters
    ----------
    result : BayesResult
        Priors, level and posteriors are read from it.
    frequentist : MetaAnalysisResult, optional
        Drawn under the μ posterior as an estimate with its CI, for comparison.
    measure : str
        Effect-size measure of the data (RR/OR: μ axis back-transformed).

    Returns
    -------
    matplotlib.figure.Figure
    """
    level = result.level
    ratio = measure in RATIO_MEASURES
    mu_text = interval_text(result.mu_median, result.mu_low, result.mu_high, ratio)
    tau_text = interval_text(result.tau_median, result.tau_low, result.tau_high)
    notes = [
        f"Dashed grey: prior of τ; solid: posterior density; shaded: {level:g}% equal-tailed credible interval; "
        "vertical line: posterior median."
        + (" Bar under the μ posterior: frequentist estimate and CI." if frequentist is not None else ""),
        f"P(μ > 0) = {result.p_mu_gt_0:.3f}; predictive interval for a new study's true effect "
        f"{interval_text(result.pi_median, result.pi_low, result.pi_high, ratio)}.",
        *result.notes,
    ]
    title = f"Bayesian random-effects meta-analysis, k = {result.k}"
    subtitle = f"Priors: τ ~ {result.tau_prior.label}; μ ~ {result.mu_prior.label}; no MCMC (numerical integration)"
    with figure_style():
        panel = panel_figure(title, subtitle, notes, 8.0, PANEL_HEIGHT, columns=2, panel_titles=True)
        tau_ax, mu_ax = panel.axes
        grid = _tau_grid(result)
        tau_ax.plot(grid, result.tau_prior_density(grid), color=COLOURS["null"], lw=1.2, ls="--", gid="tau-prior")
        _shade(tau_ax, grid, result.tau_posterior(grid), result.tau_low, result.tau_high, result.tau_median, "tau")
        tau_ax.set_xlim(grid[0], grid[-1])
        tau_ax.set_ylim(bottom=0)
        tau_ax.set_xlabel("τ (between-study standard deviation)")
        tau_ax.set_ylabel("Density")
        tau_ax.set_title(f"τ: median {tau_text}", loc="left", size=8)
        grid = _mu_grid(result, frequentist)
        density = result.mu_posterior(grid)
        _shade(mu_ax, grid, density, result.mu_low, result.mu_high, result.mu_median, "mu")
        if result.mu_prior.kind == "normal":
            prior = stats.norm.pdf(grid, result.mu_prior.mean, result.mu_prior.sd)
            mu_ax.plot(grid, prior, color=COLOURS["null"], lw=1.2, ls="--", gid="mu-prior")
        top = float(density.max())
        if frequentist is not None:
            pred = frequentist.fit.predict(np.ones((1, 1)))
            y = -0.08 * top
            mu_ax.plot(
                [pred["ci_low"][0], pred["ci_high"][0]], [y, y], color=COLOURS["pooled"], lw=1.4, gid="frequentist"
            )
            mu_ax.plot([frequentist.estimate], [y], marker="D", markersize=5, color=COLOURS["pooled"])
            mu_ax.set_ylim(-0.16 * top, 1.08 * top)
        else:
            mu_ax.set_ylim(0, 1.08 * top)
        mu_ax.set_xlim(grid[0], grid[-1])
        if ratio:
            ratio_axis(mu_ax, grid[0], grid[-1])
        mu_ax.set_xlabel(
            "μ, "
            + lower_first(MEASURE_LABELS.get(measure, measure or "mean effect"))
            + (" (log scale)" if ratio else "")
        )
        mu_ax.set_title(f"μ: median {mu_text}", loc="left", size=8)
    set_alt_text(
        panel.figure,
        f"{title} ({subtitle}): mean effect μ median {mu_text} ({level:g}% credible interval), between-study SD τ "
        f"median {tau_text}; P(μ > 0) = {number(result.p_mu_gt_0, 3)}.",
    )
    return panel.figure
