"""Effect sizes: one formula per measure, with metafor's names and conventions.

:func:`escalc` mirrors metafor's ``escalc()`` (Viechtbauer 2010, J Stat Softw 36(3); the
formulas below are those of metafor's documentation, default ``vtype="LS"``):

=========  ===========================================================  ==========================================
measure    yi                                                           vi
=========  ===========================================================  ==========================================
MD         m1 - m2                                                      sd1²/n1 + sd2²/n2
SMD        c(n1+n2-2) (m1 - m2) / s_pooled   (Hedges' g)                1/n1 + 1/n2 + yi²/(2(n1+n2))
SMCR       c(n-1) (m1 - m2) / sd1            (Becker 1988)              2(1-r)/n + yi²/(2n)
SMCC       c(n-1) (m1 - m2) / sd_d, sd_d² = sd1²+sd2²-2 r sd1 sd2        1/n + yi²/(2n)
RR         log[(a/n1) / (c/n2)]                                         1/a - 1/n1 + 1/c - 1/n2
OR         log[(a d) / (b c)]                                           1/a + 1/b + 1/c + 1/d
RD         a/n1 - c/n2                                                  p1(1-p1)/n1 + p2(1-p2)/n2
PR         x/n                                                          p(1-p)/n
PLO        log[p / (1-p)]                                               1/x + 1/(n-x)
ZCOR       atanh(r)                                                     1/(n-3)
=========  ===========================================================  ==========================================

with Hedges' exact correction c(m) = Γ(m/2) / (√(m/2) Γ((m-1)/2)).  For RR, OR, RD, PR and PLO,
1/2 is added to every cell of a table that has a zero cell (metafor's ``add=1/2, to="only0"``).
SMD also takes a reported Cohen's d (``di``) or a two-sample t (``ti``, d = t √(1/n1 + 1/n2)); a reported Hedges'
g enters as d = g / c(m), so the correction is not applied twice;
SMCC takes a paired t (``ti``, d = t / √n) or a reported change-score d (``di``); SMCR takes a
reported raw-score standardised change (``di``), with the same correction and variance as
from means.

Inputs metafor refuses stop :func:`escalc` with one ``ValueError`` naming the rows and values
(negative counts or standard deviations, group or sample sizes <= 0, more events than
participants, correlations outside [-1, 1]).  Inputs from which a measure cannot be computed
give NaN, as metafor gives NA, and a ``note`` column (added only when some row has one) says why:
Hedges' correction needs m > 1 (SMD: n1 + n2 - 2 > 1; SMCR, SMCC: n > 2); ZCOR's variance needs
n > 3 (yi is kept, as in metafor); r = ±1 or a standard deviation of 0 make the effect infinite;
a missing input.  Whenever yi or vi is not finite both are NaN, and no variance is negative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaln


def hedges_correction(m: np.ndarray | float) -> np.ndarray:
    """Exact small-sample correction c(m) = Γ(m/2) / (√(m/2) Γ((m-1)/2)) (Hedges 1981); NaN for
    m <= 1, where it is undefined (as metafor's ``.cmicalc``)."""
    m = np.asarray(m, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.exp(gammaln(m / 2) - np.log(np.sqrt(m / 2)) - gammaln((m - 1) / 2))
    return np.where(m > 1, c, np.nan)


def _arrays(args: dict[str, object], data: pd.DataFrame | None) -> dict[str, np.ndarray]:
    out = {}
    for name, value in args.items():
        if value is None:
            continue
        if isinstance(value, str):
            if data is None or value not in data:
                raise ValueError(f"argument {name}={value!r} names no column of data")
            value = data[value]
        try:
            out[name] = np.atleast_1d(np.asarray(value, dtype=float))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"argument {name} must hold numbers ({exc})") from None
    lengths = {len(v) for v in out.values()}
    if len(lengths) > 1:
        raise ValueError(f"arguments have different lengths: { {k: len(v) for k, v in out.items()} }")
    return out


def _need(a: dict[str, np.ndarray], measure: str, *names: str) -> list[np.ndarray]:
    missing = [n for n in names if n not in a]
    if missing:
        raise ValueError(f"measure {measure} needs {', '.join(names)} (missing: {', '.join(missing)})")
    return [a[n] for n in names]


# ---- inputs metafor refuses: one error naming the rows ------------------------------------------

_Rule = tuple[tuple[str, ...], Callable[[np.ndarray], np.ndarray], str]
_SD: _Rule = (("sd1i", "sd2i"), lambda x: x < 0, "standard deviations must be >= 0")
_GROUP_N: _Rule = (("n1i", "n2i"), lambda x: x <= 0, "group sizes must be > 0")
_SAMPLE_N: _Rule = (("ni",), lambda x: x <= 0, "sample sizes must be > 0")
_R: _Rule = (("ri",), lambda x: np.abs(x) > 1, "correlations must lie between -1 and 1")
_TABLE: _Rule = (("ai", "bi", "ci", "di", "n1i", "n2i"), lambda x: x < 0, "counts must be >= 0")
_EVENTS: _Rule = (("xi", "mi"), lambda x: x < 0, "counts must be >= 0")
RULES: dict[str, list[_Rule]] = {
    "MD": [_SD, _GROUP_N],
    "SMD": [_SD, _GROUP_N],
    "SMCR": [_SD, _R, _SAMPLE_N],
    "SMCC": [_SD, _R, _SAMPLE_N],
    "RR": [_TABLE],
    "OR": [_TABLE],
    "RD": [_TABLE],
    "PR": [_EVENTS, (("ni",), lambda x: x <= 0, "group sizes must be > 0")],
    "PLO": [_EVENTS, (("ni",), lambda x: x <= 0, "group sizes must be > 0")],
    "ZCOR": [_R, _SAMPLE_N],
}
"""metafor's checks in ``escalc()``, which stops on any row breaking them."""
_GROUPS = {
    measure: [("ai", "bi", "n1i"), ("ci", "di", "n2i")] if measure in ("RR", "OR", "RD") else [("xi", "mi", "ni")]
    for measure in ("RR", "OR", "RD", "PR", "PLO")
}
"""(events, non-events, group size) of the count measures: events <= size, events + non-events = size."""


def _refuse(measure: str, message: str, offending: list[str]) -> None:
    more = f" (and {len(offending) - 10} more)" if len(offending) > 10 else ""
    raise ValueError(f"escalc {measure}: {message}; offending " + "; ".join(offending[:10]) + more)


def _check(measure: str, a: dict[str, np.ndarray], rows: pd.Index) -> None:
    """Raise one ValueError naming the rows and values that break metafor's rules."""
    if measure in ("PR", "PLO") and "ni" not in a and {"xi", "mi"} <= set(a):
        a = dict(a, ni=a["xi"] + a["mi"])
    for names, breaks, message in RULES[measure]:
        offending = [
            f"row {rows[i]}: {name}={a[name][i]:g}"
            for name in names
            if name in a
            for i in np.flatnonzero(breaks(a[name]))
        ]
        if offending:
            _refuse(measure, message, offending)
    for events, rest, size in _GROUPS.get(measure, []):
        if {events, rest, size} <= set(a):
            wrong = np.flatnonzero(a[events] + a[rest] != a[size])
            values = [
                f"row {rows[i]}: {events}={a[events][i]:g}, {rest}={a[rest][i]:g}, {size}={a[size][i]:g}" for i in wrong
            ]
            if values:
                _refuse(measure, f"{size} must equal {events} + {rest}", values)
        if {events, size} <= set(a):
            over = np.flatnonzero(a[events] > a[size])
            values = [f"row {rows[i]}: {events}={a[events][i]:g} > {size}={a[size][i]:g}" for i in over]
            if values:
                _refuse(measure, "event counts must not exceed group sizes", values)


# ---- the measures: (yi, vi) and the rows where they are undefined --------------------------------


@dataclass(frozen=True)
class Undefined:
    """Rows where a measure cannot be computed, and the note for row i."""

    rows: np.ndarray
    note: Callable[[int], str]
    keeps_yi: bool = False
    """Only vi is undefined (metafor keeps yi)."""


Computed = tuple[np.ndarray, np.ndarray, list[Undefined]]


def _correction_undefined(m: np.ndarray, expression: str) -> Undefined:
    return Undefined(m <= 1, lambda i: f"{expression} = {m[i]:g} <= 1: Hedges' correction is undefined")


def _infinite(rows: np.ndarray, why: str) -> Undefined:
    return Undefined(rows, lambda i: why)


def _add_half_to_zero_tables(*cells: np.ndarray) -> list[np.ndarray]:
    zero = np.logical_or.reduce([c == 0 for c in cells])
    return [np.where(zero, c + 0.5, c) for c in cells]


def _two_by_two(a: dict[str, np.ndarray], measure: str) -> tuple[np.ndarray, ...]:
    if "bi" not in a and {"n1i", "n2i"} <= set(a):
        a = dict(a, bi=a["n1i"] - a["ai"], di=a["n2i"] - a["ci"])
    return tuple(_need(a, measure, "ai", "bi", "ci", "di"))


def _md(a: dict) -> Computed:
    m1, sd1, n1, m2, sd2, n2 = _need(a, "MD", "m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
    return m1 - m2, sd1**2 / n1 + sd2**2 / n2, []


def _smd(a: dict) -> Computed:
    n1, n2 = _need(a, "SMD", "n1i", "n2i")
    undefined = [_correction_undefined(n1 + n2 - 2, "n1i + n2i - 2")]
    if "di" in a:
        d = a["di"]
    elif "ti" in a:
        d = a["ti"] * np.sqrt(1 / n1 + 1 / n2)
    else:
        m1, sd1, m2, sd2 = _need(a, "SMD", "m1i", "sd1i", "m2i", "sd2i")
        sdp = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))
        d = (m1 - m2) / sdp
        undefined.append(_infinite(sdp == 0, "pooled standard deviation 0: the standardised difference is infinite"))
    yi = hedges_correction(n1 + n2 - 2) * d
    return yi, 1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2)), undefined


