"""Evidence record -> effect size (mbtevidence.evidence.records): orientation, correlation, bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mbtevidence.engine import escalc, hedges_correction
from mbtevidence.evidence import evidence_effect_sizes


def _record(**fields) -> dict:
    base = dict(
        effect_id="x",
        lower_is_better=True,
        secondary_report=False,
        ri=None,
        precalc_positive=None,
        precalc_metric=None,
        precalc_design=None,
        mean_pre=None,
        mean_arm1=None,
        event_arm1=None,
        prop_n=None,
        prop_events=None,
    )
    return base | fields


def test_evidence_effect_sizes_orient_improvement_positive() -> None:
    records = pd.DataFrame(
        [
            _record(effect_id="prepost", mean_pre=1.72, sd_pre=0.61, mean_post=1.02, sd_post=0.55, n_post=40),
            _record(
                effect_id="reported",
                precalc_es=-0.9,
                precalc_metric="d",
                precalc_design="within",
                precalc_positive="deterioration",
                precalc_n=40,
            ),
            _record(
                effect_id="gaf",
                lower_is_better=False,
                mean_pre=45.0,
                sd_pre=6.0,
                mean_post=58.0,
                sd_post=8.0,
                n_post=30,
            ),
            _record(effect_id="slope", precalc_es=0.3, precalc_metric="b", precalc_design="regression", precalc_n=30),
        ]
    )
    es = evidence_effect_sizes(records, ri=0.5).set_index("effect_id")
    expected = escalc("SMCR", m1i=[1.02], m2i=[1.72], sd1i=[0.61], ni=[40], ri=[0.5])
    assert es.loc["prepost", "yi"] == pytest.approx(-expected.yi[0])
    assert es.loc["prepost", "yi"] > 0 and es.loc["gaf", "yi"] > 0
    assert es.loc["reported", "yi"] == pytest.approx(0.9 * hedges_correction(np.array([39.0]))[0])
    assert np.isnan(es.loc["slope", "yi"]) and "not converted" in es.loc["slope", "es_note"]
    assert list(es["measure"][:3]) == ["SMCR", "SMCR", "SMCR"]


def test_printed_prepost_correlation_overrides_the_default() -> None:
    row = _record(mean_pre=1.72, sd_pre=0.61, mean_post=1.02, sd_post=0.55, n_post=40)
    es = evidence_effect_sizes(pd.DataFrame([row, dict(row, ri=0.8)]), ri=0.5)
    assert es.vi[0] == pytest.approx(2 * 0.5 / 40 + es.yi[0] ** 2 / 80)
    assert es.vi[1] == pytest.approx(2 * 0.2 / 40 + es.yi[1] ** 2 / 80)


def test_n_bound_is_used_and_marked() -> None:
    row = _record(mean_pre=1.72, sd_pre=0.61, mean_post=1.02, sd_post=0.55, n_post=None, n_upper=34)
    es = evidence_effect_sizes(pd.DataFrame([row]), ri=0.5)
    assert bool(es.n_bound[0]) and es.n[0] == 34
    assert es.vi[0] == pytest.approx(2 * 0.5 / 34 + es.yi[0] ** 2 / 68)


@pytest.mark.parametrize("ri", [1.0, 1.5, -0.5])
def test_impossible_prepost_correlation_is_refused(ri) -> None:
    with pytest.raises(ValueError, match="must be in \\[0, 1\\)"):
        evidence_effect_sizes(pd.DataFrame([_record(mean_pre=1.0, sd_pre=0.5, mean_post=0.5, n_post=20)]), ri=ri)
