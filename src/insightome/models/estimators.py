"""The estimators of the candidate families, one factory per family (``MODELS``).

A factory takes a candidate's parameters and the seed and returns an unfitted estimator:
scikit-learn's logistic regression (lbfgs, liblinear or saga by penalty; insightome's
:class:`MultinomialLogistic` for several classes with an L1 term), random forests and
extremely randomized trees,
ridge / elastic-net / linear SVR (fitted on a standardized target), XGBoost and LightGBM
(imported when used), insightome's :class:`CalibratedLinearSVC`, :class:`CoxElasticNet`
and :class:`XGBCox`, and the quantum set's families (:mod:`insightome.models.quantum`).
:class:`insightome.models.candidates.Candidate` puts one in its Pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVR

from insightome.models.calibrated_svm import CalibratedLinearSVC
from insightome.models.multinomial import MultinomialLogistic
from insightome.models.quantum import quantum_kernel_svm, rbf_svm, variational_quantum
from insightome.models.survival import CoxElasticNet, XGBCox


def multinomial_l1(p: dict[str, Any], binary: bool) -> bool:
    """Whether :func:`logistic` fits these parameters with :class:`MultinomialLogistic`:
    several classes and an L1 term."""
    return not binary and bool(p.get("l1_ratio", 0.0))


def logistic(p: dict[str, Any], seed: int, binary: bool = True) -> BaseEstimator:
    l1 = p.get("l1_ratio", 0.0)
    if multinomial_l1(p, binary):
        # several classes with an L1 term: scikit-learn has only saga for it, which stops at
        # its iteration limit far from the optimum on p >> n (models.multinomial)
        return MultinomialLogistic(C=p["C"], l1_ratio=l1)
    # liblinear is fast and exact for binary L1; saga handles binary elastic-net,
    # and binary L1 from LARGE_N samples on (candidates() sets it: liblinear copies the
    # fold into float64 and then into its own node list, 6x a float32 fold)
    solver = "lbfgs" if not l1 else ("liblinear" if binary and l1 == 1.0 else "saga")
    if l1 and "solver" in p:
        solver = p["solver"]
    return LogisticRegression(
        C=p["C"],
        l1_ratio=l1,
        solver=solver,
        max_iter=2000,
        random_state=seed,
    )


def _linear_svm(p: dict[str, Any], seed: int) -> BaseEstimator:
    return CalibratedLinearSVC(C=p["C"], random_state=seed)


#: trees of a classification forest: 300 scored as 500 did (out-of-fold AUC -0.0009 ±
#: 0.0008 and +0.0006 ± 0.0009 for the two default forests over 30 omics runs) for 0.61x
#: their CPU (benchmarks/results/candidates_study.md, section 4)
FOREST_TREES = 300


def _forest_clf(p: dict[str, Any], seed: int) -> BaseEstimator:
    return RandomForestClassifier(
        n_estimators=p.get("n_estimators", FOREST_TREES),
        max_samples=p.get("max_samples"),
        max_features="sqrt",
        min_samples_leaf=p.get("min_samples_leaf", 1),
        n_jobs=1,
        random_state=seed,
    )


def _extra_trees_clf(p: dict[str, Any], seed: int) -> BaseEstimator:
    """Extremely randomized trees (Geurts, Ernst & Wehenkel 2006): split points drawn at
    random, no bootstrap."""
    return ExtraTreesClassifier(
        n_estimators=p.get("n_estimators", 500),
        max_features="sqrt",
        min_samples_leaf=p.get("min_samples_leaf", 1),
        n_jobs=1,
        random_state=seed,
    )


XGB_DEFAULTS = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.5,
    "min_child_weight": 1,
}


def _xgb_params(p: dict[str, Any]) -> dict[str, Any]:
    """Gradient-boosting settings: the defaults above, overridden by a candidate's params."""
    return {**XGB_DEFAULTS, **p}


