"""Forest plots (mbtevidence.figures.forest_plot): the drawn artists, their text and layout."""

from __future__ import annotations

import math
import re
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")  # tests only; notebooks keep the inline backend

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from figures.figure_checks import (
    artists_with_gid,
    bcg_synthesis_of,
    overlapping_texts,
    synthetic_records,
    synthetic_synthesis,
    texts_with_gid,
)
from matplotlib.collections import LineCollection
from matplotlib.container import ErrorbarContainer

import mbtevidence as mbt
from mbtevidence import pool_evidence, subgroup_analysis
from mbtevidence.figures import figure_alt_text, forest_plot, forest_table
from mbtevidence.figures.style import COLOURS

NUMBER = r"[−-]?\d+\.?\d*"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def numbers(text: str) -> list[float]:
    return [float(x.replace("−", "-")) for x in re.findall(NUMBER, text.replace("\u00a0", " "))]


def plot_axes(fig):
    (ax,) = fig.axes
    return ax


def cells_by_row(fig) -> list[dict[str, str]]:
    """The cells of each table row (texts at the same height), top to bottom."""
    rows: dict[float, dict[str, str]] = {}
    for text in fig.texts:
        gid = text.get_gid() or ""
        if gid.startswith("cell-"):
            rows.setdefault(round(text.get_position()[1], 6), {})[gid] = text.get_text()
    return [rows[y] for y in sorted(rows, reverse=True)]


def squares(fig) -> list:
    return artists_with_gid(fig, "study-square")


def test_public_api_keeps_forest_plot_and_adds_the_figures(symptom_synthesis) -> None:
    fig = mbt.forest_plot(symptom_synthesis)
    assert len(squares(fig)) == len(symptom_synthesis.rows)
    for name in (
        "bayes_plot",
        "dose_response_plot",
        "fidelity_plot",
        "funnel_plot",
        "influence_plot",
        "leave_one_out_plot",
        "cumulative_plot",
        "save_figure",
        "figure_alt_text",
    ):
        assert name in mbt.__all__ and callable(getattr(mbt, name))


def test_bundled_forest_rows_diamonds_weights_and_subgroup_weights(symptom_synthesis) -> None:
    synthesis = symptom_synthesis
    fig = forest_plot(synthesis)
    groups = synthesis.subgroups.groups
    pooled = sum(1 for r in groups.values() if r.k > 1) + 1
    assert len(squares(fig)) == len(synthesis.rows)
    assert len(artists_with_gid(fig, "diamond")) == pooled
    # square AREA proportional to the weight in the subgroup's own model (separate tau²)
    expected = {}
    for name, result in groups.items():
        part = synthesis.rows[synthesis.rows["setting"].astype(str) == name]
        expected |= dict(zip(part["yi"].round(12), result.fit.weights, strict=True))
    ratios = [s.get_sizes()[0] / expected[round(s.get_offsets()[0][0], 12)] for s in squares(fig)]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)
    weights = texts_with_gid(fig, "cell-weight")
    assert sorted(float(w) for w in weights if w != "100.0") == pytest.approx(
        sorted(round(w, 1) for w in expected.values() if round(w, 1) != 100.0)
    )
    assert any("in subgroup" in h for h in texts_with_gid(fig, "header"))


@pytest.mark.parametrize("by", ["setting", None])
def test_forestplot_draws_the_study_estimates_and_cis_on_the_layout_rows(by: str | None) -> None:
    synthesis = synthetic_synthesis(10, by=by)
    fig = forest_plot(synthesis)
    ax = plot_axes(fig)
    # forestplot draws the CIs with ax.errorbar, which the kit's own layer never calls
    (container,) = ax.containers
    assert isinstance(container, ErrorbarContainer) and container.has_xerr and not container.has_yerr
    (whiskers,) = container.lines[2]
    assert isinstance(whiskers, LineCollection) and whiskers.get_gid() == "study-ci"
    (markers,) = artists_with_gid(fig, "study-estimate")
    rows = synthesis.rows
    assert len(whiskers.get_segments()) == len(markers.get_offsets()) == len(squares(fig)) == len(rows)
    # on the y of each study's weight-scaled square: the layout's row, not forestplot's 0, 1, 2...
    y_of = {round(s.get_offsets()[0][0], 9): s.get_offsets()[0][1] for s in squares(fig)}
    expected = sorted(
        (round(lo, 9), round(hi, 9), round(y_of[round(yi, 9)], 9))
        for yi, lo, hi in zip(rows["yi"], rows["ci_low"], rows["ci_high"], strict=True)
    )
    drawn = sorted((round(s[0, 0], 9), round(s[1, 0], 9), round(s[0, 1], 9)) for s in whiskers.get_segments())
    assert drawn == expected
    assert sorted((round(x, 9), round(y, 9)) for x, y in markers.get_offsets()) == sorted(
        (x, round(y, 9)) for x, y in y_of.items()
    )
    steps = np.diff(sorted(y_of.values()))
    assert steps.max() - steps.min() > 0.05, "rows of one and two lines: forestplot's even spacing is replaced"
    orange = [tuple(c) for c in whiskers.get_colors()].count(matplotlib.colors.to_rgba(COLOURS["conflict"]))
    assert orange == int(rows["conflict"].sum())
    assert ax.get_yticklabels() == [], "forestplot's row labels are removed: the layout writes the table"


