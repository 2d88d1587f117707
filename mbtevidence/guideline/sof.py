"""GRADE summary of findings: one row per outcome construct of a stated question.

For each outcome the records of the question are pooled with the kit's synthesis policy
(:func:`~mbtevidence.synthesis.pool_evidence`, one estimate per independent sample, by setting),
the GRADE domains are rated by the rules of :mod:`mbtevidence.guideline.grade`, a reviewer's
overrides from ``evidence/grade_judgements.csv`` are applied, and the certainty and a
plain-language statement follow.  Where 2 <= k < 5 a Bayesian random-effects interval
(:func:`~mbtevidence.engine.bayes.bayes_meta_analysis`) is shown beside the Knapp-Hartung CI,
which is unreliable with so few samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import pandas as pd

from ..engine import BayesResult, bayes_meta_analysis, egger_test
from ..engine.model import FEW_STUDIES
from ..evidence import Evidence, evidence_effect_sizes
from ..evidence.records import DEFAULT_PREPOST_CORRELATION
from ..synthesis import EvidenceSynthesis, SelectionRule, pool_evidence
from . import grade
from .grade import DomainJudgement
from .question import Question, screen_records
from .statements import outcome_wording, plain_language

DESIGN_WORDS = {
    "rct": "RCT",
    "matched_cohort": "matched cohort",
    "controlled_cohort": "controlled cohort",
    "naturalistic_prepost": "pre/post cohort",
    "quality_improvement": "quality-improvement cohort",
    "implementation_study": "implementation study",
    "case_study": "case study",
}
DEFAULT_TAU_PRIOR = "halfnormal:0.5"


def sample_table(synthesis: EvidenceSynthesis, studies: pd.DataFrame, comparison: str) -> pd.DataFrame:
    """One row per pooled sample with the inputs of the GRADE rules: label, weight, n, rob
    (studies.rob_overall), randomised, study design, population and setting."""
    info = studies.set_index("study")
    rows = synthesis.rows
    design = rows["study"].map(info["design"])
    return pd.DataFrame(
        {
            "label": rows["study"].astype(str),
            "sample_id": rows["sample_id"],
            "weight": rows["weight"].astype(float),
            "n": rows["n"].astype(float),
            "rob": rows["study"].map(info["rob_overall"]),
            "randomised": (design == "rct") & (comparison == "between"),
            "study_design": design,
            "population": rows["study"].map(info["population"]),
            "setting": rows["setting"],
        }
    ).reset_index(drop=True)


@dataclass
class OutcomeFindings:
    """One row of the summary of findings: the synthesis, GRADE inputs, judgements and statement."""

    outcome: str
    measure: str
    synthesis: EvidenceSynthesis | None
    samples: pd.DataFrame
    mid: float
    ois: int | None
    bayes: BayesResult | None
    start: str
    judgements: dict[str, DomainJudgement]
    certainty: str
    statement: str

    @property
    def k(self) -> int:
        return len(self.samples)

    @property
    def n(self) -> float:
        return float(self.samples["n"].sum()) if self.k else 0.0

    @property
    def n_is_bound(self) -> bool:
        return bool(self.synthesis is not None and self.synthesis.rows.get("n_bound", pd.Series()).fillna(False).any())

    @property
    def studies(self) -> list[str]:
        return sorted(self.samples["label"].unique())

    @property
    def instruments(self) -> list[str]:
        return [] if self.synthesis is None else sorted(self.synthesis.rows["instrument"].astype(str).unique())

    @property
    def designs(self) -> str:
        """Samples per study design, e.g. "2 pre/post cohorts, 1 RCT arm"."""
        words = self.samples["study_design"].map(lambda d: DESIGN_WORDS.get(d, str(d).replace("_", " ")))
        within_trial = (self.samples["study_design"] == "rct") & ~self.samples["randomised"].astype(bool)
        counts = words.where(~within_trial, "RCT arm").value_counts()
        return ", ".join(f"{n} {word}{'s' * (n != 1)}" for word, n in counts.items())

    def result(self) -> dict[str, Any]:
        """The pooled numbers: the synthesis' ``overall.to_dict()`` (empty without data)."""
        return {} if self.synthesis is None else self.synthesis.overall.to_dict()


def ratio_sign(measure: str, rows: pd.DataFrame) -> int | None:
    """RR = exp(sign × yi) for an RR synthesis: yi is oriented positive = improvement, so sign is -1
    when fewer events are better; None for other measures or records of mixed orientation."""
    if measure != "RR":
        return None
    lower = rows["lower_is_better"].astype(bool)
    return -1 if lower.all() else 1 if not lower.any() else None


