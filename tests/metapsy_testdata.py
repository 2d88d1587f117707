"""Metapsy files for the tests: the published BPD database, and small files written as R's write.csv2 writes them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mbtevidence.metapsy.reading import STANDARD_COLUMNS
from mbtevidence.paths import data_dir

DATASET = "metapsy-borderline-psyctr"
PUBLISHED = data_dir() / DATASET / "data.csv"
requires_data = pytest.mark.skipif(not PUBLISHED.is_file(), reason=f"Metapsy BPD database not found at {PUBLISHED}")
PRECALCULATED = [".id", ".g", ".g_se", ".log_rr", ".log_rr_se"]


def msd_row(**cells: str) -> dict[str, str]:
    """A msd row of a two-arm trial (Hedges' g about -0.5), cells overridable."""
    row = dict(
        study="Demo, 2020",
        condition_arm1="mbt",
        condition_arm2="TAU",
        outcome_type="msd",
        instrument="bpdsi",
        time="post",
        time_weeks="78",
        mean_arm1="20",
        sd_arm1="10",
        n_arm1="40",
        mean_arm2="25",
        sd_arm2="10",
        n_arm2="40",
        rand_arm1="40",
        rand_arm2="40",
        year="2020",
        outcome_domain="BPD severity",
    )
    return row | cells


def write_metapsy(path: Path, rows: list[dict[str, str]], extra: tuple[str, ...] = ()) -> Path:
    """Write rows in the Metapsy dialect: ';', decimal commas, NA, text quoted, a row-number column."""
    columns = [*STANDARD_COLUMNS, "outcome_domain", "rand_arm1", "rand_arm2", "year", *extra, *PRECALCULATED]
    numeric = {c for c in columns if c.startswith(("mean", "sd_", "n_", "event", "totaln", "rand", "time_w", "year"))}

    def cell(column: str, value: str) -> str:
        if value == "":
            return "NA"
        return value.replace(".", ",") if column in numeric else '"' + value + '"'

    lines = [";".join(f'"{c}"' for c in ["", *columns])]
    lines += [";".join([f'"{i}"', *(cell(c, r.get(c, "")) for c in columns)]) for i, r in enumerate(rows, start=1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The command line as a user runs it (a new process)."""
    import os

    return subprocess.run(
        [sys.executable, "-m", "mbtevidence", *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The command line in this process (fast): exit code, stdout, stderr; an exception would fail the test."""
    from mbtevidence.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err
