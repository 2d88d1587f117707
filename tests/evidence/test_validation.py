"""The validator (mbtevidence.evidence): one crafted bad file per rule, each must fail with its message."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import minimal_tables, requires_seeds, write_evidence

from mbtevidence.evidence import EvidenceError, load_evidence, parse_number, read_table, validate
from mbtevidence.paths import EVIDENCE_DIR as DEFAULT_EVIDENCE_DIR


def broken(tmp_path: Path, table: str, row: int, **changes: str) -> Path:
    tables = minimal_tables()
    tables[table][row].update(changes)
    return write_evidence(tmp_path / "broken", tables)


def messages(folder: Path, seeds: Path) -> list[str]:
    return [str(p) for p in validate(folder, seeds).problems if p.severity == "error"]


def test_minimal_evidence_is_valid(minimal: Path, seeds: Path) -> None:
    report = validate(minimal, seeds)
    assert report.ok, report.render()
    assert report.quotes_checked == 5


@pytest.mark.parametrize(
    ("table", "row", "changes", "expected"),
    [
        ("effects", 0, {"n_post": "0"}, "effects.csv:2 n_post='0': must be >= 1"),
        ("effects", 0, {"n_post": "40.5"}, "effects.csv:2 n_post='40.5': must be a whole number"),
        ("effects", 0, {"sd_pre": "0"}, "effects.csv:2 sd_pre='0': must be > 0"),
        ("effects", 0, {"sd_post": "-0.55"}, "effects.csv:2 sd_post='-0.55': must be > 0"),
        ("effects", 0, {"mean_pre": "1,72"}, "effects.csv:2 mean_pre='1,72': must be a number"),
        ("effects", 2, {"precalc_p": "1.2"}, "effects.csv:4 precalc_p='1.2': p value must be in [0, 1]"),
        ("effects", 2, {"precalc_p": "p<.05"}, "effects.csv:4 precalc_p='p<.05': p value must be a number or <number"),
        ("effects", 1, {"prop_percent": "111"}, "effects.csv:3 prop_percent='111': must be <= 100"),
        ("effects", 2, {"precalc_ci_low": "1.30"}, "effects.csv:4 precalc_es='1.21': estimate outside its CI"),
        ("effects", 0, {"prop_n": "45"}, "effects.csv:2 data block='prepost+proportion': exactly one data block"),
        (
            "effects",
            0,
            {"mean_pre": "", "sd_pre": "", "mean_post": "", "sd_post": "", "n_post": ""},
            "effects.csv:2 data block='none': exactly one data block",
        ),
        ("effects", 0, {"sd_post": ""}, "effects.csv:2 sd_post='': required by data block prepost"),
        (
            "effects",
            1,
            {"prop_events": ""},
            "effects.csv:3 prop_events/prop_percent='': data block proportion needs one of",
        ),
        ("effects", 1, {"prop_events": "50"}, "effects.csv:3 prop_events='50': more events than prop_n=45"),
        (
            "effects",
            0,
            {"outcome_construct": "happiness"},
            "effects.csv:2 outcome_construct='happiness': not in vocabulary",
        ),
        ("effects", 0, {"lower_is_better": "true"}, "effects.csv:2 lower_is_better='true': must be yes or no"),
        ("effects", 0, {"instrument": ""}, "effects.csv:2 instrument='': required value is empty"),
        ("effects", 1, {"effect_id": "Demo2012.GSI.18m"}, "effects.csv:3 effect_id='Demo2012.GSI.18m': duplicate id"),
        ("effects", 0, {"effect_id": "Demo GSI"}, "effects.csv:2 effect_id='Demo GSI': ids use letters"),
        ("effects", 0, {"study": "Nobody2000"}, "effects.csv:2 study='Nobody2000': study not in studies table"),
        ("effects", 0, {"arm": "MBT-IOP"}, "effects.csv:2 arm='MBT-IOP': arm not in arms table"),
        ("effects", 0, {"sample_id": "other"}, "effects.csv:2 sample_id='other': differs from the arm's sample_id"),
        (
            "effects",
            2,
            {"precalc_design": "between"},
            "effects.csv:4 precalc_n_arm1='': a between-group reported effect",
        ),
        ("effects", 2, {"precalc_positive": ""}, "effects.csv:4 precalc_positive='': say what a positive"),
        (
            "effects",
            2,
            {"precalc_metric": "p_only"},
            "effects.csv:4 precalc_es='1.21': precalc_metric p_only goes with",
        ),
        (
            "effects",
            2,
            {"precalc_es": "", "precalc_ci_low": "", "precalc_ci_high": ""},
            "effects.csv:4 precalc_es='': precalc_metric p_only goes with an empty precalc_es",
        ),
        ("effects", 2, {"precalc_n": "", "precalc_n_arm1": "40"}, "effects.csv:4 precalc_n_arm1='40': arm n are for"),
        (
            "effects",
            0,
            {"mean_post": "0.97"},
            "effects.csv:2 mean_post='0.97': number does not appear in the record's quote",
        ),
        (
            "effects",
            0,
            {"quote": "The mean GSI fell from 1.72 (SD 0.61) to 0.98"},
            "effects.csv:2 quote='The mean GSI fell from 1.72 (SD 0.61) to 0.98': quote not found verbatim in seed.txt",
        ),
        ("effects", 0, {"source": "missing.txt"}, "effects.csv:2 source='missing.txt': no such source file"),
        ("arms", 0, {"study": "Nobody2000"}, "arms.csv:2 study='Nobody2000': study not in studies table"),
        ("arms", 0, {"setting": "hospital"}, "arms.csv:2 setting='hospital': not in vocabulary setting"),
        ("arms", 0, {"days_per_week": "8"}, "arms.csv:2 days_per_week='8': must be <= 7"),
        ("studies", 0, {"year": "twenty"}, "studies.csv:2 year='twenty': must be an integer"),
        ("effects", 0, {"n_post": "4_0"}, "effects.csv:2 n_post='4_0': must be an integer: digits 0-9"),
        ("effects", 0, {"n_post": "2000000"}, "effects.csv:2 n_post='2000000': must be <= 1000000"),
        (
            "effects",
            0,
            {"mean_pre": "１.72"},
            "effects.csv:2 mean_pre='１.72': must be a number: type the digits as 0-9",
        ),
        ("effects", 0, {"mean_pre": "nan"}, "effects.csv:2 mean_pre='nan': must be a number: leave the cell empty"),
        ("effects", 2, {"precalc_p": "<.0_5"}, "effects.csv:4 precalc_p='<.0_5': p value must be a number or <number"),
        ("effects", 0, {"quote": "the"}, "effects.csv:2 quote='the': too short to locate in the source"),
        ("effects", 0, {"notes": "a\x1b[31mb"}, "effects.csv:2 notes='a\\x1b[31mb': contains the invisible control"),
        ("studies", 0, {"source": "x" * 300}, "studies.csv:2 source='xxxx"),
    ],
)
def test_each_rule_fails_with_its_message(tmp_path, seeds, table, row, changes, expected) -> None:
    found = messages(broken(tmp_path, table, row, **changes), seeds)
    assert any(expected in m for m in found), "\n".join(found)


def test_duplicate_record_is_reported(tmp_path, seeds) -> None:
    tables = minimal_tables()
    tables["effects"].append(dict(tables["effects"][0], effect_id="Demo2012.GSI.18m.copy"))
    found = messages(write_evidence(tmp_path / "dup", tables), seeds)
    assert any("duplicate record" in m and "as row 2" in m for m in found), found


def test_one_sample_cannot_span_settings(tmp_path, seeds) -> None:
    tables = minimal_tables()
    tables["arms"].append(dict(tables["arms"][0], arm="MBT-IOP", setting="intensive_outpatient"))
    found = messages(write_evidence(tmp_path / "span", tables), seeds)
    assert any("arms.csv:3 setting='intensive_outpatient': sample demo_dh" in m for m in found), found


def test_unknown_and_missing_columns(tmp_path, seeds, minimal) -> None:
    path = minimal / "studies.csv"
    path.write_text(path.read_text().replace("country", "nation", 1), encoding="utf-8")
    found = messages(minimal, seeds)
    assert any("country=None: column missing from header" in m for m in found), found
    assert any("nation=None: unknown column" in m for m in found), found


def test_conflict_flag_turns_plausibility_into_warning(tmp_path, seeds) -> None:
    quote = (
        "The mean GSI fell from 1.72 (SD 0.61) at baseline to 0.98 (SD 0.55) at 18 months (n = 40). [...] "
        "Effect size d = 1.21 (95% CI 0.75 to 1.66)."
    )
    folder = broken(tmp_path, "effects", 2, precalc_es="1.72", quote=quote, conflict="yes", notes="CI as printed")
    report = validate(folder, seeds)
    assert report.ok, report.render()
    assert any(p.severity == "warning" and "outside its CI" in p.rule for p in report.problems)
    assert report.flagged == ["effects Demo2012.GSI.18m.d: CI as printed"]


def test_all_problems_reported_at_once_without_traceback(tmp_path, seeds) -> None:
    tables = minimal_tables()
    tables["effects"][0].update(n_post="0", sd_pre="-1")
    tables["effects"][1].update(outcome_construct="happiness")
    tables["arms"][0].update(days_per_week="9")
    folder = write_evidence(tmp_path / "many", tables)
    run = subprocess.run(
        [sys.executable, "-m", "mbtevidence", "validate", str(folder), "--seeds", str(seeds)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stdout + run.stderr
    for expected in ("n_post='0'", "sd_pre='-1'", "outcome_construct='happiness'", "days_per_week='9'"):
        assert expected in run.stdout
    assert run.stdout.splitlines()[-1].split()[0].isdigit()


def test_unreadable_file_is_a_problem_not_a_traceback(tmp_path, seeds, minimal) -> None:
    (minimal / "effects.csv").write_bytes(b"\xff\xfe\x00broken")
    found = messages(minimal, seeds)
    assert found == [
        f"{minimal / 'effects.csv'}: is UTF-16 text (Excel's 'Unicode Text'), not UTF-8: save it as CSV UTF-8 (comma delimited)"
    ]


def test_impossible_value_on_a_conflict_row_is_still_an_error(tmp_path, seeds) -> None:
    report = validate(broken(tmp_path, "effects", 0, n_post="-40", conflict="yes", notes="as printed"), seeds)
    assert [str(p).split("effects.csv:")[1] for p in report.errors] == ["2 n_post='-40': must be >= 1"]


def test_flagged_notes_are_terminal_safe(tmp_path, seeds) -> None:
    quote = (
        "The mean GSI fell from 1.72 (SD 0.61) at baseline to 0.98 (SD 0.55) at 18 months (n = 40). [...] "
        "Effect size d = 1.21 (95% CI 0.75 to 1.66)."
    )
    note = "CI as printed\u202e\x9b31m, see p. 4\ncontinued"
    folder = broken(tmp_path, "effects", 2, precalc_es="1.72", quote=quote, conflict="yes", notes=note)
    lines = validate(folder, seeds).flagged_lines()
    assert lines == ["flagged: effects Demo2012.GSI.18m.d: CI as printed\\u202e\\x9b31m, see p. 4 continued"]


@pytest.mark.parametrize(
    ("text", "number"),
    [("40", 40.0), ("+4e1", 40.0), ("-0.55", -0.55), (".5", 0.5), ("5.", 5.0), ("1E-3", 0.001), ("007", 7.0)],
)
def test_parse_number_accepts_plain_ascii_numbers(text: str, number: float) -> None:
    assert parse_number(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "1_07",
        "１２",
        "٤٥",
        "१२",
        "NaN",
        "inf",
        "-Infinity",
        "1e400",
        "1,5",
        "1 000",
        "0x10",
        "1e",
        ".",
        "",
        " 4",
        "4 ",
        "--4",
    ],
)
def test_parse_number_rejects_what_float_would_accept_or_guess(text: str) -> None:
    with pytest.raises(ValueError):
        parse_number(text)


def test_loading_types_numbers_with_the_validation_parser(tmp_path, seeds) -> None:
    evidence = load_evidence(broken(tmp_path, "effects", 0, n_post="+4e1", lower_is_better="Yes"), seeds)
    assert evidence.effects["n_post"].dtype == "Int64" and evidence.effects["n_post"].iloc[0] == 40
    assert evidence.effects["lower_is_better"].iloc[0]


def test_rows_are_numbered_as_a_spreadsheet_shows_them(tmp_path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b'\xef\xbb\xbfa, b ,,\r\n1,"two\r\nlines",,\r\n\r\n,,,\r\n 3 ,"x\ry",,\r\n\r\n')
    problems: list = []
    table = read_table(path, "t", problems)
    assert not problems and table is not None
    assert table.header == ["a", "b"]
    assert table.rows == [{"a": "1", "b": "two\r\nlines"}, {"a": "3", "b": "x\ry"}]
    assert (table.lines, table.text_lines) == ([2, 5], [2, 6])


def test_cr_only_files_keep_their_line_numbers(tmp_path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\r1,2\r\r3,4\r")
    table = read_table(path, "t", [])
    assert table is not None and table.lines == [2, 4]


def test_an_empty_required_table_is_an_error(tmp_path, seeds) -> None:
    tables = minimal_tables()
    tables["effects"] = []
    found = messages(write_evidence(tmp_path / "empty", tables), seeds)
    assert found == [f"{tmp_path / 'empty' / 'effects.csv'}: no records: at least 1 row(s) below the header"]


def test_missing_sources_skip_the_quote_check_once(minimal, tmp_path) -> None:
    report = validate(minimal, tmp_path / "nowhere")
    assert report.ok
    infos = [p for p in report.problems if p.severity == "info"]
    assert len(infos) == 1 and infos[0].rule == f"quote check skipped: {tmp_path / 'nowhere'} does not exist"


def test_empty_seeds_environment_variable_means_the_default(monkeypatch) -> None:
    from mbtevidence.paths import DEFAULT_SEEDS_DIR, seeds_dir

    for empty in ("", " "):
        monkeypatch.setenv("MBTEVIDENCE_SEEDS", empty)
        assert seeds_dir() == DEFAULT_SEEDS_DIR


def test_decimal_commas_and_number_words_count_as_printed() -> None:
    from mbtevidence.evidence.provenance import quote_numbers

    assert {0.79, 86.6, 2.0, 1.0, 4.5} <= quote_numbers(
        "d = 0,79 and 86,6; twice a week, one group, four and a half hours"
    )


def test_load_evidence_raises_with_the_report(tmp_path, seeds) -> None:
    with pytest.raises(EvidenceError, match="n_post='0'"):
        load_evidence(broken(tmp_path, "effects", 0, n_post="0"), seeds)


def test_validation_leaves_files_byte_identical(bundled_copy) -> None:
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in bundled_copy.iterdir()}
    validate(bundled_copy)
    subprocess.run([sys.executable, "-m", "mbtevidence", "validate", str(bundled_copy)], capture_output=True)
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in bundled_copy.iterdir()}
    assert before == after


@requires_seeds
def test_bundled_evidence_validates_with_quote_check() -> None:
    report = validate(DEFAULT_EVIDENCE_DIR)
    assert report.ok, report.render()
    assert report.quotes_checked > 0


def test_bundled_evidence_validates_without_sources(tmp_path) -> None:
    report = validate(DEFAULT_EVIDENCE_DIR, tmp_path / "no-seeds")
    assert report.ok, report.render()


def test_readme_column_reference_is_generated_from_schema() -> None:
    from mbtevidence.evidence import load_schema, schema_markdown

    readme = (DEFAULT_EVIDENCE_DIR / "README.md").read_text(encoding="utf-8")
    assert schema_markdown(load_schema()) in readme, "run: mbtevidence schema-doc and paste into evidence/README.md"
