"""Render faults (issue 12): a bad parameter, a failing notebook, an interrupted render, a second render,
an output that cannot be written — each one line, exit non-zero, and the previous report set intact."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mbtevidence.reports.render import render_lock


def render_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mbtevidence", "render", *args]


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(render_command(*args), capture_output=True, text=True, timeout=timeout)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def main(capsys, *args: str) -> tuple[int, str, str]:
    """The render command in this process (the checks before any notebook runs are fast)."""
    from mbtevidence.cli import main as cli

    code = cli(["render", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_each(stderr: str) -> list[str]:
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr and all(line.startswith("mbtevidence render: ") for line in lines), stderr
    return lines


@pytest.fixture(scope="module")
def previous(tmp_path_factory, grid_writer) -> tuple[Path, dict[str, bytes]]:
    """A report set rendered earlier (tiny notebooks), and its files; every test leaves it as it was."""
    tmp_path = tmp_path_factory.mktemp("previous")
    grid = grid_writer(tmp_path / "grid", {"good": ['print("all fine")']})
    out = tmp_path / "out" / "reports"
    done = run("--grid", str(grid), "--output", str(out), "--seeds", str(tmp_path / "no-seeds"), "--no-pdf")
    assert done.returncode == 0, done.stderr
    assert "quote check: SKIPPED" in done.stdout, "a skipped quote check is said on the terminal"
    assert "SKIPPED" in (out / "good.html").read_text(encoding="utf-8"), "... and in the report"
    return out, snapshot(out)


def test_a_failing_notebook_does_not_stop_the_others_and_keeps_the_previous_set(tmp_path, tiny_grid, previous):
    out, before = previous
    grid = tiny_grid(
        {
            "good": ['print("all fine")'],
            "broken": ['raise ValueError("boom")'],
            "late": ['print("still runs")'],
        }
    )
    done = run("--grid", str(grid), "--output", str(out), "--seeds", str(tmp_path / "no-seeds"), "--no-pdf")
    assert done.returncode == 1
    assert re.search(r"done +late", done.stdout), "the report after the failing one still ran"
    lines = one_line_each(done.stderr)
    assert any(line.startswith("mbtevidence render: broken (broken.ipynb) failed: cell ") and
               line.endswith("ValueError: boom") for line in lines), lines  # fmt: skip
    assert "1 of 3 report(s) failed" in lines[-1] and "was left as it was" in lines[-1]
    kept = Path(lines[-1].rsplit(": ", 1)[1])
    assert (kept / "broken.ipynb").exists() and (kept / "late.ipynb").exists()
    assert snapshot(out) == before
    assert [p.name for p in out.parent.iterdir()] == ["reports"], "no staging folder left"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("prepost_correlation", "1.5", "prepost_correlation=1.5 is not allowed: give a number >= 0 and < 1"),
        ("outcome_construct", "symptoms", "outcome_construct='symptoms' is not allowed: give one of symptom_severity"),
        ("months_from", "30", "months_from=30 is after months_to=27"),
        ("outcome_construct", "dropout", "outcome_construct='dropout' has no record with a computable SMCR"),
        ("method", "XX", "method='XX' is not allowed: give one of EE, DL"),
        ("colour", "red", "unknown parameter 'colour'"),
    ],
)
def test_a_bad_parameter_stops_before_any_notebook_runs(capsys, tmp_path, previous, name, value, words) -> None:
    out, before = previous
    code, stdout, stderr = main(capsys, "--only", "settings-symptom-severity", "-p", name, value, "--output", str(out),
                                "--seeds", str(tmp_path / "no-seeds"))  # fmt: skip
    assert code == 2
    [line] = one_line_each(stderr)
    assert words in line
    assert "started" not in stdout
    assert snapshot(out) == before


def test_a_bad_parameter_from_the_shell_is_one_line_too(tmp_path, previous) -> None:
    out, before = previous
    done = run("-p", "prepost_correlation", "1.5", "--output", str(out))
    assert done.returncode == 2
    [line] = one_line_each(done.stderr)
    assert "parameter prepost_correlation=1.5 is not allowed" in line
    assert snapshot(out) == before


def test_an_interrupted_render_stops_cleanly_and_keeps_the_previous_set(tmp_path, tiny_grid, previous) -> None:
    out, before = previous
    grid = tiny_grid({"slow": ["import time", "time.sleep(300)"]})
    process = subprocess.Popen(
        render_command("--grid", str(grid), "--output", str(out), "--seeds", str(tmp_path / "no-seeds"), "--no-pdf"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "started" in line:
            break
    time.sleep(2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=90)
    assert process.returncode == 130
    [line] = one_line_each(stderr)
    assert "interrupted" in line and "left as it was" in line
    assert snapshot(out) == before
    assert [p.name for p in out.parent.iterdir()] == ["reports"]


def test_a_second_render_into_the_same_folder_is_refused(tmp_path, previous) -> None:
    out, before = previous
    with render_lock(out):  # held by this process; the render runs in another
        done = run("--only", "explore", "--output", str(out), "--seeds", str(tmp_path / "no-seeds"))
    assert done.returncode == 2
    [line] = one_line_each(done.stderr)
    assert f"another render is writing {out}" in line
    assert snapshot(out) == before


def test_an_output_that_cannot_be_written_is_one_line(capsys, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for output, words in ((blocker / "reports", "cannot write to --output"), (blocker, "is a file, not a folder")):
        code, _, stderr = main(capsys, "--only", "explore", "--output", str(output))
        assert code == 2
        [line] = one_line_each(stderr)
        assert words in line


def test_a_folder_the_render_did_not_make_is_never_replaced(capsys, tmp_path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes")
    code, _, stderr = main(capsys, "--only", "explore", "--output", str(folder))
    assert code == 2
    [line] = one_line_each(stderr)
    assert "holds files a render did not make (notes.txt)" in line
    assert (folder / "notes.txt").read_text() == "my notes"
    assert os.listdir(folder) == ["notes.txt"]
