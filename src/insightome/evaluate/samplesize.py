"""How many samples a prediction model needs, before the data exist.

Riley et al.'s criteria for *developing* a model (BMJ 2020;368:m441; Stat Med
2019;38:1262 and 1276), for binary, time-to-event and continuous outcomes, and for
*externally validating* one: binary outcomes (Riley et al., Stat Med 2021;40:4230) and
continuous outcomes (Archer et al., Stat Med 2021;40:133). Each criterion is a sample
size; the minimum is the largest of them.

The formulas follow the papers and the reference implementations (R/Stata
``pmsampsize`` and ``pmvalsampsize``) with two deliberate differences, both written into
the tests: nothing is rounded before the last step (``pmsampsize`` rounds the maximum
Cox-Snell R² to 2 decimals and the shrinkage of criterion 2 to 3, which turns the BMJ
paper's 662 into 668), and quantities the R packages simulate (the Cox-Snell R² implied
by a C statistic; the linear predictor's distribution for the calibration slope) are
computed by numerical integration, so the answer does not depend on a seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import integrate, optimize, stats

Z95 = stats.norm.ppf(0.975)  # 1.959964 (pmsampsize uses 1.96; the difference is < 0.002%)
LARGEST_N = 10**9  # a search that would need more is answered "more than a billion"


class SampleSizeError(ValueError):
    """Inputs that describe no possible study (the CLI prints it as one line, exit 2)."""


@dataclass(frozen=True)
class Criterion:
    """One criterion: what it protects, and the sample size it needs."""

    name: str  # "shrinkage", "optimism", "overall risk", ...
    aim: str  # what meeting it ensures, in words
    n: int
    shrinkage: float | None = None  # expected uniform shrinkage at that n (development)
    events: float | None = None  # expected outcome events at that n (binary, survival)
    detail: str = ""  # e.g. the interval it gives at the final n


@dataclass(frozen=True)
class SampleSize:
    """The criteria, the minimum sample size (the largest of them) and what it implies."""

    outcome: str  # "binary", "survival", "continuous"
    purpose: str  # "development" or "validation"
    parameters: int | None  # candidate predictor parameters (development)
    criteria: tuple[Criterion, ...]
    inputs: dict[str, float]
    derived: dict[str, float] = field(default_factory=dict)  # max R², R² from C, ...
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return max(c.n for c in self.criteria)

    @property
    def binding(self) -> Criterion:
        """The criterion that sets the minimum (the first of equal ones)."""
        return next(c for c in self.criteria if c.n == self.n)

    @property
    def events(self) -> float | None:
        rate = self.derived.get("events_per_participant")
        return None if rate is None else self.n * rate

    @property
    def events_per_parameter(self) -> float | None:
        events = self.events
        if events is None or not self.parameters:
            return None
        return events / self.parameters

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "purpose": self.purpose,
            "n": self.n,
            "binding_criterion": self.binding.name,
            "events": self.events,
            "events_per_parameter": self.events_per_parameter,
            "parameters": self.parameters,
            "criteria": [asdict(c) for c in self.criteria],
            "inputs": self.inputs,
            "derived": self.derived,
            "notes": list(self.notes),
        }


# -- shared pieces -----------------------------------------------------------------------


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SampleSizeError(message)


def _fraction(name: str, value: float, *, closed_low: bool = False) -> None:
    ok = (0 <= value < 1) if closed_low else (0 < value < 1)
    _check(ok, f"{name} must be between 0 and 1, not {value:g}")


def _smallest_n(ok: Callable[[int], bool], start: int) -> int:
    """The smallest integer n >= start with ``ok(n)``, for ``ok`` false then true as n grows."""
    if ok(start):
        return start
    high = max(start + 1, 2 * start)
    while not ok(high):
        if high >= LARGEST_N:
            raise SampleSizeError(
                "the criteria would need more than a billion participants; check the inputs "
                "(an anticipated R² or event rate near zero?)"
            )
        start, high = high, min(2 * high, LARGEST_N)
    low = start  # ok(low) is false, ok(high) is true
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if ok(mid) else (mid, high)
    return high


def _whole(n: float) -> int:
    """A criterion's n, rounded up; more than a billion is refused as a mistaken input."""
    _check(
        math.isfinite(n) and n <= LARGEST_N,
        "the criteria would need more than a billion participants; check the inputs (an "
        "anticipated R² or C statistic near its null value?)",
    )
    return math.ceil(n)


