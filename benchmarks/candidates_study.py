"""Better models for less CPU: what was tried, measured on the captured runs (issue 27,
points 3 and 5).

Every number here comes from the runs ``benchmarks/estimators.py`` captured (each
candidate's out-of-fold predictions, every sample's fold in every repeat, the outcome):
``omics`` (the six omics sets, six 50/50 splits each, preset ``default``) and ``cohorts``
(the small-n cohorts at n = 30-100, preset ``fast``). They were captured before this study's
changes, with the candidate set of that time (no extremely randomized trees; multiclass L1
logistic models fitted by scikit-learn's saga). Each question is answered by the same
yardstick: the BBC-CV estimate (one repeat per bootstrap, 500 bootstraps, seed 0) of the
*whole selection* with and without the change, so a candidate that only adds selection
noise scores lower, not higher.

1. **Families**: extremely randomized trees (500 trees, leaves of 1) and k nearest
   neighbours (1/distance weights, k = round(sqrt(0.8 n)) in 3..30, on the top 20 or 100
   features by the F-test) are fitted on every captured omics run's own folds and added to
   its candidates.
2. **Ensembles**: the average of the three configurations with the best CV score, chosen
   inside every bootstrap (so the estimate stays honest), against the best single one.
3. **Successive halving across repeats**: after the first CV repeat, drop every
   configuration more than delta below the best; what that saves, and how often it drops
   the final winner or a configuration the bootstraps would pick.
4. **Forest size**: the default forests with 300 instead of 500 trees, on the omics runs'
   folds: out-of-fold AUC and the CPU of the fits and predictions.
5. **The multinomial L1 solver**: on GLIOMA's first training half (split 0, 25 samples x
   4,434 genes, 4 classes) and a training fold of a stratified 4-fold split of it,
   scikit-learn's saga (2,000 and 20,000 epochs) against insightome's FISTA with a fixed
   step and with backtracking (``insightome.models.multinomial``): CPU seconds, objective,
   non-zero coefficients.

The omics training halves are rebuilt as ``estimators.py`` made them; a captured run whose
outcome does not match its rebuilt half (lymphoma: the run left out a class too small to
learn) is skipped in 1 and 4 and named. ``python benchmarks/candidates_study.py`` writes
``benchmarks/results/candidates_study.md`` and ``.json`` (about 20 CPU minutes).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import itertools
import json
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estimators as E
import omics_suite

RESULTS = E.REPO / "benchmarks" / "results" / "candidates_study"
N_BOOTSTRAP = 500
DELTAS = (0.03, 0.05, 0.1)
FOLD_LABEL = "a 4-fold CV training fold (stratified, seed 0)"


def _captures(source: str, captures: Path) -> list[Path]:
    return sorted((captures / source).glob("*.npz"))


def _load(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    z = np.load(path, allow_pickle=True)
    meta = json.loads(str(z["meta"]))
    arrays = {k: z[k] for k in z.files if k != "meta"}
    return meta, arrays


def _bbc(oof: np.ndarray, a: dict[str, Any], task: str, **kw: Any) -> Any:
    """BBC-CV as the study was made: one CV repeat per bootstrap (``one_repeat``, the
    default until the estimator study chose ``all_repeats``)."""
    from insightome.evaluate.bbc import bbc_cv
    from insightome.options.checks import LEGACY_INTERVAL, LEGACY_POOLING

    thr = a.get("thresholds")
    kw.setdefault("pooling", LEGACY_POOLING)
    kw.setdefault("interval", LEGACY_INTERVAL)
    return bbc_cv(oof, a["y"], task, n_bootstrap=N_BOOTSTRAP, seed=0, thresholds=thr, **kw)


def _training_half(meta: dict[str, Any]) -> Any:
    """The captured run's training half as a float32 frame (as estimators.py made it)."""
    import pandas as pd

    from insightome.io import read

    adata = read(E.OMICS_DIR / f"{meta['dataset']}.mat")
    labels = np.array([omics_suite._label(v) for v in adata.obs["Y"]])
    train, _, _ = E._omics_halves(labels, meta["rep"])
    values = np.asarray(adata.X[train], dtype=np.float32)
    return pd.DataFrame(values, columns=[str(c) for c in adata.var_names])


def _fold_predictions(X: Any, a: dict[str, Any], task: str, cands: list[Any]) -> Any:
    """(R, len(cands), n, k) out-of-fold predictions on the capture's own folds, and the
    CPU seconds of each candidate's fits."""
    from threadpoolctl import threadpool_limits

    from insightome.evaluate.engine import predict_matrix

    y, folds = a["y"], a["folds"]
    k = a["oof"].shape[3]
    out = np.full((folds.shape[0], len(cands), len(y), k), np.nan)
    seconds = np.zeros(len(cands))
    values = X.to_numpy()
    with threadpool_limits(1):  # the fits' warnings show, as the benchmark scripts' do
        for r in range(folds.shape[0]):
            for f in np.unique(folds[r]):
                test = folds[r] == f
                for c, cand in enumerate(cands):
                    start = time.process_time()
                    model = cand.build(X, 0).fit(values[~test], y[~test])
                    width = k if task == "multiclass" else 2
                    out[r, c, test] = predict_matrix(model, values[test], task, width)
                    seconds[c] += time.process_time() - start
    return out, seconds


