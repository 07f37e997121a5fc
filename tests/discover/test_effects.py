"""Univariate effects against reference implementations on real data, plus null calibration."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.datasets import load_rossi
from lifelines.statistics import logrank_test, multivariate_logrank_test
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.metrics import roc_auc_score

from insightome.discover.effects import COLUMNS, bh_adjust, univariate_effects
from insightome.models.survival import cox_score_test

CLASSES = ["benign", "malignant"]


@pytest.fixture(scope="module")
def breast() -> tuple[pd.DataFrame, np.ndarray]:
    bunch = load_breast_cancer(as_frame=True)
    return bunch.data, (bunch.target.to_numpy() == 0).astype(int)  # malignant = code 1


@pytest.fixture(scope="module")
def rossi() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    d = load_rossi()
    y = np.where(d["arrest"] == 1, d["week"], -d["week"]).astype(float)
    return d.drop(columns=["week", "arrest"]).astype(float), y, d


def _naive_delong_se(x: np.ndarray, y: np.ndarray) -> float:
    """DeLong SE from the full n₁ × n₀ kernel matrix (the O(n²) textbook form)."""
    psi = (x[y == 1][:, None] > x[y == 0][None, :]) + 0.5 * (x[y == 1][:, None] == x[y == 0])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(np.sqrt(v10.var(ddof=1) / len(v10) + v01.var(ddof=1) / len(v01)))


def test_bh_adjust_leaves_nan_out() -> None:
    p = np.array([0.01, np.nan, 0.04, 0.03, np.nan, 0.5])
    q = bh_adjust(p)
    assert np.isnan(q[[1, 4]]).all()
    ok = ~np.isnan(p)
    np.testing.assert_allclose(q[ok], stats.false_discovery_control(p[ok]))
    assert np.isnan(bh_adjust(np.array([np.nan]))).all()


def test_binary_matches_sklearn_scipy_and_delong(breast) -> None:
    X, y = breast
    res = univariate_effects(X, y, "binary", classes=CLASSES, detail=["worst radius"])
    assert list(res.columns) == COLUMNS and list(res.index) == list(X.columns)
    auc = np.array([roc_auc_score(y, X[c]) for c in X])
    np.testing.assert_allclose(res["effect"], auc, rtol=0, atol=1e-12)
    mwu = stats.mannwhitneyu(X[y == 1], X[y == 0], axis=0, method="asymptotic")
    np.testing.assert_allclose(res["p_value"], mwu.pvalue, rtol=1e-9)
    np.testing.assert_allclose(res["q_value"], stats.false_discovery_control(mwu.pvalue))
    for c in ["mean texture", "worst radius", "fractal dimension error"]:
        se = _naive_delong_se(X[c].to_numpy(), y)
        z = stats.norm.ppf(0.975)
        assert res.loc[c, "ci_low"] == pytest.approx(max(auc[X.columns.get_loc(c)] - z * se, 0))
    assert ((res["ci_low"] <= res["effect"]) & (res["effect"] <= res["ci_high"])).all()
    wr = res.loc["worst radius"]
    assert wr["effect"] > 0.9 and wr["direction"] == "higher in malignant" and wr["statistic"] > 0
    assert wr["n"] == len(y) and wr["effect_name"] == "AUC"
    assert abs(wr["boot_ci_low"] - wr["ci_low"]) < 0.02
    assert abs(wr["boot_ci_high"] - wr["ci_high"]) < 0.02
    assert res.drop(index="worst radius")["boot_ci_low"].isna().all()
    x = X["mean area"]
    mp, mn = x[y == 1].mean(), x[y == 0].mean()
    assert res.loc["mean area", "mean_difference"] == pytest.approx(mp - mn)
    assert res.loc["mean area", "log2_fold_change"] == pytest.approx(np.log2(mp / mn))
    assert (np.sign(res["statistic"]) == np.sign(res["effect"] - 0.5)).all()
    # the interval narrows with n: a random quarter of the samples gives wider intervals
    sub = np.random.default_rng(0).choice(len(y), size=len(y) // 4, replace=False)
    small = univariate_effects(X.iloc[sub], y[sub], "binary", classes=CLASSES)
    wider = (small["ci_high"] - small["ci_low"]) > (res["ci_high"] - res["ci_low"])
    assert wider.mean() > 0.9


def test_missing_constant_and_categorical_columns(breast) -> None:
    X, y = breast
    X = X.iloc[:, :6].copy()
    rng = np.random.default_rng(1)
    X.iloc[rng.random(len(X)) < 0.2, 0] = np.nan
    X["constant"], X["empty"] = 3.0, np.nan
    X["centred"] = X["mean texture"] - X["mean texture"].mean()
    X["grade"] = pd.Categorical(pd.qcut(X["mean area"], 3, labels=["lo", "mid", "hi"]))
    res = univariate_effects(X, y, "binary", classes=CLASSES)
    x = X["mean radius"]
    ok = x.notna().to_numpy()
    assert res.loc["mean radius", "n"] == ok.sum()
    assert res.loc["mean radius", "effect"] == pytest.approx(roc_auc_score(y[ok], x[ok]), abs=1e-12)
    p = stats.mannwhitneyu(x[y == 1], x[y == 0], nan_policy="omit", method="asymptotic").pvalue
    assert res.loc["mean radius", "p_value"] == pytest.approx(p, rel=1e-9)
    for c in ["constant", "empty"]:
        assert np.isnan(
            res.loc[c, ["effect", "p_value", "q_value", "statistic"]].astype(float)
        ).all()
    assert res.loc["empty", "n"] == 0
    assert np.isnan(res.loc["centred", "log2_fold_change"])
    table = pd.crosstab(X["grade"], y).to_numpy()
    chi2 = stats.chi2_contingency(table, correction=False)
    assert res.loc["grade", "p_value"] == pytest.approx(chi2.pvalue)
    assert res.loc["grade", "effect_name"] == "categorical (test only)"
    assert np.isnan(res.loc["grade", "effect"])
    tested = res["p_value"].notna().to_numpy()
    assert tested.sum() == 8
    np.testing.assert_allclose(
        res["q_value"][tested], stats.false_discovery_control(res["p_value"][tested])
    )


def test_regression_matches_spearmanr() -> None:
    bunch = load_diabetes(as_frame=True)
    X, y = bunch.data.copy(), bunch.target.to_numpy(float)
    X["sex_level"] = pd.Categorical(np.where(X["sex"] > 0, "a", "b"))
    res = univariate_effects(X, y, "regression", detail=["bmi"])
    for c in bunch.data:
        sp = stats.spearmanr(X[c], y)
        assert res.loc[c, "effect"] == pytest.approx(sp.statistic, abs=1e-12)
        assert res.loc[c, "p_value"] == pytest.approx(sp.pvalue, rel=1e-8)
    bmi = res.loc["bmi"]
    assert bmi["direction"] == "positively correlated" and bmi["statistic"] > 10
    assert bmi["ci_low"] < bmi["effect"] < bmi["ci_high"]
    assert bmi["boot_ci_low"] < bmi["effect"] < bmi["boot_ci_high"]
    assert abs(bmi["boot_ci_low"] - bmi["ci_low"]) < 0.03
    assert res.loc["s3", "direction"] == "negatively correlated" and res.loc["s3", "statistic"] < 0
    kw = stats.kruskal(y[X["sex"] > 0], y[X["sex"] <= 0])
    assert res.loc["sex_level", "p_value"] == pytest.approx(kw.pvalue)


def test_multiclass_iris() -> None:
    bunch = load_iris(as_frame=True)
    X, y = bunch.data.copy(), bunch.target.to_numpy()
    X.iloc[::7, 0] = np.nan
    sw = "sepal width (cm)"
    res = univariate_effects(X, y, "multiclass", classes=list(bunch.target_names), detail=[sw])
    for c in X:
        kw = stats.kruskal(*[X.loc[y == k, c] for k in range(3)], nan_policy="omit")
        assert res.loc[c, "p_value"] == pytest.approx(kw.pvalue, rel=1e-9)
    assert res.iloc[0]["n"] == X.iloc[:, 0].notna().sum()
    assert abs(res.loc[sw, "boot_ci_low"] - res.loc[sw, "ci_low"]) < 0.03
    assert abs(res.loc[sw, "boot_ci_high"] - res.loc[sw, "ci_high"]) < 0.03
    petal = res.loc[["petal length (cm)", "petal width (cm)"]]
    assert (petal["p_value"] < 1e-25).all() and (petal["statistic"] > 10).all()
    assert (petal["direction"] == "lowest in setosa").all()
    pl = res.loc["petal length (cm)"]
    assert pl["effect"] == pytest.approx(roc_auc_score(y == 0, X["petal length (cm)"]))
    assert res.loc["sepal width (cm)", "direction"] == "highest in setosa"


def test_survival_rossi_matches_lifelines(rossi) -> None:
    X, y, d = rossi
    res = univariate_effects(X, y, "survival", detail=["prio", "age", "fin"])
    chi2, _ = cox_score_test(X.to_numpy(), y)
    np.testing.assert_allclose(res["statistic"] ** 2, chi2, rtol=1e-9)
    for c in X:
        frame = pd.DataFrame({"x": X[c] / X[c].std(), "week": d["week"], "arrest": d["arrest"]})
        fit = CoxPHFitter().fit(frame, "week", "arrest").summary.loc["x"]
        hr, lo, hi = res.loc[c, ["effect", "ci_low", "ci_high"]]
        if c in ("prio", "age", "fin"):
            assert res.loc[c, "ci_method"] == "Wald (lifelines CoxPHFitter)"
            assert hr == pytest.approx(fit["exp(coef)"], rel=1e-6)
            assert lo == pytest.approx(fit["exp(coef) lower 95%"], rel=1e-6)
            assert hi == pytest.approx(fit["exp(coef) upper 95%"], rel=1e-6)
        else:  # one-step approximation from the score test
            assert hr == pytest.approx(fit["exp(coef)"], rel=0.15)
        # score test (Breslow) against lifelines' Wald test (Efron): within 0.1 in log10(p)
        assert abs(np.log10(res.loc[c, "p_value"]) - np.log10(fit["p"])) < 0.1
        if X[c].nunique() == 2:  # the score test of a binary covariate is the log-rank test
            g = (X[c] == X[c].max()).to_numpy()
            lr = logrank_test(d["week"][g], d["week"][~g], d["arrest"][g], d["arrest"][~g])
            assert res.loc[c, "p_value"] == pytest.approx(lr.p_value, rel=0.05)
    prio = res.loc["prio"]
    assert prio["effect"] > 1 and prio["ci_low"] > 1 and prio["p_value"] < 0.001
    assert prio["direction"] == "higher hazard" and prio["statistic"] > 0
    assert res.loc["age", "direction"] == "lower hazard"


def test_survival_missing_values_and_categorical(rossi) -> None:
    X, y, d = rossi
    X = X[["prio", "age"]].copy()
    X.loc[X.index[:60], "prio"] = np.nan
    X["race_cat"] = d["race"].map({0: "other", 1: "black"}).astype("category")
    res = univariate_effects(X, y, "survival")
    ok = X["prio"].notna().to_numpy()
    _, p = cox_score_test(X.loc[ok, ["prio"]].to_numpy(), y[ok])
    assert res.loc["prio", "p_value"] == pytest.approx(p[0], rel=1e-9)
    assert res.loc["prio", "n"] == ok.sum()
    mlr = multivariate_logrank_test(d["week"], X["race_cat"], d["arrest"])
    assert res.loc["race_cat", "p_value"] == pytest.approx(mlr.p_value)
    assert res.loc["race_cat", "test"] == "log-rank"


def test_null_permutations_give_no_discoveries(breast) -> None:
    X, y = breast
    hits = []
    for seed in range(20):
        perm = np.random.default_rng(seed).permutation(y)
        res = univariate_effects(X, perm, "binary", classes=CLASSES, n_bootstrap=0)
        hits.append(int((res["q_value"] < 0.05).sum()))
    print(f"\nfeatures with q < 0.05 under 20 permutations: {hits}")
    assert sum(h > 0 for h in hits) <= 2


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression", "survival"])
def test_null_p_values_are_uniform(task: str) -> None:
    rng = np.random.default_rng(7)
    n = 60
    X = pd.DataFrame(rng.normal(size=(n, 2000)))
    y = {
        "binary": rng.integers(0, 2, n),
        "multiclass": rng.integers(0, 3, n),
        "regression": rng.normal(size=n),
        "survival": rng.exponential(size=n) * np.where(rng.random(n) < 0.7, 1, -1),
    }[task]
    p = univariate_effects(X, y, task)["p_value"].to_numpy()
    frac = float((p < 0.05).mean())
    ks = stats.kstest(p, "uniform").pvalue
    print(f"\n{task}: fraction p < 0.05 = {frac:.4f}, KS vs uniform p = {ks:.3f}")
    assert 0.03 <= frac <= 0.07
    assert 0.35 <= float((p < 0.5).mean()) <= 0.65


def test_speed_20000_features() -> None:
    rng = np.random.default_rng(0)
    n, p = 100, 20_000
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"g{i}" for i in range(p)])
    y = {
        "binary": rng.integers(0, 2, n),
        "multiclass": rng.integers(0, 3, n),
        "regression": rng.normal(size=n),
        "survival": rng.exponential(size=n) * np.where(rng.random(n) < 0.7, 1, -1),
    }
    lines = []
    for task, yt in y.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            res = univariate_effects(X, yt, task, n_bootstrap=0)
        lines.append(f"{task}: {time.perf_counter() - start:.2f} s")
        assert res["p_value"].notna().all()
    print("\n20,000 features × 100 samples: " + ", ".join(lines))
