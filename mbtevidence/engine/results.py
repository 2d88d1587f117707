"""Result objects of the engine: one shape for all (``to_dict()``, ``to_frame()``, ``summary()``).

Every result holds the :class:`~mbtevidence.engine.model.ModelFit` it presents, so its settings
(τ² estimator, test, level) travel with it; tests of hypotheses are :class:`TestResult`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .model import ModelFit
from .numerics import chi2_sf, critical_value, f_sf, ratio, two_sided_p
from .text import clean, conventions, fmt, fmt_p, frame_text, heterogeneity_lines, notes_lines


class Result(ABC):
    """Shared interface: a JSON-safe dict, a tidy frame and a printable summary."""

    @abstractmethod
    def to_dict(self) -> dict[str, object]: ...

    @abstractmethod
    def to_frame(self) -> pd.DataFrame: ...

    @abstractmethod
    def summary(self) -> str: ...

    def __str__(self) -> str:
        return self.summary()


@dataclass(frozen=True)
class TestResult:
    """A hypothesis test: statistic name (Q, QM, F, t, z), value, degrees of freedom, p value."""

    __test__ = False  # not a pytest class

    statistic: str
    value: float
    df1: float
    df2: float
    p: float
    convention: str = ""

    def to_dict(self) -> dict[str, object]:
        return {k: clean(v) for k, v in self.__dict__.items()}

    def __str__(self) -> str:
        df = f"df = {self.df1:g}" if not math.isfinite(self.df2) else f"df1 = {self.df1:g}, df2 = {self.df2:g}"
        return f"{self.statistic}({df}) = {fmt(self.value)}, p = {fmt_p(self.p)}"


def labels(slab: Iterable[object] | None, k: int) -> list[str]:
    """Study labels: ``slab`` as strings, or Study 1..k."""
    return [f"Study {i + 1}" for i in range(k)] if slab is None else [str(s) for s in slab]


@dataclass
class MetaAnalysisResult(Result):
    """Pooled estimate of an intercept-only model."""

    fit: ModelFit
    slab: list[str] | None = None

    @property
    def k(self) -> int:
        return self.fit.k

    @property
    def estimate(self) -> float:
        return float(self.fit.beta[0])

    @property
    def se(self) -> float:
        return float(self.fit.se[0])

    @property
    def test(self) -> TestResult:
        stat = float(ratio(self.estimate, self.se))
        name = "z" if self.fit.test == "z" else "t"
        return TestResult(name, stat, self.fit.df, math.inf, float(self.fit.pvalues(np.array([stat]))[0]))

    @property
    def weights(self) -> pd.Series:
        return pd.Series(self.fit.weights, index=labels(self.slab, self.k), name="weight (%)")

    @property
    def notes(self) -> list[str]:
        return self.fit.all_notes

    def to_dict(self) -> dict[str, object]:
        fit, test = self.fit, self.test
        pred = fit.predict(np.ones((1, 1)))
        het, random = fit.has_heterogeneity, fit.is_random
        ci = fit.heterogeneity_ci() if random else {}
        nan2 = (math.nan, math.nan)
        out = {
            "k": fit.k,
            "estimate": self.estimate,
            "se": self.se,
            "stat": test.value,
            "stat_name": test.statistic,
            "df": fit.df,
            "p": test.p,
            "ci_low": pred["ci_low"][0],
            "ci_high": pred["ci_high"][0],
            "pi_low": pred["pi_low"][0],
            "pi_high": pred["pi_high"][0],
            "tau2": fit.tau2 if het else math.nan,
            "tau2_se": fit.tau2_se,
            "tau2_ci_low": ci.get("tau2", nan2)[0],
            "tau2_ci_high": ci.get("tau2", nan2)[1],
            "tau": math.sqrt(fit.tau2) if het else math.nan,
            "i2": fit.i2,
            "i2_ci_low": ci.get("i2", nan2)[0],
            "i2_ci_high": ci.get("i2", nan2)[1],
            "h2": fit.h2,
            "qe": fit.qe if het else math.nan,
            "qe_df": fit.k - fit.n_coef if het else math.nan,
            "qe_p": fit.qe_p,
            "s2": fit.s2,
            "method": fit.method,
            "test": fit.test,
            "level": fit.level,
            "notes": list(self.notes),
        }
        return {key: clean(value) for key, value in out.items()}

    def to_frame(self) -> pd.DataFrame:
        row = self.to_dict()
        row["notes"] = "; ".join(self.notes)
        return pd.DataFrame([row])

    def summary(self) -> str:
        fit, test = self.fit, self.test
        pred = {key: float(value[0]) for key, value in fit.predict(np.ones((1, 1))).items()}
        kind = "Equal-Effects" if fit.method == "EE" else "Random-Effects"
        lines = [f"{kind} Model (k = {fit.k}; tau^2 estimator: {fit.method})", ""] + heterogeneity_lines(fit)
        stat = test.statistic + ("" if fit.test == "z" else f"(df = {fit.df:g})")
        lines += [
            "",
            "Model Results:",
            "",
            f"estimate = {fmt(self.estimate)}, se = {fmt(self.se)}, {stat} = {fmt(test.value)}, "
            f"p = {fmt_p(test.p)}, {fit.level:g}% CI [{fmt(pred['ci_low'])}, {fmt(pred['ci_high'])}]",
        ]
        if fit.prediction_defined:
            lines.append(f"prediction interval [{fmt(pred['pi_low'])}, {fmt(pred['pi_high'])}]")
        return "\n".join(lines + ["", conventions(fit)] + notes_lines(self.notes))


@dataclass
class MetaRegressionResult(Result):
    """Mixed-effects meta-regression: coefficients, omnibus test, residual heterogeneity, R²."""

    fit: ModelFit
    r2: float
    moderators: pd.DataFrame

    @property
    def coefficients(self) -> pd.DataFrame:
        fit = self.fit
        se = fit.se
        stat = ratio(fit.beta, se)
        return pd.DataFrame(
            {
                "estimate": fit.beta,
                "se": se,
                "stat": stat,
                "p": fit.pvalues(stat),
                "ci_low": fit.beta - fit.crit * se,
                "ci_high": fit.beta + fit.crit * se,
            },
            index=pd.Index(fit.names, name="term"),
        )

    def omnibus(self, terms: list[str] | None = None) -> TestResult:
        """Test that the given coefficients (default: all but the intercept) are 0: QM ~ χ²(m),
        or F = QM/m ~ F(m, k-p) under Knapp-Hartung (both variants)."""
        fit = self.fit
        idx = [fit.names.index(t) for t in (terms or fit.names[1:])]
        b = fit.beta[idx]
        m = len(idx)
        if fit.exact_fit:  # Var(β̂) = 0: undefined, as metafor's NA (see the notes)
            return TestResult("F", math.nan, m, fit.df, math.nan)
        qm = float(b @ np.linalg.solve(fit.vb[np.ix_(idx, idx)], b))
        if fit.test != "z":
            return TestResult("F", qm / m, m, fit.df, f_sf(qm / m, m, fit.df))
        return TestResult("QM", qm, m, math.inf, chi2_sf(qm, m))

    @property
    def notes(self) -> list[str]:
        return self.fit.all_notes

    def predict(self, newmods: pd.DataFrame | dict) -> pd.DataFrame:
        """Predicted effects with CI and PI at moderator values (numeric moderators, or dummy
        columns by name), e.g. for dose-response plots."""
        new = pd.DataFrame(newmods)
        x = np.column_stack([np.ones(len(new))] + [new[name].to_numpy(dtype=float) for name in self.fit.names[1:]])
        return pd.concat([new.reset_index(drop=True), pd.DataFrame(self.fit.predict(x))], axis=1)

    def to_dict(self) -> dict[str, object]:
        fit = self.fit
        coefficients = [
            {"name": term, **{k: clean(v) for k, v in row.items()}} for term, row in self.coefficients.iterrows()
        ]
        return {
            "k": fit.k,
            "n_coef": fit.n_coef,
            "method": fit.method,
            "test": fit.test,
            "level": fit.level,
            "coefficients": coefficients,
            "qm": self.omnibus().to_dict(),
            "reference_levels": dict(fit.reference_levels),
            **{
                k: clean(v)
                for k, v in {
                    "tau2": fit.tau2,
                    "tau2_se": fit.tau2_se,
                    "i2": fit.i2,
                    "h2": fit.h2,
                    "qe": fit.qe,
                    "qe_df": fit.k - fit.n_coef,
                    "qe_p": fit.qe_p,
                    "r2": self.r2,
                    "s2": fit.s2,
                }.items()
            },
            "notes": list(self.notes),
        }

    def to_frame(self) -> pd.DataFrame:
        return self.coefficients

    def summary(self) -> str:
        fit = self.fit
        lines = [f"Mixed-Effects Model (k = {fit.k}; tau^2 estimator: {fit.method})", ""]
        lines += heterogeneity_lines(fit, residual=True)
        if math.isfinite(self.r2):
            lines.append(f"R^2 (amount of heterogeneity accounted for): {self.r2:.2f}%")
        lines.append(f"Test of moderators: {self.omnibus()}")
        lines += [f"Reference level of {name}: {level}" for name, level in fit.reference_levels.items()]
        lines += ["", "Model Results:", "", frame_text(self.coefficients), "", conventions(fit)]
        return "\n".join(lines + notes_lines(self.notes))


SEPARATE_TAU2 = (
    "separate tau² per subgroup; Q-between on subgroup estimates with Wald SEs, chi²(G-1) "
    "(RevMan, R meta, metapsyTools)"
)
COMMON_TAU2 = "mixed-effects model with one common tau² (metafor mods = ~ factor(group))"


@dataclass
class SubgroupResult(Result):
    """Pooled result per subgroup and the test for subgroup differences in both conventions."""

    groups: dict[str, MetaAnalysisResult]
    between_separate: TestResult
    common: MetaRegressionResult

    @property
    def between_common(self) -> TestResult:
        om = self.common.omnibus()
        return TestResult(
            om.statistic, om.value, om.df1, om.df2, om.p, f"{COMMON_TAU2}, tau² = {fmt(self.common.fit.tau2)}"
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per subgroup (separate τ² fits)."""
        frames = [r.to_frame().assign(group=g) for g, r in self.groups.items()]
        return pd.concat(frames).set_index("group")

    def to_dict(self) -> dict[str, object]:
        return {
            "subgroups": {g: r.to_dict() for g, r in self.groups.items()},
            "test_separate_tau2": self.between_separate.to_dict(),
            "test_common_tau2": self.between_common.to_dict(),
        }

    def summary(self) -> str:
        frame = self.to_frame()[["k", "estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2"]]
        first = next(iter(self.groups.values())).fit
        return "\n".join(
            [
                "Subgroups (separate tau² per subgroup):",
                frame_text(frame),
                "",
                f"Test for subgroup differences, separate tau² (RevMan / meta): {self.between_separate}",
                f"Test for subgroup differences, common tau² = {fmt(self.common.fit.tau2)} (metafor mixed-effects): "
                f"{self.between_common}",
                "",
                conventions(first),
            ]
        )


