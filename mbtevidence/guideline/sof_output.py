"""The summary of findings as a table: DataFrame/CSV, HTML (page and notebook fragment) and Word.

All three show the same cells: per outcome the samples, participants and designs, the pooled
effect with its CI, the prediction interval, the few-study Bayesian interval, I², the certainty
with footnotes and the plain-language statement; then the evidence profile (each GRADE domain's
rating and the rule that gave it, overrides marked) and the numbered footnotes.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd

from ..engine.text import TEST_NAMES
from .grade import DOMAIN_LABELS, DOMAINS, SYMBOLS, rating_label
from .sof import OutcomeFindings, SummaryOfFindings, ratio_sign
from .statements import outcome_wording

MEASURE_WORDS = {
    "SMCR": "standardised mean change (change from baseline / baseline SD, Hedges-corrected); positive = improvement",
    "SMD": "standardised mean difference, Hedges' g, of MBT vs the comparator; positive = MBT better",
    "RR": "risk ratio of MBT vs the comparator (pooled as log RR); below 1: fewer events with MBT",
}
OIS_WORDS = {
    "SMCR": "2(1 − r)(z₀.₉₇₅ + z₀.₈₀)²/MID² (paired change)",
    "SMD": "4(z₀.₉₇₅ + z₀.₈₀)²/MID² (two equal arms)",
    "RR": "2(z₀.₉₇₅ + z₀.₈₀)²[p₀(1 − p₀) + p₁(1 − p₁)]/(p₀ − p₁)², p₀ the comparator event rate, p₁ = 0.75 p₀",
}
MID_WORDS = {"SMCR": "0.2 SD", "SMD": "0.2 SD", "RR": "RR 0.8 or 1.25"}
HEADERS = (
    "Outcome",
    "Samples (studies); participants; designs",
    "Effect (95% CI)",
    "95% prediction interval",
    "Bayesian 95% CrI (2 ≤ k < 5)",
    "I²",
    "Certainty",
    "What happens",
)


def number(value: object, digits: int = 2) -> str:
    """A number for a table: fixed digits, a true minus sign, an en dash for missing."""
    if value is None or not isinstance(value, (int, float)) or value != value or abs(value) == float("inf"):
        return "–"
    return f"{value:.{digits}f}".replace("-", "−")


def interval(low: object, high: object) -> str:
    return "–" if number(low) == "–" else f"{number(low)} to {number(high)}"


def interval_text(finding: OutcomeFindings, low: float | None, high: float | None) -> str:
    """An interval on the scale the table shows (risk ratios back-transformed)."""
    sign = None if finding.synthesis is None else ratio_sign(finding.measure, finding.synthesis.rows)
    if sign is None or number(low) == "–":
        return interval(low, high)
    ends = sorted(math.exp(sign * float(v)) for v in (low, high) if v is not None)
    return interval(*ends)


def effect_text(finding: OutcomeFindings) -> str:
    """The pooled effect as the table shows it, e.g. SMCR 0.82 (0.36 to 1.28) or RR 0.62 (0.35 to 1.10)."""
    d = finding.result()
    sign = None if finding.synthesis is None else ratio_sign(finding.measure, finding.synthesis.rows)
    estimate = d["estimate"] if sign is None else math.exp(sign * d["estimate"])
    label = finding.measure if sign is not None or finding.measure != "RR" else "log RR (positive = better)"
    return f"{label} {number(estimate)} ({interval_text(finding, d['ci_low'], d['ci_high'])})"


def finding_notes(finding: OutcomeFindings) -> list[str]:
    """Footnote texts of one outcome: the starting level, each downgraded or overridden domain,
    an n that is only a bound."""
    notes = []
    if finding.start == "low":
        notes.append(
            "Non-randomised evidence (cohorts, or within-group change even inside a trial): "
            "the certainty starts at low (GRADE)."
        )
    notes += [j.footnote() for j in finding.judgements.values() if j.levels > 0 or j.overridden]
    if finding.n_is_bound:
        notes.append("Participants include an upper bound where a report does not print the n (n_upper).")
    return notes


def footnote_numbers(sof: SummaryOfFindings) -> tuple[list[str], list[list[int]]]:
    """All footnote texts (identical texts share a number) and each outcome's numbers."""
    texts: list[str] = []
    per_outcome = []
    for finding in sof.findings:
        numbers = []
        for text in finding_notes(finding):
            if text not in texts:
                texts.append(text)
            numbers.append(texts.index(text) + 1)
        per_outcome.append(numbers)
    return texts, per_outcome


def footnote_texts(sof: SummaryOfFindings) -> list[str]:
    return footnote_numbers(sof)[0]


