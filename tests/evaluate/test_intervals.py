"""The one Wilson score interval (evaluate/intervals.py): edge cases, agreement with SciPy,
and bit-for-bit agreement with the copies it replaced (data audit, calibration plot,
discovery's subgroup rates)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from insightome.evaluate.intervals import WILSON_Z95, wilson_interval, wilson_intervals


def test_no_trials_gives_no_interval() -> None:
    assert all(math.isnan(b) for b in wilson_interval(0, 0))
    low, high = wilson_intervals([0, 3], [0, 5])
    assert math.isnan(low[0]) and math.isnan(high[0]) and 0 < low[1] < 0.6 < high[1] < 1


@pytest.mark.parametrize("n", [1, 2, 7, 10, 100, 10_000])
def test_no_successes_and_all_successes(n: int) -> None:
    z2 = WILSON_Z95**2
    low, high = wilson_interval(0, n)
    assert low == 0.0 and high == pytest.approx(z2 / (n + z2), rel=1e-12)
    low_all, high_all = wilson_interval(n, n)
    assert high_all == 1.0 and low_all == pytest.approx(1 - high, rel=1e-12)


def test_exact_bounds_at_no_and_all_successes() -> None:
    k = np.concatenate([np.zeros(500), np.arange(1, 501)])
    n = np.concatenate([np.arange(1, 501), np.arange(1, 501)])
    low, high = wilson_intervals(k, n)
    assert np.all(low[:500] == 0.0) and np.all(high[500:] == 1.0)
    assert np.all(low <= k / n) and np.all(k / n <= high)


def test_matches_scipy_wilson_interval() -> None:
    rng = np.random.default_rng(3)
    z = stats.norm.ppf(0.975)
    for n in rng.integers(1, 2000, 40):
        k = int(rng.integers(0, n + 1))
        ci = stats.binomtest(k, int(n)).proportion_ci(method="wilson")
        assert wilson_interval(k, int(n), z) == pytest.approx((ci.low, ci.high), abs=1e-12)
        # the default z (1.959964, 7 digits) is within 1e-6 of SciPy's exact quantile
        assert wilson_interval(k, int(n)) == pytest.approx((ci.low, ci.high), abs=1e-6)


def test_arrays_and_scalars_agree() -> None:
    k, n = np.array([[0, 1, 5], [9, 10, 0]]), np.array([[10], [10]])
    low, high = wilson_intervals(k, n)
    assert low.shape == high.shape == (2, 3)
    for i, j in np.ndindex(k.shape):
        assert (low[i, j], high[i, j]) == wilson_interval(int(k[i, j]), 10)


# The copies the shared function replaced, verbatim: the same bits for every k ≤ n ≤ 300,
# except the bounds at k = 0 and k = n, which they left 1e-17 off 0 and 1.


def _data_audit_wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return (centre - half, centre + half)


def _plots_wilson(k: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    phat = k / n
    denom = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _subgroups_wilson(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_g = table.sum(1)
    z = stats.norm.ppf(0.975)
    with np.errstate(all="ignore"):
        p = table / n_g[:, None]
        centre = (p + z**2 / (2 * n_g[:, None])) / (1 + z**2 / n_g[:, None])
        half = z * np.sqrt(p * (1 - p) / n_g[:, None] + z**2 / (4 * n_g[:, None] ** 2))
        half /= 1 + z**2 / n_g[:, None]
    return centre - half, centre + half


def test_identical_to_the_copies_it_replaced() -> None:
    for n in range(1, 301):
        for k in range(n + 1):
            ours, before = wilson_interval(k, n), _data_audit_wilson(k, n)
            low, high = (0.0 if k == 0 else before[0]), (1.0 if k == n else before[1])
            assert ours == (low, high)
            if 0 < k < n:
                assert ours == _plots_wilson(float(k), n)
    table = np.random.default_rng(0).integers(0, 40, size=(300, 3))
    table[0] = 0  # an empty subgroup: NaN, as before
    lo, hi = wilson_intervals(table, table.sum(1)[:, None], stats.norm.ppf(0.975))
    old_lo, old_hi = _subgroups_wilson(table)
    old_lo[(table == 0) & (table.sum(1)[:, None] > 0)] = 0.0
    old_hi[(table == table.sum(1)[:, None]) & (table > 0)] = 1.0
    assert np.array_equal(lo, old_lo, equal_nan=True) and np.array_equal(hi, old_hi, equal_nan=True)
