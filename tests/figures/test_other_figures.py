"""Dose-response, implementation-quality, funnel, diagnostic and Bayesian plots, and saving figures."""

from __future__ import annotations

import hashlib
import math

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
    synthetic_synthesis,
    texts_with_gid,
)
from PIL import Image

from mbtevidence import (
    bayes_meta_analysis,
    cumulative,
    egger_test,
    influence,
    leave_one_out,
    meta_regression,
    pool_evidence,
    trim_and_fill,
)
from mbtevidence.figures import (
    bayes_plot,
    cumulative_plot,
    dose_response_plot,
    fidelity_plot,
    figure_alt_text,
    forest_plot,
    funnel_plot,
    influence_plot,
    leave_one_out_plot,
    save_figure,
)
from mbtevidence.figures.diagnostics import influential


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def bcg_synthesis(bcg):
    return bcg_synthesis_of(bcg)


def footnotes(fig) -> str:
    return " ".join(texts_with_gid(fig, "footnote"))


@pytest.mark.parametrize("k", [2, 4, 12])
def test_dose_response_bubbles_line_band_and_slope_test(k: int) -> None:
    synthesis = synthetic_synthesis(k, by=None)
    fig = dose_response_plot(synthesis, "months_received_mean")
    (bubbles,) = artists_with_gid(fig, "bubble")
    assert len(bubbles.get_offsets()) == k
    rows = synthesis.rows
    regression = meta_regression(rows["yi"], rows["vi"], rows[["months_received_mean"]], "REML", "knha")
    np.testing.assert_allclose(
        bubbles.get_sizes() / regression.fit.weights, bubbles.get_sizes()[0] / regression.fit.weights[0]
    )
    (corner,) = texts_with_gid(fig, "corner")
    assert f"k = {k}" in corner
    if k >= 3:
        (line,) = artists_with_gid(fig, "regression-line")
        x, y = line.get_data()
        pred = regression.predict({"months_received_mean": x})
        np.testing.assert_allclose(y, pred["pred"], rtol=1e-10)
        assert artists_with_gid(fig, "band")
        assert f"p\u00a0=\u00a0{regression.omnibus().p:.2f}" in corner or "p\u00a0<" in corner
    else:
        assert not artists_with_gid(fig, "regression-line") and "too few" in corner
    assert ("< 10" in footnotes(fig)) == (k < 10)
    assert overlapping_texts(fig) == []


def test_dose_response_names_samples_without_the_dose_and_sums_sessions() -> None:
    synthesis = synthetic_synthesis(6, by=None)
    fig = dose_response_plot(synthesis, "days_per_week")
    missing = synthesis.rows["days_per_week"].isna().sum()
    assert footnotes(fig).count("not reported") == missing > 0
    rows = synthesis.rows.assign(
        individual_sessions_per_week=[1, 1, np.nan, 2, 1, 1], group_sessions_per_week=[2, np.nan, np.nan, 1, 1, 2]
    )
    fig = dose_response_plot(
        pool_evidence(rows.drop(columns=["ci_low", "ci_high", "weight"]), by=None), "sessions_per_week"
    )
    (bubbles,) = artists_with_gid(fig, "bubble")
    assert sorted(bubbles.get_offsets()[:, 0]) == [1, 2, 3, 3, 3]


def test_fidelity_plot_on_the_bundled_evidence_connects_cohorts_of_one_study(symptom_synthesis) -> None:
    rows = symptom_synthesis.rows
    fig = fidelity_plot(symptom_synthesis)
    rated = rows[rows["fidelity_0_1"].notna()]
    (bubbles,) = artists_with_gid(fig, "bubble")
    np.testing.assert_allclose(sorted(bubbles.get_offsets()[:, 0]), sorted(rated["fidelity_0_1"]))
    repeated = int((rated.groupby("study").size() > 1).sum())
    assert len(artists_with_gid(fig, "within-study")) == repeated
    labels = texts_with_gid(fig, "point-label")
    for _, row in rated.iterrows():
        assert any(f"{row['fidelity_0_1']:.2f} (" in label for label in labels)
    unrated = rows[rows["fidelity_0_1"].isna()]
    assert footnotes(fig).count("(not rated)") + footnotes(fig).count("no total score") == len(unrated)
    assert fig.axes[0].get_xlim() == pytest.approx((-0.02, 1.02))
    assert overlapping_texts(fig) == []


