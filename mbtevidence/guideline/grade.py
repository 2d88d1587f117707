"""GRADE certainty of the evidence for one outcome: domain rules, overall certainty, footnotes and
plain-language statements.

Every domain gets a *suggested* rating from a stated rule over the synthesis' numbers; a reviewer
may override any suggested rating with a reason (``evidence/grade_judgements.csv``) and the
tables say which ratings were overridden.  The rules make the GRADE guidance reproducible; they
suggest, the guideline panel judges.

Starting level (GRADE guidelines 3; Balshem et al. 2011): **high** when randomised comparisons
carry at least half of the pooled weight, otherwise **low**.  A within-group (pre/post) change is
non-randomised evidence even inside a trial: randomisation protects only the comparison between
arms.  Certainty = starting level minus the downgrades, never below very low.

=================  ==========================================================================
domain             suggested rating (thresholds are the module constants)
=================  ==========================================================================
risk of bias       serious when samples at high risk of bias (``rob_overall = high``, or no
                   judgement) carry >= 50 % of the weight; in a body that starts at high,
                   non-randomised samples count as well (GRADE 4; Guyatt et al. 2011).
inconsistency      serious when I² >= 50 % and the effects may point both ways: the prediction
                   interval includes no effect (k = 2, without one: the two estimates lie on
                   both sides of no effect); very serious when I² >= 75 % likewise; effects
                   that differ in size only are not rated down; not assessable for one sample
                   (GRADE 7; Cochrane Handbook 10.10.2).
imprecision        serious when the CI includes no effect or crosses the minimal important
                   difference (MID), or the total n is below the optimal information size (OIS);
                   very serious when the CI includes both an important benefit (>= MID) and an
                   important harm (<= -MID) (GRADE 6; Guyatt et al. 2011; GRADE 34, Zeng et al.
                   2022).
indirectness       serious when samples whose population or setting differs from the question
                   carry >= 50 % of the weight (GRADE 8; Guyatt et al. 2011).
publication bias   only for k >= 10 samples: suspected (serious) when Egger's test gives
                   p < 0.10; "not assessable" below 10 (GRADE 5; Sterne et al. 2011).
=================  ==========================================================================

Optimal information size, the n of one adequately powered trial (two-sided α = 0.05, power
1 - β = 0.80; the conventional sample-size formulas GRADE 6 recommends):

* between groups (SMD, two equal arms), MID δ in SD units (:func:`optimal_information_size`):
  OIS = 4 (z₁₋α/₂ + z₁₋β)² / δ²  (785 for δ = 0.2);
* within group (SMCR, change standardised by the baseline SD, pre-post correlation r):
  OIS = 2 (1 - r) (z₁₋α/₂ + z₁₋β)² / δ²  (197 for δ = 0.2, r = 0.5);
* events (RR; :func:`optimal_information_size_events`), control event rate p₀ and relative risk
  reduction ρ (default 25 %, GRADE 6), p₁ = p₀ (1 - ρ), two equal arms:
  OIS = 2 (z₁₋α/₂ + z₁₋β)² [p₀(1 - p₀) + p₁(1 - p₁)] / (p₀ - p₁)².

The MID of a risk ratio is taken on the log scale, ±log 1.25 (RR 0.8 or 1.25; GRADE 6 suggests
0.75 and 1.25 as a rough guide, here made symmetric on the log scale).

The plain-language statements are in :mod:`mbtevidence.guideline.statements`.

References: Guyatt GH et al. GRADE guidelines 4-8, J Clin Epidemiol 2011;64:407-415, 1277-1282,
1283-1293, 1294-1302, 1303-1310.  Balshem H et al. GRADE guidelines 3, ibid. 64:401-406.  Zeng L
et al. GRADE guidance 34, J Clin Epidemiol 2022;150:216-224.  Santesso N et al. GRADE guidelines 26,
J Clin Epidemiol 2020;119:126-135.  Sterne JAC et al. BMJ 2011;343:d4002.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

CERTAINTY = ("very low", "low", "moderate", "high")
SYMBOLS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯", "very low": "⊕◯◯◯"}
DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")
DOMAIN_LABELS = {
    "risk_of_bias": "Risk of bias",
    "inconsistency": "Inconsistency",
    "indirectness": "Indirectness",
    "imprecision": "Imprecision",
    "publication_bias": "Publication bias",
}
LEVELS = {"not_serious": 0, "serious": 1, "very_serious": 2, "not_assessable": 0}
"""Levels each rating takes off the starting certainty."""

HIGH_RISK_SHARE = 0.5
INDIRECT_SHARE = 0.5
I2_SERIOUS = 50.0
I2_VERY_SERIOUS = 75.0
EGGER_MIN_K = 10
EGGER_ALPHA = 0.10
DEFAULT_MID = 0.2
"""Minimal important difference in SD units when an outcome states none (a small effect, Cohen 1988)."""
RR_MID = math.log(1.25)
"""MID of a risk ratio on the log scale (positive = improvement): RR beyond 0.8 or 1.25."""
RRR = 0.25
"""Relative risk reduction the events OIS is powered for (GRADE 6)."""
OIS_ALPHA = 0.05
OIS_POWER = 0.80


def _plain_value(y: float) -> str:
    return f"{y:.2f}"


def _plain_interval(low: float, high: float) -> str:
    return f"{low:.2f} to {high:.2f}"


def _plain_mid(mid: float) -> str:
    return f"{mid:g} SD"


@dataclass(frozen=True)
class Scale:
    """How the rules print numbers of the analysis scale in their words (default: as they are,
    the MID in SD units; :func:`ratio_scale` for risk ratios)."""

    value: Callable[[float], str] = _plain_value
    interval: Callable[[float, float], str] = _plain_interval
    mid: Callable[[float], str] = _plain_mid


def ratio_scale(sign: int) -> Scale:
    """Risk ratios RR = exp(sign × y) of log-scale values y oriented positive = improvement."""

    def ratios(*ys: float) -> list[float]:
        return sorted(math.exp(sign * y) for y in ys)

    return Scale(
        value=lambda y: f"RR {ratios(y)[0]:.2f}",
        interval=lambda low, high: "RR {:.2f} to {:.2f}".format(*ratios(low, high)),
        mid=lambda m: "RR {:.2f} or {:.2f}".format(*ratios(m, -m)),
    )


PLAIN = Scale()


@dataclass(frozen=True)
class DomainJudgement:
    """One GRADE domain for one outcome: the rating, the rule that gave it and, when a reviewer
    overrode it, the suggested rating and the reviewer's reason."""

    domain: str
    rating: str
    rule: str
    explanation: str = ""
    suggested: str | None = None
    reason: str = ""
    reviewer: str = ""

    @property
    def levels(self) -> int:
        return LEVELS[self.rating]

    @property
    def overridden(self) -> bool:
        return self.suggested is not None

    @property
    def label(self) -> str:
        """The rating in words, as GRADE tables print it."""
        return rating_label(self.domain, self.rating)

    def footnote(self) -> str:
        """Why the certainty was (or was not) rated down in this domain, in words."""
        head = DOMAIN_LABELS[self.domain]
        if self.overridden:
            text = (
                f"{head}: rated {self.label} by the reviewer{f' ({self.reviewer})' if self.reviewer else ''} "
                f"instead of the suggested {rating_label(self.domain, self.suggested or '')} ({self.rule}). "
                f"Reason: {self.reason}"
            )
        else:
            text = f"{head}: {self.explanation or self.rule}"
        step = {0: "", 1: " Rated down one level.", 2: " Rated down two levels."}[self.levels]
        return text.rstrip(".") + "." + step


