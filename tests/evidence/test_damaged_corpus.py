"""Damaged copies of the bundled evidence, made by code the way spreadsheets, editors and hands damage
CSV files.  Each copy must give its exact first message (or validate, and then load), never a
traceback, and leave every file byte-identical.  A handful run through ``python -m mbtevidence``."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import real_seeds

from mbtevidence.evidence import content_hash, load_evidence, load_schema, validate
from mbtevidence.paths import DEFAULT_SEEDS_DIR, EVIDENCE_DIR

SCHEMA = load_schema()
FILES = [spec["file"] for spec in SCHEMA["tables"].values()]
SEEDS = real_seeds()
requires_seeds = pytest.mark.skipif(SEEDS is None, reason="source texts not found (set MBTEVIDENCE_SEEDS)")
NOT_A_NUMBER = "digits 0-9, a decimal point and an optional exponent such as 1.5e-3; no units, spaces or separators"
SAVE_AS = "save it as CSV UTF-8 (comma delimited)"


# -- the bundled evidence, read with the csv module (not with the code under test) -----------
def bundled_rows(file: str) -> list[list[str]]:
    with (EVIDENCE_DIR / file).open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def first_row(file: str, column: str, accept: Callable[[dict[str, str]], bool] = lambda row: True) -> int:
    """Spreadsheet row (header = 1) of the first bundled row with ``column`` filled and ``accept``-ed."""
    header, *rows = bundled_rows(file)
    for i, values in enumerate(rows):
        row = dict(zip(header, values, strict=True))
        if row[column] and accept(row):
            return i + 2
    raise LookupError(f"no row of {file} has {column}")


def first_non_ascii(file: str) -> tuple[int, int]:
    """Line and Windows-1252 byte of the first non-ASCII character of a bundled file."""
    text = (EVIDENCE_DIR / file).read_text(encoding="utf-8")
    at = next(i for i, c in enumerate(text) if ord(c) > 127)
    return text.count("\n", 0, at) + 1, text[at].encode("cp1252", errors="replace")[0]


def bundled_cell(file: str, row: int, column: str) -> str:
    rows = bundled_rows(file)
    return rows[row - 1][rows[0].index(column)]


WIDTH = {file: len(bundled_rows(file)[0]) for file in FILES}
COLUMN = {name: j + 1 for j, name in enumerate(bundled_rows("effects.csv")[0])}
"""1-based position of each effects.csv column."""


def quoted_sources() -> list[str]:
    """Sources named by rows with a quote (the quote check opens only these)."""
    names = set()
    for spec in SCHEMA["tables"].values():
        if spec["file"] not in FILES or "source" not in spec["columns"]:
            continue
        header, *rows = bundled_rows(spec["file"])
        quotes = [c for c, column in spec["columns"].items() if column["type"] == "quote"]
        for values in rows:
            row = dict(zip(header, values, strict=True))
            if row["source"] and any(row[c] for c in quotes):
                names.add(row["source"])
    return sorted(names)


NAMED_SOURCES = quoted_sources()
PROP_N_ROW = first_row("effects.csv", "prop_n")
CONFLICT_N_ROW = first_row("effects.csv", "prop_n", lambda row: row["conflict"] == "yes")
P_ROW = first_row("effects.csv", "precalc_p")
N_START_ROW = first_row("arms.csv", "n_start")
LAST_EFFECT_ROW = len(bundled_rows("effects.csv"))


# -- writing damaged copies -----------------------------------------------------------------
def write_rows(path: Path, rows: list[list[str]], *, encoding: str = "utf-8", bom: bool = False, **dialect) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, **{"lineterminator": "\n", **dialect}).writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode(encoding, errors="replace"))


def resave(*files: str, edit: Callable[[list[list[str]]], None] | None = None, **options) -> Callable[[Path], None]:
    """Re-save ``files`` (all tables when none) as a spreadsheet would: options of :func:`write_rows`."""

    def damage(folder: Path) -> None:
        for file in files or FILES:
            rows = bundled_rows(file)
            if edit is not None:
                edit(rows)
            write_rows(folder / file, rows, **options)

    return damage


def cell(file: str, row: int, column: str, value: str) -> Callable[[list[list[str]]], None]:
    def edit(rows: list[list[str]]) -> None:
        rows[row - 1][rows[0].index(column)] = value

    return edit


def set_cell(file: str, row: int, column: str, value: str) -> Callable[[Path], None]:
    return resave(file, edit=cell(file, row, column, value))


def raw(file: str, change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        path = folder / file
        path.write_bytes(change(path.read_bytes()))

    return damage


def both(*damages: Callable[[Path], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        for step in damages:
            step(folder)

    return damage


def replace_line(file: str, line: int, change: Callable[[str], str]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        lines = (folder / file).read_text(encoding="utf-8").split("\n")
        lines[line - 1] = change(lines[line - 1])
        (folder / file).write_text("\n".join(lines), encoding="utf-8")

    return damage


def xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def as_folder(file: str) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        (folder / file).unlink()
        (folder / file).mkdir()
        (folder / file / "inside.csv").write_text("a,b\n", encoding="utf-8")

    return damage


def delete(*files: str) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        for file in files:
            (folder / file).unlink()

    return damage


def header_only(file: str) -> Callable[[Path], None]:
    return resave(file, edit=lambda rows: rows.__delitem__(slice(1, None)))


def rename_column(file: str, old: str, new: str) -> Callable[[Path], None]:
    return resave(file, edit=lambda rows: rows[0].__setitem__(rows[0].index(old), new))


def insert_rows(file: str, at: int, *new: list[str]) -> Callable[[Path], None]:
    return resave(file, edit=lambda rows: rows.__setitem__(slice(at - 1, at - 1), list(new)))


def semicolons_with_decimal_commas(rows: list[list[str]]) -> None:
    for values in rows[1:]:
        values[:] = [v.replace(".", ",") if v.replace(".", "", 1).isdigit() else v for v in values]


def pad_cells(rows: list[list[str]]) -> None:
    for values in rows:
        values[:] = [f" {v}  " if v and "\n" not in v else v for v in values]


def trailing_columns(rows: list[list[str]]) -> None:
    for values in rows:
        values += ["", "", ""]


def trailing_rows(rows: list[list[str]]) -> None:
    rows += [[""] * len(rows[0])] * 3 + [[]] * 2


# -- the corpus ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    name: str
    damage: Callable[[Path], None]
    first: str | None
    """Exact first message, paths relative to the copy; None: the copy validates and loads."""
    seeds: str = "none"
    """Sources: none (a missing folder), real, empty, file, unrelated, or one-missing."""


CP1252_LINE, CP1252_BYTE = first_non_ascii("effects.csv")
LATIN1_LINE, LATIN1_BYTE = first_non_ascii("studies.csv")
E, A, S = "effects.csv", "arms.csv", "studies.csv"

CASES = [
    # spreadsheet save formats that must be read as written
    Case("excel-csv-utf8-bom", resave(bom=True), None),
    Case("excel-windows-bom-crlf", resave(bom=True, lineterminator="\r\n"), None),
    Case("crlf", resave(lineterminator="\r\n"), None),
    Case("cr-only-old-mac", resave(lineterminator="\r"), None),
    Case("mixed-lf-crlf", raw(E, lambda b: b.replace(b"\n", b"\r\n", 40)), None),
    Case("quote-every-cell", resave(quoting=csv.QUOTE_ALL), None),
    Case("trailing-empty-columns", resave(edit=trailing_columns), None),
    Case("trailing-empty-rows", resave(edit=trailing_rows), None),
    Case("blank-rows-in-the-middle", insert_rows(E, 4, [], [""] * WIDTH[E], []), None),
    Case("spaces-around-cells", resave(edit=pad_cells), None),
    Case("no-final-newline", raw(E, lambda b: b.rstrip(b"\n")), None),
    Case("nbsp-before-number", set_cell(E, PROP_N_ROW, "prop_n", "\xa0" + bundled_cell(E, PROP_N_ROW, "prop_n")), None),
    Case("capitalised-yes-no", set_cell(E, PROP_N_ROW, "lower_is_better", "Yes"), None),
    Case("multi-line-note", set_cell(E, 2, "notes", "first line\nsecond line\r\nthird"), None),
    Case("optional-tables-left-out", delete("overlap.csv", "fidelity.csv"), None),
    Case("optional-table-header-only", header_only("fidelity.csv"), None),
    # row numbers a spreadsheet shows, after blank rows and multi-line cells, whatever the line ending
    Case(
        "blank-rows-then-error",
        both(insert_rows(E, 3, [], []), set_cell(E, PROP_N_ROW + 2, "prop_n", "0")),
        f"effects.csv:{PROP_N_ROW + 2} prop_n='0': must be >= 1",
    ),
    Case(
        "multi-line-cell-then-error",
        resave(
            E, edit=lambda rows: [cell(E, 2, "notes", "a\nb\nc")(rows), cell(E, PROP_N_ROW + 1, "prop_n", "0")(rows)]
        ),
        f"effects.csv:{PROP_N_ROW + 1} (text line {PROP_N_ROW + 3}) prop_n='0': must be >= 1",
    ),
    Case(
        "cr-only-then-error",
        resave(E, edit=cell(E, PROP_N_ROW, "prop_n", "0"), lineterminator="\r"),
        f"effects.csv:{PROP_N_ROW} prop_n='0': must be >= 1",
    ),
    Case(
        "crlf-then-error",
        resave(E, edit=cell(E, PROP_N_ROW, "prop_n", "0"), lineterminator="\r\n"),
        f"effects.csv:{PROP_N_ROW} prop_n='0': must be >= 1",
    ),
    # another separator, encoding or file format: one file-level message
    Case(
        "semicolons-decimal-commas",
        resave(delimiter=";", edit=semicolons_with_decimal_commas),
        f"arms.csv: looks semicolon-separated (the header splits into {WIDTH[A]} names at ';'): "
        "save as comma-separated, CSV UTF-8, with a decimal point",
    ),
    Case(
        "semicolons-effects-only",
        resave(E, delimiter=";"),
        f"effects.csv: looks semicolon-separated (the header splits into {WIDTH[E]} names at ';'): "
        "save as comma-separated, CSV UTF-8, with a decimal point",
    ),
    Case(
        "tab-separated",
        resave(E, delimiter="\t"),
        f"effects.csv: looks tab-separated (the header splits into {WIDTH[E]} names at '\\t'): "
        "save as comma-separated, CSV UTF-8, with a decimal point",
    ),
    Case(
        "excel-unicode-text-utf16le",
        resave(E, delimiter="\t", encoding="utf-16"),
        f"effects.csv: is UTF-16 text (Excel's 'Unicode Text'), not UTF-8: {SAVE_AS}",
    ),
    Case(
        "utf16-be-no-bom",
        resave(E, encoding="utf-16-be"),
        f"effects.csv: is UTF-16 text (Excel's 'Unicode Text'), not UTF-8: {SAVE_AS}",
    ),
    Case(
        "windows-1252",
        resave(E, encoding="cp1252"),
        f"effects.csv: not UTF-8: byte 0x{CP1252_BYTE:02x} at line {CP1252_LINE} "
        f"({bytes([CP1252_BYTE]).decode('cp1252')!r} in Windows-1252, the encoding of Excel's plain 'CSV'); {SAVE_AS}",
    ),
    Case(
        "latin-1-studies",
        resave(S, encoding="latin-1"),
        f"studies.csv: not UTF-8: byte 0x{LATIN1_BYTE:02x} at line {LATIN1_LINE} "
        f"({bytes([LATIN1_BYTE]).decode('cp1252')!r} in Windows-1252, the encoding of Excel's plain 'CSV'); {SAVE_AS}",
    ),
    Case(
        "xlsx-saved-as-csv-name",
        raw(E, lambda b: xlsx_bytes()),
        f"effects.csv: is an Excel workbook (.xlsx) or another zip file, not CSV: {SAVE_AS}",
    ),
    Case(
        "xls-97-2003",
        raw(A, lambda b: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)),
        f"arms.csv: is an Excel 97-2003 workbook (.xls), not CSV: {SAVE_AS}",
    ),
    Case(
        "nul-byte",
        raw(E, lambda b: b.replace(b"\n", b"\n\x00", 1)),
        f"effects.csv: contains NUL bytes (line 2): not a text file; {SAVE_AS}",
    ),
    Case(
        "empty-file",
        raw(E, lambda b: b""),
        "effects.csv: empty file: the first line must be the header (column names)",
    ),
    Case(
        "bom-and-blank-lines-only",
        raw(E, lambda b: b"\xef\xbb\xbf\r\n\r\n"),
        "effects.csv: empty file: the first line must be the header (column names)",
    ),
    Case(
        "blank-line-before-header",
        raw(E, lambda b: b"\n" + b),
        "effects.csv: the first line is empty: it must be the header (column names)",
    ),
    Case("folder-named-effects.csv", as_folder(E), "effects.csv: is a folder, not a CSV file"),
    Case("effects-missing", delete(E), "effects.csv: missing: the effects table is required"),
    Case("studies-missing", delete(S), "studies.csv: missing: the studies table is required"),
    # the header
    Case("effects-header-only", header_only(E), "effects.csv: no records: at least 1 row(s) below the header"),
    Case("studies-header-only", header_only(S), "studies.csv: no records: at least 1 row(s) below the header"),
    Case(
        "duplicate-header-column",
        rename_column(E, "analysis", "instrument"),
        f"effects.csv: column 'instrument' appears twice in the header (columns {COLUMN['instrument']} and "
        f"{COLUMN['analysis']}): keep one and delete the other",
    ),
    Case(
        "nameless-header-column",
        rename_column(E, "analysis", ""),
        f"effects.csv: header column {COLUMN['analysis']} has no name: every column needs its name in the first line",
    ),
    Case(
        "renamed-header", rename_column(S, "country", "nation"), "studies.csv country=None: column missing from header"
    ),
    Case(
        "capitalised-header",
        rename_column(E, "study", "Study"),
        "effects.csv study=None: column missing from header (the header has 'Study': column names are exact)",
    ),
    Case(
        "extra-named-column",
        resave(E, edit=lambda rows: [values.append("x") for values in rows]),
        "effects.csv x=None: unknown column (not in schema for effects)",
    ),
    Case(
        "key-column-renamed-in-studies",
        rename_column(S, "study", "studie"),
        "studies.csv study=None: column missing from header (the header has 'studie': column names are exact)",
    ),
    # ragged rows and quotes
    Case(
        "ragged-row-short",
        resave(E, edit=lambda rows: rows[4].pop()),
        f"effects.csv: row 5 has {WIDTH[E] - 1} cells, the header {WIDTH[E]} names: a cell is missing or extra "
        "(an unquoted comma inside a cell?); the table is not checked further",
    ),
    Case(
        "ragged-row-extra-cell",
        resave(E, edit=lambda rows: [rows[4].append("stray"), rows[9].append("x")]),
        f"effects.csv: row 5 has {WIDTH[E] + 1} cells, the header {WIDTH[E]} names; 1 more row(s) too: a cell is "
        "missing or extra (an unquoted comma inside a cell?); the table is not checked further",
    ),
    Case(
        "unclosed-quote-last-row",
        raw(E, lambda b: b.rstrip(b"\n") + b',"never closed\n'),
        f"effects.csv: unclosed quote: a quoted cell in the row starting at line {LAST_EFFECT_ROW} runs to the end "
        'of the file; close it with " (a quote inside a cell is written "")',
    ),
    Case(
        "unclosed-quote-early",
        replace_line(E, 4, lambda line: '"' + line),
        'effects.csv: unbalanced quote in the row starting at line 4: a quoted cell must end with " right before '
        'the next comma (a quote inside a cell is written "")',
    ),
    Case(
        "text-after-closing-quote",
        replace_line(A, 3, lambda line: '"Smits2022" x' + line[len("Smits2022") :]),
        'arms.csv: unbalanced quote in the row starting at line 3: a quoted cell must end with " right before '
        'the next comma (a quote inside a cell is written "")',
    ),
    # numbers: one parser for validation and loading
    Case(
        "underscore-number",
        set_cell(E, PROP_N_ROW, "prop_n", "1_07"),
        f"effects.csv:{PROP_N_ROW} prop_n='1_07': must be an integer: {NOT_A_NUMBER}",
    ),
    Case(
        "full-width-digits",
        set_cell(E, PROP_N_ROW, "prop_n", "３４"),
        f"effects.csv:{PROP_N_ROW} prop_n='３４': must be an integer: "
        "type the digits as 0-9 (this cell has full-width or other non-ASCII digits)",
    ),
    Case(
        "arabic-indic-digits",
        set_cell(A, N_START_ROW, "n_start", "٧٥"),
        f"arms.csv:{N_START_ROW} n_start='٧٥': must be an integer: "
        "type the digits as 0-9 (this cell has full-width or other non-ASCII digits)",
    ),
    Case(
        "arabic-indic-p-value",
        set_cell(E, P_ROW, "precalc_p", "٠.٠٥"),
        f"effects.csv:{P_ROW} precalc_p='٠.٠٥': p value must be a number or <number",
    ),
    Case(
        "n-1e20",
        set_cell(E, PROP_N_ROW, "prop_n", "1e20"),
        f"effects.csv:{PROP_N_ROW} prop_n='1e20': must be <= 1000000",
    ),
    Case(
        "n-1e400",
        set_cell(E, PROP_N_ROW, "prop_n", "1e400"),
        f"effects.csv:{PROP_N_ROW} prop_n='1e400': must be an integer: too large to be a number",
    ),
    Case(
        "nan",
        set_cell(E, PROP_N_ROW, "prop_n", "NaN"),
        f"effects.csv:{PROP_N_ROW} prop_n='NaN': must be an integer: leave the cell empty when no value is printed",
    ),
    Case(
        "minus-inf",
        set_cell(A, N_START_ROW, "n_start", "-inf"),
        f"arms.csv:{N_START_ROW} n_start='-inf': must be an integer: leave the cell empty when no value is printed",
    ),
    Case(
        "thousands-separator",
        set_cell(A, N_START_ROW, "n_start", "1,075"),
        f"arms.csv:{N_START_ROW} n_start='1,075': must be an integer: "
        "decimal point, not a comma, and no thousands separators",
    ),
    Case(
        "units-in-cell",
        set_cell(A, N_START_ROW, "n_start", "75 patients"),
        f"arms.csv:{N_START_ROW} n_start='75 patients': must be an integer: {NOT_A_NUMBER}",
    ),
    Case(
        "letter-o-in-year",
        set_cell(S, 2, "year", "2O22"),
        f"studies.csv:2 year='2O22': must be an integer: {NOT_A_NUMBER}",
    ),
    Case(
        "fractional-n",
        set_cell(E, PROP_N_ROW, "prop_n", "34.5"),
        f"effects.csv:{PROP_N_ROW} prop_n='34.5': must be a whole number",
    ),
    Case(
        "negative-n-on-conflict-row",
        set_cell(E, CONFLICT_N_ROW, "prop_n", "-49"),
        f"effects.csv:{CONFLICT_N_ROW} prop_n='-49': must be >= 1",
    ),
    Case(
        "spreadsheet-true-false",
        set_cell(E, 2, "lower_is_better", "TRUE"),
        "effects.csv:2 lower_is_better='TRUE': must be yes or no",
    ),
    # text: invisible characters, quotes, ids, sources
    Case(
        "escape-sequence-in-notes",
        set_cell(E, 2, "notes", "ok \x1b[2J\x1b[31mred"),
        "effects.csv:2 notes='ok \\x1b[2J\\x1b[31mred': contains the invisible control character U+001B",
    ),
    Case(
        "zero-width-space-in-id",
        set_cell(A, 2, "sample_id", "nl_rct\u200b"),
        "arms.csv:2 sample_id='nl_rct\\u200b': ids use letters, digits, _ . + - and no spaces",
    ),
    Case(
        "one-word-quote",
        set_cell(S, 2, "quote", "the"),
        "studies.csv:2 quote='the': too short to locate in the source: quote at least 20 characters, "
        "or a passage with a number",
    ),
    Case(
        "one-word-segment",
        set_cell(S, 2, "quote", "Trauma and outcome in Mentalization-Based Therapy [...] the"),
        "studies.csv:2 quote='the': too short to locate in the source: quote at least 20 characters, "
        "or a passage with a number",
    ),
    Case(
        "duplicate-effect-id",
        resave(E, edit=lambda rows: rows[2].__setitem__(0, rows[1][0])),
        f"effects.csv:3 effect_id={bundled_rows(E)[1][0]!r}: duplicate id (first at row 2)",
    ),
    Case(
        "source-is-a-path",
        set_cell(S, 2, "source", "../seeds/x.txt"),
        "studies.csv:2 source='../seeds/x.txt': source is a file name under the seeds folder, not a path",
    ),
    Case(
        "source-name-300-characters",
        set_cell(S, 2, "source", "s" * 296 + ".txt"),
        f"studies.csv:2 source='{'s' * 296}.txt': file name longer than 255 bytes",
    ),
    Case("evidence-folder-missing", lambda folder: shutil.rmtree(folder), ": evidence folder not found"),
]

SOURCE_CASES = [
    Case("sources-real", lambda folder: None, None, seeds="real"),
    Case("sources-empty-folder", lambda folder: None, None, seeds="empty"),
    Case("sources-path-is-a-file", lambda folder: None, None, seeds="file"),
    Case("sources-unrelated-folder", lambda folder: None, None, seeds="unrelated"),
    Case(
        "source-name-300-characters-with-sources",
        set_cell(S, 2, "source", "s" * 296 + ".txt"),
        f"studies.csv:2 source='{'s' * 296}.txt': file name longer than 255 bytes",
        seeds="real",
    ),
    Case(
        "source-names-a-folder",
        set_cell(S, 2, "source", ".."),
        "studies.csv:2 source='..': no such source file in {seeds}",
        seeds="real",
    ),
]


def make_seeds(kind: str, tmp: Path) -> Path:
    folder = tmp / f"sources-{kind}"
    if kind == "real":
        return SEEDS
    if kind in ("empty", "unrelated"):
        folder.mkdir()
        if kind == "unrelated":
            (folder / "shopping.txt").write_text("milk, bread", encoding="utf-8")
    elif kind == "file":
        folder.write_text("not a folder", encoding="utf-8")
    return folder


def snapshot(*folders: Path) -> dict[str, str]:
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders
        if folder.exists()
        for path in ([folder] if folder.is_file() else sorted(folder.rglob("*")))
        if path.is_file()
    }


def first_message(report, folder: Path, seeds: Path) -> str | None:
    """First rendered problem, without notes about folders outside the copy (the deliberately absent
    sources, a data folder this machine may lack)."""
    for line in report.render(flagged=False).splitlines()[:-1]:
        if not line.startswith("[info] ") or line.startswith(f"[info] {folder}"):
            return line.replace(f"{folder}{os.sep}", "").replace(str(folder), "").replace(str(seeds), "{seeds}")
    return None


def run_case(case: Case, tmp_path: Path) -> tuple:
    folder = tmp_path / "evidence"
    shutil.copytree(EVIDENCE_DIR, folder)
    case.damage(folder)
    seeds = make_seeds(case.seeds, tmp_path)
    before = snapshot(folder, seeds)
    report = validate(folder, seeds)
    assert snapshot(folder, seeds) == before, "validation changed a file"
    return report, folder, seeds


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_damaged_copy_gives_its_first_message(case: Case, tmp_path: Path) -> None:
    report, folder, seeds = run_case(case, tmp_path)
    assert first_message(report, folder, seeds) == case.first, report.render(flagged=False)
    if case.first is None:
        assert report.ok
        evidence = load_evidence(folder, seeds, validated_hash=content_hash(folder))  # whatever validates loads
        assert len(evidence.records) == len(bundled_rows(E)) - 1
    else:
        assert not report.ok


@pytest.mark.parametrize("case", SOURCE_CASES, ids=[c.name for c in SOURCE_CASES])
def test_sources_missing_or_mispointed_skip_the_quote_check_visibly(case: Case, tmp_path: Path) -> None:
    if case.seeds == "real" and SEEDS is None:
        pytest.skip("source texts not found")
    report, folder, seeds = run_case(case, tmp_path)
    infos = [str(p) for p in report.problems if p.severity == "info" and p.file.startswith((str(folder), str(seeds)))]
    if case.seeds == "real":
        assert report.quotes_checked > 0 and not infos
        assert first_message(report, folder, seeds) == case.first, report.render(flagged=False)
        return
    why = {
        "empty": f"{seeds} is empty",
        "file": f"{seeds} is a file, not a folder of source texts",
        "unrelated": f"none of the {len(NAMED_SOURCES)} source files the evidence names is in {seeds}",
    }[case.seeds]
    assert infos == [f"[info] {seeds}: quote check skipped: {why}"]
    assert report.quote_check == f"skipped ({why})" and report.ok


@requires_seeds
def test_a_missing_source_is_reported_once_at_its_first_row(tmp_path: Path) -> None:
    seeds = tmp_path / "four-of-five"
    seeds.mkdir()
    for name in NAMED_SOURCES[1:]:
        shutil.copy(SEEDS / name, seeds / name)
    folder = tmp_path / "evidence"
    shutil.copytree(EVIDENCE_DIR, folder)
    report = validate(folder, seeds)
    missing = [p for p in report.errors if p.column == "source"]
    assert len(missing) == 1 and missing[0].value == NAMED_SOURCES[0], report.render(flagged=False)
    assert "also named on" in missing[0].rule and "not checked either" in missing[0].rule


# -- through the command line (a handful, run concurrently) ---------------------------------
CLI_CASES = {
    "bom-crlf-summary": (resave(bom=True, lineterminator="\r\n"), ["summary"], {}, 0),
    "semicolons": (resave(delimiter=";", edit=semicolons_with_decimal_commas), ["validate"], {}, 1),
    "underscore-summary": (set_cell(E, PROP_N_ROW, "prop_n", "1_07"), ["summary"], {}, 1),
    "flagged-on-broken-data": (
        resave(
            E,
            edit=lambda rows: [
                cell(E, PROP_N_ROW, "prop_n", "1e20")(rows),
                cell(E, CONFLICT_N_ROW, "notes", "\x1b[2J\x1b]0;pwned\x07")(rows),
            ],
        ),
        ["validate", "--flagged"],
        {"MBTEVIDENCE_SEEDS": ""},
        1,
    ),
    "seeds-is-a-file": (lambda folder: None, ["validate", "--seeds", "{file}"], {}, 0),
}


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path, dict, dict]]:
    started = {}
    for name, (damage, command, env, _) in CLI_CASES.items():
        tmp = tmp_path_factory.mktemp(name)
        folder = tmp / "evidence"
        shutil.copytree(EVIDENCE_DIR, folder)
        damage(folder)
        (tmp / "sources.txt").write_text("a file, not a folder", encoding="utf-8")
        args = [a.replace("{file}", str(tmp / "sources.txt")) for a in command]
        before = snapshot(tmp)
        process = subprocess.Popen(
            [sys.executable, "-m", "mbtevidence", args[0], str(folder), *args[1:]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        started[name] = (process, tmp, before)
    runs = {}
    for name, (process, tmp, before) in started.items():
        out, err = process.communicate(timeout=120)
        runs[name] = (
            subprocess.CompletedProcess(process.args, process.returncode, out, err),
            tmp,
            before,
            snapshot(tmp),
        )
    return runs


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_command_line_exit_code_no_traceback_files_unchanged(name: str, cli_runs) -> None:
    run, _, before, after = cli_runs[name]
    output = run.stdout + run.stderr
    assert run.returncode == CLI_CASES[name][3], output
    assert "Traceback" not in output
    assert "\x1b" not in output and "\x07" not in output
    assert before == after


def test_command_line_messages(cli_runs) -> None:
    def out(name: str) -> str:
        run, tmp, _, _ = cli_runs[name]
        return (run.stdout + run.stderr).replace(f"{tmp / 'evidence'}{os.sep}", "")

    assert "== overview" in out("bom-crlf-summary")
    assert out("semicolons").startswith("arms.csv: looks semicolon-separated")
    assert out("underscore-summary").startswith(f"effects.csv:{PROP_N_ROW} prop_n='1_07': must be an integer")
    flagged = out("flagged-on-broken-data")
    assert flagged.startswith("flagged: ") and "\\x1b[2J\\x1b]0;pwned\\x07" in flagged
    assert f"effects.csv:{PROP_N_ROW} prop_n='1e20': must be <= 1000000" in flagged
    assert str(DEFAULT_SEEDS_DIR) in flagged.splitlines()[-1]  # MBTEVIDENCE_SEEDS='' means the default folder
    seeds = out("seeds-is-a-file").splitlines()
    assert seeds[-1].startswith("0 error(s)") and seeds[-1].endswith("is a file, not a folder of source texts)")
    assert any(line.startswith("[info] ") and "quote check skipped: " in line for line in seeds)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) + len(SOURCE_CASES) + len(CLI_CASES) >= 50
