"""Reading the evidence CSV files as a spreadsheet saves them, and typing them for analysis.

Reading never writes.  It accepts what spreadsheets write: UTF-8 with or without a byte-order
mark, LF, CRLF or CR line endings, trailing empty rows and columns, spaces around cells.  A file
that cannot be read as the documented format (another separator or encoding, a workbook, a
ragged row, an unclosed quote, a folder, an empty file) becomes one file-level :class:`Problem`
saying what was found and how to fix it; its table is not validated cell by cell.

Rows are numbered as a spreadsheet shows them (the header is row 1, blank rows count); when an
earlier cell spans several lines, the text line where the row starts is given too.  Numbers are
read by :func:`parse_number` only, in validation and in typed loading alike.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .schema import NUMERIC_TYPES

SAVE_AS = "save it as CSV UTF-8 (comma delimited)"
SEPARATORS = {";": "semicolon", "\t": "tab", "|": "pipe"}
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
NUMBER_PATTERN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
NUMBER_HINT = "digits 0-9, a decimal point and an optional exponent such as 1.5e-3; no units, spaces or separators"


def printable(text: str) -> str:
    """``text`` made safe for a terminal: tabs and line breaks become spaces, other control and
    format characters (escape sequences, bidirectional overrides) are shown as ``\\x1b``-style escapes."""
    return "".join(_shown(c) for c in text)


def _shown(c: str) -> str:
    if c in "\t\n\r":
        return " "
    if unicodedata.category(c)[0] == "C" or c in "\u2028\u2029":
        return c.encode("unicode_escape", "backslashreplace").decode("ascii")
    return c


@dataclass(frozen=True)
class Problem:
    """One broken rule at one cell.  ``severity`` is error, warning or info; ``row`` is the
    spreadsheet row, ``line`` the text line where that row starts (given when it differs)."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str
    severity: str = "error"
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}:{self.row}"
        where += f" (text line {self.line})" if self.line not in (None, self.row) else ""
        cell = "" if self.column is None else f" {self.column}={self.value!r}"
        tag = "" if self.severity == "error" else f"[{self.severity}] "
        return printable(f"{tag}{where}{cell}: {self.rule}")


@dataclass
class RawTable:
    """A CSV table as the reviewer wrote it: header, rows of stripped strings, and where each row is."""

    name: str
    path: Path
    header: list[str]
    rows: list[dict[str, str]]
    lines: list[int] = field(default_factory=list)
    """Spreadsheet row of each data row (the header is row 1)."""
    text_lines: list[int] = field(default_factory=list)
    """Text line where each data row starts (differs from its row after a multi-line cell)."""

    def row_number(self, index: int) -> int:
        """The spreadsheet row of data row ``index``."""
        return self.lines[index] if self.lines else index + 2

    def text_line(self, index: int) -> int | None:
        """The text line where data row ``index`` starts."""
        return self.text_lines[index] if self.text_lines else None


class Unreadable(ValueError):
    """A file that cannot be read as the documented format; the message says why and what to do."""


def read_table(path: Path, name: str, problems: list[Problem]) -> RawTable | None:
    """Read one CSV as stripped strings; a file that cannot be read becomes one problem, never a traceback."""
    try:
        records = _records(_decoded(Path(path), name))
        header = _header(records[0][2])
        rows, lines, text_lines = _rows(records[1:], header)
    except Unreadable as exc:
        problems.append(Problem(str(path), None, None, None, str(exc)))
        return None
    return RawTable(name, Path(path), header, rows, lines, text_lines)


