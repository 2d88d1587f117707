"""Speed of mbtevidence's REML random-effects fit against its peers, measured in one run.

Peers: PyMARE's ``VarianceBasedLikelihoodEstimator(method="REML")`` (same process) and R's
metafor ``rma(method="REML", test="knha")`` (timed inside R, so R's start-up is excluded; skipped
when Rscript with metafor is absent).  Prints seconds per fit and the ratios ours/peer.

    python benchmarks/run.py [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from mbtevidence.pooling import meta_analysis

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pymare import Dataset
    from pymare.estimators import VarianceBasedLikelihoodEstimator


def simulate(k: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.2, k)
    return rng.normal(0.5, np.sqrt(vi + 0.1)), vi


def per_call(fn, repeat: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def metafor_per_call(yi: np.ndarray, vi: np.ndarray, repeat: int) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.csv"
        pd.DataFrame({"yi": yi, "vi": vi}).to_csv(path, index=False)
        script = (
            f"suppressMessages(library(metafor)); d <- read.csv('{path}'); invisible(rma(yi, vi, data=d));"
            f"t <- system.time(for (i in 1:{repeat}) rma(yi, vi, data=d, method='REML', test='knha'))[['elapsed']];"
            f"cat(t / {repeat})"
        )
        run = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
    return float(run.stdout) if run.returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    rows = []
    for k in (13, 50, 200):
        yi, vi = simulate(k)
        ours = per_call(lambda: meta_analysis(yi, vi, method="REML", test="knha"), args.repeat)
        estimator = VarianceBasedLikelihoodEstimator(method="REML")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pymare = per_call(lambda: estimator.fit_dataset(Dataset(y=yi, v=vi)).summary(), args.repeat)
        metafor = metafor_per_call(yi, vi, args.repeat)
        rows.append(
            {
                "k": k,
                "mbtevidence (s)": ours,
                "PyMARE (s)": pymare,
                "metafor (s)": metafor,
                "ours/PyMARE": ours / pymare,
                "ours/metafor": None if metafor is None else ours / metafor,
            }
        )
    print("REML random-effects fit, seconds per call (mbtevidence includes Q-profile CI, I² and PI):")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.5f}"))


if __name__ == "__main__":
    main()
