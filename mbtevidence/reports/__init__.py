"""The report set: parameterised notebooks executed by papermill, rendered to HTML, PDF and an index.

* :mod:`~mbtevidence.reports.parameters` — the notebooks' parameters and their check (shared
  with ``mbtevidence render -p``);
* :mod:`~mbtevidence.reports.selection`, :mod:`~mbtevidence.reports.overview`,
  :mod:`~mbtevidence.reports.implementation`, :mod:`~mbtevidence.reports.robustness` — what the
  notebooks compute, by calling the engine and the synthesis;
* :mod:`~mbtevidence.reports.tables`, :mod:`~mbtevidence.reports.display` — readable tables,
  sentences and the headline;
* :mod:`~mbtevidence.reports.grid` (``notebooks/reports.yaml``), :mod:`~mbtevidence.reports.render`,
  :mod:`~mbtevidence.reports.job`, :mod:`~mbtevidence.reports.html`, :mod:`~mbtevidence.reports.pdf`,
  :mod:`~mbtevidence.reports.index`, :mod:`~mbtevidence.reports.stamp` — the render command.
"""

from ..paths import NOTEBOOKS_DIR
from .grid import GRID_FILE, load_grid, report_notebooks
from .parameters import ParameterError, ReportOptions, check

REPORT_NOTEBOOKS = report_notebooks()
"""The notebooks of the report set (``notebooks/reports.yaml``), each once."""

__all__ = ["GRID_FILE", "NOTEBOOKS_DIR", "REPORT_NOTEBOOKS", "ParameterError", "ReportOptions", "check", "load_grid"]