def test_importing_the_figures_leaves_warnings_numpy_and_fonts_as_they_were() -> None:
    """forestplot silences every warning, ignores numpy errors and sets a font list when imported."""
    code = (
        "import warnings, numpy as np, matplotlib as mpl\n"
        "errors, fonts = np.geterr(), list(mpl.rcParams['font.monospace'])\n"
        "import mbtevidence.figures, sys\n"
        "assert 'forestplot' in sys.modules\n"
        "assert ('ignore', None, Warning, None, 0) not in warnings.filters, 'all warnings silenced'\n"
        "assert np.geterr() == errors, 'numpy error handling changed'\n"
        "assert list(mpl.rcParams['font.monospace']) == fonts, 'font list changed'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_headers_title_and_readable_labels(symptom_synthesis) -> None:
    fig = forest_plot(symptom_synthesis, timepoints="12–27 months")
    headers = [h.split("\n")[0] for h in texts_with_gid(fig, "header")]
    assert headers[:2] == ["Study", "Arm / cohort"] and "n" in headers and "Dosage" in headers
    assert "Setting" not in headers, "grouped by setting: the heading says it"
    assert any(h.startswith("SMCR") for h in headers) and any(h.startswith("Weight") for h in headers)
    assert texts_with_gid(fig, "title") == ["Symptom severity at 12–27 months"]
    studies = texts_with_gid(fig, "cell-study")
    assert all(re.fullmatch(r"\S+ \d{4}[a-z]?( †)?", s) for s in studies), studies
    assert not any("_" in t for t in studies + texts_with_gid(fig, "heading") + texts_with_gid(fig, "cell-population"))
    assert "Symptom severity" in figure_alt_text(fig)


def test_heterogeneity_lines_match_each_pooled_model(symptom_synthesis) -> None:
    synthesis = symptom_synthesis
    fig = forest_plot(synthesis)
    lines = texts_with_gid(fig, "heterogeneity")
    overall = synthesis.overall.to_dict()
    tau2, i2, q_df, q, p = numbers(lines[-1])[:5]
    assert tau2 == pytest.approx(overall["tau2"], abs=5e-4)
    assert i2 == pytest.approx(overall["i2"], abs=0.5)
    assert (q_df, q) == (overall["qe_df"], pytest.approx(overall["qe"], abs=5e-3))
    assert p == pytest.approx(overall["qe_p"], abs=5e-3)
    two = [r for r in synthesis.subgroups.groups.values() if r.k == 2]
    assert sum("no prediction interval (k = 2 < 3)" in line for line in lines) == len(two)


def test_subgroup_tests_name_their_convention(symptom_synthesis) -> None:
    synthesis = symptom_synthesis
    separate, common = texts_with_gid(forest_plot(synthesis), "test")
    assert "separate τ² per subgroup" in separate and "common τ²" in common and "metafor" in common
    expected = synthesis.subgroups.between_separate
    assert numbers(separate)[-3:] == pytest.approx([expected.df1, expected.value, expected.p], abs=5e-3)
    value, p = numbers(common)[-2:]
    assert (value, p) == (
        pytest.approx(synthesis.subgroups.between_common.value, abs=5e-3),
        pytest.approx(synthesis.subgroups.between_common.p, abs=5e-3),
    )


@pytest.mark.parametrize("k", [2, 3, 6])
def test_prediction_interval_row_only_where_defined(k: int) -> None:
    synthesis = synthetic_synthesis(k, by=None)
    fig = forest_plot(synthesis)
    rows = texts_with_gid(fig, "prediction")
    assert len(rows) == (1 if k >= 3 else 0)
    assert len(artists_with_gid(fig, "prediction-interval")) == len(rows)
    if k >= 3:
        d = synthesis.overall.to_dict()
        cell = next(t for t in texts_with_gid(fig, "cell-estimate") if t.startswith("["))
        assert numbers(cell) == pytest.approx([d["pi_low"], d["pi_high"]], abs=5e-3)


@pytest.mark.parametrize("source", ["bundled", "synthetic"])
def test_k2_intervals_do_not_set_the_axis_and_get_arrows(source: str, symptom_synthesis) -> None:
    synthesis = symptom_synthesis if source == "bundled" else synthetic_synthesis(4, by="setting")
    fig = forest_plot(synthesis)
    low, high = plot_axes(fig).get_xlim()
    rows = synthesis.rows
    overall = synthesis.overall.to_dict()  # k >= 3: its CI and PI may set the axis
    ends = [*rows["ci_low"], *rows["ci_high"], 0.0, overall["ci_low"], overall["ci_high"]]
    ends += [overall["pi_low"], overall["pi_high"]] if overall["pi_low"] is not None else []
    pad = 0.05 * (max(ends) - min(ends))
    assert min(ends) - pad <= low and high <= max(ends) + pad
    clipped = 0
    for result in synthesis.subgroups.groups.values():
        if result.k > 1:
            d = result.fit.predict(np.ones((1, 1)))
            clipped += int(d["ci_low"][0] < low) + int(d["ci_high"][0] > high)
    assert clipped > 0 and len(artists_with_gid(fig, "clip-arrow")) == clipped


def test_arrows_for_every_interval_past_a_given_axis() -> None:
    synthesis = synthetic_synthesis(8, by=None)
    fig = forest_plot(synthesis, xlim=(0.3, 0.9))
    rows = synthesis.rows
    d = synthesis.overall.to_dict()
    ends = [*rows["ci_low"], d["ci_low"], d["pi_low"]], [*rows["ci_high"], d["ci_high"], d["pi_high"]]
    expected = sum(x < 0.3 for x in ends[0]) + sum(x > 0.9 for x in ends[1])
    assert len(artists_with_gid(fig, "clip-arrow")) == expected > 0


def test_grouping_by_dosage_band_orders_headings_and_states_the_bands() -> None:
    synthesis = synthetic_synthesis(8, by="setting")
    fig = forest_plot(synthesis, group_by="dosage_band")
    headings = sorted(artists_with_gid(fig, "heading"), key=lambda t: -t.get_position()[1])
    assert [h.get_text() for h in headings] == ["Planned up to 12 months, k = 4", "Planned 13–18 months, k = 4"]
    assert any("Dosage bands: planned duration" in t for t in texts_with_gid(fig, "legend"))
    years = [int(s.split()[1].rstrip("†").strip()) for s in texts_with_gid(fig, "cell-study")]
    first_band = years[:4]
    assert first_band == sorted(first_band) and all(y % 2 == 0 for y in first_band)


def test_a_different_grouping_is_re_derived_with_the_synthesis_settings() -> None:
    synthesis = synthetic_synthesis(9, by="setting", test="adhoc")
    table = forest_table(synthesis, group_by="period")
    rows = synthesis.rows
    expected = subgroup_analysis(rows["yi"], rows["vi"], rows["organisational_stability"], "REML", "adhoc", 95)
    pooled = [r for r in table.rows if r.kind == "pooled" and not r.overall]
    order = ["stable", "reorganisation", "start_up"]
    assert [r.estimate for r in pooled] == pytest.approx([expected.groups[g].estimate for g in order])
    ci = [float(expected.groups[g].fit.predict(np.ones((1, 1)))["ci_low"][0]) for g in order]
    assert [r.low for r in pooled] == pytest.approx(ci)
    separate = next(r.text for r in table.rows if r.kind == "test")
    assert numbers(separate)[-2:] == pytest.approx(
        [expected.between_separate.value, expected.between_separate.p], abs=5e-3
    )


def test_empty_groups_given_and_derived_from_left_out_records() -> None:
    records = synthetic_records(6)
    missing = records.iloc[:2].assign(
        setting="inpatient",
        yi=np.nan,
        vi=np.nan,
        es_note="no SD printed",
        sample_id=["x1", "x2"],
        effect_id=["x1", "x2"],
    )
    synthesis = pool_evidence(pd.concat([records, missing], ignore_index=True), by="setting")
    fig = forest_plot(
        synthesis, empty_groups={"intensive_outpatient": "no outcome data: the trial reports moderators only"}
    )
    headings = texts_with_gid(fig, "heading")
    empty = texts_with_gid(fig, "empty")
    assert "Intensive outpatient" in headings and "Inpatient" in headings
    assert "no outcome data: the trial reports moderators only" in empty
    assert any("2 record(s) left out (no SD printed)" in e for e in empty)
    with pytest.raises(ValueError, match="not a group of setting"):
        forest_plot(synthesis, empty_groups={"group_therapy": "x"})


def test_one_group_keeps_its_heading_and_says_why_there_is_no_test() -> None:
    records = synthetic_records(3).assign(setting="outpatient")
    synthesis = pool_evidence(records, by="setting")
    fig = forest_plot(synthesis)
    assert texts_with_gid(fig, "heading") == ["Outpatient, k = 3"]
    assert texts_with_gid(fig, "test") == [
        "No test for subgroup differences: every pooled sample is in one group (Outpatient)"
    ]
    assert len(artists_with_gid(fig, "diamond")) == 1
    assert not any("outpatient" in line for line in texts_with_gid(fig, "legend")), "no code tokens, no repeat"


def test_the_synthesis_notes_are_on_the_figure() -> None:
    synthesis = pool_evidence(synthetic_records(3).assign(sample_id="one"), dependence="cluster_robust")
    assert synthesis.notes
    legend = " ".join(texts_with_gid(forest_plot(synthesis), "legend"))
    assert all(note in legend for note in synthesis.notes)


def test_conflicts_and_bound_n_are_marked_and_explained() -> None:
    synthesis = synthetic_synthesis(10)
    fig = forest_plot(synthesis)
    rows = synthesis.rows
    assert sum("†" in s for s in texts_with_gid(fig, "cell-study")) == int(rows["conflict"].sum())
    hollow = [s for s in squares(fig) if tuple(s.get_facecolor()[0]) == (1.0, 1.0, 1.0, 1.0)]
    assert len(hollow) == int(rows["n_bound"].sum()) == sum(t.startswith("≤") for t in texts_with_gid(fig, "cell-n"))
    legend = " ".join(texts_with_gid(fig, "legend"))
    assert "source conflict" in legend and "upper bound of n" in legend
    share = rows.loc[rows["conflict"], "weight"].sum()
    assert f"({share:.0f}% of the overall weight)" in figure_alt_text(fig)


def test_few_study_columns_compare_methods_for_small_subgroups(symptom_synthesis) -> None:
    fig = forest_plot(symptom_synthesis, few_study=True)
    headers = texts_with_gid(fig, "header")
    assert any("Knapp-Hartung" in h for h in headers) and any("Bayesian" in h for h in headers)
    comparison = mbt.few_study_comparison(symptom_synthesis.overall).table
    bayes = comparison.loc["Bayesian (normal-normal)"]
    assert any(
        numbers(t) == pytest.approx([bayes["estimate"], bayes["low"], bayes["high"]], abs=5e-3)
        for t in texts_with_gid(fig, "cell-few_bayes")
    )


def test_ratio_measure_axis_and_numbers_are_back_transformed(bcg) -> None:
    synthesis = bcg_synthesis_of(bcg)
    fig = forest_plot(synthesis, favours=("favours vaccine", "favours control"))
    ax = plot_axes(fig)
    ticks = [float(t.get_text()) for t in ax.get_xticklabels() if t.get_text()]
    assert 1.0 in ticks and all(math.log(t) == pytest.approx(x) for t, x in zip(ticks, ax.get_xticks(), strict=False))
    by_study = synthesis.rows.set_index("study")
    for cells in cells_by_row(fig):
        if "cell-study" in cells:
            row = by_study.loc[cells["cell-study"]]
            expected = [math.exp(row["yi"]), math.exp(row["ci_low"]), math.exp(row["ci_high"])]
            assert numbers(cells["cell-estimate"]) == pytest.approx(expected, abs=5e-3)
    assert texts_with_gid(fig, "favours") == ["← favours vaccine", "favours control →"]
    assert "(log scale)" in texts_with_gid(fig, "axis-label")[0]


@pytest.mark.parametrize("k", [1, 2, 4, 20, 60])
@pytest.mark.parametrize("by", ["setting", None])
def test_no_text_overlaps_from_1_to_60_rows(k: int, by: str | None) -> None:
    fig = forest_plot(synthetic_synthesis(k, by=by), few_study=k == 4)
    assert overlapping_texts(fig) == []
    height = fig.get_size_inches()[1]
    assert height > 0.2 * k, "height grows with the rows"


def test_overlap_check_detects_overlapping_text() -> None:
    fig = plt.figure(figsize=(3, 2))
    fig.text(0.1, 0.5, "Bales 2017 REORG")
    fig.text(0.15, 0.5, "overlapping")
    assert len(overlapping_texts(fig)) == 1


def test_long_labels_are_cut_visibly() -> None:
    fig = forest_plot(synthetic_synthesis(3))
    arms = texts_with_gid(fig, "cell-arm")
    assert any(a.endswith("…") and a.count("\n") == 1 for a in arms)
