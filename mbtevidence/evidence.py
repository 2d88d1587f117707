"""Load and validate the evidence tables (studies, arms, effects).

The format is defined once, in ``evidence/schema.json``; this module reads that schema and
checks every rule it implies.  Validation never writes to the evidence files and collects
*every* problem before reporting, as ``file:row column=value: rule broken``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EVIDENCE_DIR = PACKAGE_ROOT / "evidence"
SCHEMA_PATH = DEFAULT_EVIDENCE_DIR / "schema.json"
SEEDS_ENV = "MBTEVIDENCE_SEEDS"
DEFAULT_SEEDS_DIR = PACKAGE_ROOT.parent / "shared" / "seeds"

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")
P_PATTERN = re.compile(r"^([<>]=?)?\s*(\d*\.?\d+(?:[eE]-?\d+)?)$")
NUMBER_IN_TEXT = re.compile(r"\d*[.,]?\d+")
NUMBER_WORDS = {"once": 1, "twice": 2, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
TABLE_ORDER = ("studies", "arms", "effects")
UNCHECKED_NUMBERS = {"timepoint_months", "baseline_months", "year"}


def load_schema(path: Path = SCHEMA_PATH) -> dict:
    """The evidence schema (tables, columns, data blocks, vocabularies)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def default_seeds_dir() -> Path:
    """Source texts folder: ``$MBTEVIDENCE_SEEDS`` or ``../shared/seeds`` beside the repo."""
    return Path(os.environ.get(SEEDS_ENV, DEFAULT_SEEDS_DIR))


def normalise_text(text: str) -> str:
    """Collapse whitespace and undo hyphenation so quotes survive PDF line breaks."""
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"(\w)- ?(\w)", r"\1\2", text).strip()


def filled_blocks(row: Mapping[str, object], schema: dict | None = None) -> list[str]:
    """The data blocks an effect record fills (a block is filled when any of its columns is):
    one place that reads blocks from the schema, for raw (``""``) and typed (``NaN``) rows alike."""
    columns = (schema or load_schema())["tables"]["effects"]["columns"]

    def filled(value: object) -> bool:
        return value != "" if isinstance(value, str) else not pd.isna(value)

    return sorted({spec["block"] for c, spec in columns.items() if "block" in spec and filled(row.get(c))})


