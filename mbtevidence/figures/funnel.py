"""Funnel plot: effect against its standard error, with Egger's regression line and the studies
trim-and-fill would add.

The pseudo-confidence region is μ̂ ± z₀.₉₇₅·SE around the pooled estimate (metafor ``funnel()``);
optional contours shade where a study would be significant against no effect at p < 0.10, 0.05
and 0.01 (Peters et al. 2008, contour-enhanced funnel plots).  Egger's line is the engine's
mixed-effects meta-regression of the effects on their SEs (metafor ``regtest()``); the test and
trim-and-fill come from :mod:`mbtevidence.engine.sensitivity`, with the result's own settings.
The test results stand under the title; below k = 10 a note says the small-study tests cannot be
interpreted (Cochrane Handbook 13.3.5.4).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from ..engine import MetaAnalysisResult, egger_test, meta_regression, trim_and_fill
from ..synthesis import EvidenceSynthesis
from .labels import number, statistic_text
from .panel import panel_figure, ratio_axis
from .style import COLOURS, MEASURE_LABELS, RATIO_MEASURES, figure_style, set_alt_text

PANEL_HEIGHT = 3.8
CONTOURS = ((0.10, "#f0f0f0"), (0.05, "#dcdcdc"), (0.01, "#c6c6c6"))
"""p limit and the shade of the region beyond it (significant against no effect at that level)."""


def result_and_measure(result: MetaAnalysisResult | EvidenceSynthesis) -> tuple[MetaAnalysisResult, str]:
    """The pooled result of a synthesis (or the result itself) and its effect-size measure."""
    if isinstance(result, EvidenceSynthesis):
        rows = result.rows
        return result.overall, str(rows["measure"].iloc[0]) if "measure" in rows else ""
    return result, ""


def funnel_plot(
    result: MetaAnalysisResult | EvidenceSynthesis, contours: bool = False, measure: str | None = None
) -> Figure:
    """Funnel plot with the pseudo-confidence region, Egger's line and trim-and-fill's filled studies.

    Parameters
    ----------
    result : MetaAnalysisResult or EvidenceSynthesis
        τ² estimator, test and level come from it.
    contours : bool
        Shade the regions where a study is significant against no effect (p < .10, .05, .01).
    measure : str, optional
        Effect-size measure (read from a synthesis; RR/OR get a back-transformed log axis).

    Returns
    -------
    matplotlib.figure.Figure
    """
    pooled, found = result_and_measure(result)
    measure = measure or found
    fit = pooled.fit
    y, se = fit.y, np.sqrt(fit.v)
    k = fit.k
    z = stats.norm.ppf(0.975)
    shown = np.exp if measure in RATIO_MEASURES else np.asarray
    corner = [f"k = {k}; pooled estimate {number(float(shown(pooled.estimate)))} ({fit.method})"]
    egger = filled = None
    if k >= 3:
        egger = egger_test(pooled)
        slope_fit = meta_regression(y, fit.v, pd.DataFrame({"sei": se}), fit.method, fit.test, fit.level).fit
        filled = trim_and_fill(pooled)
        corner += [
            f"Egger test (SE as moderator): {statistic_text(egger.test)}",
            f"Trim and fill (L0): {filled.k0} filled on the {filled.side}; "
            f"adjusted {number(float(shown(filled.result.estimate)))}",
        ]
        corner += egger.notes
    else:
        corner.append(f"k = {k} < 3: no Egger test or trim and fill.")
    notes = [
        "Points: studies; open points: studies added by trim and fill; "
        + ("lines" if contours else "shaded triangle")
        + ": pooled estimate ± 1.96 SE; solid vertical: pooled estimate; dashed line: Egger's regression of the "
        "effects on their SEs; dotted: trim-and-fill estimate."
        + (" Shading: white p > .10, then p < .10, < .05, < .01 against no effect (darkest)." if contours else "")
    ]
    title = "Funnel plot: small-study effects"
    subtitle = "\n".join(corner)
    with figure_style():
        panel = panel_figure(title, subtitle, notes, 6.5, PANEL_HEIGHT)
        ax, fig = panel.axes[0], panel.figure
        se_all = np.concatenate([se, np.sqrt(filled.filled["vi"][filled.filled["filled"]])]) if filled else se
        top = float(se_all.max()) * 1.08
        grid = np.linspace(0, top, 50)
        centre = pooled.estimate
        xs = np.concatenate([y, centre - z * grid[-1:], centre + z * grid[-1:]])
        pad = 0.05 * float(xs.max() - xs.min() or 1.0)
        limits = (float(xs.min()) - pad, float(xs.max()) + pad)
        if contours:  # darkest where p < .01, lighter towards no effect, white where p > .10
            ax.axvspan(*limits, color=CONTOURS[-1][1], zorder=0, lw=0, gid="contour")
            for (p, _), (_, inner) in zip(CONTOURS[::-1], [*CONTOURS[-2::-1], (0.0, "white")], strict=True):
                half = stats.norm.ppf(1 - p / 2) * grid
                ax.fill_betweenx(grid, -half, half, color=inner, zorder=0, lw=0, gid="contour")
        else:
            ax.fill_betweenx(
                grid,
                centre - z * grid,
                centre + z * grid,
                color=COLOURS["band"],
                alpha=0.35,
                lw=0,
                zorder=1,
                gid="funnel-region",
            )
        ax.plot(centre - z * grid, grid, color=COLOURS["null"], lw=0.7)
        ax.plot(centre + z * grid, grid, color=COLOURS["null"], lw=0.7)
        ax.axvline(centre, color=COLOURS["pooled"], lw=1.0, zorder=2)
        ax.scatter(y, se, s=22, color=COLOURS["study"], zorder=4, gid="study-point")
        if filled is not None:
            extra = filled.filled[filled.filled["filled"]]
            ax.scatter(
                extra["yi"],
                np.sqrt(extra["vi"]),
                s=22,
                facecolor="white",
                edgecolor=COLOURS["filled"],
                linewidth=1.1,
                zorder=4,
                gid="filled-point",
            )
            ax.axvline(filled.result.estimate, color=COLOURS["filled"], lw=1.0, ls=":", zorder=2)
            b0, b1 = slope_fit.beta
            ax.plot(b0 + b1 * grid, grid, color=COLOURS["pooled"], lw=1.2, ls="--", zorder=3, gid="egger-line")
        ax.set_ylim(top, 0)
        ax.set_xlim(*limits)
        if measure in RATIO_MEASURES:
            ratio_axis(ax, *limits)
        ax.set_ylabel("Standard error")
        axis = MEASURE_LABELS.get(measure, measure or "Effect size")
        ax.set_xlabel(axis + (" (log scale)" if measure in RATIO_MEASURES else ""))
    set_alt_text(fig, f"{title}: " + "; ".join(corner) + ".")
    return fig
