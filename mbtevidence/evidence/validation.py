"""Validation of an evidence folder against its schema.  Read-only; every problem at once.

Rules come from ``evidence/schema.json``: column types, vocabularies and limits; table keys and
``foreign_keys``; the effect records' data blocks; provenance (every ``quote``-type column is
verbatim in the row's source and every number of the row is printed in one of its quotes, except
columns the row lists in ``derived_columns``).  ``conflict=yes`` documents a disagreement inside a
source: it turns an estimate-outside-its-CI finding into a warning, never an impossible value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import seeds_dir as default_seeds_dir
from .provenance import SourceTexts, number_is_printed, quote_numbers
from .reading import Problem, RawTable, read_table
from .schema import NUMERIC_TYPES, filled_blocks, load_schema, quote_columns

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")
P_PATTERN = re.compile(r"^([<>]=?)?\s*(\d*\.?\d+(?:[eE]-?\d+)?)$")
UNCHECKED_NUMBERS = {"timepoint_months", "baseline_months", "year"}
"""Numbers that locate a record rather than report a result (not required to be in the quote)."""


@dataclass
class ValidationReport:
    """Everything a validation run found."""

    problems: list[Problem] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    quotes_checked: int = 0
    quote_check: str = "not run"

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> str:
        warnings = sum(p.severity == "warning" for p in self.problems)
        return (
            f"{len(self.errors)} error(s), {warnings} warning(s), {len(self.flagged)} flagged record(s); "
            f"quote check: {self.quote_check}"
        )

    def render(self, flagged: bool = True) -> str:
        ordered = sorted(self.problems, key=lambda p: (p.file, p.row or 0))
        lines = [str(p) for p in ordered]
        lines += [f"flagged: {f}" for f in self.flagged] if flagged else []
        return "\n".join(lines + [self.counts()])


class EvidenceError(Exception):
    """Raised by :func:`~mbtevidence.evidence.load_evidence` when the evidence does not validate."""

    def __init__(self, report: ValidationReport):
        super().__init__(report.render(flagged=False))
        self.report = report


class Validator:
    """Checks an evidence folder against the schema.  Read-only."""

    def __init__(self, evidence_dir: Path, seeds_dir: Path | None = None, schema: dict | None = None):
        self.dir = Path(evidence_dir)
        self.seeds_dir = Path(seeds_dir) if seeds_dir is not None else default_seeds_dir()
        self.schema = schema or load_schema()
        self.problems: list[Problem] = []
        self.tables: dict[str, RawTable] = {}

    def _add(
        self, table: RawTable, i: int | None, column: str | None, value: str | None, rule: str, severity: str = "error"
    ) -> None:
        row = None if i is None else table.row_number(i)
        self.problems.append(Problem(str(table.path), row, column, value, rule, severity))

    def _columns(self, name: str) -> dict:
        return self.schema["tables"][name]["columns"]

    @staticmethod
    def _flagged(row: dict[str, str]) -> bool:
        return row.get("conflict", "").lower() == "yes"

    # -- cells ---------------------------------------------------------------------------
    def _check_cell(self, table: RawTable, i: int, column: str, spec: dict, value: str) -> None:
        kind = spec["type"]
        if value == "":
            if spec.get("required"):
                self._add(table, i, column, value, "required value is empty")
            return
        if kind == "id" and not ID_PATTERN.match(value):
            self._add(table, i, column, value, "ids use letters, digits, _ . + - and no spaces")
        elif kind == "boolean" and value.lower() not in ("yes", "no"):
            self._add(table, i, column, value, "must be yes or no")
        elif kind == "vocab":
            vocab = self.schema["vocabularies"][spec["vocab"]]
            if value not in vocab:
                self._add(table, i, column, value, f"not in vocabulary {spec['vocab']}: {', '.join(vocab)}")
        elif kind == "p_value":
            match = P_PATTERN.match(value)
            if not match:
                self._add(table, i, column, value, "p value must be a number or <number")
            elif not 0 <= float(match.group(2)) <= 1:
                self._add(table, i, column, value, "p value must be in [0, 1]")
        elif kind in NUMERIC_TYPES:
            self._check_number(table, i, column, spec, value)
        elif kind == "source" and ("/" in value or "\\" in value):
            self._add(table, i, column, value, "source is a file name under the seeds folder, not a path")

    def _check_number(self, table: RawTable, i: int, column: str, spec: dict, value: str) -> None:
        try:
            number = float(value)
        except ValueError:
            self._add(table, i, column, value, f"must be a {spec['type']} (decimal point, no units)")
            return
        if not math.isfinite(number):
            self._add(table, i, column, value, "must be finite")
        elif spec["type"] == "integer" and not number.is_integer():
            self._add(table, i, column, value, "must be a whole number")
        elif "min" in spec and number < spec["min"]:
            self._add(table, i, column, value, f"must be >= {spec['min']}")
        elif "max" in spec and number > spec["max"]:
            self._add(table, i, column, value, f"must be <= {spec['max']}")
        elif "exclusive_min" in spec and number <= spec["exclusive_min"]:
            self._add(table, i, column, value, f"must be > {spec['exclusive_min']}")

    def _check_table(self, table: RawTable) -> None:
        columns = self._columns(table.name)
        for column in columns:
            if column not in table.header:
                self._add(table, None, column, None, "column missing from header")
        for column in table.header:
            if column not in columns:
                self._add(table, None, column, None, f"unknown column (not in schema for {table.name})")
        for i, row in enumerate(table.rows):
            for column, spec in columns.items():
                if column in row:
                    self._check_cell(table, i, column, spec, row[column])

    def _check_keys(self, table: RawTable) -> None:
        key = self.schema["tables"][table.name]["key"]
        seen: dict[tuple, int] = {}
        for i, row in enumerate(table.rows):
            value = tuple(row.get(k, "") for k in key)
            if value in seen:
                self._add(
                    table,
                    i,
                    "+".join(key),
                    "/".join(value),
                    f"duplicate id (first at row {table.row_number(seen[value])})",
                )
            else:
                seen[value] = i

    def _check_foreign_keys(self, table: RawTable) -> None:
        for fk in self.schema["tables"][table.name].get("foreign_keys", []):
            target = self.tables.get(fk["table"])
            if target is None:
                continue
            target_key = self.schema["tables"][fk["table"]]["key"]
            known = {tuple(r.get(c, "") for c in target_key) for r in target.rows}
            for i, row in enumerate(table.rows):
                value = tuple(row.get(c, "") for c in fk["columns"])
                if all(value) and value not in known:
                    self._add(table, i, "+".join(fk["columns"]), "/".join(value), f"not in the {fk['table']} table")

    # -- effects: blocks, references, duplicates, samples ----------------------------------
    def _check_effect_row(
        self,
        effects: RawTable,
        i: int,
        row: dict[str, str],
        arms: dict[tuple[str, str], dict[str, str]],
        studies: set[str],
    ) -> None:
        blocks = filled_blocks(row, self.schema)
        if len(blocks) != 1:
            self._add(
                effects,
                i,
                "data block",
                "+".join(blocks) or "none",
                f"exactly one data block must be filled ({', '.join(self.schema['blocks'])})",
            )
        else:
            block = self.schema["blocks"][blocks[0]]
            for column in block["required"]:
                if not row.get(column):
                    self._add(effects, i, column, "", f"required by data block {blocks[0]}")
            for group in block.get("one_of", []):
                if not any(row.get(c) for c in group):
                    self._add(effects, i, "/".join(group), "", f"data block {blocks[0]} needs one of these")
            if block.get("needs_comparator") and not row.get("comparator_arm"):
                self._add(effects, i, "comparator_arm", "", f"data block {blocks[0]} compares two arms")
            if blocks[0] == "reported":
                self._check_reported(effects, i, row)
            self._check_counts(effects, i, row)
        study = row.get("study", "")
        if study and study not in studies:
            self._add(effects, i, "study", study, "study not in studies table")
        for column in ("arm", "comparator_arm"):
            arm = row.get(column, "")
            if arm and (study, arm) not in arms:
                self._add(effects, i, column, arm, f"arm not in arms table for study {study}")
        arm_row = arms.get((study, row.get("arm", "")))
        if arm_row is not None and row.get("sample_id") and arm_row.get("sample_id") != row["sample_id"]:
            self._add(
                effects,
                i,
                "sample_id",
                row["sample_id"],
                f"differs from the arm's sample_id {arm_row.get('sample_id')!r}",
            )

    def _check_reported(self, effects: RawTable, i: int, row: dict[str, str]) -> None:
        design = row.get("precalc_design")
        if design == "between":
            for column in ("precalc_n_arm1", "precalc_n_arm2", "comparator_arm"):
                if not row.get(column):
                    self._add(effects, i, column, "", "a between-group reported effect needs both arms and their n")
        elif design != "moderation" and (row.get("precalc_n_arm1") or row.get("precalc_n_arm2")):
            self._add(
                effects,
                i,
                "precalc_n_arm1",
                row.get("precalc_n_arm1", ""),
                "arm n are for between-group or moderation effects; use precalc_n",
            )
        if (row.get("precalc_metric") == "p_only") != (not row.get("precalc_es")):
            self._add(
                effects,
                i,
                "precalc_es",
                row.get("precalc_es", ""),
                "precalc_metric p_only goes with an empty precalc_es (and a printed precalc_p)",
            )
        if not row.get("precalc_positive"):
            self._add(effects, i, "precalc_positive", "", "say what a positive reported value means")
        try:
            low, est, high = (
                float(row[c]) if row.get(c) else None for c in ("precalc_ci_low", "precalc_es", "precalc_ci_high")
            )
        except ValueError:
            return
        if low is not None and high is not None and est is not None and not low <= est <= high:
            self._add(
                effects,
                i,
                "precalc_es",
                row["precalc_es"],
                f"estimate outside its CI [{row['precalc_ci_low']}, {row['precalc_ci_high']}]",
                "warning" if self._flagged(row) else "error",
            )

    def _check_counts(self, effects: RawTable, i: int, row: dict[str, str]) -> None:
        for events, total in (("event_arm1", "totaln_arm1"), ("event_arm2", "totaln_arm2"), ("prop_events", "prop_n")):
            try:
                if row.get(events) and row.get(total) and float(row[events]) > float(row[total]):
                    self._add(effects, i, events, row[events], f"more events than {total}={row[total]}")
            except ValueError:
                pass

    def _check_duplicates(self, effects: RawTable) -> None:
        identity = (
            "study",
            "arm",
            "comparator_arm",
            "outcome_construct",
            "instrument",
            "timepoint_months",
            "baseline_months",
            "analysis",
            "precalc_metric",
            "precalc_design",
        )
        seen: dict[tuple, int] = {}
        for i, row in enumerate(effects.rows):
            key = tuple(row.get(c, "") for c in identity) + tuple(filled_blocks(row, self.schema))
            if key in seen:
                self._add(
                    effects,
                    i,
                    "effect_id",
                    row.get("effect_id", ""),
                    f"duplicate record: same study, arms, outcome, timepoint, analysis and data block "
                    f"as row {effects.row_number(seen[key])} (use the analysis column to tell them apart)",
                )
            else:
                seen[key] = i

    def _check_samples(self, arms: RawTable) -> None:
        first: dict[str, tuple[int, dict[str, str]]] = {}
        for i, row in enumerate(arms.rows):
            sample = row.get("sample_id", "")
            if not sample:
                continue
            if sample not in first:
                first[sample] = (i, row)
                continue
            j, other = first[sample]
            for column in ("condition", "setting"):
                if row.get(column) != other.get(column):
                    self._add(
                        arms,
                        i,
                        column,
                        row.get(column, ""),
                        f"sample {sample} is {other.get(column)!r} at row {arms.row_number(j)}: "
                        f"one sample_id cannot span different {column}s",
                    )

    # -- provenance ------------------------------------------------------------------------
    def _check_provenance(self, report: ValidationReport) -> None:
        if not self.seeds_dir.is_dir():
            report.quote_check = f"skipped (no source texts at {self.seeds_dir})"
            self.problems.append(
                Problem(str(self.seeds_dir), None, None, None, "quote check skipped: source texts not found", "info")
            )
            return
        texts = SourceTexts(self.seeds_dir)
        separator = self.schema["quote_segment_separator"]
        for name, table in self.tables.items():
            columns = self._columns(name)
            quotes = quote_columns(self.schema, name)
            numeric = [c for c, spec in columns.items() if spec["type"] in NUMERIC_TYPES and c not in UNCHECKED_NUMBERS]
            for i, row in enumerate(table.rows):
                source = row.get("source", "")
                filled = [c for c in quotes if row.get(c)]
                if not source or not filled:
                    continue
                if texts.text(source) is None:
                    self._add(table, i, "source", source, f"no such source file in {self.seeds_dir}")
                    continue
                printed: set[float] = set()
                for column in filled:
                    report.quotes_checked += 1
                    for segment in texts.missing_segments(source, row[column], separator):
                        self._add(
                            table,
                            i,
                            column,
                            segment[:70] + ("..." if len(segment) > 70 else ""),
                            f"quote not found verbatim in {source}",
                        )
                    printed |= quote_numbers(row[column])
                derived = {c.strip() for c in row.get("derived_columns", "").split(",")}
                for column in numeric:
                    value = row.get(column, "")
                    if value and column not in derived and not number_is_printed(value, printed):
                        self._add(table, i, column, value, "number does not appear in the record's quote")
        report.quote_check = f"{report.quotes_checked} quotes checked against {self.seeds_dir}"

    # -- driver ----------------------------------------------------------------------------
    def run(self) -> ValidationReport:
        report = ValidationReport()
        if not self.dir.is_dir():
            self.problems.append(Problem(str(self.dir), None, None, None, "evidence folder not found"))
            report.problems = self.problems
            return report
        for name, spec in self.schema["tables"].items():
            if spec.get("optional") and not (self.dir / spec["file"]).exists():
                continue
            table = read_table(self.dir / spec["file"], name, self.problems)
            if table is not None:
                self.tables[name] = table
                self._check_table(table)
                self._check_keys(table)
        for table in self.tables.values():
            self._check_foreign_keys(table)
        studies = {r.get("study", "") for r in self.tables["studies"].rows} if "studies" in self.tables else set()
        arms: dict[tuple[str, str], dict[str, str]] = {}
        if "arms" in self.tables:
            arm_table = self.tables["arms"]
            arms = {(r.get("study", ""), r.get("arm", "")): r for r in arm_table.rows}
            for i, row in enumerate(arm_table.rows):
                if row.get("study") and row["study"] not in studies:
                    self._add(arm_table, i, "study", row["study"], "study not in studies table")
            self._check_samples(arm_table)
        if "effects" in self.tables:
            effects = self.tables["effects"]
            for i, row in enumerate(effects.rows):
                self._check_effect_row(effects, i, row, arms, studies)
            self._check_duplicates(effects)
        for name, table in self.tables.items():
            key = self.schema["tables"][name]["key"]
            for row in table.rows:
                if self._flagged(row):
                    ident = "/".join(row.get(k, "") for k in key)
                    report.flagged.append(f"{name} {ident}: {row.get('notes', '') or '(no note)'}")
        self._check_provenance(report)
        report.problems = self.problems
        return report


def validate(evidence_dir: Path | str | None = None, seeds_dir: Path | str | None = None) -> ValidationReport:
    """Validate an evidence folder; never writes to it.

    Parameters
    ----------
    evidence_dir : path, optional
        The folder with the CSV tables (default: the bundled ``evidence/``).
    seeds_dir : path, optional
        Source texts for the quote check (default ``$MBTEVIDENCE_SEEDS`` or ``../shared/seeds``).

    Returns
    -------
    ValidationReport
    """
    from ..paths import EVIDENCE_DIR

    folder = Path(evidence_dir) if evidence_dir is not None else EVIDENCE_DIR
    return Validator(folder, None if seeds_dir is None else Path(seeds_dir)).run()
