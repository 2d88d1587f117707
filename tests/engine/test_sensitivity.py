"""Sensitivity and small-study analyses (mbtevidence.engine.sensitivity) against R's metafor:
leave1out(), influence(), cumul(), regtest() (both models), trimfill() (L0), to 1e-4."""

from __future__ import annotations

import numpy as np
import pytest

from mbtevidence.engine import (
    cumulative,
    egger_test,
    escalc,
    influence,
    leave_one_out,
    meta_analysis,
    meta_regression,
    trim_and_fill,
)

TOL = 1e-4


@pytest.mark.parametrize("test", ["z", "knha", "adhoc"])
def test_leave_one_out(metafor, bcg, test) -> None:
    r = metafor.run(
        f"""x <- leave1out(rma(yi, vi, data=dat, test='{test}'))
        out <- list(b=x$estimate, se=x$se, p=x$pval, lb=x$ci.lb, ub=x$ci.ub, q=x$Q, tau2=x$tau2, i2=x$I2, h2=x$H2)""",
        bcg,
    )
    ours = leave_one_out(meta_analysis(bcg.yi, bcg.vi, test=test)).to_frame()
    for column, key in (
        ("estimate", "b"),
        ("se", "se"),
        ("p", "p"),
        ("ci_low", "lb"),
        ("ci_high", "ub"),
        ("qe", "q"),
        ("tau2", "tau2"),
        ("i2", "i2"),
        ("h2", "h2"),
    ):
        np.testing.assert_allclose(ours[column], r[key], atol=TOL, err_msg=column)


@pytest.mark.parametrize(
    ("test", "mods"), [("z", False), ("knha", False), ("adhoc", False), ("z", True), ("knha", True), ("adhoc", True)]
)
def test_influence_diagnostics(metafor, bcg, test, mods) -> None:
    formula = ", mods = ~ ablat" if mods else ""
    r = metafor.run(
        f"""x <- influence(rma(yi, vi{formula}, data=dat, test='{test}'))$inf
        out <- list(rstudent=x$rstudent, dffits=x$dffits, cook=x$cook.d, covr=x$cov.r, tau2=x$tau2.del,
                    qe=x$QE.del, hat=x$hat, weight=x$weight)""",
        bcg,
    )
    fitted = (
        meta_regression(bcg.yi, bcg.vi, bcg[["ablat"]], test=test) if mods else meta_analysis(bcg.yi, bcg.vi, test=test)
    )
    ours = influence(fitted).to_frame()
    for column, key in (
        ("rstudent", "rstudent"),
        ("dffits", "dffits"),
        ("cook_d", "cook"),
        ("cov_r", "covr"),
        ("tau2_del", "tau2"),
        ("qe_del", "qe"),
        ("hat", "hat"),
        ("weight", "weight"),
    ):
        np.testing.assert_allclose(ours[column], r[key], atol=TOL, err_msg=column)


def test_cumulative_by_latitude(metafor, bcg) -> None:
    r = metafor.run(
        """x <- cumul(rma(yi, vi, data=dat, test='knha'), order=dat$ablat)
        out <- list(b=x$estimate, se=x$se, lb=x$ci.lb, ub=x$ci.ub, tau2=x$tau2, i2=x$I2)""",
        bcg,
    )
    ours = cumulative(meta_analysis(bcg.yi, bcg.vi, test="knha"), order=bcg.ablat).to_frame()
    # metafor leaves the first row (k = 1) without a knha SE; compare from k = 2 on
    for column, key in (
        ("estimate", "b"),
        ("se", "se"),
        ("ci_low", "lb"),
        ("ci_high", "ub"),
        ("tau2", "tau2"),
        ("i2", "i2"),
    ):
        np.testing.assert_allclose(ours[column].to_numpy()[1:], r[key][1:], atol=TOL, err_msg=column)
    assert ours["estimate"].iloc[0] == pytest.approx(r["b"][0], abs=TOL)


