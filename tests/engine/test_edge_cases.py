"""Edge cases an audit found (issue #9): each gives metafor's value, NaN with a reason, or one clear
error line; never a traceback, a silent NaN/inf, a warning or a negative variance.

metafor (the ``metafor`` fixture) is the oracle for every value; where metafor stops with an error
the kit stops too, with one line naming the row, argument and value.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from mbtevidence.engine import (
    cumulative,
    egger_test,
    escalc,
    influence,
    leave_one_out,
    meta_analysis,
    meta_regression,
    subgroup_analysis,
    trim_and_fill,
)
from mbtevidence.engine.model import _qprofile, factor_order
from mbtevidence.engine.tau2 import ESTIMATORS, get_estimator

TOL = 1e-8
pytestmark = pytest.mark.filterwarnings("error")  # a RuntimeWarning (0/0, log(0)) fails the test

# ---- escalc: degenerate rows -> NaN and a note, as metafor's NA -----------------------------------

DEGENERATE = {
    "SMD": (
        pd.DataFrame(
            {
                "m1i": [1.0, 1.0, 1.0, 1.0, 1.0],
                "sd1i": [1.0, 1.0, 1.0, 0.0, 2.0],
                "n1i": [1, 1, 1, 5, 20],
                "m2i": [0.0, 0.0, 0.0, 0.0, 0.4],
                "sd2i": [1.0, 1.0, 1.0, 0.0, 2.5],
                "n2i": [1, 2, 5, 5, 22],
            }
        ),
        "m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i",
        ["Hedges' correction", "Hedges' correction", "", "pooled standard deviation 0", ""],
    ),
    "SMCR": (
        pd.DataFrame(
            {
                "m1i": [1.0, 1.0, 1.0, 1.0, 1.0],
                "m2i": [0.0, 0.0, 0.0, 0.0, 0.3],
                "sd1i": [1.0, 1.0, 1.0, 0.0, 1.2],
                "ni": [1, 2, 3, 10, 30],
                "ri": [0.5, 0.5, 0.5, 0.5, 0.6],
            }
        ),
        "m1i=m1i, m2i=m2i, sd1i=sd1i, ni=ni, ri=ri",
        ["Hedges' correction", "Hedges' correction", "", "sd1i = 0", ""],
    ),
    "SMCC": (
        pd.DataFrame(
            {
                "m1i": [1.0, 1.0, 1.0],
                "m2i": [0.0, 0.0, 0.2],
                "sd1i": [1.0, 1.0, 1.0],
                "sd2i": [1.0, 1.0, 1.5],
                "ni": [2, 10, 25],
                "ri": [0.5, 1.0, 0.4],
            }
        ),
        "m1i=m1i, m2i=m2i, sd1i=sd1i, sd2i=sd2i, ni=ni, ri=ri",
        ["Hedges' correction", "SD of the change", ""],
    ),
    "ZCOR": (
        pd.DataFrame({"ri": [0.3, 0.3, 1.0, -1.0, 0.3], "ni": [2, 3, 20, 20, 40]}),
        "ri=ri, ni=ni",
        ["sampling variance 1/(ni - 3)", "sampling variance 1/(ni - 3)", "Fisher's z", "Fisher's z", ""],
    ),
}


@pytest.mark.parametrize("measure", list(DEGENERATE))
def test_degenerate_rows_are_nan_with_a_note_as_metafor_na(metafor, measure) -> None:
    data, args, reasons = DEGENERATE[measure]
    r = metafor.run(f"es <- escalc('{measure}', {args}, data=dat); out <- list(yi=es$yi, vi=es$vi)", data)
    kwargs = {a.split("=")[0].strip(): a.split("=")[1].strip() for a in args.split(",")}
    ours = escalc(measure, data, **kwargs)
    np.testing.assert_allclose(ours.yi, r["yi"], atol=TOL, rtol=0, equal_nan=True)
    np.testing.assert_allclose(ours.vi, r["vi"], atol=TOL, rtol=0, equal_nan=True)
    for note, reason, vi in zip(ours.note, reasons, ours.vi, strict=True):
        assert (reason in note) if reason else note == ""
        assert bool(note) == math.isnan(vi), "a NaN variance always carries its reason, and only then"
    assert not (ours.vi < 0).any()


def test_zcor_with_three_or_fewer_keeps_yi_like_metafor() -> None:
    out = escalc("ZCOR", ri=[0.3], ni=[3])
    assert out.yi[0] == pytest.approx(np.arctanh(0.3)) and math.isnan(out.vi[0])


def test_no_note_column_when_every_row_is_defined(bcg) -> None:
    assert "note" not in bcg.columns
    out = escalc("SMD", m1i=[1.0], sd1i=[1.0], n1i=[10], m2i=[0.0], sd2i=[1.0], n2i=[10])
    assert list(out.columns)[-2:] == ["yi", "vi"]


def test_missing_input_is_named() -> None:
    out = escalc("SMD", m1i=[1.0, 1.0], sd1i=[np.nan, 1.0], n1i=[10, 10], m2i=[0.0, 0.0], sd2i=[1.0, 1.0], n2i=[10, 9])
    assert out.note.tolist() == ["missing sd1i", ""] and math.isnan(out.yi[0]) and math.isfinite(out.yi[1])


# ---- escalc: inputs metafor refuses -> one error line naming the row -----------------------------

REFUSED = [
    ("SMD", {"m1i": 1, "sd1i": 1, "n1i": 0, "m2i": 0, "sd2i": 1, "n2i": 5}, "group sizes must be > 0", "n1i=0"),
    ("SMD", {"m1i": 1, "sd1i": 1, "n1i": -3, "m2i": 0, "sd2i": 1, "n2i": 5}, "group sizes must be > 0", "n1i=-3"),
    ("MD", {"m1i": 1, "sd1i": -1, "n1i": 5, "m2i": 0, "sd2i": 1, "n2i": 5}, "standard deviations", "sd1i=-1"),
    ("SMCR", {"m1i": 1, "m2i": 0, "sd1i": 1, "ni": 0, "ri": 0.5}, "sample sizes must be > 0", "ni=0"),
    ("SMCC", {"m1i": 1, "m2i": 0, "sd1i": 1, "sd2i": 1, "ni": 10, "ri": 1.2}, "between -1 and 1", "ri=1.2"),
    ("ZCOR", {"ri": 1.5, "ni": 20}, "between -1 and 1", "ri=1.5"),
    ("ZCOR", {"ri": 0.3, "ni": -5}, "sample sizes must be > 0", "ni=-5"),
    ("PR", {"xi": 0, "ni": 0}, "group sizes must be > 0", "ni=0"),
    ("PLO", {"xi": 0, "ni": 0}, "group sizes must be > 0", "ni=0"),
    ("PR", {"xi": -1, "ni": 3}, "counts must be >= 0", "xi=-1"),
    ("PR", {"xi": 5, "ni": 3}, "must not exceed group sizes", "xi=5 > ni=3"),
    ("RR", {"ai": -1, "bi": 5, "ci": 2, "di": 5}, "counts must be >= 0", "ai=-1"),
    ("OR", {"ai": 2, "bi": 5, "ci": -2, "di": 5}, "counts must be >= 0", "ci=-2"),
    ("RD", {"ai": 5, "n1i": 3, "ci": 2, "n2i": 5}, "must not exceed group sizes", "ai=5 > n1i=3"),
    ("RR", {"ai": 2, "bi": 5, "n1i": 9, "ci": 2, "di": 5}, "n1i must equal ai + bi", "ai=2, bi=5, n1i=9"),
]


@pytest.mark.parametrize(("measure", "args", "rule", "value"), REFUSED, ids=[f"{c[0]}-{c[3]}" for c in REFUSED])
def test_inputs_metafor_refuses_stop_with_one_line(metafor, measure, args, rule, value) -> None:
    data = pd.DataFrame({k: [v] for k, v in args.items()})
    call = ", ".join(f"{k}={k}" for k in args)
    r = metafor.run(
        f"out <- list(error=tryCatch({{escalc('{measure}', {call}, data=dat); 0}}, error=function(e) 1))", data
    )
    assert r["error"][0] == 1, "metafor refuses this input too"
    with pytest.raises(ValueError) as caught:
        escalc(measure, data, **{k: k for k in args})
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"escalc {measure}: ") and rule in message
    assert f"row 0: {value}" in message


def test_refusal_names_data_rows_by_their_index() -> None:
    data = pd.DataFrame({"ri": [0.2, 0.4, -1.3], "ni": [30, 40, 50]}, index=["Ames", "Bolt", "Cole"])
    with pytest.raises(ValueError, match=r"row Cole: ri=-1.3"):
        escalc("ZCOR", data, ri="ri", ni="ni")


# ---- Knapp-Hartung when the effects fit exactly ---------------------------------------------------

IDENTICAL = pd.DataFrame({"yi": [0.5, 0.5, 0.5, 0.5], "vi": [0.1, 0.2, 0.3, 0.15]})


def test_identical_effects_under_knapp_hartung_match_metafor_and_name_adhoc(metafor) -> None:
    r = metafor.run(
        """a <- rma(yi, vi, data=dat, test='knha'); b <- rma(yi, vi, data=dat, test='adhoc')
        out <- list(se=a$se, lb=a$ci.lb, ub=a$ci.ub, p=a$pval, tau2=a$tau2, se2=b$se, lb2=b$ci.lb, ub2=b$ci.ub)""",
        IDENTICAL,
    )
    res = meta_analysis(IDENTICAL.yi, IDENTICAL.vi, test="knha")
    d = res.to_dict()
    assert d["se"] == pytest.approx(r["se"][0], abs=1e-12) and d["p"] == r["p"][0] == 0
    assert (d["ci_low"], d["ci_high"]) == pytest.approx((r["lb"][0], r["ub"][0]), abs=1e-12)
    assert d["stat"] is None and math.isinf(res.test.value), "infinite t: None in JSON, Inf in print"
    note = next(n for n in d["notes"] if "fit the model exactly" in n)
    assert f"SE {r['se2'][0]:.4f}, 95% CI [{r['lb2'][0]:.4f}, {r['ub2'][0]:.4f}]" in note
    assert "t(df = 3) = Inf" in res.summary()
    adhoc = meta_analysis(IDENTICAL.yi, IDENTICAL.vi, test="adhoc").to_dict()
    assert (adhoc["se"], adhoc["ci_low"], adhoc["ci_high"]) == pytest.approx((r["se2"][0], r["lb2"][0], r["ub2"][0]))
    json.dumps(d, allow_nan=False)


def test_meta_regression_that_fits_exactly_leaves_the_omnibus_test_undefined(metafor) -> None:
    data = pd.DataFrame({"x": [1.0, 2, 3, 4, 5], "vi": [0.1, 0.2, 0.3, 0.15, 0.1]}).assign(
        yi=lambda d: 0.1 + 0.02 * d.x
    )
    r = metafor.run("x <- rma(yi, vi, mods = ~ x, data=dat, test='knha'); out <- list(qm=x$QM, se=x$se)", data)
    reg = meta_regression(data.yi, data.vi, data[["x"]], test="knha")
    om = reg.omnibus()
    assert math.isnan(r["qm"][0]) and math.isnan(om.value) and math.isnan(om.p)
    np.testing.assert_allclose(reg.coefficients.se, r["se"], atol=1e-12)
    assert "test of moderators is undefined" in reg.summary()
    json.dumps(reg.to_dict(), allow_nan=False)


def test_sensitivity_analyses_of_identical_effects_say_why_values_are_undefined() -> None:
    res = meta_analysis(IDENTICAL.yi, IDENTICAL.vi, test="knha")
    for table in (leave_one_out(res), influence(res), cumulative(res)):
        assert any("fit the model exactly" in n for n in table.notes), table.title
        assert "Note:" in table.summary()
        json.dumps(table.to_dict(), allow_nan=False)
    inf = influence(res).to_frame()
    assert inf[["rstudent", "dffits", "cook_d", "cov_r"]].isna().all().all()
    for model in ("rma", "lm"):
        egger = egger_test(res, model=model)
        assert math.isnan(egger.test.p) and "test is undefined" in egger.summary()
    assert trim_and_fill(res).k0 == 0


def test_equal_variances_give_clear_errors_for_small_study_methods() -> None:
    res = meta_analysis([0.1, 0.3, 0.2, 0.6], [0.04] * 4)
    with pytest.raises(ValueError, match="Egger's test needs differing standard errors"):
        egger_test(res)
    with pytest.raises(ValueError, match="give side='left' or 'right'"):
        trim_and_fill(res)
    assert trim_and_fill(res, side="left").k0 >= 0


# ---- few studies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 4])
def test_two_to_four_studies_carry_a_note_and_no_prediction_interval_below_three(bcg, k) -> None:
    d = meta_analysis(bcg.yi[:k], bcg.vi[:k]).to_dict()
    assert any(f"k = {k} < 5" in n for n in d["notes"])
    assert (d["pi_low"] is None) == (k < 3)
    assert any("no prediction interval" in n for n in d["notes"]) == (k < 3)


def test_level_given_as_a_proportion_is_one_clear_error(bcg) -> None:
    with pytest.raises(ValueError, match=r"level=0.95: .* \(e.g. 95, not 0.95\)"):
        meta_analysis(bcg.yi, bcg.vi, level=0.95)


# ---- the reference level of a text moderator --------------------------------------------------------


def test_reference_level_follows_r_factor_order(metafor) -> None:
    levels = ["b", "A", "a", "B", "c", "alpha", "Beta"]
    r = metafor.run("out <- list(rank=match(dat$x, levels(factor(dat$x))))", pd.DataFrame({"x": levels}))
    ours = sorted(levels, key=factor_order)
    assert [ours.index(x) + 1 for x in levels] == r["rank"].astype(int).tolist()


@pytest.mark.parametrize("reference", [None, "random", "systematic"])
def test_reference_level_is_named_and_can_be_chosen(metafor, bcg, reference) -> None:
    relevel = "factor(alloc)" if reference is None else f"relevel(factor(alloc), ref='{reference}')"
    r = metafor.run(f"x <- rma(yi, vi, mods = ~ {relevel}, data=dat, test='knha'); out <- list(b=x$beta, se=x$se)", bcg)
    reg = meta_regression(bcg.yi, bcg.vi, bcg[["alloc"]], reference=None if reference is None else {"alloc": reference})
    np.testing.assert_allclose(reg.coefficients.estimate, r["b"], atol=1e-4)
    np.testing.assert_allclose(reg.coefficients.se, r["se"], atol=1e-4)
    used = reference or "alternate"
    assert reg.to_dict()["reference_levels"] == {"alloc": used}
    assert f"Reference level of alloc: {used}" in reg.summary()
    assert f"alloc{used}" not in reg.coefficients.index


def test_unknown_reference_level_is_one_clear_error(bcg) -> None:
    with pytest.raises(ValueError, match="reference level 'quasi' of moderator alloc is not among its levels"):
        meta_regression(bcg.yi, bcg.vi, bcg[["alloc"]], reference={"alloc": "quasi"})
    with pytest.raises(ValueError, match="unknown or numeric moderators: ablat"):
        meta_regression(bcg.yi, bcg.vi, bcg[["ablat"]], reference={"ablat": "10"})


def test_subgroups_are_ordered_as_r_factor_levels() -> None:
    sub = subgroup_analysis([0.1, 0.3, 0.2, 0.5, 0.4, 0.6], [0.05] * 6, ["b", "B", "a", "A", "b", "a"])
    assert list(sub.groups) == ["a", "A", "b", "B"]


# ---- scale invariance: effects in any unit ---------------------------------------------------------

SCALES = [1e-6, 1.0, 1e4]


@pytest.mark.parametrize("method", list(ESTIMATORS))
@pytest.mark.parametrize("mods", [False, True])
def test_tau2_scales_with_the_units_of_the_effects(bcg, method, mods) -> None:
    """τ²(c·y, c²·v) = c²·τ²(y, v): Fisher scoring and root searches stop at absolute tolerances
    (metafor's), so tiny effects are searched in a unit of their own."""
    y, v = bcg.yi.to_numpy(), bcg.vi.to_numpy()
    X = np.column_stack([np.ones(len(y)), bcg.ablat]) if mods else np.ones((len(y), 1))
    base = get_estimator(method).fit(y, v, X)
    for c in SCALES:
        scaled = get_estimator(method).fit(c * y, c**2 * v, X)
        assert scaled.tau2 / c**2 == pytest.approx(base.tau2, rel=1e-6, abs=1e-300), (method, c)
        if math.isfinite(base.se):
            assert scaled.se / c**2 == pytest.approx(base.se, rel=1e-6), (method, c)


@pytest.mark.parametrize("data", ["bcg", "bcg-moderator", "tau2 near 0"])
def test_q_profile_limits_scale_with_the_units_of_the_effects(bcg, data) -> None:
    y, v = bcg.yi.to_numpy(), bcg.vi.to_numpy()
    X = np.ones((len(y), 1))
    if data == "bcg-moderator":
        X = np.column_stack([X, bcg.ablat])
    if data == "tau2 near 0":
        y = 0.2 + 0.15 * (y - y.mean())
    base = _qprofile(y, v, X, 95, 0.3)
    for c in SCALES:
        low, high, _ = _qprofile(c * y, c**2 * v, X, 95, 0.3 * c**2)
        assert (low / c**2, high / c**2) == pytest.approx(base[:2], rel=1e-6, abs=1e-300), c


def test_tiny_effects_give_the_whole_result_scaled(bcg) -> None:
    """Effects and SDs ×1e-6 (e.g. a unit change): every statistic scales, I² and p stay."""
    c = 1e-6
    base = meta_analysis(bcg.yi, bcg.vi).to_dict()
    tiny = meta_analysis(c * bcg.yi, c**2 * bcg.vi).to_dict()
    for key in ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high", "tau"):
        assert tiny[key] / c == pytest.approx(base[key], rel=1e-6), key
    for key in ("tau2", "tau2_ci_low", "tau2_ci_high"):
        assert tiny[key] / c**2 == pytest.approx(base[key], rel=1e-6), key
    for key in ("i2", "i2_ci_low", "i2_ci_high", "h2", "qe", "p"):
        assert tiny[key] == pytest.approx(base[key], rel=1e-6), key
