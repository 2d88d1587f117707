"""Living-update diff: what a change to the evidence did, record by record and synthesis by synthesis.

Two versions of the evidence (git revisions of ``evidence/`` or folders; by default the last
commit against the working tree) are read as the reviewer wrote them, without validating (run
``mbtevidence validate`` for that), and compared:

* records added, removed and changed, field by field, in every table (keyed as the schema says);
* the default syntheses pooled before and after (:func:`default_syntheses`): within-group
  symptom severity (SMCR) at 12-27 months by setting, and one per outcome construct, design and
  measure with at least two independent samples of MBT; each with estimate, CI, k, τ², I² and
  the subgroup test, and a flag for every conclusion that changed: the CI now (or no longer)
  crosses zero, the estimate changed sign, the subgroup test is now (or no longer) significant at
  0.05, k fell below 3, a synthesis appeared or disappeared.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .diff_render import diff_text, write_diff_html
from .evidence.reading import Problem, RawTable, read_table, typed_frame
from .evidence.records import evidence_effect_sizes
from .evidence.schema import load_schema
from .evidence.tables import Evidence
from .evidence.validation import ValidationReport
from .paths import CHECKOUT, EVIDENCE_DIR
from .synthesis import EvidenceSynthesis, SelectionRule, pool_evidence

TARGET_MONTHS = 18
ALPHA = 0.05
MIN_K = 3
NO_ZERO_LINE = {"PLO", "PR"}
"""Measures on which zero is not 'no effect' (a proportion): no crossing-zero flag."""
SUMMARY_KEYS = ("k", "estimate", "ci_low", "ci_high", "tau2", "i2", "qe_p")
__all__ = ["EvidenceDiff", "diff_evidence", "write_diff_html"]


@dataclass
class Version:
    """One version of the evidence: its label and its tables as written (rows of text)."""

    label: str
    tables: dict[str, RawTable]

    def evidence(self) -> Evidence:
        """The tables typed for analysis (columns the version lacks are empty)."""
        schema = load_schema()["tables"]
        frames = {
            name: typed_frame(self.tables[name], spec["columns"])
            if name in self.tables
            else pd.DataFrame(columns=list(spec["columns"]))
            for name, spec in schema.items()
        }
        return Evidence(frames, ValidationReport(), self.label)


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(CHECKOUT), *args], capture_output=True, text=True)


def _read_tables(folder: Path) -> dict[str, RawTable]:
    """The schema's tables found in ``folder``, as written (a table that cannot be read is left out)."""
    problems: list[Problem] = []
    tables = {}
    for name, spec in load_schema()["tables"].items():
        path = folder / spec["file"]
        table = read_table(path, name, problems) if path.exists() else None
        if table is not None:
            tables[name] = table
    return tables


def read_version(spec: str | Path | None, default: str) -> Version:
    """The evidence at ``spec``: a folder, or a git revision of ``evidence/`` (``default`` when None:
    ``"HEAD"`` or ``"working tree"``)."""
    spec = default if spec is None else spec
    if spec == "working tree":
        return Version("working tree", _read_tables(EVIDENCE_DIR))
    if Path(spec).is_dir():
        return Version(str(spec), _read_tables(Path(spec)))
    if _git("rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}").returncode != 0:
        raise ValueError(f"{spec!r} is neither a folder nor a git revision of {CHECKOUT}")
    with tempfile.TemporaryDirectory(prefix="mbtevidence-diff-") as tmp:
        for table in load_schema()["tables"].values():
            shown = _git("show", f"{spec}:{EVIDENCE_DIR.name}/{table['file']}")
            if shown.returncode == 0:
                (Path(tmp) / table["file"]).write_text(shown.stdout, encoding="utf-8")
        return Version(str(spec), _read_tables(Path(tmp)))


@dataclass
class RecordChange:
    """A record present in both versions whose fields differ: (column, before, after) per field."""

    table: str
    key: str
    fields: list[tuple[str, str, str]]


def _keyed(version: Version, name: str, key: list[str]) -> dict[str, dict[str, str]]:
    table = version.tables.get(name)
    return {"/".join(r.get(k, "") for k in key): r for r in table.rows} if table else {}


