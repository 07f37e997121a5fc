"""Confidence intervals for a proportion: the one home of the Wilson score interval.

Used by the data audit (a group's prevalence), the report (the calibration plot's bins)
and available to discovery's subgroup rates. ``evaluate`` is the lowest layer that holds
statistics, so every user above it can import this module.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["WILSON_Z95", "wilson_interval", "wilson_intervals"]

#: The 97.5th percentile of the standard normal to 7 digits: the data audit's and the
#: calibration plot's 95% intervals use it (results.json records intervals computed with it).
WILSON_Z95 = 1.959964


def wilson_intervals(
    k: ArrayLike, n: ArrayLike, z: float = WILSON_Z95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson (1927) score intervals for ``k`` successes out of ``n``, element by element.

    Returns ``(low, high)`` arrays; NaN where ``n`` is 0. The lower bound is exactly 0 at
    ``k = 0`` and the upper exactly 1 at ``k = n``, as in exact arithmetic (the formula
    rounds them to ±1e-17 around it: a prevalence interval printed from ``-0.000``).
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    low = np.where((k == 0) & (n > 0), 0.0, centre - half)
    high = np.where((k == n) & (n > 0), 1.0, centre + half)
    return low, high


def wilson_interval(k: float, n: int, z: float = WILSON_Z95) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes out of ``n`` as two floats.

    ``(nan, nan)`` when ``n`` is 0; see :func:`wilson_intervals`.
    """
    if n == 0:
        return (math.nan, math.nan)
    low, high = wilson_intervals(k, n, z)
    return (float(low), float(high))
