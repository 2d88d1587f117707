"""Characteristics of the included studies, their risk-of-bias table and the traffic-light plot.

Read from ``studies.csv`` (design, population, n_included, age, % women, comorbidity, recruitment
period, rob_tool and the rob_* judgements with rob_reason), ``arms.csv`` (programmes, settings,
n) and ``effects.csv`` (outcomes reported).  The rob_* columns hold five domains and the overall
judgement; their names follow the study's tool: Cochrane RoB 2 for randomised trials (Sterne et
al. BMJ 2019;366:l4898) and ROBINS-I for non-randomised studies (Sterne et al. BMJ
2016;355:i4919), whose low / moderate / serious-critical the evidence records as low /
some_concerns / high.  The plot follows the robvis traffic-light layout (McGuinness & Higgins,
Res Synth Methods 2021;12:55-61).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from ..evidence import Evidence, load_schema
from .statements import outcome_wording

ROB_DOMAINS = {
    "rob2": (
        ("rob_selection", "D1", "Randomisation process"),
        ("rob_deviations", "D2", "Deviations from intended interventions"),
        ("rob_attrition", "D3", "Missing outcome data"),
        ("rob_measurement", "D4", "Measurement of the outcome"),
        ("rob_reporting", "D5", "Selection of the reported result"),
    ),
    "robins_i": (
        ("rob_selection", "D1-2", "Confounding and selection of participants"),
        ("rob_deviations", "D4", "Deviations from intended interventions"),
        ("rob_attrition", "D5", "Missing data"),
        ("rob_measurement", "D6", "Measurement of outcomes"),
        ("rob_reporting", "D7", "Selection of the reported result"),
    ),
}
"""Each tool's domain code and name of the studies.csv rob_* columns (ROBINS-I D3, classification
of interventions, has no column)."""
GENERIC_DOMAINS = {
    "rob_selection": "Selection / confounding",
    "rob_deviations": "Deviations",
    "rob_attrition": "Missing data",
    "rob_measurement": "Measurement",
    "rob_reporting": "Reported result",
}
TOOL_NAMES = {"rob2": "RoB 2 (randomised trials)", "robins_i": "ROBINS-I-style (non-randomised studies)"}
JUDGEMENTS = {
    "low": ("#3a9a47", "+", "Low"),
    "some_concerns": ("#f0b92b", "−", "Some concerns (ROBINS-I: moderate)"),
    "high": ("#c9302c", "×", "High (ROBINS-I: serious or critical)"),
    None: ("#a8a8a8", "?", "No information"),
}


def _studies(evidence: Evidence, studies: Iterable[str] | None) -> pd.DataFrame:
    table = evidence.studies
    if studies is None:
        return table
    wanted = list(dict.fromkeys(studies))
    unknown = sorted(set(wanted) - set(table["study"]))
    if unknown:
        raise ValueError(f"studies not in studies.csv: {', '.join(unknown)}")
    return table.set_index("study").loc[wanted].reset_index()


def _words(vocabulary: str, value: object) -> str:
    if value is None or pd.isna(value):
        return ""
    return load_schema()["vocabularies"][vocabulary].get(str(value), str(value))


def characteristics_table(evidence: Evidence, studies: Iterable[str] | None = None) -> pd.DataFrame:
    """Characteristics of included studies, one row per study (``studies``: ids in table order;
    default all of studies.csv).  Empty cells: not printed in the source."""
    table = _studies(evidence, studies)
    arms, effects = evidence.arms, evidence.effects
    rows = []
    for s in table.itertuples(index=False):
        programmes = [
            f"{a.arm}: {a.label} ({str(a.setting).replace('_', ' ')}"
            + ("" if pd.isna(a.n_start) else f", n = {int(a.n_start)}")
            + ")"
            for a in arms[arms["study"] == s.study].itertuples(index=False)
        ]
        outcomes = effects.loc[effects["study"] == s.study, "outcome_construct"].dropna().unique()
        age = "" if pd.isna(s.age_mean) else f"{s.age_mean:g}" + ("" if pd.isna(s.age_sd) else f" ({s.age_sd:g})")
        rows.append(
            {
                "Study": s.study,
                "Country": s.country,
                "Design": _words("design", s.design),
                "Population": _words("population", s.population),
                "Arms / programmes (setting, n)": "; ".join(programmes),
                "n included": "" if pd.isna(s.n_included) else int(s.n_included),
                "Age, mean (SD)": age,
                "Women, %": "" if pd.isna(s.percent_women) else f"{s.percent_women:g}",
                "Comorbidity": "" if pd.isna(s.comorbidity) else s.comorbidity,
                "Recruitment period": "" if pd.isna(s.recruitment_period) else s.recruitment_period,
                "Outcomes": ", ".join(outcome_wording(o)[1] for o in outcomes),
                "Risk of bias (overall)": _words("rob_judgement", s.rob_overall) or _words("rob_tool", s.rob_tool),
            }
        )
    return pd.DataFrame(rows)


def _domains(table: pd.DataFrame, tool: str) -> tuple[tuple[str, str, str], ...]:
    """The tool's domains whose column the evidence folder has (older folders may lack some)."""
    return tuple(d for d in ROB_DOMAINS[tool] if d[0] in table)