def test_fidelity_plot_labels_the_reorganisation_cohorts() -> None:
    records = pd.DataFrame(
        {
            "effect_id": ["pre", "reorg", "other"],
            "study": ["Bales2017reorg", "Bales2017reorg", "Folmo2020"],
            "arm": ["PRE-REORG", "REORG", "MBT-OP"],
            "sample_id": ["a", "b", "c"],
            "instrument": "GSI",
            "secondary_report": False,
            "timepoint_months": 18.0,
            "n": [30.0, 16.0, 107.0],
            "measure": "SMCR",
            "yi": [0.97, 0.55, 1.1],
            "vi": [0.049, 0.072, 0.015],
            "es_note": "",
            "fidelity_0_1": [0.85, 0.233, 0.617],
            "fidelity_rating": [6.1, 2.4, 4.7],
            "fidelity_scale": "consensus rating, 1-7",
            "conflict": False,
        }
    )
    fig = fidelity_plot(pool_evidence(records))
    labels = texts_with_gid(fig, "point-label")
    assert "Bales 2017 PRE-REORG: 0.85 (6.1 on 1–7)" in labels and "Bales 2017 REORG: 0.23 (2.4 on 1–7)" in labels
    (line,) = artists_with_gid(fig, "within-study")
    assert list(line.get_xdata()) == pytest.approx([0.233, 0.85])
    assert artists_with_gid(fig, "regression-line"), "k = 3: meta-regression drawn"


@pytest.mark.parametrize("source", ["bundled", "bcg"])
def test_funnel_plot_egger_line_and_filled_studies(source: str, symptom_synthesis, bcg_synthesis) -> None:
    synthesis = symptom_synthesis if source == "bundled" else bcg_synthesis
    fig = funnel_plot(synthesis, contours=source == "bcg")
    result = synthesis.overall
    (points,) = artists_with_gid(fig, "study-point")
    assert len(points.get_offsets()) == result.k
    np.testing.assert_allclose(points.get_offsets()[:, 1], np.sqrt(result.fit.v))
    filled = trim_and_fill(result)
    extra = artists_with_gid(fig, "filled-point")
    assert len(extra[0].get_offsets()) == filled.k0
    (line,) = artists_with_gid(fig, "egger-line")
    sei = line.get_ydata()
    regression = meta_regression(result.fit.y, result.fit.v, pd.DataFrame({"sei": np.sqrt(result.fit.v)}))
    np.testing.assert_allclose(line.get_xdata(), regression.fit.beta[0] + regression.fit.beta[1] * sei)
    subtitle = " ".join(texts_with_gid(fig, "subtitle"))
    assert f"{egger_test(result).test.p:.2f}" in subtitle
    assert ("not interpretable" in subtitle or "too little power" in subtitle) == (result.k < 10)
    assert bool(artists_with_gid(fig, "contour")) == (source == "bcg")
    assert overlapping_texts(fig) == []


def test_funnel_plot_with_two_studies_says_no_tests() -> None:
    fig = funnel_plot(synthetic_synthesis(2, by=None))
    assert "no Egger test" in " ".join(texts_with_gid(fig, "subtitle"))
    assert not artists_with_gid(fig, "egger-line")


def test_leave_one_out_rows_match_the_engine(bcg_synthesis) -> None:
    fig = leave_one_out_plot(bcg_synthesis)
    table = leave_one_out(bcg_synthesis.overall).table
    estimates = [e for e in artists_with_gid(fig, "row-estimate")]
    assert len(estimates) == len(table)
    np.testing.assert_allclose([e.get_xdata()[0] for e in estimates], table["estimate"])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[0] == "without Trial 1"
    assert overlapping_texts(fig) == []
    assert "without" in figure_alt_text(fig)