@pytest.mark.parametrize(("model", "test"), [("rma", "z"), ("rma", "knha"), ("lm", "z")])
def test_egger_regression_test(metafor, bcg, model, test) -> None:
    r = metafor.run(
        f"""x <- regtest(rma(yi, vi, data=dat, test='{test}'), model='{model}')
        out <- list(stat=x$zval, p=x$pval, b=x$est, lb=x$ci.lb, ub=x$ci.ub)""",
        bcg,
    )
    ours = egger_test(meta_analysis(bcg.yi, bcg.vi, test=test), model=model)
    assert ours.test.value == pytest.approx(r["stat"][0], abs=TOL)
    assert ours.test.p == pytest.approx(r["p"][0], abs=TOL)
    assert any("k = 13 < 10" in n for n in ours.notes) is False
    assert ours.limit_estimate == pytest.approx(r["b"][0], abs=TOL)
    assert ours.limit_ci == pytest.approx((r["lb"][0], r["ub"][0]), abs=TOL)


@pytest.mark.parametrize("dataset", ["bcg", "normand"])
def test_trim_and_fill(metafor, bcg, dataset) -> None:
    """bcg: 4 studies filled on the right; normand1999: none missing."""
    if dataset == "normand":
        data = escalc(
            "SMD",
            metafor.dataset("dat.normand1999"),
            m1i="m1i",
            sd1i="sd1i",
            n1i="n1i",
            m2i="m2i",
            sd2i="sd2i",
            n2i="n2i",
        )[["yi", "vi"]]
    else:
        data = bcg[["yi", "vi"]]
    r = metafor.run(
        """x <- trimfill(rma(yi, vi, data=dat, test='knha'))
        out <- list(k0=x$k0, right=as.numeric(x$side == 'right'), b=x$beta, se=x$se, tau2=x$tau2, yi=x$yi)""",
        data,
    )
    model = meta_analysis(data.yi, data.vi, test="knha")
    ours = trim_and_fill(model)
    assert ours.k0 == r["k0"][0] and (ours.side == "right") == bool(r["right"][0])
    # k0 > 0: the filled data refitted with a z test (metafor 3.8); k0 = 0: the model itself, as metafor
    assert ours.result.fit.test == "z" if ours.k0 else ours.result is model
    assert ours.result.estimate == pytest.approx(r["b"][0], abs=TOL)
    assert ours.result.se == pytest.approx(r["se"][0], abs=TOL)
    assert ours.result.fit.tau2 == pytest.approx(r["tau2"][0], abs=TOL)
    np.testing.assert_allclose(ours.filled.yi, r["yi"], atol=TOL)


@pytest.fixture(scope="module")
def linde2005(metafor):
    """St John's wort trials (metafor's dat.linde2005) with response counts, log risk ratios (metafor's example)."""
    data = metafor.dataset("dat.linde2005").dropna(subset=["ai"]).reset_index(drop=True)
    return escalc("RR", data, ai="ai", n1i="n1i", ci="ci", n2i="n2i")[["yi", "vi"]]


@pytest.mark.parametrize(("test", "filled_test"), [("z", "z"), ("knha", "z"), ("knha", "same"), ("adhoc", "same")])
def test_trim_and_fill_linde2005(metafor, linde2005, test, filled_test) -> None:
    """DL, 9 studies filled on the left: metafor 3.8 refits the filled data with a z test whatever the
    model's test (CI [0.053, 0.477], p = 0.014); filled_test="same" keeps the model's own test."""
    r = metafor.run(
        f"""x <- trimfill(rma(yi, vi, data=dat, method='DL', test='{test}'))
        same <- rma(x$yi, x$vi, method='DL', test='{test}')
        out <- list(k0=x$k0, b=x$beta, se=x$se, p=x$pval, lb=x$ci.lb, ub=x$ci.ub, tau2=x$tau2,
                    sb=same$beta, sse=same$se, sp=same$pval, slb=same$ci.lb, sub=same$ci.ub)""",
        linde2005,
    )
    ours = trim_and_fill(meta_analysis(linde2005.yi, linde2005.vi, method="DL", test=test), filled_test=filled_test)
    d = ours.result.to_dict()
    assert ours.k0 == r["k0"][0] == 9 and ours.side == "left"
    prefix = "" if filled_test == "z" else "s"
    expected = {"estimate": "b", "se": "se", "p": "p", "ci_low": "lb", "ci_high": "ub"}
    for key, name in expected.items():
        assert d[key] == pytest.approx(r[prefix + name][0], abs=TOL), key
    assert d["test"] == ("z" if filled_test == "z" else test)
    assert d["tau2"] == pytest.approx(r["tau2"][0], abs=TOL)
    if filled_test == "z":
        assert (round(d["ci_low"], 3), round(d["ci_high"], 3), round(d["p"], 3)) == (0.053, 0.477, 0.014)
