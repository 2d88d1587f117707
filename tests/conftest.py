"""Shared fixtures: a minimal valid evidence folder with its own source text."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from mbtevidence.evidence import load_schema
from mbtevidence.paths import EVIDENCE_DIR as DEFAULT_EVIDENCE_DIR
from mbtevidence.paths import seeds_dir as default_seeds_dir

SOURCE_TEXT = """Chapter 4. Results of the day-hospital cohort.
The mean GSI fell from 1.72 (SD 0.61) at baseline to 0.98 (SD 0.55) at 18 months (n = 40).
Of the 45 patients, 5 dropped out (11%). Patients attended 5 days a week for a maxi-
mum of 18 months. Effect size d = 1.21 (95% CI 0.75 to 1.66).
"""


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})


def minimal_tables() -> dict[str, list[dict[str, str]]]:
    common = {"source": "seed.txt", "location": "ch. 4, results"}
    return {
        "studies": [
            dict(
                study="Demo2012",
                reference="Demo et al. (2012)",
                year="2012",
                country="NL",
                design="naturalistic_prepost",
                population="adult_bpd",
                quote="Chapter 4. Results of the day-hospital cohort.",
                **common,
            )
        ],
        "arms": [
            dict(
                study="Demo2012",
                arm="MBT-DH",
                label="Day-hospital MBT",
                condition="mbt",
                sample_id="demo_dh",
                setting="day_hospital",
                n_start="45",
                days_per_week="5",
                planned_duration_months="18",
                quote="Of the 45 patients [...] Patients attended 5 days a week for a maximum of 18 months.",
                **common,
            )
        ],
        "effects": [
            dict(
                effect_id="Demo2012.GSI.18m",
                study="Demo2012",
                arm="MBT-DH",
                sample_id="demo_dh",
                outcome_construct="symptom_severity",
                instrument="SCL-90 GSI",
                lower_is_better="yes",
                timepoint_months="18",
                mean_pre="1.72",
                sd_pre="0.61",
                mean_post="0.98",
                sd_post="0.55",
                n_post="40",
                secondary_report="no",
                analysis_population="completers",
                quote="The mean GSI fell from 1.72 (SD 0.61) at baseline to 0.98 (SD 0.55) at 18 months (n = 40).",
                **common,
            ),
            dict(
                effect_id="Demo2012.dropout.18m",
                study="Demo2012",
                arm="MBT-DH",
                sample_id="demo_dh",
                outcome_construct="dropout",
                instrument="dropout",
                lower_is_better="yes",
                timepoint_months="18",
                prop_events="5",
                prop_n="45",
                secondary_report="no",
                analysis_population="completers",
                quote="Of the 45 patients, 5 dropped out (11%).",
                **common,
            ),
            dict(
                effect_id="Demo2012.GSI.18m.d",
                study="Demo2012",
                arm="MBT-DH",
                sample_id="demo_dh",
                outcome_construct="symptom_severity",
                instrument="SCL-90 GSI",
                lower_is_better="yes",
                timepoint_months="18",
                precalc_es="1.21",
                precalc_metric="d",
                precalc_design="within",
                precalc_positive="improvement",
                precalc_n="40",
                precalc_ci_low="0.75",
                precalc_ci_high="1.66",
                secondary_report="no",
                analysis_population="completers",
                quote="(n = 40). [...] Effect size d = 1.21 (95% CI 0.75 to 1.66).",
                **common,
            ),
        ],
    }


def write_evidence(folder: Path, tables: dict[str, list[dict[str, str]]]) -> Path:
    schema = load_schema()
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        spec = schema["tables"][name]
        write_csv(folder / spec["file"], rows, list(spec["columns"]))
    return folder


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    (folder / "seed.txt").write_text(SOURCE_TEXT, encoding="utf-8")
    return folder


@pytest.fixture
def minimal(tmp_path: Path) -> Path:
    return write_evidence(tmp_path / "evidence", minimal_tables())


@pytest.fixture
def bundled_copy(tmp_path: Path) -> Path:
    target = tmp_path / "bundled"
    shutil.copytree(DEFAULT_EVIDENCE_DIR, target)
    return target


def real_seeds() -> Path | None:
    folder = default_seeds_dir()
    return folder if folder.is_dir() else None


requires_seeds = pytest.mark.skipif(
    real_seeds() is None, reason=f"source texts not found at {default_seeds_dir()} (set MBTEVIDENCE_SEEDS)"
)


from metafor_oracle import metafor  # noqa: E402,F401  (fixture)

BCG = {
    "tpos": [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27],
    "tneg": [119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886],
    "cpos": [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29],
    "cneg": [128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825],
    "ablat": [44, 55, 42, 52, 13, 44, 19, 13, 27, 42, 18, 33, 33],
    "alloc": [
        "random",
        "random",
        "random",
        "random",
        "alternate",
        "alternate",
        "random",
        "random",
        "random",
        "systematic",
        "systematic",
        "systematic",
        "systematic",
    ],
}
"""The 13 BCG vaccine trials (metafor's dat.bcg; Colditz et al. 1994), as printed in issue #4."""


@pytest.fixture(scope="session")
def bcg():
    import pandas as pd

    from mbtevidence.engine import escalc

    return escalc("RR", pd.DataFrame(BCG), ai="tpos", bi="tneg", ci="cpos", di="cneg")


@pytest.fixture(scope="session")
def symptom_synthesis(bundled_evidence):
    """Within-group symptom-severity improvement at 12-27 months, pooled by setting from the bundled evidence."""
    from mbtevidence import SelectionRule, evidence_effect_sizes, pool_evidence

    es = evidence_effect_sizes(bundled_evidence.records[bundled_evidence.records.condition == "mbt"])
    selected = es[
        (es.outcome_construct == "symptom_severity") & (es.measure == "SMCR") & es.timepoint_months.between(12, 27)
    ]
    return pool_evidence(selected, by="setting", rule=SelectionRule(target_months=18))


@pytest.fixture(scope="session")
def bundled_evidence():
    """The bundled evidence, validated once per test session."""
    from mbtevidence import load_evidence

    return load_evidence()


def pytest_collection_modifyitems(items) -> None:
    """Mark every test that uses the metafor oracle, so `make test-live-r` can select them."""
    for item in items:
        if "metafor" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.metafor)
