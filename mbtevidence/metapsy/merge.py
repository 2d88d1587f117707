"""Writing imported records: a new evidence folder, or merged into an existing one.

Merging keeps every other row of the folder byte for byte (the tables are rewritten with the
same CSV dialect they are read with).  Records imported earlier from the same dataset for the
same studies are replaced, so importing a newer release of the database updates them.  Curated
records of a sample the import linked to a randomised trial become secondary reports: the trial's
primary report is now in the evidence.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from ..evidence.schema import load_schema
from .convert import ImportResult

TABLES = ("studies", "arms", "effects")


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    return rows[0], rows[1:]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([header, *rows])
    path.write_text(out.getvalue(), encoding="utf-8")


@dataclass
class MergeReport:
    """What a merge changed, table by table."""

    folder: Path
    added: dict[str, int] = field(default_factory=dict)
    replaced: dict[str, int] = field(default_factory=dict)
    made_secondary: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.added[t]} {t} (replacing {self.replaced[t]})" for t in self.added]
        lines = [f"Wrote {', '.join(parts)} in {self.folder}."]
        if self.made_secondary:
            lines.append("Marked secondary (the primary report is now imported): " + ", ".join(self.made_secondary))
        return "\n".join(lines)


def write_evidence(result: ImportResult, folder: Path) -> MergeReport:
    """Write the imported records to ``folder``: merged when it holds evidence tables, else as a new folder."""
    folder = Path(folder)
    schema = load_schema()["tables"]
    report = MergeReport(folder)
    if not (folder / schema["studies"]["file"]).is_file():
        folder.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            columns = list(schema[name]["columns"])
            _write(folder / schema[name]["file"], columns, [[r[c] for c in columns] for r in result.tables[name]])
            report.added[name], report.replaced[name] = len(result.tables[name]), 0
        return report
    dataset = result.file.dataset.name
    studies = {r["study"] for r in result.tables["studies"]}
    for name in TABLES:
        path = folder / schema[name]["file"]
        header, rows = _read(path)
        missing = [c for c in schema[name]["columns"] if c not in header]
        if missing:
            raise ValueError(f"{path}: header lacks {', '.join(missing)}: the folder predates the current schema")
        col = {c: j for j, c in enumerate(header)}
        stale = [
            r
            for r in rows
            if r[col["provenance_kind"]] == "dataset" and r[col["source"]] == dataset and r[col["study"]] in studies
        ]
        kept = [r for r in rows if not any(r is s for s in stale)]
        if name == "effects":
            report.made_secondary = _mark_secondary(kept, col, result.linked_samples, dataset)
        kept += [[new.get(c, "") for c in header] for new in result.tables[name]]
        _write(path, header, kept)
        report.added[name], report.replaced[name] = len(result.tables[name]), len(stale)
    return report


def _mark_secondary(rows: list[list[str]], col: dict[str, int], linked: set[str], dataset: str) -> list[str]:
    """Curated records of linked samples become secondary reports (returns their effect ids)."""
    marked = []
    for r in rows:
        if (
            r[col["sample_id"]] in linked
            and r[col["provenance_kind"]] != "dataset"
            and r[col["secondary_report"]] != "yes"
        ):
            r[col["secondary_report"]] = "yes"
            note = f"Secondary report: the trial's primary report is imported from the dataset {dataset}."
            r[col["notes"]] = (r[col["notes"]] + " " + note).strip()
            marked.append(r[col["effect_id"]])
    return marked
