"""mbtevidence: evidence synthesis for Mentalization-Based Treatment (MBT) of borderline personality disorder.

The data flow, one way: ``evidence/`` (tables, schema) -> :mod:`mbtevidence.evidence` (read,
validate, provenance, record -> effect size) -> :mod:`mbtevidence.engine` (escalc, τ² estimators,
models, results, sensitivity; agrees with metafor; knows no evidence column) ->
:mod:`mbtevidence.synthesis` (the MBT policy: one estimate per sample) -> :mod:`mbtevidence.figures`
-> notebooks and reports (:mod:`mbtevidence.reports`).

    >>> import mbtevidence as mbt
    >>> result = mbt.meta_analysis([0.2, 0.5, 0.4], [0.04, 0.05, 0.03])
"""

from .diff import diff_evidence, write_diff_html
from .engine import (
    BayesResult,
    MetaAnalysisResult,
    MetaRegressionResult,
    MethodComparison,
    RobustResult,
    SubgroupResult,
    TestResult,
    bayes_meta_analysis,
    cluster_robust,
    cumulative,
    egger_test,
    escalc,
    few_study_comparison,
    influence,
    leave_one_out,
    meta_analysis,
    meta_regression,
    subgroup_analysis,
    trim_and_fill,
)
from .evidence import Evidence, EvidenceError, evidence_effect_sizes, load_evidence, summary_tables, validate
from .figures import (
    bayes_plot,
    cumulative_plot,
    dose_response_plot,
    fidelity_plot,
    figure_alt_text,
    forest_plot,
    funnel_plot,
    influence_plot,
    leave_one_out_plot,
    save_figure,
)
from .metapsy import pool_metapsy, read_metapsy
from .synthesis import EvidenceSynthesis, SelectionRule, correlation_sweep, pool_evidence

__version__ = "0.2.0"


__all__ = [
    "BayesResult",
    "Evidence",
    "EvidenceError",
    "EvidenceSynthesis",
    "MetaAnalysisResult",
    "MetaRegressionResult",
    "MethodComparison",
    "RobustResult",
    "SelectionRule",
    "SubgroupResult",
    "TestResult",
    "__version__",
    "bayes_meta_analysis",
    "bayes_plot",
    "cluster_robust",
    "correlation_sweep",
    "cumulative",
    "cumulative_plot",
    "diff_evidence",
    "dose_response_plot",
    "egger_test",
    "escalc",
    "evidence_effect_sizes",
    "few_study_comparison",
    "fidelity_plot",
    "figure_alt_text",
    "forest_plot",
    "funnel_plot",
    "influence",
    "influence_plot",
    "leave_one_out",
    "leave_one_out_plot",
    "load_evidence",
    "meta_analysis",
    "meta_regression",
    "pool_evidence",
    "pool_metapsy",
    "read_metapsy",
    "save_figure",
    "subgroup_analysis",
    "summary_tables",
    "trim_and_fill",
    "validate",
    "write_diff_html",
]
