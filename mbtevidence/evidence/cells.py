"""The rule one evidence cell breaks, from its column's schema entry alone.

Numbers are read by :func:`~mbtevidence.evidence.reading.parse_number` (the parser loading uses);
integers are at most :data:`~mbtevidence.evidence.schema.INTEGER_MAX` unless the schema gives a
``max``; no cell may hold an invisible control character; a quote segment must be long enough
to locate in its source.
"""

from __future__ import annotations

import re
import unicodedata

from .provenance import MIN_QUOTE_CHARS, short_segment
from .reading import parse_number
from .schema import INTEGER_MAX, NUMERIC_TYPES

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")
P_COMPARATOR = re.compile(r"^[<>]=?\s*")
MAX_FILE_NAME_BYTES = 255
"""Longest file name common file systems allow (a ``source`` cell names a file)."""
SHORT_QUOTE = (
    f"too short to locate in the source: quote at least {MIN_QUOTE_CHARS} characters, or a passage with a number"
)


def cell_problem(value: str, spec: dict, schema: dict) -> tuple[str, str] | None:
    """The broken rule of a stripped cell as (value to show, rule), or None when the cell is valid.

    Parameters
    ----------
    value : str
        The cell as read (stripped; ``""`` when empty).
    spec : dict
        The column's schema entry (``type``, ``required``, ``vocab``, ``min``, ``exclusive_min``, ``max``).
    schema : dict
        The whole schema (vocabularies, quote segment separator).
    """
    kind = spec["type"]
    control = next((c for c in value if unicodedata.category(c) == "Cc" and c not in "\t\n\r"), None)
    if control is not None:
        return value, f"contains the invisible control character U+{ord(control):04X}"
    if value == "":
        return (value, "required value is empty") if spec.get("required") else None
    if kind == "id" and not ID_PATTERN.match(value):
        return value, "ids use letters, digits, _ . + - and no spaces"
    if kind == "boolean" and value.lower() not in ("yes", "no"):
        return value, "must be yes or no"
    if kind == "vocab" and value not in schema["vocabularies"][spec["vocab"]]:
        return value, f"not in vocabulary {spec['vocab']}: {', '.join(schema['vocabularies'][spec['vocab']])}"
    if kind == "p_value":
        return _p_problem(value)
    if kind in NUMERIC_TYPES:
        return _number_problem(value, spec)
    if kind == "source" and ("/" in value or "\\" in value):
        return value, "source is a file name under the seeds folder, not a path"
    if kind == "source" and len(value.encode("utf-8")) > MAX_FILE_NAME_BYTES:
        return value, f"file name longer than {MAX_FILE_NAME_BYTES} bytes"
    if kind == "quote" and (segment := short_segment(value, schema["quote_segment_separator"])) is not None:
        return segment, SHORT_QUOTE
    return None


def _number_problem(value: str, spec: dict) -> tuple[str, str] | None:
    integer = spec["type"] == "integer"
    try:
        number = parse_number(value)
    except ValueError as exc:
        return value, f"must be {'an integer' if integer else 'a number'}: {exc}"
    high = spec.get("max", INTEGER_MAX if integer else None)
    if integer and not number.is_integer():
        return value, "must be a whole number"
    if "min" in spec and number < spec["min"]:
        return value, f"must be >= {spec['min']}"
    if high is not None and number > high:
        return value, f"must be <= {high}"
    if "exclusive_min" in spec and number <= spec["exclusive_min"]:
        return value, f"must be > {spec['exclusive_min']}"
    return None


def _p_problem(value: str) -> tuple[str, str] | None:
    try:
        p = parse_number(P_COMPARATOR.sub("", value, count=1))
    except ValueError:
        return value, "p value must be a number or <number"
    return None if 0 <= p <= 1 else (value, "p value must be in [0, 1]")
