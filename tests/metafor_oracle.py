"""Run R's metafor on the same data and read its results back (the oracle for agreement tests).

Tests that need it take the ``metafor`` fixture: it skips with a clear reason where Rscript or
metafor is missing, and fails instead when ``MBTEVIDENCE_REQUIRE_R=1`` (as CI sets it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

INSTALL_HINT = "apt-get install -y --no-install-recommends r-cran-metafor"


def r_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    run = subprocess.run(["Rscript", "-e", "suppressMessages(library(metafor))"], capture_output=True)
    return run.returncode == 0


class Metafor:
    """``run(code, data)``: executes R code with ``dat`` = data; the code assigns a named list ``out``."""

    def run(self, code: str, data: pd.DataFrame | dict | None = None) -> dict[str, np.ndarray]:
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "dat.csv"
            if data is not None:
                pd.DataFrame(data).to_csv(csv, index=False)
            script = (
                "suppressMessages(library(metafor))\n"
                + (f"dat <- read.csv('{csv}', stringsAsFactors=FALSE)\n" if data is not None else "")
                + code
                + "\nfor (n in names(out)) cat(n, '\\t', paste(sprintf('%.15g', as.numeric(out[[n]])), collapse=','), '\\n', sep='')\n"
            )
            run = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"R failed:\n{run.stderr}")
        out = {}
        for line in run.stdout.splitlines():
            if "\t" in line:
                name, values = line.split("\t", 1)
                out[name] = np.array([float(x) if x != "NA" else np.nan for x in values.split(",")]) if values else np.array([])
        return out

    def dataset(self, name: str) -> pd.DataFrame:
        """A data set shipped with metafor / metadat, as R has it."""
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "d.csv"
            run = subprocess.run(["Rscript", "-e", f"suppressMessages(library(metafor)); write.csv({name}, '{csv}', row.names=FALSE)"],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                raise RuntimeError(run.stderr)
            return pd.read_csv(csv)


@pytest.fixture(scope="session")
def metafor() -> Metafor:
    if not r_available():
        reason = f"R's metafor not installed (Rscript with metafor needed; {INSTALL_HINT})"
        if os.environ.get("MBTEVIDENCE_REQUIRE_R") == "1":
            pytest.fail(reason + " but MBTEVIDENCE_REQUIRE_R=1")
        pytest.skip(reason)
    return Metafor()