def information_size(
    measure: str, mid: float, comparison: str, correlation: float, rows: pd.DataFrame | None
) -> int | None:
    """The OIS of an outcome: the standardised formula for SMD/SMCR; for RR the events formula at
    the pooled comparator-arm event rate (None when the rows print no comparator events)."""
    if measure != "RR":
        return grade.optimal_information_size(mid, comparison, correlation)
    if rows is None or rows.get("event_arm2") is None:
        return None
    events, total = rows["event_arm2"].sum(), rows["totaln_arm2"].sum()
    return grade.optimal_information_size_events(events / total, rrr=math.expm1(mid)) if total > 0 else None


def choose_measure(candidates: pd.DataFrame, measures: tuple[str, ...]) -> str:
    """The effect measure with the most samples among an outcome's candidates (ties: ``measures`` order)."""
    samples = candidates.groupby("measure")["sample_id"].nunique()
    return max(measures, key=lambda m: (samples.get(m, 0), -measures.index(m)))


def _egger_p(synthesis: EvidenceSynthesis) -> float | None:
    return egger_test(synthesis.overall).test.p if synthesis.overall.k >= grade.EGGER_MIN_K else None


def rate_outcome(
    outcome: str,
    synthesis: EvidenceSynthesis | None,
    studies: pd.DataFrame,
    question: Question,
    overrides: pd.DataFrame,
    measure: str,
    tau_prior: str = DEFAULT_TAU_PRIOR,
    correlation: float = DEFAULT_PREPOST_CORRELATION,
) -> OutcomeFindings:
    """GRADE one outcome of ``question`` from its synthesis (``None``: no records) of ``measure``."""
    mid = question.mid_of(outcome, measure)
    _, name = outcome_wording(outcome)
    if synthesis is None:
        empty = pd.DataFrame(columns=["label", "weight", "n", "rob", "randomised", "study_design"])
        statement = f"No sample in the evidence reports {name} for this question."
        ois = information_size(measure, mid, question.comparison, correlation, None)
        return OutcomeFindings(outcome, measure, None, empty, mid, ois, None, "", {}, "", statement)
    samples = sample_table(synthesis, studies, question.comparison)
    rows, d = synthesis.rows, cast(dict[str, Any], synthesis.overall.to_dict())
    ois = information_size(measure, mid, question.comparison, correlation, rows)
    bayes = None
    if 2 <= d["k"] < FEW_STUDIES:
        bayes = bayes_meta_analysis(rows["yi"], rows["vi"], tau_prior=tau_prior, level=d["level"], slab=rows["study"])
    sign = ratio_sign(measure, rows)
    scale = grade.PLAIN if sign is None else grade.ratio_scale(sign)
    imprecision = grade.rate_imprecision(d["ci_low"], d["ci_high"], float(samples["n"].sum()), ois, mid, scale=scale)
    if bayes is not None and imprecision.levels > 0:
        few = f" (Bayesian 95% CrI with k = {d['k']}: {scale.interval(bayes.mu_low, bayes.mu_high)})"
        imprecision = replace(imprecision, rule=imprecision.rule + few, explanation=imprecision.explanation + few)
    start = grade.starting_certainty(samples)
    judgements = {
        "risk_of_bias": grade.rate_risk_of_bias(samples, start),
        "inconsistency": grade.rate_inconsistency(
            d["k"], d["i2"], d["pi_low"], d["pi_high"], tuple(rows["yi"]), scale=scale
        ),
        "indirectness": grade.rate_indirectness(samples, question.populations, question.settings),
        "imprecision": imprecision,
        "publication_bias": grade.rate_publication_bias(d["k"], _egger_p(synthesis)),
    }
    judgements = grade.apply_overrides(judgements, overrides)
    certainty = grade.overall_certainty(start, judgements)
    context = f"at about {question.target_months:g} months, compared with {question.comparator.split(' (')[0]}"
    statement = plain_language(certainty, question.subject, outcome, d["estimate"], mid, context)
    return OutcomeFindings(
        outcome, measure, synthesis, samples, mid, ois, bayes, start, judgements, certainty, statement
    )


def overrides_for(judgements: pd.DataFrame, question: Question, outcome: str) -> pd.DataFrame:
    """The reviewer's rows of ``grade_judgements.csv`` for this outcome and question (an empty
    ``question`` cell applies to every question; a row naming the question wins)."""
    if judgements.empty:
        return judgements
    mine = judgements[
        (judgements["outcome_construct"] == outcome)
        & (judgements["question"].isna() | (judgements["question"] == question.id))
    ]
    return mine.assign(_specific=mine["question"].notna()).sort_values("_specific").drop(columns="_specific")


