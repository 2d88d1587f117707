"""The frame shared by the figures other than the forest plot: a wrapped title and subtitle on top,
one or more plot panels, wrapped footnotes below, all placed in inches from measured text; and
point labels that move apart instead of overlapping."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

from .style import COLOURS, FONT_SIZE, MARGIN, SMALL_SIZE, TITLE_SIZE, line_height, plain, text_width, wrap_to_width

AXIS_LEFT = 0.75
"""Room left of a panel for tick labels and the axis label."""
AXIS_BELOW = 0.55
"""Room below a panel for tick labels and the axis label."""
PANEL_GAP = 0.35
RATIO_TICK_SETS = (
    (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 7, 10),
    (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
    (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000),
    (0.0001, 0.001, 0.01, 0.1, 1, 10, 100, 1000, 10000),
)
"""Candidate ticks of a ratio axis, finest first; the finest set with at most eight ticks in range is used."""


@dataclass
class PanelFigure:
    figure: Figure
    axes: list[Axes]


def _text_lines(fig: Figure, height: float, y: float, lines: list[str], step: float, **style: Any) -> float:
    """Write ``lines`` top-down from ``y`` inches below the top edge, one every ``step`` inches;
    returns the y below the last line."""
    for line in lines:
        fig.text(MARGIN, height - y - step / 2, line, transform=fig.dpi_scale_trans, va="center", **style)
        y += step
    return y


def panel_figure(
    title: str,
    subtitle: str,
    footnotes: list[str],
    width: float = 7.0,
    panel_height: float = 3.6,
    columns: int = 1,
    rows: int = 1,
    right: float = 0.15,
    left: float = AXIS_LEFT,
    panel_titles: bool = False,
) -> PanelFigure:
    """A figure of ``rows`` x ``columns`` panels with title, subtitle and footnotes; the height
    grows with the wrapped text.  ``left``/``right``: room (inches) beside the panels for tick
    labels or text columns; ``panel_titles`` reserves a line above each panel.  Call inside
    :func:`~mbtevidence.figures.style.figure_style`."""
    text_width_in = width - 2 * MARGIN
    title_lines = wrap_to_width(plain(title), text_width_in, TITLE_SIZE)
    subtitle_lines = wrap_to_width(plain(subtitle), text_width_in, FONT_SIZE) if subtitle else []
    notes = [line for note in footnotes for line in wrap_to_width(plain(note), text_width_in, SMALL_SIZE)]
    head = MARGIN + len(title_lines) * line_height(TITLE_SIZE) + len(subtitle_lines) * line_height(FONT_SIZE) + 0.15
    above = line_height(FONT_SIZE) + 0.05 if panel_titles else 0.0
    block = rows * (above + panel_height + AXIS_BELOW) + (rows - 1) * 0.1
    height = head + block + len(notes) * line_height(SMALL_SIZE) * 1.05 + 0.05 + MARGIN
    fig = plt.figure(figsize=(width, height))
    y = _text_lines(
        fig, height, MARGIN, title_lines, line_height(TITLE_SIZE), size=TITLE_SIZE, weight="bold", gid="title"
    )
    _text_lines(fig, height, y, subtitle_lines, line_height(FONT_SIZE), color=COLOURS["muted"], gid="subtitle")
    between = PANEL_GAP + AXIS_LEFT - 0.3
    panel_width = (width - left - right - (columns - 1) * between) / columns
    axes = []
    for r in range(rows):
        top = head + r * (above + panel_height + AXIS_BELOW + 0.1) + above
        for c in range(columns):
            x = left + c * (panel_width + between)
            axes.append(
                fig.add_axes(
                    (x / width, (height - top - panel_height) / height, panel_width / width, panel_height / height)
                )
            )
    _text_lines(
        fig, height, head + block + 0.05, notes, line_height(SMALL_SIZE) * 1.05, size=SMALL_SIZE, gid="footnote"
    )
    return PanelFigure(fig, axes)


def corner_text(ax: Axes, lines: list[str], where: str = "upper left") -> None:
    """Statistics in a corner of a panel, on a white box; make room for it with :func:`headroom`."""
    x, ha = (0.02, "left") if "left" in where else (0.98, "right")
    y, va = (0.97, "top") if "upper" in where else (0.03, "bottom")
    ax.text(
        x,
        y,
        "\n".join(plain(s) for s in lines),
        transform=ax.transAxes,
        ha=ha,
        va=va,
        size=SMALL_SIZE,
        linespacing=1.3,
        bbox={"facecolor": "white", "edgecolor": COLOURS["grid"], "pad": 3},
        zorder=5,
        gid="corner",
    )


def headroom(ax: Axes, lines: int, panel_height: float, low: float, high: float) -> None:
    """Set y limits so that the data lie below a corner box of ``lines`` lines at the top."""
    box = (lines * line_height(SMALL_SIZE) * 1.05 + 0.15) / panel_height
    span = (high - low) or 1.0
    low, high = low - 0.05 * span, high + 0.05 * span
    ax.set_ylim(low, high + (high - low) * box / (1 - box))


def ratio_axis(ax: Axes, low: float, high: float) -> None:
    """Ticks of a log-scale (ratio) axis labelled with back-transformed values (1, 2, 5, ...)."""
    inside = [[t for t in ticks if low <= math.log(t) <= high] for ticks in RATIO_TICK_SETS]
    ticks = next((t for t in inside if 2 <= len(t) <= 8), None)
    if ticks is None:  # a very narrow range: evenly spaced on the log scale
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{math.exp(x):.3g}"))
        return
    ax.xaxis.set_major_locator(FixedLocator([math.log(t) for t in ticks]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{math.exp(x):g}"))


def clip(low: float, high: float, limits: tuple[float, float]) -> tuple[float, float]:
    return max(low, limits[0]), min(high, limits[1])


def arrows(
    ax: Axes, low: float, high: float, y: float, limits: tuple[float, float], colour: str, outside: bool = False
) -> None:
    """Arrowheads where an interval runs past the axis limits: the tip at the limit, or (``outside``,
    for shapes cut flat at the limit) just beyond it."""
    inset = 0.012 * (limits[1] - limits[0]) * (-1 if outside else 1)
    for end, limit, marker, sign in ((low, limits[0], "<", 1), (high, limits[1], ">", -1)):
        if (end < limit) if marker == "<" else (end > limit):
            ax.plot(
                [limit + sign * inset], [y], marker=marker, markersize=5, color=colour, clip_on=False, gid="clip-arrow"
            )


def interval(ax: Axes, low: float, high: float, y: float, limits: tuple[float, float], colour: str, gid: str) -> None:
    """A horizontal interval cut at the axis limits, with arrows where it continues."""
    left, right = clip(low, high, limits)
    ax.plot([left, right], [y, y], color=colour, lw=1.0, zorder=2, gid=gid)
    arrows(ax, low, high, y, limits, colour)


def label_points(ax: Axes, xs: np.ndarray, ys: np.ndarray, labels: list[str], sizes: np.ndarray | None = None) -> None:
    """Label points beside their marker (``sizes``: marker areas in points²), to the right where
    there is room, else above it; a label that would overlap one already placed moves down
    (with a thin leader line).  Call after the axis limits are final."""
    to_display, to_data = ax.transData, ax.transData.inverted()
    dpi = ax.figure.dpi
    height = line_height(SMALL_SIZE) * dpi * 1.2  # the label's box, with its white padding
    radii = (np.sqrt(sizes) / 2 if sizes is not None else np.zeros(len(xs))) + 3.0
    placed: list[tuple[float, float, float, float]] = []
    for i in np.argsort(-np.asarray(ys), kind="stable"):
        px, py = to_display.transform((xs[i], ys[i]))
        width = text_width(labels[i], SMALL_SIZE) * dpi + 4
        offset = radii[i] * dpi / 72
        if px + offset + width <= ax.bbox.x1:
            x0, y = px + offset, py
        else:  # above the marker, kept inside the panel
            x0, y = min(px - width / 2, ax.bbox.x1 - width), py + offset + height / 2
        while any(x0 < b[2] and b[0] < x0 + width and y - height / 2 < b[3] and b[1] < y + height / 2 for b in placed):
            y -= height
        moved = y < py
        placed.append((x0, y - height / 2, x0 + width, y + height / 2))
        tx, ty = to_data.transform((x0, y))
        ax.annotate(
            plain(labels[i]),
            (xs[i], ys[i]),
            (tx, ty),
            size=SMALL_SIZE,
            va="center",
            ha="left",
            gid="point-label",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5},
            arrowprops={"arrowstyle": "-", "color": COLOURS["muted"], "lw": 0.6} if moved else None,
        )
