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

__all__ = [
    "MISSING", "as_float", "fmt_number", "fmt_p", "fmt_setting", "fmt_sig", "fmt_time",
    "is_missing",
]  # fmt: skip

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


def fmt_setting(value: Any, digits: int = 3) -> str:
    """A configured value (a threshold, a band, a count) at people's precision.

    Numbers get at most ``digits`` significant digits with trailing zeros dropped and no
    exponent: ``0.22314355131420976`` → ``'0.223'``, ``0.05`` → ``'0.05'``, ``10`` →
    ``'10'``, ``12000`` → ``'12,000'``; lists and tuples are written element by element
    (``[0.8, 1.25]`` → ``'0.8, 1.25'``); text and booleans as they are; missing as ``–``.
    """
    if isinstance(value, list | tuple):
        return ", ".join(fmt_setting(v, digits) for v in value) if value else "none"
    if isinstance(value, bool | np.bool_) or value is None or isinstance(value, str):
        return MISSING if value is None else str(value)
    if isinstance(value, Integral):
        return f"{int(value):,}"
    v = as_float(value)
    if math.isnan(v):
        return MISSING if is_missing(value) or isinstance(value, Real) else str(value)
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    text = fmt_sig(abs(v), digits)
    if "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return "-" + text if v < 0 else text


def fmt_time(value: Any) -> str:
    """A time (survival follow-up, a median time) in plain digits, never in exponent notation:
    whole numbers from 100 on (``1693.4`` → ``'1,693'``), one decimal below (``12.25`` →
    ``'12.2'``); missing as ``–``. The unit is the time column's: name it next to the number.
    """
    v = as_float(value)
    if math.isnan(v):
        return MISSING
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.1f}"
