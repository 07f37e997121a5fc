"""Riley's minimum sample sizes against the papers' worked examples, the reference R
packages' own tests (``pmsampsize`` 1.1.3, ``pmvalsampsize`` 0.1.0: inputs and expected
values copied into each test) and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from insightome.evaluate import samplesize as ss


def sizes(result: ss.SampleSize) -> list[int]:
    return [c.n for c in result.criteria]


# -- binary development ------------------------------------------------------------------


def test_the_bmj_binary_example():
    """Riley et al., BMJ 2020;368:m441 (the issue's example): 24 predictor parameters,
    prevalence 0.174, anticipated Cox-Snell R² 0.288 → 623, 662, 221; n = 662."""
    result = ss.development_binary(24, 0.174, r2_cs=0.288)
    assert sizes(result) == [623, 662, 221]
    assert result.n == 662 and result.binding.name == "optimism"
    assert result.events == pytest.approx(662 * 0.174)
    assert result.events_per_parameter == pytest.approx(4.8, abs=0.005)
    assert result.derived["max_r2_cs"] == pytest.approx(0.6032, abs=1e-4)
    assert result.criteria[1].shrinkage == pytest.approx(0.905, abs=5e-4)


def pmsampsize_rounded_s2(r2: float, max_r2: float) -> float:
    """``pmsampsize`` rounds the maximum R² to 2 decimals and criterion 2's shrinkage to 3."""
    return round(r2 / (r2 + 0.05 * round(max_r2, 2)), 3)


@pytest.mark.parametrize(
    ("r2", "p", "prevalence", "expected"),
    [  # pmsampsize tests/testthat/test_bin.R, tests 4.1-4.4: criteria 1, 2, 3
        (0.288, 24, 0.174, (623, 668, 221)),
        (0.55, 24, 0.174, (255, 532, 221)),
        (0.288, 36, 0.174, (934, 1002, 221)),
        (0.288, 24, 0.25, (623, 583, 289)),
    ],
)
def test_binary_matches_pmsampsize(r2, p, prevalence, expected):
    """Criteria 1 and 3 equal pmsampsize's; criterion 2 does once its two roundings are
    applied (which is all that separates 662 from its 668 in the BMJ example)."""
    result = ss.development_binary(p, prevalence, r2_cs=r2)
    assert (result.criteria[0].n, result.criteria[2].n) == (expected[0], expected[2])
    s2 = pmsampsize_rounded_s2(r2, result.derived["max_r2_cs"])
    assert math.ceil(ss.shrinkage_n(p, r2, s2)) == expected[1]
    assert abs(result.criteria[1].n - expected[1]) <= 0.02 * expected[1]  # the rounding


def test_nagelkerke_and_c_statistic_give_the_cox_snell_r2():
    exact = ss.development_binary(24, 0.174, r2_cs=0.288)
    via_nagelkerke = ss.development_binary(24, 0.174, nagelkerke=0.288 / ss.max_r2_cs_binary(0.174))
    assert sizes(via_nagelkerke) == sizes(exact)
    via_c = ss.development_binary(24, 0.174, c_statistic=0.8)
    assert via_c.derived["r2_cs"] == pytest.approx(ss.r2_cs_from_c(0.8, 0.174))
    assert "from C = 0.8" in via_c.notes[0]


@pytest.mark.parametrize(("c", "prevalence"), [(0.81, 0.77), (0.7, 0.1), (0.9, 0.3)])
def test_r2_from_c_equals_a_large_simulation(c, prevalence):
    """pmsampsize's recipe, simulated (normal linear predictor, SD 1, means √2·Φ⁻¹(C)
    apart; logistic fit; R² = 1 − exp(−LR/n)), agrees with the integral to 0.004."""
    rng = np.random.default_rng(7)
    n = 300_000
    y = rng.random(n) < prevalence
    lp = rng.normal(np.where(y, math.sqrt(2) * ss.stats.norm.ppf(c), 0.0), 1.0)
    fit = LogisticRegression(C=np.inf).fit(lp[:, None], y)
    p = np.clip(fit.predict_proba(lp[:, None])[:, 1], 1e-12, 1 - 1e-12)
    loglik = np.sum(np.where(y, np.log(p), np.log(1 - p)))
    phat = y.mean()
    null = n * (phat * math.log(phat) + (1 - phat) * math.log(1 - phat))
    simulated = 1 - math.exp(-2 * (loglik - null) / n)
    assert ss.r2_cs_from_c(c, prevalence) == pytest.approx(simulated, abs=0.004)


# -- time-to-event development -----------------------------------------------------------


def test_the_bmj_survival_example():
    """Riley et al., BMJ 2020 (recurrent venous thromboembolism): 30 parameters, rate 0.065
    per year, mean follow-up 2.07 years, risk by 2 years, Cox-Snell R² 0.051 → 5143
    participants, 692 events, EPP 23.07, overall risk 0.122 (95% CI 0.113 to 0.130)."""
    result = ss.development_survival(30, 0.065, 2, 2.07, r2_cs=0.051)
    assert sizes(result) == [5143, 1039, 5143] and result.n == 5143
    assert round(result.events) == 692
    assert result.events_per_parameter == pytest.approx(23.07, abs=0.005)
    assert result.derived["max_r2_cs"] == pytest.approx(0.555, abs=5e-4)
    assert result.criteria[1].shrinkage == pytest.approx(0.648, abs=5e-4)
    assert result.criteria[2].detail.startswith("risk 0.122, 95% CI 0.113 to 0.130 at n = 5143")


SURVIVAL_PMSAMPSIZE = [  # pmsampsize tests/testthat/test_surv.R 3.1-3.9: r2, p, rate, t, fu
    ((0.051, 25, 0.065, 2, 2.07), (4286, 875)),
    ((0.065, 25, 0.065, 2, 2.07), (3335, 868)),
    ((0.051, 50, 0.065, 2, 2.07), (8572, 1749)),
    ((0.051, 25, 0.1, 2, 2.07), (4286, 725)),
    ((0.051, 25, 0.065, 4, 2.07), (4286, 875)),
    ((0.051, 25, 0.065, 2, 4), (4286, 684)),
    ((0.06, 40, 0.08, 3, 5), (5798, 974)),
    ((0.03, 10, 0.09, 3, 3), (2950, 273)),
    ((0.3, 80, 0.03, 1, 5), (1974, 2279)),
]


@pytest.mark.parametrize(("inputs", "expected"), SURVIVAL_PMSAMPSIZE)
def test_survival_matches_pmsampsize(inputs, expected):
    r2, p, rate, t, fu = inputs
    result = ss.development_survival(p, rate, t, fu, r2_cs=r2)
    assert result.criteria[0].n == expected[0]
    # pmsampsize: events from n = 10,000 rounded up, max R² to 2 decimals, S to 3
    per = math.ceil(rate * fu * 10_000) / 10_000
    max_r2 = 1 - math.exp(2 * (per * math.log(per) - per))
    s2 = pmsampsize_rounded_s2(r2, max_r2)
    assert math.ceil(ss.shrinkage_n(p, r2, s2)) == expected[1]
    assert abs(result.criteria[1].n - expected[1]) <= 0.015 * expected[1]
    assert result.n == max(result.criteria[0].n, result.criteria[1].n)  # 3 does not bind


def test_survival_raises_n_when_the_overall_risk_is_imprecise():
    """Few parameters and a strong model: criteria 1-2 need few participants, so the
    overall risk's interval sets n (pmsampsize would only report it as too wide)."""
    result = ss.development_survival(2, 0.2, 3, 1.0, r2_cs=0.3)
    first_two = max(result.criteria[0].n, result.criteria[1].n)
    assert result.criteria[2].n > first_two and result.binding.name == "overall risk"
    risk = result.derived["overall_risk"]
    interval = result.criteria[2].detail.split("CI ")[1].split(" at")[0]
    low, high = (float(x) for x in interval.split(" to "))
    assert high - risk <= 0.05 + 5e-4 and risk - low <= 0.05 + 5e-4


# -- continuous development --------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [  # pmsampsize tests/testthat/test_cont.R 2.1-2.6: r2, p, mean, sd → criteria 1-4
        ((0.2, 25, 1.9, 0.6), (918, 401, 259, 918)),
        ((0.3, 25, 1.9, 0.6), (574, 351, 259, 574)),
        ((0.2, 50, 1.9, 0.6), (1924, 801, 284, 1924)),
        ((0.2, 25, 10, 0.6), (918, 401, 259, 918)),
        ((0.2, 25, 1.9, 2), (918, 401, 259, 918)),
        ((0.5, 100, 1.9, 2), (1264, 1001, 334, 1264)),
    ],
)
def test_continuous_matches_pmsampsize(inputs, expected):
    r2, p, mean, sd = inputs
    assert tuple(sizes(ss.development_continuous(p, r2, mean, sd))) == expected