def rating_label(domain: str, rating: str) -> str:
    if domain == "publication_bias":
        return {
            "not_serious": "undetected",
            "serious": "strongly suspected",
            "very_serious": "very strongly suspected",
        }.get(rating, rating.replace("_", " "))
    return rating.replace("_", " ")


def _share(weights: pd.Series, mask: pd.Series) -> float:
    total = float(weights.sum())
    return float(weights[mask].sum()) / total if total > 0 else math.nan


def _names(labels: pd.Series, reasons: pd.Series) -> str:
    """Who and why, e.g. Lof2018 (high), Bales2017reorg (2 samples, high)."""
    counts = pd.DataFrame({"label": labels.astype(str), "why": reasons.astype(str)}).value_counts(sort=False)
    return ", ".join(
        f"{label} ({why})" if n == 1 else f"{label} ({n} samples, {why})" for (label, why), n in counts.items()
    )


def starting_certainty(samples: pd.DataFrame) -> str:
    """``"high"`` when randomised comparisons carry at least half of the weight, else ``"low"``.

    ``samples`` has one row per pooled sample with ``weight`` and ``randomised`` (bool).
    """
    return "high" if _share(samples["weight"], samples["randomised"].astype(bool)) >= 0.5 else "low"


def rate_risk_of_bias(samples: pd.DataFrame, start: str) -> DomainJudgement:
    """Share of weight from samples at high risk of bias (``rob`` = ``"high"`` or missing), plus
    non-randomised samples when the body starts at high; serious at >= :data:`HIGH_RISK_SHARE`.

    ``samples``: ``label``, ``weight``, ``rob`` (low / some_concerns / high / None), ``randomised``.
    """
    rob = samples["rob"].fillna("not assessed").astype(str).str.replace("_", " ")
    concern = rob.isin(["high", "not assessed"])
    why = rob.where(concern | samples["randomised"].astype(bool), "non-randomised")
    if start == "high":
        concern = concern | ~samples["randomised"].astype(bool)
    share = _share(samples["weight"], concern)
    who = _names(samples.loc[concern, "label"], why[concern])
    if share >= HIGH_RISK_SHARE:
        rule = f"{share:.0%} of the weight from samples at high risk of bias (≥ {HIGH_RISK_SHARE:.0%})"
        extra = " or from non-randomised designs" if start == "high" else ""
        explanation = f"{share:.0%} of the weight comes from samples at high risk of bias{extra}: {who}"
        return DomainJudgement("risk_of_bias", "serious", rule, explanation)
    rule = f"{share:.0%} of the weight from samples at high risk of bias (< {HIGH_RISK_SHARE:.0%})"
    return DomainJudgement("risk_of_bias", "not_serious", rule)


