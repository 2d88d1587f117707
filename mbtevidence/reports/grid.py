"""The report set: ``notebooks/reports.yaml`` lists every report ``mbtevidence render`` writes.

One entry per report::

    - name: settings-symptom-severity        # output file stem, unique
      notebook: 02_settings.ipynb            # notebook beside the grid file
      title: "Settings: symptom severity"    # page title
      parameters:                            # values for the notebook's parameters cell
        outcome_construct: symptom_severity

Parameters not given keep the notebook's defaults.  Every problem of the file is one line
naming the entry and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from ..paths import NOTEBOOKS_DIR
from .parameters import ParameterError, check

GRID_FILE = NOTEBOOKS_DIR / "reports.yaml"
ENTRY_KEYS = {"name", "notebook", "title", "parameters"}
RENDER_PARAMETERS = ("evidence_dir", "seeds_dir", "validated_hash")
"""Set by the render command for every report, never in the grid."""


class GridError(ValueError):
    """A problem in ``notebooks/reports.yaml`` (one line)."""


@dataclass(frozen=True)
class ReportSpec:
    """One report of the set."""

    name: str
    notebook: str
    title: str
    parameters: dict[str, object] = field(default_factory=dict)
    folder: Path = NOTEBOOKS_DIR
    """Folder of the grid file; ``notebook`` is relative to it."""

    @property
    def path(self) -> Path:
        return self.folder / self.notebook


@lru_cache(maxsize=32)
def declared_parameters(notebook: Path) -> dict[str, object]:
    """The parameters a notebook declares in its ``parameters`` cell, with their defaults."""
    import papermill

    found = papermill.inspect_notebook(str(notebook))
    defaults = {}
    for name, spec in found.items():
        try:
            defaults[name] = yaml.safe_load(spec["default"]) if spec["default"] != "None" else None
        except yaml.YAMLError:
            defaults[name] = spec["default"]
    return defaults


def _entry(number: int, entry: object, source: Path) -> ReportSpec:
    where = f"{source.name}: entry {number}"
    if not isinstance(entry, dict):
        raise GridError(f"{where} is not a mapping of name, notebook, title, parameters")
    where += f" ({entry.get('name', 'no name')})"
    unknown = set(entry) - ENTRY_KEYS
    if unknown:
        raise GridError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(ENTRY_KEYS))}"
        )
    for key in ("name", "notebook", "title"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise GridError(f"{where}: {key} is missing or not a text")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", entry["name"]) or entry["name"] == "index":
        raise GridError(f"{where}: name must be letters, digits, '-', '_' or '.' (and not 'index')")
    notebook = source.parent / entry["notebook"]
    if not notebook.is_file():
        raise GridError(f"{where}: notebook {entry['notebook']} not found beside {source.name}")
    parameters = entry.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise GridError(f"{where}: parameters must be a mapping of name: value")
    declared = declared_parameters(notebook)
    for name in parameters:
        if name in RENDER_PARAMETERS or name not in declared:
            raise GridError(
                f"{where}: parameter {name} is not one the grid can set for {entry['notebook']}; it declares "
                + ", ".join(n for n in declared if n not in RENDER_PARAMETERS)
            )
    try:
        check(**parameters)
    except ParameterError as exc:
        raise GridError(f"{where}: {exc}") from None
    return ReportSpec(entry["name"], entry["notebook"], entry["title"], dict(parameters), source.parent)


def load_grid(path: Path = GRID_FILE) -> list[ReportSpec]:
    """The reports of the set, in file order.

    Raises
    ------
    GridError
        For a missing file, bad YAML, an unknown key, a missing notebook, a parameter the
        notebook does not declare or a value it does not allow, or a name used twice.
    """
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise GridError(f"{Path(path).name}: cannot read the report set ({str(exc).splitlines()[0]})") from None
    entries = loaded.get("reports") if isinstance(loaded, dict) else None
    if not isinstance(entries, list) or not entries:
        raise GridError(f"{Path(path).name}: needs a list 'reports:' with at least one entry")
    specs = [_entry(i + 1, entry, Path(path)) for i, entry in enumerate(entries)]
    names = [s.name for s in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise GridError(f"{Path(path).name}: report name(s) used twice: {', '.join(repeated)}")
    return specs


def report_notebooks(path: Path = GRID_FILE) -> tuple[str, ...]:
    """The notebooks of the report set, each once, in file order."""
    loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return tuple(dict.fromkeys(entry["notebook"] for entry in loaded["reports"]))


__all__ = ["GRID_FILE", "GridError", "ReportSpec", "declared_parameters", "load_grid", "report_notebooks"]