def test_continuous_start_already_shrunk():
    """pmsampsize test 2.7: R² 0.89, 30 parameters, shrinkage target 0.84 → 32, 67, 264,
    264 with shrinkage 0.845, 0.851, 0.954, 0.954."""
    result = ss.development_continuous(30, 0.89, 3.3, 1.1, shrinkage=0.84)
    assert sizes(result) == [32, 67, 264, 264]
    assert [round(c.shrinkage, 3) for c in result.criteria] == [0.845, 0.851, 0.954, 0.954]


def test_the_intercept_criterion_binds_for_a_mean_near_zero():
    """Mean 0.1, SD 2, R² 0.3: the intercept within ± 10% needs n with
    1.96·sqrt(4·0.7/n) <= 0.01, about 107,565 (t instead of z: a few more)."""
    result = ss.development_continuous(10, 0.3, 0.1, 2.0)
    assert result.binding.name == "intercept"
    closed_form = (1.959964 * math.sqrt(4 * 0.7) / 0.01) ** 2
    assert 0 <= result.n - closed_form <= 5


def test_inputs_near_the_null_are_answered_quickly_or_refused():
    """A continuous mean near zero or a margin near 1 needs a huge n: found by bisection,
    not a scan (it hung); beyond a billion, or a C statistic at chance, it is refused."""
    assert ss.development_continuous(10, 0.3, 3e-3, 2.0).n > 10**8
    assert ss.development_continuous(10, 0.3, 1.9, 0.6, mmoe=1.0001).n > 10**7
    with pytest.raises(ss.SampleSizeError, match="more than a billion"):
        ss.development_binary(24, 0.2, c_statistic=0.5000001)
    with pytest.raises(ss.SampleSizeError, match="more than a billion"):
        ss.development_continuous(10, 0.3, 1e-6, 2.0)


