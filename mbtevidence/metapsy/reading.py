"""Reading a Metapsy database file as published, and checking it.

The Metapsy data standard (docs.metapsy.org, "Data format"; metapsyTools ``checkDataFormat``)
stores one row per trial-arm comparison x outcome x time point, written by R's ``write.csv2``:
fields separated by ``;``, decimal commas, ``NA`` for missing, text quoted.  Columns starting with
``.`` are precalculated by metapsyTools (``.id``, ``.g``, ``.g_se``, ``.log_rr``...).

The reader keeps the file as published and copes with the quirks of released databases: text
double-encoded as UTF-8 (``LeppÃ¤nnen``) is repaired and reported; free text in a study-level
column is text; only the columns the standard defines as numbers are parsed.  Every problem is a
:class:`~mbtevidence.evidence.Problem` naming ``file:line``, column and value; errors raise
:class:`MetapsyError` (never a traceback at the command line).
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..evidence.reading import Problem, parse_number

STANDARD_COLUMNS = (
    "study",
    "condition_arm1",
    "condition_arm2",
    "multi_arm1",
    "multi_arm2",
    "outcome_type",
    "instrument",
    "time",
    "time_weeks",
    "rating",
    "mean_arm1",
    "mean_arm2",
    "sd_arm1",
    "sd_arm2",
    "n_arm1",
    "n_arm2",
    "event_arm1",
    "event_arm2",
    "totaln_arm1",
    "totaln_arm2",
)
"""Columns every Metapsy file has (metapsyTools ``checkDataFormat(must.contain=)``)."""
OPTIONAL_STANDARD_COLUMNS = (
    "mean_change_arm1",
    "mean_change_arm2",
    "sd_change_arm1",
    "sd_change_arm2",
    "n_change_arm1",
    "n_change_arm2",
    "precalc_g",
    "precalc_g_se",
    "precalc_log_rr",
    "precalc_log_rr_se",
)
"""Effect-size data groups of the standard a file may leave out (metapsyTools ``calculateEffectSizes``)."""
NUMERIC_COLUMNS = frozenset(
    {"time_weeks", "year", "rand_arm1", "rand_arm2", "attr_arm1", "attr_arm2"}
    | {c for c in STANDARD_COLUMNS + OPTIONAL_STANDARD_COLUMNS if c.startswith(("mean", "sd", "n_", "event", "tot"))}
    | {c for c in OPTIONAL_STANDARD_COLUMNS if c.startswith("precalc")}
    | {f"baseline_{k}_arm{a}" for k in ("m", "sd", "n") for a in (1, 2)}
    | {".g", ".g_se", ".log_rr", ".log_rr_se", ".event_arm1", ".event_arm2", ".totaln_arm1", ".totaln_arm2"}
)
"""Columns read as numbers (decimal comma or point); every other column is text."""
OUTCOME_TYPES = ("msd", "change", "dich", "precalc")
MISSING = "NA"
ID_ARMS = ("condition_arm1", "condition_arm2", "multi_arm1", "multi_arm2")
MOJIBAKE = re.compile("[ÃÂâ][\u0080-\u00bf\u2018-\u203a\u20ac]")
"""A UTF-8 lead byte read as Latin-1 / Windows-1252 followed by a continuation byte."""


@dataclass(frozen=True)
class DatasetInfo:
    """Which published dataset a file is: folder name, source commit and DOI (for provenance)."""

    name: str
    commit: str = ""
    doi: str = ""

    def describe(self) -> str:
        parts = [f"commit {self.commit}" if self.commit else "", f"DOI {self.doi}" if self.doi else ""]
        return "; ".join(p for p in parts if p) or "version not recorded"

    @classmethod
    def beside(cls, path: Path) -> DatasetInfo:
        """The dataset a file belongs to: its folder's name, and the commit and DOI its README states."""
        folder = Path(path).resolve().parent
        readme = folder / "README.md"
        text = readme.read_text(encoding="utf-8", errors="replace") if readme.is_file() else ""
        commit = re.search(r"\bcommit\s+([0-9a-f]{7,40})\b", text)
        doi = re.search(r"\b(10\.\d{4,9}/[^\s;,)]+[^\s;,).])", text)
        return cls(folder.name, commit.group(1) if commit else "", doi.group(1) if doi else "")