@dataclass(frozen=True)
class Problem:
    """One broken rule at one cell. ``severity`` is error, warning or info."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str
    severity: str = "error"

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}:{self.row}"
        cell = "" if self.column is None else f" {self.column}={self.value!r}"
        tag = "" if self.severity == "error" else f"[{self.severity}] "
        return f"{tag}{where}{cell}: {self.rule}"


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

    def render(self) -> str:
        ordered = sorted(self.problems, key=lambda p: (p.file, p.row or 0))
        lines = [str(p) for p in ordered]
        lines += [f"flagged: {f}" for f in self.flagged]
        warnings = sum(p.severity == "warning" for p in self.problems)
        lines.append(
            f"{len(self.errors)} error(s), {warnings} warning(s), {len(self.flagged)} flagged record(s); "
            f"quote check: {self.quote_check}"
        )
        return "\n".join(lines)


class EvidenceError(Exception):
    """Raised by :func:`load_evidence` when the evidence does not validate."""

    def __init__(self, report: ValidationReport):
        super().__init__(report.render())
        self.report = report


@dataclass
class RawTable:
    """A CSV table as the reviewer wrote it: header and rows of strings."""

    name: str
    path: Path
    header: list[str]
    rows: list[dict[str, str]]

    @staticmethod
    def row_number(index: int) -> int:
        """Spreadsheet row of data row ``index`` (the header is row 1)."""
        return index + 2


def read_table(path: Path, name: str, problems: list[Problem]) -> RawTable | None:
    """Read one CSV as strings; unreadable files become problems, not tracebacks."""
    if not path.exists():
        problems.append(Problem(str(path), None, None, None, f"missing {name} table"))
        return None
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        problems.append(Problem(str(path), None, None, None, f"not a readable UTF-8 CSV file ({exc})"))
        return None
    if not rows:
        problems.append(Problem(str(path), None, None, None, "empty file: a header row is required"))
        return None
    header = [h.strip() for h in rows[0]]
    records = []
    for i, values in enumerate(rows[1:]):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            problems.append(Problem(str(path), RawTable.row_number(i), None, None,
                                    f"row has {len(values)} cells, header has {len(header)}"))
        records.append({h: (values[j].strip() if j < len(values) else "") for j, h in enumerate(header)})
    return RawTable(name, path, header, records)


class Validator:
    """Checks an evidence folder against the schema.  Read-only."""

    def __init__(self, evidence_dir: Path, seeds_dir: Path | None = None, schema: dict | None = None):
        self.dir = Path(evidence_dir)
        self.seeds_dir = Path(seeds_dir) if seeds_dir is not None else default_seeds_dir()
        self.schema = schema or load_schema()
        self.problems: list[Problem] = []
        self.tables: dict[str, RawTable] = {}

    # -- helpers -------------------------------------------------------------------------
    def _add(self, table: RawTable, i: int | None, column: str | None, value: str | None,
             rule: str, severity: str = "error") -> None:
        row = None if i is None else RawTable.row_number(i)
        self.problems.append(Problem(str(table.path), row, column, value, rule, severity))

    def _columns(self, name: str) -> dict:
        return self.schema["tables"][name]["columns"]

    @staticmethod
    def _flagged(row: dict[str, str]) -> bool:
        return row.get("conflict", "").lower() == "yes"

    # -- cells ---------------------------------------------------------------------------
    def _check_cell(self, table: RawTable, i: int, column: str, spec: dict, value: str,
                    plausibility: str) -> None:
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
        elif kind in ("integer", "number"):
            self._check_number(table, i, column, spec, value, plausibility)
        elif kind == "source" and ("/" in value or "\\" in value):
            self._add(table, i, column, value, "source is a file name under the seeds folder, not a path")

    def _check_number(self, table: RawTable, i: int, column: str, spec: dict, value: str,
                      plausibility: str) -> None:
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
            self._add(table, i, column, value, f"must be >= {spec['min']}", plausibility)
        elif "max" in spec and number > spec["max"]:
            self._add(table, i, column, value, f"must be <= {spec['max']}", plausibility)
        elif "exclusive_min" in spec and number <= spec["exclusive_min"]:
            self._add(table, i, column, value, f"must be > {spec['exclusive_min']}", plausibility)

    def _check_table(self, table: RawTable) -> None:
        columns = self._columns(table.name)
        for column in columns:
            if column not in table.header:
                self._add(table, None, column, None, "column missing from header")
        for column in table.header:
            if column not in columns:
                self._add(table, None, column, None, f"unknown column (not in schema for {table.name})")
        for i, row in enumerate(table.rows):
            plausibility = "warning" if self._flagged(row) else "error"
            for column, spec in columns.items():
                if column in row:
                    self._check_cell(table, i, column, spec, row[column], plausibility)

    def _check_keys(self, table: RawTable) -> None:
        key = self.schema["tables"][table.name]["key"]
        seen: dict[tuple, int] = {}
        for i, row in enumerate(table.rows):
            value = tuple(row.get(k, "") for k in key)
            if value in seen:
                self._add(table, i, "+".join(key), "/".join(value),
                          f"duplicate id (first at row {RawTable.row_number(seen[value])})")
            else:
                seen[value] = i

    # -- effects: blocks, references, duplicates, samples ----------------------------------
    def _blocks_of(self, row: dict[str, str]) -> list[str]:
        return filled_blocks(row, self.schema)

    def _check_effect_row(self, effects: RawTable, i: int, row: dict[str, str],
                          arms: dict[tuple[str, str], dict[str, str]], studies: set[str]) -> None:
        blocks = self._blocks_of(row)
        plausibility = "warning" if self._flagged(row) else "error"
        if len(blocks) != 1:
            self._add(effects, i, "data block", "+".join(blocks) or "none",
                      f"exactly one data block must be filled ({', '.join(self.schema['blocks'])})")
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
                self._check_reported(effects, i, row, plausibility)
            self._check_counts(effects, i, row, plausibility)
        study = row.get("study", "")
        if study and study not in studies:
            self._add(effects, i, "study", study, "study not in studies table")
        for column in ("arm", "comparator_arm"):
            arm = row.get(column, "")
            if arm and (study, arm) not in arms:
                self._add(effects, i, column, arm, f"arm not in arms table for study {study}")
        arm = arms.get((study, row.get("arm", "")))
        if arm is not None and row.get("sample_id") and arm.get("sample_id") != row["sample_id"]:
            self._add(effects, i, "sample_id", row["sample_id"],
                      f"differs from the arm's sample_id {arm.get('sample_id')!r}")

    def _check_reported(self, effects: RawTable, i: int, row: dict[str, str], plausibility: str) -> None:
        design = row.get("precalc_design")
        if design == "between":
            for column in ("precalc_n_arm1", "precalc_n_arm2", "comparator_arm"):
                if not row.get(column):
                    self._add(effects, i, column, "", "a between-group reported effect needs both arms and their n")
        elif design != "moderation" and (row.get("precalc_n_arm1") or row.get("precalc_n_arm2")):
            self._add(effects, i, "precalc_n_arm1", row.get("precalc_n_arm1", ""),
                      "arm n are for between-group or moderation effects; use precalc_n")
        if (row.get("precalc_metric") == "p_only") != (not row.get("precalc_es")):
            self._add(effects, i, "precalc_es", row.get("precalc_es", ""),
                      "precalc_metric p_only goes with an empty precalc_es (and a printed precalc_p)")
        if not row.get("precalc_positive"):
            self._add(effects, i, "precalc_positive", "", "say what a positive reported value means")
        try:
            low, est, high = (float(row[c]) if row.get(c) else None
                              for c in ("precalc_ci_low", "precalc_es", "precalc_ci_high"))
        except ValueError:
            return
        if low is not None and high is not None and est is not None and not low <= est <= high:
            self._add(effects, i, "precalc_es", row["precalc_es"],
                      f"estimate outside its CI [{row['precalc_ci_low']}, {row['precalc_ci_high']}]", plausibility)

    def _check_counts(self, effects: RawTable, i: int, row: dict[str, str], plausibility: str) -> None:
        for events, total in (("event_arm1", "totaln_arm1"), ("event_arm2", "totaln_arm2"), ("prop_events", "prop_n")):
            try:
                if row.get(events) and row.get(total) and float(row[events]) > float(row[total]):
                    self._add(effects, i, events, row[events], f"more events than {total}={row[total]}", plausibility)
            except ValueError:
                pass

    def _check_duplicates(self, effects: RawTable) -> None:
        identity = ("study", "arm", "comparator_arm", "outcome_construct", "instrument", "timepoint_months",
                    "baseline_months", "analysis", "precalc_metric", "precalc_design")
        seen: dict[tuple, int] = {}
        for i, row in enumerate(effects.rows):
            key = tuple(row.get(c, "") for c in identity) + tuple(self._blocks_of(row))
            if key in seen:
                self._add(effects, i, "effect_id", row.get("effect_id", ""),
                          f"duplicate record: same study, arms, outcome, timepoint, analysis and data block "
                          f"as row {RawTable.row_number(seen[key])} (use the analysis column to tell them apart)")
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
                    self._add(arms, i, column, row.get(column, ""),
                              f"sample {sample} is {other.get(column)!r} at row {RawTable.row_number(j)}: "
                              f"one sample_id cannot span different {column}s")

    # -- provenance ------------------------------------------------------------------------
    def _numbers_of(self, table: RawTable, row: dict[str, str]) -> list[tuple[str, str]]:
        columns = self._columns(table.name)
        return [(c, row[c]) for c, spec in columns.items()
                if spec["type"] in ("number", "integer") and c not in UNCHECKED_NUMBERS and row.get(c)]

    def _check_provenance(self, report: ValidationReport) -> None:
        if not self.seeds_dir.is_dir():
            report.quote_check = f"skipped (no source texts at {self.seeds_dir})"
            self.problems.append(Problem(str(self.seeds_dir), None, None, None,
                                         "quote check skipped: source texts not found", "info"))
            return
        sources: dict[str, str | None] = {}
        for name in TABLE_ORDER:
            table = self.tables.get(name)
            if table is None:
                continue
            for i, row in enumerate(table.rows):
                source, quote = row.get("source", ""), row.get("quote", "")
                if not source or not quote:
                    continue
                if source not in sources:
                    path = self.seeds_dir / source
                    sources[source] = (normalise_text(path.read_text(encoding="utf-8", errors="replace"))
                                       if path.is_file() else None)
                text = sources[source]
                if text is None:
                    self._add(table, i, "source", source, f"no such source file in {self.seeds_dir}")
                    continue
                report.quotes_checked += 1
                for segment in quote.split(self.schema["quote_segment_separator"]):
                    if normalise_text(segment) not in text:
                        self._add(table, i, "quote", segment[:70] + ("..." if len(segment) > 70 else ""),
                                  f"quote not found verbatim in {source}")
                printed = quote_numbers(quote)
                for column, value in self._numbers_of(table, row):
                    try:
                        number = abs(float(value))
                    except ValueError:
                        continue
                    if not any(math.isclose(number, p, rel_tol=1e-9, abs_tol=1e-12) for p in printed):
                        self._add(table, i, column, value, "number does not appear in the record's quote")
        report.quote_check = f"{report.quotes_checked} quotes checked against {self.seeds_dir}"

    # -- driver ----------------------------------------------------------------------------
    def run(self) -> ValidationReport:
        report = ValidationReport()
        if not self.dir.is_dir():
            self.problems.append(Problem(str(self.dir), None, None, None, "evidence folder not found"))
            report.problems = self.problems
            return report
        for name in TABLE_ORDER:
            table = read_table(self.dir / self.schema["tables"][name]["file"], name, self.problems)
            if table is not None:
                self.tables[name] = table
                self._check_table(table)
                self._check_keys(table)
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
        for name in ("arms", "effects"):
            for row in self.tables[name].rows if name in self.tables else []:
                if self._flagged(row):
                    ident = row.get("effect_id") or f"{row.get('study')}/{row.get('arm')}"
                    report.flagged.append(f"{name} {ident}: {row.get('notes', '') or '(no note)'}")
        self._check_provenance(report)
        report.problems = self.problems
        return report


def quote_numbers(quote: str) -> set[float]:
    """Absolute values of the numbers printed in a quote.

    Each token is read with a decimal comma as a decimal point (Swedish reports) and, when it
    has a comma, also as a thousands separator (1,234).  Exact number words (one..twelve, once,
    twice, "four and a half") count too: sources often write session counts in words.
    """
    words = quote.lower()
    values: set[float] = {float(NUMBER_WORDS[w]) for w in re.findall(r"[a-z]+", words) if w in NUMBER_WORDS}
    values |= {NUMBER_WORDS[w] + 0.5 for w in re.findall(r"([a-z]+)\s+and\s+a\s+half", words) if w in NUMBER_WORDS}
    for token in NUMBER_IN_TEXT.findall(quote):
        values.add(abs(float(token.replace(",", "."))))
        if "," in token:
            values.add(float(token.replace(",", "")))
    return values


def validate(evidence_dir: Path | str = DEFAULT_EVIDENCE_DIR, seeds_dir: Path | str | None = None) -> ValidationReport:
    """Validate an evidence folder; never writes to it."""
    return Validator(Path(evidence_dir), None if seeds_dir is None else Path(seeds_dir)).run()


@dataclass
class Evidence:
    """Validated, typed evidence tables."""

    studies: pd.DataFrame
    arms: pd.DataFrame
    effects: pd.DataFrame
    report: ValidationReport

    @cached_property
    def records(self) -> pd.DataFrame:
        """Effect records joined with their study and arm (arm columns keep their names), plus
        Metapsy's ``time_weeks`` = timepoint_months x 52/12."""
        arms = self.arms.drop(columns=["source", "location", "quote", "notes", "conflict", "sample_id"])
        studies = self.studies[["study", "year", "country", "design", "population"]]
        merged = self.effects.merge(arms, on=["study", "arm"], how="left")
        merged = merged.merge(studies, on="study", how="left")
        return merged.assign(time_weeks=merged["timepoint_months"] * 52 / 12)


