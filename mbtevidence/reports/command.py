"""The ``mbtevidence render`` command: everything it checks before a notebook runs, and what it prints.

Exit codes: 0 every report written; 1 the evidence does not validate or a report failed (the
previous set is kept); 2 a problem with the command, the report set or a parameter, or an
output folder that cannot be written; 130 interrupted (the previous set is kept).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .. import evidence as ev
from ..paths import EVIDENCE_DIR
from .grid import GRID_FILE, GridError, ReportSpec, declared_parameters, load_grid
from .job import Job
from .parameters import ParameterError, check, parse_value
from .pdf import pdf_engine
from .render import RenderError, prepare_output, render_lock, render_set
from .selection import select_effects
from .stamp import evidence_folder_text, flagged_line, make_stamp, quote_check_line


def _pick(specs: list[ReportSpec], only: list[str]) -> list[ReportSpec]:
    if not only:
        return specs
    unknown = [o for o in only if not any(o in (s.name, s.notebook) for s in specs)]
    if unknown:
        raise GridError(f"--only {', '.join(unknown)}: no such report; reports: {', '.join(s.name for s in specs)}")
    return [s for s in specs if s.name in only or s.notebook in only]


def report_parameters(specs: list[ReportSpec], given: list[tuple[str, str]]) -> dict[str, dict[str, object]]:
    """Each report's parameters: its grid entry, then the ad hoc ``-p NAME VALUE`` it declares."""
    overrides = {name: parse_value(name, value) for name, value in given}
    declared = {s.name: declared_parameters(s.path) for s in specs}
    unused = [n for n in overrides if not any(n in d for d in declared.values())]
    if unused:
        raise ParameterError(f"parameter {unused[0]!r} is not declared by any report being rendered")
    chosen = {}
    for spec in specs:
        parameters = {**spec.parameters, **{k: v for k, v in overrides.items() if k in declared[spec.name]}}
        try:
            check(**parameters)
        except ParameterError as exc:
            raise ParameterError(f"report {spec.name}: {exc}") from None
        chosen[spec.name] = parameters
    return chosen


def check_data(evidence: ev.Evidence, specs: list[ReportSpec], parameters: dict[str, dict[str, object]]) -> None:
    """Every report that pools an outcome has records for it (the notebooks' own first check)."""
    for spec in specs:
        if "outcome_construct" in declared_parameters(spec.path):
            try:
                select_effects(evidence, check(**parameters[spec.name]))
            except ParameterError as exc:
                raise ParameterError(f"report {spec.name}: {exc}") from None


def render(
    output: Path,
    evidence_dir: Path = EVIDENCE_DIR,
    seeds_dir: Path | None = None,
    jobs: int = 1,
    timeout: float = 600,
    show_code: bool = False,
    pdf: bool = True,
    only: list[str] | None = None,
    given: list[tuple[str, str]] | None = None,
    grid: Path = GRID_FILE,
    say: Callable[[str], None] = print,
) -> int:
    """Run the render command; returns its exit code (messages through ``say`` and stderr)."""
    started = time.monotonic()
    try:
        specs = _pick(load_grid(grid), only or [])
        parameters = report_parameters(specs, given or [])
        if jobs < 1:
            raise RenderError(f"--jobs {jobs}: give 1 or more")
        prepare_output(Path(output))
        with render_lock(Path(output)):
            return _validate_and_render(
                Path(output),
                Path(evidence_dir),
                seeds_dir,
                specs,
                parameters,
                jobs,
                timeout,
                show_code,
                pdf,
                say,
                started,
            )
    except (GridError, ParameterError, RenderError) as exc:
        return fail(str(exc), 2)
    except KeyboardInterrupt:
        return fail(f"interrupted; {output} was left as it was", 130)


def fail(message: str, code: int) -> int:
    """Print one line on stderr; return the exit code."""
    print(f"mbtevidence render: {message}", file=sys.stderr)
    return code


def _validate_and_render(
    output: Path,
    evidence_dir: Path,
    seeds_dir: Path | None,
    specs: list[ReportSpec],
    parameters: dict[str, dict[str, object]],
    jobs: int,
    timeout: float,
    show_code: bool,
    pdf: bool,
    say: Callable[[str], None],
    started: float,
) -> int:
    report = ev.validate(evidence_dir, seeds_dir)
    if not report.ok:
        print(report.render(flagged=False), file=sys.stderr)
        return fail(f"the evidence in {evidence_dir} does not validate; nothing was rendered", 1)
    version = ev.content_hash(evidence_dir)
    say(f"evidence {evidence_dir} (version {version}): validated once, {len(report.errors)} errors")
    say(f"  {flagged_line(report)}")
    say(f"  quote check: {quote_check_line(report)}")
    check_data(ev.load_evidence(evidence_dir, validated_hash=version), specs, parameters)
    if pdf and pdf_engine() is None:
        say("  no PDF: neither Chromium nor WeasyPrint is installed")
        pdf = False
    bundled = evidence_dir.resolve() == EVIDENCE_DIR.resolve()

    def render_parameters(spec: ReportSpec) -> dict[str, object]:
        """Evidence relative to the notebook's folder (no absolute path reaches a report)."""
        folder = None if bundled else os.path.relpath(evidence_dir.resolve(), spec.path.parent.resolve())
        return {"evidence_dir": folder, "seeds_dir": None, "validated_hash": version}

    stamp = make_stamp(report, version, evidence_folder_text(evidence_dir))
    run = [
        Job(
            s.name,
            str(s.path),
            s.title,
            {**parameters[s.name], **render_parameters(s)},
            "",
            timeout,
            show_code,
            pdf,
            stamp.to_dict(),
        )
        for s in specs
    ]
    say(f"rendering {len(run)} report(s) into {output}, {jobs} at a time")
    outcome = render_set(run, output, jobs, stamp, {s.name: s.title for s in specs}, say)
    if outcome.interrupted:
        return fail(f"interrupted; {output} was left as it was", 130)
    if outcome.failed:
        for result in outcome.failed:
            name = str(result["name"])
            notebook = next(s.notebook for s in specs if s.name == name)
            print(f"mbtevidence render: {name} ({notebook}) failed: {result['error']}", file=sys.stderr)
        kept = f"; executed notebooks with the errors: {outcome.kept}" if outcome.kept else ""
        return fail(f"{len(outcome.failed)} of {len(run)} report(s) failed; {output} was left as it was{kept}", 1)
    say(f"wrote {len(run)} report(s) and {output / 'index.html'} in {time.monotonic() - started:.0f} s")
    return 0


__all__ = ["check_data", "render", "report_parameters"]
