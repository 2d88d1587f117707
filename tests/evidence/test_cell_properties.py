"""Property-based tests: one perturbed cell of the minimal valid evidence is reported at its own
file, row and column; any cell text validates without a traceback, and what validates loads; any
table a spreadsheet could save (BOM, line endings, quoting, blank rows) reads back cell for cell."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from conftest import SOURCE_TEXT, minimal_tables, write_evidence
from hypothesis import given, settings
from hypothesis import strategies as st

from mbtevidence.evidence import load_evidence, load_schema, read_table, summary_tables, validate

SCHEMA = load_schema()
TABLES = minimal_tables()
CELLS = [
    (table, i, column)
    for table, rows in TABLES.items()
    for i in range(len(rows))
    for column in SCHEMA["tables"][table]["columns"]
]
ASCII_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""The documented number format, restated here as the oracle."""
P_PREFIX = re.compile(r"^[<>]=?\s*")
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+\-]*")
CELL_TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=30)
"""Any text a cell can hold (a NUL byte makes the whole file unreadable, which the corpus tests)."""
PROPERTY_SETTINGS = settings(max_examples=80, deadline=None)


def breaking(spec: dict) -> st.SearchStrategy[str]:
    """Values that break the rule of a column with schema entry ``spec``."""
    kind = spec["type"]
    control = st.builds(
        lambda a, c, b: a + c + b, CELL_TEXT, st.sampled_from(["\x1b", "\x07", "\x7f", "\x9b"]), CELL_TEXT
    )
    options = [control]
    if spec.get("required"):
        options.append(st.sampled_from(["", " ", "\t", "\xa0"]))
    if kind in ("number", "integer", "p_value"):
        options.append(
            CELL_TEXT.filter(lambda v: v.strip() and not ASCII_NUMBER.fullmatch(P_PREFIX.sub("", v.strip())))
        )
        options.append(st.sampled_from(["1_07", "３４", "٤٥", "NaN", "inf", "1e400", "1,5", "4 0"]))
    if kind in ("number", "integer"):
        if "min" in spec:
            below = st.floats(max_value=spec["min"], allow_nan=False, allow_infinity=False)
            options.append(below.filter(lambda x, low=spec["min"]: x < low).map(repr))
        if "exclusive_min" in spec:
            options.append(st.floats(max_value=spec["exclusive_min"], allow_nan=False, allow_infinity=False).map(repr))
        top = spec.get("max", 1_000_000 if kind == "integer" else None)
        if top is not None:
            options.append(st.integers(min_value=int(top) + 1, max_value=10**30).map(str))
    if kind == "integer":
        options.append(st.integers(-1000, 1000).map(lambda n: f"{n}.5"))
    if kind == "vocab":
        vocab = SCHEMA["vocabularies"][spec["vocab"]]
        options.append(CELL_TEXT.filter(lambda v: v.strip() and v.strip() not in vocab))
    if kind == "boolean":
        options.append(CELL_TEXT.filter(lambda v: v.strip() and v.strip().lower() not in ("yes", "no")))
    if kind == "id":
        options.append(CELL_TEXT.filter(lambda v: v.strip() and not ID.fullmatch(v.strip())))
    if kind == "quote":
        options.append(st.text(st.characters(whitelist_categories=("Ll", "Lu")), min_size=1, max_size=19))
    if kind == "source":
        options.append(st.sampled_from(["a/b.txt", "..\\seed.txt", "s" * 256]))
    return st.one_of(options)


@st.composite
def broken_cell(draw) -> tuple[str, int, str, str]:
    table, i, column = draw(st.sampled_from(CELLS))
    return table, i, column, draw(breaking(SCHEMA["tables"][table]["columns"][column]))


def evidence_with(folder: Path, table: str, i: int, column: str, value: str) -> Path:
    tables = minimal_tables()
    tables[table][i][column] = value
    return write_evidence(folder, tables)


