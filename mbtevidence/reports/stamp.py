"""The stamp on every report: which evidence, which code, which parameters, when.

A guideline author citing a report needs to know exactly what produced it: the evidence
version (:func:`mbtevidence.evidence.content_hash` of the tables), the package version, the git
commit of the checkout when there is one (marked when the work tree has uncommitted changes),
the parameters and the date, and what validation said about the evidence.
"""

from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime

from ..evidence import ValidationReport
from ..paths import CHECKOUT, EVIDENCE_DIR

FLAGGED_POINTER = "mbtevidence validate --flagged"


def git_commit() -> str:
    """Short commit of the checkout (``+ uncommitted changes`` when the tree differs), or 'not a git checkout'."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(CHECKOUT), *args], capture_output=True, text=True, timeout=10
        )
        if done.returncode != 0:
            raise OSError(done.stderr.strip())
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    return commit + (" + uncommitted changes" if dirty else "")


def flagged_line(report: ValidationReport) -> str:
    """All flagged records in one line, counted per table, with where to read them."""
    if not report.flagged:
        return "no record is flagged as a source conflict"
    tables: dict[str, int] = {}
    for entry in report.flagged:
        table = entry.split(" ", 1)[0]
        tables[table] = tables.get(table, 0) + 1
    per_table = ", ".join(f"{n} in {table}.csv" for table, n in tables.items())
    return (
        f"{len(report.flagged)} rows flagged as source conflicts ({per_table}); "
        f"`{FLAGGED_POINTER}` lists them with the reading taken"
    )


def quote_check_line(report: ValidationReport) -> str:
    """The quote check in words, without local paths."""
    if report.quote_check.startswith("skipped"):
        return "SKIPPED: the source texts were not found, so the quotes were not checked against them"
    if report.quotes_checked:
        return f"{report.quotes_checked} quotes found verbatim in the source texts"
    return report.quote_check


@dataclass(frozen=True)
class Stamp:
    """What produced a report."""

    evidence_version: str
    evidence_folder: str
    package_version: str
    commit: str
    date: str
    validation: str
    flagged: str
    quote_check: str
    parameters: dict[str, object] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"mbtevidence {self.package_version} · evidence version {self.evidence_version} · "
            f"commit {self.commit} · rendered {self.date}"
        )

    def rows(self) -> dict[str, str]:
        """The stamp as label: text (parameters only for a report, not for the index)."""
        parameters = "; ".join(f"{k} = {v!r}" for k, v in self.parameters.items())
        rows = {
            "evidence": f"{self.evidence_folder}, version {self.evidence_version} (SHA-256 of the tables)",
            "validation": self.validation,
            "flagged records": self.flagged,
            "quote check": self.quote_check,
            "package": f"mbtevidence {self.package_version}",
            "git commit": self.commit,
            "parameters": parameters,
            "rendered": self.date,
        }
        return {k: v for k, v in rows.items() if v}

    def with_parameters(self, parameters: dict[str, object]) -> Stamp:
        return Stamp(**{**asdict(self), "parameters": dict(parameters)})

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def make_stamp(report: ValidationReport, evidence_version: str, evidence_folder: str) -> Stamp:
    """The stamp of one render (parameters are added per report)."""
    from .. import __version__

    errors = len(report.errors)
    warnings = sum(p.severity == "warning" for p in report.problems)
    return Stamp(
        evidence_version=evidence_version,
        evidence_folder=evidence_folder,
        package_version=__version__,
        commit=git_commit(),
        date=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        validation=f"validated once for this render: {errors} error(s), {warnings} warning(s)",
        flagged=flagged_line(report),
        quote_check=quote_check_line(report),
    )


def evidence_folder_text(evidence_dir: object) -> str:
    """'the bundled evidence/' or the folder's name (never an absolute local path)."""
    from pathlib import Path

    folder = Path(str(evidence_dir)).resolve()
    return "the bundled evidence/" if folder == EVIDENCE_DIR.resolve() else f"evidence folder '{folder.name}'"


__all__ = ["FLAGGED_POINTER", "Stamp", "evidence_folder_text", "flagged_line", "git_commit", "make_stamp"]
