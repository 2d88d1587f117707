"""Figures of results: forest plots, dose-response and implementation-quality plots, funnel plots,
leave-one-out / influence / cumulative plots and Bayesian posteriors, in one style
(:mod:`~mbtevidence.figures.style`), each returning a matplotlib Figure with its alternative text
(:func:`figure_alt_text`); :func:`save_figure` writes PNG (200 dpi), SVG and PDF, byte for byte
reproducible.
"""

from .bayes_plot import bayes_plot
from .diagnostics import cumulative_plot, influence_plot, leave_one_out_plot
from .dose_response import dose_response_plot, fidelity_plot
from .forest import forest_plot
from .forest_table import forest_table
from .funnel import funnel_plot
from .save import save_figure
from .style import figure_alt_text

__all__ = [
    "bayes_plot",
    "cumulative_plot",
    "dose_response_plot",
    "fidelity_plot",
    "figure_alt_text",
    "forest_plot",
    "forest_table",
    "funnel_plot",
    "influence_plot",
    "leave_one_out_plot",
    "save_figure",
]
