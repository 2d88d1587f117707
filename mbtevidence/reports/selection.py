"""Which records a report pools, step by step, with a count at every step (the report's flow).

:func:`select_effects` turns a report's options into the candidate effect sizes of one effect
measure (within-group change of MBT arms, or MBT against another treatment), one outcome
construct (or instrument), a timepoint window and the chosen study designs; every step is
counted in records, independent samples and studies, so a report can say where the evidence
thins out.  An empty selection stops with one line naming the parameter that emptied it and
the values that have data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..evidence import Evidence, evidence_effect_sizes
from ..figures.labels import grouping
from ..synthesis import EvidenceSynthesis, SelectionRule, pool_evidence
from .parameters import EFFECT_MEASURES, ParameterError, ReportOptions
from .tables import words

DESIGN_OF_MEASURE = {"SMCR": "within", "SMD": "between"}


def _count(frame: pd.DataFrame, step: str) -> dict[str, object]:
    return {
        "Step": step,
        "Records": len(frame),
        "Independent samples": frame["sample_id"].nunique(),
        "Studies": frame["study"].nunique(),
    }


def comparator_conditions(evidence: Evidence) -> pd.Series:
    """Condition of each record's comparator arm (None for single-arm records)."""
    arms = evidence.arms.set_index(["study", "arm"])["condition"]
    records = evidence.records
    keys = list(zip(records["study"], records["comparator_arm"], strict=True))
    return pd.Series([arms.get(k) if isinstance(k[1], str) else None for k in keys], index=records.index)


def grouping_columns(effects: pd.DataFrame) -> pd.DataFrame:
    """``effects`` with the named groupings of the forest plots as columns (dosage band, fidelity
    level, period), formed as :func:`mbtevidence.figures.labels.grouping` forms them."""
    return effects.assign(
        **{name: grouping(effects, name).keys for name in ("dosage_band", "fidelity_level", "period")}
    )


@dataclass
class Selection:
    """Candidate effect sizes of a report and the counts of every selection step."""

    effects: pd.DataFrame
    flow: pd.DataFrame
    options: ReportOptions
    notes: list[str] = field(default_factory=list)

    def rule(self, population: str | None = None) -> SelectionRule:
        """The stated rule that keeps one estimate per independent sample."""
        options = self.options
        instruments = (options.instrument,) if options.instrument else ()
        return SelectionRule(population or options.population, options.target_months, instruments)

    def pool(self, by: str | None = None, dependence: str = "one_per_sample", **changes: object) -> EvidenceSynthesis:
        """Pool the candidates with the report's model settings (``changes`` override them:
        ``rule=``, ``method=``, ``test=``, ``effects=``)."""
        effects = changes.pop("effects", self.effects)
        settings = {"rule": self.rule(), **self.options.model, **changes}
        return pool_evidence(effects, by=by, dependence=dependence, **settings)  # type: ignore[arg-type]


def all_effect_sizes(evidence: Evidence, options: ReportOptions) -> pd.DataFrame:
    """Every record with its effect size (at the report's pre-post correlation), the condition of its
    comparator arm and its study's design (``study_design``).

    Computed once per evidence object and correlation (a report asks many times); callers
    filter or copy the frame, never change it.
    """
    cache = evidence.__dict__.setdefault("_report_effect_sizes", {})
    if options.prepost_correlation not in cache:
        es = evidence_effect_sizes(evidence.records, ri=options.prepost_correlation)
        designs = evidence.studies.set_index("study")["design"]  # ``design`` of the effect sizes is within/between
        cache[options.prepost_correlation] = es.assign(
            comparator_condition=comparator_conditions(evidence), study_design=es["study"].map(designs)
        )
    return cache[options.prepost_correlation]


def mbt_comparisons(evidence: Evidence, options: ReportOptions, same_setting: bool) -> pd.DataFrame:
    """Records comparing two MBT arms (between-group or moderation): periods of one programme
    (``same_setting``) or programmes in different settings, such as a randomised trial of settings."""
    es = all_effect_sizes(evidence, options)
    settings = evidence.arms.set_index(["study", "arm"])["setting"]
    comparator = [settings.get((s, a)) for s, a in zip(es["study"], es["comparator_arm"], strict=True)]
    same = es["setting"].to_numpy() == pd.Series(comparator, index=es.index, dtype=object).to_numpy()
    two_mbt = (es["condition"] == "mbt") & (es["comparator_condition"] == "mbt")
    return es[two_mbt & (same if same_setting else ~same)]


