"""Evidence record -> effect size: each data block converted with one escalc measure.

============== ========= ============================================================================
block          measure   how
============== ========= ============================================================================
prepost        SMCR      (mean_post - mean_pre) / sd_pre, Hedges-corrected; v = 2(1-r)/n + g²/(2n)
two_arm_means  SMD       Hedges' g of arm 1 vs arm 2
two_arm_events RR        log risk ratio of arm 1 vs arm 2
proportion     PLO       logit of events / n (never oriented)
reported       SMCR/SMCC a printed within-group d or g (SMCR variance) or paired t (SMCC); a printed
               /SMD      between-group d, g or t with both arm n (SMD)
============== ========= ============================================================================

Orientation: **positive = improvement** (or arm 1 better).  Standardised mean changes and
differences and log risk ratios are multiplied by -1 when lower scores are better, or when a
printed positive value means deterioration.  r is the record's printed ``ri`` where given, else
:data:`DEFAULT_PREPOST_CORRELATION`.  Where a wave's n is not printed and the record gives only a
bound (``n_upper``), the bound is used and the record is marked ``n_bound=True``: its variance is
then a lower bound, so the synthesis prefers records with a printed n and marks bound ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..engine.effect_sizes import escalc, hedges_correction
from .schema import filled_blocks, load_schema

DEFAULT_PREPOST_CORRELATION = 0.5
"""Pre-post correlation assumed when a report prints none (Cochrane Handbook §6.5.2.8 examples;
Rosenthal 1991).  :func:`mbtevidence.synthesis.correlation_sweep` shows how results move with it."""

DESIGN_OF_BLOCK = {
    "prepost": "within",
    "two_arm_means": "between",
    "two_arm_events": "between",
    "proportion": "proportion",
}


def _n(row: pd.Series, column: str) -> float:
    value = row.get(column)
    if value is None or pd.isna(value):
        bound = row.get("n_upper")
        return np.nan if bound is None or pd.isna(bound) else float(bound)
    return float(value)


def _one(measure: str, **args: Any) -> tuple[str, float, float]:
    out = escalc(measure, **{k: [np.nan if v is None or pd.isna(v) else float(v)] for k, v in args.items()})
    return measure, float(out.yi[0]), float(out.vi[0])


def _prepost(row: pd.Series, ri: float) -> tuple[str, float, float]:
    return _one("SMCR", m1i=row.mean_post, m2i=row.mean_pre, sd1i=row.sd_pre, ni=_n(row, "n_post"), ri=ri)


def _two_arm_means(row: pd.Series, ri: float) -> tuple[str, float, float]:
    return _one(
        "SMD", m1i=row.mean_arm1, sd1i=row.sd_arm1, n1i=row.n_arm1, m2i=row.mean_arm2, sd2i=row.sd_arm2, n2i=row.n_arm2
    )


def _two_arm_events(row: pd.Series, ri: float) -> tuple[str, float, float]:
    return _one("RR", ai=row.event_arm1, n1i=row.totaln_arm1, ci=row.event_arm2, n2i=row.totaln_arm2)


def _proportion(row: pd.Series, ri: float) -> tuple[str, float, float]:
    if pd.isna(row.prop_events):
        raise ValueError("only a percentage is printed: the count is not derived from it")
    return _one("PLO", xi=row.prop_events, ni=_n(row, "prop_n"))


def _reported(row: pd.Series, ri: float) -> tuple[str, float, float]:
    metric, design = row.precalc_metric, row.precalc_design
    if design == "within" and metric in ("d", "g"):
        n = _n(row, "precalc_n")
        d = row.precalc_es if metric == "d" else row.precalc_es / hedges_correction(n - 1)
        return _one("SMCR", di=d, ni=n, ri=ri)
    if design == "within" and metric == "t":
        return _one("SMCC", ti=row.precalc_es, ni=_n(row, "precalc_n"))
    if design == "between" and metric in ("d", "g", "t") and not pd.isna(row.precalc_n_arm2):
        n1, n2 = row.precalc_n_arm1, row.precalc_n_arm2
        d = {
            "d": row.precalc_es,
            "g": row.precalc_es / hedges_correction(n1 + n2 - 2),
            "t": row.precalc_es * np.sqrt(1 / n1 + 1 / n2),
        }[metric]
        return _one("SMD", di=d, n1i=n1, n2i=n2)
    raise ValueError(f"a reported {metric} ({design}) is not converted to a standardised effect")


CONVERTERS = {
    "prepost": _prepost,
    "two_arm_means": _two_arm_means,
    "two_arm_events": _two_arm_events,
    "proportion": _proportion,
    "reported": _reported,
}
N_COLUMNS = {
    "prepost": ("n_post",),
    "two_arm_means": ("n_arm1", "n_arm2"),
    "two_arm_events": ("totaln_arm1", "totaln_arm2"),
    "proportion": ("prop_n",),
}


def data_block(row: pd.Series, schema: dict | None = None) -> str:
    """Which data block a typed effect record fills (read from the schema, as the validator does)."""
    blocks = filled_blocks(row, schema)
    if len(blocks) != 1:
        raise ValueError(f"record {row.get('effect_id')} fills {blocks or 'no'} data blocks; exactly one is needed")
    return blocks[0]


def record_n(row: pd.Series, block: str) -> tuple[float, bool]:
    """Patients behind a record's effect size (both arms for comparisons), and whether it is a bound."""
    columns: tuple[str, ...]
    if block == "reported":
        columns = ("precalc_n",) if not pd.isna(row.get("precalc_n")) else ("precalc_n_arm1", "precalc_n_arm2")
    else:
        columns = N_COLUMNS[block]
    values = [row.get(c) for c in columns]
    if all(v is None or pd.isna(v) for v in values):
        bound = row.get("n_upper")
        if bound is not None and not pd.isna(bound):
            return float(bound), True
        return np.nan, False
    return float(sum(0 if v is None or pd.isna(v) else v for v in values)), False


