"""Programme attributes (dosage, implementation quality) that follow the patients.

An effect record names the arm its report describes, but the same patients are often described
by several reports (``sample_id``): the Viersprong day-hospital cohort is Bales 2012's MBT-DH arm,
Bales 2015's MBT arm and Bales 2017's PRE-REORG cohort, and only the last prints the adherence
rating.  :func:`records_with_programmes` joins each record to its own arm and then fills every
programme attribute the arm leaves empty from the other arms of the same sample, when those
arms agree on one value; ``attributes_from`` names the arms that supplied a value.

``fidelity_0_1`` is the mean of the arm's total fidelity scores rescaled to 0-1
((mean - scale_min) / (scale_max - scale_min), ``fidelity.csv``), so ratings on different
scales can be compared.
"""

from __future__ import annotations

import pandas as pd

from .schema import load_schema

PROVENANCE_COLUMNS = ("source", "location", "notes", "conflict", "derived_columns", "provenance_kind", "dataset_row_id")


def programme_columns(schema: dict | None = None) -> list[str]:
    """Arm columns describing the programme (schema ``group`` dosage or implementation)."""
    columns = (schema or load_schema())["tables"]["arms"]["columns"]
    return [c for c, spec in columns.items() if spec.get("group") in ("dosage", "implementation")]


def arm_fidelity(fidelity: pd.DataFrame) -> pd.DataFrame:
    """Per arm: mean rescaled total fidelity score (item empty) and the instruments behind it."""
    totals = fidelity[fidelity["item"].isna() & fidelity["rescaled_0_1"].notna()]
    if totals.empty:
        return pd.DataFrame(columns=["study", "arm", "fidelity_0_1", "fidelity_instruments"])
    grouped = totals.groupby(["study", "arm"])
    return pd.DataFrame(
        {
            "fidelity_0_1": grouped["rescaled_0_1"].mean().astype(float),
            "fidelity_instruments": grouped["instrument"].agg(lambda s: "; ".join(sorted(set(s)))),
        }
    ).reset_index()


def programmes(arms: pd.DataFrame, fidelity: pd.DataFrame) -> pd.DataFrame:
    """Arms with their programme attributes and rescaled fidelity, filled across each sample."""
    table = arms.merge(arm_fidelity(fidelity), on=["study", "arm"], how="left")
    columns = [c for c in (*programme_columns(), "fidelity_0_1", "fidelity_instruments") if c in table]
    filled = table.copy()
    sources = pd.Series([[] for _ in range(len(table))], index=table.index, dtype=object)
    for _, members in table.groupby("sample_id").groups.items():
        if len(members) < 2:
            continue
        part = table.loc[members]
        for column in columns:
            values = part[column].dropna()
            if values.nunique() != 1:
                continue
            for i in members:
                if pd.isna(table.at[i, column]):
                    filled.at[i, column] = values.iloc[0]
                    donors = part.loc[values.index, ["study", "arm"]].astype(str).agg("/".join, axis=1)
                    sources[i] = sorted(set(sources[i]) | set(donors))
    filled["attributes_from"] = sources.map(lambda s: "; ".join(s) if s else None)
    return filled


def records_with_programmes(
    effects: pd.DataFrame, arms: pd.DataFrame, fidelity: pd.DataFrame, studies: pd.DataFrame
) -> pd.DataFrame:
    """Effect records joined with study and programme (arm columns keep their names), plus
    Metapsy's ``time_weeks`` = timepoint_months x 52/12."""
    table = programmes(arms, fidelity)
    drop = [c for c in table.columns if c in PROVENANCE_COLUMNS or c.startswith("quote") or c == "sample_id"]
    study_columns = ["study", "reference", "year", "country", "design", "population", "rob_overall"]
    merged = effects.merge(table.drop(columns=drop), on=["study", "arm"], how="left")
    merged = merged.merge(studies[[c for c in study_columns if c in studies]], on="study", how="left")
    return merged.assign(time_weeks=merged["timepoint_months"] * 52 / 12)
