"""PRISMA 2020 flow: every computed count against a direct count; the diagram and its files."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import matplotlib.pyplot as plt
import pytest

import mbtevidence as mbt
from mbtevidence.evidence import content_hash
from mbtevidence.guideline import prisma_diagram, prisma_flow, save_figure, summary_of_findings

METAPSY_ROW = {
    "document": "metapsy-borderline-psyctr",
    "kind": "dataset",
    "label": "Metapsy database: psychotherapy vs control for BPD (Setkowski et al. 2023)",
    "records_identified": 11827,
    "duplicates_removed": 5960,
    "records_excluded": 5639,
    "reports_assessed": 228,
    "reports_excluded": 194,
    "studies_included": 34,
}
"""Counts of the dataset's own PRISMA flow (its metadata/search_flow.json)."""


@pytest.fixture(scope="module")
def sof(bundled_evidence):
    return summary_of_findings(bundled_evidence)


@pytest.fixture(scope="module")
def flow(bundled_evidence, sof):
    return prisma_flow(bundled_evidence, sof)


def texts(figure) -> str:
    """The diagram's text with line breaks and wrapping indents as single spaces."""
    return " ".join("\n".join(t.get_text() for ax in figure.axes for t in ax.texts).replace("\u00a0", " ").split())


def test_counts_add_up_and_match_direct_counts(bundled_evidence, sof, flow) -> None:
    es = mbt.evidence_effect_sizes(bundled_evidence.records)
    assert flow.records_extracted == len(bundled_evidence.effects) == len(es)
    assert flow.not_computable.sum() == es["yi"].isna().sum()
    assert flow.computable == es["yi"].notna().sum()
    assert flow.computable - flow.outside_question.sum() == flow.eligible
    pooled = {o: len(s.rows) for o, s in sof.syntheses.items()}
    assert flow.pooled.set_index("outcome")["records"].to_dict() == {o: pooled.get(o, 0) for o in sof.question.outcomes}
    kept_apart = sum(len(s.excluded) for s in sof.syntheses.values())
    assert flow.same_sample == kept_apart == flow.eligible - sum(pooled.values())
    assert flow.studies_described == len(bundled_evidence.studies)
    with_records = set(bundled_evidence.effects["study"])
    assert set(flow.studies_without_records) == set(bundled_evidence.studies["study"]) - with_records
    assert set(flow.studies_without_computable) == with_records - set(es.loc[es["yi"].notna(), "study"])
    assert list(flow.sources["kind"]) == ["seed_text"] * 5 + ["dataset"] and flow.notes == []
    per_source = bundled_evidence.studies.groupby("source")["study"].nunique()
    assert flow.sources.set_index("document")["studies_in_evidence"].to_dict() == per_source.to_dict()


def test_frame_lists_every_box(flow) -> None:
    frame = flow.to_frame()
    assert frame.loc[frame.box == "records extracted", "n"].item() == flow.records_extracted
    assert frame.loc[frame.box == "records pooled", "n"].sum() == flow.pooled["records"].sum()


def test_diagram_shows_the_counts_and_writes_png_and_svg(flow, tmp_path: Path) -> None:
    figure = prisma_diagram(flow, "PRISMA 2020 flow")
    shown = texts(figure)
    for line in (
        "Source documents supplied to the kit (n = 5):",
        f"Effect records extracted (n = {flow.records_extracted})",
        f"Records with a computable effect size (n = {flow.computable})",
        f"Another estimate of the same sample kept (n = {flow.same_sample})",
        "Identification",
        "Included",
    ):
        assert line in shown
    png, svg = save_figure(figure, tmp_path / "prisma")
    width_inches = figure.get_size_inches()[0]
    plt.close(figure)
    assert matplotlib.image.imread(png).shape[1] == pytest.approx(200 * width_inches, rel=0.1)  # 200 dpi
    assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_the_imported_dataset_gets_its_own_identification_lines(bundled_evidence, flow) -> None:
    row = flow.sources.set_index("document").loc[METAPSY_ROW["document"]]
    for column in (
        "records_identified",
        "duplicates_removed",
        "records_excluded",
        "reports_assessed",
        "studies_included",
    ):
        assert row[column] == METAPSY_ROW[column]
    imported = (bundled_evidence.studies["source"] == METAPSY_ROW["document"]).sum()
    shown = texts(prisma_diagram(flow))
    plt.close("all")
    assert "Datasets (records from their own searches) (n = 11827):" in shown
    assert f"34 studies included by its search; {imported} studies in the evidence" in shown
    assert "Excluded by the sources' own searches:" in shown and "• duplicate records removed (n = 5960)" in shown
    assert "BPD not primary diagnosis: 36" in shown


def test_sources_missing_from_the_flow_file_are_named(bundled_copy) -> None:
    (bundled_copy / "prisma_flow.csv").unlink()
    evidence = mbt.load_evidence(bundled_copy, validated_hash=content_hash(bundled_copy))
    flow = prisma_flow(evidence, summary_of_findings(evidence))
    assert flow.sources.groupby("kind").size().to_dict() == {"dataset": 1, "other": 5}
    assert flow.notes[0].startswith("sources not listed in prisma_flow.csv (identification counts unknown): 000_")
