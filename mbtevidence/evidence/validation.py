"""Validation of an evidence folder against its schema.  Read-only; every problem at once.

Rules come from ``evidence/schema.json``: column types, vocabularies and limits (one cell at a
time: :func:`~mbtevidence.evidence.cells.cell_problem`); ``min_rows``; table keys and
``foreign_keys``; the effect records' data blocks; provenance (every ``quote``-type column is
verbatim in the row's source, and every number of the row is printed in one of its quotes, except
columns the row lists in ``derived_columns``).
``conflict=yes`` documents a disagreement inside a source: it turns an estimate-outside-its-CI
finding into a warning, never an impossible value.

A table that cannot be read, or whose header does not match the schema, is reported once: its
rows are not checked record by record, and references to it are not checked (one note says so),
so real defects do not drown in knock-on errors.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import data_dir
from ..paths import seeds_dir as default_seeds_dir
from .cells import cell_problem
from .datasets import check_dataset_provenance
from .provenance import SourceTexts, check_quotes
from .reading import Problem, RawTable, parse_number, printable, read_table
from .schema import filled_blocks, load_schema, quote_columns

DUPLICATE_IDENTITY = (
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
"""Columns (with the data block) that make two effect records the same record."""


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
        return printable(
            f"{len(self.errors)} error(s), {warnings} warning(s), {len(self.flagged)} flagged record(s); "
            f"quote check: {self.quote_check}"
        )

    def flagged_lines(self) -> list[str]:
        """One terminal-safe line per flagged record."""
        return [printable(f"flagged: {f}") for f in self.flagged]

    def render(self, flagged: bool = True) -> str:
        """Problems in file and row order (file-level ones first), flagged records, counts."""
        ordered = sorted(self.problems, key=lambda p: (p.file, p.row or 0))
        return "\n".join([str(p) for p in ordered] + (self.flagged_lines() if flagged else []) + [self.counts()])


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
        self.checked: set[str] = set()
        """Tables read with a header matching the schema: their records are checked."""
        self._unreferable: set[str] = set()
        self._bad_cells: set[tuple[str, int, str]] = set()

    def _add(
        self, table: RawTable, i: int | None, column: str | None, value: str | None, rule: str, severity: str = "error"
    ) -> None:
        row, line = (None, None) if i is None else (table.row_number(i), table.text_line(i))
        self.problems.append(Problem(str(table.path), row, column, value, rule, severity, line))

    def _add_unless_bad(self, table: RawTable, i: int, column: str, value: str, rule: str) -> None:
        """Report a provenance problem, unless the cell already broke a cell rule (one error per cell)."""
        if (table.name, i, column) not in self._bad_cells:
            self._add(table, i, column, value, rule)

    def _path(self, name: str) -> Path:
        return self.dir / self.schema["tables"][name]["file"]

    @staticmethod
    def _flagged(row: dict[str, str]) -> bool:
        return row.get("conflict", "").lower() == "yes"

    @staticmethod
    def _number(row: dict[str, str], column: str) -> float | None:
        """The cell as a number; None when empty or not a number (the cell check reports that)."""
        try:
            return parse_number(row[column]) if row.get(column) else None
        except ValueError:
            return None

    # -- tables: header, size, cells, keys --------------------------------------------------
    def _header_matches(self, table: RawTable) -> bool:
        """Report columns missing from the header (with the header's near-miss spelling, if any) and
        unknown ones; whether the header has exactly the schema's columns."""
        columns = self.schema["tables"][table.name]["columns"]
        unknown = [c for c in table.header if c not in columns]
        for column in (c for c in columns if c not in table.header):
            near = [u for u in unknown if u.lower() == column.lower()] or difflib.get_close_matches(
                column, unknown, n=1, cutoff=0.7
            )
            if near:
                unknown.remove(near[0])
            spelt = f" (the header has {near[0]!r}: column names are exact)" if near else ""
            self._add(table, None, column, None, "column missing from header" + spelt)
        for column in unknown:
            self._add(table, None, column, None, f"unknown column (not in schema for {table.name})")
        return set(table.header) == set(columns)

    def _check_table(self, table: RawTable) -> None:
        spec = self.schema["tables"][table.name]
        header_ok = self._header_matches(table)
        if len(table.rows) < spec.get("min_rows", 0):
            self._add(table, None, None, None, f"no records: at least {spec['min_rows']} row(s) below the header")
        for i, row in enumerate(table.rows):
            for column, column_spec in spec["columns"].items():
                problem = cell_problem(row[column], column_spec, self.schema) if column in row else None
                if problem is not None:
                    self._add(table, i, column, *problem)
                    self._bad_cells.add((table.name, i, column))
        if header_ok:
            self.checked.add(table.name)
            self._check_keys(table)
        else:
            self._add(table, None, None, None, "records are not checked until the header matches the schema", "info")

    def _check_keys(self, table: RawTable) -> None:
        key = self.schema["tables"][table.name]["key"]
        seen: dict[tuple, int] = {}
        for i, row in enumerate(table.rows):
            value = tuple(row[k] for k in key)
            if value in seen:
                first = table.row_number(seen[value])
                self._add(table, i, "+".join(key), "/".join(value), f"duplicate id (first at row {first})")
            else:
                seen[value] = i

    # -- references between tables --------------------------------------------------------
    def _referable(self, name: str) -> bool:
        """Whether rows of table ``name`` can be looked up by key; when not, one note says why."""
        table = self.tables.get(name)
        key = self.schema["tables"][name]["key"]
        if table is None:
            why = "the file could not be read"
        elif any(c not in table.header for c in key):
            why = f"its header has no {' + '.join(key)}"
        elif not table.rows:
            why = "it has no records"
        else:
            return True
        if name not in self._unreferable:
            self._unreferable.add(name)
            rule = f"references to {name} are not checked ({why})"
            self.problems.append(Problem(str(self._path(name)), None, None, None, rule, "info"))
        return False

    def _check_foreign_keys(self, table: RawTable) -> None:
        for fk in self.schema["tables"][table.name].get("foreign_keys", []):
            if not self._referable(fk["table"]):
                continue
            target_key = self.schema["tables"][fk["table"]]["key"]
            known = {tuple(r[c] for c in target_key) for r in self.tables[fk["table"]].rows}
            for i, row in enumerate(table.rows):
                value = tuple(row[c] for c in fk["columns"])
                if all(value) and value not in known:
                    self._add(table, i, "+".join(fk["columns"]), "/".join(value), f"not in the {fk['table']} table")

    def _check_arms(self, arms: RawTable) -> None:
        if self._referable("studies"):
            studies = {r["study"] for r in self.tables["studies"].rows}
            for i, row in enumerate(arms.rows):
                if row["study"] and row["study"] not in studies:
                    self._add(arms, i, "study", row["study"], "study not in studies table")
        first: dict[str, tuple[int, dict[str, str]]] = {}
        for i, row in enumerate(arms.rows):
            sample = row["sample_id"]
            if sample and sample not in first:
                first[sample] = (i, row)
            elif sample:
                j, other = first[sample]
                for column in ("condition", "setting"):
                    if row[column] != other[column]:
                        self._add(
                            arms,
                            i,
                            column,
                            row[column],
                            f"sample {sample} is {other[column]!r} at row {arms.row_number(j)}: "
                            f"one sample_id cannot span different {column}s",
                        )

    # -- effects: blocks, references, duplicates --------------------------------------------
    def _check_effects(self, effects: RawTable) -> None:
        studies = {r["study"] for r in self.tables["studies"].rows} if self._referable("studies") else None
        arms = {(r["study"], r["arm"]): r for r in self.tables["arms"].rows} if self._referable("arms") else None
        for i, row in enumerate(effects.rows):
            self._check_blocks(effects, i, row)
            if studies is not None and row["study"] and row["study"] not in studies:
                self._add(effects, i, "study", row["study"], "study not in studies table")
            if arms is not None:
                self._check_effect_arms(effects, i, row, arms)
        self._check_duplicates(effects)

    def _check_effect_arms(
        self, effects: RawTable, i: int, row: dict[str, str], arms: dict[tuple[str, str], dict[str, str]]
    ) -> None:
        study = row["study"]
        for column in ("arm", "comparator_arm"):
            if row[column] and (study, row[column]) not in arms:
                self._add(effects, i, column, row[column], f"arm not in arms table for study {study}")
        arm_row = arms.get((study, row["arm"]))
        if arm_row is not None and row["sample_id"] and arm_row["sample_id"] != row["sample_id"]:
            self._add(
                effects, i, "sample_id", row["sample_id"], f"differs from the arm's sample_id {arm_row['sample_id']!r}"
            )

    def _check_blocks(self, effects: RawTable, i: int, row: dict[str, str]) -> None:
        blocks = filled_blocks(row, self.schema)
        if len(blocks) != 1:
            self._add(
                effects,
                i,
                "data block",
                "+".join(blocks) or "none",
                f"exactly one data block must be filled ({', '.join(self.schema['blocks'])})",
            )
            return
        block = self.schema["blocks"][blocks[0]]
        for column in block["required"]:
            if not row[column]:
                self._add(effects, i, column, "", f"required by data block {blocks[0]}")
        for group in block.get("one_of", []):
            if not any(row[c] for c in group):
                self._add(effects, i, "/".join(group), "", f"data block {blocks[0]} needs one of these")
        if block.get("needs_comparator") and not row["comparator_arm"]:
            self._add(effects, i, "comparator_arm", "", f"data block {blocks[0]} compares two arms")
        if blocks[0] == "reported":
            self._check_reported(effects, i, row)
        for events, total in (("event_arm1", "totaln_arm1"), ("event_arm2", "totaln_arm2"), ("prop_events", "prop_n")):
            count, n = self._number(row, events), self._number(row, total)
            if count is not None and n is not None and count > n:
                self._add(effects, i, events, row[events], f"more events than {total}={row[total]}")

    def _check_reported(self, effects: RawTable, i: int, row: dict[str, str]) -> None:
        design = row["precalc_design"]
        if design == "between":
            for column in ("precalc_n_arm1", "precalc_n_arm2", "comparator_arm"):
                if not row[column]:
                    self._add(effects, i, column, "", "a between-group reported effect needs both arms and their n")
        elif design != "moderation" and (row["precalc_n_arm1"] or row["precalc_n_arm2"]):
            self._add(
                effects,
                i,
                "precalc_n_arm1",
                row["precalc_n_arm1"],
                "arm n are for between-group or moderation effects; use precalc_n",
            )
        if (row["precalc_metric"] == "p_only") != (not row["precalc_es"]):
            self._add(
                effects,
                i,
                "precalc_es",
                row["precalc_es"],
                "precalc_metric p_only goes with an empty precalc_es (and a printed precalc_p)",
            )
        if not row["precalc_positive"]:
            self._add(effects, i, "precalc_positive", "", "say what a positive reported value means")
        low, est, high = (self._number(row, c) for c in ("precalc_ci_low", "precalc_es", "precalc_ci_high"))
        if low is not None and high is not None and est is not None and not low <= est <= high:
            self._add(
                effects,
                i,
                "precalc_es",
                row["precalc_es"],
                f"estimate outside its CI [{row['precalc_ci_low']}, {row['precalc_ci_high']}]",
                "warning" if self._flagged(row) else "error",
            )

    def _check_duplicates(self, effects: RawTable) -> None:
        seen: dict[tuple, int] = {}
        for i, row in enumerate(effects.rows):
            key = tuple(row[c] for c in DUPLICATE_IDENTITY) + tuple(filled_blocks(row, self.schema))
            if key in seen:
                self._add(
                    effects,
                    i,
                    "effect_id",
                    row["effect_id"],
                    f"duplicate record: same study, arms, outcome, timepoint, analysis and data block "
                    f"as row {effects.row_number(seen[key])} (use the analysis column to tell them apart)",
                )
            else:
                seen[key] = i

    # -- driver ----------------------------------------------------------------------------
    def _check_provenance(self, report: ValidationReport) -> None:
        texts = SourceTexts(self.seeds_dir)
        named = {
            row["source"]
            for name, table in self.tables.items()
            for row in table.rows
            if row.get("source") and any(row.get(c) for c in quote_columns(self.schema, name))
        }
        why = texts.unusable(named)
        if why is not None:
            report.quote_check = f"skipped ({why})"
            self.problems.append(Problem(str(self.seeds_dir), None, None, None, f"quote check skipped: {why}", "info"))
            return
        report.quotes_checked = check_quotes(self.tables, self.schema, texts, self._add_unless_bad)
        report.quote_check = f"{report.quotes_checked} quotes checked against {self.seeds_dir}"

    def run(self) -> ValidationReport:
        """Read every table, check cells, references, records and provenance; never writes."""
        report = ValidationReport(self.problems)
        if not self.dir.is_dir():
            where = "is a file, not a folder" if self.dir.exists() else "not found"
            self.problems.append(Problem(str(self.dir), None, None, None, f"evidence folder {where}"))
            return report
        for name, spec in self.schema["tables"].items():
            if spec.get("optional") and not self._path(name).exists():
                continue
            table = read_table(self._path(name), name, self.problems)
            if table is not None:
                self.tables[name] = table
                self._check_table(table)
        record_rules = {"arms": self._check_arms, "effects": self._check_effects}
        for name in [n for n in self.tables if n in self.checked]:
            self._check_foreign_keys(self.tables[name])
            if name in record_rules:
                record_rules[name](self.tables[name])
        for name, table in self.tables.items():
            key = self.schema["tables"][name]["key"]
            for row in table.rows:
                if self._flagged(row):
                    ident = "/".join(row.get(k, "") for k in key)
                    report.flagged.append(f"{name} {ident}: {row.get('notes', '') or '(no note)'}")
        self._check_provenance(report)
        # rows imported from a published dataset cite a dataset row instead of a quote (evidence/datasets.py)
        checked = {name: self.tables[name] for name in self.checked}
        folder = data_dir()
        if skipped := check_dataset_provenance(checked, self.schema, folder, self._add):
            self.problems.append(Problem(str(folder), None, None, None, f"dataset check skipped: {skipped}", "info"))
        return report


def validate(evidence_dir: Path | str | None = None, seeds_dir: Path | str | None = None) -> ValidationReport:
    """Validate an evidence folder; never writes to it.

    Parameters
    ----------
    evidence_dir : path, optional
        The folder with the CSV tables (default: the bundled ``evidence/``).
    seeds_dir : path, optional
        Source texts for the quote check (default ``$MBTEVIDENCE_SEEDS`` or ``../shared/seeds``).
        A folder that is missing, a file, empty or without the named sources skips the check,
        and the report says why.

    Returns
    -------
    ValidationReport
    """
    from ..paths import EVIDENCE_DIR

    folder = Path(evidence_dir) if evidence_dir is not None else EVIDENCE_DIR
    return Validator(folder, None if seeds_dir is None else Path(seeds_dir)).run()
