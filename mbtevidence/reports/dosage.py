"""Dosage moderators: which have enough data for a dose-response plot or a meta-regression.

A meta-regression on a handful of samples can look decisive and mean nothing: with the
timepoint left free, one 36-month programme measured at 27 months against three 18-month
programmes measured at 12 gives F = 944, R² = 100 %.  So every moderator is reported with the
samples that have it, its distinct values, and whether it is confounded with the timepoint; a
meta-regression is fitted only with at least ``min_k`` samples (Cochrane Handbook 10.11.4:
about ten studies per characteristic), and otherwise the report says why not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..engine import MetaRegressionResult, meta_regression
from ..figures.dose_response import moderator_values
from ..synthesis import EvidenceSynthesis

MODERATOR_WORDS = {
    "planned_duration_months": "Planned duration (months)",
    "months_received_mean": "Months of treatment received (mean)",
    "days_per_week": "Treatment days per week",
    "hours_per_week": "Therapy hours per week",
    "sessions_per_week": "Sessions per week (individual + group)",
}
DOSAGE_MODERATORS = tuple(MODERATOR_WORDS)
MIN_FOR_PLOT = 3
CONFOUNDED = 0.8
"""|correlation| between a moderator and the timepoint above which the two cannot be told apart."""


@dataclass(frozen=True)
class ModeratorCheck:
    """What the pooled samples say about one dosage moderator."""

    moderator: str
    samples: int
    values: tuple[float, ...]
    timepoints: tuple[float, ...]
    reason: str | None
    """Why no meta-regression is fitted (None: fit it)."""

    @property
    def plot(self) -> bool:
        return self.samples >= MIN_FOR_PLOT and len(set(self.values)) >= 2

    @property
    def no_plot_reason(self) -> str:
        """Why there is no dose-response plot ('' when there is one)."""
        if self.plot:
            return ""
        return (
            f"{self.samples} sample(s) with {len(set(self.values))} distinct value(s); a plot needs at least "
            f"{MIN_FOR_PLOT} samples with 2 or more values"
        )


def check_moderator(synthesis: EvidenceSynthesis, moderator: str, min_k: int) -> ModeratorCheck:
    """Samples with the moderator, its values, the timepoints, and whether a fit is defensible."""
    x = (
        moderator_values(synthesis.rows, moderator)
        if moderator in synthesis.rows or moderator == "sessions_per_week"
        else pd.Series(np.nan, index=synthesis.rows.index)
    )
    rows = synthesis.rows[x.notna()]
    values = tuple(float(v) for v in x[x.notna()])
    timepoints = tuple(float(t) for t in rows["timepoint_months"])
    distinct = len(set(values))
    if len(rows) < 2 or distinct < 2:
        reason = f"{len(rows)} sample(s) report it with {distinct} distinct value(s): nothing to compare"
    elif len(rows) < min_k:
        reason = f"{len(rows)} samples < {min_k} (min_k_meta_regression): too few for a meta-regression"
    elif len(set(timepoints)) > 1 and abs(np.corrcoef(values, timepoints)[0, 1]) >= CONFOUNDED:
        reason = "confounded with the timepoint of the estimates (|r| ≥ 0.8): set target_months or narrow the window"
    else:
        reason = None
    return ModeratorCheck(moderator, len(rows), values, timepoints, reason)


def moderator_checks(synthesis: EvidenceSynthesis, min_k: int) -> list[ModeratorCheck]:
    return [check_moderator(synthesis, m, min_k) for m in DOSAGE_MODERATORS]


def checks_table(checks: list[ModeratorCheck], k: int) -> pd.DataFrame:
    """One row per moderator: data available and the decision."""
    return pd.DataFrame(
        {
            "Dosage moderator": [MODERATOR_WORDS[c.moderator] for c in checks],
            "Samples with a value": [f"{c.samples} of {k}" for c in checks],
            "Values": [", ".join(f"{v:g}" for v in c.values) or "–" for c in checks],
            "Timepoints of the estimates (months)": [", ".join(f"{t:g}" for t in c.timepoints) or "–" for c in checks],
            "Dose-response plot": ["yes" if c.plot else "no" for c in checks],
            "Meta-regression": [c.reason or "fitted below" for c in checks],
        }
    )


def fit(synthesis: EvidenceSynthesis, check: ModeratorCheck) -> MetaRegressionResult:
    """The meta-regression of a moderator that passed :func:`check_moderator`."""
    if check.reason is not None:
        raise ValueError(f"{check.moderator}: {check.reason}")
    x = moderator_values(synthesis.rows, check.moderator)
    rows = synthesis.rows[x.notna()]
    settings = synthesis.fit
    return meta_regression(
        rows["yi"],
        rows["vi"],
        x[x.notna()].rename(check.moderator).to_frame(),
        settings.method,
        settings.test,
        settings.level,
    )


__all__ = [
    "DOSAGE_MODERATORS",
    "MODERATOR_WORDS",
    "ModeratorCheck",
    "check_moderator",
    "checks_table",
    "fit",
    "moderator_checks",
]
