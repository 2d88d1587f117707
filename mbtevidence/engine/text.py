"""Text rendering of fitted models (the kit's ``print.rma``): numbers, heterogeneity, conventions.

Printing is kept apart from fitting, as in metafor: result objects call these functions from
their ``summary()``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .model import ModelFit

TEST_NAMES = {
    "knha": "Knapp-Hartung t(df = k-p)",
    "adhoc": "Knapp-Hartung t(df = k-p), s² truncated at 1 (ad hoc)",
    "z": "Wald z",
}


def clean(value: object) -> object:
    """JSON-safe scalar: NaN/inf -> None, numpy -> Python."""
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def fmt(x: float | None, digits: int = 4) -> str:
    """Fixed decimals; NA for missing or NaN, Inf for infinite (as R prints them)."""
    if x is None or math.isnan(x):
        return "NA"
    return ("Inf" if x > 0 else "-Inf") if math.isinf(x) else f"{x:.{digits}f}"


def fmt_p(x: float | None) -> str:
    return "NA" if x is None or not math.isfinite(x) else ("<.0001" if x < 1e-4 else f"{x:.4f}")


def frame_text(frame: pd.DataFrame) -> str:
    """A numeric table with four decimals, nothing truncated."""
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.max_colwidth", 200):
        return frame.to_string(float_format=lambda x: f"{x:.4f}")


def heterogeneity_lines(fit: ModelFit, residual: bool = False) -> list[str]:
    """τ², τ, I², H² and Q lines as metafor prints them."""
    if not fit.has_heterogeneity:
        return []
    word = "residual " if residual else ""
    lines = []
    if fit.method != "EE":
        ci = fit.heterogeneity_ci()
        lines += [
            f"tau^2 ({word}heterogeneity): {fmt(fit.tau2)} (SE = {fmt(fit.tau2_se)}), "
            f"{fit.level:g}% CI [{fmt(ci['tau2'][0])}, {fmt(ci['tau2'][1])}] (Q-profile)",
            f"tau ({word}SD of true effects): {fmt(math.sqrt(fit.tau2))}",
            f"I^2 ({word}heterogeneity / {word}variability): {fmt(fit.i2, 2)}%, "
            f"CI [{fmt(ci['i2'][0], 2)}, {fmt(ci['i2'][1], 2)}]",
        ]
    else:
        lines.append(f"I^2 ({word}heterogeneity / {word}variability): {fmt(fit.i2, 2)}%")
    lines += [
        f"H^2: {fmt(fit.h2)}",
        f"Test for {word}heterogeneity: Q{'E' if residual else ''}(df = {fit.k - fit.n_coef}) = {fmt(fit.qe)}, "
        f"p = {fmt_p(fit.qe_p)}",
    ]
    return lines


def conventions(fit: ModelFit) -> str:
    """One sentence naming every convention behind a table."""
    pi = "normal quantile" if fit.test == "z" else "t(k-p) quantile"
    return (
        f"Conventions: tau² estimator {fit.method}; tests and CIs {TEST_NAMES[fit.test]}; tau² CI Q-profile; "
        f"I² from tau²; prediction interval estimate ± {pi} x sqrt(SE² + tau²), reported for k >= 3."
    )


def notes_lines(notes: list[str]) -> list[str]:
    return [f"Note: {n}" for n in notes]
