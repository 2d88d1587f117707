"""The one style of every figure: fonts, sizes, colours, resolution and the words for codes.

Figures are laid out in inches from measured text (:func:`text_width`), so nothing depends on
the backend that finally renders them.  Codes of the evidence vocabularies (``day_hospital``,
``model_based_itt``...) never reach a figure: :func:`code_label` turns them into words.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

FONT_FAMILY = "DejaVu Sans"
"""Bundled with matplotlib (same glyphs on every machine; has τ, ², ≤, ◆, ■, †)."""
FONT_SIZE = 8.0
SMALL_SIZE = 7.0
TITLE_SIZE = 10.5
LINE_SPACING = 1.25
"""Line height as a multiple of the font size."""
DPI = 200
MARGIN = 0.2
"""White border of every figure, inches."""
SVG_HASH_SALT = "mbtevidence"
"""Fixed salt for the ids matplotlib writes into SVG files: same figure, same bytes."""

COLOURS = {
    "study": "#1f3a5f",
    "pooled": "#8b1a1a",
    "prediction": "#c0504d",
    "conflict": "#d95f02",
    "influential": "#d95f02",
    "null": "#7f7f7f",
    "band": "#9ecae1",
    "filled": "#7570b3",
    "muted": "#595959",
    "grid": "#e6e6e6",
}
"""Colour-blind-safe pairs: blue studies, dark red pooled estimates, orange source conflicts."""

RC: dict[Any, Any] = {
    "font.family": FONT_FAMILY,
    "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE,
    "axes.labelsize": FONT_SIZE,
    "xtick.labelsize": FONT_SIZE,
    "ytick.labelsize": FONT_SIZE,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": SVG_HASH_SALT,
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "figure.dpi": 100,
    "savefig.dpi": DPI,
}

SETTING_LABELS = {
    "day_hospital": "Day hospital",
    "partial_hospital": "Partial hospital",
    "intensive_outpatient": "Intensive outpatient",
    "outpatient": "Outpatient",
    "inpatient": "Inpatient",
    "mixed": "Mixed settings",
    "not_reported": "Setting not reported",
}
POPULATION_LABELS = {
    "itt": "ITT",
    "model_based_itt": "ITT (model)",
    "completers": "Completers",
    "per_protocol": "Per protocol",
    "not_reported": "Not reported",
}
PERIOD_LABELS = {
    "stable": "Stable organisation",
    "reorganisation": "During a reorganisation",
    "start_up": "Programme start-up",
    "not_reported": "Period not described",
}
CONSTRUCT_LABELS = {
    "symptom_severity": "Symptom severity",
    "borderline_features": "Borderline features",
    "personality_functioning": "Personality functioning",
    "interpersonal_functioning": "Interpersonal functioning",
    "global_functioning": "Global functioning",
    "social_functioning": "Social functioning",
    "quality_of_life": "Quality of life",
    "self_harm": "Self-harm",
    "suicide_attempts": "Suicide attempts",
    "service_use": "Service use",
    "self_image": "Self-image",
    "therapeutic_alliance": "Therapeutic alliance",
}
MEASURE_LABELS = {
    "SMCR": "Standardised mean change (SMCR, Hedges-corrected)",
    "SMCC": "Standardised mean change (SMCC, change-score SD)",
    "SMD": "Standardised mean difference (Hedges' g)",
    "MD": "Mean difference",
    "RR": "Risk ratio",
    "OR": "Odds ratio",
    "RD": "Risk difference",
    "PR": "Proportion",
    "PLO": "Proportion (logit)",
    "ZCOR": "Correlation (Fisher z)",
}
RATIO_MEASURES = ("RR", "OR")
"""Measures pooled on the log scale and shown back-transformed (exp) on a log axis."""
NO_NULL_MEASURES = ("PR", "PLO")
"""Measures without a 'no effect' value (no null line, no direction)."""
FAVOURS = {
    "within": ("deterioration", "improvement"),
    "between": ("favours comparator", "favours MBT (arm 1)"),
}
"""Direction words for evidence records (positive = improvement, or arm 1 better)."""
WITHIN_MEASURES = ("SMCR", "SMCC")

DOSAGE_BANDS = ((12.0, "up to 12 months"), (18.0, "13–18 months"), (float("inf"), "more than 18 months"))
DOSAGE_BAND_COLUMN = "planned_duration_months"
DOSAGE_BAND_STATEMENT = "Dosage bands: planned duration of the main treatment phase in months, as the source states it."
FIDELITY_LEVELS = ((0.5, "Fidelity below adequate (< 0.5)"), (float("inf"), "Fidelity adequate or better (≥ 0.5)"))
FIDELITY_STATEMENT = (
    "Fidelity levels: total fidelity rescaled to 0–1; 0.5 is 4 on a 1–7 scale, the MBT-ACS threshold for adequate MBT."
)
PERIOD_STATEMENT = (
    "Periods: the organisational context of the programme period as the source describes it (stable organisation, "
    "a reorganisation, programme start-up)."
)
NOT_REPORTED = "not_reported"


def code_label(code: object, labels: dict[str, str] | None = None) -> str:
    """Words for a vocabulary code: the label map's entry, else the code with spaces, capitalised."""
    text = str(code)
    if labels and text in labels:
        return labels[text]
    words = text.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def lower_first(text: str) -> str:
    """'Standardised mean change (SMCR)' -> 'standardised mean change (SMCR)'."""
    return text[:1].lower() + text[1:]


