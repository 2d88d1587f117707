"""Forest plots (mbtevidence.figures) drawn from a real synthesis of the bundled evidence."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # tests only; notebooks keep the inline backend

from matplotlib.patches import Polygon

from mbtevidence.figures import forest_plot, forest_rows


def test_forest_rows_order_and_pooled_rows(symptom_synthesis) -> None:
    synthesis = symptom_synthesis
    rows = forest_rows(synthesis)
    kinds = rows.kind.tolist()
    assert kinds[-1] == "pooled" and rows.label.iloc[-1].startswith("Overall (RE, REML)")
    assert kinds.count("pooled") == 1 + len(synthesis.subgroups.groups)
    assert kinds.count("study") == len(synthesis.rows)


def test_forest_plot_draws_weighted_squares_diamonds_and_prediction_intervals(symptom_synthesis, tmp_path) -> None:
    synthesis = symptom_synthesis
    fig = forest_plot(synthesis)
    ax = fig.axes[0]
    diamonds = [p for p in ax.patches if isinstance(p, Polygon)]
    assert len(diamonds) == 1 + len(synthesis.subgroups.groups)
    sizes = sorted(s for c in ax.collections for s in getattr(c, "get_sizes", lambda: [])() if s > 0)
    assert len(sizes) >= len(synthesis.rows) and sizes[0] < sizes[-1], "squares scale with weight"
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert dashed, "prediction interval drawn"
    out = tmp_path / "forest.png"
    fig.savefig(out)
    assert out.stat().st_size > 10_000
