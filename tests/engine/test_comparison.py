"""The few-study comparison (mbtevidence.engine.comparison): every row is the library's own fit."""

from __future__ import annotations

import json

import pytest

from mbtevidence import bayes_meta_analysis, few_study_comparison, meta_analysis

DAY_HOSPITAL = ([0.97, 0.55], [0.04, 0.07])


def test_rows_equal_direct_fits() -> None:
    result = meta_analysis(*DAY_HOSPITAL)
    table = few_study_comparison(result).to_frame()
    assert list(table.index) == ["REML + z", "REML + knha", "REML + adhoc", "DL + z", "Bayesian (normal-normal)"]
    for label, (method, test) in {
        "REML + z": ("REML", "z"),
        "REML + adhoc": ("REML", "adhoc"),
        "DL + z": ("DL", "z"),
    }.items():
        direct = meta_analysis(*DAY_HOSPITAL, method=method, test=test).to_dict()
        assert table.loc[label, "low"] == pytest.approx(direct["ci_low"])
        assert table.loc[label, "high"] == pytest.approx(direct["ci_high"])
    bayes = bayes_meta_analysis(*DAY_HOSPITAL, tau_prior="halfnormal:0.5")
    assert table.loc["Bayesian (normal-normal)", "low"] == pytest.approx(bayes.mu_low)
    assert table.loc["REML + z", "pi_low"] != table.loc["REML + z", "pi_low"], "no PI for k = 2"


def test_conclusion_dependence_is_flagged() -> None:
    comparison = few_study_comparison(meta_analysis(*DAY_HOSPITAL))
    assert comparison.conclusion_depends_on_method
    assert "depends on the method" in comparison.summary()
    json.dumps(comparison.to_dict(), allow_nan=False)
    wide = few_study_comparison(meta_analysis([0.9, 1.0, 1.1, 0.95], [0.01, 0.01, 0.01, 0.01]))
    assert not wide.conclusion_depends_on_method