def shrinkage_n(parameters: int, r2_cs: float, shrinkage: float) -> float:
    """Riley's equation for the n at which the expected uniform shrinkage of a model with
    ``parameters`` predictor parameters and Cox-Snell R² ``r2_cs`` is ``shrinkage``."""
    _check(
        r2_cs < shrinkage,
        f"the anticipated Cox-Snell R² ({r2_cs:.3g}) must be below the shrinkage target "
        f"({shrinkage:g})",
    )
    return parameters / ((shrinkage - 1) * math.log(1 - r2_cs / shrinkage))


def _development_criteria_12(
    parameters: int,
    r2_cs: float,
    max_r2: float,
    shrinkage: float,
    optimism: float,
    events_per_participant: float,
) -> tuple[Criterion, Criterion]:
    """Criteria 1 and 2 of a binary or time-to-event model (Riley 2019, Part II)."""
    n1 = _whole(shrinkage_n(parameters, r2_cs, shrinkage))
    # the shrinkage that keeps the optimism of Nagelkerke's R² at `optimism`
    s2 = r2_cs / (r2_cs + optimism * max_r2)
    n2 = _whole(shrinkage_n(parameters, r2_cs, s2))
    return (
        Criterion(
            "shrinkage",
            f"expected uniform shrinkage of the predictor effects ≥ {shrinkage:g} "
            "(little overfitting)",
            n1,
            shrinkage,
            n1 * events_per_participant,
        ),
        Criterion(
            "optimism",
            f"apparent Nagelkerke R² at most {optimism:g} above the adjusted one",
            n2,
            s2,
            n2 * events_per_participant,
        ),
    )


def _r2_cs(
    max_r2: float,
    r2_cs: float | None,
    nagelkerke: float | None,
    c_statistic: float | None = None,
    prevalence: float | None = None,
) -> tuple[float, str]:
    given = [
        name
        for name, v in (("r2", r2_cs), ("nagelkerke", nagelkerke), ("c_statistic", c_statistic))
        if v is not None
    ]
    _check(
        len(given) == 1,
        "give exactly one of the anticipated Cox-Snell R², Nagelkerke's R² or the C statistic"
        + (f" (got {', '.join(given)})" if given else ""),
    )
    if r2_cs is not None:
        _fraction("the anticipated Cox-Snell R²", r2_cs)
        value, source = r2_cs, "given"
    elif nagelkerke is not None:
        _fraction("the anticipated Nagelkerke R²", nagelkerke)
        value, source = nagelkerke * max_r2, f"Nagelkerke R² {nagelkerke:g} × max R²"
    else:
        assert c_statistic is not None and prevalence is not None
        value = r2_cs_from_c(c_statistic, prevalence)
        source = f"from C = {c_statistic} (Riley, Van Calster and Collins, Stat Med 2021;40:859)"
    _check(
        value < max_r2,
        f"the anticipated Cox-Snell R² ({value:.3g}) must be below its maximum for this "
        f"outcome ({max_r2:.3g})",
    )
    return value, source


# -- binary outcome ----------------------------------------------------------------------


def max_r2_cs_binary(prevalence: float) -> float:
    """The largest Cox-Snell R² a model of an outcome with this prevalence can reach."""
    ln_null = prevalence * math.log(prevalence) + (1 - prevalence) * math.log(1 - prevalence)
    return 1 - math.exp(2 * ln_null)


