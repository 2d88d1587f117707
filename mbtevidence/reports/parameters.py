"""The report notebooks' parameters: one definition shared by the notebooks and ``mbtevidence render``.

Every notebook has one cell tagged ``parameters`` with one plain assignment per line (papermill
injects new values after it); its first code cell passes them to :func:`check`, which returns a
:class:`ReportOptions` or stops with one line naming the parameter, the value and what is
allowed.  ``mbtevidence render -p NAME VALUE`` runs the same check before papermill starts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from ..engine.numerics import check_level
from ..engine.tau2 import ESTIMATORS
from ..evidence import load_schema

VOCABULARIES = load_schema()["vocabularies"]
EFFECT_MEASURES = {"SMCR": "within-group change from baseline", "SMD": "MBT vs another treatment"}
TESTS = ("knha", "adhoc", "z")
POPULATIONS = ("itt_first", "completers_first")
GROUPINGS = (
    "setting",
    "dosage_band",
    "fidelity_level",
    "period",
    "implementation_outcome",
    "study_design",
    "analysis_population",
    "instrument",
)


class ParameterError(ValueError):
    """A notebook parameter with a value that is not allowed: one line, no traceback in Jupyter."""

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines instead of a traceback
        return [f"ParameterError: {self}"]


def _number(value: object, low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "a number"
    if value < low or (low_open and value == low) or value > high or (high_open and value == high):
        return f"a number {'>' if low_open else '>='} {low:g} and {'<' if high_open else '<='} {high:g}"
    return None


def _one_of(choices: tuple[str, ...] | list[str]) -> Callable[[object], str | None]:
    return lambda value: None if value in choices else "one of " + ", ".join(map(str, choices))


def _optional(check: Callable[[object], str | None], what: str) -> Callable[[object], str | None]:
    return lambda value: None if value is None else (f"None or {what}" if check(value) else None)


def _text(value: object) -> str | None:
    return None if isinstance(value, str) and value.strip() else "a non-empty text"


def _folder(value: object) -> str | None:
    return None if isinstance(value, str) and Path(value).is_dir() else "an existing folder"


def _hash(value: object) -> str | None:
    return None if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{12}", value) else "12 hexadecimal digits"


def _designs(value: object) -> str | None:
    allowed = list(VOCABULARIES["design"])
    if isinstance(value, list) and all(v in allowed for v in value):
        return None
    return "a list (empty: every design) of " + ", ".join(allowed)


def _prior(value: object) -> str | None:
    try:
        from ..engine.bayes import ALLOWED_PRIORS, TauPrior, parse_prior
    except ImportError:  # the Bayesian model is optional: any text is kept and reported as unavailable
        return _text(value)
    try:
        ok = isinstance(value, str) and isinstance(parse_prior(value), TauPrior)
    except ValueError:
        ok = False
    return None if ok else f"a proper prior for tau: {ALLOWED_PRIORS}"


def _count(value: object) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) and value >= 2 else "a whole number >= 2"


@dataclass(frozen=True)
class Parameter:
    """One notebook parameter: default, a help line (as in the parameters cell) and its check."""

    default: object
    help: str
    check: Callable[[object], str | None]


PARAMETERS: dict[str, Parameter] = {
    "evidence_dir": Parameter(
        None, "evidence folder; None: the bundled evidence/", _optional(_folder, "an existing folder")
    ),
    "seeds_dir": Parameter(
        None,
        "source texts for the quote check; None: $MBTEVIDENCE_SEEDS or ../shared/seeds",
        _optional(_text, "a folder"),
    ),
    "validated_hash": Parameter(
        None, "set by mbtevidence render: evidence version it has validated", _optional(_hash, "12 hexadecimal digits")
    ),
    "outcome_construct": Parameter(
        "symptom_severity",
        "outcome construct (evidence/README.md vocabulary)",
        _one_of(list(VOCABULARIES["outcome_construct"])),
    ),
    "instrument": Parameter(
        None, "one instrument of the construct; None: every instrument", _optional(_text, "a text")
    ),
    "effect_measure": Parameter(
        "SMCR", "SMCR: within-group change; SMD: MBT vs another treatment", _one_of(list(EFFECT_MEASURES))
    ),
    "months_from": Parameter(
        12, "timepoint window, months since the start of treatment: from", lambda v: _number(v, 0, 240)
    ),
    "months_to": Parameter(27, "timepoint window: to (inclusive)", lambda v: _number(v, 0, 240)),
    "target_months": Parameter(
        18,
        "preferred timepoint inside the window; None: any",
        _optional(lambda v: _number(v, 0, 240), "a number of months"),
    ),
    "study_designs": Parameter([], "study designs to include; []: every design", _designs),
    "population": Parameter("itt_first", "selection rule: itt_first or completers_first", _one_of(POPULATIONS)),
    "group_by": Parameter("setting", "grouping for subgroups and forest plots", _one_of(GROUPINGS)),
    "method": Parameter("REML", "tau² estimator", _one_of(list(ESTIMATORS))),
    "test": Parameter("knha", "knha: Knapp-Hartung; adhoc: Knapp-Hartung truncated; z: Wald", _one_of(TESTS)),
    "level": Parameter(
        95, "confidence level, percent", lambda v: None if _level_ok(v) else "a number from 50 to 99.99"
    ),
    "tau_prior": Parameter("halfnormal:0.5", "Bayesian prior for tau", _prior),
    "prepost_correlation": Parameter(
        0.5, "pre-post correlation where a report prints none, 0 <= r < 1", lambda v: _number(v, 0, 1, high_open=True)
    ),
    "min_k_meta_regression": Parameter(
        10, "fewest samples for fitting a meta-regression (Cochrane Handbook 10.11.4)", _count
    ),
    "outcome_correlation": Parameter(
        0.5, "assumed correlation between instruments of one sample, 0-1", lambda v: _number(v, 0, 1)
    ),
}


def _level_ok(value: object) -> bool:
    try:
        check_level(value)  # type: ignore[arg-type]
    except ValueError:
        return False
    return not isinstance(value, bool)


@dataclass(frozen=True)
class ReportOptions:
    """Checked parameters of one report (defaults for those its notebook does not declare)."""

    evidence_dir: str | None = None
    seeds_dir: str | None = None
    validated_hash: str | None = None
    outcome_construct: str = "symptom_severity"
    instrument: str | None = None
    effect_measure: str = "SMCR"
    months_from: float = 12
    months_to: float = 27
    target_months: float | None = 18
    study_designs: tuple[str, ...] = ()
    population: str = "itt_first"
    group_by: str = "setting"
    method: str = "REML"
    test: str = "knha"
    level: float = 95
    tau_prior: str = "halfnormal:0.5"
    prepost_correlation: float = 0.5
    min_k_meta_regression: int = 10
    outcome_correlation: float = 0.5

    @property
    def model(self) -> dict[str, object]:
        """Keyword arguments for the engine and :func:`~mbtevidence.pool_evidence`: method, test, level."""
        return {"method": self.method, "test": self.test, "level": self.level}

    @property
    def window(self) -> str:
        target = "" if self.target_months is None else f", closest to {self.target_months:g}"
        return f"{self.months_from:g}–{self.months_to:g} months{target}"

    def load_evidence(self):
        """The evidence these options name (validation skipped when ``validated_hash`` matches)."""
        from ..evidence import load_evidence
        from ..paths import EVIDENCE_DIR

        return load_evidence(self.evidence_dir or EVIDENCE_DIR, self.seeds_dir, validated_hash=self.validated_hash)


def _problem(name: str, value: object) -> str | None:
    wanted = PARAMETERS[name].check(value)
    return None if wanted is None else f"parameter {name}={value!r} is not allowed: give {wanted}"


def check(**values: object) -> ReportOptions:
    """Check notebook parameters; return them as :class:`ReportOptions`.

    Raises
    ------
    ParameterError
        At the first parameter that is unknown or not allowed, or a window that is reversed or
        does not contain its target; the message names parameter, value and allowed values.
    """
    for name, value in values.items():
        if name not in PARAMETERS:
            raise ParameterError(f"unknown parameter {name!r}; the report parameters are {', '.join(PARAMETERS)}")
        problem = _problem(name, value)
        if problem:
            raise ParameterError(problem)
    options = ReportOptions(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}  # type: ignore[arg-type]
    )
    if options.months_from > options.months_to:
        raise ParameterError(
            f"parameter months_from={options.months_from!r} is after months_to={options.months_to!r}: "
            "give months_from <= months_to"
        )
    target = options.target_months
    if target is not None and not options.months_from <= target <= options.months_to:
        raise ParameterError(
            f"parameter target_months={target!r} is outside the window {options.months_from:g}-"
            f"{options.months_to:g}: give a target inside it, or None"
        )
    return options


def parse_value(name: str, text: str) -> object:
    """A value given on the command line (``-p NAME VALUE``): YAML scalar or list, then checked.

    ``12`` is a number, ``null`` or ``None`` is None, ``[rct, matched_cohort]`` a list, anything
    else a text.
    """
    if name not in PARAMETERS:
        raise ParameterError(f"unknown parameter {name!r}; the report parameters are {', '.join(PARAMETERS)}")
    try:
        value = None if text.strip() in ("None", "none", "") else yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    if isinstance(value, str | int | float | bool | list) or value is None:
        problem = _problem(name, value)
        if problem is None:
            return value
        if not isinstance(value, str) and _problem(name, text) is None:
            return text  # e.g. an instrument name that YAML reads as a number
        raise ParameterError(problem)
    raise ParameterError(f"parameter {name}={text!r} is not allowed: give a number, a text, null or a [list]")


def notebook_defaults() -> dict[str, object]:
    """Every parameter with its default (as written in the notebooks' parameters cells)."""
    return {name: spec.default for name, spec in PARAMETERS.items()}


def option_names() -> list[str]:
    return [f.name for f in fields(ReportOptions)]


__all__ = [
    "EFFECT_MEASURES",
    "GROUPINGS",
    "PARAMETERS",
    "ParameterError",
    "ReportOptions",
    "check",
    "notebook_defaults",
    "option_names",
    "parse_value",
]
