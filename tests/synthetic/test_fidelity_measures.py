"""The fidelity statistics, each cross-checked against SciPy / scikit-learn where one exists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cityblock
from scipy.stats import ks_2samp, spearmanr
from scipy.stats.contingency import association
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.metrics import roc_auc_score

from insightome.synthetic.fidelity_columns import bootstrap_stats, count_stats
from insightome.synthetic.fidelity_measures import (
    BINARY,
    CATEGORICAL,
    NUMERIC,
    association_matrix,
    auc_delong,
    column_kinds,
    correlation_ratio,
    cramers_v,
    encode,
    ks_statistic,
    spearman,
    standardized_mean_difference,
    total_variation,
)


@pytest.fixture(scope="module")
def diabetes() -> pd.DataFrame:
    return load_diabetes(as_frame=True, scaled=False).frame


def test_column_kinds_numeric_binary_categorical(diabetes):
    frame = diabetes.assign(site=np.where(diabetes.age > 50, "north", "south"))
    kinds = column_kinds(frame)
    assert kinds["bmi"] == NUMERIC
    assert kinds["sex"] == BINARY  # two numeric codes
    assert kinds["site"] == CATEGORICAL


def test_ks_matches_scipy_with_ties_and_missing(diabetes):
    a = diabetes["bp"].to_numpy(float)[:200].copy()
    b = np.round(diabetes["bp"].to_numpy(float)[200:] + 3)
    a[::17] = np.nan
    expected = ks_2samp(a[~np.isnan(a)], b).statistic
    assert ks_statistic(a, b) == pytest.approx(expected, abs=1e-12)


def test_smd_is_the_pooled_sd_difference(diabetes):
    x = diabetes["bmi"].to_numpy(float)[:250]
    y = diabetes["bmi"].to_numpy(float)[250:] + 1.0
    pooled = np.sqrt((np.var(x, ddof=1) + np.var(y, ddof=1)) / 2)
    assert standardized_mean_difference(x, y) == pytest.approx((y.mean() - x.mean()) / pooled)
    assert standardized_mean_difference(y, x) == pytest.approx(-(y.mean() - x.mean()) / pooled)
    assert standardized_mean_difference(np.ones(5), np.ones(4)) == 0.0


def test_total_variation_is_half_the_l1_distance():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, 300), rng.choice(4, 200, p=[0.1, 0.2, 0.3, 0.4])
    b[:7] = -1  # missing: left out
    p = np.bincount(a, minlength=4) / len(a)
    q = np.bincount(b[b >= 0], minlength=4) / (b >= 0).sum()
    assert total_variation(a, b, 4) == pytest.approx(cityblock(p, q) / 2)
    assert total_variation(a, a, 4) == 0.0


def test_spearman_matches_scipy_pairwise_complete(diabetes):
    x, y = diabetes["bmi"].to_numpy(float).copy(), diabetes["s5"].to_numpy(float).copy()
    x[::11], y[::13] = np.nan, np.nan
    keep = ~np.isnan(x) & ~np.isnan(y)
    assert spearman(x, y) == pytest.approx(spearmanr(x[keep], y[keep]).statistic, abs=1e-12)


def test_cramers_v_uncorrected_matches_scipy_and_correction_removes_bias():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 3, 400)
    b = (a + rng.integers(0, 2, 400)) % 4
    table = pd.crosstab(a, b).to_numpy()
    assert cramers_v(a, b, corrected=False) == pytest.approx(association(table, method="cramer"))
    # independent columns: the plain V is biased upwards, the corrected one is near 0
    pairs = [(rng.integers(0, 5, 60), rng.integers(0, 5, 60)) for _ in range(200)]
    plain = np.mean([cramers_v(c, d, corrected=False) for c, d in pairs])
    corrected = np.mean([cramers_v(c, d) for c, d in pairs])
    assert plain > 0.2 > 0.1 > corrected
    assert cramers_v(a, a) == pytest.approx(1.0)


def test_correlation_ratio_squared_is_the_r2_of_the_categories(diabetes):
    codes = pd.qcut(diabetes["age"], 4, labels=False).to_numpy()
    values = diabetes["bmi"].to_numpy(float)
    onehot = np.eye(4)[codes]
    r2 = LinearRegression().fit(onehot, values).score(onehot, values)
    assert correlation_ratio(codes, values) ** 2 == pytest.approx(r2)


def test_association_matrix_fast_path_equals_pairwise(diabetes):
    frame = diabetes[["age", "bmi", "bp", "s1", "sex"]].copy()
    kinds = column_kinds(frame)
    data = encode({"all": frame}, kinds)
    matrix = association_matrix(data, data.rows["all"])  # numeric block without NaN: fast
    bmi, s1 = frame["bmi"].to_numpy(float), frame["s1"].to_numpy(float)
    assert matrix[1, 3] == pytest.approx(spearmanr(bmi, s1).statistic)
    assert matrix[1, 4] == pytest.approx(correlation_ratio(data.values["sex"], bmi))
    holed = frame.copy()
    holed.loc[0, "age"] = np.nan  # forces the pairwise path
    slow = encode({"all": holed}, kinds)
    other = association_matrix(slow, slow.rows["all"])
    assert other[1, 3] == pytest.approx(matrix[1, 3])
    assert np.allclose(matrix, matrix.T, equal_nan=True)


def test_auc_and_delong_se_match_a_direct_computation():
    rng = np.random.default_rng(2)
    labels = np.r_[np.zeros(40, int), np.ones(30, int)]
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # ties included
    auc, se = auc_delong(labels, scores)
    assert auc == pytest.approx(roc_auc_score(labels, scores))
    pos, neg = scores[labels == 1], scores[labels == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(1), psi.mean(0)
    expected = np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))
    assert se == pytest.approx(expected)


def test_bootstrap_counts_give_the_row_statistics():
    """A bootstrap draw as counts over the distinct values gives the same statistics as the
    rows it stands for."""
    rng = np.random.default_rng(3)
    support = np.array([1.0, 2.5, 4.0, 7.0])
    first, second = np.array([[3, 5, 2, 4, 1]]), np.array([[6, 1, 0, 2, 3]])  # last: missing
    ks, smd, gap = count_stats(first, second, support, is_numeric=True)
    x = np.r_[np.repeat(support, first[0, :-1]), [np.nan]]
    y = np.r_[np.repeat(support, second[0, :-1]), [np.nan] * 3]
    assert ks[0] == pytest.approx(ks_statistic(x, y))
    assert smd[0] == pytest.approx(standardized_mean_difference(x, y))
    assert gap[0] == pytest.approx(abs(3 / 12 - 1 / 15))
    tvd, _, _ = count_stats(first, second, support, is_numeric=False)
    codes_x, codes_y = (
        np.repeat(np.arange(4), first[0, :-1]),
        np.repeat(np.arange(4), second[0, :-1]),
    )
    assert tvd[0] == pytest.approx(total_variation(codes_x, codes_y, 4))
    # the bootstrap of a column centres on its sampling spread: KS near 1.36·√(2/n) at 95%
    values = rng.normal(size=400)
    ks_draws, _, _ = bootstrap_stats(values, 400, True, 2000, rng)
    assert np.quantile(ks_draws, 0.95) == pytest.approx(1.36 * np.sqrt(2 / 400), rel=0.15)