def r2_cs_from_c(c_statistic: float, prevalence: float) -> float:
    """The Cox-Snell R² of a logistic model with this C statistic (Riley, Van Calster and
    Collins, Stat Med 2021;40:859): the linear predictor is normal with variance 1 in
    events and non-events, means √2·Φ⁻¹(C) apart. ``pmsampsize`` fits a logistic model to
    a million simulated patients; the model is exact here (equal-variance normals make the
    log-odds linear), so R² = 1 − exp(−2·I), with I the mutual information of outcome and
    predictor, integrated.
    """
    _fraction("the C statistic", c_statistic)
    _check(c_statistic > 0.5, f"the C statistic must be above 0.5, not {c_statistic:g}")
    _fraction("the prevalence", prevalence)
    mu = math.sqrt(2) * stats.norm.ppf(c_statistic)
    log_odds0 = math.log(prevalence / (1 - prevalence)) - mu * mu / 2

    def entropy_given(x: float) -> float:  # H(Y | LP = x), nats, times the density of x
        eta = log_odds0 + mu * x
        p = 1 / (1 + math.exp(-eta)) if eta > -700 else 0.0
        h = 0.0
        for q in (p, 1 - p):
            if q > 0:
                h -= q * math.log(q)
        density = prevalence * stats.norm.pdf(x, mu, 1) + (1 - prevalence) * stats.norm.pdf(x)
        return h * density

    lo, hi = min(0.0, mu) - 12, max(0.0, mu) + 12
    conditional, _ = integrate.quad(entropy_given, lo, hi, limit=200, epsabs=1e-12)
    marginal = -(prevalence * math.log(prevalence) + (1 - prevalence) * math.log(1 - prevalence))
    return 1 - math.exp(-2 * (marginal - conditional))


def development_binary(
    parameters: int,
    prevalence: float,
    *,
    r2_cs: float | None = None,
    nagelkerke: float | None = None,
    c_statistic: float | None = None,
    shrinkage: float = 0.9,
    optimism: float = 0.05,
    margin: float = 0.05,
) -> SampleSize:
    """Riley's three criteria for a logistic model (BMJ 2020, Stat Med 2019 Part II)."""
    _check(parameters >= 1, f"the predictor parameters must be at least 1, not {parameters}")
    _fraction("the prevalence", prevalence)
    _targets(shrinkage, optimism, margin)
    max_r2 = max_r2_cs_binary(prevalence)
    r2, source = _r2_cs(max_r2, r2_cs, nagelkerke, c_statistic, prevalence)
    c1, c2 = _development_criteria_12(parameters, r2, max_r2, shrinkage, optimism, prevalence)
    n3 = _whole((Z95 / margin) ** 2 * prevalence * (1 - prevalence))
    c3 = Criterion(
        "overall risk",
        f"the outcome proportion estimated within ± {margin:g} (95% CI)",
        n3,
        events=n3 * prevalence,
    )
    return SampleSize(
        "binary",
        "development",
        parameters,
        (c1, c2, c3),
        _inputs(
            parameters=parameters,
            prevalence=prevalence,
            r2_cs=r2_cs,
            nagelkerke=nagelkerke,
            c_statistic=c_statistic,
            shrinkage=shrinkage,
            optimism=optimism,
            margin=margin,
        ),
        {
            "r2_cs": r2,
            "max_r2_cs": max_r2,
            "nagelkerke_r2": r2 / max_r2,
            "events_per_participant": prevalence,
        },
        (f"Cox-Snell R² {r2:.4g} ({source})",),
    )


# -- time-to-event outcome ---------------------------------------------------------------


def max_r2_cs_survival(rate: float, mean_follow_up: float) -> float:
    """The largest Cox-Snell R² of a survival model: the exponential null model's
    log-likelihood per participant, E/n·ln(E/n) − E/n with E/n = rate × mean follow-up
    (Riley et al., Stat Med 2019 Part II, and ``pmsampsize``)."""
    per = rate * mean_follow_up
    return 1 - math.exp(2 * (per * math.log(per) - per))