def risk_of_bias_table(evidence: Evidence, studies: Iterable[str] | None = None) -> pd.DataFrame:
    """Risk-of-bias judgements per study: tool, each recorded domain (with the tool's domain
    code), overall and the reviewer's reasons."""
    table = _studies(evidence, studies)
    rows = []
    for s in table.to_dict("records"):
        tool = s["rob_tool"] if s["rob_tool"] in ROB_DOMAINS else None
        row = {"Study": s["study"], "Tool": TOOL_NAMES.get(tool or "", _words("rob_tool", s["rob_tool"]))}
        codes = {column: code for column, code, _ in _domains(table, tool or "rob2")}
        for column, generic in GENERIC_DOMAINS.items():
            if column not in table:
                continue
            value = s[column]
            row[generic] = (
                "" if pd.isna(value) else f"{str(value).replace('_', ' ')}" + (f" ({codes[column]})" if tool else "")
            )
        row["Overall"] = "" if pd.isna(s["rob_overall"]) else str(s["rob_overall"]).replace("_", " ")
        row["Reasons"] = "" if pd.isna(s["rob_reason"]) else s["rob_reason"]
        rows.append(row)
    return pd.DataFrame(rows)


def traffic_light_plot(evidence: Evidence, studies: Iterable[str] | None = None) -> Figure:
    """Traffic-light plot: one panel per tool (RoB 2, ROBINS-I-style), a circle per study and
    recorded domain plus the overall judgement; studies without an assessment are named below."""
    table = _studies(evidence, studies)
    panels = [(tool, table[table["rob_tool"] == tool]) for tool in ROB_DOMAINS]
    panels = [(tool, part) for tool, part in panels if not part.empty]
    if not panels:
        raise ValueError("no study with a RoB 2 or ROBINS-I judgement among the studies asked for")
    unassessed = table.loc[~table["rob_tool"].isin(list(ROB_DOMAINS)), "study"].tolist()
    notes = [
        f"{TOOL_NAMES[tool].split(' (')[0]}: "
        + "; ".join(f"{code} {name.lower()}" for _, code, name in _domains(table, tool))
        + "."
        for tool, _ in panels
    ]
    notes.append("A grey circle: the domain was not judged (empty rob_* cell in studies.csv).")
    if unassessed:
        notes.append(f"Not assessed (secondary reports or no patient outcome data): {', '.join(unassessed)}.")
    note_lines = [line for note in notes for line in textwrap.wrap(note, 105, subsequent_indent="   ")]
    width, row, label_x = 7.5, 0.42, 2.3
    n_domains = max(len(_domains(table, tool)) for tool, _ in panels)
    columns = [label_x + 0.6 + 0.7 * j for j in range(n_domains)] + [label_x + 0.6 + 0.7 * n_domains + 0.3]
    height = sum(0.75 + row * len(part) for _, part in panels) + 0.6 + 0.17 * len(note_lines) + 0.2
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    y = height - 0.15
    for tool, part in panels:
        ax.text(0.1, y, TOOL_NAMES[tool], ha="left", va="top", fontsize=10.5, weight="bold")
        y -= 0.42
        domains = _domains(table, tool)
        shown = [*columns[: len(domains)], columns[-1]]
        for x, code in zip(shown, [code for _, code, _ in domains] + ["Overall"], strict=True):
            ax.text(x, y, code, ha="center", va="center", fontsize=9.5, weight="bold")
        for study in part.to_dict("records"):
            y -= row
            ax.text(label_x, y, study["study"], ha="right", va="center", fontsize=9.5)
            for x, column in zip(shown, [*(c for c, _, _ in domains), "rob_overall"], strict=True):
                colour, symbol, _ = JUDGEMENTS[None if pd.isna(study[column]) else study[column]]
                ax.scatter(x, y, s=330, color=colour, edgecolor="#333333", linewidth=0.6, zorder=3)
                ax.text(x, y, symbol, ha="center", va="center", color="white", fontsize=11, weight="bold", zorder=4)
        y -= 0.33
    for i, (colour, _, words) in enumerate(JUDGEMENTS.values()):
        x, yy = 0.25 + 3.6 * (i % 2), y - 0.05 - 0.26 * (i // 2)
        ax.scatter(x, yy, s=110, color=colour, edgecolor="#333333", linewidth=0.6)
        ax.text(x + 0.18, yy, words, ha="left", va="center", fontsize=8.5)
    ax.text(0.1, y - 0.6, "\n".join(note_lines), ha="left", va="top", fontsize=7.8, linespacing=1.45)
    return fig
