"""What a report notebook shows: tables without indices or truncation, notes, warnings, the headline.

The functions display through IPython (in JupyterLab, in papermill, in the HTML page) and
return nothing; they never compute a result.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path

import pandas as pd

HEADLINE_KEY = "mbtevidence"
"""Output metadata key under which :func:`headline` records a report's headline."""
REPORT_DIR_ENV = "MBTEVIDENCE_REPORT_DIR"
"""Set by ``mbtevidence render`` for the kernel: the folder the report is written to."""


def setup() -> None:
    """Report display settings: nothing truncated, figures as PNG."""
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_rows", 500)
    pd.set_option("display.max_columns", 60)
    pd.set_option("display.width", 200)
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # outside a kernel with the inline backend: nothing to configure
        return
    set_matplotlib_formats("png")


def _display(html_text: str, metadata: dict | None = None) -> None:
    from IPython.display import HTML, display

    display(HTML(html_text), metadata=metadata or {})


NUMBER_STYLE = "text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums"
TEXT_STYLE = "text-align:left"


def _cell(value: object) -> tuple[str, bool]:
    """Cell text and whether it is a number (or an interval, a percentage, a dash)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "–", True
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}" if isinstance(value, int) else f"{value:.2f}", True
    text = str(value)
    numeric = text.replace(" to ", "").replace("%", "").replace(".", "").replace(" of ", "").replace(" ", "")
    return html.escape(text), text == "–" or numeric.lstrip("-−<>").isdigit()


def table_html(frame: pd.DataFrame, caption: str | None = None) -> str:
    """An HTML table: every row and column, no index; text left, numbers right (inline styles, so the
    table reads the same in JupyterLab and in the report page)."""
    cells = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    numeric_columns = [all(c[i][1] for c in cells) for i in range(len(frame.columns))]
    head = "".join(
        f'<th style="{NUMBER_STYLE if n else TEXT_STYLE}">{html.escape(str(c))}</th>'
        for c, n in zip(frame.columns, numeric_columns, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="{NUMBER_STYLE if n else TEXT_STYLE}">{text}</td>'
            for (text, _), n in zip(row, numeric_columns, strict=True)
        )
        + "</tr>"
        for row in cells
    )
    title = f'<caption style="{TEXT_STYLE}">{html.escape(caption)}</caption>' if caption else ""
    return f'<table class="mbt-table">{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def fold_constant(frame: pd.DataFrame, caption: str | None, columns: list[str]) -> tuple[pd.DataFrame, str | None]:
    """Move ``columns`` whose value is the same in every row into the caption ('Study: Bales 2017')."""
    constant = [c for c in columns if c in frame and len(frame) > 1 and frame[c].astype(str).nunique() == 1]
    if not constant:
        return frame, caption
    said = "; ".join(f"{c}: {frame[c].iloc[0]}" for c in constant)
    return frame.drop(columns=constant), f"{caption} ({said})" if caption else said


def show(
    frame: pd.DataFrame,
    caption: str | None = None,
    note: str | None = None,
    fold: list[str] | None = None,
    empty: str | None = None,
) -> None:
    """Display a readable table (and a note under it); ``fold`` columns that are constant go into the
    caption; an empty table shows the sentence ``empty`` (or nothing)."""
    if frame.empty:
        if empty:
            say(empty)
        return
    frame, caption = fold_constant(frame, caption, fold or [])
    _display(table_html(frame, caption) + (f'<p class="mbt-note">{html.escape(note)}</p>' if note else ""))


def say(text: str) -> None:
    """A sentence of the report computed from the results."""
    _display(f"<p>{html.escape(text)}</p>")


def note(text: str) -> None:
    """A smaller explanatory note."""
    _display(f'<p class="mbt-note">{html.escape(text)}</p>')


def warn(text: str) -> None:
    """Something the reader must not miss (a choice a result hinges on, a too-small k)."""
    _display(f'<div class="mbt-warning">⚠ {html.escape(text)}</div>')


def headline(text: str, **numbers: float | int | str | None) -> None:
    """The report's main result in one line; recorded for ``reports/index.html`` and the tests.

    The text and the numbers travel in the output's metadata (key ``mbtevidence``), so the
    index is built from the executed notebook without any extra file.
    """
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in numbers.items()}
    _display(
        f'<div class="mbt-headline"><strong>Headline.</strong> {html.escape(text)}</div>',
        metadata={HEADLINE_KEY: {"headline": {"text": text, "numbers": clean}}},
    )


def report_folder() -> Path | None:
    """The folder ``mbtevidence render`` writes this report to (None when run by hand): extra files a
    notebook writes there (tables, documents) become part of the report set; name them relative to it."""
    value = os.environ.get(REPORT_DIR_ENV)
    return Path(value) if value else None


def figure(fig: object) -> None:
    """Show a matplotlib figure once, as drawn (no tight cropping: the figures lay themselves out
    in inches) and with its alternative text on the image; then close it."""
    import base64
    import html
    import io

    import matplotlib.pyplot as plt
    from IPython.display import HTML, display

    from ..figures.style import DPI, figure_alt_text

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)  # type: ignore[attr-defined]
    try:
        alt = figure_alt_text(fig)  # type: ignore[arg-type]
    except ValueError:
        alt = "Figure"
    width = round(fig.get_figwidth() * 96)  # type: ignore[attr-defined]
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    display(
        HTML(
            f'<img alt="{html.escape(alt)}" width="{width}" style="max-width: 100%; height: auto" '
            f'src="data:image/png;base64,{data}">'
        )
    )
    plt.close(fig)  # type: ignore[arg-type]


__all__ = ["figure", "headline", "note", "report_folder", "say", "setup", "show", "table_html", "warn"]