def _xgb_clf(p: dict[str, Any], seed: int) -> BaseEstimator:
    from xgboost import XGBClassifier

    return XGBClassifier(
        **_xgb_params(p),
        n_jobs=1,
        random_state=seed,
        tree_method="hist",
    )


LGBM_DEFAULTS = {
    "n_estimators": 500,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "colsample_bytree": 0.3,
    "subsample": 0.8,
    "subsample_freq": 1,
}


def _lgbm(p: dict[str, Any], seed: int, regression: bool) -> BaseEstimator:
    """LightGBM: histogram boosting that bundles mutually exclusive sparse columns
    (fingerprint bits), so it fits wide molecular feature tables 2x faster than XGBoost."""
    from lightgbm import LGBMClassifier, LGBMRegressor

    cls = LGBMRegressor if regression else LGBMClassifier
    return cls(**{**LGBM_DEFAULTS, **p}, n_jobs=1, random_state=seed, verbose=-1)


def _lgbm_clf(p: dict[str, Any], seed: int) -> BaseEstimator:
    return _lgbm(p, seed, regression=False)


def _lgbm_reg(p: dict[str, Any], seed: int) -> BaseEstimator:
    return _lgbm(p, seed, regression=True)


def _scaled_y(model: BaseEstimator) -> BaseEstimator:
    return TransformedTargetRegressor(regressor=model, transformer=StandardScaler())


def _ridge(p: dict[str, Any], seed: int) -> BaseEstimator:
    return _scaled_y(Ridge(alpha=p["alpha"]))


def _enet(p: dict[str, Any], seed: int) -> BaseEstimator:
    return _scaled_y(ElasticNet(alpha=p["alpha"], l1_ratio=p.get("l1_ratio", 0.5), max_iter=5000))


def _linear_svr(p: dict[str, Any], seed: int) -> BaseEstimator:
    return _scaled_y(LinearSVR(C=p["C"], max_iter=10000, random_state=seed))


def _forest_reg(p: dict[str, Any], seed: int) -> BaseEstimator:
    return RandomForestRegressor(
        n_estimators=p.get("n_estimators", 500),
        max_samples=p.get("max_samples"),
        max_features=0.33,
        min_samples_leaf=p.get("min_samples_leaf", 1),
        n_jobs=1,
        random_state=seed,
    )


def _xgb_reg(p: dict[str, Any], seed: int) -> BaseEstimator:
    from xgboost import XGBRegressor

    return XGBRegressor(
        **_xgb_params(p),
        n_jobs=1,
        random_state=seed,
        tree_method="hist",
    )


def _cox(p: dict[str, Any], seed: int) -> BaseEstimator:
    return CoxElasticNet(penalizer=p["penalizer"], l1_ratio=p.get("l1_ratio", 0.5))


def _xgb_cox(p: dict[str, Any], seed: int) -> BaseEstimator:
    return XGBCox(max_depth=p["max_depth"], random_state=seed)


MODELS: dict[str, Callable[[dict[str, Any], int], BaseEstimator]] = {
    "l1_logistic": logistic,
    "elastic_net_logistic": logistic,
    "ridge_logistic": logistic,
    "linear_svm": _linear_svm,
    "random_forest": _forest_clf,
    "extra_trees": _extra_trees_clf,
    "xgboost": _xgb_clf,
    "lightgbm": _lgbm_clf,
    "ridge": _ridge,
    "elastic_net": _enet,
    "linear_svr": _linear_svr,
    "random_forest_regressor": _forest_reg,
    "xgboost_regressor": _xgb_reg,
    "lightgbm_regressor": _lgbm_reg,
    "cox_elastic_net": _cox,
    "cox_ridge": _cox,
    "xgboost_cox": _xgb_cox,
    # --candidates quantum (models.quantum): PCA to the qubit count, then the model
    "quantum_kernel_svm": quantum_kernel_svm,
    "variational_quantum": variational_quantum,
    "rbf_svm": rbf_svm,
}
