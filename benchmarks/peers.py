"""The peers: R's metafor, timed inside R (CPU time; start-up and reading the data excluded), and PyMARE."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from timing import LIMIT_SECONDS, MIN_BATCH_SECONDS, Timing

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pymare import Dataset
    from pymare.estimators import VarianceBasedLikelihoodEstimator

R_TIMER = """
suppressMessages(library(metafor))
dat <- read.csv('{path}')
cpu <- function(expr) {{ t <- system.time(expr); t[["user.self"]] + t[["sys.self"]] }}
timed <- function(f, reps) {{
  first <- cpu(f())
  reps <- if (first > 5) 3 else if (first > 0.5) min(reps, 5) else reps
  batch <- max(1, ceiling({batch_seconds} / max(first, 1e-4)))
  times <- replicate(reps, cpu(for (j in seq_len(batch)) f()) / batch)
  paste(times, collapse=",")
}}
"""


def r_versions() -> dict[str, str]:
    """R and metafor versions, or empty when Rscript with metafor is absent."""
    if shutil.which("Rscript") is None:
        return {}
    script = (
        "suppressMessages(library(metafor)); "
        "cat(R.version$version.string, '|', as.character(packageVersion('metafor')))"
    )
    run = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
    if run.returncode != 0:
        return {}
    r, metafor = (part.strip() for part in run.stdout.split("|"))
    return {"R": r, "metafor": metafor}


def metafor_times(data: pd.DataFrame, calls: dict[str, str], repetitions: int) -> dict[str, Timing]:
    """Seconds per call of each R expression (``dat`` holds ``data``), timed inside one R process."""
    if not r_versions():
        return {name: Timing(note="R with metafor not installed") for name in calls}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        data.to_csv(path, index=False, float_format="%.17g")
        script = R_TIMER.format(path=path, batch_seconds=MIN_BATCH_SECONDS) + "".join(
            f"cat('{name}', timed(function() {{ {code} }}, {repetitions}), '\\n')\n" for name, code in calls.items()
        )
        timeout = LIMIT_SECONDS * (repetitions + 1) * len(calls)
        try:
            run = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {name: Timing(note=f"did not finish in {timeout:.0f} s") for name in calls}
    if run.returncode != 0:
        return {name: Timing(note=f"R failed: {run.stderr.strip()[-200:]}") for name in calls}
    out = {}
    for line in run.stdout.splitlines():
        name, _, values = line.strip().partition(" ")
        out[name] = Timing(tuple(float(x) for x in values.strip().split(",")))
    return out


def pymare_all_statistics(y: np.ndarray, v: np.ndarray) -> object:
    """PyMARE's REML fit with its CI, Q-profile τ² CI and heterogeneity statistics (it has no PI)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = VarianceBasedLikelihoodEstimator(method="REML").fit_dataset(Dataset(y=y, v=v)).summary()
        return result.get_fe_stats(), result.get_re_stats(), result.get_heterogeneity_stats()
