"""One peer AutoML tool on one training half: the worker behind ``benchmarks/peers.py``.

Runs in the peers' own virtual environment (``benchmarks/.venv-peers``, built by
``python benchmarks/peers.py --setup`` from ``benchmarks/peers_requirements.txt``), never in
insightome's, and imports nothing from insightome. ``peers.py`` writes the training half and
the hold-out half's features (never its labels) to an ``.npz`` file, starts this script in a
fresh process per tool x dataset x split, and measures it from outside (wall time, CPU time
of the process tree, peak memory). This script fits the tool on the training half, predicts
the hold-out half and prints one JSON line (prefixed ``PEERS_RUNNER_RESULT``): hold-out class
probabilities (the harness computes the AUC itself), the tool's own estimate of its AUC,
and the tool's version. Usage::

    benchmarks/.venv-peers/bin/python benchmarks/peers_runner.py --versions
    benchmarks/.venv-peers/bin/python benchmarks/peers_runner.py --tool rf_grid \\
        --data /tmp/x/data.npz --workdir /tmp/x --params '{"n_estimators": 500}'

Tools: ``autogluon`` (AutoGluon-Tabular, tree models only), ``tpot`` (TPOT 1.x),
``rf_grid`` (GridSearchCV over a RandomForest), ``omiclearn`` (OmicLearn's default pipeline:
ExtraTrees top-k feature selection + XGBoost, repeated stratified CV). Offline by design:
hub/telemetry switches are set, TPOT's PyPI update check is disabled, and every outbound
connection to a non-loopback address is refused and counted (``network_attempts``; Dask,
which TPOT uses, talks to its workers over loopback).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "WANDB_MODE": "disabled",
    "MPLBACKEND": "Agg",
    "TQDM_DISABLE": "1",
}
RESULT_MARKER = "PEERS_RUNNER_RESULT "
TOOLS = ("autogluon", "tpot", "rf_grid", "omiclearn")
#: AutoGluon model families allowed here: tree ensembles and simple models, no neural nets
#: (no torch in the peers venv) and no foundation models (they download weights).
AG_ALLOWED_MODELS = ("GBM", "CAT", "XGB", "RF", "XT", "LR", "KNN")
PEER_PACKAGES = (
    "autogluon.tabular",
    "autogluon.core",
    "TPOT",
    "scikit-learn",
    "xgboost-cpu",
    "lightgbm",
    "catboost",
    "numpy",
    "pandas",
    "dask",
    "distributed",
)


class NetworkGuard:
    """Refuse (and count) socket connections to anything but loopback addresses."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    @staticmethod
    def _loopback(address: Any) -> bool:
        host = address[0] if isinstance(address, tuple) else address
        if not isinstance(host, str):
            return False
        if host in ("localhost", "") or host.startswith("127."):
            return True
        try:
            return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
        except ValueError:
            return False

    def install(self) -> None:
        import socket

        guard = self
        orig_connect = socket.socket.connect
        orig_connect_ex = socket.socket.connect_ex

        def _check(sock: socket.socket, address: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not guard._loopback(address):
                guard.attempts.append(repr(address))
                raise OSError(f"peers_runner: network access refused ({address!r})")

        def connect(sock: socket.socket, address: Any) -> None:
            _check(sock, address)
            orig_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            _check(sock, address)
            return orig_connect_ex(sock, address)

        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def peer_versions() -> dict[str, str]:
    return {"python": platform.python_version(), **{p: _version(p) for p in PEER_PACKAGES}}


def _disable_update_checks() -> None:
    """TPOT calls ``update_checker.update_check('tpot', ...)`` (a PyPI request) on import."""
    try:
        import update_checker
    except ImportError:
        return

    def _no_check(*_args: object, **_kwargs: object) -> None:
        return None

    update_checker.update_check = _no_check  # type: ignore[assignment]


# --------------------------------------------------------------------------------------
# the tools
# --------------------------------------------------------------------------------------
def _proba_full(proba: Any, columns: list[int], n_classes: int) -> Any:
    """Probabilities for classes 0..K-1 (a tool that dropped a rare class gets 0 there)."""
    import numpy as np

    out = np.zeros((proba.shape[0], n_classes), dtype=float)
    for j, c in enumerate(columns):
        out[:, int(c)] = proba[:, j]
    return out


def ovr_auc(y: Any, proba: Any, n_classes: int) -> float:
    """Binary: AUC of P(class 1). Multiclass: the mean one-vs-rest AUC over the classes that
    have both positives and negatives in ``y`` (sklearn's macro OvR when all are present)."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(int)
    if n_classes == 2:
        return float(roc_auc_score(y == 1, proba[:, 1]))
    aucs = [float(roc_auc_score(y == k, proba[:, k])) for k in range(n_classes)
            if 0 < int((y == k).sum()) < len(y)]  # fmt: skip
    return float(np.mean(aucs)) if aucs else float("nan")


def run_autogluon(
    d: dict[str, Any], params: dict[str, Any], n_jobs: int, seed: int, workdir: Path
) -> dict[str, Any]:
    """AutoGluon-Tabular with a preset, a time limit and its tree-model portfolio.

    eval_metric is ``roc_auc`` for binary tasks. For multiclass it is ``log_loss``: with
    ``roc_auc_ovr_macro`` every model's validation score was NaN on the small multiclass sets
    (AutoGluon's 5-10-row validation split / bag folds lack some classes), so AutoGluon
    refused to keep any model. The estimate is computed from AutoGluon's OWN validation
    predictions of its best model (out-of-fold predictions when bagged, else its internal
    hold-out split), as AUC: binary AUC / macro one-vs-rest over the classes present.
    """
    import numpy as np
    import pandas as pd
    from autogluon.tabular import TabularPredictor
    from autogluon.tabular.configs.hyperparameter_configs import get_hyperparameter_config

    n_classes = len(d["classes"])
    binary = n_classes == 2
    metric = "roc_auc" if binary else "log_loss"
    preset = params["presets"]
    portfolio = get_hyperparameter_config(params["hyperparameters"])
    hyperparameters = {k: v for k, v in portfolio.items() if k in AG_ALLOWED_MODELS}
    dropped = sorted(k for k in portfolio if k not in AG_ALLOWED_MODELS)
    cols = [f"f{i}" for i in range(d["X_train"].shape[1])]
    train = pd.DataFrame(d["X_train"], columns=cols)
    train["__label__"] = d["y_train"].astype(int)
    hold = pd.DataFrame(d["X_hold"], columns=cols)

    def fit(path: str, **extra: Any) -> Any:
        predictor = TabularPredictor(
            label="__label__",
            problem_type="binary" if binary else "multiclass",
            eval_metric=metric,
            path=str(workdir / path),
            verbosity=int(params.get("verbosity", 1)),
        )
        return predictor.fit(
            train,
            presets=preset,
            time_limit=float(params["time_limit"]),
            hyperparameters=hyperparameters,
            num_cpus=n_jobs,
            num_gpus=0,
            **extra,
        )

    retried = None
    try:
        predictor = fit("autogluon")
    except AssertionError as exc:
        # AutoGluon 1.6.3 without ray: best_quality's DyStack sub-fit (25% of the time limit)
        # can run out of time on thousands of columns and train no model; AutoGluon then
        # re-enters fit on the same learner and raises "Learner is already fit". Its own log
        # advises `dynamic_stacking=False, num_stack_levels=1` for such data, which is what
        # a user would do next: retry so, with the full time limit again; the failed attempt
        # stays in the run's wall and CPU time.
        if "already fit" not in str(exc) or preset != "best_quality":
            raise
        retried = (
            "DyStack sub-fit trained no model in its 25% of the time limit and AutoGluon "
            "raised 'Learner is already fit'; refitted with dynamic_stacking=False, "
            "num_stack_levels=1 (AutoGluon's own advice) and the full time limit; the failed "
            "attempt is included in wall and CPU time"
        )
        predictor = fit("autogluon_retry", dynamic_stacking=False, num_stack_levels=1)
    board = predictor.leaderboard(silent=True)
    best = predictor.model_best
    score_val = float(board.loc[board["model"] == best, "score_val"].iloc[0])
    info = predictor.info()
    bagged = bool(info.get("num_bag_folds") or 0)
    if bagged:
        val_proba = predictor.predict_proba_oof(model=best, as_multiclass=True)
        val_y = train.loc[val_proba.index, "__label__"].to_numpy(int)
        source = "out-of-fold predictions of the bagged models"
    else:
        X_val, y_val = predictor.load_data_internal(data="val", return_X=True, return_y=True)
        val_proba = predictor.predict_proba(
            X_val, model=best, transform_features=False, as_multiclass=True
        )
        val_y = predictor.transform_labels(y_val, inverse=True).to_numpy(int)
        source = f"predictions on AutoGluon's internal validation split ({len(val_y)} rows)"
    val_full = _proba_full(val_proba.to_numpy(float), list(val_proba.columns), n_classes)
    estimate = ovr_auc(val_y, val_full, n_classes)
    proba_df = predictor.predict_proba(hold, as_multiclass=True)
    proba = _proba_full(proba_df.to_numpy(float), list(proba_df.columns), n_classes)
    trained = list(board["model"])
    return {
        "proba": proba,
        "estimate": estimate,
        "estimate_kind": "AUC of AutoGluon's best model on its own "
        + source
        + (
            " (= its score_val, eval_metric roc_auc)"
            if binary
            else ", macro one-vs-rest over the classes present (eval_metric log_loss)"
        ),
        "details": {
            "preset": preset,
            "eval_metric": metric,
            "score_val": score_val,
            "best_model": best,
            "n_models_trained": len(trained),
            "models": trained[:40],
            "model_families_used": sorted(hyperparameters),
            "model_families_removed": dropped,
            "num_bag_folds": info.get("num_bag_folds"),
            "num_stack_levels": info.get("num_stack_levels"),
            "n_validation_rows": len(val_y),
            "classes_seen_by_autogluon": [int(c) for c in proba_df.columns],
            "fit_time_s": float(np.nansum(board["fit_time_marginal"].to_numpy(float))),
            "retried": retried,
        },
        "version": _version("autogluon.tabular"),
    }


def run_tpot(
    d: dict[str, Any], params: dict[str, Any], n_jobs: int, seed: int, workdir: Path
) -> dict[str, Any]:
    _disable_update_checks()
    from tpot import TPOTClassifier

    n_classes = len(d["classes"])
    scorer = "roc_auc" if n_classes == 2 else "roc_auc_ovr"
    est = TPOTClassifier(
        search_space=params["search_space"],
        scorers=[scorer],
        scorers_weights=[1],
        cv=int(d["folds"]),
        max_time_mins=float(params["max_time_mins"]),
        max_eval_time_mins=float(params["max_eval_time_mins"]),
        population_size=int(params["population_size"]),
        generations=int(params["generations"]),
        n_jobs=n_jobs,
        verbose=0,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(d["X_train"], d["y_train"].astype(int))
    best = est.selected_best_score
    objective = est.objective_names[0]
    proba = est.predict_proba(d["X_hold"])
    evaluated = est.evaluated_individuals
    n_eval = int(evaluated[objective].notna().sum()) if evaluated is not None else 0
    return {
        "proba": _proba_full(proba, list(range(proba.shape[1])), n_classes),
        "estimate": float(best[objective]),
        "estimate_kind": (
            f"TPOT's best pipeline's mean {d['folds']}-fold CV {scorer}, the maximum over "
            "all pipelines it evaluated"
        ),
        "details": {
            "scorer": scorer,
            "cv_folds": int(d["folds"]),
            "pipelines_evaluated": n_eval,
            "best_pipeline": str(est.fitted_pipeline_)[:600],
        },
        "version": _version("TPOT"),
    }


def run_rf_grid(
    d: dict[str, Any], params: dict[str, Any], n_jobs: int, seed: int, workdir: Path
) -> dict[str, Any]:
    import sklearn
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    n_classes = len(d["classes"])
    scorer = "roc_auc" if n_classes == 2 else "roc_auc_ovr"
    grid = {"max_features": params["max_features"], "min_samples_leaf": params["min_samples_leaf"]}
    n_trees = int(params["n_estimators"])
    rf = RandomForestClassifier(n_estimators=n_trees, random_state=seed, n_jobs=1)
    cv = StratifiedKFold(n_splits=int(d["folds"]), shuffle=True, random_state=seed)
    search = GridSearchCV(rf, grid, scoring=scorer, cv=cv, n_jobs=n_jobs, refit=False)
    search.fit(d["X_train"], d["y_train"].astype(int))
    final = RandomForestClassifier(n_estimators=n_trees, random_state=seed, n_jobs=n_jobs)
    final.set_params(**search.best_params_)
    final.fit(d["X_train"], d["y_train"].astype(int))
    proba = final.predict_proba(d["X_hold"])
    return {
        "proba": _proba_full(proba, list(final.classes_), n_classes),
        "estimate": float(search.best_score_),
        "estimate_kind": f"GridSearchCV best_score_: the best setting's mean {d['folds']}-fold "
        f"CV {scorer}",
        "details": {"best_params": search.best_params_, "scorer": scorer, "grid": grid},
        "version": sklearn.__version__,
    }


def run_omiclearn(
    d: dict[str, Any], params: dict[str, Any], n_jobs: int, seed: int, workdir: Path
) -> dict[str, Any]:
    """OmicLearn's default pipeline (MannLabs/OmicLearn ``utils/ml_helper.py``), outside Streamlit.

    Zero imputation when values are missing (else none), no normalization (the UI's first
    choice), ExtraTrees(n_trees) top-k features chosen inside each fold, XGBoost with the
    UI's defaults, RepeatedStratifiedKFold; the estimate is the mean fold ROC AUC.
    OmicLearn itself is binary-only; here multiclass uses macro one-vs-rest AUC per fold.
    """
    import numpy as np
    import sklearn
    import xgboost
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import RepeatedStratifiedKFold

    rs = int(params["random_state"])
    k, n_trees = int(params["max_features"]), int(params["n_trees"])
    X, y, X_hold = d["X_train"], d["y_train"].astype(int), d["X_hold"]
    n_classes = len(d["classes"])
    labels = list(range(n_classes))
    impute = bool(np.isnan(X).any() or np.isnan(X_hold).any())

    def prep(a: Any) -> Any:
        return np.nan_to_num(a, nan=0.0) if impute else a

    def select(Xt: Any, yt: Any) -> Any:
        et = ExtraTreesClassifier(n_estimators=n_trees, random_state=rs, n_jobs=n_jobs)
        et.fit(np.nan_to_num(Xt, nan=0.0), yt)
        return np.argsort(et.feature_importances_)[::-1][:k]

    def classifier() -> Any:
        return xgboost.XGBClassifier(
            learning_rate=0.3,
            min_split_loss=0,
            max_depth=6,
            min_child_weight=1,
            random_state=rs,
            n_jobs=n_jobs,
            eval_metric="error" if n_classes == 2 else "merror",
        )

    def auc(yt: Any, p: Any) -> float:
        if n_classes == 2:
            return float(roc_auc_score(yt, p[:, 1]))
        return float(roc_auc_score(yt, p, multi_class="ovr", average="macro", labels=labels))

    cv = RepeatedStratifiedKFold(
        n_splits=int(d["folds"]), n_repeats=int(params["cv_repeats"]), random_state=rs
    )
    fold_aucs = []
    for tr, te in cv.split(X, y):
        Xtr, Xte = prep(X[tr]), prep(X[te])
        cols = select(Xtr, y[tr])
        clf = classifier().fit(Xtr[:, cols], y[tr])
        fold_aucs.append(auc(y[te], clf.predict_proba(Xte[:, cols])))
    Xall = prep(X)
    cols = select(Xall, y)
    clf = classifier().fit(Xall[:, cols], y)
    proba = clf.predict_proba(prep(X_hold)[:, cols])
    return {
        "proba": _proba_full(proba, list(range(proba.shape[1])), n_classes),
        "estimate": float(np.mean(fold_aucs)),
        "estimate_kind": (
            f"mean ROC AUC over RepeatedStratifiedKFold: {d['folds']} splits x "
            f"{params['cv_repeats']} repeats"
            + ("" if n_classes == 2 else ", macro one-vs-rest (OmicLearn itself is binary-only)")
        ),
        "details": {
            "cv_auc_sd": float(np.std(fold_aucs)),
            "n_cv_folds": len(fold_aucs),
            "imputation": "zero" if impute else "none (no missing values)",
            "top_k": k,
            "extra_trees": n_trees,
            "selected_features_final": [int(c) for c in cols],
            "xgboost": xgboost.__version__,
            "scikit_learn": sklearn.__version__,
        },
        "version": "OmicLearn-style pipeline (xgboost "
        + xgboost.__version__
        + ", scikit-learn "
        + sklearn.__version__
        + ")",
    }


RUNNERS = {
    "autogluon": run_autogluon,
    "tpot": run_tpot,
    "rf_grid": run_rf_grid,
    "omiclearn": run_omiclearn,
}


def _shutdown_loky() -> None:
    """Stop joblib's reusable worker pool so its workers are reaped (and counted in CPU)."""
    try:
        from joblib.externals.loky import reusable_executor

        executor = getattr(reusable_executor, "_executor", None)
        if executor is not None:
            executor.shutdown(wait=True)
    except Exception:  # pragma: no cover - best effort
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tool", choices=TOOLS)
    ap.add_argument("--data", type=Path, help=".npz written by peers.py")
    ap.add_argument("--workdir", type=Path, help="scratch folder (AutoGluon's models go here)")
    ap.add_argument("--params", default="{}", help="the tool's budget/settings as JSON")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--versions", action="store_true", help="print the peers' versions and exit")
    args = ap.parse_args(argv)
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    guard = NetworkGuard()
    guard.install()
    if args.versions:
        _disable_update_checks()
        import autogluon.tabular  # noqa: F401  (fails loudly if the venv is broken)
        import tpot  # noqa: F401

        out = peer_versions()
        out["network_attempts"] = guard.attempts  # type: ignore[assignment]
        print(RESULT_MARKER + json.dumps(out), flush=True)
        return 0
    if not (args.tool and args.data and args.workdir):
        ap.error("--tool, --data and --workdir are required")

    import numpy as np

    t0 = time.perf_counter()
    with np.load(args.data, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    d["classes"] = [str(c) for c in d["classes"]]
    d["folds"] = int(d["folds"])
    params = json.loads(args.params)
    args.workdir.mkdir(parents=True, exist_ok=True)
    res = RUNNERS[args.tool](d, params, args.n_jobs, args.seed, args.workdir)
    _shutdown_loky()
    proba = np.asarray(res.pop("proba"), dtype=float)
    if proba.shape != (d["X_hold"].shape[0], len(d["classes"])):
        raise RuntimeError(f"{args.tool}: probabilities of shape {proba.shape}, expected "
                           f"({d['X_hold'].shape[0]}, {len(d['classes'])})")  # fmt: skip
    out = {
        "tool": args.tool,
        **res,
        "proba": proba.tolist(),
        "params": params,
        "runner_seconds": time.perf_counter() - t0,
        "network_attempts": guard.attempts,
        "python": platform.python_version(),
    }
    print(RESULT_MARKER + json.dumps(out, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
