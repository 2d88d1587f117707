"""Sensitivity and small-study analyses (mbtevidence.sensitivity) against R's metafor:
leave1out(), influence(), cumul(), regtest() (both models), trimfill() (L0), to 1e-4."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mbtevidence.sensitivity import (correlation_sweep, cumulative, egger_test, influence, leave_one_out,
                                     trim_and_fill)

TOL = 1e-4


@pytest.mark.parametrize("test", ["z", "knha"])
def test_leave_one_out(metafor, bcg, test) -> None:
    r = metafor.run(f"""x <- leave1out(rma(yi, vi, data=dat, test='{test}'))
        out <- list(b=x$estimate, se=x$se, p=x$pval, lb=x$ci.lb, ub=x$ci.ub, q=x$Q, tau2=x$tau2, i2=x$I2, h2=x$H2)""", bcg)
    ours = leave_one_out(bcg.yi, bcg.vi, test=test)
    for column, key in (("estimate", "b"), ("se", "se"), ("p", "p"), ("ci_low", "lb"), ("ci_high", "ub"),
                        ("q", "q"), ("tau2", "tau2"), ("i2", "i2"), ("h2", "h2")):
        np.testing.assert_allclose(ours[column], r[key], atol=TOL, err_msg=column)


@pytest.mark.parametrize(("test", "mods"), [("z", False), ("knha", False), ("z", True), ("knha", True)])
def test_influence_diagnostics(metafor, bcg, test, mods) -> None:
    formula = ", mods = ~ ablat" if mods else ""
    r = metafor.run(f"""x <- influence(rma(yi, vi{formula}, data=dat, test='{test}'))$inf
        out <- list(rstudent=x$rstudent, dffits=x$dffits, cook=x$cook.d, covr=x$cov.r, tau2=x$tau2.del,
                    qe=x$QE.del, hat=x$hat, weight=x$weight)""", bcg)
    ours = influence(bcg.yi, bcg.vi, mods=bcg[["ablat"]] if mods else None, test=test)
    for column, key in (("rstudent", "rstudent"), ("dffits", "dffits"), ("cook_d", "cook"), ("cov_r", "covr"),
                        ("tau2_del", "tau2"), ("qe_del", "qe"), ("hat", "hat"), ("weight", "weight")):
        np.testing.assert_allclose(ours[column], r[key], atol=TOL, err_msg=column)


def test_cumulative_by_latitude(metafor, bcg) -> None:
    r = metafor.run("""x <- cumul(rma(yi, vi, data=dat, test='knha'), order=dat$ablat)
        out <- list(b=x$estimate, se=x$se, lb=x$ci.lb, ub=x$ci.ub, tau2=x$tau2, i2=x$I2)""", bcg)
    ours = cumulative(bcg.yi, bcg.vi, order=bcg.ablat, test="knha")
    # metafor leaves the first row (k = 1) without a knha SE; compare from k = 2 on
    for column, key in (("estimate", "b"), ("se", "se"), ("ci_low", "lb"), ("ci_high", "ub"), ("tau2", "tau2"), ("i2", "i2")):
        np.testing.assert_allclose(ours[column].to_numpy()[1:], r[key][1:], atol=TOL, err_msg=column)
    assert ours["estimate"].iloc[0] == pytest.approx(r["b"][0], abs=TOL)


@pytest.mark.parametrize(("model", "test"), [("rma", "z"), ("rma", "knha"), ("lm", "z")])
def test_egger_regression_test(metafor, bcg, model, test) -> None:
    r = metafor.run(f"""x <- regtest(rma(yi, vi, data=dat, test='{test}'), model='{model}')
        out <- list(stat=x$zval, p=x$pval, b=x$est, lb=x$ci.lb, ub=x$ci.ub)""", bcg)
    ours = egger_test(bcg.yi, bcg.vi, model=model, test=test)
    assert ours.stat == pytest.approx(r["stat"][0], abs=TOL)
    assert ours.p == pytest.approx(r["p"][0], abs=TOL)
    assert ours.limit_estimate == pytest.approx(r["b"][0], abs=TOL)
    assert ours.limit_ci == pytest.approx((r["lb"][0], r["ub"][0]), abs=TOL)


@pytest.mark.parametrize("dataset", ["bcg", "normand"])
def test_trim_and_fill(metafor, bcg, dataset) -> None:
    if dataset == "normand":
        from mbtevidence.effects import escalc

        data = escalc("SMD", metafor.dataset("dat.normand1999"), m1i="m1i", sd1i="sd1i", n1i="n1i",
                      m2i="m2i", sd2i="sd2i", n2i="n2i")[["yi", "vi"]]
    else:
        data = bcg[["yi", "vi"]]
    r = metafor.run("""x <- trimfill(rma(yi, vi, data=dat))
        out <- list(k0=x$k0, right=as.numeric(x$side == 'right'), b=x$beta, se=x$se, tau2=x$tau2, yi=x$yi)""", data)
    ours = trim_and_fill(data.yi, data.vi, test="z")
    assert ours.k0 == r["k0"][0] and (ours.side == "right") == bool(r["right"][0])
    assert ours.result.estimate == pytest.approx(r["b"][0], abs=TOL)
    assert ours.result.se == pytest.approx(r["se"][0], abs=TOL)
    assert ours.result.fit.tau2 == pytest.approx(r["tau2"][0], abs=TOL)
    np.testing.assert_allclose(ours.filled.yi, r["yi"], atol=TOL)


def test_correlation_sweep_moves_only_through_the_variance() -> None:
    records = pd.DataFrame([
        dict(effect_id=f"s{i}", lower_is_better=True, mean_pre=pre, sd_pre=sd, mean_post=post, sd_post=sd,
             n_post=n, ri=None, precalc_positive=None)
        for i, (pre, post, sd, n) in enumerate([(1.7, 1.0, 0.6, 40), (1.5, 1.1, 0.7, 30), (30.0, 21.0, 10.0, 25),
                                                (2.0, 1.7, 0.5, 60)])
    ])
    sweep = correlation_sweep(records, [0.2, 0.5, 0.8], method="REML", test="knha")
    assert list(sweep.index) == [0.2, 0.5, 0.8] and (sweep["k"] == 4).all()
    se = sweep["se"].to_numpy()
    assert se[0] > se[1] > se[2], "a higher pre-post correlation means smaller sampling variances"
