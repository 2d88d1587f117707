"""mbtevidence: evidence synthesis for Mentalization-Based Treatment (MBT) of borderline personality disorder.

The data flow, one way: ``evidence/`` (tables, schema) -> :mod:`mbtevidence.evidence` (read,
validate, provenance, record -> effect size) -> :mod:`mbtevidence.engine` (escalc, τ² estimators,
models, results, sensitivity; agrees with metafor; knows no evidence column) ->
:mod:`mbtevidence.synthesis` (the MBT policy: one estimate per sample) -> :mod:`mbtevidence.figures`
-> notebooks and reports (:mod:`mbtevidence.reports`).

    >>> import mbtevidence as mbt
    >>> result = mbt.meta_analysis([0.2, 0.5, 0.4], [0.04, 0.05, 0.03])
"""

from .engine import (
    MetaAnalysisResult,
    MetaRegressionResult,
    RobustResult,
    SubgroupResult,
    TestResult,
    cluster_robust,
    cumulative,
    egger_test,
    escalc,
    influence,
    leave_one_out,
    meta_analysis,
    meta_regression,
    subgroup_analysis,
    trim_and_fill,
)
from .evidence import Evidence, EvidenceError, evidence_effect_sizes, load_evidence, summary_tables, validate
from .figures import forest_plot
from .synthesis import EvidenceSynthesis, SelectionRule, correlation_sweep, pool_evidence

__version__ = "0.2.0"


__all__ = [
    "Evidence",
    "EvidenceError",
    "EvidenceSynthesis",
    "MetaAnalysisResult",
    "MetaRegressionResult",
    "RobustResult",
    "SelectionRule",
    "SubgroupResult",
    "TestResult",
    "__version__",
    "cluster_robust",
    "correlation_sweep",
    "cumulative",
    "egger_test",
    "escalc",
    "evidence_effect_sizes",
    "forest_plot",
    "influence",
    "leave_one_out",
    "load_evidence",
    "meta_analysis",
    "meta_regression",
    "pool_evidence",
    "subgroup_analysis",
    "summary_tables",
    "trim_and_fill",
    "validate",
]
