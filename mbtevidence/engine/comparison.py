"""How much a pooled result depends on the method: the few-study comparison.

With 2-5 studies the frequentist intervals disagree (Cochrane Handbook 10.10.4): Knapp-Hartung
can be uselessly wide (k = 2) or, untruncated, narrower than the z interval; REML with a z test
ignores the uncertainty in τ².  :func:`few_study_comparison` refits one result under

* REML + Wald z (metafor's default),
* REML + Knapp-Hartung (this kit's default),
* REML + Knapp-Hartung with s² truncated at 1 (``adhoc``),
* DerSimonian-Laird + Wald z (RevMan's classic default),
* the Bayesian normal-normal model (:mod:`mbtevidence.engine.bayes`) with a half-normal(0.5) prior
  on τ and a flat prior on μ by default (Röver et al. 2021, Res Synth Methods 12(4): a weakly
  informative τ prior for standardised or log-ratio effects),

side by side, so a report can say whether the conclusion survives the choice of method.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .analyses import meta_analysis
from .bayes import BayesResult, bayes_meta_analysis
from .results import MetaAnalysisResult, Result
from .text import clean, frame_text

FREQUENTIST = (("REML", "z"), ("REML", "knha"), ("REML", "adhoc"), ("DL", "z"))


@dataclass
class MethodComparison(Result):
    """The same data pooled by several methods; one row per method."""

    table: pd.DataFrame
    bayes: BayesResult
    level: float

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def to_dict(self) -> dict[str, object]:
        rows = [{k: clean(v) for k, v in row.items()} for row in self.table.reset_index().to_dict("records")]
        return {"level": self.level, "methods": rows, "bayes": self.bayes.to_dict()}

    @property
    def conclusion_depends_on_method(self) -> bool:
        """Whether some methods' intervals exclude 0 while others include it."""
        excludes = (self.table["low"] > 0) | (self.table["high"] < 0)
        return bool(excludes.any() and not excludes.all())

    def summary(self) -> str:
        verdict = (
            "the interval excludes no effect under some methods but not others: the conclusion depends on the method"
            if self.conclusion_depends_on_method
            else "all methods agree on whether the interval excludes no effect"
        )
        return "\n".join(
            [
                f"Few-study comparison ({self.level:g}% intervals; k = {self.bayes.k})",
                frame_text(self.table),
                f"Reading: {verdict}.",
            ]
        )


def few_study_comparison(
    result: MetaAnalysisResult, tau_prior: str = "halfnormal:0.5", mu_prior: str = "flat", delta: float | None = None
) -> MethodComparison:
    """Refit a meta-analysis under REML+z, REML+knha, REML+adhoc, DL+z and the Bayesian model.

    Parameters
    ----------
    result : MetaAnalysisResult
        The fitted result; its data and level are reused.
    tau_prior, mu_prior : str
        Priors of the Bayesian model (see :func:`mbtevidence.engine.bayes.parse_prior`).
    delta : float, optional
        A clinically important difference: the Bayesian row reports P(μ > delta).

    Returns
    -------
    MethodComparison
        Columns: estimate (posterior median for the Bayesian model), low, high (CI or equal-tailed
        credible interval), pi_low, pi_high (prediction interval; NaN for k < 3), tau, p (two-sided
        p value; for the Bayesian model P(μ <= 0)), note.
    """
    fit = result.fit
    rows = []
    for method, test in FREQUENTIST:
        refit = meta_analysis(fit.y, fit.v, method, test, fit.level)
        d = refit.to_dict()
        rows.append(
            {
                "method": f"{method} + {test}",
                "estimate": d["estimate"],
                "low": d["ci_low"],
                "high": d["ci_high"],
                "pi_low": d["pi_low"],
                "pi_high": d["pi_high"],
                "tau": d["tau"],
                "p": d["p"],
                "note": "; ".join(n for n in refit.notes if not n.startswith("k = ")),
            }
        )
    bayes = bayes_meta_analysis(fit.y, fit.v, tau_prior=tau_prior, mu_prior=mu_prior, level=fit.level, delta=delta)
    b = bayes.to_dict()
    note = f"priors: tau ~ {b['tau_prior']}, mu ~ {b['mu_prior']}; P(mu > 0) = {b['p_mu_gt_0']:.3f}"
    if delta is not None:
        note += f"; P(mu > {delta:g}) = {b['p_mu_gt_delta']:.3f}"
    rows.append(
        {
            "method": "Bayesian (normal-normal)",
            "estimate": b["mu_median"],
            "low": b["mu_low"],
            "high": b["mu_high"],
            "pi_low": b["pi_low"],
            "pi_high": b["pi_high"],
            "tau": b["tau_median"],
            "p": 1 - b["p_mu_gt_0"],
            "note": note,
        }
    )
    table = (
        pd.DataFrame(rows)
        .set_index("method")
        .astype({c: float for c in ("estimate", "low", "high", "pi_low", "pi_high", "tau", "p")})
    )
    return MethodComparison(table, bayes, fit.level)
