"""An inverse power law fitted to a learning curve, its bootstrap band, and what doubling
the cohort is expected to buy — or why the curve cannot say.

The model (Mukherjee et al. 2003; Figueroa et al. 2012): ``perf(n) = a − b·n^(−c)`` with
``b ≥ 0``, ``c > 0`` and ``a`` at most the metric's maximum (every primary metric here
is higher-is-better, with maximum 1: AUC, macro AUC, R², C-index). It is fitted by
bounded least squares (:func:`scipy.optimize.curve_fit`, trust-region reflective) to
(mean training size, score) of every fraction; the same fit on each bootstrap curve
(:func:`insightome.evaluate.learning_curve.bootstrap_curves`: repeats and test samples
resampled, paired across sizes) gives a 95% band for the curve and for the *doubling gain*
``perf(2N) − perf(N)``, where N is the cohort the final model is trained on (all samples;
the largest CV training size is about 0.8·N with 5 folds, so 2N is 2.5 times it). Nothing
is drawn or extrapolated beyond 2N.

A number is given only when the curve supports one; otherwise the verdict says why
(:func:`judge`): too few sizes, a full-size score whose interval includes chance, no rise
beyond noise from the smallest to the full size, a fit that fails (``fit_failed``; or fails
in more than :data:`MAX_FAILED_SHARE` of the bootstraps: ``too_noisy``), or a gain the
interval cannot pin down (``too_noisy``): its lower end is below
:data:`MIN_GAIN_LOWER_SHARE` of the gain while its upper end is above
:data:`NEGLIGIBLE_GAIN`. The power law has ``b ≥ 0``, so no bootstrap gain is negative and
an absolute rule ("the interval includes 0") would almost never fire; the relative rule
asks that the data rule out "doubling buys less than a quarter of what is quoted".
An interval entirely below :data:`NEGLIGIBLE_GAIN` is quoted: "doubling buys almost
nothing" is an answer.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

MAX_METRIC = 1.0  # every primary metric: AUC, macro AUC, R², C-index
MIN_SIZES = 3  # three parameters
MAX_FAILED_SHARE = 0.2  # bootstrap fits that may fail before the curve is "too noisy"
#: the gain's 95% interval must start at or above this share of the gain ...
MIN_GAIN_LOWER_SHARE = 0.25
#: ... unless it ends at or below this (a gain under 0.01 of AUC, R² or C-index is negligible)
NEGLIGIBLE_GAIN = 0.01
C_BOUNDS = (0.01, 3.0)  # the decay exponent: from nearly flat to very steep
GRID = 60  # points of the drawn curve and band, from the smallest size to 2N


def power_law(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """``a − b·n^(−c)``."""
    return a - b * np.power(np.asarray(n, dtype=float), -c)


def fit_power_law(
    n: np.ndarray, score: np.ndarray, warned: list[str] | None = None
) -> tuple[float, float, float] | None:
    """Bounded least-squares ``(a, b, c)``, or None when the fit fails or does not converge.
    Warnings of the fit (scipy's OptimizeWarning: the covariance could not be estimated,
    which the bootstrap band replaces) are appended to ``warned``, not shown."""
    n, score = np.asarray(n, dtype=float), np.asarray(score, dtype=float)
    ok = np.isfinite(score)
    if ok.sum() < MIN_SIZES:
        return None
    n, score = n[ok], score[ok]
    low = float(np.min(score)) - 1.0
    a0 = min(MAX_METRIC, float(np.max(score)) + 0.01)
    c0 = 0.5
    b0 = max(1e-6, (a0 - float(score[np.argmin(n)])) * float(np.min(n)) ** c0)
    bounds = ([low, 0.0, C_BOUNDS[0]], [MAX_METRIC, np.inf, C_BOUNDS[1]])
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", OptimizeWarning)
            params, _ = curve_fit(power_law, n, score, p0=[a0, b0, c0], bounds=bounds, maxfev=2000)
        if warned is not None:
            warned.extend(w.category.__name__ for w in caught)
    except (RuntimeError, ValueError):
        return None
    if not np.all(np.isfinite(params)):
        return None
    return float(params[0]), float(params[1]), float(params[2])


@dataclass(frozen=True)
class CurveFit:
    """The fit, its band, the doubling gain and the verdict (see the module docstring)."""

    params: tuple[float, float, float] | None  # (a, b, c) on the observed curve
    n_full: float  # mean training size at the full fraction (the largest CV training size)
    n_cohort: float  # N: the samples the final model is trained on
    grid: np.ndarray  # training sizes of the drawn curve, up to 2 · N
    fitted: np.ndarray  # the observed fit on the grid (NaN without a fit)
    band: np.ndarray  # (2, GRID) 2.5th and 97.5th percentiles of the bootstrap fits
    gain: float | None  # perf(2N) − perf(N) of the observed fit
    gain_ci95: tuple[float, float] | None
    n_bootstrap: int
    failed_fits: int  # bootstrap curves the power law could not be fitted to
    full_ci95: tuple[float, float]  # bootstrap interval of the full-size score
    rise: float  # full-size score − smallest-size score
    rise_ci95: tuple[float, float]
    verdict: str  # "estimated" or why no number is given: see judge()
    reason: str  # the verdict in words ("" when a number is given)
    fit_warnings: int = 0  # power-law fits (observed + bootstrap) that raised a warning


def fit_curve(
    n_train: np.ndarray,
    score: np.ndarray,
    boot: np.ndarray,
    *,
    chance: float | None,
    n_cohort: float,
) -> CurveFit:
    """Fit the observed curve and every bootstrap curve (``boot``: B × S); judge them.
    ``n_cohort`` is N, the final model's training samples: the gain is perf(2N) − perf(N)."""
    n_train = np.asarray(n_train, dtype=float)
    n_full = float(n_train[-1]) if len(n_train) else float("nan")
    N = float(n_cohort)
    grid = np.linspace(float(n_train[0]), 2 * N, GRID) if len(n_train) else np.zeros(0)
    warned: list[str] = []
    params = fit_power_law(n_train, score, warned)
    fitted = power_law(grid, *params) if params else np.full(len(grid), np.nan)
    curves, gains, failed = [], [], 0
    for row in boot:
        p = fit_power_law(n_train, row, warned)
        if p is None:
            failed += 1
            continue
        curves.append(power_law(grid, *p))
        gains.append(float(power_law(2 * N, *p) - power_law(N, *p)))
    band = (
        np.nanpercentile(np.vstack(curves), [2.5, 97.5], axis=0)
        if curves
        else np.full((2, len(grid)), np.nan)
    )
    gain = float(power_law(2 * N, *params) - power_law(N, *params)) if params else None
    gain_ci = _interval(np.asarray(gains)) if gains else None
    full_ci = _interval(boot[:, -1]) if boot.size else (float("nan"), float("nan"))
    rise_values = boot[:, -1] - boot[:, 0] if boot.size else np.zeros(0)
    rise_ci = _interval(rise_values) if rise_values.size else (float("nan"), float("nan"))
    rise = float(score[-1] - score[0]) if len(score) else float("nan")
    verdict, reason = judge(
        n_sizes=len(n_train), params=params, failed=failed, n_bootstrap=len(boot),
        full_ci=full_ci, rise_ci=rise_ci, gain=gain, gain_ci=gain_ci, chance=chance,
        n_small=float(n_train[0]) if len(n_train) else 0.0, n_full=n_full,
    )  # fmt: skip
    return CurveFit(
        params, n_full, N, grid, fitted, band, gain, gain_ci, len(boot), failed, full_ci, rise,
        rise_ci, verdict, reason, len(warned),
    )  # fmt: skip


