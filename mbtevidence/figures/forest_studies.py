"""The study rows of a forest plot, drawn by the ``forestplot`` package on the layout's rows.

``forestplot.forestplot`` (0.4.1) draws each study's point estimate and its CI whisker on the plot
axes.  It puts row ``j`` of the frame it returns at ``y = j`` on a categorical axis (labels must
therefore be unique), while the forest layout gives rows of different heights (two-line cells,
lead before headings): its artists are moved onto the layout's row centres and styled (conflict
colour, hollow marker when only an upper bound of n is printed).  What forestplot lacks is drawn
by :mod:`~mbtevidence.figures.forest` on the same axes: weight-scaled squares over its markers,
diamonds, prediction intervals and arrows where a CI runs past the axis.

forestplot changes process-wide state when imported (it silences every warning, ignores numpy
floating-point errors, replaces the monospace font list): it is imported with all three restored.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.lines import Line2D

from .forest_table import ForestRow
from .panel import arrows
from .style import COLOURS, FONT_FAMILY, FONT_SIZE

with warnings.catch_warnings(), mpl.rc_context(), np.errstate():
    import forestplot

ESTIMATE_MARKER_AREA = 12.0
"""Area (pt²) of forestplot's point-estimate marker: the smallest mark of a study, seen where the
weight-scaled square drawn over it is smaller."""
CI_WIDTH = 1.0


def _study_frame(studies: Sequence[ForestRow]) -> pd.DataFrame:
    """forestplot's input: one row per study with a unique label (its categorical axis would put
    two studies with the same label on one row) and ``row``, the study's index."""
    return pd.DataFrame(
        {
            "label": [f"study row {i}" for i in range(len(studies))],
            "row": range(len(studies)),
            "estimate": [r.estimate for r in studies],
            "low": [r.low for r in studies],
            "high": [r.high for r in studies],
        }
    )


def _move_to_rows(artists: list, y_of_position: np.ndarray) -> None:
    """Move forestplot's artists from its row positions (0, 1, ...) to the layout's y values."""

    def moved(y: np.ndarray) -> np.ndarray:
        return y_of_position[np.rint(np.asarray(y, dtype=float)).astype(int)]

    for artist in artists:
        if isinstance(artist, LineCollection):
            artist.set_segments([np.column_stack([s[:, 0], moved(s[:, 1])]) for s in artist.get_segments()])
        elif isinstance(artist, PathCollection):
            offsets = np.asarray(artist.get_offsets(), dtype=float)
            artist.set_offsets(np.column_stack([offsets[:, 0], moved(offsets[:, 1])]))
        elif isinstance(artist, Line2D):  # errorbar's data line (no line, no marker), y as row labels
            artist.set_ydata(y_of_position)


def draw_studies(ax: Axes, studies: Sequence[ForestRow], centres: Sequence[float], limits: tuple[float, float]) -> None:
    """Point estimates and CI whiskers of the study rows, by ``forestplot.forestplot``.

    Parameters
    ----------
    ax : Axes
        The plot panel; its y axis is the layout's (inches from the top of the table).
    studies : sequence of ForestRow
        The study rows, top to bottom.
    centres : sequence of float
        The y of each study row in the layout.
    limits : (float, float)
        The x limits: a CI running past them gets an arrow (:func:`~mbtevidence.figures.panel.arrows`).
    """
    before = set(ax.get_children())
    with warnings.catch_warnings():
        # forestplot labels a categorical axis with set_yticklabels, which matplotlib warns about;
        # those labels are removed below (the layout writes the table).
        warnings.simplefilter("ignore")
        plotted, _ = forestplot.forestplot(
            _study_frame(studies),
            estimate="estimate",
            varlabel="label",
            ll="low",
            hl="high",
            ci_report=False,
            flush=True,
            xline=None,
            xlim=limits,
            xtick_size=FONT_SIZE,
            marker="s",
            markersize=ESTIMATE_MARKER_AREA,
            markeralpha=1.0,
            linecolor=COLOURS["study"],
            lw=CI_WIDTH,
            ax=ax,
            return_df=True,
        )
    drawn = [a for a in ax.get_children() if a not in before]
    order = [studies[int(i)] for i in plotted["row"]]  # forestplot's row j is at y = j
    _move_to_rows(drawn, np.array([centres[int(i)] for i in plotted["row"]]))
    colours = [COLOURS["conflict"] if r.conflict else COLOURS["study"] for r in order]
    for artist in drawn:
        if isinstance(artist, LineCollection):
            artist.set(color=colours, zorder=2, gid="study-ci")
        elif isinstance(artist, PathCollection):
            faces = ["white" if r.n_bound else c for r, c in zip(order, colours, strict=True)]
            artist.set(facecolor=faces, edgecolor=colours, linewidth=0.6, zorder=2.5, gid="study-estimate")
    ax.set_yticks([])
    ax.tick_params(axis="x", labelfontfamily=FONT_FAMILY)
    for row, y in zip(studies, centres, strict=True):
        arrows(ax, row.low, row.high, y, limits, COLOURS["conflict"] if row.conflict else COLOURS["study"])