def _typed(table: RawTable, schema: dict) -> pd.DataFrame:
    columns = schema["tables"][table.name]["columns"]
    frame = pd.DataFrame(table.rows, columns=list(columns)).replace("", None)
    for column, spec in columns.items():
        if spec["type"] in ("number", "integer"):
            frame[column] = pd.to_numeric(frame[column])
            if spec["type"] == "integer":
                frame[column] = frame[column].astype("Int64")
        elif spec["type"] == "boolean":
            frame[column] = frame[column].str.lower().map({"yes": True, "no": False}).astype("boolean")
    return frame


def load_evidence(evidence_dir: Path | str = DEFAULT_EVIDENCE_DIR, seeds_dir: Path | str | None = None) -> Evidence:
    """Validate then load the evidence as typed DataFrames; raises :class:`EvidenceError` on errors."""
    validator = Validator(Path(evidence_dir), None if seeds_dir is None else Path(seeds_dir))
    report = validator.run()
    if not report.ok:
        raise EvidenceError(report)
    frames = {name: _typed(validator.tables[name], validator.schema) for name in TABLE_ORDER}
    return Evidence(frames["studies"], frames["arms"], frames["effects"], report)


def summary_tables(evidence: Evidence) -> dict[str, pd.DataFrame]:
    """Compact overview: studies, independent samples, record counts per setting, construct and
    timepoint, and each programme's dosage and implementation-quality fields."""
    records = evidence.records
    overview = pd.DataFrame(
        {
            "count": [
                len(evidence.studies),
                evidence.arms["sample_id"].nunique(),
                len(evidence.arms),
                len(records),
                int(records["secondary_report"].sum()),
                int(records["conflict"].fillna(False).sum()),
            ]
        },
        index=["studies", "independent samples", "arms / programmes", "effect records",
               "secondary-report records", "flagged (conflict) effect records"],
    )
    study_counts = records.groupby("study").agg(records=("effect_id", "size"), samples=("sample_id", "nunique"))
    per_study = (evidence.studies.set_index("study")[["year", "country", "design"]]
                 .join(evidence.arms.groupby("study").size().rename("arms"))
                 .join(study_counts).fillna({"records": 0, "samples": 0})
                 .astype({"records": int, "samples": int}))

    def counts(column: str) -> pd.DataFrame:
        return (records.groupby(column, dropna=False)
                .agg(records=("effect_id", "size"), samples=("sample_id", "nunique"), studies=("study", "nunique"))
                .sort_values("records", ascending=False))

    programmes = evidence.arms.set_index(["study", "arm"])[[
        "setting", "sample_id", "n_start", "planned_duration_months", "days_per_week", "hours_per_day",
        "hours_per_week", "individual_sessions_per_week", "group_sessions_per_week", "maintenance_months",
        "mean_months_in_treatment", "attendance_percent", "fidelity_rating", "organisational_stability",
        "implementation_outcome"]]
    return {
        "overview": overview,
        "per study": per_study,
        "programmes (dosage and implementation)": programmes.dropna(axis=1, how="all"),
        "per setting": counts("setting"),
        "per outcome construct": counts("outcome_construct"),
        "per timepoint (months)": counts("timepoint_months").sort_index(),
    }