# -- external validation -----------------------------------------------------------------


def test_binary_validation_against_pmvalsampsize_and_simulation():
    """pmvalsampsize test 4.1: prevalence 0.018, C 0.8, linear predictor N(−5, 2.5²), O/E
    CI width 1 → O/E 905, C statistic 4252; the slope (4501 there, from 1,000 simulated
    values) is an expectation here, checked against two million draws."""
    result = ss.validation_binary(0.018, 0.8, lp_mean=-5, lp_sd=2.5, oe_ci_width=1)
    n_oe, n_slope, n_c = sizes(result)
    assert n_c == 4252
    # pmvalsampsize steps the O/E standard error by 0.0001 up to the width; exact: 906
    se_grid = math.ceil(math.asinh(0.5) / 1.96 / 1e-4) * 1e-4
    assert math.ceil((1 - 0.018) / (0.018 * se_grid**2)) == 905 and n_oe == 906
    lp = np.random.default_rng(3).normal(-5, 2.5, 2_000_000)
    w = np.exp(lp) / (1 + np.exp(lp)) ** 2
    i00, i01, i11 = w.mean(), (lp * w).mean(), (lp * lp * w).mean()
    simulated = i00 / ((0.2 / (2 * 1.959964)) ** 2 * (i00 * i11 - i01 * i01))
    assert n_slope == pytest.approx(simulated, rel=0.01)