class MetapsyError(ValueError):
    """A Metapsy file that cannot be used; ``problems`` lists every error (file:line, column, value, rule)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class MetapsyFile:
    """A Metapsy database file as published: header, text cells (``NA`` -> ``""``, mojibake repaired),
    the text line of each row, and the warnings and notes reading produced."""

    path: Path
    header: list[str]
    rows: list[dict[str, str]]
    lines: list[int]
    dataset: DatasetInfo
    problems: list[Problem] = field(default_factory=list)

    def where(self, i: int) -> str:
        """``file:line`` of row ``i``."""
        return f"{self.path}:{self.lines[i]}"

    def number(self, i: int, column: str) -> float:
        """Numeric cell of row ``i`` (NaN when missing or not a column of the file)."""
        text = self.rows[i].get(column, "")
        return parse_number(text.replace(",", ".")) if text else math.nan

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame: numeric columns as floats (NaN for NA), text as strings."""
        data = {
            c: [self.number(i, c) for i in range(len(self.rows))]
            if c in NUMERIC_COLUMNS
            else [r.get(c, "") for r in self.rows]
            for c in self.header
        }
        return pd.DataFrame(data, index=pd.RangeIndex(len(self.rows)))


def repair_text(text: str) -> str:
    """Undo double (or repeated) UTF-8 encoding: ``LeppÃ¤nnen`` -> ``Leppännen``; a non-breaking
    space that appears on repair becomes a space.  Text without the pattern is returned unchanged."""
    while MOJIBAKE.search(text):
        for codec in ("latin-1", "cp1252"):
            try:
                fixed = text.encode(codec).decode("utf-8")
                break
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
        else:
            return text
        text = fixed.replace("\u00a0", " ")
    return text


def metapsy_id(row: dict[str, str]) -> str:
    """metapsyTools' comparison id: study, outcome_type, instrument, time, time_weeks, rating,
    condition_arm1/2, multi_arm1/2 joined by ``_``; commas become ``_``, spaces are removed."""
    parts = ("study", "outcome_type", "instrument", "time", "time_weeks", "rating", *ID_ARMS)
    text = "_".join(row.get(p) or MISSING for p in parts)
    return text.replace(",", "_").replace(" ", "")


