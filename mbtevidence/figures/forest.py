"""Forest plots of an :class:`~mbtevidence.synthesis.EvidenceSynthesis`, laid out for a guideline.

The rows come from :func:`~mbtevidence.figures.forest_table.forest_table`; this module places them.
On the plot axes the ``forestplot`` package draws the study rows' point estimates and CI whiskers
(:mod:`~mbtevidence.figures.forest_studies`), on the layout's rows; a matplotlib layer on the same
axes adds what forestplot lacks: squares of area proportional to the weight, pooled diamonds,
prediction intervals, arrows where an interval runs past the axis, the conflict colour; the table
text (cells, headings, heterogeneity and subgroup-test lines, legend) is placed on the figure.
Every length is in inches and every text is measured before it is placed, so the figure grows
with its rows and no two texts overlap, from 1 to hundreds of rows.  Columns: study (author year),
arm or cohort, setting, dosage, implementation quality, n, analysis population, the plot,
estimate [CI] and weight; a column without any value is left out.

With ``few_study=True`` the pooled rows with 2 <= k < 5 get the few-study comparison as further
columns (REML + Knapp-Hartung, the ad hoc variant, the Bayesian model).
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon
from matplotlib.ticker import MaxNLocator

from ..synthesis import EvidenceSynthesis
from .forest_layout import (
    AXIS_BLOCK,
    COLUMNS,
    DEFAULT_COLUMNS,
    FAVOURS_LINE,
    LEGEND_SPACING,
    ForestLayout,
    forest_layout,
    shown_columns,
)
from .forest_studies import draw_studies
from .forest_table import CONFLICT_MARK, ForestRow, ForestTable, forest_table
from .labels import DOSAGE_ABBREVIATIONS
from .panel import arrows, clip, ratio_axis
from .style import (
    COLOURS,
    FAVOURS,
    FONT_SIZE,
    MARGIN,
    MEASURE_LABELS,
    NO_NULL_MEASURES,
    SMALL_SIZE,
    TITLE_SIZE,
    WITHIN_MEASURES,
    figure_style,
    line_height,
    plain,
    set_alt_text,
    text_width,
)


def _x_limits(table: ForestTable, null: float | None) -> tuple[float, float]:
    """From the study CIs, the null and the pooled estimates; pooled CIs and prediction intervals
    only where k >= 3 (a k = 2 interval would squeeze every study to a sliver: it gets arrows)."""
    ends = [v for r in table.rows if r.kind == "study" for v in (r.low, r.high)]
    ends += [r.estimate for r in table.rows if r.kind == "pooled"]
    ends += [v for r in table.rows if r.kind in ("pooled", "prediction") and r.k >= 3 for v in (r.low, r.high)]
    ends += [] if null is None else [null]
    finite = [v for v in ends if math.isfinite(v)]
    low, high = min(finite), max(finite)
    pad = 0.04 * (high - low or 1.0)
    return low - pad, high + pad


def _diamond(ax: Axes, row: ForestRow, y: float, half: float, limits: tuple[float, float]) -> None:
    """Diamond from the CI, cut flat (with an arrow) where the CI runs past the axis."""
    lo, est, hi = row.low, row.estimate, row.high
    left, right = clip(lo, hi, limits)

    def edge(x: float, tip: float) -> list[tuple[float, float]]:
        """The diamond's tip, or the flat cut at x where the tip lies beyond the axis."""
        if x == tip:
            return [(tip, y)]
        rise = half * (x - tip) / (est - tip)
        return [(x, y - rise), (x, y + rise)] if tip < est else [(x, y + rise), (x, y - rise)]

    points = [*edge(left, lo), (est, y + half), *edge(right, hi), (est, y - half)]
    colour = COLOURS["pooled"]
    ax.add_patch(Polygon(points, closed=True, color=colour, zorder=3, gid="diamond"))
    arrows(ax, lo, hi, y, limits, colour, outside=True)


