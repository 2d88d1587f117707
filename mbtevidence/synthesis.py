"""The MBT synthesis policy: which records are pooled, one estimate per independent sample.

Reports of the same patients share a ``sample_id``; the default analyses keep one estimate per
sample, chosen by a stated :class:`SelectionRule`, so no patient is counted twice.  The result,
:class:`EvidenceSynthesis`, remembers its grouping, rule and model settings, so figures and text
read them from it instead of taking them again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .engine import MetaAnalysisResult, RobustResult, SubgroupResult, cluster_robust, meta_analysis, subgroup_analysis
from .engine.numerics import critical_value
from .engine.results import Result
from .engine.tau2 import Tau2Estimator
from .evidence.records import DEFAULT_PREPOST_CORRELATION, evidence_effect_sizes

PREFERRED_INSTRUMENTS = {"symptom_severity": ("GSI", "BSI")}
"""Pre-specified instruments per construct, matched case-insensitively inside the instrument name:
for symptom severity the Global Severity Index of the SCL-90(-R) or its short form, the BSI, the
symptom measure most MBT trials report."""

POPULATION_RANK = {
    "itt_first": {"itt": 0, "model_based_itt": 0, "not_reported": 1, "per_protocol": 2, "completers": 2},
    "completers_first": {"completers": 0, "per_protocol": 0, "not_reported": 1, "itt": 2, "model_based_itt": 2},
}


@dataclass(frozen=True)
class SelectionRule:
    """How one estimate per sample is chosen, criterion by criterion (first difference decides).

    1. primary report over a secondary (cited) report of the same patients;
    2. analysis population: ``itt_first`` prefers intention-to-treat and model-based ITT over
       completers (``completers_first`` is the sensitivity alternative);
    3. the instrument: the first of ``instruments`` (or of :data:`PREFERRED_INSTRUMENTS` for the
       construct) that occurs inside the instrument name, then the instrument used by most samples;
    4. the timepoint closest to ``target_months`` (when set);
    5. a printed n over an n that is only a bound;
    6. the largest n, then the first ``effect_id``.
    """

    population: str = "itt_first"
    target_months: float | None = None
    instruments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.population not in POPULATION_RANK:
            raise ValueError(f"population={self.population!r}: choose {' or '.join(POPULATION_RANK)}")

    def describe(self) -> str:
        population = (
            "intention-to-treat or model-based ITT over completers"
            if self.population == "itt_first"
            else "completers over intention-to-treat (sensitivity analysis)"
        )
        named = self.instruments or tuple(f"{k}: {' or '.join(v)}" for k, v in PREFERRED_INSTRUMENTS.items())
        instrument = f"pre-specified instruments ({'; '.join(named)}), then the instrument most samples used"
        target = (
            f"the timepoint closest to {self.target_months:g} months"
            if self.target_months is not None
            else "any timepoint (no target set)"
        )
        return (
            f"one estimate per independent sample (sample_id): primary over secondary reports; {population}; "
            f"{instrument}; {target}; a printed n over a bound; the largest n; then the first effect_id"
        )

    def select(self, effects: pd.DataFrame) -> pd.DataFrame:
        """Keep one row per ``sample_id``; ``effects`` are rows of :func:`evidence_effect_sizes`."""
        ranks = POPULATION_RANK[self.population]
        population = effects.get("analysis_population", pd.Series("not_reported", index=effects.index))
        usage = effects.groupby("instrument")["sample_id"].nunique()

        def preference(row: pd.Series) -> int:
            patterns = self.instruments or PREFERRED_INSTRUMENTS.get(row.get("outcome_construct"), ())
            name = str(row["instrument"]).casefold()
            return next((i for i, p in enumerate(patterns) if p.casefold() in name), len(patterns))

        preferred = effects.apply(preference, axis=1) if len(effects) else pd.Series(dtype=int)
        distance = (effects["timepoint_months"] - self.target_months).abs() if self.target_months is not None else 0.0
        ranked = effects.assign(
            _secondary=effects["secondary_report"].fillna(False).astype(bool),
            _population=population.fillna("not_reported").map(ranks).fillna(1),
            _preferred=preferred,
            _usage=-effects["instrument"].map(usage).fillna(0),
            _distance=distance,
            _bound=effects.get("n_bound", pd.Series(False, index=effects.index)).astype(bool),
            _n=-effects["n"].fillna(0).astype(float),
        ).sort_values(
            ["sample_id", "_secondary", "_population", "_preferred", "_usage", "_distance", "_bound", "_n", "effect_id"]
        )
        helper = [c for c in ranked.columns if c.startswith("_")]
        return ranked.drop_duplicates("sample_id").drop(columns=helper).sort_index()


@dataclass
class EvidenceSynthesis(Result):
    """A pooled analysis of evidence records with its settings, exclusions and results."""

    rows: pd.DataFrame
    excluded: pd.DataFrame
    overall: MetaAnalysisResult
    subgroups: SubgroupResult | None
    robust: RobustResult | None
    dependence: str
    rule: SelectionRule
    by: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def fit(self):
        return self.overall.fit

    def to_frame(self) -> pd.DataFrame:
        """The pooled rows: effect, CI (normal quantile), weight and the columns that identify them."""
        keep = [
            c
            for c in (
                "effect_id",
                "study",
                "sample_id",
                "setting",
                "instrument",
                "timepoint_months",
                "analysis_population",
                "n",
                "n_bound",
                "yi",
                "vi",
                "ci_low",
                "ci_high",
                "weight",
            )
            if c in self.rows
        ]
        return self.rows[keep].reset_index(drop=True)

    def to_dict(self) -> dict[str, object]:
        return {
            "dependence": self.dependence,
            "rule": self.rule.describe(),
            "by": self.by,
            "k": len(self.rows),
            "excluded": len(self.excluded),
            "overall": self.overall.to_dict(),
            "subgroups": None if self.subgroups is None else self.subgroups.to_dict(),
            "robust": None if self.robust is None else self.robust.to_dict(),
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        parts = [
            f"Pooled {len(self.rows)} record(s); dependence: {self.dependence}; "
            f"{len(self.excluded)} record(s) left out (see .excluded).",
            f"Selection: {self.rule.describe()}.",
            "",
            self.overall.summary(),
        ]
        if self.subgroups is not None:
            parts += ["", self.subgroups.summary()]
        if self.robust is not None:
            parts += ["", self.robust.summary()]
        return "\n".join(parts + [f"Note: {n}" for n in self.notes])


def drop_overlapping_samples(
    rows: pd.DataFrame, overlap: pd.DataFrame, relations: tuple[str, ...] = ("same_patients", "probable_overlap")
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep one sample of every pair the overlap table links (``relation`` in ``relations``).

    Of two overlapping samples the one with the larger n stays (ties: the first ``sample_id``);
    returns the kept rows and the dropped rows with their reason.
    """
    kept = rows.copy()
    dropped = []
    pairs = overlap[overlap["relation"].isin(relations)]
    for pair in pairs.itertuples():
        present = kept[kept["sample_id"].isin([pair.sample_a, pair.sample_b])]
        if present["sample_id"].nunique() < 2:
            continue
        order = present.assign(_n=-present["n"].fillna(0)).sort_values(["_n", "sample_id"])
        loser = order["sample_id"].iloc[-1]
        out = kept[kept["sample_id"] == loser]
        reason = f"overlaps with {order['sample_id'].iloc[0]} ({pair.relation}: {pair.reason}); the larger sample kept"
        dropped.append(out.assign(reason=reason))
        kept = kept[kept["sample_id"] != loser]
    return kept, pd.concat(dropped) if dropped else rows.iloc[0:0].assign(reason=None)


