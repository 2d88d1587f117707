"""Metapsy rows -> evidence records: one study per Metapsy study, its arms, one effect record per row.

=====================  ======================================================================
Metapsy                evidence
=====================  ======================================================================
study                  ``studies.study`` (``Kredlow, 2017a`` -> ``Kredlow2017a``; a name taken
                       by a curated study gets ``metapsy``), label kept in ``metapsy_study``
full_ref, year         ``reference``, ``year``; design ``rct``
country, mean_age,     ``country`` (code -> region), ``age_mean``, ``percent_women``,
percent_women, ...     ``comorbidity`` (``comorbid_mental_type`` when ``comorbid_mental = y``)
RoB_D1..D5, overall    ``rob_selection``, ``rob_deviations``, ``rob_attrition``, ``rob_measurement``,
                       ``rob_reporting``, ``rob_overall``: the most severe judgement of the study's
                       rows (RoB 2 is per outcome; each record's notes keep its own)
condition_arm1/2,      one arm each: ``condition`` mapped (:data:`CONDITIONS`), the code in
multi_arm1/2           ``metapsy_condition`` / ``metapsy_multi_arm``; ``n_start`` = ``rand_arm``
n_sessions_ig          ``sessions_as_reported`` (text); ``days_per_week`` / ``hours_per_day`` only
                       when stated once and not approximate; setting from the words of the title
                       and dosage text when exactly one setting is named, else ``not_reported``
msd / change / dich    ``two_arm_means`` (change: analysis :data:`CHANGE_ANALYSIS`) /
                       ``two_arm_events``; ``precalc`` g -> ``reported`` (metric g, between)
outcome_domain         ``outcome_construct`` (:data:`DOMAINS`); instrument as coded
time, time_weeks,      ``metapsy_time``, ``timepoint_months`` = weeks x 12/52 (3 decimals),
rating                 ``metapsy_rating``
.id                    ``dataset_row_id`` with ``provenance_kind = dataset`` instead of a quote;
                       ``source`` = the dataset folder, ``location`` = line, commit and DOI
=====================  ======================================================================

Analysis population: ``itt`` when the outcome's n equals the randomised n in both arms,
``completers`` when it is smaller in an arm, else ``not_reported``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..evidence.reading import Problem, read_table
from ..evidence.schema import load_schema
from .effects import Agreement, agreement, metapsy_effect_sizes
from .mapping import (
    CHANGE_ANALYSIS,
    CONDITIONS,
    COUNTRIES,
    DOMAINS,
    HIGHER_IS_BETTER,
    ROB,
    ROB_DOMAINS,
    SEVERITY,
    number_text,
    parse_dosage,
    parse_setting,
    slug,
    study_id,
)
from .reading import MetapsyFile


@dataclass
class ImportResult:
    """Evidence records converted from a Metapsy file, what was left out, and the agreement report."""

    file: MetapsyFile
    tables: dict[str, list[dict[str, str]]]
    agreement: Agreement
    skipped: list[Problem] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    linked_samples: set[str] = field(default_factory=set)
    """Sample ids of curated arms the import linked to (the same trial's patients)."""

    def summary(self) -> str:
        counts = ", ".join(f"{len(rows)} {name}" for name, rows in self.tables.items())
        lines = [
            f"Read {len(self.file.rows)} rows of {self.file.path} ({self.file.dataset.name}; "
            f"{self.file.dataset.describe()}).",
            f"Imported: {counts}; {len(self.skipped)} row(s) left out.",
        ]
        lines += [str(p) for p in self.file.problems + self.skipped]
        lines += [f"Linked: {link}" for link in self.links]
        return "\n".join([*lines, self.agreement.summary()])

    def to_dict(self) -> dict[str, object]:
        return {
            "file": str(self.file.path),
            "dataset": self.file.dataset.__dict__,
            "rows_read": len(self.file.rows),
            "imported": {name: len(rows) for name, rows in self.tables.items()},
            "left_out": [str(p) for p in self.skipped],
            "notes": [str(p) for p in self.file.problems],
            "links": self.links,
            "agreement": self.agreement.to_dict(),
        }


class _Converter:
    def __init__(self, file: MetapsyFile, existing: dict[str, list[dict[str, str]]]):
        self.file = file
        self.frame = file.frame
        self.effect_sizes = metapsy_effect_sizes(file)
        self.existing = existing
        self.tables: dict[str, list[dict[str, str]]] = {"studies": [], "arms": [], "effects": []}
        self.ids: dict[str, str] = {}
        self.arms: dict[tuple[str, str], dict[str, str]] = {}
        self.skipped: list[Problem] = []
        self.links: list[str] = []
        self.linked_samples: set[str] = set()
        self.trial_of: dict[str, str] = {}
        """Imported study id -> the curated randomised trial it is."""

    def provenance(self, i: int) -> dict[str, str]:
        dataset = self.file.dataset
        return {
            "source": dataset.name,
            "location": f"{self.file.path.name}, line {self.file.lines[i]}; {dataset.describe()}",
            "quote": "",
            "provenance_kind": "dataset",
            "dataset_row_id": self.file.rows[i].get(".id", ""),
        }

    def text(self, i: int, column: str) -> str:
        return self.file.rows[i].get(column, "")

    def number(self, i: int, column: str) -> str:
        """The cell as an evidence number ("" when NA, absent or not a number, e.g. a free-text age)."""
        try:
            value = self.file.number(i, column)
        except ValueError:
            return ""
        return "" if math.isnan(value) else number_text(value)

    def study(self, label: str, rows: list[int]) -> str:
        first = rows[0]
        sid = study_id(label)
        curated = {r["study"]: r for r in self.existing.get("studies", []) if r.get("provenance_kind") != "dataset"}
        self.ids[label] = sid + "metapsy" if sid in curated else sid
        if curated.get(sid, {}).get("design") == "rct":
            self.trial_of[self.ids[label]] = sid
            self.links.append(f"{label} is the trial {sid} of the curated evidence: imported as {self.ids[label]}")
        judgements = {column: [ROB.get(self.text(i, column).lower(), "") for i in rows] for column in ROB_DOMAINS}
        per_outcome = "; ".join(
            f"{self.text(i, 'outcome_domain')} ({self.text(i, 'instrument')}): "
            + ", ".join(f"{c.replace('RoB_', '')} {self.text(i, c) or 'NA'}" for c in ROB_DOMAINS)
            for i in rows
        )
        row = {
            "study": self.ids[label],
            "reference": self.text(first, "full_ref") or label,
            "year": self.number(first, "year") or re.sub(r"\D", "", label)[:4],
            "country": COUNTRIES.get(
                self.text(first, "country").lower(), self.text(first, "country") or "not reported"
            ),
            "design": "rct",
            "population": "adolescent_bpd" if self.text(first, "age_group") in ("adol", "child") else "adult_bpd",
            "age_mean": self.number(first, "mean_age"),
            "percent_women": self.number(first, "percent_women"),
            "comorbidity": self.text(first, "comorbid_mental_type")
            if self.text(first, "comorbid_mental") == "y"
            else "",
            "rob_tool": "rob2",
            **{
                kit: max(v, key=SEVERITY.index) if all(v) else ""
                for c, kit in ROB_DOMAINS.items()
                for v in [judgements[c]]
            },
            "rob_reason": f"RoB 2 as rated in the Metapsy database, per outcome: {per_outcome}. The study columns hold "
            "the most severe judgement per domain (D1 randomisation -> rob_selection, D2 deviations -> rob_deviations, "
            "D3 missing data -> rob_attrition, D4 measurement -> rob_measurement, D5 reporting -> rob_reporting).",
            "metapsy_study": label,
            "notes": f"Imported from the Metapsy database {self.file.dataset.name} ({self.file.dataset.describe()}).",
            **self.provenance(first),
        }
        self.tables["studies"].append(row)
        return self.ids[label]

    def arm(self, sid: str, i: int, side: str) -> str:
        code, multi = self.text(i, f"condition_arm{side}"), self.text(i, f"multi_arm{side}")
        arm = code.upper() + (f"-{slug(multi).upper()}" if multi and multi.lower() != code.lower() else "")
        if (sid, arm) in self.arms:
            return arm
        condition, label = CONDITIONS.get(code.lower(), ("other", f"Metapsy condition {code}"))
        sample, setting, notes = f"{sid.lower()}_{arm.lower()}", "not_reported", []
        dosage_text = self.text(i, "n_sessions_ig") if side == "1" else ""
        if side == "1":
            setting = parse_setting(self.text(i, "full_ref") + " " + dosage_text)
            notes.append(f"Setting {setting}: from the words of the title and the dosage text (n_sessions_ig).")
        linked = self.linked_arm(sid, condition)
        if linked is not None:
            sample, condition, setting = linked["sample_id"], linked["condition"], linked["setting"]
            self.linked_samples.add(sample)
            self.links.append(f"{sid}/{arm} is sample {sample} (arm {linked['arm']} of {linked['study']})")
            notes.append(
                f"Same patients as arm {linked['arm']} of {linked['study']}: sample, condition and setting from it."
            )
        row = {
            "study": sid,
            "arm": arm,
            "label": label + (f" ({multi})" if multi else "") + f"; Metapsy code {code}",
            "condition": condition,
            "sample_id": sample,
            "setting": setting,
            "n_start": self.number(i, f"rand_arm{side}") if f"rand_arm{side}" in self.frame else "",
            **parse_dosage(dosage_text),
            "sessions_as_reported": dosage_text,
            "metapsy_condition": code,
            "metapsy_multi_arm": multi,
            "notes": " ".join(notes),
            **self.provenance(i),
        }
        self.arms[(sid, arm)] = row
        self.tables["arms"].append(row)
        return arm

    def linked_arm(self, sid: str, condition: str) -> dict[str, str] | None:
        """The curated arm of the same trial with this condition (one only), when the study is linked."""
        trial = self.trial_of.get(sid)
        if trial is None:
            return None
        same = [r for r in self.existing.get("arms", []) if r["study"] == trial and r["condition"] == condition]
        return same[0] if len(same) == 1 else None

    def effect(self, sid: str, i: int) -> None:
        kind, weeks = self.text(i, "outcome_type"), self.frame["time_weeks"].iloc[i]
        es = self.effect_sizes.iloc[i]
        reason = self.unconvertible(i, kind, weeks)
        if reason:
            self.skipped.append(Problem(str(self.file.path), self.file.lines[i], None, None, reason, "warning"))
            return
        arm1, arm2 = self.arm(sid, i, "1"), self.arm(sid, i, "2")
        instrument, domain = self.text(i, "instrument"), self.text(i, "outcome_domain")
        lower_is_better = not (
            instrument.lower() in HIGHER_IS_BETTER or self.text(i, "dich_type").lower() in ("response", "remission")
        )
        months = number_text(round(weeks * 12 / 52, 3))
        row = {
            "effect_id": f"{sid}.{arm1}.{slug(instrument)}.{months}m.{kind}",
            "study": sid,
            "arm": arm1,
            "comparator_arm": arm2,
            "sample_id": self.arms[(sid, arm1)]["sample_id"],
            "outcome_construct": DOMAINS.get(domain.lower(), "other"),
            "instrument": instrument,
            "lower_is_better": "yes" if lower_is_better else "no",
            "timepoint_months": months,
            "analysis": CHANGE_ANALYSIS if kind == "change" else "",
            "analysis_population": self.population(i, kind),
            **self.block(i, kind, lower_is_better),
            "secondary_report": "no",
            "metapsy_time": self.text(i, "time"),
            "metapsy_rating": self.text(i, "rating"),
            "notes": self.effect_notes(i, kind, weeks, months, float(es["g"]), float(es["g_se"])),
            **self.provenance(i),
        }
        taken = {r["effect_id"] for r in self.tables["effects"]}
        while row["effect_id"] in taken:
            row["effect_id"] += "+"
        self.tables["effects"].append(row)

    def unconvertible(self, i: int, kind: str, weeks: float) -> str:
        if weeks != weeks:
            return "time_weeks is NA: the record needs timepoint_months; row left out"
        if kind not in ("msd", "change", "dich", "precalc"):
            return f"outcome_type {kind!r} has no evidence data block; row left out"
        if kind == "precalc" and (
            self.number(i, "precalc_g") == "" or "" in (self.number(i, "n_arm1"), self.number(i, "n_arm2"))
        ):
            return (
                "precalc row without precalc_g and both arm n (a log risk ratio is not a printed ratio); row left out"
            )
        return ""

    def population(self, i: int, kind: str) -> str:
        prefix = "totaln" if kind == "dich" else "n_change" if kind == "change" else "n"
        pairs = [(self.frame.get(f"{prefix}_arm{a}"), self.frame.get(f"rand_arm{a}")) for a in (1, 2)]
        values = [(n.iloc[i], r.iloc[i]) for n, r in pairs if n is not None and r is not None]
        if len(values) < 2 or any(v != v for pair in values for v in pair):
            return "not_reported"
        return (
            "itt"
            if all(n == r for n, r in values)
            else "completers"
            if any(n < r for n, r in values)
            else "not_reported"
        )

    def block(self, i: int, kind: str, lower_is_better: bool) -> dict[str, str]:
        if kind == "dich":
            return {c: self.number(i, c) for c in ("event_arm1", "totaln_arm1", "event_arm2", "totaln_arm2")}
        if kind == "precalc":
            return {
                "precalc_es": self.number(i, "precalc_g"),
                "precalc_se": self.number(i, "precalc_g_se"),
                "precalc_metric": "g",
                "precalc_design": "between",
                "precalc_positive": "deterioration" if lower_is_better else "improvement",
                "precalc_n_arm1": self.number(i, "n_arm1"),
                "precalc_n_arm2": self.number(i, "n_arm2"),
            }
        infix = "_change" if kind == "change" else ""
        return {f"{q}_arm{a}": self.number(i, f"{q}{infix}_arm{a}") for a in (1, 2) for q in ("mean", "sd", "n")}

    def effect_notes(self, i: int, kind: str, weeks: float, months: str, g: float, g_se: float) -> str:
        dich = f"; event: {self.text(i, 'dich')} ({self.text(i, 'dich_type')})" if kind == "dich" else ""
        rob = ", ".join(f"{c.replace('RoB_', '')} {self.text(i, c) or 'NA'}" for c in ROB_DOMAINS)
        recomputed = f"metapsyTools g {g:.4f} (SE {g_se:.4f})" if g == g else "no metapsyTools g"
        return (
            f"Metapsy {kind} row, outcome_domain {self.text(i, 'outcome_domain')!r}, time {self.text(i, 'time')!r} "
            f"at {weeks:g} weeks (timepoint_months = weeks x 12/52 = {months}){dich}. RoB 2 for this outcome: {rob}. "
            f"{recomputed}, published .g {self.text(i, '.g') or 'NA'}."
        )


def read_raw_tables(evidence_dir: Path) -> dict[str, list[dict[str, str]]]:
    """The studies and arms of an evidence folder as text rows (unvalidated), for linking trials."""
    problems: list[Problem] = []
    schema = load_schema()
    out = {}
    for name in ("studies", "arms"):
        table = read_table(Path(evidence_dir) / schema["tables"][name]["file"], name, problems)
        out[name] = table.rows if table is not None else []
    return out


def convert(file: MetapsyFile, condition: str | None = None, existing: Path | None = None) -> ImportResult:
    """Convert a Metapsy file's rows to evidence records (studies, arms, effects).

    Parameters
    ----------
    file : MetapsyFile
        From :func:`~mbtevidence.metapsy.read_metapsy`.
    condition : str, optional
        Keep rows whose ``condition_arm1`` is this code (case-insensitive), e.g. ``"mbt"``.
    existing : path, optional
        An evidence folder whose curated studies the import must not collide with: a Metapsy
        study whose id is taken gets the suffix ``metapsy``; when the curated study is a
        randomised trial it is the same trial, and arms of the same condition share its
        ``sample_id`` (and condition and setting).

    Returns
    -------
    ImportResult
        ``tables`` (rows as text, in schema columns), rows left out with the reason, the links
        made and the :class:`~mbtevidence.metapsy.effects.Agreement` of the recomputed effect sizes.
    """
    converter = _Converter(file, read_raw_tables(existing) if existing is not None else {})
    columns = load_schema()["tables"]
    by_study: dict[str, list[int]] = {}
    for i, row in enumerate(file.rows):
        if condition is None or row.get("condition_arm1", "").lower() == condition.lower():
            by_study.setdefault(row["study"], []).append(i)
    for label, rows in by_study.items():
        sid = converter.study(label, rows)
        for i in rows:
            converter.effect(sid, i)
    tables = {
        name: [{c: row.get(c, "") for c in columns[name]["columns"]} for row in rows]
        for name, rows in converter.tables.items()
    }
    return ImportResult(file, tables, agreement(file), converter.skipped, converter.links, converter.linked_samples)