def test_cumulative_plot_adds_studies_by_year(bcg_synthesis) -> None:
    fig = cumulative_plot(bcg_synthesis)
    years = bcg_synthesis.rows["year"].to_numpy()
    table = cumulative(bcg_synthesis.overall, years).table
    np.testing.assert_allclose([e.get_xdata()[0] for e in artists_with_gid(fig, "row-estimate")], table["estimate"])
    assert texts_with_gid(fig, "title") == ["Cumulative meta-analysis, studies added by year"]
    assert overlapping_texts(fig) == []


@pytest.mark.parametrize("k", [4, 13])
def test_influence_plot_marks_metafor_influential_studies(k: int, bcg_synthesis) -> None:
    synthesis = bcg_synthesis if k == 13 else synthetic_synthesis(k, by=None)
    fig = influence_plot(synthesis)
    table = influence(synthesis.overall).table
    assert len(fig.axes) == 8
    flagged = influential(table.reset_index(drop=True), 1)
    expected = (
        (table["dffits"].abs() > 3 * math.sqrt(1 / (k - 1))) | (table["cook_d"] > 0.454936) | (table["hat"] > 3 / k)
    )
    assert list(flagged) == list(expected)
    points = artists_with_gid(fig, "influence-point")
    orange = matplotlib.colors.to_rgba("#d95f02")
    assert sum(tuple(c) == orange for c in points[0].get_facecolors()) == int(expected.sum())
    assert overlapping_texts(fig) == []


def test_bayes_plot_draws_prior_posteriors_and_intervals(symptom_synthesis) -> None:
    rows = symptom_synthesis.rows
    result = bayes_meta_analysis(rows["yi"], rows["vi"], tau_prior="halfnormal:0.5")
    fig = bayes_plot(result, symptom_synthesis.overall, "SMCR")
    (prior,) = artists_with_gid(fig, "tau-prior")
    (posterior,) = artists_with_gid(fig, "tau-posterior")
    np.testing.assert_allclose(prior.get_ydata(), result.tau_prior_density(prior.get_xdata()))
    np.testing.assert_allclose(posterior.get_ydata(), result.tau_posterior(posterior.get_xdata()))
    x, y = artists_with_gid(fig, "mu-posterior")[0].get_data()
    assert np.trapezoid(y, x) == pytest.approx(1.0, abs=0.01)
    assert "halfnormal:0.5" in texts_with_gid(fig, "subtitle")[0]
    assert artists_with_gid(fig, "frequentist")
    assert overlapping_texts(fig) == []


def test_save_writes_png_svg_pdf_with_the_same_bytes_each_time(tmp_path) -> None:
    synthesis = synthetic_synthesis(3)
    first = save_figure(forest_plot(synthesis), tmp_path / "a" / "forest.png")
    second = save_figure(forest_plot(synthesis), tmp_path / "b" / "forest")
    assert [p.suffix for p in first] == [".png", ".svg", ".pdf"]
    for a, b in zip(first, second, strict=True):
        assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest(), a.name
    png = Image.open(first[0])
    assert png.info["dpi"][0] == pytest.approx(200, abs=0.01)
    fig = forest_plot(synthesis)
    assert np.abs(np.array(png.size) - 200 * fig.get_size_inches()).max() <= 1
    assert png.info["Description"] == figure_alt_text(fig)
    svg = first[1].read_text(encoding="utf-8")
    assert "<dc:date>" not in svg and "Forest plot" in svg
    assert b"CreationDate" not in first[2].read_bytes()
    with pytest.raises(ValueError, match="unknown figure format"):
        save_figure(fig, tmp_path / "x", ("jpg",))


def test_alt_text_is_required_from_our_figures() -> None:
    with pytest.raises(ValueError, match=r"not drawn by mbtevidence\.figures"):
        figure_alt_text(plt.figure())


def test_label_maps_cover_every_vocabulary_code() -> None:
    from mbtevidence.evidence import load_schema
    from mbtevidence.figures.style import PERIOD_LABELS, POPULATION_LABELS, SETTING_LABELS

    vocabularies = load_schema()["vocabularies"]
    assert set(SETTING_LABELS) == set(vocabularies["setting"])
    assert set(POPULATION_LABELS) == set(vocabularies["analysis_population"])
    assert set(PERIOD_LABELS) - {"not_reported"} == set(vocabularies["organisational_stability"])
