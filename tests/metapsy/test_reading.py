"""Reading a Metapsy file as published, and the file:line messages of files that cannot be used."""

from __future__ import annotations

from pathlib import Path

import pytest
from metapsy_testdata import PUBLISHED, cli, msd_row, requires_data, write_metapsy

from mbtevidence.metapsy import DatasetInfo, MetapsyError, read_metapsy
from mbtevidence.metapsy.reading import metapsy_id, repair_text


@requires_data
def test_the_published_database_reads_with_its_quirks() -> None:
    file = read_metapsy(PUBLISHED)
    assert len(file.rows) == 54
    assert file.dataset == DatasetInfo("metapsy-borderline-psyctr", "0c26f8f", "10.5281/zenodo.10185551")
    studies = {row["study"] for row in file.rows}
    assert "Leppännen, 2016" in studies and not any("Ã" in s for s in studies), "double-encoded UTF-8 repaired"
    assert file.frame.loc[file.frame["study"] == "Bateman, 2009", "mean_arm1"].iloc[0] == 1.28, "decimal comma"
    assert file.frame["mean_arm1"].isna().sum() == 24, "NA is missing (the 24 dich rows)"
    laurenssen = file.rows[[r["study"] for r in file.rows].index("Laurenssen, 2018")]
    assert laurenssen["n_sessions_ig"].startswith("5 days/ week"), "free text stays text"
    # the .id metapsyTools wrote disagrees with the row's time_weeks on three rows: reported, not fatal
    warned = {(p.row, p.column) for p in file.problems if p.severity == "warning"}
    assert warned == {(30, ".id"), (31, ".id"), (55, ".id")}


def test_repair_text_leaves_correct_text_alone() -> None:
    assert repair_text("LeppÃ¤nnen") == "Leppännen"
    assert repair_text("LeppÃƒÂ¤nnen") == "Leppännen", "encoded twice"
    assert repair_text("journal of Psychiatry,\u00c2\u00a0166") == "journal of Psychiatry, 166", "no-break space"
    assert repair_text("Pierò, Jørgensen") == "Pierò, Jørgensen"


def test_metapsy_id_is_built_as_metapsytools_builds_it() -> None:
    row = msd_row(study="Amianto, 2011", instrument="cgi-bpd global", time_weeks="52", condition_arm1="pdp")
    row |= {"condition_arm2": "GT"}
    assert metapsy_id(row) == "Amianto_2011_msd_cgi-bpdglobal_post_52_NA_pdp_GT_NA_NA"


BAD_FILES = {
    "missing-columns": (
        lambda p: p.write_text('"";"study";"outcome_type"\n"1";"A, 2000";"msd"\n', encoding="utf-8"),
        "bad.csv:1: missing column(s) of the Metapsy standard: condition_arm1",
    ),
    "comma-separated": (
        lambda p: p.write_text('"","study","outcome_type"\n"1","A, 2000","msd"\n', encoding="utf-8"),
        "bad.csv:1: comma-separated: the Metapsy dialect separates fields with ';'",
    ),
    "not-a-number": (
        lambda p: write_metapsy(p, [msd_row(), msd_row(study="B, 2001", mean_arm1="2O")]),
        "bad.csv:3 mean_arm1='2O': not a number (decimal comma or point; NA when missing)",
    ),
    "negative-sd": (
        lambda p: write_metapsy(p, [msd_row(sd_arm2="-1.5")]),
        "bad.csv:2 sd_arm2='-1,5': an SD must be > 0",
    ),
    "more-events": (
        lambda p: write_metapsy(
            p,
            [
                msd_row(
                    outcome_type="dich",
                    **dict.fromkeys(["mean_arm1", "sd_arm1", "n_arm1", "mean_arm2", "sd_arm2", "n_arm2"], ""),
                    event_arm1="12",
                    totaln_arm1="10",
                    event_arm2="3",
                    totaln_arm2="10",
                )
            ],
        ),
        "bad.csv:2 event_arm1='12': more events than totaln_arm1",
    ),
    "ragged-row": (
        lambda p: p.write_text(write_metapsy(p, [msd_row()]).read_text() + '"2";"B, 2001"\n', encoding="utf-8"),
        "bad.csv:3: row has 2 cells, the header",
    ),
    "duplicate-id": (
        lambda p: write_metapsy(p, [msd_row(**{".id": "x"}), msd_row(**{".id": "x"})]),
        "bad.csv:3 .id='x': duplicate .id (first at line 2)",
    ),
    "latin-1": (lambda p: p.write_bytes('"";"study"\n"1";"Pier\xf2, 2011"\n'.encode("latin-1")), "bad.csv: not UTF-8"),
    "empty": (lambda p: p.write_text("\n", encoding="utf-8"), "bad.csv: empty file"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_file_is_one_clear_message(tmp_path: Path, case: str) -> None:
    write, message = BAD_FILES[case]
    path = tmp_path / "bad.csv"
    write(path)
    with pytest.raises(MetapsyError) as raised:
        read_metapsy(path)
    assert any(str(p).replace(str(tmp_path) + "/", "").startswith(message) for p in raised.value.problems), str(
        raised.value
    )


@pytest.mark.parametrize("command", ["import", "pool"])
def test_the_command_line_prints_file_and_line(tmp_path: Path, capsys, command: str) -> None:
    path = write_metapsy(tmp_path / "bad.csv", [msd_row(), msd_row(study="B, 2001", sd_arm1="0")])
    code, _, err = cli(capsys, "metapsy", command, str(path))
    assert code == 2 and f"{path}:3 sd_arm1='0': an SD must be > 0" in err
