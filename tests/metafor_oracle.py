"""R's metafor as the oracle for agreement tests, pinned as JSON so the suite runs without R.

``metafor.run(code, data)`` executes R code with ``dat`` = data (the code assigns a named list
``out``) and returns its numbers.  Results are pinned in ``tests/reference/metafor.json``, keyed by
a hash of the code and the data, as PyMARE pins its reference values:

* default: read the pinned value (no R needed; a missing key fails and says how to record it);
* ``MBTEVIDENCE_LIVE_R=1`` (``.ci/run``): run R live and also check that R still gives the pinned
  value (so a metafor upgrade cannot change the reference silently); fails where R is absent;
* ``MBTEVIDENCE_RECORD_R=1`` (``make reference``): run R live and rewrite the pinned values.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

INSTALL_HINT = "apt-get install -y --no-install-recommends r-cran-metafor"
PINNED = Path(__file__).parent / "reference" / "metafor.json"
LIVE = os.environ.get("MBTEVIDENCE_LIVE_R") == "1"
RECORD = os.environ.get("MBTEVIDENCE_RECORD_R") == "1"


def r_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    return subprocess.run(["Rscript", "-e", "suppressMessages(library(metafor))"], capture_output=True).returncode == 0


def _rscript(script: str) -> str:
    run = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"R failed:\n{run.stderr}")
    return run.stdout


class Metafor:
    """Pinned (or live) metafor results."""

    def __init__(self) -> None:
        self.pinned: dict[str, object] = json.loads(PINNED.read_text()) if PINNED.exists() else {}
        self.changed = False

    @staticmethod
    def _key(kind: str, text: str) -> str:
        return f"{kind}:" + hashlib.sha256(text.encode()).hexdigest()[:20]

    def _lookup(self, key: str, compute, what: str):
        if LIVE or RECORD:
            value = compute()
            if RECORD:
                self.pinned[key], self.changed = value, True
            elif key in self.pinned:
                assert self._same(value, self.pinned[key]), f"live metafor differs from the pinned value for {what}"
            return value
        if key not in self.pinned:
            pytest.fail(f"no pinned metafor value for {what}; run `make reference` (needs R's metafor: {INSTALL_HINT})")
        return self.pinned[key]

    @staticmethod
    def _same(a, b) -> bool:
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(
                np.allclose(
                    np.array(a[k], dtype=float), np.array(b[k], dtype=float), rtol=1e-10, atol=1e-12, equal_nan=True
                )
                for k in a
            )
        return a == b

    def run(self, code: str, data: pd.DataFrame | dict | None = None) -> dict[str, np.ndarray]:
        csv = "" if data is None else pd.DataFrame(data).to_csv(index=False, float_format="%.17g")

        def compute() -> dict[str, list[float]]:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "dat.csv"
                path.write_text(csv)
                script = (
                    "suppressMessages(library(metafor))\n"
                    + (f"dat <- read.csv('{path}', stringsAsFactors=FALSE)\n" if data is not None else "")
                    + code
                    + "\nfor (n in names(out)) cat(n, '\\t', paste(sprintf('%.17g', as.numeric(out[[n]])),"
                    " collapse=','), '\\n', sep='')\n"
                )
                stdout = _rscript(script)
            out = {}
            for line in stdout.splitlines():
                if "\t" in line:
                    name, values = line.split("\t", 1)
                    out[name] = [float(x) if x != "NA" else None for x in values.split(",")] if values else []
            return out

        value = self._lookup(
            self._key("run", code.strip() + "\n" + csv), compute, f"R code starting {code.strip()[:60]!r}"
        )
        return {k: np.array([np.nan if x is None else x for x in v], dtype=float) for k, v in value.items()}

    def dataset(self, name: str) -> pd.DataFrame:
        """A data set shipped with metafor / metadat, as R has it."""

        def compute() -> str:
            return _rscript(f"suppressMessages(library(metafor)); write.csv({name}, stdout(), row.names=FALSE)")

        return pd.read_csv(io.StringIO(self._lookup(self._key("dataset", name), compute, f"data set {name}")))

    def save(self) -> None:
        """Merge the recorded values into the pinned file (locked: parallel recording runs keep theirs)."""
        if not self.changed:
            return
        import fcntl

        PINNED.parent.mkdir(exist_ok=True)
        with open(PINNED.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = json.loads(PINNED.read_text()) if PINNED.exists() else {}
            current.update(self.pinned)
            tmp = PINNED.with_suffix(".tmp")
            tmp.write_text(json.dumps(dict(sorted(current.items())), indent=0, allow_nan=False) + "\n")
            tmp.replace(PINNED)


@pytest.fixture(scope="session")
def metafor():
    if (LIVE or RECORD) and not r_available():
        pytest.fail(f"R's metafor is needed for live agreement tests ({INSTALL_HINT})")
    oracle = Metafor()
    yield oracle
    oracle.save()