class _KNN:
    """k nearest neighbours after the candidates' preprocessing and F-test selection (not an
    insightome family: it is what this study tried)."""

    def __init__(self, n_neighbors: int, k: int) -> None:
        self.n_neighbors, self.k = n_neighbors, k

    def build(self, X: Any, seed: int) -> Any:
        from sklearn.feature_selection import SelectKBest
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.pipeline import Pipeline

        from insightome.models.candidates import f_classif_quiet, preprocessor

        return Pipeline([
            ("preprocess", preprocessor(X, lean=True)),
            ("select", SelectKBest(f_classif_quiet, k=self.k)),
            ("model", KNeighborsClassifier(self.n_neighbors, weights="distance")),
        ])  # fmt: skip


def families_and_forests(path: Path) -> dict[str, Any]:
    """Questions 1 and 4 on one captured omics run."""
    from insightome.evaluate.bbc import cv_scores
    from insightome.evaluate.metrics import PRIMARY
    from insightome.models.candidates import Candidate

    meta, a = _load(path)
    task = meta["task"]
    X = _training_half(meta)
    if len(X) != len(a["y"]):
        return {"run": path.stem, "skipped": "the run left out a class: its half differs"}
    n, p = X.shape
    nn = int(np.clip(round(np.sqrt(0.8 * n)), 3, 30))
    new = [
        Candidate("extra_trees", {"min_samples_leaf": 1}, None, task),
        _KNN(nn, min(20, p)),
        _KNN(nn, min(100, p)),
    ]
    forests = [
        Candidate("random_forest", {"min_samples_leaf": leaf, "n_estimators": trees}, k, task)
        for leaf, k in ((1, None), (3, 500 if p > 500 else None))
        for trees in (500, 300)
    ]
    extra, _ = _fold_predictions(X, a, task, new)
    trees, seconds = _fold_predictions(X, a, task, forests)
    base = _bbc(a["oof"], a, task).estimate.value
    added = {
        name: _bbc(np.concatenate([a["oof"], extra[:, cols]], axis=1), a, task).estimate.value
        for name, cols in (("extra_trees", [0]), ("knn", [1, 2]))
    }
    cv = cv_scores(trees, a["y"], PRIMARY[task], a.get("thresholds")).mean(axis=0)
    return {
        "run": path.stem, "base": base, **{f"with_{k}": v for k, v in added.items()},
        "forest_cv": cv.tolist(), "forest_cpu": seconds.tolist(),
    }  # fmt: skip


def ensembles_and_halving(path: Path) -> dict[str, Any]:
    """Questions 2 and 3 on one captured run (no refits)."""
    from insightome.evaluate.bbc import cv_scores
    from insightome.evaluate.metrics import PRIMARY

    meta, a = _load(path)
    task, oof = meta["task"], a["oof"]
    if task not in ("binary", "multiclass"):
        return {"run": path.stem, "skipped": f"{task}: averaged predictions are not compared"}
    C = oof.shape[1]
    usable = np.flatnonzero(~np.isnan(oof).any(axis=(0, 2, 3)))
    combos = list(itertools.combinations(usable.tolist(), 3))
    index = {c: C + i for i, c in enumerate(combos)}
    grid = np.concatenate([oof, np.stack([oof[:, list(c)].mean(axis=1) for c in combos], 1)], 1)

    def top3_or_best(scores: np.ndarray) -> np.ndarray:
        top = np.argsort(-scores[:, :C], axis=1, kind="stable")[:, :3]
        out = top[:, 0].copy()
        for i, t in enumerate(top):
            e = index.get(tuple(sorted(t.tolist())))
            if e is not None and scores[i, e] > scores[i, t[0]]:
                out[i] = e
        return out

    single = _bbc(oof, a, task)
    ensemble = _bbc(grid, a, task, select=top3_or_best)
    row: dict[str, Any] = {
        "run": path.stem, "single": single.estimate.value, "ensemble": ensemble.estimate.value,
        "ensemble_share": float(ensemble.selection_frequency[C:].sum()),
    }  # fmt: skip
    s = cv_scores(oof, a["y"], PRIMARY[task], a.get("thresholds"))
    if len(s) > 1:
        final = int(np.nanargmax(np.nanmean(s, axis=0)))
        for delta in DELTAS:
            dropped = ~(s[0] >= np.nanmax(s[0]) - delta)
            row[f"halving_{delta}"] = {
                "fits_saved": float(dropped.sum() * (len(s) - 1) / s.size),
                "winner_dropped": bool(dropped[final]),
                "picks_lost": float(single.selection_frequency[dropped].sum()),
            }
    return row


