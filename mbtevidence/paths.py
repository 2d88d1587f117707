"""Where things live: the checkout, the bundled evidence, the notebooks and the source texts."""

from __future__ import annotations

import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
EVIDENCE_DIR = CHECKOUT / "evidence"
SCHEMA_PATH = EVIDENCE_DIR / "schema.json"
NOTEBOOKS_DIR = CHECKOUT / "notebooks"
SEEDS_ENV = "MBTEVIDENCE_SEEDS"
DEFAULT_SEEDS_DIR = CHECKOUT.parent / "shared" / "seeds"


def seeds_dir() -> Path:
    """Source texts folder: ``$MBTEVIDENCE_SEEDS`` when set and non-empty, else ``../shared/seeds``."""
    value = os.environ.get(SEEDS_ENV, "").strip()
    return Path(value) if value else DEFAULT_SEEDS_DIR


DATA_ENV = "MBTEVIDENCE_DATA"
DEFAULT_DATA_DIR = CHECKOUT.parent / "shared" / "data"


def data_dir() -> Path:
    """Published datasets folder (one subfolder per dataset, e.g. the Metapsy database):
    ``$MBTEVIDENCE_DATA`` when set and non-empty, else ``../shared/data``."""
    value = os.environ.get(DATA_ENV, "").strip()
    return Path(value) if value else DEFAULT_DATA_DIR
