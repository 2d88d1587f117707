"""Pooling, subgroups and meta-regression (mbtevidence.engine).

Part 1 reproduces metafor's published results for the 13 BCG vaccine trials (metafor
documentation: ``?rma.uni`` examples and Viechtbauer 2010, J Stat Softw 36(3), section 3-4;
numbers as printed in issue #4).  Part 2 compares with R's metafor itself (every estimator,
both tests, several data shapes) to 1e-4.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from mbtevidence.engine import cluster_robust, meta_analysis, meta_regression, subgroup_analysis
from mbtevidence.engine.tau2 import RestrictedMaximumLikelihood

TOL = 1e-4
METHODS = ["EE", "DL", "HE", "ML", "REML", "PM", "SJ"]


# ---- part 1: published values -----------------------------------------------------------------


def test_bcg_reml_published(bcg) -> None:
    d = meta_analysis(bcg.yi, bcg.vi, method="REML", test="z").to_dict()
    published = {
        "estimate": -0.7145,
        "se": 0.1798,
        "stat": -3.9744,
        "ci_low": -1.0669,
        "ci_high": -0.3622,
        "tau2": 0.3132,
        "tau2_se": 0.1664,
        "tau2_ci_low": 0.1197,
        "tau2_ci_high": 1.1115,
        "i2": 92.22,
        "i2_ci_low": 81.9177,
        "i2_ci_high": 97.6781,
        "h2": 12.86,
        "qe": 152.2330,
        "pi_low": -1.87,
        "pi_high": 0.44,
    }
    for key, value in published.items():
        decimals = len(str(value).split(".")[1])
        assert round(d[key], decimals) == pytest.approx(value, abs=1e-12), key
    assert d["qe_df"] == 12 and d["k"] == 13


def test_bcg_dl_and_common_effect_published(bcg) -> None:
    dl = meta_analysis(bcg.yi, bcg.vi, method="DL", test="z").to_dict()
    assert [round(dl[k], 4) for k in ("estimate", "ci_low", "ci_high", "tau2")] == [-0.7141, -1.0644, -0.3638, 0.3088]
    assert round(dl["i2"], 2) == 92.12
    ee = meta_analysis(bcg.yi, bcg.vi, method="EE", test="z").to_dict()
    assert [round(ee[k], 4) for k in ("estimate", "se", "ci_low", "ci_high")] == [-0.4303, 0.0405, -0.5097, -0.3509]


def test_bcg_meta_regression_on_latitude_published(bcg) -> None:
    reg = meta_regression(bcg.yi, bcg.vi, bcg[["ablat"]], method="REML", test="z")
    coef = reg.coefficients.round(4)
    assert coef.loc["intrcpt", ["estimate", "se"]].tolist() == [0.2515, 0.2491]
    assert coef.loc["ablat", ["estimate", "se"]].tolist() == [-0.0291, 0.0072]
    om = reg.omnibus()
    assert round(om.value, 4) == 16.3571 and om.df1 == 1 and om.statistic == "QM"
    assert round(reg.fit.tau2, 4) == 0.0764
    assert round(reg.fit.qe, 4) == 30.7331 and reg.fit.k - reg.fit.n_coef == 11
    assert round(reg.r2, 2) == 75.62


def test_bcg_subgroups_by_allocation_published(bcg) -> None:
    sub = subgroup_analysis(bcg.yi, bcg.vi, bcg.alloc, method="REML", test="z")
    frame = sub.to_frame()
    assert frame.loc["alternate", "k"] == 2 and frame.loc["random", "k"] == 7 and frame.loc["systematic", "k"] == 4
    assert frame[["estimate", "se"]].round(4).values.tolist() == [
        [-0.5408, 0.2816],
        [-0.9710, 0.2760],
        [-0.4242, 0.3597],
    ]
    common = sub.between_common
    assert round(common.value, 4) == 1.7675 and common.df1 == 2 and round(common.p, 4) == 0.4132


# ---- part 2: agreement with metafor -------------------------------------------------------------

R_SUMMARY = """
r <- rma(yi, vi, data=dat, method='{method}', test='{test}')
p <- predict(r)
out <- list(b=r$beta, se=r$se, stat=r$zval, p=r$pval, ci=c(r$ci.lb, r$ci.ub), pi=c(p$pi.lb, p$pi.ub),
            tau2=r$tau2, setau2=r$se.tau2, i2=r$I2, h2=r$H2, q=r$QE, qp=r$QEp)
