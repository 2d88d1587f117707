"""Characteristics of included studies, the risk-of-bias table and the traffic-light plot."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.collections import PathCollection

from mbtevidence.guideline import characteristics_table, risk_of_bias_table, traffic_light_plot
from mbtevidence.guideline.characteristics import JUDGEMENTS, ROB_DOMAINS

STUDIES = ["Lof2018", "Folmo2020", "Smits2022", "Bateman1999"]


def test_characteristics_come_from_the_studies_arms_and_effects(bundled_evidence) -> None:
    table = characteristics_table(bundled_evidence, STUDIES).set_index("Study")
    studies = bundled_evidence.studies.set_index("study")
    assert list(table.index) == STUDIES
    for study in STUDIES:
        s = studies.loc[study]
        assert table.loc[study, "n included"] == ("" if pd.isna(s.n_included) else int(s.n_included))
        assert table.loc[study, "Women, %"] == ("" if pd.isna(s.percent_women) else f"{s.percent_women:g}")
        arms = bundled_evidence.arms[bundled_evidence.arms.study == study]
        assert all(f"{arm}: " in table.loc[study, "Arms / programmes (setting, n)"] for arm in arms["arm"])
    assert (
        table.loc["Lof2018", "Age, mean (SD)"]
        == f"{studies.loc['Lof2018'].age_mean:g} ({studies.loc['Lof2018'].age_sd:g})"
    )
    assert "symptom severity" in table.loc["Lof2018", "Outcomes"]


def test_risk_of_bias_domains_are_named_by_the_tool(bundled_evidence) -> None:
    table = risk_of_bias_table(bundled_evidence, STUDIES).set_index("Study")
    assert table.loc["Smits2022", "Selection / confounding"].endswith("(D1)")  # RoB 2 randomisation
    assert table.loc["Lof2018", "Selection / confounding"] == "high (D1-2)"  # ROBINS-I confounding + selection
    assert table.loc["Lof2018", "Missing data"].endswith("(D5)")
    assert table.loc["Smits2022", "Reported result"] == ""  # RoB 2 D5 not judged for this report
    assert table.loc["Bateman1999", "Overall"] == "" and table.loc["Bateman1999", "Tool"].startswith("not assessed")
    reasons = bundled_evidence.studies.set_index("study")["rob_reason"]
    assert table.loc["Folmo2020", "Reasons"] == reasons["Folmo2020"]


def test_traffic_light_plot_has_a_circle_per_study_and_judgement(bundled_evidence) -> None:
    figure = traffic_light_plot(bundled_evidence, STUDIES)
    ax = figure.axes[0]
    circles = [c for c in ax.collections if isinstance(c, PathCollection)]
    assessed = 3  # Lof2018, Folmo2020 (ROBINS-I), Smits2022 (RoB 2)
    assert len(circles) == 6 * assessed + len(JUDGEMENTS)  # five domains + overall each, and the legend
    shown = "\n".join(t.get_text() for t in ax.texts)
    assert "RoB 2 (randomised trials)" in shown and "ROBINS-I-style (non-randomised studies)" in shown
    assert "Not assessed (secondary reports or no patient outcome data): Bateman1999." in shown
    symbols = [t.get_text() for t in ax.texts if t.get_text() in {"+", "−", "×", "?"}]
    studies = bundled_evidence.studies.set_index("study")
    expected = [
        JUDGEMENTS[None if pd.isna(v) else v][1]
        for s in ("Smits2022", "Lof2018", "Folmo2020")
        for v in studies.loc[s, [*(column for column, _, _ in ROB_DOMAINS["rob2"]), "rob_overall"]]
    ]
    assert symbols == expected
    plt.close(figure)


def test_unknown_or_unassessed_studies_are_one_clear_error(bundled_evidence) -> None:
    with pytest.raises(ValueError, match=r"studies not in studies\.csv: Nobody2020"):
        characteristics_table(bundled_evidence, ["Lof2018", "Nobody2020"])
    with pytest.raises(ValueError, match="no study with a RoB 2 or ROBINS-I judgement"):
        traffic_light_plot(bundled_evidence, ["Bateman1999"])