def pool_evidence(
    es: pd.DataFrame,
    by: str | None = None,
    dependence: str = "one_per_sample",
    rule: SelectionRule | None = None,
    method: str | Tau2Estimator = "REML",
    test: str = "knha",
    level: float = 95,
    overlap: pd.DataFrame | None = None,
) -> EvidenceSynthesis:
    """Pool effect sizes of evidence records (from :func:`~mbtevidence.evidence.evidence_effect_sizes`).

    Parameters
    ----------
    es : DataFrame
        Records with ``yi``, ``vi``, ``measure``, ``sample_id`` (all of one effect-size measure).
    by : str, optional
        Column to group by (subgroup analysis, both conventions).
    dependence : {"one_per_sample", "cluster_robust"}
        Keep one estimate per ``sample_id`` by ``rule`` (default), or keep every estimate and add
        cluster-robust inference with ``sample_id`` as cluster.
    rule : SelectionRule, optional
        Defaults to ITT-first with no target timepoint.
    method, test, level
        As :func:`mbtevidence.meta_analysis`.
    overlap : DataFrame, optional
        The evidence's overlap table (``evidence.tables["overlap"]``): a sensitivity analysis that
        keeps one sample of each pair with the same or probably overlapping patients.

    Returns
    -------
    EvidenceSynthesis
    """
    if dependence not in ("one_per_sample", "cluster_robust"):
        raise ValueError("dependence must be 'one_per_sample' or 'cluster_robust'")
    rule = rule or SelectionRule()
    usable = es[es["yi"].notna()]
    excluded = es[es["yi"].isna()].assign(reason=lambda d: d["es_note"].where(d["es_note"] != "", "no effect size"))
    measures = sorted(usable["measure"].dropna().unique())
    if len(measures) > 1:
        raise ValueError(f"records mix effect-size measures {', '.join(measures)}: select one before pooling")
    if usable.empty:
        raise ValueError("no record has a computable effect size")
    rows = rule.select(usable) if dependence == "one_per_sample" else usable
    dropped = usable.loc[usable.index.difference(rows.index)].assign(
        reason="another estimate of the same sample was kept (" + rule.describe() + ")"
    )
    excluded = pd.concat([excluded, dropped])
    notes: list[str] = []
    if overlap is not None:
        rows, overlapping = drop_overlapping_samples(rows, overlap)
        excluded = pd.concat([excluded, overlapping])
        for r in overlapping.drop_duplicates("sample_id").itertuples():
            notes.append(f"overlap sensitivity: {r.sample_id} left out ({r.reason})")
    overall = meta_analysis(rows["yi"], rows["vi"], method, test, level, slab=rows["effect_id"])
    crit = critical_value(level, np.inf)  # each study's own CI: normal quantile
    se = np.sqrt(rows["vi"])
    rows = rows.assign(ci_low=rows["yi"] - crit * se, ci_high=rows["yi"] + crit * se, weight=overall.fit.weights)
    subgroups = None
    if by is not None:
        groups = rows[by].astype(str).nunique()
        if groups > 1:
            subgroups = subgroup_analysis(rows["yi"], rows["vi"], rows[by], method, test, level)
        else:
            notes.append(f"every pooled sample has the same {by} ({rows[by].iloc[0]}): no subgroup test is possible")
    robust = None
    if dependence == "cluster_robust":
        if rows["sample_id"].nunique() > 1:
            robust = cluster_robust(rows["yi"], rows["vi"], rows["sample_id"], method=method, level=level)
        else:
            notes.append("one sample only: cluster-robust inference is not possible")
    return EvidenceSynthesis(rows, excluded, overall, subgroups, robust, dependence, rule, by, notes)


def correlation_sweep(
    synthesis: EvidenceSynthesis, records: pd.DataFrame, correlations: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9)
) -> pd.DataFrame:
    """Recompute the synthesis' pooled records at each assumed pre-post correlation and pool them
    with the synthesis' own settings.  Records with a printed ``ri`` keep it."""
    fit = synthesis.fit
    chosen = records.loc[records["effect_id"].isin(synthesis.rows["effect_id"])]
    rows = []
    for r in correlations:
        es = evidence_effect_sizes(chosen, ri=r).dropna(subset=["yi"])
        d = meta_analysis(es["yi"], es["vi"], fit.method, fit.test, fit.level).to_dict()
        rows.append({"ri": r, **{k: d[k] for k in ("k", "estimate", "se", "ci_low", "ci_high", "tau2", "i2")}})
    return pd.DataFrame(rows).set_index("ri")


__all__ = ["DEFAULT_PREPOST_CORRELATION", "EvidenceSynthesis", "SelectionRule", "correlation_sweep", "pool_evidence"]