def rate_inconsistency(
    k: int,
    i2: float | None,
    pi_low: float | None,
    pi_high: float | None,
    estimates: tuple[float, ...] = (),
    null: float = 0.0,
    scale: Scale = PLAIN,
) -> DomainJudgement:
    """I² and whether the effects may point both ways: the prediction interval includes no effect
    (``null``), or, where there is none (k = 2), the samples' ``estimates`` lie on both sides of it
    (unknown estimates count as both sides).  Thresholds in the module table."""
    if k < 2 or i2 is None or not math.isfinite(i2):
        return DomainJudgement("inconsistency", "not_assessable", f"one sample (k = {k}): consistency cannot be judged")
    if pi_low is not None and pi_high is not None and math.isfinite(pi_low) and math.isfinite(pi_high):
        both_ways = pi_low <= null <= pi_high
        verb = "includes" if both_ways else "excludes"
        where = f"the prediction interval {scale.interval(pi_low, pi_high)} {verb} no effect"
    else:
        both_ways = not estimates or min(estimates) <= null <= max(estimates)
        shown = " and ".join(scale.value(e) for e in estimates) or "unknown"
        verb = "differ" if both_ways else "agree"
        where = f"no prediction interval for k = {k}; the estimates ({shown}) {verb} in direction"
    if i2 >= I2_VERY_SERIOUS and both_ways:
        rule = f"I² = {i2:.1f}% ≥ {I2_VERY_SERIOUS:.0f}% and {where}"
        return DomainJudgement("inconsistency", "very_serious", rule, f"considerable heterogeneity: {rule}")
    if i2 >= I2_SERIOUS and both_ways:
        rule = f"I² = {i2:.1f}% ≥ {I2_SERIOUS:.0f}% and {where}"
        return DomainJudgement("inconsistency", "serious", rule, f"substantial heterogeneity: {rule}")
    if i2 >= I2_SERIOUS:
        rule = f"I² = {i2:.1f}%, but {where}: the effects differ in size, not direction"
        return DomainJudgement("inconsistency", "not_serious", rule)
    return DomainJudgement("inconsistency", "not_serious", f"I² = {i2:.1f}% < {I2_SERIOUS:.0f}%")


