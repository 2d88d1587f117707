"""The living-update diff as text (terminal) and as a standalone HTML page the reports can link."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .diff import EvidenceDiff

WIDTH = 70


def _short(text: str, width: int = WIDTH) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= width else text[: width - 3] + "...")


def _number(value: object, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def pooled_text(summary: dict | None) -> str:
    """``k = 5, 0.812 [0.501, 1.123], tau² 0.041, I² 38.2%`` (and subgroup p values), or a dash."""
    if summary is None:
        return "-- (fewer than 2 samples)"
    text = (
        f"k = {summary['k']}, {_number(summary['estimate'])} [{_number(summary['ci_low'])}, "
        f"{_number(summary['ci_high'])}], tau² {_number(summary['tau2'])}, I² {_number(summary['i2'], 1)}%"
    )
    if "subgroup_p_separate_tau2" in summary:
        text += (
            f"; subgroup test p = {_number(summary['subgroup_p_separate_tau2'])} (separate tau²), "
            f"{_number(summary['subgroup_p_common_tau2'])} (common tau²)"
        )
    return text


def diff_text(diff: EvidenceDiff) -> str:
    """The diff for a terminal: record counts and changes per table, then every synthesis before
    and after with the conclusions that changed (``!``)."""
    lines = [f"Evidence diff: {diff.old} -> {diff.new}", "", "Records"]
    for table in diff.added:
        added, removed, changed = diff.added[table], diff.removed[table], diff.changed[table]
        if not (added or removed or changed):
            continue
        lines.append(f"  {table}: {len(added)} added, {len(removed)} removed, {len(changed)} changed")
        lines += [f"    + {key}" for key in added] + [f"    - {key}" for key in removed]
        for change in changed:
            lines.append(f"    ~ {change.key}")
            lines += [f"        {c}: {_short(a)} -> {_short(b)}" for c, a, b in change.fields]
    if len(lines) == 3:
        lines.append("  no record added, removed or changed")
    lines += [
        "",
        "Syntheses of MBT (positive = improvement, or MBT better; RR on the log scale; one estimate per",
        "independent sample, closest to 18 months; REML, Knapp-Hartung)",
    ]
    for s in diff.syntheses:
        if s.before == s.after:
            lines.append(f"  {s.name}: unchanged, {pooled_text(s.after)}")
            continue
        lines += [f"  {s.name}", f"    before  {pooled_text(s.before)}", f"    after   {pooled_text(s.after)}"]
        lines += [f"    ! {flag}" for flag in s.flags]
    flagged = sum(bool(s.flags) for s in diff.syntheses)
    moved = sum(s.before != s.after for s in diff.syntheses)
    lines += ["", f"{moved} of {len(diff.syntheses)} syntheses moved; {flagged} with a changed conclusion."]
    return "\n".join(lines)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; line-height: 1.4 }
h1 { font-size: 1.5em } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc }
table { border-collapse: collapse; width: 100%; margin: .5em 0 1em; font-size: .92em }
th, td { border: 1px solid #ddd; padding: .3em .5em; text-align: left; vertical-align: top }
th { background: #f3f3f3 } td.num { font-variant-numeric: tabular-nums; white-space: nowrap }
.added { color: #1a7f37 } .removed { color: #b42318 } .flag { color: #b42318; font-weight: 600 }
.old { background: #fff1f0 } .new { background: #edfaef } .muted { color: #777 }
"""


def _cell(text: str, cls: str = "") -> str:
    return f"<td class='{cls}'>{html.escape(text)}</td>" if cls else f"<td>{html.escape(text)}</td>"


FIELDS = (
    ("k", lambda s: str(s["k"])),
    ("Estimate [95% CI]", lambda s: f"{_number(s['estimate'])} [{_number(s['ci_low'])}, {_number(s['ci_high'])}]"),
    ("tau²", lambda s: _number(s["tau2"])),
    ("I²", lambda s: f"{_number(s['i2'], 1)}%"),
    (
        "Subgroup test p (separate / common tau²)",
        lambda s: (
            f"{_number(s['subgroup_p_separate_tau2'])} / {_number(s['subgroup_p_common_tau2'])}"
            if "subgroup_p_separate_tau2" in s
            else ""
        ),
    ),
)


def _pair(before: dict | None, after: dict | None, show) -> str:
    """One value cell: before and after on two lines, or the single value when it did not move."""
    old, new = (show(s) if s is not None else "--" for s in (before, after))
    if new == "" and old in ("", "--"):
        return "<td></td>"
    if old == new:
        return f"<td class='num muted'>{html.escape(new)}</td>"
    old, new = html.escape(old), html.escape(new)
    return f"<td class='num'><span class='old'>{old}</span><br><span class='new'>{new}</span></td>"


def diff_html(diff: EvidenceDiff) -> str:
    """The diff as a standalone HTML page (no scripts, inline style)."""
    e = html.escape
    head = "".join(f"<th>{e(name)}</th>" for name, _ in FIELDS)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Evidence diff: {e(diff.old)} to {e(diff.new)}</title><style>{STYLE}</style></head><body>",
        f"<h1>What this update changed: {e(diff.old)} &rarr; {e(diff.new)}</h1>",
        "<h2>Conclusions</h2><p>Each default synthesis before (<span class='old'>red</span>) and after "
        "(<span class='new'>green</span>); grey values did not move.</p>",
        f"<table><tr><th>Synthesis (MBT)</th>{head}<th>Conclusion</th></tr>",
    ]
    for s in diff.syntheses:
        flags = "<br>".join(f"<span class='flag'>{e(f)}</span>" for f in s.flags) or (
            "<span class='muted'>unchanged</span>" if s.before == s.after else "moved; same conclusion"
        )
        cells = "".join(_pair(s.before, s.after, show) for _, show in FIELDS)
        parts.append(f"<tr><td>{e(s.name)}</td>{cells}<td>{flags}</td></tr>")
    parts.append(
        "</table><p class='muted'>Positive = improvement within MBT (SMCR) or MBT better than its comparator "
        "(SMD; RR on the log scale). One estimate per independent sample (closest to 18 months, ITT first); "
        "random effects, REML, Knapp-Hartung CIs; I² from tau²; -- : fewer than 2 samples.</p><h2>Records</h2>"
    )
    parts.append("<table><tr><th>Table</th><th>Added</th><th>Removed</th><th>Changed</th></tr>")
    for table in diff.added:
        counts = (len(diff.added[table]), len(diff.removed[table]), len(diff.changed[table]))
        parts.append(f"<tr><td>{e(table)}</td>" + "".join(f"<td class='num'>{n}</td>" for n in counts) + "</tr>")
    parts.append("</table>")
    for table in diff.added:
        for key in diff.added[table]:
            parts.append(f"<div class='added'>+ {e(table)} {e(key)}</div>")
        for key in diff.removed[table]:
            parts.append(f"<div class='removed'>&minus; {e(table)} {e(key)}</div>")
    changes = [c for cs in diff.changed.values() for c in cs]
    if changes:
        parts.append(
            "<h2>Changed fields</h2><table><tr><th>Record</th><th>Field</th><th>Before</th><th>After</th></tr>"
        )
        for c in changes:
            for column, old, new in c.fields:
                parts.append(
                    f"<tr>{_cell(f'{c.table} {c.key}')}{_cell(column)}{_cell(old, 'old')}{_cell(new, 'new')}</tr>"
                )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_diff_html(diff: EvidenceDiff, path: Path | str) -> Path:
    """Write :func:`diff_html` to ``path`` (its folder is created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(diff_html(diff), encoding="utf-8")
    return path
