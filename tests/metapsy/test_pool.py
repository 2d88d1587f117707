"""Pooling a Metapsy file as metapsyTools does by default, checked against metafor on the same g and SEs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from metapsy_testdata import PUBLISHED, cli, requires_data

from mbtevidence import meta_analysis
from mbtevidence.metapsy import read_metapsy
from mbtevidence.metapsy.pool import CONVENTION, metapsy_selection, pool_metapsy

R_REML_KNHA = """
res <- rma(yi = g, sei = se, data = dat, method = "REML", test = "knha")
pred <- predict(res)
out <- list(estimate = res$b[1], se = res$se, ci_low = res$ci.lb, ci_high = res$ci.ub, tau2 = res$tau2,
            i2 = res$I2, qe = res$QE, p = res$pval, pi_low = pred$pi.lb, pi_high = pred$pi.ub)
"""


@requires_data
@pytest.mark.parametrize("condition", [None, "mbt"])
def test_bpd_severity_pooled_like_metafor(metafor, condition) -> None:
    file = read_metapsy(PUBLISHED)
    rows = metapsy_selection(file, "BPD severity", condition)
    assert len(rows) == (30 if condition is None else 3)
    assert np.allclose(rows["g"], file.frame.loc[rows.index, ".g"], atol=1e-12), "the database's own g"
    result = pool_metapsy(file, "BPD severity", condition).to_dict()
    r = metafor.run(R_REML_KNHA, {"g": rows["g"].to_numpy(), "se": rows["g_se"].to_numpy()})
    for key in ("estimate", "se", "ci_low", "ci_high", "tau2", "i2", "qe", "p", "pi_low", "pi_high"):
        assert result[key] == pytest.approx(float(r[key][0]), rel=1e-7, abs=1e-9), key
    assert (result["method"], result["test"]) == ("REML", "knha")
    assert CONVENTION in result["notes"]


@requires_data
def test_pool_json_has_the_keys_of_pool_json(capsys) -> None:
    code, out, err = cli(capsys, "metapsy", "pool", str(PUBLISHED), "--condition", "mbt", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result.keys() == meta_analysis([0.1, 0.3, 0.5], [0.04, 0.05, 0.06]).to_dict().keys()
    assert result["k"] == 3 and round(result["estimate"], 3) == -0.487


@requires_data
def test_an_empty_selection_is_a_clear_message(capsys) -> None:
    code, _, err = cli(capsys, "metapsy", "pool", str(PUBLISHED), "--outcome-domain", "anxiety")
    assert code == 2 and "no row with a computable g for outcome_domain 'anxiety'" in err
