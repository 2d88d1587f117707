"""Effect sizes as metapsyTools computes them, and their agreement with a file's ``.``-columns.

The released Metapsy databases were built with metapsyTools ``calculateEffectSizes()`` up to
version 1.0.13: Hedges' g from R's esc package (``esc_mean_sd``, ``esc_2x2``; Lüdecke 2019, after
Lipsey & Wilson 2001) and the log risk ratio by hand (``rr.binary``).  One formula per row type:

=========  ============================================  ============================================
row        g                                             SE of g
=========  ============================================  ============================================
msd        J d,  d = (m1 - m2) / s_pooled                sqrt((n1 + n2) / (n1 n2) + d² / (2 (n1 + n2)))
change     as msd, on the change means, SDs and n        as msd
dich       -J ln(OR) √3 / π,  OR = a d / (b c)           sqrt((1/a + 1/b + 1/c + 1/d) 3 / π²)
precalc    precalc_g (forwarded)                         precalc_g_se
=========  ============================================  ============================================

with J = 1 - 3 / (4N - 9), N = n1 + n2 (dich: the sum of the four cells), and
log RR = ln[(a / n1) / (c / n2)], SE = sqrt(1/a + 1/c - 1/n1 - 1/n2) on dich rows.

This is not metafor's SMD (nor :func:`mbtevidence.escalc`'s): J is Hedges' approximation instead
of the exact Γ ratio, and the variance is that of Cohen's d (d, not g, in it; not multiplied by
J²).  The difference is a few thousandths of g in trials of 20 per arm; the database's values
are reproduced exactly only with these formulas, so they live here, not in the generic engine.
Dich rows convert the log odds ratio to a standardised difference (Hasselblad & Hedges 1995;
Chinn 2000) and negate it: fewer events in arm 1 give a positive g, the opposite sign of
``.log_rr``.  Zero events (metapsyTools ``cc = 0.5``): when an event count is 0, 0.5 is added to
all four cells for g and to both events and both totals for the log RR (metapsyTools 1.0.14
replaced this by the treatment-arm correction of Sweeting et al. 2004; the released databases
predate it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .reading import MetapsyFile

TOLERANCE = 1e-3
"""Recomputed and published values agree when they differ by at most this (absolute)."""
PUBLISHED = {"g": ".g", "g_se": ".g_se", "log_rr": ".log_rr", "log_rr_se": ".log_rr_se"}
CONTINUITY = 0.5


def _hedges_j(total: float) -> float:
    return 1 - 3 / (4 * total - 9)


def _from_means(row: pd.Series, suffix: str) -> tuple[float, float, str]:
    m1, m2 = row[f"mean{suffix}_arm1"], row[f"mean{suffix}_arm2"]
    s1, s2 = row[f"sd{suffix}_arm1"], row[f"sd{suffix}_arm2"]
    n1, n2 = row[f"n{suffix}_arm1"], row[f"n{suffix}_arm2"]
    missing = [c for c, v in zip(("mean", "sd", "n"), (m1 + m2, s1 + s2, n1 + n2), strict=True) if math.isnan(v)]
    if missing:
        return math.nan, math.nan, f"{'/'.join(missing)} of an arm missing"
    if n1 + n2 <= 2:
        return math.nan, math.nan, "fewer than 3 patients: no pooled SD"
    pooled = math.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2))
    d = (m1 - m2) / pooled
    return _hedges_j(n1 + n2) * d, math.sqrt((n1 + n2) / (n1 * n2) + d * d / (2 * (n1 + n2))), ""


def _from_events(row: pd.Series) -> tuple[float, float, float, float, str]:
    a, c, n1, n2 = (row[k] for k in ("event_arm1", "event_arm2", "totaln_arm1", "totaln_arm2"))
    if any(math.isnan(v) for v in (a, c, n1, n2)):
        return math.nan, math.nan, math.nan, math.nan, "events or totals missing"
    b, d = n1 - a, n2 - c
    if a == 0 or c == 0:
        a, b, c, d = a + CONTINUITY, b + CONTINUITY, c + CONTINUITY, d + CONTINUITY
        n1, n2 = n1 + CONTINUITY, n2 + CONTINUITY  # rr.binary adds 0.5 to events and totals
    if b == 0 or d == 0:
        return math.nan, math.nan, math.nan, math.nan, "every patient of an arm had the event: no odds ratio"
    log_or = math.log(a * d / (b * c))
    g = -_hedges_j(a + b + c + d) * log_or * math.sqrt(3) / math.pi
    g_se = math.sqrt((1 / a + 1 / b + 1 / c + 1 / d) * 3 / math.pi**2)
    log_rr = math.log((a / n1) / (c / n2))
    return g, g_se, log_rr, math.sqrt(1 / a + 1 / c - 1 / n1 - 1 / n2), ""


def _precalc(row: pd.Series) -> tuple[float, float, str]:
    g, se = row.get("precalc_g", math.nan), row.get("precalc_g_se", math.nan)
    return (g, se, "") if not (math.isnan(g) or math.isnan(se)) else (math.nan, math.nan, "precalc_g or its SE missing")


def metapsy_effect_sizes(file: MetapsyFile) -> pd.DataFrame:
    """Hedges' g, its SE, the log risk ratio and its SE of every row, with metapsyTools' conventions.

    Returns
    -------
    DataFrame
        One row per file row: ``g``, ``g_se``, ``log_rr``, ``log_rr_se`` (NaN where not computed)
        and ``note`` (why no g, e.g. ``"sd of an arm missing"``).
    """
    out = []
    frame = file.frame
    for _, row in frame.iterrows():
        kind = row["outcome_type"]
        log_rr = log_rr_se = math.nan
        if kind == "msd":
            g, g_se, note = _from_means(row, "")
        elif kind == "change":
            g, g_se, note = (
                _from_means(row, "_change")
                if "mean_change_arm1" in frame
                else (math.nan, math.nan, "no change-score columns")
            )
        elif kind == "dich":
            g, g_se, log_rr, log_rr_se, note = _from_events(row)
        elif kind == "precalc":
            g, g_se, note = _precalc(row)
        else:
            g, g_se, note = math.nan, math.nan, f"outcome_type {kind!r} has no effect-size formula"
        out.append({"g": g, "g_se": g_se, "log_rr": log_rr, "log_rr_se": log_rr_se, "note": note})
    return pd.DataFrame(out, index=frame.index)


@dataclass
class Agreement:
    """Recomputed vs published ``.g``, ``.g_se``, ``.log_rr``, ``.log_rr_se``, row by row."""

    rows: pd.DataFrame
    tolerance: float = TOLERANCE

    def counts(self) -> dict[str, dict[str, int]]:
        """Per quantity: rows that agree, differ, are not recomputable, or have no published value."""
        out = {}
        for quantity in PUBLISHED:
            status = self.rows[f"{quantity}_status"]
            out[quantity] = {s: int((status == s).sum()) for s in ("agree", "differ", "not recomputable")}
            out[quantity]["not published"] = int((status == "not published").sum())
        return out

    def problems(self) -> pd.DataFrame:
        """Rows where a published value differs or cannot be recomputed, with the reason."""
        columns = [f"{q}_status" for q in PUBLISHED]
        bad = self.rows[columns].isin(["differ", "not recomputable"]).any(axis=1)
        return self.rows.loc[bad, ["where", ".id", "outcome_type", "reason"]]

    def summary(self) -> str:
        lines = [f"Agreement with the file's precalculated columns (|difference| <= {self.tolerance:g}):"]
        for quantity, count in self.counts().items():
            parts = ", ".join(f"{n} {status}" for status, n in count.items() if n)
            lines.append(f"  {PUBLISHED[quantity]:<11} {parts}")
        for _, row in self.problems().iterrows():
            lines.append(f"  {row['where']} {row['.id']}: {row['reason']}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        problems = self.problems()
        return {
            "tolerance": self.tolerance,
            "counts": self.counts(),
            "problems": [{"where": r["where"], "id": r[".id"], "reason": r["reason"]} for _, r in problems.iterrows()],
        }


def agreement(file: MetapsyFile, tolerance: float = TOLERANCE) -> Agreement:
    """Compare :func:`metapsy_effect_sizes` with the file's ``.g``, ``.g_se``, ``.log_rr``, ``.log_rr_se``.

    A quantity *agrees* when recomputed and published differ by at most ``tolerance``; it is *not
    recomputable* when the published value exists but the raw columns give none (the reason
    says why), and *not published* when the file has no value for it.
    """
    computed = metapsy_effect_sizes(file)
    frame = file.frame
    table = pd.DataFrame(
        {
            "where": [file.where(i) for i in range(len(file.rows))],
            ".id": frame.get(".id", pd.Series("", index=frame.index)),
            "outcome_type": frame["outcome_type"],
        }
    )
    reasons: list[list[str]] = [[] for _ in range(len(frame))]
    for quantity, column in PUBLISHED.items():
        mine = computed[quantity].to_numpy(dtype=float)
        theirs = frame[column].to_numpy(dtype=float) if column in frame else np.full(len(frame), np.nan)
        status = np.where(
            np.isnan(theirs),
            "not published",
            np.where(
                np.isnan(mine), "not recomputable", np.where(np.abs(mine - theirs) <= tolerance, "agree", "differ")
            ),
        )
        table[quantity] = mine
        table[column] = theirs
        table[f"{quantity}_status"] = status
        for i in np.flatnonzero(status == "differ"):
            reasons[i].append(f"{column} published {theirs[i]:.6g}, recomputed {mine[i]:.6g}")
        for i in np.flatnonzero(status == "not recomputable"):
            reasons[i].append(f"{column} not recomputable: {computed['note'].iloc[i]}")
    table["reason"] = ["; ".join(r) for r in reasons]
    return Agreement(table, tolerance)
