"""The validator (mbtevidence.evidence): one crafted bad file per rule, each must fail with its message."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import minimal_tables, requires_seeds, write_evidence

from mbtevidence.evidence import EvidenceError, load_evidence, validate
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
        ("studies", 0, {"year": "twenty"}, "studies.csv:2 year='twenty': must be a integer"),
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
    assert any("not a readable UTF-8 CSV file" in m for m in found), found


def test_missing_sources_skip_the_quote_check_once(minimal, tmp_path) -> None:
    report = validate(minimal, tmp_path / "nowhere")
    assert report.ok
    infos = [p for p in report.problems if p.severity == "info"]
    assert len(infos) == 1 and "quote check skipped" in infos[0].rule


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
