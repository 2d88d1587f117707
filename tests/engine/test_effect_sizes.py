"""Effect sizes (mbtevidence.effects) against metafor's escalc(), measure by measure.

Every test computes the same data with R's metafor (the ``metafor`` fixture) and requires
agreement to 1e-8 (the formulas are closed-form, so agreement is exact up to rounding).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import BCG

from mbtevidence.engine import escalc, hedges_correction

TOL = 1e-8

TWO_ARM_MEANS = pd.DataFrame(
    {
        "m1i": [55.0, 27.0, 64.0, 66.0, 14.0, 19.0],
        "sd1i": [47.0, 7.0, 17.0, 20.0, 8.0, 7.0],
        "n1i": [155, 31, 75, 18, 8, 57],
        "m2i": [75.0, 29.0, 119.0, 137.0, 18.0, 18.0],
        "sd2i": [64.0, 4.0, 29.0, 48.0, 11.0, 4.0],
        "n2i": [156, 32, 71, 18, 8, 52],
    }
)
PRE_POST = pd.DataFrame(
    {
        "m1i": [1.02, 0.98, 21.3, 14.0, 80.1],
        "m2i": [1.72, 1.55, 28.9, 13.2, 66.5],
        "sd1i": [0.61, 0.70, 10.2, 4.1, 12.0],
        "sd2i": [0.55, 0.66, 11.0, 4.5, 13.5],
        "ni": [40, 34, 22, 75, 29],
        "ri": [0.5, 0.3, 0.7, 0.5, 0.6],
    }
)
EVENTS = pd.DataFrame({"ai": [0, 3, 12, 5], "bi": [10, 20, 38, 0], "ci": [2, 3, 20, 4], "di": [10, 20, 30, 6]})


def r_escalc(metafor, measure: str, data: pd.DataFrame, args: str) -> dict[str, np.ndarray]:
    return metafor.run(f"es <- escalc('{measure}', {args}, data=dat); out <- list(yi=es$yi, vi=es$vi)", data)


def assert_same(ours: pd.DataFrame, theirs: dict[str, np.ndarray]) -> None:
    np.testing.assert_allclose(ours["yi"], theirs["yi"], atol=TOL, rtol=0)
    np.testing.assert_allclose(ours["vi"], theirs["vi"], atol=TOL, rtol=0)


@pytest.mark.parametrize("measure", ["SMD", "MD"])
def test_two_arm_means(metafor, measure) -> None:
    ours = escalc(measure, TWO_ARM_MEANS, m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i", n2i="n2i")
    assert_same(
        ours, r_escalc(metafor, measure, TWO_ARM_MEANS, "m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i")
    )


@pytest.mark.parametrize("key", ["di", "ti"])
def test_smd_from_reported_d_or_t(metafor, key) -> None:
    data = pd.DataFrame({key: [0.2, 1.1, -0.4], "n1i": [20, 45, 12], "n2i": [22, 40, 12]})
    ours = escalc("SMD", data, **{key: key}, n1i="n1i", n2i="n2i")
    assert_same(ours, r_escalc(metafor, "SMD", data, f"{key}={key}, n1i=n1i, n2i=n2i"))


@pytest.mark.parametrize(
    ("measure", "args"),
    [
        ("SMCR", "m1i=m1i, m2i=m2i, sd1i=sd1i, ni=ni, ri=ri"),
        ("SMCC", "m1i=m1i, m2i=m2i, sd1i=sd1i, sd2i=sd2i, ni=ni, ri=ri"),
    ],
)
def test_standardised_mean_change(metafor, measure, args) -> None:
    kwargs = {a.split("=")[0].strip(): a.split("=")[1].strip() for a in args.split(",")}
    assert_same(escalc(measure, PRE_POST, **kwargs), r_escalc(metafor, measure, PRE_POST, args))


def test_smcr_from_reported_d_equals_smcr_from_means(metafor) -> None:
    """A reported raw-score d (change / baseline SD) gives metafor's SMCR of the same means."""
    d = (PRE_POST.m1i - PRE_POST.m2i) / PRE_POST.sd1i
    ours = escalc("SMCR", di=d, ni=PRE_POST.ni, ri=PRE_POST.ri)
    assert_same(ours, r_escalc(metafor, "SMCR", PRE_POST, "m1i=m1i, m2i=m2i, sd1i=sd1i, ni=ni, ri=ri"))


def test_smcc_from_paired_t_equals_smcc_from_means(metafor) -> None:
    """A paired t (t = mean change / (sd_d/√n)) gives metafor's SMCC of the same data."""
    sd_d = np.sqrt(PRE_POST.sd1i**2 + PRE_POST.sd2i**2 - 2 * PRE_POST.ri * PRE_POST.sd1i * PRE_POST.sd2i)
    t = (PRE_POST.m1i - PRE_POST.m2i) / (sd_d / np.sqrt(PRE_POST.ni))
    ours = escalc("SMCC", ti=t, ni=PRE_POST.ni)
    assert_same(ours, r_escalc(metafor, "SMCC", PRE_POST, "m1i=m1i, m2i=m2i, sd1i=sd1i, sd2i=sd2i, ni=ni, ri=ri"))


@pytest.mark.parametrize("measure", ["RR", "OR", "RD"])
def test_two_by_two_tables_including_zero_cells(metafor, measure) -> None:
    ours = escalc(measure, EVENTS, ai="ai", bi="bi", ci="ci", di="di")
    assert_same(ours, r_escalc(metafor, measure, EVENTS, "ai=ai, bi=bi, ci=ci, di=di"))


def test_two_by_two_from_group_totals(metafor) -> None:
    data = pd.DataFrame(BCG).assign(n1=lambda d: d.tpos + d.tneg, n2=lambda d: d.cpos + d.cneg)
    ours = escalc("RR", data, ai="tpos", n1i="n1", ci="cpos", n2i="n2")
    assert_same(ours, r_escalc(metafor, "RR", data, "ai=tpos, n1i=n1, ci=cpos, n2i=n2"))


@pytest.mark.parametrize("measure", ["PR", "PLO"])
def test_proportions(metafor, measure) -> None:
    data = metafor.dataset("dat.pritz1997")
    data.loc[0, "xi"] = 0  # exercise the zero-cell rule too
    ours = escalc(measure, data, xi="xi", ni="ni")
    assert_same(ours, r_escalc(metafor, measure, data, "xi=xi, ni=ni"))


def test_fisher_z_correlations(metafor) -> None:
    data = metafor.dataset("dat.mcdaniel1994")
    ours = escalc("ZCOR", data, ri="ri", ni="ni")
    assert_same(ours, r_escalc(metafor, "ZCOR", data, "ri=ri, ni=ni"))


def test_hedges_correction_matches_published_value() -> None:
    # J(m) for m = 10 is 0.9227 (Hedges & Olkin 1985, Table 2 of ch. 5: exact 0.92274)
    assert hedges_correction(np.array([10.0]))[0] == pytest.approx(0.92274, abs=1e-5)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="measure SMD needs"):
        escalc("SMD", m1i=[1.0], n1i=[10], n2i=[10])
    with pytest.raises(ValueError, match="unknown measure"):
        escalc("XYZ", m1i=[1.0])
    with pytest.raises(ValueError, match="different lengths"):
        escalc("MD", m1i=[1.0, 2.0], sd1i=[1.0], n1i=[10], m2i=[1.0], sd2i=[1.0], n2i=[10])
