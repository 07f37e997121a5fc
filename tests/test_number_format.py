"""The one home of number formatting (insightome.number_format): missing values, extremes,
and the former per-module copies it replaced, which must print exactly as before."""

from __future__ import annotations

import math

import numpy as np
import pytest

from insightome import number_format
from insightome.number_format import MISSING, as_float, fmt_number, fmt_p, fmt_sig, is_missing
from insightome.report import formatting

ODD_VALUES = [
    0, 1, -1, 5, 0.0, -0.0, 0.5, -0.5, 0.0005, 0.9995, 1 / 3, -2 / 3, 1e-12, -1e-12, 1e-300,
    1e15, 1e300, -1e300, 123456.789, np.float64(0.125), np.float32(0.1), np.int64(7),
    math.nan, math.inf, -math.inf, np.nan, None,
]  # fmt: skip


def test_missing_values_print_as_the_missing_text() -> None:
    for value in (None, math.nan, math.inf, -math.inf, np.float64("nan"), "text", [1], True):
        assert fmt_number(value) == MISSING
        assert fmt_number(value, ".3g", missing="NA") == "NA"
    assert fmt_p(None) == MISSING and fmt_p(math.nan, missing="nan") == "nan"
    assert fmt_sig(math.inf) == MISSING and fmt_sig(None) == MISSING


def test_extremes_negative_tiny_and_huge_numbers() -> None:
    assert fmt_number(-0.0004) == "-0.000"
    assert fmt_number(1e-12) == "0.000" and fmt_number(1e-12, ".3g") == "1e-12"
    assert fmt_number(1e300, ".3g") == "1e+300" and fmt_number(-1e300, ".3g") == "-1e+300"
    assert fmt_number(123456.789, ".3g") == "1.23e+05"
    assert fmt_number(5) == "5.000" and fmt_number(np.int64(5), ".3g") == "5"
    assert fmt_number("0.25") == "0.250"  # a number written as text still formats
    assert fmt_number(0.5, ".0%") == "50%"
    assert fmt_sig(-0.000012345) == "-0.0000123" and fmt_sig(1e-11) == "1.00e-11"
    assert fmt_sig(1234.6) == "1,235" and fmt_sig(0.9995) == "1.00" and fmt_sig(0) == "0"
    assert fmt_sig(1e6) == "1,000,000"  # no exponent, even for huge values: all 301 digits
    assert len(fmt_sig(1e300).replace(",", "")) == 301 and "e" not in fmt_sig(1e300)


def test_missing_none_prints_non_finite_numbers_as_python_does() -> None:
    assert fmt_number(math.nan, ".3g", missing=None) == "nan"
    assert fmt_number(math.inf, ".3g", missing=None) == "inf"
    assert fmt_number(-math.inf, ".3g", missing=None) == "-inf"
    assert fmt_number(0.123456, ".3g", missing=None) == "0.123"


def test_p_values_at_the_boundary() -> None:
    assert fmt_p(0.001) == "0.001"
    assert fmt_p(0.000999) == "< 0.001"
    assert fmt_p(0.0) == "< 0.001" and fmt_p(-1.0) == "< 0.001"
    assert fmt_p(1.0) == "1.000" and fmt_p(np.float64(0.0456)) == "0.046"


def test_is_missing_and_as_float() -> None:
    assert is_missing(None) and is_missing(math.nan) and is_missing(-math.inf)
    assert not is_missing(0) and not is_missing(10**30) and not is_missing("x")
    assert math.isnan(as_float(True)) and math.isnan(as_float("x")) and as_float("2") == 2.0


def test_the_report_uses_the_same_functions() -> None:
    for name in ("MISSING", "as_float", "fmt_p", "fmt_sig", "is_missing"):
        assert getattr(formatting, name) is getattr(number_format, name)


# The copies that number_format replaced, verbatim: every value prints as they printed it.


def _report_float(value: float, digits: int = 3) -> str:  # report/formatting.fmt, floats
    return f"{float(value):.{digits}f}"


def _plots_f3(value: float) -> str:  # report/plots._f3
    return "–" if value is None or not np.isfinite(value) else f"{value:.3f}"


def _hypotheses_fmt(v: float) -> str:  # discover/hypotheses._fmt
    return f"{v:.3g}" if np.isfinite(v) else "NA"


def _groups_fmt(x: float) -> str:  # groups/labels._fmt
    return f"{x:.3g}"


def _plots_p_text(p: float) -> str:  # report/plots._p_text
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_identical_to_the_copies_it_replaced(value: object) -> None:
    from insightome.report.figure_style import p_phrase

    if not formatting.is_missing(value) and not isinstance(value, bool):
        assert formatting.fmt(value, 2) == (
            str(int(value)) if isinstance(value, int | np.integer) else _report_float(value, 2)
        )
    if value is not None:
        assert fmt_number(value) == _plots_f3(value)
        assert fmt_number(value, ".3g", missing="NA") == _hypotheses_fmt(value)
        assert fmt_number(value, ".3g", missing=None) == _groups_fmt(value)
        if not (isinstance(value, float | np.floating) and math.isinf(value)):
            assert p_phrase(value) == _plots_p_text(value)  # p-values are never infinite


def test_settings_are_written_at_peoples_precision() -> None:
    """A configured threshold reads as people write it: log(1.25) is 0.223, not
    0.22314355131420976; round numbers keep no trailing zeros; bands are element-wise."""
    from insightome.number_format import fmt_setting

    assert fmt_setting(math.log(1.25)) == "0.223"
    assert fmt_setting(0.05) == "0.05" and fmt_setting(0.2) == "0.2" and fmt_setting(10) == "10"
    assert fmt_setting([0.8, 1.25]) == "0.8, 1.25" and fmt_setting(()) == "none"
    assert fmt_setting(12000.0) == "12,000" and fmt_setting(-math.log(1.25)) == "-0.223"
    assert fmt_setting("holm") == "holm" and fmt_setting(None) == MISSING
    assert fmt_setting(math.nan) == MISSING and fmt_setting(True) == "True"
    for value in ODD_VALUES:
        text = fmt_setting(value)
        assert ("e+" not in text and "e-" not in text) or abs(as_float(value)) < 1e-10, text


def test_times_are_plain_digits_never_exponent_notation() -> None:
    """'median time 1.69e+03' was unreadable: a time is written in plain digits."""
    from insightome.number_format import fmt_time

    assert fmt_time(1686.0) == "1,686" and fmt_time(1693.4) == "1,693"
    assert fmt_time(12.25) == "12.2" and fmt_time(0.5) == "0.5" and fmt_time(100) == "100"
    assert fmt_time(123456.7) == "123,457" and fmt_time(None) == MISSING
    assert fmt_time(math.inf) == MISSING
    for value in (1e3, 1.69e3, 2.5e5, 9.99e6):
        assert "e" not in fmt_time(value)
