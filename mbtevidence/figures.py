"""Forest plots of an :class:`~mbtevidence.synthesis.EvidenceSynthesis`.

forestplot draws the rows, study CIs, subgroup headers and annotation columns; on its axes we
add what it lacks: squares scaled by the study's weight, diamonds for pooled estimates (width =
CI) and the prediction interval as a line through each random-effects diamond.
"""

from __future__ import annotations

import math
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from .engine import MetaAnalysisResult
from .synthesis import EvidenceSynthesis

with warnings.catch_warnings():
    import forestplot

DIAMOND_HALF_HEIGHT = 0.3
SQUARE_AREA = (20.0, 220.0)


def _pooled_row(label: str, result: MetaAnalysisResult, group: str | None) -> dict[str, object]:
    d = result.to_dict()
    return {
        "label": label,
        "estimate": d["estimate"],
        "lo": np.nan,
        "hi": np.nan,
        "group": group,
        "kind": "pooled",
        "ci_low": d["ci_low"],
        "ci_high": d["ci_high"],
        "pi_low": d["pi_low"],
        "pi_high": d["pi_high"],
        "n_text": f"k={d['k']}",
        "weight_text": "",
        "ci_text": f"{d['estimate']:.2f} [{d['ci_low']:.2f}, {d['ci_high']:.2f}]",
    }


def forest_rows(synthesis: EvidenceSynthesis, label: str = "study") -> pd.DataFrame:
    """Rows of the forest plot, top to bottom: studies (per subgroup of the synthesis' grouping,
    each followed by its pooled estimate) then the overall pooled estimate."""
    rows, by = synthesis.rows, synthesis.by
    groups = [None] if by is None or synthesis.subgroups is None else sorted(rows[by].astype(str).unique())
    out = []
    for group in groups:
        part = rows if group is None else rows[rows[by].astype(str) == group]
        for _, r in part.iterrows():
            out.append(
                {
                    "label": str(r[label]),
                    "estimate": r.yi,
                    "lo": r.ci_low,
                    "hi": r.ci_high,
                    "group": group,
                    "kind": "study",
                    "weight": r.weight,
                    "n_text": f"{r.n:.0f}",
                    "weight_text": f"{r.weight:.1f}%",
                    "ci_text": f"{r.yi:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]",
                }
            )
        if group is not None:
            out.append(_pooled_row(f"{group} (subgroup)", synthesis.subgroups.groups[group], group))
    method = synthesis.overall.fit.method
    out.append(
        _pooled_row(
            f"Overall ({'EE' if method == 'EE' else 'RE'}, {method})",
            synthesis.overall,
            groups[-1] if by is not None and synthesis.subgroups is not None else None,
        )
    )
    frame = pd.DataFrame(out)
    frame["row_id"] = range(len(frame))
    return frame


def forest_plot(
    synthesis: EvidenceSynthesis,
    label: str = "study",
    xlabel: str = "Standardised mean change (positive = improvement)",
) -> Figure:
    """Forest plot with weight-scaled squares, pooled diamonds and prediction intervals."""
    frame = forest_rows(synthesis, label)
    groupvar = "group" if frame["group"].notna().all() else None
    height = 1.2 + 0.42 * (len(frame) + (frame["group"].nunique() if groupvar else 0))
    fig, ax = plt.subplots(figsize=(7.5, height))
    ends = pd.concat([frame[c] for c in ("lo", "hi", "ci_low", "ci_high", "pi_low", "pi_high") if c in frame])
    ends = pd.to_numeric(ends, errors="coerce").dropna()
    span = float(ends.max() - ends.min()) or 1.0
    xlim = (float(ends.min()) - 0.05 * span, float(ends.max()) + 0.05 * span)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plotted, ax = forestplot.forestplot(
            frame,
            estimate="estimate",
            varlabel="label",
            ll="lo",
            hl="hi",
            groupvar=groupvar,
            group_order=list(dict.fromkeys(frame["group"])) if groupvar else None,
            annote=["n_text"],
            annoteheaders=["n"],
            rightannote=["ci_text", "weight_text"],
            right_annoteheaders=["Estimate [95% CI]", "Weight"],
            ci_report=False,
            markersize=0,
            xlabel=xlabel,
            xlim=xlim,
            ax=ax,
            return_df=True,
            flush=True,
        )
    positions = {int(r): i for i, r in enumerate(plotted["row_id"]) if not pd.isna(r)}
    studies = frame[frame.kind == "study"]
    max_weight = studies["weight"].max() if len(studies) else 1.0
    for _, r in studies.iterrows():
        area = SQUARE_AREA[0] + (SQUARE_AREA[1] - SQUARE_AREA[0]) * r.weight / max_weight
        ax.scatter([r.estimate], [positions[r.row_id]], marker="s", s=area, color="#2f4f4f", zorder=3)
    for _, r in frame[frame.kind == "pooled"].iterrows():
        y = positions[r.row_id]
        h = DIAMOND_HALF_HEIGHT
        ax.add_patch(
            Polygon(
                [(r.ci_low, y), (r.estimate, y + h), (r.ci_high, y), (r.estimate, y - h)],
                closed=True,
                color="#8b1a1a",
                zorder=3,
            )
        )
        if r.pi_low is not None and not (isinstance(r.pi_low, float) and math.isnan(r.pi_low)):
            ax.plot([r.pi_low, r.pi_high], [y, y], color="#8b1a1a", lw=1, ls="--", zorder=2)
            ax.plot(
                [r.pi_low, r.pi_low, np.nan, r.pi_high, r.pi_high],
                [y - h / 2, y + h / 2, np.nan, y - h / 2, y + h / 2],
                color="#8b1a1a",
                lw=1,
                zorder=2,
            )
    fig.text(0.01, 0.0, synthesis_caption(synthesis), fontsize=7, va="top", wrap=True)
    return fig


def synthesis_caption(synthesis: EvidenceSynthesis) -> str:
    """The conventions behind a plotted synthesis, for its caption."""
    fit = synthesis.overall.fit
    test = "Wald z" if fit.test == "z" else "Knapp-Hartung t"
    return (
        f"Squares: study estimates (area ~ weight), 95% CI with the normal quantile. Diamonds: pooled estimates "
        f"(tau² {fit.method}, {test} CI); dashed line: prediction interval. Dependence: {synthesis.dependence}."
    )
