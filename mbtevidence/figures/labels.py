"""Readable cells and groupings for the rows of a synthesis (``EvidenceSynthesis.rows``).

Rows carry the record's study and arm with the arm's programme attributes (setting, dosage,
fidelity) and the study's reference and year; this module turns them into what a reader needs:
"Bales 2017" instead of ``Bales2017reorg``, "Day hospital" instead of ``day_hospital``, the dosage
and implementation quality in one short cell each, and the groupings of the forest plot.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..engine import TestResult
from ..engine.model import factor_order
from .style import (
    DOSAGE_BAND_COLUMN,
    DOSAGE_BAND_STATEMENT,
    DOSAGE_BANDS,
    FIDELITY_LEVELS,
    FIDELITY_STATEMENT,
    NOT_REPORTED,
    PERIOD_LABELS,
    PERIOD_STATEMENT,
    POPULATION_LABELS,
    SETTING_LABELS,
    code_label,
)

DOSAGE_ABBREVIATIONS = (
    "Dosage: months of treatment planned (mean months received); per week: h hours, d days, "
    "ind/grp individual/group sessions."
)
NAMED_GROUPINGS = ("setting", "dosage_band", "fidelity_level", "period")


def present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and not pd.isna(value)


def _number(value: Any) -> str:
    return f"{round(float(value), 2):g}"


def author_year(reference: Any, year: Any, study: str) -> str:
    """'Surname year' from a reference ('Löf J, Clinton D...' -> 'Löf 2018'); else from a study id
    such as ``Bales2017reorg`` ('Bales 2017'); else the study id itself."""
    year_text = f" {int(float(year))}" if present(year) else ""
    if present(reference):
        match = re.match(r"\s*([^\W\d_][\w'’-]*)", str(reference))
        if match:
            return match.group(1) + year_text
    match = re.match(r"([^\W\d_]+?)(\d{4})", study)
    return f"{match.group(1)} {match.group(2)}" if match else study


def study_labels(rows: pd.DataFrame, label: str = "study") -> pd.Series:
    """The study column: author and year (``label="study"``), or the values of another column.
    Different studies that would read alike get a, b, ... ('Bales 2017a', 'Bales 2017b')."""
    if label != "study":
        return rows[label].astype(str)
    get = lambda column: rows[column] if column in rows else pd.Series(None, index=rows.index, dtype=object)
    names = pd.Series(
        [author_year(r, y, str(s)) for r, y, s in zip(get("reference"), get("year"), rows["study"], strict=True)],
        index=rows.index,
    )
    for name, studies in rows.groupby(names)["study"]:
        distinct = sorted(studies.astype(str).unique())
        if len(distinct) > 1:
            suffix = {s: chr(ord("a") + i) for i, s in enumerate(distinct)}
            names[studies.index] = [f"{name}{suffix[str(s)]}" for s in studies]
    return names


def row_names(rows: pd.DataFrame, names: pd.Series) -> pd.Series:
    """Study label per row, with the arm code where a study has several rows ('Bales 2017 REORG')."""
    repeated = rows["study"].duplicated(keep=False)
    arms = rows["arm"].astype(str) if "arm" in rows else pd.Series(range(len(rows)), index=rows.index).astype(str)
    return names.where(~repeated, names + " " + arms)


def arm_text(row: pd.Series) -> str:
    """The arm or cohort as the source names it (arms.csv ``label``), else its code."""
    for column in ("label", "arm"):
        if present(row.get(column)):
            return str(row[column])
    return ""


def dosage_text(row: pd.Series) -> str:
    """Months planned (mean received) and the weekly intensity, e.g. '18 mo (17); 1 ind/wk'."""
    parts = []
    planned, received = row.get("planned_duration_months"), row.get("months_received_mean")
    if present(planned):
        parts.append(f"{_number(planned)} mo" + (f" ({_number(received)})" if present(received) else ""))
    elif present(received):
        parts.append(f"({_number(received)} mo)")
    if present(row.get("hours_per_week")):
        parts.append(f"{_number(row['hours_per_week'])} h/wk")
    elif present(row.get("days_per_week")):
        parts.append(f"{_number(row['days_per_week'])} d/wk")
    else:
        sessions = [
            f"{_number(row[c])} {short}"
            for c, short in (("individual_sessions_per_week", "ind"), ("group_sessions_per_week", "grp"))
            if present(row.get(c))
        ]
        if sessions:
            parts.append(" + ".join(sessions) + "/wk")
    return "; ".join(parts)


def printed_scale(scale_text: object) -> str | None:
    """The range of a fidelity scale as printed in ``fidelity_scale`` ('... 1-7 ...' -> '1–7')."""
    if not present(scale_text):
        return None
    match = re.search(r"(?<![\d.])(\d{1,2})\s*[-–]\s*(\d{1,3})(?![\d.])", str(scale_text))
    return f"{match.group(1)}–{match.group(2)}" if match else None


def fidelity_printed(row: pd.Series) -> str:
    """The fidelity rating as printed with its scale, e.g. '6.1 on 1–7'; '' when none."""
    rating = row.get("fidelity_rating")
    if not present(rating):
        return ""
    scale = printed_scale(row.get("fidelity_scale"))
    return f"{_number(rating)} on {scale}" if scale else _number(rating)


def fidelity_text(row: pd.Series) -> str:
    """Fidelity on 0–1 and as printed, e.g. '0.85 (6.1 on 1–7)'; '–' where no 0–1 value exists."""
    rescaled, printed = row.get("fidelity_0_1"), fidelity_printed(row)
    if present(rescaled):
        return f"{float(rescaled):.2f}" + (f" ({printed})" if printed else "")
    return f"– ({printed})" if printed else ""


def number(value: float, digits: int = 2) -> str:
    """A number with a true minus sign ('−0.41'); '–' when missing."""
    return "–" if not present(value) or not math.isfinite(value) else f"{value:.{digits}f}".replace("-", "−")


def p_text(p: float) -> str:
    """'p = 0.04', 'p < 0.001' (no-break spaces: a line never ends inside it)."""
    return "p\u00a0<\u00a00.001" if p < 0.001 else f"p\u00a0=\u00a0{p:.3f}" if p < 0.01 else f"p\u00a0=\u00a0{p:.2f}"


def statistic_text(test: TestResult) -> str:
    """'Q(1) = 0.29, p = 0.59' or 'F(1, 2) = 0.29, p = 0.64'."""
    df = f"{test.df1:g}" if not math.isfinite(test.df2) else f"{test.df1:g},\u00a0{test.df2:g}"
    return f"{test.statistic}({df})\u00a0=\u00a0{number(test.value)}, {p_text(test.p)}"


def interval_text(estimate: float, low: float, high: float, exp: bool = False) -> str:
    """'0.89 [0.51, 1.27]'; back-transformed with exp for ratio measures; '[low, high]' alone
    when ``estimate`` is NaN (prediction intervals)."""
    values = [math.exp(x) if exp and present(x) else x for x in (estimate, low, high)]
    bracket = f"[{number(values[1])}, {number(values[2])}]"
    return bracket if not present(estimate) else f"{number(values[0])} {bracket}"


def population_text(row: pd.Series) -> str:
    value = row.get("analysis_population")
    return code_label(value, POPULATION_LABELS) if present(value) else ""


def n_text(row: pd.Series) -> str:
    """The n behind the estimate; '≤ 34' when only an upper bound is printed (``n_bound``)."""
    if not present(row.get("n")):
        return ""
    return ("≤ " if bool(row.get("n_bound", False)) else "") + f"{float(row['n']):.0f}"


@dataclass(frozen=True)
class Grouping:
    """Subgroup of every row, the order and words of the subgroups, and how they were formed."""

    name: str
    """The grouping asked for: setting, dosage_band, fidelity_level, period or a column."""
    column: str
    keys: pd.Series
    order: list[str]
    labels: dict[str, str]
    statement: str
    closed: bool = True
    """The groups are a fixed vocabulary or set of bands (not the values found in a column)."""

    def label(self, key: str) -> str:
        return self.labels.get(key, code_label(key))


def _bands(values: pd.Series, bands: tuple[tuple[float, str], ...]) -> pd.Series:
    def band(value: Any) -> str:
        if not present(value):
            return NOT_REPORTED
        return next(name for upper, name in bands if float(value) <= upper)

    return values.map(band)


def grouping(rows: pd.DataFrame, group_by: str) -> Grouping:
    """Subgroups of ``rows`` by setting, dosage band, fidelity level, period, or any other column.

    Bands (stated in the figure): dosage by planned months (``style.DOSAGE_BANDS``), fidelity by
    the rescaled total (``style.FIDELITY_LEVELS``), period by ``organisational_stability``.
    Missing values form a last group, "not reported".
    """
    if group_by == "dosage_band":
        column, names = DOSAGE_BAND_COLUMN, [name for _, name in DOSAGE_BANDS]
        keys = _bands(rows.get(column, pd.Series(np.nan, index=rows.index)), DOSAGE_BANDS)
        labels = {name: f"Planned {name}" for name in names} | {NOT_REPORTED: "Planned duration not reported"}
        return Grouping(group_by, column, keys, [*names, NOT_REPORTED], labels, DOSAGE_BAND_STATEMENT)
    if group_by == "fidelity_level":
        names = [name for _, name in FIDELITY_LEVELS]
        keys = _bands(rows.get("fidelity_0_1", pd.Series(np.nan, index=rows.index)), FIDELITY_LEVELS)
        labels = {name: name for name in names} | {NOT_REPORTED: "Fidelity not rated on a total scale"}
        return Grouping(group_by, "fidelity_0_1", keys, [*names, NOT_REPORTED], labels, FIDELITY_STATEMENT)
    if group_by == "period":
        keys = rows.get("organisational_stability", pd.Series(None, index=rows.index, dtype=object))
        keys = keys.where(keys.notna(), NOT_REPORTED).astype(str)
        return Grouping(
            group_by, "organisational_stability", keys, list(PERIOD_LABELS), PERIOD_LABELS, PERIOD_STATEMENT
        )
    if group_by not in rows:
        raise ValueError(
            f"group_by={group_by!r}: choose {', '.join(NAMED_GROUPINGS)}, None, or a column of synthesis.rows"
        )
    keys = rows[group_by].where(rows[group_by].notna(), NOT_REPORTED).astype(str)
    if group_by == "setting":
        return Grouping(group_by, "setting", keys, list(SETTING_LABELS), SETTING_LABELS, "")
    order = sorted(set(keys) - {NOT_REPORTED}, key=factor_order) + [NOT_REPORTED]
    return Grouping(group_by, group_by, keys, order, {NOT_REPORTED: "Not reported"}, "", closed=False)