def development_survival(
    parameters: int,
    rate: float,
    timepoint: float,
    mean_follow_up: float,
    *,
    r2_cs: float | None = None,
    nagelkerke: float | None = None,
    shrinkage: float = 0.9,
    optimism: float = 0.05,
    margin: float = 0.05,
) -> SampleSize:
    """Riley's criteria for a time-to-event model (BMJ 2020; Stat Med 2019 Part II).

    ``rate``: events per person-time unit; ``mean_follow_up`` and ``timepoint`` in the
    same unit. Criterion 3 asks that the 95% CI of the overall risk by ``timepoint`` lie
    within ± ``margin``: ``pmsampsize`` reports that interval at the largest of criteria 1
    and 2; here n is raised until it holds (it rarely binds)."""
    _check(parameters >= 1, f"the predictor parameters must be at least 1, not {parameters}")
    _check(rate > 0, f"the event rate must be above 0, not {rate:g}")
    _check(timepoint > 0, f"the time point must be above 0, not {timepoint:g}")
    _check(mean_follow_up > 0, f"the mean follow-up must be above 0, not {mean_follow_up:g}")
    per = rate * mean_follow_up
    _check(
        per < 1,
        f"rate × mean follow-up ({per:.3g}) is the expected events per participant and must "
        "be below 1 (one event per participant at most); check the rate's time unit",
    )
    _targets(shrinkage, optimism, margin)
    max_r2 = max_r2_cs_survival(rate, mean_follow_up)
    r2, source = _r2_cs(max_r2, r2_cs, nagelkerke)
    c1, c2 = _development_criteria_12(parameters, r2, max_r2, shrinkage, optimism, per)
    risk = 1 - math.exp(-rate * timepoint)

    def interval(n: int) -> tuple[float, float]:
        se = math.sqrt(rate / (mean_follow_up * n))
        return (
            1 - math.exp(-max(rate - Z95 * se, 0.0) * timepoint),
            1 - math.exp(-(rate + Z95 * se) * timepoint),
        )

    def precise(n: int) -> bool:
        low, high = interval(n)
        return high - risk <= margin and risk - low <= margin

    n3 = _smallest_n(precise, max(c1.n, c2.n))
    low, high = interval(n3)
    c3 = Criterion(
        "overall risk",
        f"the overall risk by time {timepoint:g} estimated within ± {margin:g} (95% CI)",
        n3,
        events=n3 * per,
        detail=f"risk {risk:.3f}, 95% CI {low:.3f} to {high:.3f} at n = {n3} (searched from "
        "the larger of criteria 1 and 2)",
    )
    return SampleSize(
        "survival",
        "development",
        parameters,
        (c1, c2, c3),
        _inputs(
            parameters=parameters,
            rate=rate,
            timepoint=timepoint,
            mean_follow_up=mean_follow_up,
            r2_cs=r2_cs,
            nagelkerke=nagelkerke,
            shrinkage=shrinkage,
            optimism=optimism,
            margin=margin,
        ),
        {
            "r2_cs": r2,
            "max_r2_cs": max_r2,
            "nagelkerke_r2": r2 / max_r2,
            "events_per_participant": per,
            "overall_risk": risk,
        },
        (f"Cox-Snell R² {r2:.4g} ({source})",),
    )


# -- continuous outcome ------------------------------------------------------------------


def continuous_shrinkage(n: np.ndarray, parameters: int, r2_adj: float) -> np.ndarray:
    """Expected shrinkage of a linear model at n (Riley et al., Stat Med 2019 Part I):
    1 + (p − 2) / (n ln(1 − R²_app)), with the apparent R² implied by the adjusted one."""
    n = np.asarray(n, dtype=float)
    apparent = (r2_adj * (n - parameters - 1) + parameters) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 + (parameters - 2) / (n * np.log(1 - apparent))


def _first(ok: Callable[[np.ndarray], np.ndarray], start: int) -> int:
    """The first integer n >= start where the vectorised ``ok`` holds: a plain scan of
    the first 4,096 values (criterion 1 of a continuous outcome can hold at the very start
    and fail just after it, as ``pmsampsize``'s scan finds), then doubling and bisection,
    where every criterion here only gets easier as n grows."""
    n = np.arange(start, start + 4096)
    hit = np.flatnonzero(ok(n))
    if hit.size:
        return int(n[hit[0]])
    return _smallest_n(lambda m: bool(ok(np.array([m]))[0]), start + 4096)


