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
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.special import gammaln


def hedges_correction(m: np.ndarray) -> np.ndarray:
    """Exact small-sample correction c(m) = Γ(m/2) / (√(m/2) Γ((m-1)/2)) (Hedges 1981)."""
    m = np.asarray(m, dtype=float)
    return np.exp(gammaln(m / 2) - np.log(np.sqrt(m / 2)) - gammaln((m - 1) / 2))


def _arrays(args: dict[str, object], data: pd.DataFrame | None) -> dict[str, np.ndarray]:
    out = {}
    for name, value in args.items():
        if value is None:
            continue
        if isinstance(value, str):
            if data is None or value not in data:
                raise ValueError(f"argument {name}={value!r} names no column of data")
            value = data[value]
        out[name] = np.asarray(value, dtype=float)
    lengths = {len(np.atleast_1d(v)) for v in out.values()}
    if len(lengths) > 1:
        raise ValueError(f"arguments have different lengths: { {k: len(np.atleast_1d(v)) for k, v in out.items()} }")
    return {k: np.atleast_1d(v) for k, v in out.items()}


def _need(a: dict[str, np.ndarray], measure: str, *names: str) -> list[np.ndarray]:
    missing = [n for n in names if n not in a]
    if missing:
        raise ValueError(f"measure {measure} needs {', '.join(names)} (missing: {', '.join(missing)})")
    return [a[n] for n in names]


def _add_half_to_zero_tables(*cells: np.ndarray) -> list[np.ndarray]:
    zero = np.any([c == 0 for c in cells], axis=0)
    return [np.where(zero, c + 0.5, c) for c in cells]


def _two_by_two(a: dict[str, np.ndarray], measure: str) -> tuple[np.ndarray, ...]:
    if "bi" not in a and {"n1i", "n2i"} <= set(a):
        a = dict(a, bi=a["n1i"] - a["ai"], di=a["n2i"] - a["ci"])
    return tuple(_need(a, measure, "ai", "bi", "ci", "di"))


def _md(a: dict) -> tuple[np.ndarray, np.ndarray]:
    m1, sd1, n1, m2, sd2, n2 = _need(a, "MD", "m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
    return m1 - m2, sd1**2 / n1 + sd2**2 / n2


def _smd(a: dict) -> tuple[np.ndarray, np.ndarray]:
    n1, n2 = _need(a, "SMD", "n1i", "n2i")
    if "di" in a:
        d = a["di"]
    elif "ti" in a:
        d = a["ti"] * np.sqrt(1 / n1 + 1 / n2)
    else:
        m1, sd1, m2, sd2 = _need(a, "SMD", "m1i", "sd1i", "m2i", "sd2i")
        sdp = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))
        d = (m1 - m2) / sdp
    yi = hedges_correction(n1 + n2 - 2) * d
    return yi, 1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2))


def _smcr(a: dict) -> tuple[np.ndarray, np.ndarray]:
    ni, ri = _need(a, "SMCR", "ni", "ri")
    if "di" in a:
        d = a["di"]
    else:
        m1, m2, sd1 = _need(a, "SMCR", "m1i", "m2i", "sd1i")
        d = (m1 - m2) / sd1
    yi = hedges_correction(ni - 1) * d
    return yi, 2 * (1 - ri) / ni + yi**2 / (2 * ni)


def _smcc(a: dict) -> tuple[np.ndarray, np.ndarray]:
    (ni,) = _need(a, "SMCC", "ni")
    if "di" in a:
        d = a["di"]
    elif "ti" in a:
        d = a["ti"] / np.sqrt(ni)
    else:
        m1, m2, sd1, sd2, ri = _need(a, "SMCC", "m1i", "m2i", "sd1i", "sd2i", "ri")
        d = (m1 - m2) / np.sqrt(sd1**2 + sd2**2 - 2 * ri * sd1 * sd2)
    yi = hedges_correction(ni - 1) * d
    return yi, 1 / ni + yi**2 / (2 * ni)


def _rr(a: dict) -> tuple[np.ndarray, np.ndarray]:
    ai, bi, ci, di = _add_half_to_zero_tables(*_two_by_two(a, "RR"))
    n1, n2 = ai + bi, ci + di
    return np.log((ai / n1) / (ci / n2)), 1 / ai - 1 / n1 + 1 / ci - 1 / n2


def _or(a: dict) -> tuple[np.ndarray, np.ndarray]:
    ai, bi, ci, di = _add_half_to_zero_tables(*_two_by_two(a, "OR"))
    return np.log(ai * di / (bi * ci)), 1 / ai + 1 / bi + 1 / ci + 1 / di


def _rd(a: dict) -> tuple[np.ndarray, np.ndarray]:
    ai, bi, ci, di = _add_half_to_zero_tables(*_two_by_two(a, "RD"))
    n1, n2 = ai + bi, ci + di
    p1, p2 = ai / n1, ci / n2
    return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2


def _proportion_cells(a: dict, measure: str) -> tuple[np.ndarray, np.ndarray]:
    if "mi" in a and "xi" in a:
        return a["xi"], a["mi"]
    xi, ni = _need(a, measure, "xi", "ni")
    return xi, ni - xi


def _pr(a: dict) -> tuple[np.ndarray, np.ndarray]:
    xi, mi = _add_half_to_zero_tables(*_proportion_cells(a, "PR"))
    ni = xi + mi
    p = xi / ni
    return p, p * (1 - p) / ni


def _plo(a: dict) -> tuple[np.ndarray, np.ndarray]:
    xi, mi = _add_half_to_zero_tables(*_proportion_cells(a, "PLO"))
    return np.log(xi / mi), 1 / xi + 1 / mi


def _zcor(a: dict) -> tuple[np.ndarray, np.ndarray]:
    ri, ni = _need(a, "ZCOR", "ri", "ni")
    return np.arctanh(ri), 1 / (ni - 3)


MEASURES: dict[str, Callable[[dict], tuple[np.ndarray, np.ndarray]]] = {
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


def escalc(measure: str, data: pd.DataFrame | None = None, **args: object) -> pd.DataFrame:
    """Effect sizes ``yi`` and sampling variances ``vi``, as metafor's ``escalc()``.

    Arguments take metafor's names (``m1i, sd1i, n1i, m2i, sd2i, n2i, ai, bi, ci, di, n1i, n2i,
    xi, mi, ni, ri, ti``; ``di`` is also Cohen's d for SMD/SMCR/SMCC), as arrays or as column
    names of ``data``.  Returns ``data`` (or the arguments) with ``yi`` and ``vi`` added.
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose from {', '.join(MEASURES)}")
    arrays = _arrays(args, data)
    two_by_two = measure in ("RR", "OR", "RD")
    if two_by_two and "di" in arrays and "bi" not in arrays:
        raise ValueError(f"measure {measure} needs ai, bi, ci, di (or ai, n1i, ci, n2i)")
    yi, vi = MEASURES[measure](arrays)
    out = data.copy() if data is not None else pd.DataFrame(arrays)
    out["yi"], out["vi"] = yi, vi
    return out
