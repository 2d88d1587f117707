"""Write a figure as PNG (200 dpi), SVG and PDF, byte for byte the same for the same figure.

Reproducible bytes: the SVG ids use a fixed salt (``svg.hashsalt``), and no creation date is
written into SVG or PDF metadata; the figure's alternative text goes into each file's
description (PNG ``Description``, SVG ``dc:description``, PDF ``Subject``).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from .style import ALT_TEXT_ATTRIBUTE, DPI, figure_style

FORMATS = ("png", "svg", "pdf")


def _metadata(fmt: str, description: str) -> dict[str, str | None]:
    if fmt == "png":
        return {"Description": description} if description else {}
    if fmt == "svg":
        return {"Date": None, "Description": description or None}
    return {"CreationDate": None, "ModDate": None, "Subject": description or None}


def save_figure(fig: Figure, path: str | Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Save ``fig`` under ``path`` (its suffix is replaced) in each of ``formats``.

    Parameters
    ----------
    fig : Figure
        A figure of :mod:`mbtevidence.figures` (or any matplotlib figure).
    path : str or Path
        Target without or with a suffix, e.g. ``reports/figures/forest_setting``.
    formats : tuple of str
        Any of ``"png"`` (200 dpi), ``"svg"``, ``"pdf"``.

    Returns
    -------
    list of Path
        The files written, in the order of ``formats``.
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown figure format(s) {', '.join(sorted(unknown))}: choose from {', '.join(FORMATS)}")
    stem = Path(path)
    stem = stem.with_suffix("") if stem.suffix.lstrip(".") in FORMATS else stem
    stem.parent.mkdir(parents=True, exist_ok=True)
    description = getattr(fig, ALT_TEXT_ATTRIBUTE, "")
    written = []
    with figure_style():
        for fmt in formats:
            target = stem.with_name(f"{stem.name}.{fmt}")
            fig.savefig(target, format=fmt, dpi=DPI, metadata=_metadata(fmt, description))
            written.append(target)
    return written