def development_continuous(
    parameters: int,
    r2_adj: float,
    mean: float,
    sd: float,
    *,
    shrinkage: float = 0.9,
    optimism: float = 0.05,
    mmoe: float = 1.1,
) -> SampleSize:
    """Riley's four criteria for a linear model (Stat Med 2019 Part I; BMJ 2020).

    ``mean`` and ``sd``: the outcome's anticipated mean (the intercept when predictors
    are centred) and standard deviation in the target population. Criterion 4 uses the
    residual variance sd²(1 − R²) (``pmsampsize`` 1.1.3 uses sd(1 − R²); it never binds
    in its tests)."""
    _check(parameters >= 1, f"the predictor parameters must be at least 1, not {parameters}")
    _fraction("the anticipated adjusted R²", r2_adj)
    _check(sd > 0, f"the outcome's standard deviation must be above 0, not {sd:g}")
    _check(mean != 0, "the outcome's mean must not be 0 (criterion 4 is a relative margin)")
    _check(mmoe > 1, f"the multiplicative margin of error must be above 1, not {mmoe:g}")
    _targets(shrinkage, optimism, 0.5)
    start = parameters + 2
    n1 = _first(lambda n: continuous_shrinkage(n, parameters, r2_adj) >= shrinkage, start)
    n2 = _whole(1 + parameters * (1 - r2_adj) / optimism)

    def residual_ok(n: np.ndarray) -> np.ndarray:
        df = n - parameters - 1
        low = df / stats.chi2.ppf(0.025, df)
        high = stats.chi2.ppf(0.975, df) / df
        return np.sqrt(np.maximum(low, high)) <= mmoe

    n3 = _first(residual_ok, start)
    residual_var = sd * sd * (1 - r2_adj)

    def intercept_ok(n: np.ndarray) -> np.ndarray:
        half = stats.t.ppf(0.975, n - parameters - 1) * np.sqrt(residual_var / n)
        return half <= (mmoe - 1) * abs(mean)

    n4 = _first(intercept_ok, max(n1, n2, n3))
    half = float(stats.t.ppf(0.975, n4 - parameters - 1) * math.sqrt(residual_var / n4))
    s = [
        float(continuous_shrinkage(np.array([n]), parameters, r2_adj)[0]) for n in (n1, n2, n3, n4)
    ]
    criteria = (
        Criterion("shrinkage", f"expected uniform shrinkage ≥ {shrinkage:g}", n1, s[0]),
        Criterion("optimism", f"apparent R² at most {optimism:g} above the adjusted R²", n2, s[1]),
        Criterion(
            "residual variance",
            f"the residual standard deviation within a factor {mmoe:g} (95% CI)",
            n3,
            s[2],
        ),
        Criterion(
            "intercept",
            f"the mean outcome (intercept) within a factor {mmoe:g} (95% CI)",
            n4,
            s[3],
            detail=f"mean {mean:g} ± {half:.3g} (95% CI) at n = {n4} (searched from the "
            "largest of criteria 1 to 3)",
        ),
    )
    return SampleSize(
        "continuous",
        "development",
        parameters,
        criteria,
        _inputs(
            parameters=parameters,
            r2_adj=r2_adj,
            mean=mean,
            sd=sd,
            shrinkage=shrinkage,
            optimism=optimism,
            mmoe=mmoe,
        ),
    )


# -- external validation -----------------------------------------------------------------


