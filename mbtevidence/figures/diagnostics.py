"""Leave-one-out, influence and cumulative plots of a pooled result (metafor ``leave1out()``,
``plot(influence())`` and ``forest(cumul())``), computed by :mod:`mbtevidence.engine.sensitivity`
with the result's own τ² estimator, test and level.

Influential studies are marked as metafor marks them (Viechtbauer & Cheung 2010): |DFFITS| >
3√(p/(k−p)), Cook's distance above the median of χ²(p), or hat value > 3p/k.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib import transforms
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from scipy import stats

from ..engine import MetaAnalysisResult, cumulative, influence, leave_one_out
from ..engine.results import labels as default_labels
from ..synthesis import EvidenceSynthesis
from .funnel import result_and_measure
from .labels import interval_text, number, row_names, study_labels
from .panel import interval, panel_figure, ratio_axis
from .style import COLOURS, FONT_SIZE, MEASURE_LABELS, RATIO_MEASURES, figure_style, plain, set_alt_text, text_width

ROW = 0.24
PANEL_WIDTH = 3.2
COLUMN_GAP = 0.2
INFLUENCE_PANELS = (
    ("rstudent", "Standardised residual (deleted)"),
    ("dffits", "DFFITS"),
    ("cook_d", "Cook's distance"),
    ("cov_r", "Covariance ratio"),
    ("tau2_del", "τ² without the study"),
    ("qe_del", "Q without the study"),
    ("hat", "Hat value (leverage)"),
    ("weight", "Weight (%)"),
)


def _names(result: MetaAnalysisResult | EvidenceSynthesis) -> list[str]:
    if isinstance(result, EvidenceSynthesis):
        return list(row_names(result.rows, study_labels(result.rows)))
    return default_labels(result.slab, result.k)


def _row_plot(
    title: str,
    subtitle: str,
    names: list[str],
    table: pd.DataFrame,
    reference: MetaAnalysisResult,
    measure: str,
    notes: list[str],
) -> Figure:
    """One row per entry of a sensitivity table: estimate and CI, the full result as a band, and
    estimate [CI], τ² and I² beside it.  Intervals of rows with k < 3 do not set the axis."""
    ratio = measure in RATIO_MEASURES
    columns = {
        f"Estimate [{reference.fit.level:g}% CI]": [
            interval_text(r.estimate, r.ci_low, r.ci_high, ratio) for r in table.itertuples()
        ],
        "τ²": [number(t, 3) for t in table["tau2"]],
        "I² (%)": ["–" if not math.isfinite(i) else f"{i:.0f}" for i in table["i2"]],
    }
    widths = [max(text_width(h, FONT_SIZE, "bold"), *(text_width(v) for v in vs)) for h, vs in columns.items()]
    left = max(text_width(n) for n in names) + 0.3
    right = sum(widths) + COLUMN_GAP * (len(widths) + 1)
    k = len(names)
    height = ROW * k + 0.2
    with figure_style():
        panel = panel_figure(
            title, subtitle, notes, left + PANEL_WIDTH + right, height, left=left, right=right, panel_titles=True
        )
        fig, ax = panel.figure, panel.axes[0]
        full = reference.fit.predict(np.ones((1, 1)))
        informative = table[table["k"] >= 3] if (table["k"] >= 3).any() else table  # k < 3: arrows
        ends = np.concatenate([informative["ci_low"], informative["ci_high"], full["ci_low"], full["ci_high"]])
        pad = 0.05 * float(np.ptp(ends) or 1.0)
        limits = (float(ends.min()) - pad, float(ends.max()) + pad)
        ax.set_xlim(*limits)
        ax.set_ylim(k - 0.5, -0.5)
        ax.axvspan(full["ci_low"][0], full["ci_high"][0], color=COLOURS["band"], alpha=0.35, lw=0, zorder=0)
        ax.axvline(reference.estimate, color=COLOURS["pooled"], lw=1.0, zorder=1)
        if measure not in ("PR", "PLO"):
            ax.axvline(0.0, color=COLOURS["null"], lw=0.8, zorder=1)
        for i, r in enumerate(table.itertuples()):
            interval(ax, r.ci_low, r.ci_high, i, limits, COLOURS["study"], "row-ci")
            ax.plot([r.estimate], [i], marker="s", markersize=5, color=COLOURS["study"], zorder=3, gid="row-estimate")
        ax.set_yticks(range(k), [plain(n) for n in names])
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        if ratio:
            ratio_axis(ax, *limits)
        ax.set_xlabel(MEASURE_LABELS.get(measure, measure or "Estimate") + (" (log scale)" if ratio else ""))
        place = transforms.blended_transform_factory(fig.dpi_scale_trans, ax.transData)
        header_place = transforms.blended_transform_factory(fig.dpi_scale_trans, ax.transAxes)
        x = left + PANEL_WIDTH + COLUMN_GAP
        for (header, values), w in zip(columns.items(), widths, strict=True):
            ax.text(x + w, 1.0, header, transform=header_place, ha="right", va="bottom", weight="bold", gid="header")
            for i, value in enumerate(values):
                ax.text(x + w, i, plain(value), transform=place, ha="right", va="center", gid="cell")
            x += w + COLUMN_GAP
    return fig


def leave_one_out_plot(result: MetaAnalysisResult | EvidenceSynthesis) -> Figure:
    """The pooled estimate with each study left out in turn, against the full result (band).

    Parameters
    ----------
    result : MetaAnalysisResult or EvidenceSynthesis
        Settings (τ² estimator, test, level) come from it.

    Returns
    -------
    matplotlib.figure.Figure
    """
    pooled, measure = result_and_measure(result)
    table = leave_one_out(pooled).table
    names = _names(result)
    shown = np.exp if measure in RATIO_MEASURES else np.asarray
    low, high = int(np.argmin(table["estimate"])), int(np.argmax(table["estimate"]))
    full = pooled.fit.predict(np.ones((1, 1)))
    full_text = interval_text(pooled.estimate, full["ci_low"][0], full["ci_high"][0], measure in RATIO_MEASURES)
    fig = _row_plot(
        "Leave-one-out: the pooled estimate without each study",
        f"Full result {full_text} (vertical line and band); k = {pooled.k}",
        [f"without {n}" for n in names],
        table,
        pooled,
        measure,
        ["Each row refits the model without the named study (same τ² estimator, test and level)."],
    )
    set_alt_text(
        fig,
        f"Leave-one-out plot: pooled estimates range from {number(float(shown(table['estimate'].iloc[low])))} "
        f"(without {names[low]}) to {number(float(shown(table['estimate'].iloc[high])))} (without {names[high]}); "
        f"full estimate {number(float(shown(pooled.estimate)))}.",
    )
    return fig


def cumulative_plot(result: MetaAnalysisResult | EvidenceSynthesis, order: str | object | None = None) -> Figure:
    """Cumulative meta-analysis: row j pools the first j studies in ``order``.

    Parameters
    ----------
    result : MetaAnalysisResult or EvidenceSynthesis
    order : str or array-like, optional
        A column of the synthesis rows (default ``year`` when present) or values to sort by.

    Returns
    -------
    matplotlib.figure.Figure
    """
    pooled, measure = result_and_measure(result)
    names = _names(result)
    if isinstance(result, EvidenceSynthesis):
        rows = result.rows
        key = order if isinstance(order, str) else ("year" if order is None and "year" in rows else None)
        values = rows[key].to_numpy() if key is not None else order
        described = f"by {key}" if key is not None else "in the given order" if order is not None else "in row order"
    else:
        values, described = order, "in the given order" if order is not None else "in row order"
    index = np.arange(pooled.k) if values is None else np.argsort(np.asarray(values), kind="stable")
    table = cumulative(pooled, values).table
    shown = np.exp if measure in RATIO_MEASURES else np.asarray
    fig = _row_plot(
        f"Cumulative meta-analysis, studies added {described}",
        f"Vertical line and band: the result with all {pooled.k} studies",
        [f"+ {names[i]}" for i in index],
        table,
        pooled,
        measure,
        ["Row j pools the first j studies (same τ² estimator, test and level as the full result)."],
    )
    first = table.iloc[min(2, len(table) - 1)]
    set_alt_text(
        fig,
        f"Cumulative meta-analysis {described}: after {min(3, pooled.k)} studies the estimate was "
        f"{number(float(shown(first['estimate'])))}; with all {pooled.k} it is "
        f"{number(float(shown(table['estimate'].iloc[-1])))}.",
    )
    return fig


def influential(table: pd.DataFrame, p: int) -> pd.Series:
    """metafor's marking: |DFFITS| > 3√(p/(k−p)), Cook's D > median of χ²(p), hat > 3p/k."""
    k = len(table)
    return (
        (table["dffits"].abs() > 3 * math.sqrt(p / (k - p)))
        | (table["cook_d"] > stats.chi2.ppf(0.5, p))
        | (table["hat"] > 3 * p / k)
    )


def influence_plot(result: MetaAnalysisResult | EvidenceSynthesis) -> Figure:
    """Case diagnostics per study in eight panels, influential studies in orange (metafor criteria).

    Returns
    -------
    matplotlib.figure.Figure
    """
    pooled, _ = result_and_measure(result)
    table = influence(pooled).table.reset_index(drop=True)
    names = _names(result)
    fit = pooled.fit
    k, p = fit.k, fit.n_coef
    flagged = influential(table, p)
    reference = {
        "rstudent": [-stats.norm.ppf(0.975), stats.norm.ppf(0.975)],
        "dffits": [-3 * math.sqrt(p / (k - p)), 3 * math.sqrt(p / (k - p))],
        "cook_d": [stats.chi2.ppf(0.5, p)],
        "cov_r": [1.0],
        "tau2_del": [fit.tau2],
        "qe_del": [fit.qe],
        "hat": [3 * p / k],
        "weight": [100 / k],
    }
    key = "; ".join(f"{i + 1} {n}" for i, n in enumerate(names))
    notes = [
        f"Studies: {key}.",
        "Orange: influential by metafor's criteria (|DFFITS| > 3√(p/(k−p)), Cook's distance > median of χ²(p), hat > "
        "3p/k). Dashed: reference values (±1.96; the thresholds; 1; the full model's τ² and Q; 100/k).",
    ]
    with figure_style():
        panel = panel_figure(
            "Influence diagnostics per study",
            f"k = {k}; τ² {fit.method}",
            notes,
            9.0,
            1.6,
            columns=4,
            rows=2,
            panel_titles=True,
        )
        position = np.arange(1, k + 1)
        colours = np.where(flagged, COLOURS["influential"], COLOURS["study"])
        for ax, (column, name) in zip(panel.axes, INFLUENCE_PANELS, strict=True):
            ax.plot(position, table[column], color=COLOURS["grid"], lw=0.8, zorder=1)
            ax.scatter(position, table[column], s=14, c=list(colours), zorder=2, gid="influence-point")
            for value in reference[column]:
                ax.axhline(value, color=COLOURS["null"], lw=0.7, ls="--", zorder=0)
            values = [*table[column], *reference[column]]
            pad = 0.08 * ((max(values) - min(values)) or 1.0)
            ax.set_ylim(min(values) - pad, max(values) + pad)
            ax.set_title(name, size=FONT_SIZE, loc="left")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=8))
            ax.set_xlim(0.5, k + 0.5)
        fig = panel.figure
    marked = [names[i] for i in np.flatnonzero(flagged.to_numpy())]
    set_alt_text(
        fig,
        f"Influence diagnostics of {k} studies: "
        + (
            f"influential by metafor's criteria: {', '.join(marked)}."
            if marked
            else "no study is influential by metafor's criteria."
        ),
    )
    return fig
