"""Validated, typed evidence tables and their overview.

:func:`load_evidence` validates once and types every table of the schema.  A caller that has
already validated the same content (``mbtevidence render`` before it runs the notebooks) passes
its :func:`content_hash`, and the tables are loaded without validating again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from ..paths import EVIDENCE_DIR
from .programmes import records_with_programmes
from .reading import Problem, read_table, typed_frame
from .schema import load_schema
from .validation import EvidenceError, ValidationReport, Validator


def content_hash(evidence_dir: Path | str = EVIDENCE_DIR) -> str:
    """SHA-256 (first 12 hex digits) of the schema's tables in ``evidence_dir``: the evidence version."""
    digest = hashlib.sha256()
    folder = Path(evidence_dir)
    for spec in load_schema()["tables"].values():
        path = folder / spec["file"]
        digest.update(spec["file"].encode())
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()[:12]


@dataclass
class Evidence:
    """Validated, typed evidence tables (one DataFrame per schema table) and the validation report."""

    tables: dict[str, pd.DataFrame]
    report: ValidationReport
    version: str

    @property
    def studies(self) -> pd.DataFrame:
        return self.tables["studies"]

    @property
    def arms(self) -> pd.DataFrame:
        return self.tables["arms"]

    @property
    def effects(self) -> pd.DataFrame:
        return self.tables["effects"]

    @cached_property
    def records(self) -> pd.DataFrame:
        """Effect records joined with their study and programme; programme attributes follow the
        sample across reports (see :mod:`mbtevidence.evidence.programmes`)."""
        return records_with_programmes(self.effects, self.arms, self.tables["fidelity"], self.studies)


def load_evidence(
    evidence_dir: Path | str = EVIDENCE_DIR, seeds_dir: Path | str | None = None, validated_hash: str | None = None
) -> Evidence:
    """Validate, then load the evidence as typed DataFrames.

    Parameters
    ----------
    evidence_dir : path
        Folder with the evidence tables (default: the bundled ``evidence/``).
    seeds_dir : path, optional
        Source texts for the quote check.
    validated_hash : str, optional
        :func:`content_hash` of evidence this process's caller has validated; when it equals the
        folder's current hash, validation is not repeated.

    Raises
    ------
    EvidenceError
        When validation finds errors (its ``report`` lists every problem).
    """
    folder = Path(evidence_dir)
    schema = load_schema()
    version = content_hash(folder)
    if validated_hash is not None and validated_hash == version:
        problems: list[Problem] = []
        raw = {
            name: read_table(folder / spec["file"], name, problems)
            for name, spec in schema["tables"].items()
            if not (spec.get("optional") and not (folder / spec["file"]).exists())
        }
        report = ValidationReport(problems, quote_check=f"validated earlier (evidence version {version})")
    else:
        validator = Validator(folder, None if seeds_dir is None else Path(seeds_dir), schema)
        report = validator.run()
        raw = dict(validator.tables)
    read = {name: table for name, table in raw.items() if table is not None}
    if not report.ok or len(read) < len(raw):
        raise EvidenceError(report)
    frames = {
        name: typed_frame(read[name], spec["columns"]) if name in read else pd.DataFrame(columns=list(spec["columns"]))
        for name, spec in schema["tables"].items()
    }
    return Evidence(frames, report, version)


NOT_OUTCOMES = ("dropout", "retention", "trauma", "therapeutic_alliance")
"""Constructs that describe the sample or the process, not a treatment outcome."""


def summary_tables(evidence: Evidence) -> dict[str, pd.DataFrame]:
    """Compact overview: studies, independent samples, record counts per setting (with the
    samples that have a computable outcome effect), construct and timepoint, and each programme
    period's dosage and implementation-quality numbers."""
    from .programmes import programme_columns, programmes
    from .records import evidence_effect_sizes

    records = evidence.records
    effects = evidence_effect_sizes(records)
    outcome = effects[effects["yi"].notna() & ~effects["outcome_construct"].isin(NOT_OUTCOMES)]
    overview = pd.DataFrame(
        {
            "count": [
                len(evidence.studies),
                records["study"].nunique(),
                evidence.arms["sample_id"].nunique(),
                outcome["sample_id"].nunique(),
                len(evidence.arms),
                len(records),
                int(effects["yi"].notna().sum()),
                int(records["secondary_report"].sum()),
                int(records["conflict"].fillna(False).sum()),
            ]
        },
        index=[
            "studies",
            "studies with at least one effect record",
            "independent samples",
            "independent samples with a computable outcome effect",
            "arms / programme periods",
            "effect records",
            "effect records with a computable effect size",
            "secondary-report records",
            "flagged (conflict) effect records",
        ],
    )
    study_counts = records.groupby("study").agg(records=("effect_id", "size"), samples=("sample_id", "nunique"))
    per_study = (
        evidence.studies.set_index("study")[["year", "country", "design"]]
        .join(evidence.arms.groupby("study").size().rename("arms"))
        .join(study_counts)
        .fillna({"records": 0, "samples": 0})
        .astype({"records": int, "samples": int})
    )

    def counts(column: str) -> pd.DataFrame:
        table = (
            records.groupby(column, dropna=False)
            .agg(records=("effect_id", "size"), samples=("sample_id", "nunique"), studies=("study", "nunique"))
            .sort_values("records", ascending=False)
        )
        with_effect = outcome.groupby(column, dropna=False)["sample_id"].nunique()
        return table.assign(
            **{"samples with an outcome effect": with_effect.reindex(table.index).fillna(0).astype(int)}
        )

    per_setting = counts("setting")
    arms_per_setting = evidence.arms.groupby("setting")["sample_id"].nunique()
    per_setting = per_setting.reindex(per_setting.index.union(arms_per_setting.index)).fillna(0).astype(int)
    per_setting["samples in the arms table"] = arms_per_setting.reindex(per_setting.index).fillna(0).astype(int)
    table = programmes(evidence.arms, evidence.tables["fidelity"])
    numbers = [c for c in (*programme_columns(), "fidelity_0_1") if c in table and table[c].notna().any()]
    periods = table.set_index(["study", "arm"])[["setting", "sample_id", *numbers, "attributes_from"]]
    return {
        "overview": overview,
        "per study": per_study,
        "programme periods (dosage and implementation quality)": periods,
        "per setting": per_setting.sort_values("samples with an outcome effect", ascending=False),
        "per outcome construct": counts("outcome_construct"),
        "per timepoint (months)": counts("timepoint_months").sort_index(),
    }