def record_changes(old: Version, new: Version) -> tuple[dict, dict, dict]:
    """Per table: keys added, keys removed, and :class:`RecordChange` of records in both."""
    schema = load_schema()["tables"]
    added: dict[str, list[str]] = {}
    removed: dict[str, list[str]] = {}
    changed: dict[str, list[RecordChange]] = {}
    for name, spec in schema.items():
        before, after = (_keyed(version, name, spec["key"]) for version in (old, new))
        added[name] = [k for k in after if k not in before]
        removed[name] = [k for k in before if k not in after]
        changed[name] = []
        for k in (k for k in after if k in before):
            columns = list(dict.fromkeys([*before[k], *after[k]]))
            fields = [(c, before[k].get(c, ""), after[k].get(c, "")) for c in columns]
            fields = [f for f in fields if f[1] != f[2]]
            if fields:
                changed[name].append(RecordChange(name, k, fields))
    return added, removed, changed


@dataclass(frozen=True)
class SynthesisSpec:
    """A default synthesis: its name, which effect sizes it pools, and how."""

    name: str
    select: Callable[[pd.DataFrame], pd.DataFrame]
    by: str | None = None


def _mbt_effect_sizes(evidence: Evidence) -> pd.DataFrame:
    """Effect sizes of records whose arm is MBT after the start of treatment; between-group records
    only against a non-MBT arm."""
    records = evidence.records[evidence.records["condition"] == "mbt"]
    es = evidence_effect_sizes(records)
    conditions = evidence.arms.set_index(["study", "arm"])["condition"]
    comparator = [
        conditions.get((s, a)) if isinstance(a, str) else None
        for s, a in zip(es["study"], es["comparator_arm"], strict=True)
    ]
    es = es.assign(comparator_condition=comparator)
    outcome = es["timepoint_months"] > 0  # at 0 months a record describes the patients, not an effect
    return es[outcome & ((es["design"] != "between") | (es["comparator_condition"] != "mbt"))]