def solver() -> dict[str, Any]:
    """Question 5: saga against FISTA on GLIOMA's first training half and fold."""
    from scipy.special import logsumexp
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from insightome.models import multinomial

    X = _training_half({"dataset": "GLIOMA", "rep": 0}).to_numpy(float)
    from insightome.io import read

    labels = np.array([omics_suite._label(v) for v in read(E.OMICS_DIR / "GLIOMA.mat").obs["Y"]])
    y = labels[E._omics_halves(labels, 0)[0]]
    fold = next(StratifiedKFold(4, shuffle=True, random_state=0).split(X, y))[0]
    out: dict[str, Any] = {}
    for where, rows in (("training half", np.arange(len(y))), (FOLD_LABEL, fold)):
        Xs = StandardScaler().fit_transform(X[rows])
        ys = y[rows]
        _, codes = np.unique(ys, return_inverse=True)

        def objective(coef: np.ndarray, b: np.ndarray, C: float, Xs=Xs, codes=codes) -> float:
            Z = Xs @ coef.T + b
            return float(C * np.sum(logsumexp(Z, axis=1) - Z[np.arange(len(Z)), codes]))

        for C in (0.3, 1.0):
            fits = {}
            for name, make in (
                ("saga, 2,000 epochs", lambda C=C: LogisticRegression(
                    C=C, l1_ratio=1.0, solver="saga", max_iter=2000)),
                ("saga, 20,000 epochs", lambda C=C: LogisticRegression(
                    C=C, l1_ratio=1.0, solver="saga", max_iter=20000)),
                ("FISTA, fixed step", lambda C=C: multinomial.MultinomialLogistic(C=C)),
                ("FISTA, backtracking", lambda C=C: multinomial.MultinomialLogistic(C=C)),
            ):  # fmt: skip
                growth = multinomial.STEP_GROWTH
                if name == "FISTA, fixed step":  # never lengthen the step: 1/L_max throughout
                    multinomial.STEP_GROWTH = 1.0
                try:
                    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        start = time.process_time()
                        model = make().fit(Xs, ys)
                        cpu = time.process_time() - start
                finally:
                    multinomial.STEP_GROWTH = growth
                value = objective(model.coef_, model.intercept_, C) + np.abs(model.coef_).sum()
                fits[name] = {
                    "cpu_s": cpu, "objective": value, "nonzero": int(np.count_nonzero(model.coef_)),
                    "iterations": int(np.max(model.n_iter_)),
                    "converged": not any("converge" in str(w.message) for w in caught),
                }  # fmt: skip
            out[f"{where}, C={C}"] = {"n": len(rows), "p": X.shape[1], "fits": fits}
    return out


def run(captures: Path, workers: int) -> dict[str, Any]:
    omics = _captures("omics", captures)
    everything = omics + _captures("cohorts", captures)
    with cf.ProcessPoolExecutor(workers) as pool:
        heavy = list(pool.map(families_and_forests, omics))
        light = list(pool.map(ensembles_and_halving, everything, chunksize=8))
        solved = pool.submit(solver).result()
    return {"families_forests": heavy, "ensembles_halving": light, "solver": solved}


def _mean_se(x: list[float]) -> str:
    a = np.asarray(x, dtype=float)
    return f"{a.mean():+.4f} ± {a.std(ddof=1) / np.sqrt(len(a)):.4f} (min {a.min():+.3f}, max {a.max():+.3f})"  # noqa: E501


