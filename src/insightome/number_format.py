"""Numbers written for people: the one home of the package's number formatters.

The audit, discovery, the report and the applications all print numbers; they do it with
these functions so that a rule (how many digits, what a missing value looks like, how a
p-value below 0.001 reads) is written once. The module imports nothing from insightome, so
every layer can use it (like :mod:`insightome.errors`).

Missing values — ``None``, NaN, ±infinity, and anything that is not a number — print as
``MISSING`` (an en dash) unless the caller names another text (``'NA'`` in hypotheses.tsv).
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = ["MISSING", "as_float", "fmt_number", "fmt_p", "fmt_sig", "is_missing"]

MISSING = "–"


def is_missing(value: Any) -> bool:
    """True for ``None`` and non-finite numbers."""
    if value is None:
        return True
    if isinstance(value, Real) and not isinstance(value, Integral):
        return not math.isfinite(float(value))
    return False


def as_float(value: Any) -> float:
    """``value`` as a float, NaN when missing or not a number."""
    if isinstance(value, bool | np.bool_) or value is None:
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def fmt_number(value: Any, spec: str = ".3f", *, missing: str | None = MISSING) -> str:
    """``value`` written with the format ``spec`` (``'.3f'``, ``'.3g'``, ``'.0%'`` …).

    ``missing`` is written for ``None``, NaN, ±infinity, booleans and non-numbers. With
    ``missing=None`` the value is only converted to a float, so NaN and infinities print
    as Python prints them (``'nan'``, ``'inf'``): for labels built from numbers that are
    finite by construction, where a non-finite one should show rather than hide.
    """
    if missing is None:
        return format(float(value), spec)
    number = as_float(value)
    return missing if math.isnan(number) else format(number, spec)


def fmt_p(value: Any, *, missing: str = MISSING) -> str:
    """A p-value: three decimals, ``'< 0.001'`` below that, ``missing`` when absent."""
    p = as_float(value)
    if math.isnan(p):
        return missing
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def fmt_sig(value: Any, digits: int = 3) -> str:
    """A positive quantity to ``digits`` significant digits, without exponent notation.

    ``0.0000123`` → ``'0.0000123'``, ``1234.6`` → ``'1,235'``; zero as ``'0'``; missing as
    ``–``; below 1e-10 in exponent notation. For energies and masses that span many orders
    of magnitude.
    """
    v = as_float(value)
    if math.isnan(v):
        return MISSING
    if v == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(v)))
    if abs(round(v, digits - 1 - magnitude)) >= 10 ** (magnitude + 1):  # 0.9995 -> 1.00
        magnitude += 1
    decimals = max(digits - 1 - magnitude, 0)
    if decimals > 12:
        return f"{v:.{digits - 1}e}"
    return f"{v:,.{decimals}f}"