def optimal_information_size(
    mid: float,
    comparison: str,
    correlation: float = 0.5,
    alpha: float = OIS_ALPHA,
    power: float = OIS_POWER,
) -> int:
    """Participants one adequately powered study needs to detect the MID (in SD units).

    ``comparison="between"``: 4 (z₁₋α/₂ + z₁₋β)² / δ² in total (two equal arms);
    ``comparison="within"``: 2 (1 - r) (z₁₋α/₂ + z₁₋β)² / δ² (paired change, baseline SD units).
    Rounded up.  See the module docstring for the references.
    """
    if not mid > 0:
        raise ValueError(f"minimal important difference must be > 0 (got {mid!r})")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    factor = {"between": 4.0, "within": 2.0 * (1.0 - correlation)}
    if comparison not in factor:
        raise ValueError(f"comparison must be 'within' or 'between' (got {comparison!r})")
    return math.ceil(factor[comparison] * z**2 / mid**2 - 1e-9)


def optimal_information_size_events(
    control_rate: float, rrr: float = RRR, alpha: float = OIS_ALPHA, power: float = OIS_POWER
) -> int | None:
    """Participants (both arms) one trial needs to detect a relative risk reduction ``rrr`` from
    the control event rate (see the module docstring); None when the rate is 0 or 1."""
    if not 0 < control_rate < 1:
        return None
    p0, p1 = control_rate, control_rate * (1 - rrr)
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return 2 * math.ceil(z**2 * (p0 * (1 - p0) + p1 * (1 - p1)) / (p0 - p1) ** 2 - 1e-9)


def rate_imprecision(
    ci_low: float,
    ci_high: float,
    n_total: float | None,
    ois: int | None,
    mid: float,
    null: float = 0.0,
    scale: Scale = PLAIN,
) -> DomainJudgement:
    """The CI against no effect and the MID, and the total n against the OIS (module table)."""
    ci = f"95% CI {scale.interval(ci_low, ci_high)}"
    if ci_low <= null - mid and ci_high >= null + mid:
        rule = f"{ci} includes an important benefit and an important harm (MID {scale.mid(mid)})"
        return DomainJudgement("imprecision", "very_serious", rule, f"very wide interval: the {rule}")
    reasons = []
    if ci_low <= null <= ci_high:
        reasons.append(f"the {ci} includes no effect")
    else:
        crossed = [m for m in (null + mid, null - mid) if ci_low < m < ci_high]
        if crossed:
            reasons.append(f"the {ci} includes trivial and important effects (crosses the MID {scale.mid(mid)})")
    n_text = "total n not known" if n_total is None or not math.isfinite(n_total) else f"total n = {n_total:.0f}"
    if ois is not None and n_total is not None and math.isfinite(n_total) and n_total < ois:
        reasons.append(f"{n_text} is below the optimal information size of {ois} (MID {scale.mid(mid)})")
    if reasons:
        return DomainJudgement("imprecision", "serious", "; ".join(reasons), "; ".join(reasons))
    side = "above" if ci_low > null else "below"
    inside = ci_high < null + mid and ci_low > null - mid
    where = (
        f"lies within the MID {scale.mid(mid)} (precise: little or no effect)"
        if inside
        else f"lies {side} the MID {scale.mid(mid)}"
    )
    ois_text = "" if ois is None else f"; {n_text} ≥ OIS {ois}"
    return DomainJudgement("imprecision", "not_serious", f"the {ci} {where}{ois_text}")


