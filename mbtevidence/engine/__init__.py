"""The generic meta-analysis engine: knows no evidence column and imports nothing from the
evidence layer.  Effect sizes (``escalc``), τ² estimators, the fitted model, result objects,
analyses and sensitivity analyses, agreeing with R's metafor."""

from .analyses import cluster_robust, meta_analysis, meta_regression, subgroup_analysis
from .bayes import BayesResult, bayes_meta_analysis, parse_prior
from .comparison import MethodComparison, few_study_comparison
from .effect_sizes import escalc, hedges_correction
from .results import MetaAnalysisResult, MetaRegressionResult, RobustResult, SubgroupResult, TestResult
from .sensitivity import cumulative, egger_test, influence, leave_one_out, trim_and_fill
from .tau2 import ESTIMATORS, Tau2Estimator, get_estimator

__all__ = [
    "ESTIMATORS",
    "BayesResult",
    "MetaAnalysisResult",
    "MetaRegressionResult",
    "MethodComparison",
    "RobustResult",
    "SubgroupResult",
    "Tau2Estimator",
    "TestResult",
    "bayes_meta_analysis",
    "cluster_robust",
    "cumulative",
    "egger_test",
    "escalc",
    "few_study_comparison",
    "get_estimator",
    "hedges_correction",
    "influence",
    "leave_one_out",
    "meta_analysis",
    "meta_regression",
    "parse_prior",
    "subgroup_analysis",
    "trim_and_fill",
]
