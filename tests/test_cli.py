"""The command line (mbtevidence.cli): pool, validate and summary as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HAND_WRITTEN = """study,g,var_g,setting,months
Smith 2010,0.62,0.041,day_hospital,18
Jones 2012,0.35,0.062,outpatient,12
Lee 2015, 0.80 ,0.090,day_hospital,24
Wong 2018,0.21,0.030,outpatient,12
Garcia 2020,0.55,0.050,intensive_outpatient,24
"""


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mbtevidence", *args], capture_output=True, text=True)


@pytest.fixture
def hand_csv(tmp_path: Path) -> Path:
    path = tmp_path / "effects.csv"
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    return path


def test_pool_json_on_bcg_matches_published(tmp_path, bcg) -> None:
    path = tmp_path / "bcg.csv"
    bcg.to_csv(path, index=False)
    out = run("pool", str(path), "--yi", "yi", "--vi", "vi", "--test", "z", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    for key in (
        "k",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "pi_low",
        "pi_high",
        "tau2",
        "i2",
        "h2",
        "qe",
        "qe_p",
        "method",
        "test",
    ):
        assert key in d
    assert (round(d["estimate"], 4), round(d["tau2"], 4), round(d["qe"], 4)) == (-0.7145, 0.3132, 152.2330)
    assert (d["method"], d["test"], d["k"]) == ("REML", "z", 13)


def test_pool_with_subgroups_and_moderators(tmp_path, bcg) -> None:
    path = tmp_path / "bcg.csv"
    bcg.to_csv(path, index=False)
    d = json.loads(
        run(
            "pool", str(path), "--yi", "yi", "--vi", "vi", "--test", "z", "--by", "alloc", "--mods", "ablat", "--json"
        ).stdout
    )
    assert set(d["subgroups"]) == {"alternate", "random", "systematic"}
    assert round(d["subgroups"]["random"]["estimate"], 4) == -0.9710
    assert round(d["test_common_tau2"]["value"], 4) == 1.7675 and d["test_common_tau2"]["statistic"] == "QM"
    assert d["test_separate_tau2"]["statistic"] == "Q" and "RevMan" in d["test_separate_tau2"]["convention"]
    names = [c["name"] for c in d["coefficients"]]
    assert names == ["intrcpt", "ablat"] and round(d["qm"]["value"], 4) == 16.3571
    assert {"name", "estimate", "se", "ci_low", "ci_high", "p"} <= set(d["coefficients"][1])


def test_pool_reads_a_hand_written_csv(hand_csv) -> None:
    text = run("pool", str(hand_csv), "--yi", "g", "--vi", "var_g", "--slab", "study", "--by", "setting")
    assert text.returncode == 0, text.stderr
    assert "Random-Effects Model (k = 5" in text.stdout and "Test for subgroup differences" in text.stdout
    d = json.loads(
        run("pool", str(hand_csv), "--yi", "g", "--vi", "var_g", "--mods", "months", "setting", "--json").stdout
    )
    assert d["k"] == 5 and d["test"] == "knha" and d["method"] == "REML"
    assert [c["name"] for c in d["coefficients"]] == [
        "intrcpt",
        "months",
        "settingintensive_outpatient",
        "settingoutpatient",
    ]


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (HAND_WRITTEN, ("--yi", "d", "--vi", "var_g"), "no column(s) d; the file has study, g, var_g"),
        (HAND_WRITTEN.replace("0.35", "n/a"), ("--yi", "g", "--vi", "var_g"), "row 3 g='n/a' is not a number"),
        (
            HAND_WRITTEN.replace("0.062", "-0.062"),
            ("--yi", "g", "--vi", "var_g"),
            "row 3 var_g=-0.062 is not a positive variance",
        ),
        (HAND_WRITTEN, ("--yi", "g", "--vi", "var_g", "--mods", "setting", "setting"), "setting given more than once"),
        (
            HAND_WRITTEN.replace(",outpatient,12\nLee", ",,12\nLee"),
            ("--yi", "g", "--vi", "var_g", "--by", "setting"),
            "row 3 setting is empty",
        ),
        (
            HAND_WRITTEN.replace("day_hospital,24", "day_hospital,18"),
            ("--yi", "g", "--vi", "var_g", "--mods", "months", "setting"),
            "moderators are collinear",
        ),
        ("", ("--yi", "g", "--vi", "var_g"), "not a readable CSV file"),
        (
            HAND_WRITTEN.replace("outpatient", "day_hospital").replace("intensive_day_hospital", "day_hospital"),
            ("--yi", "g", "--vi", "var_g", "--by", "setting"),
            "needs at least two groups",
        ),
    ],
)
def test_pool_bad_files_get_one_line_errors(tmp_path, content, args, message) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    out = run("pool", str(path), *args)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_validate_flagged_lists_conflict_records() -> None:
    out = run("validate", "--flagged")
    assert out.returncode == 0
    assert out.stdout.count("flagged: ") >= 1


def test_summary_shows_studies_samples_and_settings() -> None:
    out = run("summary")
    assert out.returncode == 0, out.stderr
    for title in (
        "== overview",
        "== per study",
        "== programme periods (dosage and implementation quality)",
        "== per setting",
        "== per outcome construct",
        "== per timepoint",
    ):
        assert title in out.stdout


@pytest.mark.parametrize("level", ["0", "100", "150", "-5", "0.95"])
def test_level_outside_50_to_99_99_percent_is_refused(hand_csv, level) -> None:
    out = run("pool", str(hand_csv), "--yi", "g", "--vi", "var_g", "--level", level)
    assert out.returncode == 2 and "percent" in out.stderr and "Traceback" not in out.stderr


def test_adhoc_test_is_offered(hand_csv) -> None:
    d = json.loads(run("pool", str(hand_csv), "--yi", "g", "--vi", "var_g", "--test", "adhoc", "--json").stdout)
    assert d["test"] == "adhoc" and d["s2"] >= 1


def test_pool_bayes_json_keys(hand_csv) -> None:
    out = run(
        "pool",
        str(hand_csv),
        "--yi",
        "g",
        "--vi",
        "var_g",
        "--bayes",
        "--tau-prior",
        "halfnormal:0.5",
        "--mu-prior",
        "normal:0:4",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    keys = {
        "mu_median",
        "mu_mean",
        "mu_low",
        "mu_high",
        "tau_median",
        "tau_low",
        "tau_high",
        "pi_low",
        "pi_high",
        "p_mu_gt_0",
        "tau_prior",
        "mu_prior",
    }
    assert keys <= set(d) and d["tau_prior"] == "halfnormal:0.5" and d["mu_low"] < d["mu_median"] < d["mu_high"]


def test_pool_bayes_bad_prior_is_one_line(hand_csv) -> None:
    out = run("pool", str(hand_csv), "--yi", "g", "--vi", "var_g", "--bayes", "--tau-prior", "gamma:1")
    assert out.returncode == 2 and "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