def _draw_rows(
    ax: Axes, table: ForestTable, centres: list[float], heights: list[float], limits: tuple[float, float]
) -> None:
    """Study rows by forestplot (:func:`~mbtevidence.figures.forest_studies.draw_studies`), then on the
    same axes what it lacks: squares of area proportional to the weight, diamonds, prediction intervals."""
    rows = list(zip(table.rows, centres, heights, strict=True))
    studies = [(r, y, h) for r, y, h in rows if r.kind == "study"]
    draw_studies(ax, [r for r, _, _ in studies], [y for _, y, _ in studies], limits)
    single = min((h for _, _, h in studies), default=0.22)
    area_per_percent = (0.72 * single * 72) ** 2 / max([r.weight for r, _, _ in studies] + [1e-9])
    for row, y, h in rows:
        if row.kind == "study":
            colour = COLOURS["conflict"] if row.conflict else COLOURS["study"]
            ax.scatter(
                [row.estimate],
                [y],
                s=[row.weight * area_per_percent],
                marker="s",
                facecolor="white" if row.n_bound else colour,
                edgecolor=colour,
                linewidth=0.9,
                zorder=3,
                gid="study-square",
            )
        elif row.kind == "pooled":
            _diamond(ax, row, y, 0.34 * min(h, single), limits)
        elif row.kind == "prediction":
            left, right = clip(row.low, row.high, limits)
            colour = COLOURS["prediction"]
            ax.plot([left, right], [y, y], color=colour, lw=1.6, zorder=2, gid="prediction-interval")
            caps = [x for x, end in ((left, row.low), (right, row.high)) if x == end]
            ax.vlines(caps, y - 0.25 * h, y + 0.25 * h, color=colour, lw=1.6, zorder=2)
            arrows(ax, row.low, row.high, y, limits, colour)


def _ticks(ax: Axes, limits: tuple[float, float], ratio: bool) -> None:
    if ratio:
        ratio_axis(ax, *limits)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))


def _legend(table: ForestTable, columns: list[str], limits: tuple[float, float]) -> list[str]:
    studies = [r for r in table.rows if r.kind == "study"]
    symbols = (
        f"■ Study estimate with its {table.level:g}% CI (normal quantile); square area proportional to the weight in "
        f"the model shown. ◆ Pooled estimate, width = its {table.level:g}% CI."
    )
    if any(r.kind == "prediction" for r in table.rows):
        symbols += " ├─┤ Prediction interval (random effects, k ≥ 3)."
    if any(r.low < limits[0] or r.high > limits[1] for r in table.rows if r.kind in ("study", "pooled", "prediction")):
        symbols += " ◂ ▸ The interval runs past the axis: its limits are in the estimate column."
    lines = [
        symbols,
        (
            "Weights and square areas: each study's weight in its subgroup's own model (separate τ² per subgroup), "
            "100% per subgroup; the overall diamond pools all samples in one model."
            if table.grouped
            else "Weights and square areas: the study's weight in the pooled model."
        ),
    ]
    if any(r.conflict for r in studies):
        lines.append(
            f"{CONFLICT_MARK} orange: the record is flagged as a source conflict (the source disagrees with itself; "
            f"one reading was taken, see the evidence notes)."
        )
    if any(r.n_bound for r in studies):
        lines.append("□ hollow square, n ≤: only an upper bound of n is printed, so the CI is too narrow.")
    if any(r.cells.get("fidelity", "").startswith("–") for r in studies):
        lines.append("Fidelity –: a rating is printed but no total score on a known scale, so no 0–1 value.")
    if "few_knha" in columns:
        lines.append(
            "Columns k < 5: pooled rows with 2 to 4 samples refitted by REML + Knapp-Hartung, with s² truncated at 1 "
            "(ad hoc), and by a Bayesian normal-normal model (τ ~ half-normal(0.5), μ flat; posterior median and "
            f"{table.level:g}% credible interval): a finding that changes between them depends on the method."
        )
    if "dosage" in columns:
        lines.append(DOSAGE_ABBREVIATIONS)
    if any(r.kind == "pooled" and r.k == 2 for r in table.rows):
        lines.append(
            "Pooled rows with k = 2 have 1 degree of freedom: their Knapp-Hartung intervals are very wide and do "
            "not set the axis."
        )
    return lines + table.notes


