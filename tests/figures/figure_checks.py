"""Helpers of the figure tests: synthetic syntheses and checks on drawn artists."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.text import Text

from mbtevidence import pool_evidence
from mbtevidence.synthesis import EvidenceSynthesis

LONG_LABEL = (
    "Day-hospital mentalization-based treatment delivered by a newly trained team during a long "
    "organisational reorganisation with changing staff"
)
SETTINGS = ("day_hospital", "outpatient", "intensive_outpatient")


def bcg_synthesis_of(bcg: pd.DataFrame) -> EvidenceSynthesis:
    """The BCG trials (log risk ratios) as an evidence synthesis by allocation, one sample per trial."""
    records = bcg.assign(
        study=[f"Trial {i + 1}" for i in range(len(bcg))],
        effect_id=[f"t{i}" for i in range(len(bcg))],
        sample_id=[f"t{i}" for i in range(len(bcg))],
        instrument="TB",
        secondary_report=False,
        timepoint_months=np.nan,
        n=(bcg.tpos + bcg.tneg + bcg.cpos + bcg.cneg).astype(float),
        measure="RR",
        es_note="",
        year=range(1940, 1940 + len(bcg)),
    )
    return pool_evidence(records, by="alloc")


def synthetic_records(k: int, seed: int = 1, measure: str = "SMCR") -> pd.DataFrame:
    """k independent samples with the columns pool_evidence and the figures read."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "effect_id": [f"Study{2000 + i}.MBT.X.12m" for i in range(k)],
            "study": [f"Author{2000 + i}" for i in range(k)],
            "reference": [f"Author{i} A, Other B. A report number {i}." for i in range(k)],
            "year": [2000 + i for i in range(k)],
            "arm": ["MBT"] * k,
            "label": [LONG_LABEL if i % 3 == 0 else f"Outpatient MBT {i}" for i in range(k)],
            "sample_id": [f"sample_{i}" for i in range(k)],
            "setting": [SETTINGS[i % 2] for i in range(k)],
            "outcome_construct": "symptom_severity",
            "instrument": "BSI GSI",
            "secondary_report": False,
            "analysis_population": ["itt", "completers", "model_based_itt"] * (k // 3) + ["itt"] * (k % 3),
            "timepoint_months": 12.0,
            "planned_duration_months": [18.0 if i % 2 else 12.0 for i in range(k)],
            "days_per_week": [5.0 if i % 2 == 0 else np.nan for i in range(k)],
            "months_received_mean": np.linspace(6, 24, k),
            "fidelity_0_1": [np.nan if i % 4 == 3 else 0.2 + 0.7 * i / max(k - 1, 1) for i in range(k)],
            "fidelity_rating": [np.nan if i % 4 == 3 else 2.2 + 4.2 * i / max(k - 1, 1) for i in range(k)],
            "fidelity_scale": "MBT-ACS adherence, 1-7",
            "organisational_stability": [("stable", "reorganisation", "start_up")[i % 3] for i in range(k)],
            "n": rng.integers(15, 120, k).astype(float),
            "n_bound": [i == 1 for i in range(k)],
            "conflict": [i % 5 == 2 for i in range(k)],
            "measure": measure,
            "yi": rng.normal(0.6, 0.35, k),
            "vi": rng.uniform(0.01, 0.12, k),
            "es_note": "",
        }
    )


def synthetic_synthesis(k: int, by: str | None = "setting", seed: int = 1, **kwargs: object) -> EvidenceSynthesis:
    return pool_evidence(synthetic_records(k, seed), by=by, **kwargs)


def visible_texts(fig: Figure) -> list[Text]:
    """Texts a reader sees: non-empty, visible, and tick labels only inside the axis range
    (matplotlib keeps labels of ticks outside the view but does not draw them)."""
    fig.canvas.draw()
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                    hidden |= {id(tick.label1), id(tick.label2)}
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and id(t) not in hidden]


def overlapping_texts(fig: Figure, tolerance: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of visible texts whose rendered extents overlap, and texts outside the figure."""
    texts = visible_texts(fig)
    renderer = fig.canvas.get_renderer()
    boxes = np.array([Text.get_window_extent(t, renderer).extents for t in texts])  # annotations: the text only
    x0, y0, x1, y1 = boxes.T
    overlap = (
        (x0[:, None] < x1[None, :] - tolerance)
        & (x0[None, :] < x1[:, None] - tolerance)
        & (y0[:, None] < y1[None, :] - tolerance)
        & (y0[None, :] < y1[:, None] - tolerance)
    )
    np.fill_diagonal(overlap, False)
    pairs = [(texts[i].get_text(), texts[j].get_text()) for i, j in zip(*np.nonzero(np.triu(overlap)), strict=True)]
    width, height = fig.canvas.get_width_height()
    outside = [
        (t.get_text(), "outside the figure")
        for t, b in zip(texts, boxes, strict=True)
        if b[0] < -tolerance or b[1] < -tolerance or b[2] > width + tolerance or b[3] > height + tolerance
    ]
    return pairs + outside


def texts_with_gid(fig: Figure, gid: str) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_gid() == gid]


def artists_with_gid(fig: Figure, gid: str) -> list:
    return [a for a in fig.findobj() if getattr(a, "get_gid", lambda: None)() == gid]
