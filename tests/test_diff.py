"""The living-update diff: records and syntheses an evidence change moved, as text, JSON and HTML."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from metapsy_testdata import cli, run

from mbtevidence.diff import conclusion_flags, diff_evidence, write_diff_html
from mbtevidence.paths import EVIDENCE_DIR

SETTINGS = "Within-group symptom severity (SMCR), 12-27 months, by setting"


def edit_cell(folder: Path, effect_id: str, column: str, value: str) -> str:
    """Set one cell of effects.csv; returns the value it had."""
    path = folder / "effects.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    j = rows[0].index(column)
    row = next(r for r in rows if r[0] == effect_id)
    old, row[j] = row[j], value
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return old


@pytest.fixture(scope="module")
def one_value_edit(tmp_path_factory, symptom_synthesis):
    """The bundled evidence, and a copy in which the largest pooled sample's post-treatment mean is 20% higher."""
    tmp = tmp_path_factory.mktemp("diff")
    old, new = (shutil.copytree(EVIDENCE_DIR, tmp / name) for name in ("old", "new"))
    record = symptom_synthesis.rows.sort_values("n").iloc[-1]
    before = edit_cell(new, record["effect_id"], "mean_post", f"{record['mean_post'] * 1.2:.2f}")
    return record["effect_id"], before, diff_evidence(old, new)


def test_a_one_value_edit_names_the_record_and_the_syntheses_it_moved(one_value_edit) -> None:
    effect_id, before, diff = one_value_edit
    assert {t: k for t, k in diff.added.items() if k} == {} and {t: k for t, k in diff.removed.items() if k} == {}
    [change] = diff.changed["effects"]
    assert change.key == effect_id and [f[0] for f in change.fields] == ["mean_post"] and change.fields[0][1] == before
    moved = {s.name: s for s in diff.syntheses if s.before != s.after}
    assert SETTINGS in moved, [s.name for s in diff.syntheses]
    settings = moved[SETTINGS]
    assert settings.after["estimate"] < settings.before["estimate"], "a higher post-treatment score: less improvement"
    assert settings.before["k"] == settings.after["k"] and "subgroup_p_separate_tau2" in settings.after
    text = diff.summary()
    assert (
        f"~ {effect_id}" in text and f"mean_post: {before!r} ->" in text and f"  {SETTINGS}\n    before  k = " in text
    )
    unmoved = [s for s in diff.syntheses if s.before == s.after]
    assert unmoved and all(f"{s.name}: unchanged" in text for s in unmoved)


def test_json_and_html(one_value_edit, tmp_path: Path) -> None:
    effect_id, _, diff = one_value_edit
    data = json.loads(diff.to_json())
    assert {"added", "removed", "changed", "syntheses"} <= data.keys()
    assert data["changed"]["effects"][0]["key"] == effect_id
    settings = next(s for s in data["syntheses"] if s["name"] == SETTINGS)
    assert {"before", "after", "flags"} <= settings.keys() and settings["before"]["k"] >= 2
    page = write_diff_html(diff, tmp_path / "diff.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and effect_id in page and SETTINGS in page and "<script" not in page


def test_conclusion_flags() -> None:
    before = {"k": 3, "estimate": 0.4, "ci_low": 0.1, "ci_high": 0.7, "measure": "SMD", "subgroup_p_separate_tau2": 0.2}
    after = before | {"k": 2, "ci_low": -0.1, "subgroup_p_separate_tau2": 0.03}
    assert conclusion_flags(before, after) == [
        "CI now crosses zero",
        "subgroup test (separate tau²) now significant at 0.05",
        "k below 3 (k = 2)",
    ]
    assert conclusion_flags(after, before) == [
        "CI no longer crosses zero",
        "subgroup test (separate tau²) no longer significant at 0.05",
    ]
    assert conclusion_flags(before, before | {"estimate": -0.2, "ci_low": -0.5, "ci_high": -0.1}) == [
        "estimate changed sign"
    ]
    proportion = before | {"measure": "PLO"}
    assert conclusion_flags(proportion, proportion | {"ci_low": -0.1}) == [], "zero is 50% on the logit scale"
    assert conclusion_flags(None, before) == ["new synthesis (fewer than 2 samples before)"]


def test_the_command_line_compares_a_revision_with_a_folder(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    out = run("diff", "HEAD", str(EVIDENCE_DIR), "--json", "--html", str(page))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["old"] == "HEAD" and data["new"] == str(EVIDENCE_DIR) and page.is_file()


def test_an_unknown_version_is_a_clear_message(capsys) -> None:
    code, _, err = cli(capsys, "diff", "no-such-revision")
    assert code == 2 and "'no-such-revision' is neither a folder nor a git revision" in err