def _put(fig: Figure, layout: ForestLayout, x: float, y_top: float, text: str, **style: Any) -> None:
    """A text at x inches from the left and y inches from the top (vertically centred)."""
    fig.text(x, layout.height - y_top, text, transform=fig.dpi_scale_trans, va="center", **style)


ROW_STYLE: dict[str, dict[str, Any]] = {
    "heading": {"weight": "bold"},
    "heterogeneity": {"size": SMALL_SIZE, "style": "italic", "color": COLOURS["muted"]},
    "empty": {"style": "italic", "color": COLOURS["muted"]},
    "prediction": {"color": COLOURS["prediction"]},
}


def _draw_texts(fig: Figure, table: ForestTable, layout: ForestLayout) -> None:
    """Title, subtitle, headers with their rule, and every row's text and cells."""
    y = MARGIN
    for line in layout.title:
        _put(fig, layout, MARGIN, y + line_height(TITLE_SIZE) / 2, line, size=TITLE_SIZE, weight="bold", gid="title")
        y += line_height(TITLE_SIZE)
    for line in layout.subtitle:
        _put(fig, layout, MARGIN, y + line_height(FONT_SIZE) / 2, line, color=COLOURS["muted"], gid="subtitle")
        y += line_height(FONT_SIZE)
    header_y = layout.header_top + layout.header_height / 2
    for c in layout.columns:
        align = COLUMNS[c].align
        _put(fig, layout, layout.text_x(c), header_y, layout.headers[c], weight="bold", ha=align, gid="header")
    rule = layout.height - layout.header_top - layout.header_height
    fig.add_artist(
        Line2D([MARGIN, layout.width - MARGIN], [rule, rule], transform=fig.dpi_scale_trans, color="black", lw=0.6)
    )
    for r, cells, span, centre in zip(table.rows, layout.cells, layout.spans, layout.centres, strict=True):
        y = layout.table_top + centre
        bold = {"weight": "bold"} if r.kind == "pooled" and r.overall else {}
        if span:
            style = ROW_STYLE.get(r.kind, bold)
            _put(fig, layout, MARGIN, y, "\n".join(span), linespacing=1.2, gid=r.kind, **style)
        for c, lines in cells.items():
            if lines:
                colour = COLOURS["conflict"] if r.conflict and c == "study" else "black"
                align = COLUMNS[c].align
                text = "\n".join(lines)
                _put(
                    fig,
                    layout,
                    layout.text_x(c),
                    y,
                    text,
                    ha=align,
                    color=colour,
                    linespacing=1.2,
                    gid=f"cell-{c}",
                    **bold,
                )


def _draw_axis_words(
    fig: Figure,
    table: ForestTable,
    layout: ForestLayout,
    limits: tuple[float, float],
    null: float | None,
    favours: tuple[str, str] | None,
) -> None:
    """The axis label, the direction words either side of no effect, and the legend."""
    y = layout.table_bottom + 0.36
    label = MEASURE_LABELS.get(table.measure, table.measure or "Estimate") + (" (log scale)" if table.ratio else "")
    _put(fig, layout, layout.plot_left + layout.plot_width / 2, y, plain(label), ha="center", gid="axis-label")
    if favours is not None and null is not None:
        null_x = layout.plot_left + layout.plot_width * (null - limits[0]) / (limits[1] - limits[0])
        left, right = f"← {favours[0]}", f"{favours[1]} →"
        left_end = max(null_x - 0.08, MARGIN + text_width(left))
        right_start = min(null_x + 0.08, layout.width - MARGIN - text_width(right))
        words = {"color": COLOURS["muted"], "gid": "favours"}
        _put(fig, layout, left_end, y + FAVOURS_LINE, plain(left), ha="right", **words)
        _put(fig, layout, right_start, y + FAVOURS_LINE, plain(right), ha="left", **words)
    y = layout.table_bottom + AXIS_BLOCK + (FAVOURS_LINE if favours is not None else 0.0)
    for line in layout.legend:
        _put(fig, layout, MARGIN, y + line_height(SMALL_SIZE) / 2, line, size=SMALL_SIZE, gid="legend")
        y += line_height(SMALL_SIZE) * LEGEND_SPACING


