"""The question a summary-of-findings table answers, and which evidence records it takes.

A :class:`Question` names the population(s), the intervention and its setting(s), the comparison
(within-group change from before treatment, or against another treatment), the outcomes in
table order and the timepoint window; :func:`screen_records` says for every effect record why it
is not a candidate for the question's syntheses (the PRISMA flow counts these reasons).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from ..evidence import load_schema
from .grade import DEFAULT_MID, RR_MID

MAX_OUTCOMES = 7
"""A summary-of-findings table shows at most seven outcomes (GRADE guidelines 12, Guyatt et al. 2013)."""
DEFAULT_OUTCOMES = (
    "borderline_features",
    "symptom_severity",
    "suicide_attempts",
    "self_harm",
    "depression",
    "social_functioning",
    "quality_of_life",
)
"""Critical and important outcomes for BPD treatment guidelines (after Storebø et al., Cochrane 2020)."""
MEASURES_OF_COMPARISON = {"within": ("SMCR",), "between": ("SMD", "RR")}
"""Effect measures of each comparison, in order of preference when an outcome has several."""
SETTING_WORDS = {
    "day_hospital": "day-hospital",
    "partial_hospital": "partial-hospital",
    "intensive_outpatient": "intensive outpatient",
    "outpatient": "outpatient",
    "inpatient": "inpatient",
}
UNSPECIFIC_SETTINGS = ("mixed", "not_reported")
"""Settings that may contain the asked one: their samples stay in a setting question, as indirect evidence."""


@dataclass(frozen=True)
class Question:
    """The question a summary-of-findings table answers.

    Parameters
    ----------
    id : str
        Short name; reviewer overrides in ``grade_judgements.csv`` may target it (``question``).
    populations : tuple of str
        Populations (studies.population) the question is about; other samples are indirect.
    settings : tuple of str, optional
        Settings (arms.setting) asked about; ``None``: any.  Samples of a ``mixed`` or
        ``not_reported`` setting stay in, as indirect evidence; other settings are left out.
    intervention, condition : str
        The intervention in words, and the arms.condition of its arms.
    comparison : {"within", "between"}
        ``within``: change from before treatment (SMCR, no comparison group); ``between``: the
        intervention arm against a comparator arm of another condition (SMD, or RR for events).
    outcomes : tuple of str
        Outcome constructs, in table order (at most seven).
    months, target_months
        Timepoint window (months since the start of treatment) and the preferred timepoint.
    mid : mapping
        Minimal important difference per outcome: SD units for SMD and SMCR (default 0.2); for a
        risk ratio the relative change that matters (default 0.25: RR beyond 0.8 or 1.25).
    """

    id: str = "main"
    populations: tuple[str, ...] = ("adult_bpd",)
    settings: tuple[str, ...] | None = None
    intervention: str = "MBT"
    condition: str = "mbt"
    comparison: str = "within"
    outcomes: tuple[str, ...] = DEFAULT_OUTCOMES
    months: tuple[float, float] = (12.0, 27.0)
    target_months: float = 18.0
    mid: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.comparison not in MEASURES_OF_COMPARISON:
            raise ValueError(f"comparison={self.comparison!r}: choose 'within' or 'between'")
        if not 0 < len(self.outcomes) <= MAX_OUTCOMES:
            raise ValueError(
                f"{len(self.outcomes)} outcomes: a summary-of-findings table holds 1 to {MAX_OUTCOMES} (split it)"
            )
        if len(set(self.outcomes)) != len(self.outcomes):
            raise ValueError(f"outcomes repeat: {', '.join(self.outcomes)}")
        bad = {o: m for o, m in self.mid.items() if not m > 0}
        if bad:
            raise ValueError(f"minimal important differences must be > 0: {bad}")

    @property
    def measures(self) -> tuple[str, ...]:
        return MEASURES_OF_COMPARISON[self.comparison]

    def mid_of(self, outcome: str, measure: str) -> float:
        """The MID on the analysis scale: SD units, or log(1 + relative change) for RR."""
        if measure == "RR":
            return math.log1p(self.mid[outcome]) if outcome in self.mid else RR_MID
        return float(self.mid.get(outcome, DEFAULT_MID))

    @property
    def setting(self) -> str:
        """The settings in words ("any" when the question names none)."""
        return (
            "any"
            if self.settings is None
            else " or ".join(SETTING_WORDS.get(s, s.replace("_", " ")) for s in self.settings)
        )

    @property
    def subject(self) -> str:
        """The intervention as a sentence subject: MBT, or MBT in day-hospital settings."""
        return self.intervention if self.settings is None else f"{self.intervention} in {self.setting} settings"

    @property
    def comparator(self) -> str:
        return "before treatment (within-group change)" if self.comparison == "within" else "another treatment"

    @property
    def title(self) -> str:
        return f"{self.subject} compared with {self.comparator} for {self.population}"

    @property
    def population(self) -> str:
        """The populations in words (the schema's vocabulary)."""
        words = load_schema()["vocabularies"]["population"]
        return " or ".join(words.get(p, p.replace("_", " ")) for p in self.populations)

    @property
    def timepoint(self) -> str:
        low, high = self.months
        return f"{low:g}-{high:g} months after the start of treatment (closest to {self.target_months:g})"


def screen_records(es: pd.DataFrame, arms: pd.DataFrame, question: Question) -> pd.Series:
    """Why each record is not a candidate for the question (``""``: a candidate); first reason wins.

    ``es`` are rows of :func:`~mbtevidence.evidence.evidence_effect_sizes`, ``arms`` the arms table.
    """
    comparator = es[["study", "comparator_arm"]].merge(
        arms[["study", "arm", "condition"]].rename(columns={"arm": "comparator_arm", "condition": "comparator"}),
        on=["study", "comparator_arm"],
        how="left",
    )["comparator"]
    comparator.index = es.index
    low, high = question.months
    setting_ok = (
        pd.Series(True, index=es.index)
        if question.settings is None
        else es["setting"].isin((*question.settings, *UNSPECIFIC_SETTINGS))
    )
    checks = [
        (es["yi"].isna(), "no computable effect size"),
        (es["condition"] != question.condition, f"arm is not {question.intervention}"),
        (~es["outcome_construct"].isin(question.outcomes), "outcome not in the table"),
        (
            ~es["measure"].isin(question.measures),
            f"another comparison (effect measure not {'/'.join(question.measures)})",
        ),
        (comparator == question.condition, f"comparator arm is also {question.intervention}"),
        (~es["timepoint_months"].between(low, high), f"outside {low:g}-{high:g} months"),
        (~setting_ok, "setting outside the question"),
    ]
    reasons = pd.Series("", index=es.index, dtype=object)
    for mask, reason in reversed(checks):
        reasons[mask.fillna(False).astype(bool)] = reason
    return reasons