@dataclass
class RobustResult(Result):
    """Cluster-robust (CR1 sandwich) inference for a model fitted to all (dependent) estimates."""

    fit: ModelFit
    clusters: int
    vb: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def df(self) -> float:
        return float(self.clusters - self.fit.n_coef)

    def to_frame(self) -> pd.DataFrame:
        se = np.sqrt(np.diag(self.vb))
        stat = ratio(self.fit.beta, se)
        crit = critical_value(self.fit.level, self.df)
        return pd.DataFrame(
            {
                "estimate": self.fit.beta,
                "se": se,
                "stat": stat,
                "df": self.df,
                "p": two_sided_p(stat, self.df),
                "ci_low": self.fit.beta - crit * se,
                "ci_high": self.fit.beta + crit * se,
            },
            index=pd.Index(self.fit.names, name="term"),
        )

    def to_dict(self) -> dict[str, object]:
        rows = [{"name": t, **{k: clean(v) for k, v in r.items()}} for t, r in self.to_frame().iterrows()]
        return {
            "k": self.fit.k,
            "clusters": self.clusters,
            "method": self.fit.method,
            "tau2": clean(self.fit.tau2),
            "df": clean(self.df),
            "coefficients": rows,
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        return "\n".join(
            [
                f"Cluster-robust inference (k = {self.fit.k} estimates in {self.clusters} clusters; "
                f"tau² {self.fit.method} = {fmt(self.fit.tau2)}; CR1 sandwich, t(df = {self.df:g}))",
                frame_text(self.to_frame()),
            ]
            + notes_lines(self.notes)
        )