def forest_plot(
    synthesis: EvidenceSynthesis,
    label: str = "study",
    group_by: str | None = "synthesis",
    empty_groups: dict[str, str] | None = None,
    timepoints: str | None = None,
    favours: tuple[str, str] | None = None,
    columns: tuple[str, ...] = DEFAULT_COLUMNS,
    plot_width: float = 3.0,
    xlim: tuple[float, float] | None = None,
    few_study: bool = False,
    title: str | None = None,
) -> Figure:
    """Forest plot of a synthesis, by subgroup, with every number a reader needs beside it.

    Parameters
    ----------
    synthesis : EvidenceSynthesis
        Model settings (τ² estimator, test, level) are read from it.
    label : str
        Column naming each study: ``"study"`` gives "Author year" from the study's reference.
    group_by : str or None
        ``"synthesis"`` (its own ``by``), ``"setting"``, ``"dosage_band"``, ``"fidelity_level"``,
        ``"period"``, any column of ``synthesis.rows``, or None for no subgroups.
    empty_groups : dict, optional
        Subgroup (code or label) -> why it has no pooled estimate, e.g.
        ``{"intensive_outpatient": "no outcome data: the trial reports moderators only"}``.
        Groups whose records the synthesis left out are added with the reason.
    timepoints : str, optional
        The timepoint window for the title (default: the range of the pooled timepoints).
    favours : (str, str), optional
        Words under the axis left and right of no effect (default from the measure: evidence
        records are oriented positive = improvement).
    columns : tuple of str
        Columns to show, from :data:`COLUMNS`.
    plot_width : float
        Width of the plot panel in inches.
    xlim : (float, float), optional
        Axis limits on the analysis scale (log scale for RR/OR).
    title : str, optional
        Replaces the title built from the outcome construct and the timepoints.
    few_study : bool
        Add the few-study comparison (:func:`~mbtevidence.engine.few_study_comparison`) as columns
        for pooled rows with 2 <= k < 5: REML + Knapp-Hartung, ad hoc, Bayesian.

    Returns
    -------
    matplotlib.figure.Figure
        With the alternative text in :func:`~mbtevidence.figures.figure_alt_text`.
    """
    table = forest_table(synthesis, group_by, label, empty_groups, timepoints, few_study, title)
    measure = table.measure
    null = None if measure in NO_NULL_MEASURES else 0.0
    favours = favours or (None if null is None else FAVOURS["within" if measure in WITHIN_MEASURES else "between"])
    shown = shown_columns(table, tuple(columns))
    limits = xlim or _x_limits(table, null)
    layout = forest_layout(table, shown, plot_width, _legend(table, shown, limits), favours is not None)
    with figure_style():
        fig = plt.figure(figsize=(layout.width, layout.height))
        _draw_texts(fig, table, layout)
        ax = fig.add_axes(
            (
                layout.plot_left / layout.width,
                (layout.height - layout.table_bottom) / layout.height,
                layout.plot_width / layout.width,
                (layout.table_bottom - layout.table_top) / layout.height,
            )
        )
        _draw_rows(ax, table, layout.centres, layout.heights, limits)
        ax.set_xlim(*limits)
        ax.set_ylim(layout.table_bottom - layout.table_top, 0)  # inches from the top of the table
        ax.spines["left"].set_visible(False)
        if null is not None:
            ax.axvline(null, color=COLOURS["null"], lw=0.8, zorder=1)
        overall = next(r for r in table.rows if r.kind == "pooled" and r.overall)
        ax.axvline(overall.estimate, color=COLOURS["pooled"], lw=0.7, ls=":", zorder=1)
        _ticks(ax, limits, table.ratio)
        _draw_axis_words(fig, table, layout, limits, null, favours)
    set_alt_text(fig, table.alt_text)
    return fig
