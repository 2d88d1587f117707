"""Provenance of rows taken from a published dataset (``provenance_kind = dataset``).

A curated row proves its numbers with a verbatim quote of a source text; a row imported from a
published dataset (the Metapsy database) proves them with the dataset row they came from:
``source`` names the dataset's folder under the data folder (:func:`mbtevidence.paths.data_dir`),
whose ``data.csv`` is the file as published, and ``dataset_row_id`` the row's id there (Metapsy's
``.id``).  Checked here, in tables with a ``provenance_kind`` column:

* a quote row (``provenance_kind`` empty or ``quote``) has its ``quote`` (the schema cannot say
  "required unless dataset", so this rule lives here);
* a dataset row has a ``dataset_row_id`` and no quote;
* when the data folder exists: the dataset file exists, the row id is in it, and every number of
  the record (except locating numbers and ``derived_columns``) appears in that row, decimal commas
  read as points (:func:`~mbtevidence.evidence.provenance.quote_numbers`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from .provenance import UNCHECKED_NUMBERS, number_is_printed, quote_numbers
from .reading import RawTable
from .schema import NUMERIC_TYPES, quote_columns

DATASET_FILE = "data.csv"
ROW_ID_COLUMN = ".id"


def dataset_rows(path: Path) -> dict[str, str] | None:
    """Row id -> the row's cells joined by spaces, of a published dataset file (``;`` or ``,``
    separated, with a ``.id`` column); None when the file cannot be read."""
    try:
        text = path.read_text(encoding="utf-8").lstrip("\ufeff")
    except (OSError, UnicodeDecodeError):
        return None
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";" if first.count(";") > first.count(",") else ",")
    header = next(reader, [])
    if ROW_ID_COLUMN not in header:
        return None
    j = header.index(ROW_ID_COLUMN)
    return {cells[j]: " ".join(cells) for cells in reader if len(cells) > j}


def check_dataset_provenance(
    tables: dict[str, RawTable],
    schema: dict,
    folder: Path,
    report: Callable[[RawTable, int, str, str, str], None],
) -> str | None:
    """Check quote rows for their quote and dataset rows against their dataset (see module doc).

    ``report(table, index, column, value, rule)`` receives each problem.  Returns why the dataset
    part was skipped (no data folder), or None when it ran or no row names a dataset.
    """
    datasets: dict[str, dict[str, str] | None] = {}
    skipped = None
    for name, table in tables.items():
        if "provenance_kind" not in table.header:
            continue
        columns = schema["tables"][name]["columns"]
        quotes = quote_columns(schema, name)
        numeric = [c for c, s in columns.items() if s["type"] in NUMERIC_TYPES and c not in UNCHECKED_NUMBERS]
        for i, row in enumerate(table.rows):
            if row["provenance_kind"] != "dataset":
                if not row.get("quote"):
                    report(table, i, "quote", "", "required value is empty (a quote row needs its verbatim quote)")
                continue
            if not row.get("dataset_row_id"):
                report(table, i, "dataset_row_id", "", "a dataset row names its row in the dataset")
            for column in (c for c in quotes if row.get(c)):
                report(
                    table, i, column, row[column][:40], "a dataset row has no quote: dataset_row_id is its provenance"
                )
            if not Path(folder).is_dir():
                skipped = f"data folder {folder} not found"
                continue
            source = row.get("source", "")
            if source not in datasets:
                datasets[source] = dataset_rows(Path(folder) / source / DATASET_FILE)
                if datasets[source] is None:
                    report(table, i, "source", source, f"no readable dataset {source}/{DATASET_FILE} in {folder}")
            rows = datasets[source]
            if rows is None or not row.get("dataset_row_id"):
                continue
            text = rows.get(row["dataset_row_id"])
            if text is None:
                report(
                    table, i, "dataset_row_id", row["dataset_row_id"], f"no row with this {ROW_ID_COLUMN} in {source}"
                )
                continue
            printed = quote_numbers(text)
            derived = {c.strip() for c in row.get("derived_columns", "").split(",")}
            for column in numeric:
                value = row.get(column, "")
                if value and column not in derived and not number_is_printed(value, printed):
                    report(table, i, column, value, f"number does not appear in dataset row {row['dataset_row_id']}")
    return skipped
