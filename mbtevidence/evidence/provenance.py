"""Provenance checks: every quote is verbatim in its source and long enough to locate there, every
number is printed in its quote.

Source texts are PDF conversions; :func:`normalise_text` collapses whitespace and undoes
hyphenation on both sides before comparing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from .reading import RawTable, parse_number
from .schema import NUMERIC_TYPES, quote_columns

MIN_QUOTE_CHARS = 20
"""A quote segment shorter than this must contain a number to say where in the source it is."""
UNCHECKED_NUMBERS = {"timepoint_months", "baseline_months", "year"}
"""Numbers that locate a record rather than report a result (not required to be in the quote)."""
NUMBER_IN_TEXT = re.compile(r"\d*[.,]?\d+")
NUMBER_WORDS = {
    "once": 1,
    "twice": 2,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}


def normalise_text(text: str) -> str:
    """Collapse whitespace and undo hyphenation so quotes survive PDF line breaks."""
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"(\w)- ?(\w)", r"\1\2", text).strip()


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


def number_is_printed(value: str, printed: set[float]) -> bool:
    """Whether the cell value (its absolute value) is among the printed numbers."""
    try:
        number = abs(parse_number(value))
    except ValueError:
        return True  # not a number: the cell check reports it
    return any(math.isclose(number, p, rel_tol=1e-9, abs_tol=1e-12) for p in printed)


class SourceTexts:
    """The normalised source texts of a seeds folder, read once each."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._texts: dict[str, str | None] = {}

    def text(self, source: str) -> str | None:
        """The normalised text of ``source``; None when it is no readable file in the folder."""
        if source not in self._texts:
            try:
                self._texts[source] = normalise_text(
                    (self.folder / source).read_text(encoding="utf-8", errors="replace")
                )
            except (OSError, ValueError):  # missing, a folder, a name too long or with a NUL byte
                self._texts[source] = None
        return self._texts[source]

    def unusable(self, sources: set[str]) -> str | None:
        """Why the folder cannot check quotes of ``sources`` (None when it can): missing, a file,
        empty, or holding none of them."""
        if not self.folder.exists():
            return f"{self.folder} does not exist"
        if not self.folder.is_dir():
            return f"{self.folder} is a file, not a folder of source texts"
        if not any(self.folder.iterdir()):
            return f"{self.folder} is empty"
        if sources and all(self.text(s) is None for s in sources):
            return f"none of the {len(sources)} source files the evidence names is in {self.folder}"
        return None

    def missing_segments(self, source: str, quote: str, separator: str) -> Iterator[str]:
        """Segments of ``quote`` not found verbatim in ``source``."""
        text = self.text(source) or ""
        for segment in quote.split(separator):
            if normalise_text(segment) not in text:
                yield segment


def short_segment(quote: str, separator: str) -> str | None:
    """The first segment of ``quote`` too short to locate in its source: under
    :data:`MIN_QUOTE_CHARS` characters and without a number."""
    for segment in quote.split(separator):
        if len(normalise_text(segment)) < MIN_QUOTE_CHARS and not re.search("[0-9]", segment):
            return segment
    return None


def check_quotes(
    tables: dict[str, RawTable],
    schema: dict,
    texts: SourceTexts,
    report: Callable[[RawTable, int, str, str, str], None],
) -> int:
    """Check every quote-type cell verbatim against its row's source, and every number of the row
    against the row's quotes; ``report(table, index, column, value, rule)`` receives each problem.
    A source that is not in the folder is reported once, at its first row.  Returns the number of
    quotes checked."""
    separator = schema["quote_segment_separator"]
    checked = 0
    missing: dict[str, list[tuple[RawTable, int]]] = {}
    for name, table in tables.items():
        columns = schema["tables"][name]["columns"]
        quotes = quote_columns(schema, name)
        numeric = [c for c, spec in columns.items() if spec["type"] in NUMERIC_TYPES and c not in UNCHECKED_NUMBERS]
        for i, row in enumerate(table.rows):
            source = row.get("source", "")
            filled = [c for c in quotes if row.get(c)]
            if not source or not filled:
                continue
            if texts.text(source) is None:
                missing.setdefault(source, []).append((table, i))
                continue
            printed: set[float] = set()
            for column in filled:
                checked += 1
                for segment in texts.missing_segments(source, row[column], separator):
                    shown = segment[:70] + ("..." if len(segment) > 70 else "")
                    report(table, i, column, shown, f"quote not found verbatim in {source}")
                printed |= quote_numbers(row[column])
            derived = {c.strip() for c in row.get("derived_columns", "").split(",")}
            for column in numeric:
                value = row.get(column, "")
                if value and column not in derived and not number_is_printed(value, printed):
                    report(table, i, column, value, "number does not appear in the record's quote")
    for source, places in missing.items():
        table, i = places[0]
        more = f" (also named on {len(places) - 1} more rows, not checked either)" if len(places) > 1 else ""
        report(table, i, "source", source, f"no such source file in {texts.folder}{more}")
    return checked
