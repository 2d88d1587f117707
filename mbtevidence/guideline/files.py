"""Writing the guideline figures: a 200 dpi PNG for documents and an SVG for editing, by the kit's
one figure writer :func:`mbtevidence.figures.save_figure` (byte for byte reproducible files, the
whole figure as laid out, alternative text in the file's description)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from .. import figures


def save_figure(figure: Figure, stem: Path | str) -> tuple[Path, Path]:
    """Write ``stem.png`` (200 dpi) and ``stem.svg`` with :func:`mbtevidence.figures.save_figure`.

    Parameters
    ----------
    figure : Figure
        A guideline figure (PRISMA flow, risk-of-bias traffic lights).
    stem : Path or str
        Target without suffix, e.g. ``reports/guideline/risk_of_bias``.

    Returns
    -------
    (Path, Path)
        The PNG and the SVG written.
    """
    png, svg = figures.save_figure(figure, stem, ("png", "svg"))
    return png, svg
