"""Bayesian random-effects meta-analysis (mbtevidence.engine.bayes).

1. Published bayesmeta outputs (tests/engine/reference/bayesmeta_examples.json, sources inside).
2. An independent brute-force 2-D grid integration over (μ, log τ), written here from the model.
3. Analytic limits, prior normalisation, k = 1, prior parsing and input validation.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from mbtevidence.engine.bayes import (
    ALLOWED_PRIORS,
    RHODES_OUTCOMES,
    TURNER_OUTCOMES,
    MuPrior,
    TauPrior,
    bayes_meta_analysis,
    parse_prior,
    rhodes_prior,
    turner_prior,
)

REF = json.loads((Path(__file__).parent / "reference" / "bayesmeta_examples.json").read_text(encoding="utf-8"))
EXAMPLES = {ex["id"]: ex for ex in REF["examples"]}


def log_odds_ratios(d: dict) -> tuple[np.ndarray, np.ndarray]:
    """metafor escalc(measure="OR"): add 0.5 to all cells of a table with a zero cell."""
    a, c = np.array(d["exp_events"], float), np.array(d["cont_events"], float)
    b, dd = np.array(d["exp_total"], float) - a, np.array(d["cont_total"], float) - c
    cc = np.where((a == 0) | (b == 0) | (c == 0) | (dd == 0), 0.5, 0.0)
    a, b, c, dd = a + cc, b + cc, c + cc, dd + cc
    return np.log(a * dd / (b * c)), 1 / a + 1 / b + 1 / c + 1 / dd


def example_data(ex: dict) -> tuple[np.ndarray, np.ndarray]:
    d = ex["data"]
    if "effect" in d:
        return np.array(d["effect"]), np.array(d["stderr"]) ** 2
    return log_odds_ratios(d)


@pytest.fixture(scope="module")
def published():
    out = {}
    for key, ex in EXAMPLES.items():
        y, v = example_data(ex)
        res = bayes_meta_analysis(y, v, ex["tau_prior"], ex["mu_prior"], slab=ex["data"]["study"])
        out[key] = (res, res.shrinkage().set_index("study"))
    return out


def ours(res, shrink, e: dict) -> float:
    q = e["quantity"]
    if q.startswith("shrinkage_"):
        return shrink.loc[e["study"], q.removeprefix("shrinkage_")]
    if q == "tau_survival":
        return 1 - res.tau_cdf(np.array([e["at"]]))[0]
    if q == "p_mu_le_0":
        return 1 - res.p_mu_gt_0
    if q in ("tau_quantile", "mu_quantile"):
        return res.quantile(q.split("_")[0], e["p"])
    return getattr(res, q)


CASES = [(key, i) for key, ex in EXAMPLES.items() for i in range(len(ex["expected"]))]


@pytest.mark.parametrize("key,i", CASES, ids=[f"{k}-{EXAMPLES[k]['expected'][i]['quantity']}-{i}" for k, i in CASES])
def test_reproduces_published_bayesmeta_output(published, key, i):
    e = EXAMPLES[key]["expected"][i]
    res, shrink = published[key]
    tol = e["tol"] if "tol" in e else e["rel_tol"] * abs(e["value"])
    assert abs(ours(res, shrink, e) - e["value"]) <= tol, e["where"]


def test_crins_effect_sizes_match_printed_values():
    y, v = example_data(EXAMPLES["crins2014_ma01"])
    d = EXAMPLES["crins2014_ma01"]["data"]
    np.testing.assert_allclose(y, d["printed_yi"], atol=5e-5)
    np.testing.assert_allclose(v, d["printed_vi"], atol=5e-5)


def test_turner_prior_quantiles_published():
    for ref in REF["priors"]:
        np.testing.assert_allclose(parse_prior(ref["prior"]).ppf(ref["p"]), ref["value"], atol=ref["tol"])


def _quad_posterior(y, v, tau_pdf, m0, s0):
    """Independent adaptive quadrature (scipy.integrate.quad) over τ of the conditional moments."""

    def parts(t):
        w = 1 / (v + t * t)
        prec = w.sum() + 1 / s0**2
        mh = (w @ y + m0 / s0**2) / prec
        dens = (
            tau_pdf(t)
            * math.sqrt(np.prod(w) / prec)
            * math.exp(-0.5 * ((w * (y - mh) ** 2).sum() + (mh - m0) ** 2 / s0**2))
        )
        return dens, mh, prec, w

    def expect(g):
        return integrate.quad(lambda t: parts(t)[0] * g(*parts(t)[1:]), 0, np.inf, epsabs=0, epsrel=1e-12, limit=400)[0]

    z = expect(lambda *_: 1.0)
    return lambda g: expect(g) / z


def test_where_bayesmeta_direct_deviates_our_numbers_are_exact(published):
    """bayesmeta approximates μ/θ posteriors (DIRECT, delta=0.01); check ours by adaptive quadrature."""
    y, v = example_data(EXAMPLES["rubin1981_schools_example_1"])
    e = _quad_posterior(y, v, lambda t: stats.halfcauchy.pdf(t, scale=25), 0.0, 50.0)
    res, shrink = published["rubin1981_schools_example_1"]
    assert res.mu_mean == pytest.approx(e(lambda mh, p, w: mh), abs=1e-8)
    theta_a = e(lambda mh, p, w: (1 - v[0] * w[0]) * y[0] + v[0] * w[0] * mh)
    assert shrink.loc["A", "mean"] == pytest.approx(theta_a, abs=1e-8)
    y, v = example_data(EXAMPLES["crins2014_ma01"])
    e = _quad_posterior(y, v, lambda t: stats.halfnorm.pdf(t, scale=0.5), 0.0, 4.0)
    res = published["crins2014_ma01"][0]
    assert res.p_mu_gt_0 == pytest.approx(e(lambda mh, p, w: special.ndtr(mh * math.sqrt(p))), rel=1e-8)


# ---------------------------------------------------------------- 2. brute force on a 2-D grid
def _trap_weights(x):
    w = np.zeros_like(x)
    w[:-1] += np.diff(x) / 2
    w[1:] += np.diff(x) / 2
    return w


def _grid_marginal(x, mass):
    """Density (piecewise linear, consistent with the trapezoid rule) and CDF of a grid marginal."""
    dens = mass / _trap_weights(x)
    cdf = np.concatenate([[0.0], np.cumsum((dens[1:] + dens[:-1]) / 2 * np.diff(x))])
    return dens / cdf[-1], cdf / cdf[-1]


def _grid_cdf(x, mass, q):
    dens, cdf = _grid_marginal(x, mass)
    i = np.searchsorted(x, q) - 1
    s, g = q - x[i], (dens[i + 1] - dens[i]) / (x[i + 1] - x[i])
    return cdf[i] + dens[i] * s + g * s**2 / 2


def _grid_quantile(x, mass, p):
    dens, cdf = _grid_marginal(x, mass)
    i = min(np.searchsorted(cdf, p) - 1, len(x) - 2)
    d0, g = dens[i], (dens[i + 1] - dens[i]) / (x[i + 1] - x[i])
    s = (p - cdf[i]) / d0 if g == 0 else (-d0 + math.sqrt(d0**2 + 2 * g * (p - cdf[i]))) / g
    return x[i] + s


def brute_force(y, v, log_tau_prior, mu_prior, mu_lim, delta):
    """Joint posterior of (μ, u = log τ) on a 2401 x 1800 grid, trapezoid rule, y_i ~ N(μ, v_i + τ²)."""
    y, v = np.asarray(y, float), np.asarray(v, float)
    u = np.concatenate([np.linspace(-69.0, -8.0, 300, endpoint=False), np.linspace(-8.0, 2.0, 1500)])
    tau, mu = np.exp(u), np.linspace(*mu_lim, 2401)
    s2 = v + tau[:, None] ** 2
    a, b, c = (y**2 / s2).sum(1), (y / s2).sum(1), (1 / s2).sum(1)
    m = mu[:, None]
    logp = -0.5 * (a - 2 * m * b + m**2 * c) - 0.5 * np.log(s2).sum(1) + log_tau_prior(tau) + u
    if mu_prior is not None:
        logp = logp + stats.norm.logpdf(m, *mu_prior)
    w = np.exp(logp - logp.max()) * _trap_weights(mu)[:, None] * _trap_weights(u)
    w /= w.sum()
    out = {
        "mu_mean": w.sum(1) @ mu,
        "tau_mean": w.sum(0) @ tau,
        "p_mu_gt_0": 1 - _grid_cdf(mu, w.sum(1), 0.0),
        "p_mu_gt_delta": 1 - _grid_cdf(mu, w.sum(1), delta),
    }
    for p, name in ((0.5, "median"), (0.025, "low"), (0.975, "high")):
        out["mu_" + name] = _grid_quantile(mu, w.sum(1), p)
        out["tau_" + name] = math.exp(_grid_quantile(u, w.sum(0), p))
    shrink = 1 - v[0] / s2[:, 0]  # θ_1 | μ, τ ~ N(μ + shrink (y_1 - μ), shrink v_1)
    th_mean = m + shrink * (y[0] - m)
    out["theta1_mean"] = (w * th_mean).sum()
    out["theta1_sd"] = math.sqrt((w * (shrink * v[0] + th_mean**2)).sum() - out["theta1_mean"] ** 2)
    # predictive θ_new | μ, τ ~ N(μ, τ²), on every other grid line (a coarser trapezoid rule)
    wc, mc, tc = (
        w[::2, ::2] / w[::2, ::2].sum(),
        np.broadcast_to(m, w.shape)[::2, ::2],
        np.broadcast_to(tau, w.shape)[::2, ::2],
    )
    keep = wc > 1e-15
    wk, mk, tk = wc[keep], mc[keep], tc[keep]
    for p, name in ((0.025, "pi_low"), (0.975, "pi_high")):
        out[name] = optimize.brentq(
            lambda t, p=p: wk @ special.ndtr((t - mk) / tk) - p, mu_lim[0] - 5, mu_lim[1] + 5, xtol=1e-9
        )
    return out


def bcg():
    tpos = np.array([4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27])
    tneg = np.array([119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886])
    cpos = np.array([11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29])
    cneg = np.array([128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825])
    yi = np.log((tpos / (tpos + tneg)) / (cpos / (cpos + cneg)))
    return yi, 1 / tpos - 1 / (tpos + tneg) + 1 / cpos - 1 / (cpos + cneg)


def _halfnormal_05(t):
    return stats.halfnorm.logpdf(t, scale=0.5)


def _rhodes_mental_nonpharma(t):
    # log τ² ~ t_5(-3.85, 1.93)  =>  p(τ) = t5((2 log τ + 3.85) / 1.93) / 1.93 · 2/τ
    return stats.t.logpdf((2 * np.log(t) + 3.85) / 1.93, 5) - math.log(1.93) + np.log(2 / t)


BRUTE = {
    "k2_randomized_crins": (
        *log_odds_ratios(EXAMPLES["crins2014_ma05_randomized"]["data"]),
        _halfnormal_05,
        (0.0, 4.0),
        (-6.0, 3.0),
        -1.0,
        "halfnormal:0.5",
        "normal:0:4",
    ),
    "k5_smd_rhodes_logt": (
        [0.52, 0.31, 0.89, 0.12, 0.45],
        [0.04, 0.09, 0.06, 0.02, 0.11],
        _rhodes_mental_nonpharma,
        None,
        (-2.5, 3.4),
        0.2,
        "rhodes:mental-health:nonpharma",
        "flat",
    ),
    "k13_bcg": (*bcg(), _halfnormal_05, None, (-2.6, 1.2), -0.5, "halfnormal:0.5", "flat"),
}


@pytest.mark.parametrize("name", BRUTE)
def test_agrees_with_brute_force_grid(name):
    y, v, log_prior, mu_prior, lim, delta, tau_text, mu_text = BRUTE[name]
    ref = brute_force(y, v, log_prior, mu_prior, lim, delta)
    res = bayes_meta_analysis(y, v, tau_text, mu_text, delta=delta)
    got = res.to_dict()
    shrink = res.shrinkage().iloc[0]
    got.update(theta1_mean=shrink["mean"], theta1_sd=shrink["sd"])
    diffs = {k: abs(got[k] - ref[k]) for k in ref}
    assert max(diffs.values()) < 1e-4, diffs


# ---------------------------------------------------------------- 3. analytic checks
Y5, V5 = np.array([0.52, 0.31, 0.89, 0.12, 0.45]), np.array([0.04, 0.09, 0.06, 0.02, 0.11])


def test_tau_near_zero_gives_common_effect_estimate():
    res = bayes_meta_analysis(Y5, V5, "halfnormal:1e-6", "flat")
    w = 1 / V5
    est, se = (w @ Y5) / w.sum(), 1 / math.sqrt(w.sum())
    assert res.mu_mean == pytest.approx(est, abs=1e-8)
    assert res.mu_median == pytest.approx(est, abs=1e-8)
    assert (res.mu_low, res.mu_high) == pytest.approx((est - 1.959963985 * se, est + 1.959963985 * se), abs=1e-7)
    assert res.p_mu_gt_0 == pytest.approx(stats.norm.sf(0, est, se), abs=1e-9)
    assert res.tau_median == pytest.approx(stats.halfnorm.ppf(0.5, scale=1e-6), rel=1e-4)


def test_normal_mu_prior_is_combined_by_precision():
    res = bayes_meta_analysis(Y5, V5, "halfnormal:1e-6", "normal:-1:0.5", level=90, delta=0.3)
    prec = (1 / V5).sum() + 1 / 0.25
    est, sd = ((Y5 / V5).sum() - 1 / 0.25) / prec, 1 / math.sqrt(prec)
    assert res.mu_median == pytest.approx(est, abs=1e-8)
    assert res.mu_high == pytest.approx(stats.norm.ppf(0.95, est, sd), abs=1e-7)
    assert res.p_mu_gt_delta == pytest.approx(stats.norm.sf(0.3, est, sd), abs=1e-9)


def test_single_study_posterior_of_tau_is_its_prior():
    res = bayes_meta_analysis([0.4], [0.05], "halfnormal:0.5", "flat", slab=["Only"])
    assert res.k == 1 and any("k = 1" in n for n in res.notes)
    assert res.tau_median == pytest.approx(stats.halfnorm.ppf(0.5, scale=0.5), abs=1e-8)
    grid = np.array([0.05, 0.3, 1.0])
    np.testing.assert_allclose(res.tau_cdf(grid), stats.halfnorm.cdf(grid, scale=0.5), atol=1e-9)
    assert res.mu_median == pytest.approx(0.4, abs=1e-9)
    assert res.mu_high - 0.4 == pytest.approx(0.4 - res.mu_low, abs=1e-8)
    assert res.shrinkage()["mean"].iloc[0] == pytest.approx(0.4, abs=1e-9)


def test_single_study_heavy_tailed_log_t_prior_is_reproduced():
    res = bayes_meta_analysis([0.4], [0.05], "rhodes:any", "flat")
    prior = rhodes_prior("any")
    np.testing.assert_allclose([res.tau_low, res.tau_median, res.tau_high], prior.ppf([0.025, 0.5, 0.975]), rtol=1e-6)
    assert res.tau_mean is None


def test_single_study_half_cauchy_reports_missing_means_as_none():
    d = bayes_meta_analysis([0.4], [0.05], "halfcauchy:0.5", "flat").to_dict()
    assert d["tau_mean"] is None and d["mu_mean"] is None and d["tau_median"] > 0
    json.dumps(d, allow_nan=False)


ALL_PRIORS = [
    "halfnormal:0.5",
    "halfcauchy:0.3",
    "halfstudent:0.5:3",
    "uniform:2",
    "lognormal_tau2:-2.5:1.6",
    "logt_tau2:-3:2:5",
    "turner:any",
    "rhodes:any",
    "turner:mental-health:nonpharma-vs-placebo",
    "rhodes:mental-health:pharma-vs-placebo",
]


@pytest.mark.parametrize("text", ALL_PRIORS)
def test_prior_densities_integrate_to_one(text):
    prior = parse_prior(text)
    upper = prior.upper
    # on u = log τ the log-scale priors are smooth, so integrate there
    total = integrate.quad(
        lambda x: prior.pdf(math.exp(x)) * math.exp(x),
        -80,
        math.log(upper) if math.isfinite(upper) else 60,
        limit=400,
        epsabs=1e-12,
    )[0]
    assert total == pytest.approx(1.0, abs=1e-7)
    p = np.array([0.05, 0.5, 0.9])
    np.testing.assert_allclose(prior.cdf(prior.ppf(p)), p, atol=1e-10)


def test_turner_and_rhodes_tables_as_in_bayesmeta_source():
    # Spot values of bayesmeta 3.4 R/bayesmeta.R (meanmat/sdmat, locationmat/scalemat).
    assert turner_prior("all-cause-mortality", "pharma-vs-placebo").params == (-3.95, 1.34)
    assert turner_prior("mental-health", "nonpharma-vs-placebo").params == (-2.34, 1.72)
    assert turner_prior("signs-symptoms", "pharma-vs-pharma").params == (-2.29, 1.58)
    assert turner_prior("subjective", "nonpharma-vs-nonpharma").params == (-2.26, 1.45)
    assert rhodes_prior("mental-health", "pharma-vs-placebo").params == (-2.99, 2.16, 5.0)
    assert rhodes_prior("general-physical-health", "nonpharma").params == (-3.02, 2.27, 5.0)
    assert rhodes_prior("subjective", "pharma-vs-pharma").params == (-3.03, 2.59, 5.0)
    assert len(TURNER_OUTCOMES) == 16 and len(RHODES_OUTCOMES) == 8
    # Position-weighted column checksums sum_i i * value_i (i = 1..n in bayesmeta's outcome order),
    # computed from the R source's meanmat/sdmat (Turner) and locationmat/scalemat (Rhodes, negated
    # locations); they catch any changed or swapped table entry.
    turner = {
        "pharma-vs-placebo": (-316.21, 212.85),
        "pharma-vs-pharma": (-347.93, 220.92),
        "nonpharma-vs-placebo": (-346.35, 238.35),
        "nonpharma-vs-pharma": (-176.06, 176.77),
        "nonpharma-vs-nonpharma": (-255.87, 203.84),
    }
    for comparison, sums in turner.items():
        params = [turner_prior(o, comparison).params for o in TURNER_OUTCOMES]
        assert [sum((i + 1) * p[j] for i, p in enumerate(params)) for j in (0, 1)] == pytest.approx(sums, abs=1e-9)
    rhodes = {
        "pharma-vs-placebo": (-108.05, 91.21),
        "pharma-vs-pharma": (-117.89, 90.22),
        "nonpharma": (-109.01, 84.42),
    }
    for comparison, sums in rhodes.items():
        params = [rhodes_prior(o, comparison).params for o in RHODES_OUTCOMES]
        assert [sum((i + 1) * p[j] for i, p in enumerate(params)) for j in (0, 1)] == pytest.approx(sums, abs=1e-9)


def test_posterior_functions_are_consistent():
    res = bayes_meta_analysis(*bcg(), "halfnormal:0.5", "flat")
    tau = np.linspace(0, 3, 3001)
    dens = res.tau_posterior(tau)
    assert integrate.trapezoid(dens, tau) == pytest.approx(1.0, abs=1e-6)
    assert integrate.trapezoid(dens[:1001], tau[:1001]) == pytest.approx(res.tau_cdf(np.array([1.0]))[0], abs=1e-6)
    mu = np.linspace(-3, 2, 5001)
    assert integrate.trapezoid(res.mu_posterior(mu), mu) == pytest.approx(1.0, abs=1e-6)
    assert res.mu_cdf(np.array([res.mu_median]))[0] == pytest.approx(0.5, abs=1e-10)
    np.testing.assert_allclose(res.tau_prior_density(tau), stats.halfnorm.pdf(tau, scale=0.5))
    assert res.tau_posterior(np.array([-1.0]))[0] == 0 and res.tau_cdf(np.array([0.0]))[0] == 0


def test_result_views():
    res = bayes_meta_analysis(
        Y5, V5, "turner:mental-health:nonpharma-vs-placebo", "normal:0:1", delta=0.2, slab=list("ABCDE")
    )
    d = res.to_dict()
    assert list(d) == [
        "k",
        "mu_median",
        "mu_mean",
        "mu_low",
        "mu_high",
        "tau_median",
        "tau_mean",
        "tau_low",
        "tau_high",
        "pi_low",
        "pi_high",
        "p_mu_gt_0",
        "p_mu_gt_delta",
        "delta",
        "tau_prior",
        "mu_prior",
        "level",
        "interval",
        "notes",
    ]
    assert d["interval"] == "equal-tailed" and d["tau_prior"] == "turner:mental-health:nonpharma-vs-placebo"
    json.dumps(d, allow_nan=False)
    frame = res.to_frame()
    assert list(frame["parameter"]) == ["mu", "tau", "theta_new"]
    assert list(frame.columns) == ["parameter", "median", "mean", "low", "high"]
    assert res.pi_low < res.mu_low < res.mu_median < res.mu_high < res.pi_high
    sh = res.shrinkage()
    assert list(sh["study"]) == list("ABCDE") and (sh["low"] < sh["median"]).all() and (sh["sd"] > 0).all()
    text = str(res)
    assert text == res.summary()
    for part in ("normal-normal", "Gauss-Legendre", "95% equal-tailed", "P(mu > 0.2)", "turner:mental-health"):
        assert part in text
    assert bayes_meta_analysis(Y5, V5).to_dict()["p_mu_gt_delta"] is None


@pytest.mark.parametrize(
    "text,kind",
    [
        ("flat", MuPrior),
        ("normal:0:4", MuPrior),
        ("HalfNormal:0.5", TauPrior),
        ("halfstudent:1:4", TauPrior),
        ("rhodes:any", TauPrior),
        ("turner:pain:pharma-vs-pharma", TauPrior),
    ],
)
def test_parse_prior_accepts(text, kind):
    assert isinstance(parse_prior(text), kind)


@pytest.mark.parametrize(
    "text,message",
    [
        ("uniform", "improper"),
        ("uniform:inf", "improper"),
        ("halfnormal", "allowed forms"),
        ("halfnormal:-1", "allowed forms"),
        ("normal:0:0", "allowed forms"),
        ("gamma:1:2", "allowed forms"),
        ("halfcauchy:abc", "must be numbers"),
        ("turner:mood:pharma-vs-placebo", "mental-health"),
        ("rhodes:mental-health:surgery", "nonpharma"),
        ("turner:mental-health", "allowed forms"),
    ],
)
def test_parse_prior_rejects(text, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_prior(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(yi=[], vi=[]), "no studies"),
        (dict(yi=[0.1, np.nan], vi=[0.1, 0.1]), "yi must be finite"),
        (dict(yi=[0.1, 0.2], vi=[0.1, 0.0]), "vi must be finite and > 0"),
        (dict(yi=[0.1], vi=[0.1, 0.2]), "equal length"),
        (dict(yi=[0.1], vi=[0.1], level=0), "level"),
        (dict(yi=[0.1], vi=[0.1], tau_prior="normal:0:1"), "tau prior"),
        (dict(yi=[0.1], vi=[0.1], tau_prior="uniform"), "improper"),
        (dict(yi=[0.1], vi=[0.1], slab=["a", "b"]), "slab"),
    ],
)
def test_invalid_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bayes_meta_analysis(**kwargs)


def test_allowed_forms_listed():
    for form in ("flat", "normal:MEAN:SD", "halfnormal:SCALE", "turner:OUTCOME:COMPARISON", "rhodes:any"):
        assert form in ALLOWED_PRIORS