if ('{method}' != 'EE') {{ ci <- confint(r)$random; out$tau2ci <- ci[1, 2:3]; out$i2ci <- ci[3, 2:3]; out$h2ci <- ci[4, 2:3] }}
"""


def datasets(metafor, bcg) -> dict[str, pd.DataFrame]:
    normand = metafor.dataset("dat.normand1999")
    from mbtevidence.engine import escalc

    smd = escalc("SMD", normand, m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i", n2i="n2i")
    cor = escalc("ZCOR", metafor.dataset("dat.mcdaniel1994"), ri="ri", ni="ni")
    homogeneous = pd.DataFrame({"yi": [0.10, 0.12, 0.09, 0.11, 0.10], "vi": [0.04, 0.05, 0.03, 0.06, 0.05]})
    return {
        "bcg (large heterogeneity)": bcg[["yi", "vi"]],
        "normand1999 (SMD from means)": smd[["yi", "vi"]],
        "mcdaniel1994 (correlations, k=160)": cor[["yi", "vi"]],
        "tau2 = 0": homogeneous,
        "k = 3": bcg[["yi", "vi"]].iloc[:3],
        "k = 2": bcg[["yi", "vi"]].iloc[3:5],
    }


@pytest.fixture(scope="module")
def shapes(request):
    metafor = request.getfixturevalue("metafor")
    bcg = request.getfixturevalue("bcg")
    return datasets(metafor, bcg)


@pytest.mark.parametrize("test", ["z", "knha", "adhoc"])
@pytest.mark.parametrize("method", METHODS)
def test_agrees_with_metafor_on_every_shape(metafor, shapes, method, test) -> None:
    for name, data in shapes.items():
        if method in ("PM", "SJ", "HE") and len(data) < 3:
            continue
        r = metafor.run(R_SUMMARY.format(method=method, test=test), data)
        d = meta_analysis(data.yi, data.vi, method=method, test=test).to_dict()
        pairs = {
            "estimate": r["b"][0],
            "se": r["se"][0],
            "stat": r["stat"][0],
            "p": r["p"][0],
            "ci_low": r["ci"][0],
            "ci_high": r["ci"][1],
            "tau2": r["tau2"][0],
            "i2": r["i2"][0],
            "h2": r["h2"][0],
            "qe": r["q"][0],
            "qe_p": r["qp"][0],
        }
        if method == "EE":
            assert d["pi_low"] is None and r["pi"].size == 0, "metafor gives no prediction interval for EE"
        elif len(data) < 3:
            assert d["pi_low"] is None and any("no prediction interval" in n for n in d["notes"])
        if method != "EE":
            pairs |= ({"pi_low": r["pi"][0], "pi_high": r["pi"][1]} if len(data) >= 3 else {}) | {
                "tau2_se": r["setau2"][0],
                "tau2_ci_low": r["tau2ci"][0],
                "tau2_ci_high": r["tau2ci"][1],
                "i2_ci_low": r["i2ci"][0],
                "i2_ci_high": r["i2ci"][1],
            }
        for key, expected in pairs.items():
            assert d[key] == pytest.approx(expected, abs=TOL), f"{name}: {key} ours={d[key]} metafor={expected}"


@pytest.mark.parametrize("test", ["z", "knha", "adhoc"])
@pytest.mark.parametrize("method", ["REML", "DL", "ML", "PM", "SJ"])
def test_meta_regression_agrees_with_metafor(metafor, bcg, method, test) -> None:
    r = metafor.run(
        f"""
        r <- rma(yi, vi, mods = ~ ablat + factor(alloc), data=dat, method='{method}', test='{test}')
        p <- predict(r, newmods=cbind(c(10, 30, 50), c(1, 0, 0), c(0, 0, 1)))
        r0 <- rma(yi, vi, data=dat, method='{method}')
        out <- list(b=r$beta, se=r$se, stat=r$zval, p=r$pval, lb=r$ci.lb, ub=r$ci.ub, qm=r$QM, qmp=r$QMp,
                    tau2=r$tau2, qe=r$QE, i2=r$I2, r2=r$R2, pred=p$pred, pse=p$se, pilb=p$pi.lb, piub=p$pi.ub,
                    cilb=p$ci.lb)""",
        bcg,
    )
    reg = meta_regression(bcg.yi, bcg.vi, bcg[["ablat", "alloc"]], method=method, test=test)
    coef = reg.coefficients
    for ours, key in (
        (coef.estimate, "b"),
        (coef.se, "se"),
        (coef.stat, "stat"),
        (coef.p, "p"),
        (coef.ci_low, "lb"),
        (coef.ci_high, "ub"),
    ):
        np.testing.assert_allclose(ours, r[key], atol=TOL, err_msg=key)
    om = reg.omnibus()
    assert om.value == pytest.approx(r["qm"][0], abs=TOL)
    assert om.p == pytest.approx(r["qmp"][0], abs=TOL)
    assert reg.fit.tau2 == pytest.approx(r["tau2"][0], abs=TOL)
    assert reg.fit.qe == pytest.approx(r["qe"][0], abs=TOL) and reg.fit.i2 == pytest.approx(r["i2"][0], abs=TOL)
    assert reg.r2 == pytest.approx(r["r2"][0], abs=TOL)
    pred = reg.predict({"ablat": [10, 30, 50], "allocrandom": [1, 0, 0], "allocsystematic": [0, 0, 1]})
    for ours, key in (
        (pred.pred, "pred"),
        (pred.se, "pse"),
        (pred.pi_low, "pilb"),
        (pred.pi_high, "piub"),
        (pred.ci_low, "cilb"),
    ):
        np.testing.assert_allclose(ours, r[key], atol=TOL, err_msg=key)


@pytest.mark.parametrize("test", ["z", "knha", "adhoc"])
def test_subgroup_tests_agree_with_metafor(metafor, bcg, test) -> None:
    """Separate τ²: per-group rma() fits and the Q-between of metafor's 'comparing subgroups' recipe
    (rma(estimates, sei=wald SEs, mods = ~ group, method='FE')); common τ²: rma(mods = ~ factor(alloc))."""
    r = metafor.run(
        f"""
        fits <- lapply(split(dat, dat$alloc), function(d) rma(yi, vi, data=d, test='{test}'))
        zfits <- lapply(split(dat, dat$alloc), function(d) rma(yi, vi, data=d))
        est <- sapply(zfits, function(f) c(f$beta)); se <- sapply(zfits, function(f) f$se)
        qb <- rma(est, sei=se, mods = ~ factor(names(est)), method='FE')
        common <- rma(yi, vi, mods = ~ factor(alloc), data=dat, test='{test}')
        out <- list(b=sapply(fits, function(f) c(f$beta)), se=sapply(fits, function(f) f$se),
                    tau2=sapply(fits, function(f) f$tau2), qb=qb$QM, qbp=qb$QMp, qm=common$QM, qmp=common$QMp)""",
        bcg,
    )
    sub = subgroup_analysis(bcg.yi, bcg.vi, bcg.alloc, test=test)
    frame = sub.to_frame()
    np.testing.assert_allclose(frame.estimate, r["b"], atol=TOL)
    np.testing.assert_allclose(frame.se, r["se"], atol=TOL)
    np.testing.assert_allclose(frame.tau2, r["tau2"], atol=TOL)
    assert sub.between_separate.value == pytest.approx(r["qb"][0], abs=TOL)
    assert sub.between_separate.p == pytest.approx(r["qbp"][0], abs=TOL)
    assert sub.between_common.value == pytest.approx(r["qm"][0], abs=TOL)
    assert sub.between_common.p == pytest.approx(r["qmp"][0], abs=TOL)


def test_cluster_robust_agrees_with_metafor(metafor, bcg) -> None:
    r = metafor.run(
        """
        x <- robust(rma(yi, vi, mods = ~ ablat, data=dat), cluster=dat$alloc, adjust=TRUE)
        out <- list(b=x$beta, se=x$se, t=x$zval, p=x$pval, df=x$dfs, lb=x$ci.lb, ub=x$ci.ub)""",
        bcg,
    )
    rob = cluster_robust(bcg.yi, bcg.vi, bcg.alloc, mods=bcg[["ablat"]]).to_frame()
    for column, key in (
        ("estimate", "b"),
        ("se", "se"),
        ("stat", "t"),
        ("p", "p"),
        ("ci_low", "lb"),
        ("ci_high", "ub"),
    ):
        np.testing.assert_allclose(rob[column], r[key], atol=TOL, err_msg=key)
    assert rob.df.iloc[0] == r["df"][0]


# ---- robustness -----------------------------------------------------------------------------------


def test_k_equal_one_returns_the_study_with_a_note() -> None:
    res = meta_analysis([0.4], [0.04])
    d = res.to_dict()
    assert d["estimate"] == 0.4 and d["se"] == pytest.approx(0.2)
    assert d["tau2"] is None and d["i2"] is None and d["qe"] is None and d["pi_low"] is None
    assert any("k = 1" in n for n in d["notes"]) and "k = 1" in res.summary()


def test_k_equal_two_works(bcg) -> None:
    d = meta_analysis(bcg.yi[:2], bcg.vi[:2]).to_dict()
    assert d["k"] == 2 and d["df"] == 1 and math.isfinite(d["ci_low"])


def test_tau2_at_zero_boundary() -> None:
    d = meta_analysis([0.10, 0.12, 0.09, 0.11, 0.10], [0.04, 0.05, 0.03, 0.06, 0.05]).to_dict()
    assert d["tau2"] == 0.0 and d["i2"] == 0.0 and d["tau2_ci_low"] == 0.0


def test_reml_that_does_not_converge_falls_back_and_says_so(bcg) -> None:
    res = meta_analysis(bcg.yi, bcg.vi, method=RestrictedMaximumLikelihood(max_iter=1))
    assert res.fit.method == "DL"
    assert "REML (Fisher scoring) did not converge in 1 iterations; tau² estimated by DL instead" in res.summary()
    assert res.to_dict()["tau2"] == pytest.approx(meta_analysis(bcg.yi, bcg.vi, method="DL").fit.tau2)


@pytest.mark.parametrize(
    ("yi", "vi", "message"),
    [
        ([], [], "empty input"),
        ([0.1, 0.2], [0.1], "yi has 2 values but vi has 1"),
        ([0.1, float("nan"), 0.3], [0.1, 0.1, -0.2], "row 1: yi=nan, vi=0.1; row 2: yi=0.3, vi=-0.2"),
        ([0.1, 0.2], [0.1, float("inf")], "row 1"),
    ],
)
def test_bad_input_raises_one_clear_error(yi, vi, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        meta_analysis(yi, vi)


def test_no_warnings_for_normal_data(bcg, recwarn) -> None:
    meta_analysis(bcg.yi, bcg.vi)
    subgroup_analysis(bcg.yi, bcg.vi, bcg.alloc)
    meta_regression(bcg.yi, bcg.vi, bcg[["ablat"]])
    assert not [w for w in recwarn.list], [str(w.message) for w in recwarn.list]


def test_results_objects_are_tidy_and_serialisable(bcg) -> None:
    res = meta_analysis(bcg.yi, bcg.vi)
    assert list(res.to_frame().index) == [0] and res.to_frame().loc[0, "method"] == "REML"
    json.dumps(res.to_dict(), allow_nan=False)
    text = res.summary()
    assert "Knapp-Hartung" in text and "Q-profile" in text and "prediction interval" in text
