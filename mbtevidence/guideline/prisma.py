"""PRISMA 2020 flow of the evidence behind a summary of findings, and its diagram.

The identification counts are the reviewer's (``evidence/prisma_flow.csv``: the source documents
and any imported dataset with its own search); everything after is computed from the evidence
and the summary of findings: studies described, effect records extracted, records with a
computable effect size, records outside the question (with reasons), one estimate per sample,
and the records pooled per outcome.  The diagram follows the PRISMA 2020 flow template (Page MJ
et al. BMJ 2021;372:n71): phases on the left, the flow top-down, exclusions with their reasons
to the right.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from ..evidence import Evidence
from .sof import SummaryOfFindings
from .statements import outcome_wording

NOT_COMPUTABLE = "no computable effect size"
DESIGN_REASONS = {
    "regression": "regression or growth-model estimate, no standardised effect",
    "moderation": "moderator or interaction test, no standardised effect",
    "correlation": "correlation, no standardised effect",
}


def short_reason(note: str) -> str:
    """A record's ``es_note`` grouped for the diagram (reported regression/moderation estimates
    by kind; otherwise the note up to its first colon)."""
    match = re.match(r"a reported \S+ \((\w+)\) is not converted", note)
    if match and match.group(1) in DESIGN_REASONS:
        return DESIGN_REASONS[match.group(1)]
    return note.split(":")[0].strip() or "no effect size"


def _counts(values: pd.Series) -> pd.Series:
    return values.value_counts().sort_values(ascending=False, kind="stable")


@dataclass
class PrismaFlow:
    """The counts of each box of the flow diagram (reasons as Series: reason -> n)."""

    sources: pd.DataFrame
    studies_described: int
    studies_without_records: list[str]
    studies_without_computable: list[str]
    records_extracted: int
    not_computable: pd.Series
    outside_question: pd.Series
    eligible: int
    same_sample: int
    pooled: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def computable(self) -> int:
        return self.records_extracted - int(self.not_computable.sum())

    def to_frame(self) -> pd.DataFrame:
        """Every count as rows (box, item, n), in diagram order."""
        rows = [("identification", row.label, int(row.records_identified)) for row in self.sources.itertuples()]
        rows += [
            ("studies described", "", self.studies_described),
            ("studies without effect records", "", len(self.studies_without_records)),
            ("studies without a computable effect size", "", len(self.studies_without_computable)),
            ("records extracted", "", self.records_extracted),
        ]
        rows += [("records without a computable effect size", r, int(n)) for r, n in self.not_computable.items()]
        rows += [("records with a computable effect size", "", self.computable)]
        rows += [("records outside the question", r, int(n)) for r, n in self.outside_question.items()]
        rows += [
            ("records eligible", "", self.eligible),
            ("another estimate of the same sample kept", "", self.same_sample),
        ]
        rows += [("records pooled", r.outcome, int(r.records)) for r in self.pooled.itertuples()]
        return pd.DataFrame(rows, columns=["box", "item", "n"])


def prisma_flow(evidence: Evidence, sof: SummaryOfFindings) -> PrismaFlow:
    """Count the flow from the sources to the records pooled in ``sof``'s syntheses."""
    sources = evidence.tables.get("prisma_flow", pd.DataFrame()).copy()
    if sources.empty:
        sources = pd.DataFrame(columns=["document", "kind", "label", "records_identified"])
    notes = []
    used = set(evidence.studies["source"].dropna()) | set(evidence.effects["source"].dropna())
    undeclared = sorted(used - set(sources["document"]))
    if undeclared:
        from_data = set(evidence.studies.loc[evidence.studies.get("provenance_kind") == "dataset", "source"])
        kinds = ["dataset" if d in from_data else "other" for d in undeclared]
        notes.append(f"sources not listed in prisma_flow.csv (identification counts unknown): {', '.join(undeclared)}")
        extra = pd.DataFrame({"document": undeclared, "kind": kinds, "label": undeclared, "records_identified": 1})
        sources = pd.concat([sources, extra], ignore_index=True)
    per_source = evidence.studies.groupby("source")["study"].nunique()
    sources = sources.assign(studies_in_evidence=sources["document"].map(per_source).fillna(0).astype(int))
    records = sof.records
    screening = records["screening"]
    with_records = set(records["study"])
    with_computable = set(records.loc[records["yi"].notna(), "study"])
    studies = list(evidence.studies["study"])
    pooled_rows = []
    for finding in sof.findings:
        rows = finding.synthesis.rows if finding.synthesis is not None else records.iloc[:0]
        pooled_rows.append(
            {
                "outcome": finding.outcome,
                "records": len(rows),
                "samples": rows["sample_id"].nunique(),
                "studies": rows["study"].nunique(),
            }
        )
    pooled = pd.DataFrame(pooled_rows)
    eligible = int((screening == "").sum())
    return PrismaFlow(
        sources=sources,
        studies_described=len(studies),
        studies_without_records=[s for s in studies if s not in with_records],
        studies_without_computable=[s for s in studies if s in with_records and s not in with_computable],
        records_extracted=len(records),
        not_computable=_counts(records.loc[screening == NOT_COMPUTABLE, "es_note"].map(short_reason)),
        outside_question=_counts(screening[(screening != "") & (screening != NOT_COMPUTABLE)]),
        eligible=eligible,
        same_sample=eligible - int(pooled["records"].sum()),
        pooled=pooled,
        notes=notes,
    )


