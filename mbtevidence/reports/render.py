"""``mbtevidence render``: validate once, run the report set in parallel, swap it in whole.

1. The report set (``notebooks/reports.yaml``) and the ad hoc parameters (``-p NAME VALUE``) are
   checked before anything runs; so is the evidence (validated once; every notebook gets its
   :func:`~mbtevidence.evidence.content_hash` and does not validate again).
2. A lock (``fcntl.flock`` on a file in the system's temporary folder, named after the output
   folder) refuses a second render into the same folder with one line.
3. Every report runs in its own process (:mod:`mbtevidence.reports.job`), ``--jobs`` at a time,
   into a hidden folder beside the output; progress is printed as reports start and finish.
4. Only when every report succeeded is the index written and the folder swapped in for the
   previous set.  Otherwise the previous set stays as it was, each failure is one line, and the
   executed notebooks with their errors are kept in a temporary folder for reading.  Ctrl-C
   stops the running reports (their kernels shut down) and leaves the previous set intact.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import NOTEBOOKS_DIR
from .index import write_index
from .job import Job, job_json
from .stamp import Stamp

MARKER = ".mbtevidence-reports"
"""File every rendered set carries, so a render replaces only folders it made."""
BUILD_SUFFIXES = {".html", ".ipynb", ".pdf", ".json", ".png"}


class RenderError(Exception):
    """A render that cannot start or finish (one line)."""


@dataclass
class Outcome:
    """What became of the reports of one render."""

    results: list[dict[str, object]] = field(default_factory=list)
    interrupted: bool = False
    kept: Path | None = None
    """Where the executed notebooks of a failed render were kept."""

    @property
    def failed(self) -> list[dict[str, object]]:
        return [r for r in self.results if not r.get("ok")]


@contextmanager
def render_lock(output: Path) -> Iterator[None]:
    """Hold the lock of ``output`` or raise :class:`RenderError` at once."""
    digest = hashlib.sha256(str(output.resolve()).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"mbtevidence-render-{digest}.lock"
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RenderError(
                f"another render is writing {output} (it holds {path}); wait for it to finish, then run again"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_output(output: Path) -> None:
    """An output folder this render may replace: new, empty, or made by an earlier render."""
    if output.exists() and not output.is_dir():
        raise RenderError(f"--output {output} is a file, not a folder")
    if output.is_dir() and not (output / MARKER).exists():
        foreign = [p.name for p in output.iterdir() if p.is_dir() or p.suffix not in BUILD_SUFFIXES]
        if foreign:
            raise RenderError(
                f"--output {output} holds files a render did not make ({', '.join(sorted(foreign)[:3])}): "
                "give a new or empty folder"
            )


def prepare_output(output: Path) -> None:
    """Fail early (one line) when ``output`` may not be replaced or its folder cannot be made."""
    check_output(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RenderError(f"cannot write to --output {output}: {exc.strerror or exc}") from None


def make_staging(output: Path) -> Path:
    """A hidden folder beside ``output`` (same file system, so the swap is a rename)."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.rendering-", dir=output.parent))
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # as a folder made by mkdir (mkdtemp makes it private)
        return staging
    except OSError as exc:
        raise RenderError(f"cannot write to --output {output}: {exc.strerror or exc}") from None


def swap_in(staging: Path, output: Path) -> None:
    """Replace ``output`` by ``staging``; the previous set is removed only after the rename."""
    (staging / MARKER).write_text("made by mbtevidence render; the whole folder is replaced by the next render\n")
    previous = None
    if output.exists():
        previous = Path(tempfile.mkdtemp(prefix=f".{output.name}.previous-", dir=output.parent))
        previous.rmdir()
        output.rename(previous)
    staging.rename(output)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def _log(job: Job) -> Path:
    return Path(job.output_dir) / f".{job.name}.log"


def _start(job: Job) -> subprocess.Popen:
    with _log(job).open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mbtevidence.reports.job"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,  # Ctrl-C reaches the render, which stops the reports in order
            cwd=str(NOTEBOOKS_DIR),
        )
    assert process.stdin is not None
    process.stdin.write(job_json(job))
    process.stdin.close()
    return process


def _finish(job: Job, process: subprocess.Popen) -> dict[str, object]:
    import json

    assert process.stdout is not None
    lines = process.stdout.read().strip().splitlines()
    process.stdout.close()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        log = _log(job).read_text(errors="replace").strip().splitlines()
        return {"name": job.name, "ok": False, "error": (log or ["the report process ended without a result"])[-1]}


def _stop(running: dict[str, tuple[Job, subprocess.Popen, float]]) -> None:
    for _, process, _ in running.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 20
    for _, process, _ in running.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_jobs(jobs: list[Job], workers: int, say: Callable[[str], None]) -> Outcome:
    """Run the reports, ``workers`` at a time; progress lines through ``say``."""
    outcome = Outcome()
    pending = list(jobs)
    running: dict[str, tuple[Job, subprocess.Popen, float]] = {}
    total, done = len(jobs), 0
    width = max(len(j.name) for j in jobs)
    try:
        while pending or running:
            while pending and len(running) < workers:
                job = pending.pop(0)
                running[job.name] = (job, _start(job), time.monotonic())
                say(f"  started   {job.name:<{width}}  ({Path(job.notebook).name})")
            for name, (job, process, started) in list(running.items()):
                if process.poll() is None:
                    continue
                del running[name]
                result = _finish(job, process)
                outcome.results.append(result)
                done += 1
                state = "done  " if result.get("ok") else "FAILED"
                say(
                    f"[{done:>{len(str(total))}}/{total}] {state}  {name:<{width}}  {time.monotonic() - started:5.1f} s"
                )
            time.sleep(0.1)
    except KeyboardInterrupt:
        _stop(running)
        outcome.interrupted = True
    return outcome


@contextmanager
def interrupt_as_keyboard() -> Iterator[None]:
    """SIGTERM is handled like Ctrl-C while reports run."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def render_set(
    jobs: list[Job], output: Path, workers: int, stamp: Stamp, titles: dict[str, str], say: Callable[[str], None]
) -> Outcome:
    """Render ``jobs`` into ``output`` (replaced only when all succeed; the caller holds
    :func:`render_lock`).  ``Job.output_dir`` is set here."""
    prepare_output(output)
    staging = make_staging(output)
    try:
        placed = [Job(**{**job.__dict__, "output_dir": str(staging)}) for job in jobs]
        with interrupt_as_keyboard():
            outcome = run_jobs(placed, workers, say)
        if outcome.failed and not outcome.interrupted:
            outcome.kept = Path(tempfile.mkdtemp(prefix="mbtevidence-failed-render-"))
            for path in staging.iterdir():
                shutil.move(str(path), outcome.kept / path.name)
        if outcome.interrupted or outcome.failed:
            return outcome
        for log in staging.glob(".*.log"):
            log.unlink()
        write_index(staging, outcome.results, titles, stamp)
        swap_in(staging, output)
        return outcome
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


__all__ = ["MARKER", "Outcome", "RenderError", "check_output", "prepare_output", "render_lock", "render_set"]