def _interval(values: np.ndarray) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if not values.size:
        return float("nan"), float("nan")
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def judge(
    *,
    n_sizes: int,
    params: tuple[float, float, float] | None,
    failed: int,
    n_bootstrap: int,
    full_ci: tuple[float, float],
    rise_ci: tuple[float, float],
    gain: float | None,
    gain_ci: tuple[float, float] | None,
    chance: float | None,
    n_small: float,
    n_full: float,
) -> tuple[str, str]:
    """``("estimated", "")`` when the doubling gain can be quoted, else (verdict, why)."""
    if n_sizes < MIN_SIZES:
        return "too_few_sizes", (
            f"only {n_sizes} training size(s) could be fitted (a power law needs {MIN_SIZES})"
        )
    if chance is not None and not full_ci[0] > chance:
        return "no_signal", (
            f"at the full training size the score's 95% interval ({full_ci[0]:.3f} to "
            f"{full_ci[1]:.3f}) includes chance ({chance:g}): there is no learning to extrapolate"
        )
    if not rise_ci[0] > 0:
        return "flat", (
            f"from {n_small:.0f} to {n_full:.0f} training samples the score did not rise beyond "
            f"noise (change {rise_ci[0]:+.3f} to {rise_ci[1]:+.3f}, 95% interval)"
        )
    if params is None:
        return "fit_failed", "the power law could not be fitted to the observed curve"
    if failed > MAX_FAILED_SHARE * n_bootstrap:
        return "too_noisy", (
            f"the power law could not be fitted to {failed} of {n_bootstrap} bootstrap curves"
        )
    if gain is None or gain_ci is None or not np.all(np.isfinite(gain_ci)):
        return "too_noisy", "the doubling gain has no bootstrap interval"
    lo, hi = gain_ci
    unpinned = gain < NEGLIGIBLE_GAIN or not lo >= MIN_GAIN_LOWER_SHARE * gain
    if hi > NEGLIGIBLE_GAIN and (unpinned or not lo <= gain <= hi):
        if gain < NEGLIGIBLE_GAIN or not lo <= gain <= hi:
            why = f"which does not pin it down (anything from {lo:+.3f} to {hi:+.3f})"
        else:
            why = f"which does not rule out a gain below {MIN_GAIN_LOWER_SHARE:.0%} of it"
        return "too_noisy", (
            f"the gain of {gain:+.3f} has a 95% interval from {lo:+.3f} to {hi:+.3f}, {why}"
        )
    return "estimated", ""