def _smcr(a: dict) -> Computed:
    ni, ri = _need(a, "SMCR", "ni", "ri")
    undefined = [_correction_undefined(ni - 1, "ni - 1")]
    if "di" in a:
        d = a["di"]
    else:
        m1, m2, sd1 = _need(a, "SMCR", "m1i", "m2i", "sd1i")
        d = (m1 - m2) / sd1
        undefined.append(_infinite(sd1 == 0, "sd1i = 0: the standardised mean change is infinite"))
    yi = hedges_correction(ni - 1) * d
    return yi, 2 * (1 - ri) / ni + yi**2 / (2 * ni), undefined


def _smcc(a: dict) -> Computed:
    (ni,) = _need(a, "SMCC", "ni")
    undefined = [_correction_undefined(ni - 1, "ni - 1")]
    if "di" in a:
        d = a["di"]
    elif "ti" in a:
        d = a["ti"] / np.sqrt(ni)
    else:
        m1, m2, sd1, sd2, ri = _need(a, "SMCC", "m1i", "m2i", "sd1i", "sd2i", "ri")
        sd_change = np.sqrt(np.maximum(sd1**2 + sd2**2 - 2 * ri * sd1 * sd2, 0.0))
        d = (m1 - m2) / sd_change
        why = "the SD of the change, √(sd1i² + sd2i² - 2 ri sd1i sd2i), is 0: the standardised change is infinite"
        undefined.append(_infinite(sd_change == 0, why))
    yi = hedges_correction(ni - 1) * d
    return yi, 1 / ni + yi**2 / (2 * ni), undefined