def _records(path: Path) -> list[tuple[int, list[str]]]:
    """(text line, cells) of every record; an unreadable file raises MetapsyError."""

    def fail(rule: str) -> MetapsyError:
        return MetapsyError([Problem(str(path), None, None, None, rule)])

    try:
        text = path.read_bytes().decode("utf-8").lstrip("\ufeff")
    except OSError as exc:
        raise fail(f"cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    if not text.strip():
        raise fail("empty file: the first line must be the header")
    first = text.split("\n", 1)[0]
    if first.count(";") == 0 and first.count(",") >= 2:
        raise MetapsyError(
            [Problem(str(path), 1, None, None, "comma-separated: the Metapsy dialect separates fields with ';'")]
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";", strict=True)
    records, start = [], 1
    try:
        for cells in reader:
            records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise MetapsyError([Problem(str(path), start, None, None, f"not readable as CSV ({exc})")]) from None
    return records


def _check_header(path: Path, header: list[str]) -> list[Problem]:
    problems = [
        Problem(str(path), 1, name, None, "column appears twice in the header")
        for j, name in enumerate(header)
        if name and name in header[:j]
    ]
    missing = [c for c in STANDARD_COLUMNS if c not in header]
    if missing:
        problems.append(
            Problem(str(path), 1, None, None, f"missing column(s) of the Metapsy standard: {', '.join(missing)}")
        )
    return problems


def _check_row(path: Path, line: int, row: dict[str, str]) -> list[Problem]:
    """Numbers that are not numbers, impossible values, unknown outcome types."""
    problems: list[Problem] = []
    values: dict[str, float] = {}
    for column, text in row.items():
        if column in NUMERIC_COLUMNS and text:
            try:
                values[column] = parse_number(text.replace(",", "."))
            except ValueError:
                problems.append(
                    Problem(str(path), line, column, text, "not a number (decimal comma or point; NA when missing)")
                )
    for arm in ("1", "2"):
        for column, low, rule in (
            (f"sd_arm{arm}", 0.0, "an SD must be > 0"),
            (f"sd_change_arm{arm}", 0.0, "an SD must be > 0"),
            (f"n_arm{arm}", 0.5, "n must be at least 1"),
            (f"n_change_arm{arm}", 0.5, "n must be at least 1"),
            (f"totaln_arm{arm}", 0.5, "n must be at least 1"),
            (f"event_arm{arm}", -0.5, "events cannot be negative"),
        ):
            if column in values and values[column] <= low:
                problems.append(Problem(str(path), line, column, row[column], rule))
        events, total = values.get(f"event_arm{arm}", np.nan), values.get(f"totaln_arm{arm}", np.nan)
        if events > total:
            problems.append(
                Problem(str(path), line, f"event_arm{arm}", row[f"event_arm{arm}"], f"more events than totaln_arm{arm}")
            )
    kind = row.get("outcome_type", "")
    if kind not in OUTCOME_TYPES:
        problems.append(
            Problem(
                str(path),
                line,
                "outcome_type",
                kind,
                f"not one of {', '.join(OUTCOME_TYPES)}: no effect size",
                "warning",
            )
        )
    return problems


def read_metapsy(path: Path | str, dataset: DatasetInfo | None = None) -> MetapsyFile:
    """Read and check a Metapsy database file as published.

    Parameters
    ----------
    path : path
        The ``data.csv`` of a Metapsy database (``;``-separated, decimal commas, ``NA``).
    dataset : DatasetInfo, optional
        Name, commit and DOI of the dataset; default: the file's folder and what its README states.

    Returns
    -------
    MetapsyFile
        Rows as text (``NA`` -> ``""``, double-encoded UTF-8 repaired), with warnings and notes.

    Raises
    ------
    MetapsyError
        Listing every error: unreadable file, wrong separator, missing standard columns, a row
        with another number of cells, a number that is not one, an impossible value (SD <= 0,
        n < 1, more events than patients), a duplicate ``.id``.
    """
    path = Path(path)
    records = _records(path)
    header = [h.strip() for h in records[0][1]]
    errors = _check_header(path, header)
    if errors:
        raise MetapsyError(errors)
    rows, lines, notes = [], [], []
    repaired: dict[str, list[tuple[str, str]]] = {}
    for line, cells in records[1:]:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            errors.append(Problem(str(path), line, None, None, f"row has {len(cells)} cells, the header {len(header)}"))
            continue
        raw = {name: "" if cell.strip() == MISSING else cell.strip() for name, cell in zip(header, cells, strict=True)}
        if raw.get(".id") and metapsy_id(raw) != raw[".id"]:
            rule = f"differs from the id metapsyTools builds from this row ({metapsy_id(raw)})"
            notes.append(Problem(str(path), line, ".id", raw[".id"], rule, "warning"))
        row = {}
        for name, text in raw.items():
            row[name] = text if name == ".id" else repair_text(text)  # the id stays as published: provenance
            if row[name] != text:
                repaired.setdefault(name, []).append((text, row[name]))
        problems = _check_row(path, line, row)
        errors += [p for p in problems if p.severity == "error"]
        notes += [p for p in problems if p.severity != "error"]
        rows.append(row)
        lines.append(line)
    first_line: dict[str, int] = {}
    for row, line in zip(rows, lines, strict=True):
        row_id = row.get(".id", "")
        if row_id and row_id in first_line:
            errors.append(
                Problem(str(path), line, ".id", row_id, f"duplicate .id (first at line {first_line[row_id]})")
            )
        first_line.setdefault(row_id, line)
    if errors:
        raise MetapsyError(errors)
    for column, pairs in repaired.items():
        before, after = pairs[0]
        rule = (
            f"{column}: double-encoded UTF-8 repaired in {len(pairs)} cell(s), e.g. {before[:40]!r} -> {after[:40]!r}"
        )
        notes.append(Problem(str(path), None, None, None, rule, "info"))
    return MetapsyFile(path, header, rows, lines, dataset or DatasetInfo.beside(path), notes)