def rate_indirectness(
    samples: pd.DataFrame, populations: tuple[str, ...], settings: tuple[str, ...] | None
) -> DomainJudgement:
    """Share of weight from samples whose ``population`` is not among ``populations`` or whose
    ``setting`` is not among ``settings`` (``None``: any setting); serious at >= :data:`INDIRECT_SHARE`."""
    other_population = ~samples["population"].isin(populations)
    other_setting = pd.Series(False, index=samples.index) if settings is None else ~samples["setting"].isin(settings)
    indirect = other_population | other_setting
    share = _share(samples["weight"], indirect)
    wanted = " or ".join(populations) + ("" if settings is None else " in " + " or ".join(settings))
    wanted = wanted.replace("_", " ")
    why = pd.Series(np.where(other_population, samples["population"], samples["setting"]), index=samples.index)
    who = _names(samples.loc[indirect, "label"], why[indirect].astype(str).str.replace("_", " "))
    if share >= INDIRECT_SHARE:
        rule = f"{share:.0%} of the weight from samples outside the question ({wanted}) (≥ {INDIRECT_SHARE:.0%})"
        explanation = f"{share:.0%} of the weight comes from samples other than the question's {wanted}: {who}"
        return DomainJudgement("indirectness", "serious", rule, explanation)
    rule = f"{share:.0%} of the weight from samples outside the question ({wanted})"
    return DomainJudgement("indirectness", "not_serious", rule + (f": {who}" if who else ""))


def rate_publication_bias(k: int, egger_p: float | None) -> DomainJudgement:
    """Egger's test (p < :data:`EGGER_ALPHA`) for k >= :data:`EGGER_MIN_K`; not assessable below."""
    if k < EGGER_MIN_K or egger_p is None:
        rule = f"k = {k} < {EGGER_MIN_K}: too few samples for a funnel-plot test"
        return DomainJudgement("publication_bias", "not_assessable", rule)
    if egger_p < EGGER_ALPHA:
        rule = f"Egger's test p = {egger_p:.3f} < {EGGER_ALPHA:g} (k = {k})"
        return DomainJudgement("publication_bias", "serious", rule, f"small-study effects: {rule}")
    return DomainJudgement("publication_bias", "not_serious", f"Egger's test p = {egger_p:.3f} ≥ {EGGER_ALPHA:g}")


def apply_overrides(judgements: dict[str, DomainJudgement], overrides: pd.DataFrame) -> dict[str, DomainJudgement]:
    """Replace suggested ratings by a reviewer's (rows with ``domain``, ``rating``, ``reason`` and
    optionally ``reviewer``); the suggested rating is kept on the judgement."""
    out = dict(judgements)
    for row in overrides.itertuples(index=False):
        current = out[row.domain]
        suggested = current.suggested if current.overridden else current.rating
        reviewer = getattr(row, "reviewer", "")
        out[row.domain] = replace(
            current,
            rating=row.rating,
            suggested=suggested,
            reason=str(row.reason),
            reviewer="" if pd.isna(reviewer) else str(reviewer),
        )
    return out


def overall_certainty(start: str, judgements: dict[str, DomainJudgement]) -> str:
    """Starting level minus the downgrades of all domains, never below very low."""
    level = CERTAINTY.index(start) - sum(j.levels for j in judgements.values())
    return CERTAINTY[max(level, 0)]


__all__ = [
    "CERTAINTY",
    "DEFAULT_MID",
    "DOMAINS",
    "DOMAIN_LABELS",
    "SYMBOLS",
    "DomainJudgement",
    "Scale",
    "apply_overrides",
    "optimal_information_size",
    "optimal_information_size_events",
    "overall_certainty",
    "rate_imprecision",
    "rate_inconsistency",
    "rate_indirectness",
    "rate_publication_bias",
    "rate_risk_of_bias",
    "rating_label",
    "ratio_scale",
    "starting_certainty",
]
