"""An executed report notebook as one self-contained HTML page: code hidden, a real title, a stamp,
nothing loaded from the network.

nbconvert's ``lab`` template loads require.js, MathJax and mermaid from a CDN; the template here
extends it and leaves those blocks empty (the notebooks write formulas in plain Unicode, so
nothing needs MathJax).  Figures are embedded as data URIs.  The parameters cells are dropped
(their values are in the stamp, with evidence paths made relative), and so are stderr streams,
which carry the kernel's local file paths.
"""

from __future__ import annotations

import html
import json

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter

from .display import HEADLINE_KEY
from .stamp import Stamp

HIDDEN_CELL_TAGS = {"parameters", "injected-parameters"}

REPORT_CSS = """
body.jp-Notebook { max-width: 1100px; margin: 0 auto; padding: 0 24px 48px; }
.jp-RenderedHTMLCommon table { border-collapse: collapse; font-size: 13px; table-layout: auto; margin: 0.5em 0 1em; }
.jp-RenderedHTMLCommon th, .jp-RenderedHTMLCommon td { white-space: normal; max-width: 30em; vertical-align: top;
  text-align: left; padding: 3px 8px; border-bottom: 1px solid #ddd; }
.jp-RenderedHTMLCommon td.num, .jp-RenderedHTMLCommon th.num { text-align: right; font-variant-numeric: tabular-nums; }
.jp-RenderedHTMLCommon caption { caption-side: top; text-align: left; font-weight: 600; padding: 4px 0; }
.jp-RenderedHTMLCommon p.mbt-note, .mbt-note { color: #444; font-size: 12.5px; }
.mbt-headline { border-left: 4px solid #8b1a1a; background: #f8f4f4; padding: 8px 12px; margin: 8px 0 16px; }
.mbt-warning { border-left: 4px solid #d95f02; background: #fdf3ea; padding: 6px 12px; margin: 6px 0 12px; }
.mbt-stamp { font-size: 12px; color: #333; background: #f4f6f8; border: 1px solid #d8dde3; padding: 6px 10px;
  margin: 12px 0; }
.mbt-stamp a { color: #1f3a5f; }
.mbt-stamp table { font-size: 12px; border-collapse: collapse; margin-top: 4px; }
.mbt-stamp td { padding: 1px 10px 1px 0; border: none; vertical-align: top; }
.jp-OutputArea-output img { max-width: 100%; height: auto; }
@media print { body.jp-Notebook { max-width: none; padding: 0; } .mbt-nav { display: none; }
  .jp-Cell { break-inside: avoid-page; } }
"""

TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block extra_css -%}<style type="text/css">{{ resources.mbt_css }}</style>{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}{{ resources.mbt_header }}{%- endblock body_header -%}
{%- block body_footer -%}{{ resources.mbt_footer }}{{ super() }}{%- endblock body_footer -%}
"""


def headline_of(notebook: nbformat.NotebookNode) -> dict[str, object] | None:
    """The headline an executed report recorded (text and numbers), or None."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            recorded = output.get("metadata", {}).get(HEADLINE_KEY, {}).get("headline")
            if recorded:
                return dict(recorded)
    return None


def _report_cells(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy without the parameters cells and stderr streams."""
    copy = nbformat.from_dict(json.loads(json.dumps(notebook)))
    copy.cells = [c for c in copy.cells if not HIDDEN_CELL_TAGS & set(c.metadata.get("tags", []))]
    for cell in copy.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.get("name") == "stderr")]
    return copy


def stamp_html(stamp: Stamp, index_link: bool = True) -> tuple[str, str]:
    """The header line and footer table of a report page (of the index without ``index_link``)."""
    nav = '<a class="mbt-nav" href="index.html">← all reports</a> · ' if index_link else ""
    header = f'<div class="mbt-stamp">{nav}{html.escape(stamp.line())}</div>'
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in stamp.rows().items())
    made = "How this report was made" if index_link else "How these reports were made"
    footer = f'<div class="mbt-stamp"><strong>{made}</strong><table>{rows}</table></div>'
    return header, footer


def notebook_html(notebook: nbformat.NotebookNode, title: str, stamp: Stamp, show_code: bool = False) -> str:
    """The HTML page of an executed report notebook."""
    exporter = HTMLExporter(
        extra_loaders=[DictLoader({"mbtevidence_report.html.j2": TEMPLATE})],
        template_file="mbtevidence_report.html.j2",
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    header, footer = stamp_html(stamp)
    resources = {
        "metadata": {"name": title},
        "mbt_css": REPORT_CSS,
        "mbt_header": header,
        "mbt_footer": footer,
    }
    cells = _report_cells(notebook)
    cells.metadata["title"] = title  # nbconvert's <title> prefers the notebook's own title
    page, _ = exporter.from_notebook_node(cells, resources=resources)
    return page


__all__ = ["HEADLINE_KEY", "headline_of", "notebook_html", "stamp_html"]
