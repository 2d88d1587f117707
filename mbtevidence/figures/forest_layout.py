"""Where every part of a forest plot goes, in inches, from measured text.

Column widths come from the widest cell or header (capped; longer cells wrap or end in '…'),
row heights from the number of lines in the row, the figure's width and height from the sum;
nothing is placed before it is measured, so texts cannot overlap whatever the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from .forest_table import ForestTable
from .style import FONT_SIZE, MARGIN, SMALL_SIZE, TITLE_SIZE, line_height, plain, text_width, wrap_to_width

GAP = 0.16
ROW_PAD = 0.08
HEADING_LEAD = 0.1
SPAN_MIN, SPAN_MAX = 3.2, 5.0
"""Width of the text that spans the left columns (headings, pooled rows, tests): at least, and
at most before it wraps."""
AXIS_BLOCK = 0.62
FAVOURS_LINE = 0.2
LEGEND_SPACING = 1.05


@dataclass(frozen=True)
class Column:
    header: str
    align: str
    max_width: float
    max_lines: int = 1


COLUMNS = {
    "study": Column("Study", "left", 1.6),
    "arm": Column("Arm / cohort", "left", 2.3, max_lines=2),
    "setting": Column("Setting", "left", 1.3),
    "dosage": Column("Dosage\nmonths; per week", "left", 1.6),
    "fidelity": Column("Fidelity\n0–1 (as printed)", "left", 1.4),
    "n": Column("n", "right", 0.55),
    "population": Column("Analysis\npopulation", "left", 1.0),
    "estimate": Column("Estimate\n[CI]", "right", 1.6),
    "weight": Column("Weight\n(%)", "right", 0.9),
    "few_knha": Column("k < 5: REML +\nKnapp-Hartung", "right", 1.6),
    "few_adhoc": Column("k < 5: ad hoc\n(s² ≥ 1)", "right", 1.6),
    "few_bayes": Column("k < 5: Bayesian\nmedian [CrI]", "right", 1.6),
}
RIGHT_COLUMNS = ("estimate", "weight", "few_knha", "few_adhoc", "few_bayes")
"""Columns right of the plot; the others are left of it."""
DEFAULT_COLUMNS = tuple(COLUMNS)


@dataclass
class ForestLayout:
    """Positions (inches from the left and from the top) of every text and of the plot panel."""

    columns: list[str]
    headers: dict[str, str]
    x: dict[str, float]
    widths: dict[str, float]
    cells: list[dict[str, list[str]]]
    spans: list[list[str]]
    centres: list[float]
    heights: list[float]
    title: list[str]
    subtitle: list[str]
    legend: list[str]
    header_top: float
    header_height: float
    table_top: float
    table_bottom: float
    plot_left: float
    plot_width: float
    width: float
    height: float

    def text_x(self, column: str) -> float:
        """Anchor of a column's text: its left edge, or its right edge for right-aligned columns."""
        return self.x[column] + (self.widths[column] if COLUMNS[column].align == "right" else 0.0)


def headers(table: ForestTable) -> dict[str, str]:
    out = {name: column.header for name, column in COLUMNS.items()}
    out["estimate"] = f"{table.measure or 'Estimate'}\n[{table.level:g}% CI]"
    if table.grouped:
        out["weight"] = "Weight (%)\nin subgroup"
    return out


def shown_columns(table: ForestTable, columns: tuple[str, ...]) -> list[str]:
    """The requested columns that have a value in some row (setting is left out when it groups)."""
    unknown = set(columns) - set(COLUMNS)
    if unknown:
        raise ValueError(
            f"unknown forest-plot column(s) {', '.join(sorted(unknown))}: choose from {', '.join(COLUMNS)}"
        )
    hidden = {"setting"} if table.grouping is not None and table.grouping.column == "setting" else set()
    return [
        c
        for c in columns
        if c not in hidden and (c in ("study", "estimate") or any(r.cells.get(c) for r in table.rows))
    ]


def _cell_lines(text: str, column: Column) -> list[str]:
    return wrap_to_width(plain(text), column.max_width, FONT_SIZE, column.max_lines) if text else []


def forest_layout(
    table: ForestTable, columns: list[str], plot_width: float, legend: list[str], favours: bool
) -> ForestLayout:
    """Measure and place the table, the plot panel, the axis words and the legend."""
    names = headers(table)
    cells = [{c: _cell_lines(r.cells.get(c, ""), COLUMNS[c]) for c in columns} for r in table.rows]
    widths = {
        c: max(
            [text_width(line, FONT_SIZE, "bold") for line in names[c].split("\n")]
            + [text_width(line) for row in cells for line in row[c]]
        )
        for c in columns
    }
    left = [c for c in columns if c not in RIGHT_COLUMNS]
    left_span = sum(widths[c] for c in left) + GAP * (len(left) - 1)
    spanning = max((text_width(r.text, FONT_SIZE, "bold") for r in table.rows if r.text), default=0.0)
    span = max(left_span, min(spanning, SPAN_MAX), SPAN_MIN)
    widths[left[0]] += span - left_span  # the study column takes the room the spanning text needs
    x, positions = MARGIN, {}
    for c in left:
        positions[c], x = x, x + widths[c] + GAP
    plot_left, x = x, x + plot_width + GAP
    for c in columns:
        if c in RIGHT_COLUMNS:
            positions[c], x = x, x + widths[c] + GAP
    width = x - GAP + MARGIN
    spans = [
        wrap_to_width(plain(r.text), span, SMALL_SIZE if r.kind == "heterogeneity" else FONT_SIZE) if r.text else []
        for r in table.rows
    ]
    full = width - 2 * MARGIN
    title = wrap_to_width(plain(table.title), full, TITLE_SIZE)
    subtitle = wrap_to_width(plain(table.subtitle), full, FONT_SIZE)
    header_top = MARGIN + len(title) * line_height(TITLE_SIZE) + len(subtitle) * line_height(FONT_SIZE) + 0.12
    header_height = 2 * line_height(FONT_SIZE) + 0.06
    table_top = header_top + header_height + 0.04
    centres, heights, y = [], [], table_top
    for i, (r, row_cells, span_lines) in enumerate(zip(table.rows, cells, spans, strict=True)):
        lines = max([len(v) for v in row_cells.values()] + [len(span_lines), 1])
        lead = HEADING_LEAD if r.kind == "heading" and i > 0 else 0.0
        height = lines * line_height(SMALL_SIZE if r.kind == "heterogeneity" else FONT_SIZE) + ROW_PAD + lead
        centres.append(y + lead + (height - lead) / 2 - table_top)
        heights.append(height)
        y += height
    legend_lines = [line for note in legend for line in wrap_to_width(plain(note), full, SMALL_SIZE)]
    axis_block = AXIS_BLOCK + (FAVOURS_LINE if favours else 0.0)
    total = y + axis_block + len(legend_lines) * line_height(SMALL_SIZE) * LEGEND_SPACING + MARGIN
    return ForestLayout(
        columns=columns,
        headers=names,
        x=positions,
        widths=widths,
        cells=cells,
        spans=spans,
        centres=centres,
        heights=heights,
        title=title,
        subtitle=subtitle,
        legend=legend_lines,
        header_top=header_top,
        header_height=header_height,
        table_top=table_top,
        table_bottom=y,
        plot_left=plot_left,
        plot_width=plot_width,
        width=width,
        height=total,
    )
