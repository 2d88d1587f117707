"""Evidence -> a Metapsy database file, in the published dialect (so cohorts can be contributed back).

One row per two-arm record: ``two_arm_means`` (``msd``, or ``change`` for records imported from
change scores), ``two_arm_events`` (``dich``) and reported between-group Hedges' g with both arm
n (``precalc``).  Single-arm records (pre/post, proportions) and other reported statistics have
no Metapsy row: the standard holds comparisons of arms; the report counts them with the reason.

Columns are those of the Metapsy BPD database (:data:`EXPORT_COLUMNS`), in its order, so the
rows can be appended to it; R's ``write.csv2`` dialect: ``;``, decimal commas, ``NA``, text
quoted.  Fields the evidence holds in ``metapsy_*`` columns (study label, condition codes,
multi-arm specification, time label, rating) are written back as imported; for curated records
they are derived (condition code from the kit condition; label Author, Year from the study id;
time ``post`` up to the planned duration, else ``fu``).  ``.id`` and the ``.``-columns are
computed as metapsyTools does (:mod:`mbtevidence.metapsy.effects`).  Not kept by the evidence,
so written ``NA``: baseline means, attrition, the event definition (``dich``), format, modality,
recruitment; RoB 2 is the study's (most severe) judgement, not the outcome's.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..evidence.records import data_block
from ..evidence.tables import Evidence
from .effects import metapsy_effect_sizes
from .mapping import CHANGE_ANALYSIS, CONDITIONS, COUNTRIES, ROB, ROB_DOMAINS
from .reading import NUMERIC_COLUMNS, DatasetInfo, MetapsyFile, metapsy_id

EXPORT_COLUMNS = [
    "study",
    "CHANGES",
    "comparison",
    "condition_arm1",
    "condition_arm2",
    "multi_arm1",
    "multi_arm2",
    "outcome_type",
    "instrument",
    "outcome_domain",
    "outcomes",
    "time",
    "time_weeks",
    "mean_arm1",
    "sd_arm1",
    "n_arm1",
    "mean_arm2",
    "sd_arm2",
    "n_arm2",
    "baseline_m_arm1",
    "baseline_sd_arm1",
    "baseline_n_arm1",
    "baseline_m_arm2",
    "baseline_sd_arm2",
    "baseline_n_arm2",
    "dich",
    "dich_type",
    "event_arm1",
    "event_arm2",
    "totaln_arm1",
    "totaln_arm2",
    "other_stats",
    "rand_arm1",
    "rand_arm2",
    "attr_arm1",
    "attr_arm2",
    "mean_change_arm1",
    "mean_change_arm2",
    "sd_change_arm1",
    "sd_change_arm2",
    "n_change_arm1",
    "n_change_arm2",
    "year",
    "comorbid_mental",
    "comorbid_mental_type",
    "format",
    "format_details",
    "modality",
    "n_sessions_ig",
    "country",
    "age_group",
    "mean_age",
    "percent_women",
    "recruitment",
    "diagnosis",
    "target_group",
    "RoB_D1",
    "RoB_D2",
    "RoB_D3",
    "RoB_D4",
    "RoB_D5",
    "overall_RoB",
    "notes",
    "full_ref",
    ".id",
    "rating",
    ".g",
    ".g_se",
    ".log_rr",
    ".log_rr_se",
    ".event_arm1",
    ".event_arm2",
    ".totaln_arm1",
    ".totaln_arm2",
    "rob",
]
"""The Metapsy BPD database's columns after its unnamed row-number column."""
CODES = {
    "mbt": "mbt",
    "psychodynamic": "pdp",
    "specialised_psychotherapy": "mixed",
    "supportive_therapy": "GT",
    "scm": "GT",
    "tau": "TAU",
    "other": "other",
}
"""Kit condition -> Metapsy condition code, for arms without ``metapsy_condition``."""
DOMAIN_LABELS = {"borderline_features": "BPD severity", "suicide_attempts": "suicidal behaviour"}
"""Outcome construct -> Metapsy outcome_domain, spelled as the BPD database spells it."""
CONTROL_CODES = {code for code, (condition, _) in CONDITIONS.items() if condition in ("tau", "scm")}
EUROPE = {"netherlands", "norway", "sweden", "denmark", "finland", "germany", "italy", "spain", "france"}
RISK_WORDS = {v: k for k, v in ROB.items() if " risk" not in k}