def test_the_lp_distribution_from_c_has_that_c_and_prevalence():
    m, v, _ = ss.lp_distribution_from_c(0.8, 0.018)
    rng = np.random.default_rng(5)
    events = rng.normal(m + v, math.sqrt(v), 200_000)
    nonevents = rng.normal(m, math.sqrt(v), 200_000)
    labels = np.r_[np.ones(events.size), np.zeros(nonevents.size)]
    assert roc_auc_score(labels, np.r_[events, nonevents]) == pytest.approx(0.8, abs=0.003)
    risk = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    mean_risk = 0.018 * risk(events).mean() + 0.982 * risk(nonevents).mean()
    assert mean_risk == pytest.approx(0.018, rel=0.02)


def test_continuous_validation_intervals_have_the_asked_widths():
    """At each criterion's n, simulated validation studies (well-calibrated predictions,
    R² 0.5) give 95% intervals as wide as asked: the slope's and R²'s spread over 4,000
    studies × 2 × 1.96 is the target width within 6%."""
    result = ss.validation_continuous(0.5, 1.0, r2_ci_width=0.1, slope_ci_width=0.2)
    by_name = {c.name: c.n for c in result.criteria}
    rng = np.random.default_rng(11)

    def studies(n: int) -> tuple[np.ndarray, np.ndarray]:
        pred = rng.normal(0, math.sqrt(0.5), (4000, n))
        y = pred + rng.normal(0, math.sqrt(0.5), (4000, n))
        pc, yc = pred - pred.mean(1, keepdims=True), y - y.mean(1, keepdims=True)
        slope = (pc * yc).sum(1) / (pc * pc).sum(1)
        r2 = (pc * yc).sum(1) ** 2 / ((pc * pc).sum(1) * (yc * yc).sum(1))
        return slope, r2

    slope, _ = studies(by_name["calibration slope"])
    assert 2 * 1.96 * slope.std() == pytest.approx(0.2, rel=0.06)
    _, r2 = studies(by_name["R²"])
    assert 2 * 1.96 * r2.std() == pytest.approx(0.1, rel=0.06)
    assert by_name["residual variance"] == 234  # 233 degrees of freedom, as development's 234 + p


# -- inputs that describe no study -------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ss.development_binary(24, 0.174, r2_cs=0.7), "below its maximum"),
        (lambda: ss.development_binary(24, 1.2, r2_cs=0.2), "prevalence must be between"),
        (lambda: ss.development_binary(24, 0.2), "exactly one of"),
        (lambda: ss.development_survival(10, 0.5, 1, 3, r2_cs=0.1), "events per participant"),
        (lambda: ss.development_continuous(10, 0.3, 0.0, 1.0), "mean must not be 0"),
        (lambda: ss.validation_binary(0.1, 0.45), "above 0.5"),
        (lambda: ss.validation_binary(0.1, 0.8, lp_mean=-2), "mean and SD"),
    ],
)
def test_impossible_inputs_are_refused(call, message):
    with pytest.raises(ss.SampleSizeError, match=message):
        call()


def test_the_results_table_is_what_the_code_computes_now():
    """benchmarks/results/samplesize.json (quoted in the README) is current."""
    import json
    from pathlib import Path

    table = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "samplesize.json"
    for row in json.loads(table.read_text())["rows"]:
        result = getattr(ss, row["calculation"])(**row["inputs"])
        assert [c.n for c in result.criteria] == row["insightome"], row["source"]