def _construct_selector(construct: str, design: str, measure: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def select(es: pd.DataFrame) -> pd.DataFrame:
        return es[(es["outcome_construct"] == construct) & (es["design"] == design) & (es["measure"] == measure)]

    return select


def default_syntheses(effect_sizes: list[pd.DataFrame]) -> list[SynthesisSpec]:
    """The settings synthesis, and one per (construct, design, measure) with >= 2 samples in any version."""
    specs = [
        SynthesisSpec(
            "Within-group symptom severity (SMCR), 12-27 months, by setting",
            lambda es: es[
                (es["outcome_construct"] == "symptom_severity")
                & (es["design"] == "within")
                & (es["measure"] == "SMCR")
                & es["timepoint_months"].between(12, 27)
            ],
            by="setting",
        )
    ]
    groups: set[tuple[str, str, str]] = set()
    for es in effect_sizes:
        usable = es[es["yi"].notna() & es["design"].isin(["within", "between"])]
        counts = usable.groupby(["outcome_construct", "design", "measure"])["sample_id"].nunique()
        groups |= set(counts[counts >= 2].index)
    for construct, design, measure in sorted(groups):
        name = f"{construct.replace('_', ' ').capitalize()} ({design}-group {measure})"
        specs.append(SynthesisSpec(name, _construct_selector(construct, design, measure)))
    return specs


def synthesis_summary(synthesis: EvidenceSynthesis) -> dict[str, object]:
    """Estimate, CI, k and heterogeneity of a synthesis, with its subgroup tests (p values)."""
    overall = synthesis.overall.to_dict()
    out: dict[str, object] = {key: overall[key] for key in SUMMARY_KEYS}
    out["measure"] = str(synthesis.rows["measure"].iloc[0])
    out["samples"] = sorted(synthesis.rows["sample_id"])
    if synthesis.subgroups is not None:
        out["subgroup_p_separate_tau2"] = synthesis.subgroups.between_separate.p
        out["subgroup_p_common_tau2"] = synthesis.subgroups.between_common.p
        out["subgroups"] = {g: {k: r.to_dict()[k] for k in SUMMARY_KEYS} for g, r in synthesis.subgroups.groups.items()}
    return out


def _pooled(spec: SynthesisSpec, es: pd.DataFrame) -> dict[str, object] | None:
    selected = spec.select(es)
    if selected["yi"].notna().sum() == 0 or selected.loc[selected["yi"].notna(), "sample_id"].nunique() < 2:
        return None
    return synthesis_summary(pool_evidence(selected, by=spec.by, rule=SelectionRule(target_months=TARGET_MONTHS)))


def conclusion_flags(before: dict | None, after: dict | None) -> list[str]:
    """Every conclusion that changed between two synthesis summaries."""
    if before is None or after is None:
        return (
            ["new synthesis (fewer than 2 samples before)"]
            if before is None
            else ["synthesis gone (fewer than 2 samples now)"]
        )
    flags = []
    if after["measure"] not in NO_ZERO_LINE:
        crosses = [s["ci_low"] <= 0 <= s["ci_high"] for s in (before, after)]
        if crosses == [False, True]:
            flags.append("CI now crosses zero")
        elif crosses == [True, False]:
            flags.append("CI no longer crosses zero")
        if before["estimate"] * after["estimate"] < 0:
            flags.append("estimate changed sign")
    for convention in ("separate", "common"):
        key = f"subgroup_p_{convention}_tau2"
        if key in before and key in after:
            significant = [s[key] < ALPHA for s in (before, after)]
            if significant != [significant[0]] * 2:
                state = "now" if significant[1] else "no longer"
                flags.append(f"subgroup test ({convention} tau²) {state} significant at {ALPHA}")
    if after["k"] < MIN_K <= before["k"]:
        flags.append(f"k below {MIN_K} (k = {after['k']})")
    return flags


@dataclass
class SynthesisChange:
    name: str
    before: dict | None
    after: dict | None
    flags: list[str] = field(default_factory=list)


@dataclass
class EvidenceDiff:
    """Records added, removed and changed, and the default syntheses before and after."""

    old: str
    new: str
    added: dict[str, list[str]]
    removed: dict[str, list[str]]
    changed: dict[str, list[RecordChange]]
    syntheses: list[SynthesisChange]

    def to_dict(self) -> dict[str, object]:
        return {
            "old": self.old,
            "new": self.new,
            "added": {t: keys for t, keys in self.added.items() if keys},
            "removed": {t: keys for t, keys in self.removed.items() if keys},
            "changed": {
                t: [{"key": c.key, "fields": [{"column": f, "old": a, "new": b} for f, a, b in c.fields]} for c in cs]
                for t, cs in self.changed.items()
                if cs
            },
            "syntheses": [s.__dict__ for s in self.syntheses],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, default=str)

    def summary(self) -> str:
        return diff_text(self)


def diff_evidence(old: str | Path | None = None, new: str | Path | None = None) -> EvidenceDiff:
    """Compare two versions of the evidence (default: HEAD against the working tree).

    Parameters
    ----------
    old, new : str or path, optional
        A folder with evidence tables, or a git revision (its ``evidence/`` folder is read with
        ``git show``).  Defaults: ``"HEAD"`` and the working tree's ``evidence/``.

    Returns
    -------
    EvidenceDiff
        ``added``, ``removed``, ``changed`` (per table) and ``syntheses`` (before, after, flags).

    Raises
    ------
    ValueError
        When a version is neither a folder nor a git revision.
    """
    versions = [read_version(old, "HEAD"), read_version(new, "working tree")]
    added, removed, changed = record_changes(*versions)
    effect_sizes = [_mbt_effect_sizes(v.evidence()) for v in versions]
    changes = []
    for spec in default_syntheses(effect_sizes):
        before, after = (_pooled(spec, es) for es in effect_sizes)
        if before is not None or after is not None:
            changes.append(SynthesisChange(spec.name, before, after, conclusion_flags(before, after)))
    return EvidenceDiff(versions[0].label, versions[1].label, added, removed, changed, changes)
