"""The rendered report set: every notebook executed by papermill on the bundled evidence, its numbers read
back and compared with direct library calls; pages offline, titled, stamped, code hidden; PDFs; the index."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

import mbtevidence as mbt
from mbtevidence.paths import CHECKOUT
from mbtevidence.reports import load_grid
from mbtevidence.reports.html import headline_of, notebook_html
from mbtevidence.reports.stamp import Stamp

SPECS = load_grid()
NAMES = [s.name for s in SPECS]


def executed(rendered, name: str) -> nbformat.NotebookNode:
    return nbformat.read(rendered.folder / f"{name}.ipynb", as_version=4)


def headline(rendered, name: str) -> dict:
    found = headline_of(executed(rendered, name))
    assert found, f"{name} records no headline"
    return found


@pytest.fixture(scope="module")
def evidence():
    return mbt.load_evidence(validated_hash=mbt.evidence.content_hash())


def direct_synthesis(evidence, construct: str, months=(12, 27), target=18):
    es = mbt.evidence_effect_sizes(evidence.records[evidence.records["condition"] == "mbt"])
    chosen = es[(es["outcome_construct"] == construct) & (es["design"] == "within") & (es["measure"] == "SMCR")
                & es["timepoint_months"].between(*months)]  # fmt: skip
    return mbt.pool_evidence(chosen, rule=mbt.SelectionRule(target_months=target))


def test_render_prints_progress_and_the_evidence_once(rendered) -> None:
    out = rendered.stdout
    assert out.count("validated once") == 1
    flagged = [line for line in out.splitlines() if "flagged" in line]
    assert len(flagged) == 1 and "mbtevidence validate --flagged" in flagged[0], "flagged records in one line"
    for name in NAMES:
        assert re.search(rf"started +{re.escape(name)} ", out) and re.search(rf"done +{re.escape(name)} ", out)
    assert "wrote" in out.splitlines()[-1]


@pytest.mark.parametrize("name", NAMES)
def test_every_notebook_ran_without_errors_warnings_or_local_paths(rendered, name) -> None:
    nb = executed(rendered, name)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o.get("text", "")[:300] for o in outputs if o.get("name") == "stderr"], "warnings in the report"
    text = json.dumps(nb)
    for local in {str(CHECKOUT), str(Path.home()), str(rendered.folder)}:
        assert local not in text, f"{local} in {name}.ipynb"
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and f'validated_hash = "{mbt.evidence.content_hash()}"' in injected[0].source.replace("'", '"')


def test_settings_numbers_are_the_library_numbers(rendered, evidence) -> None:
    for name, construct in (("settings-symptom-severity", "symptom_severity"),
                            ("settings-personality-functioning", "personality_functioning")):  # fmt: skip
        numbers = headline(rendered, name)["numbers"]
        direct = direct_synthesis(evidence, construct).overall.to_dict()
        assert numbers["k"] == direct["k"]
        for key in ("estimate", "ci_low", "ci_high"):
            assert numbers[key] == pytest.approx(direct[key], rel=1e-10), (name, key)


def test_overview_sensitivity_explore_and_dosage_numbers(rendered, evidence) -> None:
    direct = direct_synthesis(evidence, "symptom_severity")
    overview = headline(rendered, "evidence-overview")["numbers"]
    assert overview["studies"] == len(evidence.studies) and overview["k"] == direct.overall.k
    assert overview["studies_with_records"] == evidence.effects["study"].nunique()
    sensitivity = headline(rendered, "sensitivity-symptom-severity")["numbers"]
    assert sensitivity["estimate"] == pytest.approx(direct.overall.estimate)
    loo = mbt.leave_one_out(direct.overall).to_frame()["estimate"]
    assert sensitivity["lowest"] <= loo.min() and sensitivity["highest"] >= loo.max()
    explore = headline(rendered, "explore")["numbers"]
    assert explore["tau2"] == pytest.approx(direct.overall.to_dict()["tau2"])
    dosage = headline(rendered, "dosage-symptom-severity")["numbers"]
    assert dosage["k"] == direct.overall.k and dosage["fitted"] == 0


def test_implementation_composite_is_the_borenstein_composite_of_the_records(rendered, evidence) -> None:
    import numpy as np

    numbers = headline(rendered, "implementation-quality")["numbers"]
    es = mbt.evidence_effect_sizes(evidence.records)
    at = es[(es["study"] == "Bales2017reorg") & (es["design"] == "between") & (es["timepoint_months"] == 36)]
    se = np.sqrt(at["vi"].to_numpy())
    variance = (se.sum() ** 2 * 0.5 + 0.5 * (se**2).sum()) / len(se) ** 2
    assert numbers["estimate"] == pytest.approx(at["yi"].mean())
    assert numbers["ci_high"] - numbers["estimate"] == pytest.approx(1.959963985 * variance**0.5)


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_pages_are_titled_stamped_offline_with_code_hidden(rendered, spec) -> None:
    page = (rendered.folder / f"{spec.name}.html").read_text(encoding="utf-8")
    assert re.search(r"<title>(.*?)</title>", page).group(1) == spec.title.replace("&", "&amp;")
    assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)=["']?(https?:)?//""", page)
    assert "require.min.js" not in page and "MathJax" not in page
    assert "validated_hash" not in page and "import mbtevidence" not in page, "code and parameters hidden"
    assert mbt.evidence.content_hash() in page and f"mbtevidence {mbt.__version__}" in page
    assert str(CHECKOUT) not in page and str(rendered.folder) not in page
    assert "Traceback" not in page
    pdf = rendered.folder / f"{spec.name}.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_the_index_links_every_report_with_its_headline(rendered) -> None:
    index = (rendered.folder / "index.html").read_text(encoding="utf-8")
    for spec in SPECS:
        assert f'href="{spec.name}.html"' in index and f'href="{spec.name}.pdf"' in index
        text = headline(rendered, spec.name)["text"]
        assert text.replace("&", "&amp;").replace("'", "&#x27;") in index
    assert sorted(p.name for p in rendered.folder.parent.iterdir()) == ["reports"], "no staging folder left"


def test_show_code_shows_code_but_never_the_parameters_cells(rendered) -> None:
    nb = executed(rendered, "explore")
    stamp = Stamp(**nb.metadata["mbtevidence"]["stamp"])
    page = notebook_html(nb, "Explore", stamp, show_code=True)
    text = re.sub(r"<[^>]+>", "", page)
    assert "bayes_meta_analysis(" in text and "jp-InputArea" in page
    assert "validated_hash = " not in text and "evidence_dir = None" not in text, "parameters cells dropped"
    assert "<title>Explore</title>" in page