def render(res: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        "# Better models for less CPU: what was tried (issue 27)", "",
        f"- Command: `python benchmarks/candidates_study.py`; date {meta['date']}; source "
        f"{meta['source']}; machine {meta['machine']}",
        f"- Captured runs: `{meta['captures']}` (written by `benchmarks/estimators.py`, with "
        "the candidate set of that time); BBC-CV: one repeat per bootstrap, "
        f"{N_BOOTSTRAP} bootstraps, seed 0", "",
        "## 1. Families: change in the BBC-CV estimate of the whole selection (omics runs)", "",
    ]  # fmt: skip
    ok = [r for r in res["families_forests"] if "skipped" not in r]
    skipped = sorted({r["run"].split("-")[0] for r in res["families_forests"] if "skipped" in r})
    lines += [
        "| added | runs | mean change ± SE (min, max) |", "|---|---|---|",
        f"| extremely randomized trees (500 trees, leaves of 1) | {len(ok)} | "
        f"{_mean_se([r['with_extra_trees'] - r['base'] for r in ok])} |",
        f"| k nearest neighbours on the top 20 / top 100 F-test features | {len(ok)} | "
        f"{_mean_se([r['with_knn'] - r['base'] for r in ok])} |", "",
        f"Skipped: {', '.join(skipped) or 'none'} (the run left out a class, so its training "
        "half cannot be rebuilt as it saw it).", "",
        "## 2. Ensembles: the average of the top three, chosen in every bootstrap", "",
        "| source | runs | BBC-CV change vs the best single ± SE (min, max) | bootstraps "
        "choosing the average |", "|---|---|---|---|",
    ]  # fmt: skip
    light = [r for r in res["ensembles_halving"] if "skipped" not in r]
    for source in ("omics", "cohorts"):
        rows = [r for r in light if _source(r["run"]) == source]
        if rows:
            lines.append(
                f"| {source} | {len(rows)} | "
                f"{_mean_se([r['ensemble'] - r['single'] for r in rows])} | "
                f"{np.mean([r['ensemble_share'] for r in rows]):.1%} |"
            )
    lines += [
        "", "## 3. Successive halving across repeats", "",
        "Drop after the first repeat every configuration more than delta below the best (a "
        "configuration that could not be fitted on every fold counts as dropped).", "",
        "| source | delta | runs | fits saved | final winner dropped | bootstrap picks on "
        "dropped configurations |", "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for source in ("omics", "cohorts"):
        rows = [r for r in light if _source(r["run"]) == source and "halving_0.05" in r]
        for delta in DELTAS:
            h = [r[f"halving_{delta}"] for r in rows]
            if h:
                lines.append(
                    f"| {source} | {delta} | {len(h)} | {np.mean([x['fits_saved'] for x in h]):.1%}"
                    f" | {sum(x['winner_dropped'] for x in h)} | "
                    f"{np.mean([x['picks_lost'] for x in h]):.1%} |"
                )
    cv = np.array([r["forest_cv"] for r in ok])
    cpu = np.array([r["forest_cpu"] for r in ok])
    lines += [
        "", "## 4. Forests of 300 instead of 500 trees (omics runs)", "",
        "| forest | runs | out-of-fold AUC, 300 - 500 trees ± SE (min, max) | CPU of the fits "
        "and predictions, 300 / 500 |",
        "|---|---|---|---|",
        f"| leaves of 1, all features | {len(cv)} | {_mean_se(cv[:, 1] - cv[:, 0])} | "
        f"{cpu[:, 1].sum() / cpu[:, 0].sum():.2f} |",
        f"| leaves of 3, top 500 | {len(cv)} | {_mean_se(cv[:, 3] - cv[:, 2])} | "
        f"{cpu[:, 3].sum() / cpu[:, 2].sum():.2f} |", "",
        "## 5. The multinomial L1 solver (GLIOMA, split 0)", "",
        "| data, C | solver | CPU s | objective | non-zero | iterations | converged |",
        "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for where, block in res["solver"].items():
        where = where.replace("first CV training fold", FOLD_LABEL)  # its earlier name
        for name, f in block["fits"].items():
            lines.append(
                f"| {where} ({block['n']} x {block['p']}) | {name} | {f['cpu_s']:.2f} | "
                f"{f['objective']:.4f} | {f['nonzero']} | {f['iterations']} | {f['converged']} |"
            )
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """``text`` to ``path`` through a temporary file beside it (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def study_meta(captures: Path) -> dict[str, Any]:
    """When, on which source and machine, from which captures a study on captured runs ran."""
    state, m = omics_suite.source_state(), omics_suite.machine_info()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": f"git commit {state['commit']}"
        + (" (src/ clean)" if not state["src_modified"] else " (src/ modified)"),
        "machine": f"{m['cpu']}, {m['usable_cores']} usable cores",
        "captures": str(captures).replace(str(Path.home()), "~"),
    }


def _source(run: str) -> str:
    return "cohorts" if "-n" in run and "-r" in run else "omics"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=Path, default=E.DEFAULT_CAPTURES)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rerender", action="store_true",
                        help="rewrite the .md from the saved .json, running nothing")  # fmt: skip
    args = parser.parse_args(argv)
    if args.rerender:
        saved = json.loads(RESULTS.with_suffix(".json").read_text())
        write_atomically(RESULTS.with_suffix(".md"), render(saved, saved["meta"]))
        return 0
    if not _captures("omics", args.captures):
        sys.exit(f"no captured runs under {args.captures}: run benchmarks/estimators.py first")
    res = run(args.captures, args.workers)
    meta = study_meta(args.captures)
    payload = json.dumps({"meta": meta, **res}, indent=1, default=float) + "\n"
    write_atomically(RESULTS.with_suffix(".json"), payload)
    write_atomically(RESULTS.with_suffix(".md"), render(res, meta))
    print(f"wrote {RESULTS.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