def _normal_expectation(fn: Callable[[np.ndarray], np.ndarray], mean: float, sd: float) -> float:
    """E[fn(X)] for X ~ N(mean, sd²), by Gauss-Hermite quadrature (200 nodes)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    return float(np.sum(weights * fn(mean + sd * nodes)) / math.sqrt(2 * math.pi))


def lp_distribution_from_c(c_statistic: float, prevalence: float) -> tuple[float, float, float]:
    """The linear predictor implied by a C statistic and a prevalence (``pmvalsampsize``'s
    ``lpcstat``): normal with variance v = 2Φ⁻¹(C)² in non-events (mean m) and events
    (mean m + v), m solved so that the mean predicted risk is the prevalence. Returns
    (m, v, the mixture's mean), exactly where ``pmvalsampsize`` iterates a simulation."""
    v = 2 * stats.norm.ppf(c_statistic) ** 2
    sd = math.sqrt(v)

    def mean_risk(m: float) -> float:
        risk = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
        return prevalence * _normal_expectation(risk, m + v, sd) + (
            1 - prevalence
        ) * _normal_expectation(risk, m, sd)

    m = optimize.brentq(lambda m: mean_risk(m) - prevalence, -50, 50, xtol=1e-10)
    return m, v, m + prevalence * v


def validation_binary(
    prevalence: float,
    c_statistic: float,
    *,
    lp_mean: float | None = None,
    lp_sd: float | None = None,
    oe: float = 1.0,
    oe_ci_width: float = 0.2,
    slope_ci_width: float = 0.2,
    c_ci_width: float = 0.1,
) -> SampleSize:
    """Riley et al.'s criteria for externally validating a logistic model (Stat Med 2021):
    precise O/E, calibration slope and C statistic (95% CI widths). The linear predictor's
    distribution in the validation population is N(``lp_mean``, ``lp_sd``²) when given,
    else the one the C statistic and prevalence imply (:func:`lp_distribution_from_c`)."""
    _fraction("the prevalence", prevalence)
    _fraction("the C statistic", c_statistic)
    _check(c_statistic > 0.5, f"the C statistic must be above 0.5, not {c_statistic:g}")
    _check(oe > 0, f"the anticipated O/E must be above 0, not {oe:g}")
    for name, width in (
        ("O/E", oe_ci_width),
        ("calibration slope", slope_ci_width),
        ("C statistic", c_ci_width),
    ):
        _check(width > 0, f"the {name} CI width must be above 0, not {width:g}")
    _check(
        (lp_mean is None) == (lp_sd is None),
        "give both the linear predictor's mean and SD, or neither",
    )
    # 1. O/E: SE of ln(O/E) ≈ sqrt((1 − φ)/(nφ)); the CI oe·exp(± z·se) has the width asked
    se_oe = math.asinh(oe_ci_width / (2 * oe)) / Z95
    n1 = _whole((1 - prevalence) / (prevalence * se_oe**2))
    # 2. calibration slope: Fisher information of (intercept, slope) at (0, 1)
    if lp_mean is not None and lp_sd is not None:
        _check(lp_sd > 0, f"the linear predictor's SD must be above 0, not {lp_sd:g}")
        parts = [(1.0, lp_mean, lp_sd)]
        lp_note = f"linear predictor N({lp_mean:g}, {lp_sd:g}²) (given)"
    else:
        m, v, _ = lp_distribution_from_c(c_statistic, prevalence)
        parts = [(1 - prevalence, m, math.sqrt(v)), (prevalence, m + v, math.sqrt(v))]
        lp_note = (
            f"linear predictor from C and prevalence: N({m:.3f}, {v:.3f}) in non-events, "
            f"N({m + v:.3f}, {v:.3f}) in events"
        )

    def info(power: int) -> float:
        def f(x: np.ndarray) -> np.ndarray:
            p = 1 / (1 + np.exp(-x))
            return x**power * p * (1 - p)

        return sum(w * _normal_expectation(f, mu, s) for w, mu, s in parts)

    i00, i01, i11 = info(0), info(1), info(2)
    se_slope = slope_ci_width / (2 * Z95)
    n2 = _whole(i00 / (se_slope**2 * (i00 * i11 - i01 * i01)))

    # 3. C statistic: Newcombe's standard error
    c = c_statistic

    def c_precise(n: int) -> bool:
        var = (c * (1 - c) * (1 + (n / 2 - 1) * (1 - c) / (2 - c) + (n / 2 - 1) * c / (1 + c))) / (
            n * n * prevalence * (1 - prevalence)
        )
        return 2 * Z95 * math.sqrt(var) <= c_ci_width

    n3 = _smallest_n(c_precise, 2)
    criteria = (
        Criterion(
            "O/E",
            f"observed/expected events within a 95% CI of width {oe_ci_width:g}",
            n1,
            events=n1 * prevalence,
        ),
        Criterion(
            "calibration slope",
            f"the calibration slope within a 95% CI of width {slope_ci_width:g}",
            n2,
            events=n2 * prevalence,
        ),
        Criterion(
            "C statistic",
            f"the C statistic within a 95% CI of width {c_ci_width:g}",
            n3,
            events=n3 * prevalence,
        ),
    )
    return SampleSize(
        "binary",
        "validation",
        None,
        criteria,
        _inputs(
            prevalence=prevalence,
            c_statistic=c_statistic,
            lp_mean=lp_mean,
            lp_sd=lp_sd,
            oe=oe,
            oe_ci_width=oe_ci_width,
            slope_ci_width=slope_ci_width,
            c_ci_width=c_ci_width,
        ),
        {"events_per_participant": prevalence},
        (lp_note,),
    )


def validation_continuous(
    r2: float,
    sd: float,
    *,
    r2_ci_width: float = 0.1,
    citl_ci_width: float | None = None,
    slope_ci_width: float = 0.2,
    mmoe: float = 1.1,
) -> SampleSize:
    """Archer et al.'s criteria for externally validating a linear model (Stat Med 2021),
    with the model assumed well calibrated (slope 1) in the validation population: precise
    R² (large-sample variance 4R²(1 − R²)²(n − 2)²/((n² − 1)(n + 3))), calibration-in-the-
    large (variance sd²(1 − R²)/n; ``citl_ci_width`` in the outcome's units, default
    0.2·sd), calibration slope (variance (1 − R²)/(nR²)) and the residual variance within
    a factor ``mmoe`` (χ² with n − 1 degrees of freedom)."""
    _fraction("the anticipated R²", r2)
    _check(sd > 0, f"the outcome's standard deviation must be above 0, not {sd:g}")
    _check(mmoe > 1, f"the multiplicative margin of error must be above 1, not {mmoe:g}")
    citl = 0.2 * sd if citl_ci_width is None else citl_ci_width
    for name, width in (
        ("R²", r2_ci_width),
        ("calibration-in-the-large", citl),
        ("calibration slope", slope_ci_width),
    ):
        _check(width > 0, f"the {name} CI width must be above 0, not {width:g}")

    def r2_ok(n: int) -> bool:
        var = 4 * r2 * (1 - r2) ** 2 * (n - 2) ** 2 / ((n * n - 1) * (n + 3))
        return 2 * Z95 * math.sqrt(var) <= r2_ci_width

    n1 = _smallest_n(r2_ok, 3)
    n2 = _whole((2 * Z95 / citl) ** 2 * sd * sd * (1 - r2))
    n3 = _whole((2 * Z95 / slope_ci_width) ** 2 * (1 - r2) / r2)

    def residual_ok(n: np.ndarray) -> np.ndarray:
        df = n - 1
        low = df / stats.chi2.ppf(0.025, df)
        high = stats.chi2.ppf(0.975, df) / df
        return np.sqrt(np.maximum(low, high)) <= mmoe

    n4 = _first(residual_ok, 2)
    criteria = (
        Criterion("R²", f"R² within a 95% CI of width {r2_ci_width:g}", n1),
        Criterion(
            "calibration-in-the-large",
            f"the mean prediction error within a 95% CI of width {citl:g}",
            n2,
        ),
        Criterion(
            "calibration slope",
            f"the calibration slope within a 95% CI of width {slope_ci_width:g}",
            n3,
        ),
        Criterion(
            "residual variance",
            f"the residual standard deviation within a factor {mmoe:g} (95% CI)",
            n4,
        ),
    )
    return SampleSize(
        "continuous",
        "validation",
        None,
        criteria,
        _inputs(
            r2=r2,
            sd=sd,
            r2_ci_width=r2_ci_width,
            citl_ci_width=citl,
            slope_ci_width=slope_ci_width,
            mmoe=mmoe,
        ),
    )


def _targets(shrinkage: float, optimism: float, margin: float) -> None:
    _fraction("the shrinkage target", shrinkage)
    _check(optimism > 0, f"the optimism limit must be above 0, not {optimism:g}")
    _fraction("the margin of error", margin)


def _inputs(**values: float | None) -> dict[str, float]:
    return {k: v for k, v in values.items() if v is not None}