@dataclass
class ExportReport:
    """Where the file went, how many rows it has, and the records left out (reason -> effect ids)."""

    path: Path
    rows: int
    left_out: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"Wrote {self.rows} Metapsy row(s) to {self.path}."]
        lines += [f"Left out {len(ids)} record(s): {reason}" for reason, ids in self.left_out.items()]
        return "\n".join(lines)


def _text(value: object) -> str:
    """A cell as text: "" for missing, whole numbers without ``.0``."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _label(study_id: str, study: pd.Series) -> str:
    """The Metapsy study label: as imported, else ``Author, Year`` from the id (``Bales2017reorg`` ->
    ``Bales, 2017reorg``)."""
    if _text(study.get("metapsy_study")):
        return str(study["metapsy_study"])
    match = re.match(r"(\D+?)(\d{4}.*)", study_id)
    return f"{match.group(1)}, {match.group(2)}" if match else study_id


def _country(text: str) -> str:
    for code, name in COUNTRIES.items():
        if text.lower() == name.lower():
            return code
    return "eu" if text.lower() in EUROPE else "uk" if text.lower() in ("uk", "united kingdom") else "oth"


def _time(record: pd.Series, arm: pd.Series) -> str:
    if _text(record.get("metapsy_time")):
        return str(record["metapsy_time"])
    planned = arm.get("planned_duration_months")
    if planned is None or pd.isna(planned):
        return ""
    return "post" if record["timepoint_months"] <= planned else "fu"


def metapsy_rows(
    evidence: Evidence, include_imported: bool = True
) -> tuple[list[dict[str, str]], dict[str, list[str]]]:
    """The Metapsy rows (text cells, ``""`` for NA) of the evidence's two-arm records, and the
    records left out by reason."""
    studies = evidence.studies.set_index("study")
    arms = evidence.arms.set_index(["study", "arm"])
    rows: list[dict[str, str]] = []
    left_out: dict[str, list[str]] = {}
    for _, record in evidence.effects.iterrows():
        reason = _unexportable(record, include_imported)
        if reason:
            left_out.setdefault(reason, []).append(record["effect_id"])
            continue
        study, arm1, arm2 = (
            studies.loc[record["study"]],
            arms.loc[(record["study"], record["arm"])],
            arms.loc[(record["study"], record["comparator_arm"])],
        )
        codes = [_text(a.get("metapsy_condition")) or CODES[a["condition"]] for a in (arm1, arm2)]
        multi = [_text(a.get("metapsy_multi_arm")) for a in (arm1, arm2)]
        if codes[0].lower() == codes[1].lower() and not any(multi):
            multi = [record["arm"], record["comparator_arm"]]
        row = {
            "study": _label(record["study"], study),
            "comparison": "psy vs ctr" if codes[1].lower() in CONTROL_CODES else "psy vs psy",
            "condition_arm1": codes[0],
            "condition_arm2": codes[1],
            "multi_arm1": multi[0],
            "multi_arm2": multi[1],
            "instrument": record["instrument"],
            "outcome_domain": DOMAIN_LABELS.get(
                record["outcome_construct"], record["outcome_construct"].replace("_", " ")
            ),
            "time": _time(record, arm1),
            "time_weeks": _text(round(record["timepoint_months"] * 52 / 12, 1)),
            "rand_arm1": _text(arm1.get("n_start")),
            "rand_arm2": _text(arm2.get("n_start")),
            "year": _text(study["year"]),
            "n_sessions_ig": _text(arm1.get("sessions_as_reported")),
            "country": _country(str(study["country"])),
            "age_group": "adol" if str(study["population"]).startswith("adolescent") else "adul",
            "mean_age": _text(study.get("age_mean")),
            "percent_women": _text(study.get("percent_women")),
            "diagnosis": "bpd" if str(study["population"]).endswith("bpd") else "",
            "full_ref": study["reference"],
            "rating": _text(record.get("metapsy_rating")),
            "notes": f"mbtevidence record {record['effect_id']}"
            + ("" if study["design"] == "rct" else f"; design {study['design']} (not randomised)"),
            **_study_fields(study),
            **_block(record),
        }
        row[".id"] = metapsy_id(row)
        rows.append(row)
    return rows, left_out


def _unexportable(record: pd.Series, include_imported: bool) -> str:
    if not include_imported and record.get("provenance_kind") == "dataset":
        return "imported from a dataset (left out on request)"
    block = data_block(record)
    if record["timepoint_months"] == 0:
        return "baseline comparison (timepoint 0): a Metapsy row holds an outcome after randomisation"
    if block in ("prepost", "proportion"):
        return f"single-arm {block} record: a Metapsy row compares two arms"
    if block == "reported" and not (
        record["precalc_metric"] == "g" and record["precalc_design"] == "between" and pd.notna(record["precalc_n_arm2"])
    ):
        return "reported statistic other than a between-group Hedges' g with both arm n"
    return ""


def _study_fields(study: pd.Series) -> dict[str, str]:
    out = {}
    if study.get("rob_tool") == "rob2":
        for column, kit in ROB_DOMAINS.items():
            out[column] = RISK_WORDS.get(_text(study.get(kit)), "")
    if study.get("provenance_kind") == "dataset":
        out["comorbid_mental"] = "y" if _text(study.get("comorbidity")) else "n"
        out["comorbid_mental_type"] = _text(study.get("comorbidity"))
    return out


def _block(record: pd.Series) -> dict[str, str]:
    block = data_block(record)
    if block == "two_arm_events":
        counts = {c: _text(record[c]) for c in ("event_arm1", "event_arm2", "totaln_arm1", "totaln_arm2")}
        return {"outcome_type": "dich", **counts, **{f".{c}": v for c, v in counts.items()}}
    if block == "reported":
        return {
            "outcome_type": "precalc",
            "precalc_g": _text(record["precalc_es"]),
            "precalc_g_se": _text(record["precalc_se"]),
            "n_arm1": _text(record["precalc_n_arm1"]),
            "n_arm2": _text(record["precalc_n_arm2"]),
        }
    change = record.get("analysis") == CHANGE_ANALYSIS
    infix = "_change" if change else ""
    values = {f"{q}{infix}_arm{a}": _text(record[f"{q}_arm{a}"]) for a in (1, 2) for q in ("mean", "sd", "n")}
    return {"outcome_type": "change" if change else "msd", **values}


def _cell(column: str, value: str) -> str:
    if value == "":
        return "NA"
    if column in NUMERIC_COLUMNS and column != "CHANGES":
        return format(float(value), ".15g").replace(".", ",")
    return '"' + value.replace('"', '""') + '"'


def export_metapsy(evidence: Evidence, path: Path | str, include_imported: bool = True) -> ExportReport:
    """Write the evidence's two-arm records as a Metapsy database file.

    Parameters
    ----------
    evidence : Evidence
        Validated evidence (:func:`~mbtevidence.load_evidence`).
    path : path
        The file to write (its folder is created).
    include_imported : bool
        Also write records imported from a dataset (default; False leaves them out, e.g. to
        contribute only the curated cohorts back to the database they came from).

    Returns
    -------
    ExportReport
    """
    rows, left_out = metapsy_rows(evidence, include_imported)
    path = Path(path)
    as_file = MetapsyFile(path, EXPORT_COLUMNS[:], rows, list(range(2, len(rows) + 2)), DatasetInfo(path.parent.name))
    for row, (_, es) in zip(rows, metapsy_effect_sizes(as_file).iterrows(), strict=True):
        for quantity in ("g", "g_se") + (("log_rr", "log_rr_se") if row["outcome_type"] == "dich" else ()):
            row[f".{quantity}"] = "" if math.isnan(es[quantity]) else repr(float(es[quantity]))
    columns = EXPORT_COLUMNS + [c for c in ("precalc_g", "precalc_g_se") if any(r.get(c) for r in rows)]
    out = io.StringIO()
    out.write(";".join(f'"{c}"' for c in ["", *columns]) + "\n")
    for number, row in enumerate(rows, start=1):
        out.write(";".join([f'"{number}"', *(_cell(c, row.get(c, "")) for c in columns)]) + "\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue(), encoding="utf-8")
    return ExportReport(path, len(rows), left_out)
