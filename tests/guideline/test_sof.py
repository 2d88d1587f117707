"""The summary of findings: every number is the library's result; overrides, HTML, Chromium, Word."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import docx
import pandas as pd
import pytest

import mbtevidence as mbt
from mbtevidence.engine import bayes_meta_analysis
from mbtevidence.evidence import content_hash
from mbtevidence.guideline import Question, summary_of_findings
from mbtevidence.guideline.sof_output import HEADERS, number

WINDOW = (12, 27)


@pytest.fixture(scope="module")
def sof(bundled_evidence):
    return summary_of_findings(bundled_evidence)


def direct_synthesis(evidence, outcome: str, settings: tuple[str, ...] | None = None):
    """The synthesis computed here, independently of the summary of findings."""
    es = mbt.evidence_effect_sizes(evidence.records)
    chosen = es[
        (es.condition == "mbt")
        & (es.outcome_construct == outcome)
        & (es.measure == "SMCR")
        & es.yi.notna()
        & es.timepoint_months.between(*WINDOW)
    ]
    if settings is not None:
        chosen = chosen[chosen.setting.isin((*settings, "mixed", "not_reported"))]
    if chosen.empty:
        return None
    return mbt.pool_evidence(chosen, by="setting", rule=mbt.SelectionRule(target_months=18))


def same(a: object, b: object) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return a == b


@pytest.mark.parametrize("settings", [None, ("day_hospital",)])
def test_every_number_is_the_library_result(bundled_evidence, settings) -> None:
    table = summary_of_findings(bundled_evidence, Question(settings=settings))
    frame = table.to_frame().set_index("outcome")
    html = table.to_html()
    for outcome in table.question.outcomes:
        row = frame.loc[outcome]
        synthesis = direct_synthesis(bundled_evidence, outcome, settings)
        if synthesis is None:
            assert row["k"] == 0 and row["certainty"] == ""
            continue
        d = synthesis.overall.to_dict()
        assert row["k"] == d["k"] == len(synthesis.rows)
        assert row["n"] == synthesis.rows["n"].sum()
        for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "i2"):
            assert same(row[key], d[key]), (outcome, key)
        assert row["studies"] == "; ".join(sorted(synthesis.rows["study"].unique()))
        if 2 <= d["k"] < 5:
            bayes = bayes_meta_analysis(synthesis.rows["yi"], synthesis.rows["vi"], tau_prior="halfnormal:0.5")
            assert (row["bayes_low"], row["bayes_high"]) == (bayes.mu_low, bayes.mu_high)
            assert f"{number(bayes.mu_low)} to {number(bayes.mu_high)}" in html
        else:
            assert same(row["bayes_low"], None)
        assert row["ois"] == 197  # 2(1 - 0.5)(z.975 + z.80)² / 0.2², rounded up
        assert f"SMCR {number(d['estimate'])} ({number(d['ci_low'])} to {number(d['ci_high'])})" in html
        if d["pi_low"] is not None:
            assert f"{number(d['pi_low'])} to {number(d['pi_high'])}" in html


def test_between_group_numbers_choose_the_measure_and_show_risk_ratios(bundled_evidence) -> None:
    table = summary_of_findings(bundled_evidence, Question(comparison="between"))
    frame = table.to_frame().set_index("outcome")
    es = mbt.evidence_effect_sizes(bundled_evidence.records)
    arms = bundled_evidence.arms.set_index(["study", "arm"])["condition"]
    comparator = [arms.get((s, a)) for s, a in zip(es.study, es.comparator_arm, strict=True)]
    between = es[(es.condition == "mbt") & (pd.Series(comparator, index=es.index) != "mbt") & es.yi.notna()]
    between = between[between.timepoint_months.between(*WINDOW)]
    html = table.to_html()
    for outcome, measure in (("borderline_features", "SMD"), ("suicide_attempts", "RR")):
        chosen = between[(between.outcome_construct == outcome) & (between.measure == measure)]
        synthesis = mbt.pool_evidence(chosen, by="setting", rule=mbt.SelectionRule(target_months=18))
        d, row = synthesis.overall.to_dict(), frame.loc[outcome]
        assert row["measure"] == measure and row["k"] == d["k"] == 3
        assert (row["estimate"], row["ci_low"], row["ci_high"]) == (d["estimate"], d["ci_low"], d["ci_high"])
        assert row["start"] == "high"  # randomised comparisons
    rr = frame.loc["suicide_attempts"]
    # fewer attempts is better: yi = -log RR, so the table shows RR = exp(-estimate), CI ends swapped
    shown = f"RR {number(math.exp(-rr['estimate']))} ({number(math.exp(-rr['ci_high']))} to {number(math.exp(-rr['ci_low']))})"
    assert rr["effect"] == shown and shown in html
    assert rr["ois"] == grade_events_ois(chosen_rows(table, "suicide_attempts"))


def chosen_rows(table, outcome):
    return table.syntheses[outcome].rows


def grade_events_ois(rows) -> int:
    from mbtevidence.guideline.grade import optimal_information_size_events

    return optimal_information_size_events(rows["event_arm2"].sum() / rows["totaln_arm2"].sum(), rrr=0.25)


def test_the_rules_read_the_synthesis_and_studies_table(sof, bundled_evidence) -> None:
    studies = bundled_evidence.studies.set_index("study")
    for finding in sof.findings:
        if finding.synthesis is None:
            continue
        rob = finding.synthesis.rows["study"].map(studies["rob_overall"])
        share = finding.synthesis.rows["weight"][rob.isin(["high"]) | rob.isna()].sum() / 100
        assert (finding.judgements["risk_of_bias"].rating == "serious") == (share >= 0.5)
        assert finding.start == "low"  # within-group change: non-randomised even inside a trial
        assert finding.judgements["publication_bias"].rating == "not_assessable"  # k < 10 everywhere


def test_symptom_severity_is_rated_as_its_numbers_say(sof) -> None:
    finding = next(f for f in sof.findings if f.outcome == "symptom_severity")
    d = finding.result()
    assert d["i2"] >= 50 and d["pi_low"] <= 0 <= d["pi_high"]
    assert finding.judgements["inconsistency"].rating == "serious"
    assert finding.certainty == "very low"
    assert finding.statement.startswith("The evidence is very uncertain about the effect of MBT on symptom severity")


def write_overrides(folder: Path, rows: list[dict[str, str]]) -> None:
    pd.DataFrame(
        rows, columns=["outcome_construct", "question", "domain", "rating", "reason", "reviewer", "date"]
    ).to_csv(folder / "grade_judgements.csv", index=False)


def test_reviewer_overrides_change_the_certainty_and_are_marked(bundled_copy) -> None:
    write_overrides(
        bundled_copy,
        [
            {"outcome_construct": "depression", "domain": "risk_of_bias", "rating": "not_serious",
             "reason": "assessor-blind BDI in this cohort", "reviewer": "AB"},
            {"outcome_construct": "depression", "domain": "imprecision", "rating": "serious",
             "reason": "generic", "reviewer": "AB"},
            {"outcome_construct": "depression", "question": "main", "domain": "imprecision", "rating": "not_serious",
             "reason": "question-specific wins", "reviewer": "AB"},
            {"outcome_construct": "anxiety", "domain": "imprecision", "rating": "serious", "reason": "no row"},
        ],
    )  # fmt: skip
    evidence = mbt.load_evidence(bundled_copy, validated_hash=content_hash(bundled_copy))  # bundled: validated
    table = summary_of_findings(evidence)
    row = table.to_frame().set_index("outcome").loc["depression"]
    assert (row["risk_of_bias"], row["risk_of_bias_suggested"]) == ("not_serious", "serious")
    assert (row["imprecision"], row["imprecision_reason"]) == ("not_serious", "question-specific wins")
    assert row["certainty"] == "low" and row["statement"].startswith("MBT may reduce depressive symptoms")
    html = table.to_html()
    assert html.count("class='override'>reviewer</span>") == 2
    assert "Reason: assessor-blind BDI in this cohort" in html
    assert table.unused_overrides == ["anxiety/imprecision: no synthesis of that outcome in this table"]
    other = summary_of_findings(evidence, Question(id="other"))
    assert other.to_frame().set_index("outcome").loc["depression", "imprecision_reason"] == "generic"


def test_a_folder_without_the_guideline_tables_still_validates_and_builds(minimal, seeds) -> None:
    assert mbt.validate(minimal, seeds).ok
    table = summary_of_findings(mbt.load_evidence(minimal, seeds), Question(outcomes=("symptom_severity",)))
    assert table.findings[0].k == 1 and table.unused_overrides == []


def test_question_limits() -> None:
    with pytest.raises(ValueError, match="1 to 7"):
        Question(outcomes=tuple(f"o{i}" for i in range(8)))
    with pytest.raises(ValueError, match="within' or 'between"):
        Question(comparison="before")
    with pytest.raises(ValueError, match="must be > 0"):
        Question(mid={"depression": 0})


def test_order_and_mid_are_configurable(bundled_evidence) -> None:
    table = summary_of_findings(
        bundled_evidence, Question(outcomes=("depression", "symptom_severity"), mid={"depression": 0.5})
    )
    frame = table.to_frame()
    assert list(frame["outcome"]) == ["depression", "symptom_severity"]
    assert list(frame["mid"]) == [0.5, 0.2]
    assert frame.loc[0, "ois"] == math.ceil((1.959963984540054 + 0.8416212335729143) ** 2 / 0.25)


def test_word_document_holds_the_table(sof, tmp_path: Path) -> None:
    path = sof.to_docx(tmp_path / "sof.docx")
    document = docx.Document(str(path))
    table = document.tables[0]
    assert [c.text for c in table.rows[0].cells] == list(HEADERS)
    assert len(table.rows) == len(sof.findings) + 1
    frame = sof.to_frame()
    for row, (_, expected) in zip(table.rows[1:], frame.iterrows(), strict=True):
        assert row.cells[2].text == (expected["effect"] or "–")
        assert expected["certainty"].capitalize() in row.cells[6].text
        assert row.cells[7].text == expected["statement"]
    assert sum(row.cells[1].text == "no sample" for row in table.rows[1:]) == (frame["k"] == 0).sum() == 1
    assert any("Rated down" in p.text for p in document.paragraphs)


def test_csv_round_trips_the_frame(sof, tmp_path: Path) -> None:
    back = pd.read_csv(sof.to_csv(tmp_path / "sof.csv"))
    assert list(back.columns) == list(sof.to_frame().columns)
    assert back["estimate"].tolist() == pytest.approx(sof.to_frame()["estimate"].astype(float).tolist(), nan_ok=True)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_sof_html_renders_in_chromium(sof, tmp_path: Path) -> None:
    browser = chromium()
    if browser is None:
        if os.environ.get("MBTEVIDENCE_REQUIRE_BROWSER") == "1":
            pytest.fail("MBTEVIDENCE_REQUIRE_BROWSER=1 but no Chromium found")
        pytest.skip("Chromium not installed: the HTML rendering check needs it")
    page = tmp_path / "sof.html"
    sof.to_html(page)
    with tempfile.TemporaryDirectory() as profile:
        run = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
             "--disable-background-networking", "--disable-component-update", f"--user-data-dir={profile}",
             "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
    dom = run.stdout
    assert dom.count("<tr>") == 2 + 2 * len(sof.findings)  # two header rows, each outcome in both tables
    assert "Summary of findings: MBT compared with before treatment" in dom
    assert "⊕◯◯◯ Very low" in dom


def test_the_schema_declares_the_guideline_tables(bundled_copy, tmp_path: Path) -> None:
    no_seeds = tmp_path / "no-seeds"
    assert mbt.validate(bundled_copy, no_seeds).ok  # the bundled prisma_flow.csv and grade_judgements.csv
    write_overrides(
        bundled_copy, [{"outcome_construct": "depression", "domain": "imprecision", "rating": "moderate", "reason": ""}]
    )
    problems = [str(p) for p in mbt.validate(bundled_copy, no_seeds).errors]
    assert any("grade_judgements.csv:2 rating='moderate': not in vocabulary grade_rating" in p for p in problems)
    assert any("grade_judgements.csv:2 reason='': required value is empty" in p for p in problems)