def _decoded(path: Path, name: str) -> str:
    """The file's text, or :class:`Unreadable` naming the format found instead of UTF-8 CSV."""
    if not path.exists():
        raise Unreadable(f"missing: the {name} table is required")
    if path.is_dir():
        raise Unreadable("is a folder, not a CSV file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise Unreadable(f"cannot be read ({exc.strerror})") from None
    if data.startswith(ZIP_MAGIC):
        raise Unreadable(f"is an Excel workbook (.xlsx) or another zip file, not CSV: {SAVE_AS}")
    if data.startswith(OLE_MAGIC):
        raise Unreadable(f"is an Excel 97-2003 workbook (.xls), not CSV: {SAVE_AS}")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or max(data[:200:2].count(0), data[1:200:2].count(0)) > 20:
        raise Unreadable(f"is UTF-16 text (Excel's 'Unicode Text'), not UTF-8: {SAVE_AS}")
    if b"\x00" in data:
        raise Unreadable(f"contains NUL bytes (line {_line_at(data, data.index(0))}): not a text file; {SAVE_AS}")
    try:
        text = data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        seen = bytes([byte]).decode("cp1252", errors="replace")
        raise Unreadable(
            f"not UTF-8: byte 0x{byte:02x} at line {_line_at(data, exc.start)} ({seen!r} in Windows-1252, "
            f"the encoding of Excel's plain 'CSV'); {SAVE_AS}"
        ) from None
    if not text.strip():
        raise Unreadable("empty file: the first line must be the header (column names)")
    return text


def _line_at(data: bytes, offset: int) -> int:
    newline = b"\n" if b"\n" in data else b"\r"
    return data.count(newline, 0, offset) + 1


def _records(text: str) -> list[tuple[int, int, list[str]]]:
    """(spreadsheet row, text line where it starts, cells) of every record, blank ones included."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, int, list[str]]] = []
    start = 1
    try:
        for values in reader:
            records.append((len(records) + 1, start, values))
            start = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise Unreadable(
                f"unclosed quote: a quoted cell in the row starting at line {start} runs to the end of the file; "
                'close it with " (a quote inside a cell is written "")'
            ) from None
        if "expected after" in str(exc):
            raise Unreadable(
                f'unbalanced quote in the row starting at line {start}: a quoted cell must end with " right '
                'before the next comma (a quote inside a cell is written "")'
            ) from None
        raise Unreadable(f"not readable as CSV at line {start} ({exc})") from None
    if not records or not any(v.strip() for v in records[0][2]):
        raise Unreadable("the first line is empty: it must be the header (column names)")
    return records


def _header(cells: list[str]) -> list[str]:
    """Column names (trailing empty ones dropped); another separator or a nameless or repeated
    column stops reading."""
    first = ",".join(cells)
    for separator, label in SEPARATORS.items():
        names = next(csv.reader([first], delimiter=separator))
        if len(names) > max(len(cells), 2):
            raise Unreadable(
                f"looks {label}-separated (the header splits into {len(names)} names at {separator!r}): "
                f"save as comma-separated, CSV UTF-8, with a decimal point"
            )
    header = [h.strip() for h in cells]
    while header and not header[-1]:
        header.pop()
    for j, name in enumerate(header):
        if not name:
            raise Unreadable(f"header column {j + 1} has no name: every column needs its name in the first line")
        if name in header[:j]:
            raise Unreadable(
                f"column {name!r} appears twice in the header (columns {header.index(name) + 1} and {j + 1}): "
                "keep one and delete the other"
            )
    return header


def _rows(
    records: list[tuple[int, int, list[str]]], header: list[str]
) -> tuple[list[dict[str, str]], list[int], list[int]]:
    """Non-blank records as dicts of stripped cells; a record with another number of cells stops reading."""
    width = len(header)
    rows: list[dict[str, str]] = []
    lines: list[int] = []
    text_lines: list[int] = []
    ragged: list[tuple[int, int, int]] = []
    for row, line, values in records:
        cells = [v.strip() for v in values]
        if not any(cells):
            continue
        if len(cells) < width or any(cells[width:]):
            ragged.append((row, line, len(values)))
            continue
        rows.append(dict(zip(header, cells, strict=False)))
        lines.append(row)
        text_lines.append(line)
    if ragged:
        row, line, count = ragged[0]
        where = f"row {row}" + (f" (text line {line})" if line != row else "")
        more = f"; {len(ragged) - 1} more row(s) too" if len(ragged) > 1 else ""
        raise Unreadable(
            f"{where} has {count} cells, the header {width} names{more}: a cell is missing or extra "
            "(an unquoted comma inside a cell?); the table is not checked further"
        )
    return rows, lines, text_lines


def parse_number(text: str) -> float:
    """The number in a cell: optional sign, ASCII digits, decimal point, optional exponent.

    The one number parser of validation and loading, so whatever validates also loads.  Python's
    ``float`` is not the grammar: it accepts underscores (``1_07``), non-ASCII digits and nan/inf.

    Raises
    ------
    ValueError
        With a hint how to write the number (finite, no units, thousands separators or decimal comma).
    """
    if NUMBER_PATTERN.fullmatch(text) is None:
        raise ValueError(_number_hint(text))
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("too large to be a number")
    return value


def _number_hint(text: str) -> str:
    if any(c.isdigit() and not c.isascii() for c in text):
        return "type the digits as 0-9 (this cell has full-width or other non-ASCII digits)"
    if re.fullmatch(r"[+-]?[0-9]+(,[0-9]+)+", text):
        return "decimal point, not a comma, and no thousands separators"
    if text.lstrip("+-").lower() in ("nan", "inf", "infinity", "na", "n/a"):
        return "leave the cell empty when no value is printed"
    return NUMBER_HINT


def typed_frame(table: RawTable, columns: dict[str, dict]) -> pd.DataFrame:
    """A table's rows as a DataFrame with numbers (:func:`parse_number`), nullable integers and booleans typed."""
    frame = pd.DataFrame(table.rows, columns=list(columns)).replace("", None)
    for column, spec in columns.items():
        if spec["type"] in NUMERIC_TYPES:
            numbers = [math.nan if pd.isna(v) else parse_number(v) for v in frame[column]]
            frame[column] = pd.Series(numbers, index=frame.index, dtype=float)
            if spec["type"] == "integer":
                frame[column] = frame[column].astype("Int64")
        elif spec["type"] == "boolean":
            frame[column] = frame[column].str.lower().map({"yes": True, "no": False}).astype("boolean")
    return frame