def _rr(a: dict) -> Computed:
    ai, bi, ci, di = _add_half_to_zero_tables(*_two_by_two(a, "RR"))
    n1, n2 = ai + bi, ci + di
    return np.log((ai / n1) / (ci / n2)), 1 / ai - 1 / n1 + 1 / ci - 1 / n2, []


def _or(a: dict) -> Computed:
    ai, bi, ci, di = _add_half_to_zero_tables(*_two_by_two(a, "OR"))
    return np.log(ai * di / (bi * ci)), 1 / ai + 1 / bi + 1 / ci + 1 / di, []


def _rd(a: dict) -> Computed:
    ai, bi, ci, di = _add_half_to_zero_tables(*_two_by_two(a, "RD"))
    n1, n2 = ai + bi, ci + di
    p1, p2 = ai / n1, ci / n2
    return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2, []


def _proportion_cells(a: dict, measure: str) -> tuple[np.ndarray, np.ndarray]:
    if "mi" in a and "xi" in a:
        return a["xi"], a["mi"]
    xi, ni = _need(a, measure, "xi", "ni")
    return xi, ni - xi


def _pr(a: dict) -> Computed:
    xi, mi = _add_half_to_zero_tables(*_proportion_cells(a, "PR"))
    ni = xi + mi
    p = xi / ni
    return p, p * (1 - p) / ni, []


