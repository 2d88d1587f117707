"""Effect against a programme moderator: dosage (dose-response) and implementation quality.

Each pooled sample is a bubble (area proportional to its weight in the meta-regression, or in the
pooled model where no regression can be fitted) with its CI; the mixed-effects meta-regression
line (engine :func:`~mbtevidence.engine.meta_regression` with the synthesis' τ² estimator, test
and level, drawn with :meth:`~mbtevidence.engine.MetaRegressionResult.predict`) and its CI band;
k, the slope and its test in the corner.  Samples without the moderator are named under the plot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..engine import MetaRegressionResult, meta_regression
from ..synthesis import EvidenceSynthesis
from .forest_table import flagged, model_words, plural
from .labels import fidelity_printed, fidelity_text, number, present, row_names, statistic_text, study_labels
from .panel import corner_text, headroom, label_points, panel_figure
from .style import COLOURS, CONSTRUCT_LABELS, MEASURE_LABELS, code_label, figure_style, lower_first, set_alt_text

DOSES = {
    "planned_duration_months": ("Planned duration of the main treatment phase (months)", "month"),
    "months_received_mean": ("Mean months of treatment received", "month"),
    "hours_per_week": ("Therapy hours per week", "hour per week"),
    "sessions_per_week": ("Sessions per week (individual + group)", "session per week"),
}
FEW_FOR_REGRESSION = 10
"""Below this k a meta-regression describes the evidence rather than testing anything
(Cochrane Handbook 10.11.5.1: 'at least ten studies for each characteristic modelled')."""
PANEL_HEIGHT = 3.4
MAX_LABELLED = 15
MAX_BUBBLE = 400.0
"""Area (points²) of the bubble with the largest weight."""


def moderator_values(rows: pd.DataFrame, moderator: str) -> pd.Series:
    """A moderator per pooled sample; ``sessions_per_week`` = individual + group sessions."""
    if moderator == "sessions_per_week":
        parts = rows.reindex(columns=["individual_sessions_per_week", "group_sessions_per_week"]).astype(float)
        return parts.sum(axis=1, min_count=1)
    if moderator not in rows:
        raise ValueError(f"moderator {moderator!r} is not a column of synthesis.rows ({', '.join(DOSES)} ...)")
    return pd.to_numeric(rows[moderator], errors="coerce")


def _regression(synthesis: EvidenceSynthesis, have: pd.DataFrame, x: pd.Series) -> MetaRegressionResult | None:
    if len(have) < 3 or x.nunique() < 2:
        return None
    fit = synthesis.fit
    return meta_regression(have["yi"], have["vi"], x.rename("moderator").to_frame(), fit.method, fit.test, fit.level)


def _corner(regression: MetaRegressionResult | None, k: int, unit: str) -> list[str]:
    if regression is None:
        return [f"k = {k}: too few samples or values for a meta-regression"]
    slope = regression.coefficients.loc["moderator"]
    return [
        f"k = {k}; slope {number(slope['estimate'], 3)} per {unit} "
        f"[{number(slope['ci_low'], 3)}, {number(slope['ci_high'], 3)}]",
        f"test of the slope: {statistic_text(regression.omnibus())}; residual τ² = {number(regression.fit.tau2, 3)}",
    ]


@dataclass(frozen=True)
class Moderator:
    """What goes on the x axis: one value per pooled sample (NaN: not in the plot) and its words."""

    values: pd.Series
    axis_label: str
    unit: str
    title: str
    missing: Callable[[pd.Series], str]
    """Why a sample without a value is not in the plot."""
    point_labels: pd.Series | None = None
    connect_within_study: bool = False
    x_range: tuple[float, float] | None = None


def _notes(synthesis: EvidenceSynthesis, moderator: Moderator, regression: MetaRegressionResult | None) -> list[str]:
    rows = synthesis.rows
    keep = moderator.values.notna()
    have = rows[keep]
    model = "meta-regression" if regression is not None else "pooled model"
    notes = [
        f"Bubbles: area proportional to the weight in the {model}; vertical lines: {synthesis.fit.level:g}% CIs; "
        "orange: record flagged as a source conflict."
    ]
    if moderator.connect_within_study and have["study"].duplicated().any():
        notes.append("Dashed line: arms or cohorts of one study (e.g. one unit before and during a reorganisation).")
    if regression is not None:
        notes.append(f"Line and band: mixed-effects meta-regression ({model_words(synthesis)}) and its CI.")
    if len(have) < FEW_FOR_REGRESSION:
        notes.append(
            f"k = {len(have)} < {FEW_FOR_REGRESSION}: a meta-regression on so few samples describes the evidence; "
            "it cannot show that the moderator matters (Cochrane Handbook 10.11.5.1)."
        )
    if len(have) > MAX_LABELLED:
        notes.append(f"Points are not labelled (more than {MAX_LABELLED}); the forest plot names every sample.")
    names = row_names(rows, study_labels(rows))
    left_out = [f"{names[i]} ({moderator.missing(rows.loc[i])})" for i in rows.index[~keep]]
    if left_out:
        notes.append("Not in the plot: " + "; ".join(left_out) + ".")
    return notes


def _draw_samples(ax: Axes, have: pd.DataFrame, x: pd.Series, sizes: np.ndarray, connect: bool) -> None:
    colours = [COLOURS["conflict"] if flagged(c) else COLOURS["study"] for c in have.get("conflict", [False] * len(x))]
    ax.vlines(x, have["ci_low"], have["ci_high"], colors=colours, lw=0.8, alpha=0.7, gid="study-ci")
    ax.scatter(x, have["yi"], s=sizes, color=colours, alpha=0.75, edgecolor="white", lw=0.8, zorder=3, gid="bubble")
    if connect:
        for _, group in have.assign(_x=x).groupby("study"):
            if len(group) > 1:
                ordered = group.sort_values("_x")
                ax.plot(ordered["_x"], ordered["yi"], color=COLOURS["muted"], lw=1.0, ls="--", gid="within-study")


def _moderator_plot(synthesis: EvidenceSynthesis, moderator: Moderator, label: str) -> Figure:
    rows = synthesis.rows
    keep = moderator.values.notna().to_numpy()
    have, x = rows[keep], moderator.values[keep]
    regression = _regression(synthesis, have, x)
    weights = regression.fit.weights if regression is not None else synthesis.fit.weights[keep]
    sizes = MAX_BUBBLE * np.asarray(weights) / max(weights) if len(have) else np.array([])
    measure = str(rows["measure"].iloc[0]) if "measure" in rows else ""
    construct = code_label(rows["outcome_construct"].iloc[0], CONSTRUCT_LABELS) if "outcome_construct" in rows else ""
    subtitle = f"{construct}, {lower_first(MEASURE_LABELS.get(measure, measure))}"
    corner = _corner(regression, len(have), moderator.unit)
    with figure_style():
        panel = panel_figure(moderator.title, subtitle, _notes(synthesis, moderator, regression), 7.0, PANEL_HEIGHT)
        ax = panel.axes[0]
        low, high = 0.0, 1.0
        if len(have):
            _draw_samples(ax, have, x, sizes, moderator.connect_within_study)
            low, high = float(min(have["ci_low"].min(), 0.0)), float(have["ci_high"].max())
        if regression is not None:
            grid = np.linspace(float(x.min()), float(x.max()), 101)
            pred = regression.predict({"moderator": grid})
            ax.fill_between(grid, pred["ci_low"], pred["ci_high"], color=COLOURS["band"], alpha=0.45, lw=0, gid="band")
            ax.plot(grid, pred["pred"], color=COLOURS["pooled"], lw=1.4, gid="regression-line")
            low, high = min(low, float(pred["ci_low"].min())), max(high, float(pred["ci_high"].max()))
        ax.axhline(0, color=COLOURS["null"], lw=0.8, zorder=1)
        headroom(ax, len(corner), PANEL_HEIGHT, low, high)
        if moderator.x_range is not None:
            ax.set_xlim(*moderator.x_range)
        elif len(have):
            span = float(x.max() - x.min()) or 1.0
            ax.set_xlim(float(x.min()) - 0.08 * span, float(x.max()) + 0.3 * span)
        corner_text(ax, corner)
        ax.set_xlabel(moderator.axis_label)
        ax.set_ylabel(f"{measure or 'Effect'} (positive = improvement)")
        if 0 < len(have) <= MAX_LABELLED:
            names = row_names(rows, study_labels(rows, label))
            texts = moderator.point_labels if moderator.point_labels is not None else names
            label_points(ax, x.to_numpy(float), have["yi"].to_numpy(float), [str(t) for t in texts[keep]], sizes)
    set_alt_text(panel.figure, f"{moderator.title}: {plural(len(have), 'sample')} with a value. " + " ".join(corner))
    return panel.figure


def dose_response_plot(
    synthesis: EvidenceSynthesis, dose: str = "planned_duration_months", label: str = "study"
) -> Figure:
    """Effect against a dosage moderator with the meta-regression line, its CI band and the slope test.

    Parameters
    ----------
    synthesis : EvidenceSynthesis
        τ² estimator, test and level of the meta-regression come from it.
    dose : str
        ``planned_duration_months``, ``months_received_mean``, ``hours_per_week``,
        ``sessions_per_week`` (individual + group) or another numeric column of the rows.
    label : str
        As :func:`~mbtevidence.figures.forest_plot`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    axis_label, unit = DOSES.get(dose, (code_label(dose), "unit"))
    moderator = Moderator(
        moderator_values(synthesis.rows, dose),
        axis_label,
        unit,
        f"Dose-response: effect by {lower_first(axis_label)}",
        lambda row: "not reported",
    )
    return _moderator_plot(synthesis, moderator, label)


def fidelity_plot(synthesis: EvidenceSynthesis, label: str = "study") -> Figure:
    """Effect against implementation quality (total fidelity rescaled to 0–1), arms of one study
    (the PRE-REORG and REORG cohorts of the Viersprong unit) connected and labelled with their
    printed ratings; meta-regression line where k >= 3.

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = synthesis.rows
    texts = pd.Series([fidelity_text(r) for _, r in rows.iterrows()], index=rows.index)

    def missing(row: pd.Series) -> str:
        printed = fidelity_printed(row)
        return f"printed {printed}, no total score to rescale" if printed else "not rated"

    values = rows["fidelity_0_1"] if "fidelity_0_1" in rows else pd.Series(np.nan, index=rows.index)
    moderator = Moderator(
        pd.to_numeric(values, errors="coerce").where(values.map(present), np.nan),
        "Implementation quality: total fidelity rescaled to 0–1 ((rating − scale minimum) / scale range)",
        "0–1 unit",
        "Implementation quality and effect",
        missing,
        point_labels=row_names(rows, study_labels(rows, label)) + ": " + texts,
        connect_within_study=True,
        x_range=(-0.02, 1.02),
    )
    return _moderator_plot(synthesis, moderator, label)