# -- the diagram ----------------------------------------------------------------------------
FONT = 8.5
LINE = FONT * 1.32 / 72  # inches per text line
PAD = 0.12
WIDTH = 10.0
MAIN = (1.0, 4.9)  # x and width of the main column (inches)
SIDE = (6.25, 3.6)
SOURCE_WORDS = {
    "seed_text": "Source documents supplied to the kit",
    "dataset": "Datasets (records from their own searches)",
    "database": "Records from databases",
    "register": "Records from registers",
    "other": "Other sources",
}
PHASE_COLOUR = "#a9c4e0"
BOX: dict[str, Any] = {"edgecolor": "#333333", "facecolor": "white", "linewidth": 0.9}


def _n(count: object) -> str:
    """A count as (n = 12) with non-breaking spaces, so it never breaks across lines."""
    return f"(n\u00a0=\u00a0{count})"


def _lines(items: list[str], width_inches: float) -> list[str]:
    chars = int(width_inches * 72 / (FONT * 0.55))
    out: list[str] = []
    for item in items:
        indent = "    " if item.startswith("• ") else ""
        out += textwrap.wrap(item, chars, subsequent_indent=indent) or [""]
    return out


def _box_text(flow: PrismaFlow) -> list[tuple[str, list[str], list[str]]]:
    """(phase, main-box lines, exclusion-box lines) per row of the diagram, top-down."""
    src = flow.sources
    kinds = src.groupby("kind", sort=False)
    identified: list[str] = []
    side_identification: list[str] = []
    for kind, group in kinds:
        identified.append(f"{SOURCE_WORDS.get(str(kind), str(kind))} {_n(int(group['records_identified'].sum()))}:")
        for row in group.itertuples():
            included = getattr(row, "studies_included", None)
            own = "" if included is None or pd.isna(included) else f"{int(included)} studies included by its search; "
            k = row.studies_in_evidence
            identified.append(f"• {row.label} ({own}{k} stud{'ies' if k != 1 else 'y'} in the evidence)")
    for column, words in (
        ("duplicates_removed", "duplicate records removed"),
        ("records_excluded", "records excluded at screening"),
        ("reports_excluded", "full-text reports excluded"),
    ):
        if column in src and src[column].notna().any():
            side_identification.append(f"• {words} {_n(int(src[column].sum()))}")
    for row in src.itertuples():
        reasons = getattr(row, "exclusion_reasons", None)
        if isinstance(reasons, str) and reasons:
            side_identification.append(f"• full-text exclusion reasons ({row.document}): {reasons}")
    if side_identification:
        side_identification.insert(0, "Excluded by the sources' own searches:")
    no_data = flow.studies_without_records + flow.studies_without_computable
    pooled = flow.pooled
    included = [
        f"Records pooled {_n(int(pooled['records'].sum()))}, one per independent sample, "
        f"in {int((pooled['records'] > 0).sum())} of the {len(pooled)} outcome syntheses:"
    ]
    for r in pooled.itertuples():
        name = outcome_wording(r.outcome)[1]
        what = f"{r.samples} sample{'s' * (r.samples != 1)} ({r.studies} stud{'ies' if r.studies != 1 else 'y'})"
        included.append(f"• {name[:1].upper() + name[1:]}: {what if r.records else 'no sample'}")
    return [
        ("Identification", identified, side_identification),
        (
            "Screening",
            [f"Studies described in the sources {_n(flow.studies_described)}"],
            [f"Studies without a computable effect record {_n(len(no_data))}:"]
            + [f"• no outcome record extracted {_n(len(flow.studies_without_records))}"]
            + [f"• only records without a computable effect {_n(len(flow.studies_without_computable))}"],
        ),
        (
            "Screening",
            [f"Effect records extracted {_n(flow.records_extracted)}"],
            [f"Records without a computable effect size {_n(int(flow.not_computable.sum()))}:"]
            + [f"• {r} {_n(n)}" for r, n in flow.not_computable.items()],
        ),
        (
            "Screening",
            [f"Records with a computable effect size {_n(flow.computable)}"],
            [f"Records outside the question {_n(int(flow.outside_question.sum()))}:"]
            + [f"• {r} {_n(n)}" for r, n in flow.outside_question.items()],
        ),
        (
            "Screening",
            [f"Records eligible for the syntheses {_n(flow.eligible)}"],
            [f"Another estimate of the same sample kept {_n(flow.same_sample)}"],
        ),
        ("Included", included, []),
    ]


