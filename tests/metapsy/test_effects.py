"""Effect sizes with metapsyTools' conventions: the database's own .g, .g_se and .log_rr reproduced."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from metapsy_testdata import PUBLISHED, msd_row, requires_data, write_metapsy

from mbtevidence import escalc
from mbtevidence.metapsy import agreement, metapsy_effect_sizes, read_metapsy

DICH = dict.fromkeys(["mean_arm1", "sd_arm1", "n_arm1", "mean_arm2", "sd_arm2", "n_arm2"], "") | {
    "outcome_type": "dich",
    "outcome_domain": "suicidal behaviour",
}


@requires_data
def test_every_published_g_is_reproduced() -> None:
    report = agreement(read_metapsy(PUBLISHED))
    counts = report.counts()
    assert counts["g"] == {"agree": 54, "differ": 0, "not recomputable": 0, "not published": 0}
    assert counts["g_se"]["agree"] == 54
    assert counts["log_rr"] == {"agree": 24, "differ": 0, "not recomputable": 0, "not published": 30}
    assert report.problems().empty
    rows = report.rows
    assert np.nanmax(np.abs(rows["g"] - rows[".g"])) < 1e-12, "the same formulas, not just close ones"
    assert np.nanmax(np.abs(rows["log_rr_se"] - rows[".log_rr_se"])) < 1e-12


@requires_data
def test_on_binary_rows_g_has_the_opposite_sign_of_the_log_risk_ratio() -> None:
    rows = agreement(read_metapsy(PUBLISHED)).rows
    dich = rows[(rows["outcome_type"] == "dich") & (rows["log_rr"] != 0)]
    assert (np.sign(dich["g"]) == -np.sign(dich["log_rr"])).all()
    bateman = rows[rows[".id"] == "Bateman_2009_dich_count_post_78_NA_mbt_GT_NA_NA"].iloc[0]
    assert (round(bateman["g"], 2), round(bateman["log_rr"], 2)) == (1.35, -2.20)


def test_msd_g_is_not_metafors_smd(tmp_path: Path) -> None:
    """esc: Hedges' approximate J and the variance of d; metafor: the exact J and g in the variance."""
    file = read_metapsy(write_metapsy(tmp_path / "f.csv", [msd_row(n_arm1="12", n_arm2="10")]))
    es = metapsy_effect_sizes(file).iloc[0]
    d = (20 - 25) / 10
    assert math.isclose(es["g"], d * (1 - 3 / (4 * 22 - 9)), rel_tol=1e-12)
    assert math.isclose(es["g_se"] ** 2, 22 / 120 + d * d / 44, rel_tol=1e-12)
    smd = escalc("SMD", m1i=[20], sd1i=[10], n1i=[12], m2i=[25], sd2i=[10], n2i=[10])
    assert abs(smd.yi[0] - es["g"]) > 1e-5 and abs(smd.vi[0] - es["g_se"] ** 2) > 1e-5


def test_change_scores_and_zero_events(tmp_path: Path) -> None:
    change = msd_row(outcome_type="change") | dict.fromkeys(["mean_arm1", "sd_arm1", "mean_arm2", "sd_arm2"], "")
    change |= {"mean_change_arm1": "-8", "mean_change_arm2": "-3", "sd_change_arm1": "6", "sd_change_arm2": "6"}
    change |= {"n_change_arm1": "30", "n_change_arm2": "30"}
    zero = msd_row(**DICH, event_arm1="0", totaln_arm1="24", event_arm2="3", totaln_arm2="22")
    extra = (
        "mean_change_arm1",
        "mean_change_arm2",
        "sd_change_arm1",
        "sd_change_arm2",
        "n_change_arm1",
        "n_change_arm2",
    )
    es = metapsy_effect_sizes(read_metapsy(write_metapsy(tmp_path / "f.csv", [change, zero], extra)))
    d = -5 / 6
    assert math.isclose(es["g"][0], d * (1 - 3 / (4 * 60 - 9)), rel_tol=1e-12)
    # metapsyTools <= 1.0.13: 0.5 added to events and totals (log RR), to all four cells (g)
    assert math.isclose(es["log_rr"][1], math.log((0.5 / 24.5) / (3.5 / 22.5)), rel_tol=1e-12)
    log_or = math.log(0.5 * 19.5 / (24.5 * 3.5))
    assert math.isclose(es["g"][1], -log_or * math.sqrt(3) / math.pi * (1 - 3 / (4 * 48 - 9)), rel_tol=1e-12)


def test_differences_and_missing_data_are_counted_with_their_reason(tmp_path: Path) -> None:
    rows = [
        msd_row(**{".g": "-0,4952", ".g_se": "0,2271"}),
        msd_row(study="B, 2001", **{".g": "-0,9", ".g_se": "0,2271"}),
        msd_row(study="C, 2002", sd_arm2="", **{".g": "-0,5", ".g_se": "0,2"}),
    ]
    report = agreement(read_metapsy(write_metapsy(tmp_path / "f.csv", rows)))
    assert report.counts()["g"] == {"agree": 1, "differ": 1, "not recomputable": 1, "not published": 0}
    reasons = report.problems()["reason"].tolist()
    assert reasons[0].startswith(".g published -0.9, recomputed -0.49")
    assert ".g not recomputable: sd of an arm missing" in reasons[1]
    assert "1 agree, 1 differ, 1 not recomputable" in report.summary()
