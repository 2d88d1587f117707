"""``reports/index.html``: every report of the set with its parameters and headline result."""

from __future__ import annotations

import html
from pathlib import Path

from .html import REPORT_CSS, stamp_html
from .parameters import PARAMETERS
from .stamp import Stamp
from .tables import TEST_WORDS, words

INDEX_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1b1b1b;
  max-width: 1100px; margin: 0 auto; padding: 8px 24px 48px; line-height: 1.45; }
h1 { font-size: 24px; margin: 18px 0 6px; }
table.reports { border-collapse: collapse; width: 100%; font-size: 14px; }
table.reports th, table.reports td { text-align: left; vertical-align: top; padding: 8px 10px;
  border-bottom: 1px solid #ddd; }
table.reports th { background: #f4f6f8; }
td.report a.title { font-weight: 600; color: #1f3a5f; }
td.files a { margin-right: 8px; }
.parameters { font-size: 12px; color: #444; }
"""


def parameters_text(parameters: dict[str, object]) -> str:
    """A report's parameters in words: the question first, then the model, then anything else set."""
    p = dict(parameters)
    parts = []
    if "outcome_construct" in p:
        outcome = words(p.pop("outcome_construct")).lower()
        instrument = p.pop("instrument", None)
        parts.append(f"{outcome}" + (f" ({instrument})" if instrument else ""))
    if "months_from" in p:
        target = p.pop("target_months", None)
        parts.append(
            f"{p.pop('months_from'):g}–{p.pop('months_to'):g} months"
            + (f", closest to {target:g}" if isinstance(target, int | float) else ", any timepoint")
        )
    if "method" in p:
        parts.append(f"{p.pop('method')}, {TEST_WORDS.get(str(p.pop('test', 'knha')), '')}")
    if p.pop("population", "itt_first") == "completers_first":
        parts.append("completers first")
    designs = p.pop("study_designs", [])
    if isinstance(designs, list | tuple) and designs:
        parts.append("designs: " + ", ".join(words(d).lower() for d in designs))
    changed = [f"{k} = {v}" for k, v in p.items() if k in PARAMETERS and v != PARAMETERS[k].default]
    return " · ".join(parts + changed) or "no parameters"


def index_page(results: list[dict[str, object]], titles: dict[str, str], stamp: Stamp) -> str:
    """The index page (reports in the order of ``titles``)."""
    by_name = {str(r["name"]): r for r in results if r.get("ok")}
    rows = []
    for name, title in titles.items():
        result = by_name.get(name)
        if result is None:
            continue
        headline = result.get("headline")
        text = str(headline["text"]) if isinstance(headline, dict) else "(this report records no headline)"
        files = [f'<a href="{name}.html">page</a>']
        if result.get("pdf"):
            files.append(f'<a href="{name}.pdf">PDF</a>')
        files.append(f'<a href="{name}.ipynb">notebook</a>')
        parameters = result.get("parameters") or {}
        rows.append(
            "<tr>"
            f'<td class="report"><a class="title" href="{name}.html">{html.escape(title)}</a>'
            f'<div class="parameters">{html.escape(parameters_text(parameters))}</div></td>'  # type: ignore[arg-type]
            f'<td class="headline">{html.escape(text)}</td>'
            f'<td class="files">{" ".join(files)}</td>'
            "</tr>"
        )
    header, footer = stamp_html(stamp.with_parameters({}), index_link=False)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">'
        "<title>MBT evidence reports</title>"
        f'<style type="text/css">{INDEX_CSS}{REPORT_CSS}</style></head><body>'
        f"{header}<h1>MBT evidence reports</h1>"
        "<p>Evidence syntheses of Mentalization-Based Treatment (MBT) for borderline personality disorder, "
        "rendered from the curated evidence tables. Each report states its parameters; the headline is the "
        "report's main result in one line. Every report runs without network access and carries the stamp "
        "below.</p>"
        '<table class="reports"><thead><tr><th>Report and parameters</th><th>Headline</th><th>Files</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>{footer}</body></html>\n"
    )


def write_index(folder: Path, results: list[dict[str, object]], titles: dict[str, str], stamp: Stamp) -> Path:
    path = folder / "index.html"
    path.write_text(index_page(results, titles, stamp), encoding="utf-8")
    return path


__all__ = ["index_page", "parameters_text", "write_index"]