@dataclass
class SummaryOfFindings:
    """A GRADE summary-of-findings table: the question, one :class:`OutcomeFindings` per outcome
    (in the question's order), the analysis settings and the evidence version."""

    question: Question
    findings: list[OutcomeFindings]
    records: pd.DataFrame
    rule: SelectionRule
    method: str
    test: str
    tau_prior: str
    evidence_version: str
    unused_overrides: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per outcome: counts, the pooled numbers (unrounded), each domain's rating, rule
        and override, the certainty and the statement."""
        from .sof_output import findings_frame

        return findings_frame(self)

    def footnotes(self) -> list[str]:
        from .sof_output import footnote_texts

        return footnote_texts(self)

    def to_html(self, path: Path | str | None = None) -> str:
        """The table as an HTML page (written to ``path`` when given)."""
        from .sof_output import sof_html

        return sof_html(self, path)

    def to_csv(self, path: Path | str) -> Path:
        out = Path(path)
        self.to_frame().to_csv(out, index=False)
        return out

    def to_docx(self, path: Path | str) -> Path:
        """The table as a Word document (landscape), written to ``path``."""
        from .sof_output import sof_docx

        return sof_docx(self, Path(path))

    def _repr_html_(self) -> str:
        from .sof_output import sof_fragment

        return sof_fragment(self)

    @property
    def syntheses(self) -> dict[str, EvidenceSynthesis]:
        return {f.outcome: f.synthesis for f in self.findings if f.synthesis is not None}

    def headline(self) -> str:
        """One line: the certainty across outcomes and the outcome with the most samples."""
        rated = [f for f in self.findings if f.synthesis is not None]
        title = f"{self.question.subject} compared with {self.question.comparator}"
        if not rated:
            return f"{title}: no outcome of the table has a sample."
        from .sof_output import effect_text

        counts = pd.Series([f.certainty for f in rated]).value_counts()
        spread = ", ".join(f"{c} for {n}" for c, n in counts.items())
        top = max(rated, key=lambda f: f.k)
        return (
            f"{title}: certainty {spread} of {len(self.findings)} outcomes ({len(self.findings) - len(rated)} without "
            f"a sample); {outcome_wording(top.outcome)[1]} {effect_text(top)}, {top.k} samples, {top.certainty}."
        )

    @property
    def included_studies(self) -> list[str]:
        """Studies with a record pooled in any outcome, in order of first appearance."""
        return list(dict.fromkeys(s for f in self.findings for s in f.samples["label"]))


def summary_of_findings(
    evidence: Evidence,
    question: Question | None = None,
    method: str = "REML",
    test: str = "knha",
    correlation: float = DEFAULT_PREPOST_CORRELATION,
    tau_prior: str = DEFAULT_TAU_PRIOR,
) -> SummaryOfFindings:
    """Build the summary of findings of ``question`` from the evidence.

    Parameters
    ----------
    evidence : Evidence
        From :func:`~mbtevidence.evidence.load_evidence`; its ``grade_judgements`` table (may be
        empty) holds the reviewer's overrides.
    question : Question, optional
        Defaults to :class:`Question` ().
    method, test : str
        τ² estimator and test of the random-effects syntheses.
    correlation : float
        Pre-post correlation where a record prints none (effect sizes and the within-group OIS).
    tau_prior : str
        Prior on τ of the few-study Bayesian interval (see :func:`~mbtevidence.engine.bayes.parse_prior`).

    Returns
    -------
    SummaryOfFindings
    """
    question = question or Question()
    es = evidence_effect_sizes(evidence.records, ri=correlation)
    es = es.assign(screening=screen_records(es, evidence.arms, question))
    rule = SelectionRule(target_months=question.target_months)
    judgements = evidence.tables.get("grade_judgements", pd.DataFrame())
    findings = []
    for outcome in question.outcomes:
        candidates = es[(es["screening"] == "") & (es["outcome_construct"] == outcome)]
        measure = choose_measure(candidates, question.measures)
        other = candidates.index[candidates["measure"] != measure]
        es.loc[other, "screening"] = f"another effect measure for this outcome ({measure} has more samples)"
        candidates = candidates.drop(other)
        synthesis = (
            None if candidates.empty else pool_evidence(candidates, by="setting", rule=rule, method=method, test=test)
        )
        mine = overrides_for(judgements, question, outcome)
        findings.append(
            rate_outcome(outcome, synthesis, evidence.studies, question, mine, measure, tau_prior, correlation)
        )
    unused = []
    if not judgements.empty:
        applies = judgements["question"].isna() | (judgements["question"] == question.id)
        for row in judgements[applies].itertuples(index=False):
            finding = next((f for f in findings if f.outcome == row.outcome_construct), None)
            if finding is None or finding.synthesis is None:
                unused.append(f"{row.outcome_construct}/{row.domain}: no synthesis of that outcome in this table")
    version = evidence.version
    return SummaryOfFindings(question, findings, es, rule, method, test, tau_prior, version, unused)