def _note_of(sof: SummaryOfFindings, finding: OutcomeFindings, domain: str) -> int | None:
    judgement = finding.judgements.get(domain)
    if judgement is None or not (judgement.levels > 0 or judgement.overridden):
        return None
    return footnote_texts(sof).index(judgement.footnote()) + 1


def findings_frame(sof: SummaryOfFindings) -> pd.DataFrame:
    """One row per outcome with every number unrounded (see :meth:`SummaryOfFindings.to_frame`)."""
    _, numbers = footnote_numbers(sof)
    rows = []
    for finding, notes in zip(sof.findings, numbers, strict=True):
        d = finding.result()
        bayes = finding.bayes
        row = {
            "outcome": finding.outcome,
            "outcome_label": outcome_wording(finding.outcome)[1],
            "instruments": "; ".join(finding.instruments),
            "k": finding.k,
            "studies": "; ".join(finding.studies),
            "n": finding.n,
            "n_is_bound": finding.n_is_bound,
            "designs": finding.designs,
            "measure": finding.measure,
            "effect": effect_text(finding) if finding.synthesis is not None else "",
            **{key: d.get(key) for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "i2", "tau2")},
            "bayes_low": None if bayes is None else bayes.mu_low,
            "bayes_high": None if bayes is None else bayes.mu_high,
            "mid": finding.mid,
            "ois": finding.ois,
            "start": finding.start,
        }
        for domain in DOMAINS:
            judgement = finding.judgements.get(domain)
            row[domain] = None if judgement is None else judgement.rating
            row[f"{domain}_rule"] = None if judgement is None else judgement.rule
            row[f"{domain}_suggested"] = None if judgement is None else judgement.suggested
            row[f"{domain}_reason"] = None if judgement is None else judgement.reason
        row |= {
            "certainty": finding.certainty,
            "statement": finding.statement,
            "footnotes": "; ".join(str(n) for n in notes),
        }
        rows.append(row)
    return pd.DataFrame(rows)


def conventions(sof: SummaryOfFindings) -> list[str]:
    """The methods a reader needs to read the table, one sentence each."""
    level = next((f.result()["level"] for f in sof.findings if f.synthesis is not None), 95.0)
    measures = list(dict.fromkeys(f.measure for f in sof.findings if f.synthesis is not None))
    return [
        *(f"Effect: {m}, {MEASURE_WORDS.get(m, m)}." for m in measures),
        f"Random-effects meta-analysis, τ² by {sof.method}, {TEST_NAMES.get(sof.test, sof.test)} {level:g}% CI; "
        f"{sof.rule.describe()}. Prediction intervals are not reported for k < 3.",
        f"Bayesian interval where 2 ≤ k < 5: normal-normal hierarchical model, τ ~ {sof.tau_prior.replace(':', ' ')}, "
        "flat prior on the mean, equal-tailed 95% credible interval (deterministic integration).",
        *(
            f"{m}: minimal important difference {MID_WORDS.get(m, m)} unless stated; optimal information size "
            f"{OIS_WORDS.get(m, '')} participants (α = 0.05, power 0.80; GRADE guidelines 6)."
            for m in measures
        ),
        "Certainty: high ⊕⊕⊕⊕, moderate ⊕⊕⊕◯, low ⊕⊕◯◯, very low ⊕◯◯◯. Ratings marked “reviewer” were changed "
        "from the suggested rating in evidence/grade_judgements.csv.",
        f"Evidence version {sof.evidence_version}.",
    ]


def cells(sof: SummaryOfFindings, finding: OutcomeFindings, notes: list[int]) -> list[str]:
    """The eight plain-text cells of one outcome row (footnote numbers in brackets)."""
    _, name = outcome_wording(finding.outcome)
    outcome = name[:1].upper() + name[1:]
    if finding.synthesis is None:
        return [outcome, "no sample", "–", "–", "–", "–", "–", finding.statement]
    d = finding.result()
    studies = len(finding.studies)
    counts = (
        f"{finding.k} sample{'s' * (finding.k != 1)} ({studies} stud{'ies' if studies != 1 else 'y'}); "
        f"{finding.n:.0f}{'≤' * finding.n_is_bound} participants; {finding.designs}"
    )
    bayes = finding.bayes
    certainty = f"{SYMBOLS[finding.certainty]} {finding.certainty.capitalize()}"
    if notes:
        certainty += " [" + ",".join(str(n) for n in notes) + "]"
    return [
        f"{outcome} ({'; '.join(finding.instruments)})",
        counts,
        effect_text(finding),
        interval_text(finding, d["pi_low"], d["pi_high"]) if d["pi_low"] is not None else "– (k < 3)",
        interval_text(finding, bayes.mu_low, bayes.mu_high)
        if bayes is not None
        else f"– (k {'= 1' if finding.k == 1 else '≥ 5'})",
        f"{number(d['i2'], 0)}%" if d["i2"] is not None else "– (k = 1)",
        certainty,
        finding.statement,
    ]


