"""Reading the evidence CSV files as the reviewer wrote them, and typing them for analysis.

Reading never writes.  Every problem is a :class:`Problem` naming file, row (the line a
spreadsheet shows), column, value and the rule broken.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


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
class RawTable:
    """A CSV table as the reviewer wrote it: header, rows of strings and each row's line number."""

    name: str
    path: Path
    header: list[str]
    rows: list[dict[str, str]]
    lines: list[int] = field(default_factory=list)

    def row_number(self, index: int) -> int:
        """The line of data row ``index`` in the file (the header is line 1)."""
        return self.lines[index] if self.lines else index + 2


def read_table(path: Path, name: str, problems: list[Problem]) -> RawTable | None:
    """Read one CSV as strings; unreadable files become problems, not tracebacks."""
    if not path.exists():
        problems.append(Problem(str(path), None, None, None, f"missing {name} table"))
        return None
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            rows = [(reader.line_num, values) for values in reader]
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        problems.append(Problem(str(path), None, None, None, f"not a readable UTF-8 CSV file ({exc})"))
        return None
    if not rows:
        problems.append(Problem(str(path), None, None, None, "empty file: a header row is required"))
        return None
    header = [h.strip() for h in rows[0][1]]
    records, lines = [], []
    for line, values in rows[1:]:
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            problems.append(
                Problem(str(path), line, None, None, f"row has {len(values)} cells, header has {len(header)}")
            )
        records.append({h: (values[j].strip() if j < len(values) else "") for j, h in enumerate(header)})
        lines.append(line)
    return RawTable(name, path, header, records, lines)


def typed_frame(table: RawTable, columns: dict[str, dict]) -> pd.DataFrame:
    """A table's rows as a DataFrame with numbers, nullable integers and booleans typed."""
    frame = pd.DataFrame(table.rows, columns=list(columns)).replace("", None)
    for column, spec in columns.items():
        if spec["type"] in ("number", "integer"):
            frame[column] = pd.to_numeric(frame[column])
            if spec["type"] == "integer":
                frame[column] = frame[column].astype("Int64")
        elif spec["type"] == "boolean":
            frame[column] = frame[column].str.lower().map({"yes": True, "no": False}).astype("boolean")
    return frame