def evidence_effect_sizes(records: pd.DataFrame, ri: float = DEFAULT_PREPOST_CORRELATION) -> pd.DataFrame:
    """Effect sizes of evidence records (``Evidence.records``), oriented positive = improvement.

    Parameters
    ----------
    records : DataFrame
        Typed effect records (with study and arm columns joined).
    ri : float
        Pre-post correlation for records that print none (0 <= ri < 1).

    Returns
    -------
    DataFrame
        ``records`` plus ``block``, ``design`` (within / between / proportion), ``measure``, ``yi``,
        ``vi``, ``n`` (patients behind the estimate), ``n_bound`` (n is an upper bound) and
        ``es_note`` (why a record has no effect size).
    """
    if not 0 <= ri < 1:
        raise ValueError(
            f"prepost correlation ri={ri!r} must be in [0, 1): a pre-post correlation of 1 or more "
            f"gives zero or negative variances, and a negative one is not plausible for repeated measures"
        )
    schema = load_schema()
    out = records.copy()
    rows = []
    for _, row in records.iterrows():
        block = data_block(row, schema)
        r = row.get("ri")
        r = ri if r is None or pd.isna(r) else float(r)
        try:
            measure, yi, vi = CONVERTERS[block](row, r)
            note = (
                "" if np.isfinite(yi) and np.isfinite(vi) and vi > 0 else "no finite effect size from the printed data"
            )
        except ValueError as exc:
            measure, yi, vi, note = None, np.nan, np.nan, str(exc)
        if note:
            yi, vi = np.nan, np.nan
        design = row.precalc_design if block == "reported" else DESIGN_OF_BLOCK[block]
        if measure in ("SMCR", "SMCC", "SMD", "RR"):
            worse_if_positive = (
                (row.precalc_positive == "deterioration") if block == "reported" else bool(row.lower_is_better)
            )
            if worse_if_positive:
                yi = -yi
        n, bound = record_n(row, block)
        rows.append((block, design, measure, yi, vi, n, bound, note))
    columns = ["block", "design", "measure", "yi", "vi", "n", "n_bound", "es_note"]
    out[columns] = pd.DataFrame(rows, index=records.index, columns=columns)
    return out