def prisma_diagram(flow: PrismaFlow, title: str | None = None) -> Figure:
    """The PRISMA 2020 flow diagram of ``flow``: boxes, arrows and the phases on the left."""
    rows = []
    for phase, main, side in _box_text(flow):
        main_lines, side_lines = _lines(main, MAIN[1] - 2 * PAD), _lines(side, SIDE[1] - 2 * PAD)
        height = max(len(main_lines), len(side_lines)) * LINE + 2 * PAD
        rows.append((phase, main_lines, side_lines, height))
    gap = 0.38
    top = 0.3 + 0.22 * len(textwrap.wrap(title, 95)) if title else 0.1
    total = top + sum(r[3] for r in rows) + gap * (len(rows) - 1) + 0.1
    fig = plt.figure(figsize=(WIDTH, total))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(0, total)
    ax.axis("off")
    if title:
        title = textwrap.fill(title, 95)
        ax.text(WIDTH / 2, total - 0.08, title, ha="center", va="top", fontsize=FONT + 2.5, weight="bold")
    y = total - top
    placed = []
    for phase, main_lines, side_lines, height in rows:
        main_h = len(main_lines) * LINE + 2 * PAD
        box_top = y
        for (x, w), lines in ((MAIN, main_lines), (SIDE, side_lines)):
            if not lines:
                continue
            h = len(lines) * LINE + 2 * PAD if (x, w) == SIDE else main_h
            ax.add_patch(FancyBboxPatch((x, box_top - h), w, h, boxstyle="square,pad=0", **BOX))
            ax.text(x + PAD, box_top - PAD, "\n".join(lines), va="top", ha="left", fontsize=FONT, linespacing=1.32)
        if side_lines:
            mid = box_top - min(main_h, len(side_lines) * LINE + 2 * PAD) / 2
            ax.annotate("", (SIDE[0], mid), (MAIN[0] + MAIN[1], mid), arrowprops={"arrowstyle": "-|>", "lw": 0.9})
        placed.append((phase, box_top, box_top - height, box_top - main_h))
        y -= height + gap
    for (_, _, _, main_bottom), (_, next_top, _, _) in pairwise(placed):
        x = MAIN[0] + MAIN[1] / 2
        ax.annotate("", (x, next_top), (x, main_bottom), arrowprops={"arrowstyle": "-|>", "lw": 0.9})
    for phase in dict.fromkeys(p[0] for p in placed):
        spans = [p for p in placed if p[0] == phase]
        upper, lower = spans[0][1], spans[-1][2]
        bar = FancyBboxPatch((0.12, lower), 0.55, upper - lower, boxstyle="round,pad=0,rounding_size=0.12")
        bar.set(facecolor=PHASE_COLOUR, edgecolor="none")
        ax.add_patch(bar)
        ax.text(
            0.395, (upper + lower) / 2, phase, rotation=90, ha="center", va="center", fontsize=FONT + 1, weight="bold"
        )
    return fig