def domain_cell(sof: SummaryOfFindings, finding: OutcomeFindings, domain: str) -> tuple[str, str, int | None]:
    """(rating words, rule or override text, footnote number) of one evidence-profile cell."""
    judgement = finding.judgements.get(domain)
    if judgement is None:
        return "–", "", None
    detail = judgement.rule
    if judgement.overridden:
        detail = f"suggested {rating_label(domain, judgement.suggested or '')}: {detail}"
    return judgement.label, detail, _note_of(sof, finding, domain)


CSS = """
section.sof { font-family: "Segoe UI", Arial, sans-serif; font-size: 13px; color: #1a1a1a; max-width: 1250px; }
section.sof h2 { font-size: 18px; margin: 0 0 4px; } section.sof h3 { font-size: 15px; margin: 18px 0 4px; }
section.sof .pico { margin: 0 0 8px; line-height: 1.5; }
section.sof table { border-collapse: collapse; width: 100%; margin: 0 0 6px; table-layout: auto; }
section.sof table th, section.sof table td { border: 1px solid #9aa5b1 !important; padding: 5px 6px !important;
  vertical-align: top !important; text-align: left !important; white-space: normal !important;
  max-width: none !important; font-size: 12.5px; line-height: 1.35; }
section.sof table th { background: #dde6ef; font-weight: 600; }
section.sof table.sof-table col.c0 { width: 14%; } section.sof table.sof-table col.c1 { width: 13%; }
section.sof table.sof-table col.c2 { width: 13%; } section.sof table.sof-table col.c3 { width: 9%; }
section.sof table.sof-table col.c4 { width: 9%; } section.sof table.sof-table col.c5 { width: 5%; }
section.sof table.sof-table col.c6 { width: 11%; } section.sof table.sof-table col.c7 { width: 26%; }
section.sof table.profile col.p0 { width: 11%; } section.sof table.profile col.p1 { width: 6%; }
section.sof table.profile col.p7 { width: 9%; }
section.sof .cert { font-weight: 600; }
section.sof .cert-high { background: #d7ecd9; } section.sof .cert-moderate { background: #e6f0c8; }
section.sof .cert-low { background: #fbe7c2; } section.sof .cert-very-low { background: #f6d2cc; }
section.sof .rule { display: block; color: #444; font-size: 11px; margin-top: 2px; }
section.sof .override { background: #fff1a8; border-radius: 3px; padding: 0 3px; font-size: 11px; font-weight: 600; }
section.sof .down { font-weight: 600; color: #9b1c1c; }
section.sof ol.notes, section.sof ul.conv { margin: 4px 0 0 18px; padding: 0; font-size: 12px; line-height: 1.45; }
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def sof_fragment(sof: SummaryOfFindings) -> str:
    """The tables as an HTML fragment with its own style (for notebooks and the page)."""
    q = sof.question
    texts, numbers = footnote_numbers(sof)
    pico = [
        ("Population", q.population),
        ("Setting", q.setting),
        ("Intervention", q.intervention),
        ("Comparison", q.comparator + ("; no comparison group" if q.comparison == "within" else "")),
        ("Timepoint", q.timepoint),
    ]
    out = [
        f"<section class='sof'><style>{CSS}</style>",
        f"<h2>Summary of findings: {_e(q.title)}</h2>",
        "<p class='pico'>" + " · ".join(f"<b>{k}:</b> {_e(v)}" for k, v in pico) + "</p>",
        "<table class='sof-table'>" + "".join(f"<col class='c{i}'>" for i in range(len(HEADERS))),
        "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in HEADERS) + "</tr></thead><tbody>",
    ]
    for finding, notes in zip(sof.findings, numbers, strict=True):
        row = [_e(c) for c in cells(sof, finding, notes)]
        css = f"cert cert-{finding.certainty.replace(' ', '-')}" if finding.certainty else "cert"
        row[6] = row[6].replace(" [", "<sup>", 1).replace("]", "</sup>") if notes else row[6]
        kinds = ["", "", "", "", "", "", css, ""]
        out.append("<tr>" + "".join(f"<td class='{k}'>{c}</td>" for k, c in zip(kinds, row, strict=True)) + "</tr>")
    out.append("</tbody></table>")
    out.append("<h3>Evidence profile: suggested GRADE ratings and the rules that gave them</h3>")
    header = ["Outcome", "Starts at", *(DOMAIN_LABELS[d] for d in DOMAINS), "Certainty"]
    cols = "".join(f"<col class='p{i}'>" for i in range(len(header)))
    out.append(
        f"<table class='profile'>{cols}<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead>"
    )
    for finding in sof.findings:
        name = outcome_wording(finding.outcome)[1]
        row = [f"<td>{_e(name[:1].upper() + name[1:])}</td>", f"<td>{_e(finding.start or '–')}</td>"]
        for domain in DOMAINS:
            label, detail, note = domain_cell(sof, finding, domain)
            judgement = finding.judgements.get(domain)
            mark = "<span class='override'>reviewer</span> " if judgement is not None and judgement.overridden else ""
            cls = " class='down'" if judgement is not None and judgement.levels > 0 else ""
            sup = f"<sup>{note}</sup>" if note else ""
            row.append(f"<td>{mark}<span{cls}>{_e(label)}</span>{sup}<span class='rule'>{_e(detail)}</span></td>")
        cert = f"{SYMBOLS[finding.certainty]} {finding.certainty}" if finding.certainty else "–"
        row.append(f"<td class='cert'>{_e(cert)}</td>")
        out.append("<tr>" + "".join(row) + "</tr>")
    out.append("</table>")
    if texts:
        out.append("<ol class='notes'>" + "".join(f"<li>{_e(t)}</li>" for t in texts) + "</ol>")
    out.append("<ul class='conv'>" + "".join(f"<li>{_e(c)}</li>" for c in conventions(sof)) + "</ul>")
    out += [f"<p class='pico'>Override not applied: {_e(u)}</p>" for u in sof.unused_overrides]
    out.append("</section>")
    return "\n".join(out)


def sof_html(sof: SummaryOfFindings, path: Path | str | None = None) -> str:
    """A standalone HTML page of the tables; written to ``path`` when given."""
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>Summary of findings: {_e(sof.question.title)}</title></head>\n<body>\n"
        f"{sof_fragment(sof)}\n</body></html>\n"
    )
    if path is not None:
        Path(path).write_text(page, encoding="utf-8")
    return page


def sof_docx(sof: SummaryOfFindings, path: Path) -> Path:
    """The tables as a Word document (A4 landscape) at ``path``."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    def shade(cell, colour: str) -> None:
        fill = OxmlElement("w:shd")
        fill.set(qn("w:val"), "clear")
        fill.set(qn("w:fill"), colour)
        cell._tc.get_or_add_tcPr().append(fill)

    def table(header: list[str], rows: list[list[str]], widths: list[float]) -> None:
        grid = doc.add_table(rows=1, cols=len(header))
        grid.style = "Table Grid"
        for cell, text, width in zip(grid.rows[0].cells, header, widths, strict=True):
            cell.text, cell.width = text, Cm(width)
            cell.paragraphs[0].runs[0].bold = True
            shade(cell, "DDE6EF")
        for values in rows:
            for cell, text, width in zip(grid.add_row().cells, values, widths, strict=True):
                cell.text, cell.width = text, Cm(width)

    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.5))
    doc.styles["Normal"].font.name = "Arial"
    doc.styles["Normal"].font.size = Pt(8)
    q = sof.question
    texts, numbers = footnote_numbers(sof)
    doc.add_heading(f"Summary of findings: {q.title}", level=1)
    doc.add_paragraph(
        f"Population: {q.population}. "
        f"Setting: {q.setting}. Intervention: {q.intervention}. "
        f"Comparison: {q.comparator}. Timepoint: {q.timepoint}."
    )
    rows = [cells(sof, f, n) for f, n in zip(sof.findings, numbers, strict=True)]
    table(list(HEADERS), rows, [3.4, 3.8, 3.2, 2.4, 2.4, 1.2, 2.6, 7.7])
    doc.add_heading("Evidence profile: suggested GRADE ratings and the rules that gave them", level=2)
    profile = []
    for finding in sof.findings:
        row = [outcome_wording(finding.outcome)[1], finding.start or "–"]
        for domain in DOMAINS:
            label, detail, note = domain_cell(sof, finding, domain)
            row.append(f"{label}{f' [{note}]' if note else ''}\n{detail}".strip())
        row.append(finding.certainty or "–")
        profile.append(row)
    table(["Outcome", "Starts at", *(DOMAIN_LABELS[d] for d in DOMAINS), "Certainty"], profile,
          [3.0, 1.6, 4.4, 4.0, 4.0, 4.4, 3.0, 2.3])  # fmt: skip
    for i, text in enumerate(texts, start=1):
        doc.add_paragraph(f"[{i}] {text}")
    for text in conventions(sof):
        doc.add_paragraph(text, style="List Bullet")
    doc.save(str(path))
    return path