@PROPERTY_SETTINGS
@given(broken_cell())
def test_a_broken_cell_is_reported_at_its_file_row_and_column(cell: tuple[str, int, str, str]) -> None:
    table, i, column, value = cell
    with tempfile.TemporaryDirectory() as tmp:
        folder = evidence_with(Path(tmp) / "evidence", table, i, column, value)
        report = validate(folder, Path(tmp) / "no-sources")
    places = {(Path(p.file).name, p.row, p.column) for p in report.errors}
    assert (SCHEMA["tables"][table]["file"], i + 2, column) in places, report.render(flagged=False)


@pytest.mark.parametrize("with_sources", [False, True])
@PROPERTY_SETTINGS
@given(
    st.sampled_from(CELLS),
    st.one_of(
        CELL_TEXT,
        st.floats().map(repr),
        st.integers(-(10**25), 10**25).map(str),
        st.decimals(allow_nan=False).map(str),
        st.sampled_from(["yes", "NO", "<0.05", ">=.5", "+4e1", "1e-9", "seed.txt", "demo_dh", "itt"]),
    ),
)
def test_any_cell_text_validates_without_traceback_and_what_validates_loads(with_sources, place, value) -> None:
    table, i, column = place
    with tempfile.TemporaryDirectory() as tmp:
        sources = Path(tmp) / "sources"
        if with_sources:
            sources.mkdir()
            (sources / "seed.txt").write_text(SOURCE_TEXT, encoding="utf-8")
        folder = evidence_with(Path(tmp) / "evidence", table, i, column, value)
        report = validate(folder, sources)
        rendered = report.render()
        assert "\x1b" not in rendered and "\x00" not in rendered
        rows = {SCHEMA["tables"][name]["file"]: len(records) + 1 for name, records in TABLES.items()}
        assert all(p.row is None or 2 <= p.row <= rows[Path(p.file).name] for p in report.problems)
        if report.ok:
            evidence = load_evidence(folder, sources)
            summary_tables(evidence)
            typed = evidence.tables[table][column].iloc[i]
            if SCHEMA["tables"][table]["columns"][column]["type"] in ("number", "integer") and value.strip():
                assert float(typed) == float(value.strip())


SAVE_FORMATS = st.fixed_dictionaries(
    {
        "bom": st.booleans(),
        "newline": st.sampled_from(["\n", "\r\n", "\r"]),
        "quote_all": st.booleans(),
        "trailing_columns": st.integers(0, 3),
    }
)


def spreadsheet_csv(records: list[list[str]], newline: str, quote_all: bool) -> str:
    """CSV as spreadsheets write it: a cell is quoted when it holds a comma, a quote or a line break
    (Python's csv writer leaves a bare CR unquoted when the line terminator is LF)."""

    def written(value: str) -> str:
        special = quote_all or any(c in value for c in ',"\r\n')
        return '"' + value.replace('"', '""') + '"' if special else value

    return "".join(",".join(map(written, record)) + newline for record in records)


@settings(max_examples=120, deadline=None)
@given(
    rows=st.lists(st.lists(CELL_TEXT, min_size=3, max_size=3).filter(lambda r: any(v.strip() for v in r)), max_size=6),
    blanks=st.lists(st.integers(0, 6), max_size=3),
    save=SAVE_FORMATS,
)
def test_what_a_spreadsheet_saves_reads_back_cell_for_cell(rows, blanks, save) -> None:
    header = ["a", "b", "c"]
    records = [header, *rows]
    for at in sorted(blanks, reverse=True):
        records.insert(1 + min(at, len(rows)), [])
    extra = [""] * save["trailing_columns"]
    text = spreadsheet_csv([r + extra if r else r for r in records], save["newline"], save["quote_all"])
    expected_rows = [dict(zip(header, (v.strip() for v in r), strict=True)) for r in rows]
    expected_lines = [n + 1 for n, r in enumerate(records) if r and n > 0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        path.write_bytes(b"\xef\xbb\xbf" * save["bom"] + text.encode("utf-8"))
        problems: list = []
        table = read_table(path, "t", problems)
    assert not problems and table is not None, problems
    assert table.header == header
    assert table.rows == expected_rows
    assert table.lines == expected_lines