@lru_cache(maxsize=8)
def font(size: float = FONT_SIZE, weight: str = "normal") -> FontProperties:
    return FontProperties(family=FONT_FAMILY, size=size, weight=weight)


_TEXT_TO_PATH = TextToPath()


@lru_cache(maxsize=4096)
def text_width(text: str, size: float = FONT_SIZE, weight: str = "normal") -> float:
    """Width of one line of text in inches (glyph outlines; independent of the backend)."""
    if not text:
        return 0.0
    width, _, _ = _TEXT_TO_PATH.get_text_width_height_descent(text, font(size, weight), ismath=False)
    return width / 72.0


def line_height(size: float = FONT_SIZE) -> float:
    """Height of one line of text in inches."""
    return size * LINE_SPACING / 72.0


def plain(text: object) -> str:
    """Text drawn literally: a dollar sign never starts mathtext."""
    return str(text).replace("$", r"\$")


def wrap_to_width(text: str, width: float, size: float = FONT_SIZE, max_lines: int | None = None) -> list[str]:
    """Greedy word wrap by measured width (inches); beyond ``max_lines`` the last line ends in '…'."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split(" "):
            trial = f"{current} {word}".strip()
            if current and text_width(trial, size) > width:
                lines.append(current)
                current = word
            else:
                current = trial
        lines.append(current)
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = truncate_to_width(lines[-1] + " …", width, size, force=True)
    return [truncate_to_width(line, width, size) for line in lines]


def truncate_to_width(text: str, width: float, size: float = FONT_SIZE, force: bool = False) -> str:
    """The text, cut with a visible '…' so that it fits ``width`` inches."""
    if not force and text_width(text, size) <= width:
        return text
    body = text.rstrip(" …")
    while body and text_width(body + "…", size) > width:
        body = body[:-1]
    return body.rstrip() + "…"


@contextmanager
def figure_style() -> Iterator[None]:
    """Matplotlib settings of every figure of the kit (fonts, sizes, SVG salt)."""
    with mpl.rc_context(RC):
        yield


ALT_TEXT_ATTRIBUTE = "mbtevidence_alt_text"


def set_alt_text(fig: Figure, text: str) -> None:
    """Attach the alternative text (the figure's headline in words) to a figure."""
    setattr(fig, ALT_TEXT_ATTRIBUTE, text.replace("\u00a0", " "))


def figure_alt_text(fig: Figure) -> str:
    """The alternative text of a figure drawn by :mod:`mbtevidence.figures`: what it shows and its
    headline numbers, for screen readers and for the figure legend of a report."""
    text = getattr(fig, ALT_TEXT_ATTRIBUTE, None)
    if text is None:
        raise ValueError("this figure was not drawn by mbtevidence.figures: it carries no alternative text")
    return text
