"""Writing the guideline figures: a 200 dpi PNG for documents and an SVG for editing."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

PNG_DPI = 200


def save_figure(figure: Figure, stem: Path | str) -> tuple[Path, Path]:
    """Write ``stem.png`` (200 dpi) and ``stem.svg``; returns both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    figure.savefig(png, dpi=PNG_DPI, bbox_inches="tight", facecolor="white")
    figure.savefig(svg, bbox_inches="tight", facecolor="white")
    return png, svg
