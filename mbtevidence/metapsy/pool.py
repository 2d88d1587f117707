"""Pooling a Metapsy file as metapsyTools does by default.

metapsyTools ``runMetaAnalysis()`` fits, as its first ("overall") model, a random-effects model
to every selected row's ``.g`` and ``.g_se`` (``meta::metagen``) with ``method.tau = "REML"`` and
``hakn = TRUE`` (Knapp-Hartung), ignoring that rows of one study share patients; its other models
(combined per study, three-level...) are sensitivity analyses.  :func:`pool_metapsy` is that
overall model on g recomputed from the raw columns (:func:`~mbtevidence.metapsy.metapsy_effect_sizes`,
equal to the file's ``.g``), fitted by the kit's engine, which agrees with metafor's
``rma(yi, sei = se, method = "REML", test = "knha")``.  Two conventions of metapsyTools' printout
differ from the engine's and are not reproduced: its I² is meta's (Q - df) / Q (the engine gives
metafor's τ² / (τ² + typical variance)), and its prediction interval uses t with k - 2 df
(the engine: metafor's k - 1).
"""

from __future__ import annotations

import pandas as pd

from ..engine import MetaAnalysisResult, meta_analysis
from .effects import metapsy_effect_sizes
from .reading import MetapsyFile

CONVENTION = (
    "metapsyTools default ('overall' model): every selected row pooled, dependence within studies ignored; "
    "Hedges' g recomputed with metapsyTools' conventions; REML with Knapp-Hartung"
)


def metapsy_selection(
    file: MetapsyFile, outcome_domain: str | None = None, condition: str | None = None
) -> pd.DataFrame:
    """Rows with their recomputed g and SE, filtered by ``outcome_domain`` and ``condition_arm1``
    (case-insensitive); rows without a g are dropped (``note`` says why in the full table)."""
    frame = file.frame.join(metapsy_effect_sizes(file))
    frame["label"] = frame["study"] + " (" + frame["condition_arm1"] + " vs " + frame["condition_arm2"] + "; "
    frame["label"] += frame["instrument"] + ")"
    keep = pd.Series(True, index=frame.index)
    if outcome_domain is not None:
        keep &= frame["outcome_domain"].str.lower() == outcome_domain.lower()
    if condition is not None:
        keep &= frame["condition_arm1"].str.lower() == condition.lower()
    return frame[keep & frame["g"].notna() & (frame["g_se"] > 0)]


def pool_metapsy(
    file: MetapsyFile,
    outcome_domain: str | None = "BPD severity",
    condition: str | None = None,
    method: str = "REML",
    test: str = "knha",
    level: float = 95,
) -> MetaAnalysisResult:
    """Random-effects meta-analysis of a Metapsy file's Hedges' g, as metapsyTools pools by default.

    Parameters
    ----------
    file : MetapsyFile
        From :func:`~mbtevidence.metapsy.read_metapsy`.
    outcome_domain : str, optional
        Rows of this ``outcome_domain`` (default ``"BPD severity"``; None: all rows).
    condition : str, optional
        Rows whose ``condition_arm1`` is this code, e.g. ``"mbt"`` (default: all therapies).
    method, test, level
        τ² estimator, test and confidence level (default REML, Knapp-Hartung, 95%: metapsyTools').

    Returns
    -------
    MetaAnalysisResult
        g as in the file: negative means fewer symptoms in arm 1 (the therapy) on the usual
        lower-is-better scales.  ``notes`` state the convention.

    Raises
    ------
    ValueError
        When no row is selected.
    """
    rows = metapsy_selection(file, outcome_domain, condition)
    if rows.empty:
        what = ", ".join(f"{k} {v!r}" for k, v in (("outcome_domain", outcome_domain), ("condition", condition)) if v)
        raise ValueError(f"no row with a computable g for {what or 'this file'}")
    result = meta_analysis(rows["g"], rows["g_se"] ** 2, method, test, level, slab=rows["label"])
    result.fit.notes.append(CONVENTION)
    return result