def _plo(a: dict) -> Computed:
    xi, mi = _add_half_to_zero_tables(*_proportion_cells(a, "PLO"))
    return np.log(xi / mi), 1 / xi + 1 / mi, []


def _zcor(a: dict) -> Computed:
    ri, ni = _need(a, "ZCOR", "ri", "ni")
    few = ni <= 3
    undefined = [
        _infinite(np.abs(ri) == 1, "ri = ±1: Fisher's z is infinite"),
        Undefined(few, lambda i: f"ni = {ni[i]:g} <= 3: the sampling variance 1/(ni - 3) is undefined", True),
    ]
    return np.arctanh(ri), np.where(few, np.nan, 1 / (ni - 3)), undefined


MEASURES: dict[str, Callable[[dict], Computed]] = {
    "MD": _md,
    "SMD": _smd,
    "SMCR": _smcr,
    "SMCC": _smcc,
    "RR": _rr,
    "OR": _or,
    "RD": _rd,
    "PR": _pr,
    "PLO": _plo,
    "ZCOR": _zcor,
}


def _undefined_notes(
    yi: np.ndarray, vi: np.ndarray, undefined: list[Undefined], inputs: dict[str, np.ndarray]
) -> np.ndarray | None:
    """Set yi and vi to NaN where a measure is undefined (in place) and return a note per row, or
    None when every row is defined.  The first applicable reason is the note."""
    not_finite = ~(np.isfinite(yi) & np.isfinite(vi))
    flagged = np.logical_or.reduce([u.rows for u in undefined] + [not_finite])
    if not flagged.any():
        return None
    notes = np.full(len(yi), "", dtype=object)
    keep_yi = np.zeros(len(yi), dtype=bool)
    for i in np.flatnonzero(flagged).tolist():
        reason = next((u for u in undefined if u.rows[i]), None)
        missing = [name for name, values in inputs.items() if np.isnan(values[i])]
        if missing:
            notes[i] = f"missing {', '.join(missing)}"
        elif reason is not None:
            notes[i], keep_yi[i] = reason.note(i), reason.keeps_yi
        else:
            notes[i] = "yi or vi is not finite for these inputs"
    vi[flagged] = np.nan
    yi[flagged & ~keep_yi] = np.nan
    return notes


def escalc(measure: str, data: pd.DataFrame | None = None, **args: object) -> pd.DataFrame:
    """Effect sizes ``yi`` and sampling variances ``vi``, as metafor's ``escalc()``.

    Arguments take metafor's names (``m1i, sd1i, n1i, m2i, sd2i, n2i, ai, bi, ci, di, n1i, n2i,
    xi, mi, ni, ri, ti``; ``di`` is also Cohen's d for SMD/SMCR/SMCC), as arrays or as column
    names of ``data``.  Returns ``data`` (or the arguments) with ``yi`` and ``vi`` added, and a
    ``note`` column when some row's measure is undefined (yi, vi NaN; see the module docstring).

    Raises
    ------
    ValueError
        One line naming the rows and values that metafor refuses (negative counts or standard
        deviations, group or sample sizes <= 0, more events than participants, |r| > 1).
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose from {', '.join(MEASURES)}")
    arrays = _arrays(args, data)
    two_by_two = measure in ("RR", "OR", "RD")
    if two_by_two and "di" in arrays and "bi" not in arrays:
        raise ValueError(f"measure {measure} needs ai, bi, ci, di (or ai, n1i, ci, n2i)")
    rows = data.index if data is not None else pd.RangeIndex(len(next(iter(arrays.values()), [])))
    _check(measure, arrays, rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi, vi, undefined = MEASURES[measure](arrays)
        yi, vi = np.array(yi, dtype=float), np.array(vi, dtype=float)
        notes = _undefined_notes(yi, vi, undefined, arrays)
    out = data.copy() if data is not None else pd.DataFrame(arrays)
    out["yi"], out["vi"] = yi, vi
    if notes is not None:
        out["note"] = notes
    return out