def _available(frame: pd.DataFrame, column: str) -> str:
    counts = frame.groupby(column)["sample_id"].nunique().sort_values(ascending=False)
    return ", ".join(f"{name} ({n} sample{'s' * (n != 1)})" for name, n in counts.items()) or "none"


def select_effects(evidence: Evidence, options: ReportOptions, require: bool = True) -> Selection:
    """The report's candidate effect sizes, with the flow of records from the table to them.

    Steps: every effect record; records of the effect measure's comparison (MBT arms for SMCR;
    MBT against a non-MBT comparator for SMD); with a computable effect size of that measure;
    of the outcome construct; of the instrument (when set); in the timepoint window; of the
    study designs (when set).

    Raises
    ------
    ParameterError
        When ``require`` and no record is left: names the parameter whose step emptied the
        selection and the values that have records.
    """
    es = all_effect_sizes(evidence, options)
    measure = options.effect_measure
    steps = [_count(es, "all effect records in the evidence table")]
    if measure == "SMCR":
        es = es[(es["condition"] == "mbt") & (es["design"] == "within")]
    else:
        es = es[(es["condition"] == "mbt") & (es["design"] == "between") & (es["comparator_condition"] != "mbt")]
    steps.append(_count(es, f"MBT records: {EFFECT_MEASURES[measure]}"))
    es = es[es["yi"].notna() & (es["measure"] == measure)]
    steps.append(_count(es, f"with a computable {measure}"))
    filters = [
        ("outcome_construct", es["outcome_construct"] == options.outcome_construct, "outcome_construct"),
    ]
    construct = es[filters[0][1]]
    if require and construct.empty:
        raise ParameterError(
            f"parameter outcome_construct={options.outcome_construct!r} has no record with a computable "
            f"{measure} ({EFFECT_MEASURES[measure]}); constructs that have: {_available(es, 'outcome_construct')}"
        )
    es = construct
    steps.append(_count(es, f"outcome: {words(options.outcome_construct).lower()}"))
    if options.instrument:
        chosen = es[es["instrument"] == options.instrument]
        if require and chosen.empty:
            raise ParameterError(
                f"parameter instrument={options.instrument!r} has no {options.outcome_construct} record with a "
                f"computable {measure}; instruments that have: {_available(es, 'instrument')}"
            )
        es = chosen
        steps.append(_count(es, f"instrument: {options.instrument}"))
    window = es[es["timepoint_months"].between(options.months_from, options.months_to)]
    if require and window.empty:
        raise ParameterError(
            f"parameters months_from={options.months_from!r}, months_to={options.months_to!r}: no "
            f"{options.outcome_construct} record in the window; timepoints (months) that have records: "
            f"{_available(es.assign(t=es['timepoint_months'].map('{:g}'.format)), 't')}"
        )
    es = window
    steps.append(_count(es, f"timepoint {options.months_from:g}–{options.months_to:g} months"))
    if options.study_designs:
        chosen = es[es["study_design"].isin(options.study_designs)]
        if require and chosen.empty:
            raise ParameterError(
                f"parameter study_designs={list(options.study_designs)!r} leaves no record; designs that have "
                f"records: {_available(es, 'study_design')}"
            )
        es = chosen
        steps.append(_count(es, "study design: " + ", ".join(words(d).lower() for d in options.study_designs)))
    return Selection(grouping_columns(es), pd.DataFrame(steps), options)


def count_pooled(synthesis: EvidenceSynthesis) -> dict[str, object]:
    """The last step of a flow: what a synthesis pooled."""
    return _count(synthesis.rows, "pooled: one estimate per independent sample")


__all__ = [
    "Selection",
    "all_effect_sizes",
    "comparator_conditions",
    "count_pooled",
    "mbt_comparisons",
    "select_effects",
]
