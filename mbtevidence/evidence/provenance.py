"""Provenance checks: every quote is verbatim in its source, every number is printed in its quote.

Source texts are PDF conversions; :func:`normalise_text` collapses whitespace and undoes
hyphenation on both sides before comparing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

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
        number = abs(float(value))
    except ValueError:
        return True  # not a number: the cell check reports it
    return any(math.isclose(number, p, rel_tol=1e-9, abs_tol=1e-12) for p in printed)


class SourceTexts:
    """The normalised source texts of a seeds folder, read once each."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._texts: dict[str, str | None] = {}

    def text(self, source: str) -> str | None:
        if source not in self._texts:
            path = self.folder / source
            self._texts[source] = (
                normalise_text(path.read_text(encoding="utf-8", errors="replace")) if path.is_file() else None
            )
        return self._texts[source]

    def missing_segments(self, source: str, quote: str, separator: str) -> Iterator[str]:
        """Segments of ``quote`` not found verbatim in ``source``."""
        text = self.text(source) or ""
        for segment in quote.split(separator):
            if normalise_text(segment) not in text:
                yield segment
