"""LightGBM with small-n settings, and per-dataset ranges for the number of selected
features: do they improve the selection? Measured on captured omics runs (issue 27,
point 3).

Every answer uses the yardstick of ``benchmarks/candidates_study.py``: the BBC-CV estimate
of the *whole selection* with and without the change, on the folds of every omics run
``benchmarks/estimators.py`` captured (the omics suite's datasets, 50/50 splits, preset
``default``, the candidate set of the capture). A configuration that only adds selection
noise lowers it. BBC-CV here is insightome's default run's (``all_repeats`` pooling, the
average of the top 3 offered in every bootstrap as ``--ensemble auto`` does, 1,000
bootstraps, seed 0).

Every compared configuration is **refitted** here on the capture's folds, on the training
half less its constant and all-missing columns (as insightome's modelling table drops
them): the configurations a change replaces are refitted too (the **control**), and each
change is judged against the control, not against the captured predictions. (Refitting
on a table with one more column draws the forests' and XGBoost's column samples
differently; on colon that alone moved the whole-selection estimate by 0.001.) The table
states how far the control's out-of-fold AUC is from the captured one.

1. **LightGBM.** The peers win with gradient boosting libraries other than XGBoost
   (AutoGluon's portfolio leads with LightGBM and CatBoost); insightome's classification set
   has XGBoost at depths 2 and 4. LightGBM's own defaults need 20 samples per leaf, so on a
   30-sample fold a tree can hardly split; here it grows 7-leaf trees with leaves of 3
   samples (:data:`SMALL_N_LIGHTGBM`), on all features, **added** to the selection or
   **instead of** XGBoost depth 4 (which keeps its 500 F-test features on wide data; as
   many configurations). Also the out-of-fold AUC of each against XGBoost and the CPU
   seconds of their fits on the same folds. CatBoost is not in insightome's environment
   and was not tried.
2. **Selection sizes per dataset.** On wide data (p > 200) the default set's univariate
   selection keeps 200 features (elastic net, linear SVM C=1) or 500 (forest with leaves of
   3, XGBoost depth 4), whatever p is. The alternative sizes follow the dataset: 2 and
   6 x sqrt(p) (:func:`sqrt_sizes`), **instead of** the fixed ones, or **added** to them so
   the selection chooses among both (a range of two sizes per configuration; four more
   configurations).

``python benchmarks/models_study.py`` writes ``benchmarks/results/models_study.md`` and
``.json``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estimators as E
from candidates_study import (
    _captures,
    _fold_predictions,
    _load,
    _mean_se,
    _training_half,
    study_meta,
    write_atomically,
)

RESULTS = E.REPO / "benchmarks" / "results" / "models_study"
N_BOOTSTRAP = 1000
# small-n LightGBM over insightome's LGBM_DEFAULTS (learning rate 0.05, a third of the
# features per tree, 80% row subsamples): 7-leaf trees, leaves of 3 samples, 300 rounds
SMALL_N_LIGHTGBM = {"num_leaves": 7, "min_child_samples": 3, "n_estimators": 300}
FIXED_SIZES = {200: 0, 500: 1}  # the default set's sizes -> which of sqrt_sizes replaces it


def sqrt_sizes(p: int) -> tuple[int, int]:
    """2 and 6 x sqrt(p), to two significant figures (p = 2,000: 89 and 270; 7,129: 170
    and 510)."""
    return tuple(int(float(f"{m * math.sqrt(p):.2g}")) for m in (2.0, 6.0))


def _bbc(oof: np.ndarray, a: dict[str, Any], task: str) -> float:
    from insightome.evaluate.bbc import bbc_cv
    from insightome.options.checks import ENSEMBLE_SIZE

    res = bbc_cv(
        oof, a["y"], task, n_bootstrap=N_BOOTSTRAP, seed=0, thresholds=a.get("thresholds"),
        average_top=ENSEMBLE_SIZE,
    )  # fmt: skip
    return float(res.estimate.value)


def _modelling_half(meta: dict[str, Any]) -> Any:
    """The training half as the run modelled it: without constant or all-missing columns
    (``insightome.modelling_table.feature_table`` drops them)."""
    X = _training_half(meta)
    return X.loc[:, (X.nunique(dropna=True) > 1).to_numpy()]


def _configurations(task: str, X: Any, names: list[str]) -> list[Any]:
    """The capture's configurations, rebuilt (the default set for its task and p)."""
    from insightome.models.candidates import candidates

    made = candidates(task, X.shape[1], "default", n_samples=len(X))
    if [c.name for c in made] != names:
        raise AssertionError(f"the capture's configurations differ from today's: {names}")
    return made


def study_one(path: Path) -> dict[str, Any]:
    import dataclasses

    from insightome.evaluate.bbc import cv_scores
    from insightome.evaluate.metrics import PRIMARY
    from insightome.models.candidates import Candidate

    meta, a = _load(path)
    task, names = meta["task"], list(meta["candidates"])
    X = _modelling_half(meta)
    if len(X) != len(a["y"]):
        return {"run": path.stem, "skipped": "the run left out a class: its half differs"}
    configs = _configurations(task, X, names)
    sized = [i for i, c in enumerate(configs) if c.k in FIXED_SIZES]
    sizes = sqrt_sizes(X.shape[1])
    resized = [dataclasses.replace(configs[i], k=sizes[FIXED_SIZES[configs[i].k]]) for i in sized]
    xgb = [i for i, c in enumerate(configs) if c.family == "xgboost"]
    deep = next(i for i in xgb if configs[i].params.get("max_depth") == 4)
    refit = sorted(set(sized) | set(xgb))  # the control: what the changes replace or face
    fits = [Candidate("lightgbm", SMALL_N_LIGHTGBM, None, task)]
    fits += [configs[i] for i in refit] + resized
    oof, seconds = _fold_predictions(X, a, task, fits)
    control = a["oof"].copy()
    control[:, refit] = oof[:, 1 : 1 + len(refit)]
    light, alt = oof[:, [0]], oof[:, 1 + len(refit) :]
    swapped = control.copy()
    swapped[:, sized] = alt
    without_deep = [c for c in range(control.shape[1]) if c != deep]
    y, metric = a["y"], PRIMARY[task]
    cv = cv_scores(np.concatenate([control, light, alt], 1), y, metric, None).mean(axis=0)
    captured = cv_scores(a["oof"][:, refit], y, metric, None).mean(axis=0)
    C = control.shape[1]
    cpu = dict(zip([names[i] for i in refit], seconds[1 : 1 + len(refit)], strict=True))
    depth2 = next(names[i] for i in xgb if configs[i].params.get("max_depth") == 2)
    return {
        "run": path.stem, "task": task, "p": X.shape[1], "sqrt_sizes": list(sizes),
        "control_vs_captured_max_abs": float(np.max(np.abs(cv[refit] - captured))),
        "base": _bbc(control, a, task),
        "lightgbm_added": _bbc(np.concatenate([control, light], 1), a, task),
        "lightgbm_instead_of_depth4": _bbc(
            np.concatenate([control[:, without_deep], light], 1), a, task
        ),
        "sizes_instead": _bbc(swapped, a, task),
        "sizes_added": _bbc(np.concatenate([control, alt], 1), a, task),
        "cv_lightgbm": float(cv[C]),
        "cv_xgboost": {names[c]: float(cv[c]) for c in xgb},
        "cv_sized": {names[c]: [float(cv[c]), float(cv[C + 1 + j])] for j, c in enumerate(sized)},
        "cpu_lightgbm": float(seconds[0]), "cpu_xgboost_depth2": float(cpu[depth2]),
    }  # fmt: skip


def render(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    ok = [r for r in rows if "skipped" not in r]
    skipped = sorted({r["run"] for r in rows if "skipped" in r})
    best_xgb = [max(r["cv_xgboost"].values()) for r in ok]
    wins = sum(r["cv_lightgbm"] > b for r, b in zip(ok, best_xgb, strict=True))
    cpu = sum(r["cpu_lightgbm"] for r in ok) / sum(r["cpu_xgboost_depth2"] for r in ok)
    pairs = [v for r in ok for v in r["cv_sized"].values()]
    higher = sum(new > old for old, new in pairs)

    def change(key: str) -> str:
        return _mean_se([r[key] - r["base"] for r in ok])

    lines = [
        "# LightGBM and per-dataset selection sizes: do they improve the selection? (issue 27)",
        "",
        f"- Command: `python benchmarks/models_study.py`; date {meta['date']}; source "
        f"{meta['source']}; machine {meta['machine']}",
        f"- Captured runs: `{meta['captures']}` (omics, written by `benchmarks/estimators.py` "
        f"with the candidate set of that time: {len(ok)} runs); BBC-CV: as insightome's default "
        f"run (`all_repeats`, the average of the top 3 offered in every bootstrap), "
        f"{N_BOOTSTRAP} bootstraps, seed 0",
        "- Every change is judged against a **control**: the captured run with the "
        "configurations a change replaces (and the XGBoost ones) refitted here on the same "
        "folds and table. Largest difference between a refitted and a captured "
        "configuration's out-of-fold AUC, per run: median "
        f"{np.median([r['control_vs_captured_max_abs'] for r in ok]):.4f}, max "
        f"{max(r['control_vs_captured_max_abs'] for r in ok):.4f}",
        f"- LightGBM: `{SMALL_N_LIGHTGBM}` over insightome's `LGBM_DEFAULTS`, on all features "
        "(XGBoost depth 4 keeps its 500 F-test features on wide data); the sizes tried: 2 and "
        "6 × sqrt(p) in place of 200 and 500",
        "",
        "## Change in the BBC-CV estimate of the whole selection",
        "",
        "| change | runs | mean change ± SE (min, max) |",
        "|---|---|---|",
        f"| LightGBM added | {len(ok)} | {change('lightgbm_added')} |",
        f"| LightGBM instead of XGBoost depth 4 | {len(ok)} | "
        f"{change('lightgbm_instead_of_depth4')} |",
        f"| sizes 2 and 6 × sqrt(p) instead of 200 and 500 | {len(ok)} | "
        f"{change('sizes_instead')} |",
        f"| sizes 2 and 6 × sqrt(p) added to 200 and 500 | {len(ok)} | {change('sizes_added')} |",
        "",
        "## Out-of-fold AUC (mean over repeats)",
        "",
        f"- LightGBM − the better XGBoost configuration: "
        f"{_mean_se([r['cv_lightgbm'] - b for r, b in zip(ok, best_xgb, strict=True)])}; "
        f"LightGBM higher in {wins} of {len(ok)} runs",
        f"- CPU of the fits on the same folds, LightGBM / XGBoost depth 2: {cpu:.2f}",
        f"- A configuration on sqrt(p) sizes − the same on 200 or 500 features: "
        f"{_mean_se([new - old for old, new in pairs])}; higher in {higher} of {len(pairs)}",
        "",
        "| run | p | sqrt sizes | LightGBM | XGBoost d2 / d4 | selection: base / LightGBM "
        "added / instead of d4 / sizes instead / sizes added |",
        "|---|---|---|---|---|---|",
    ]
    for r in ok:
        lines.append(
            f"| {r['run']} | {r['p']} | {r['sqrt_sizes'][0]}, {r['sqrt_sizes'][1]} | "
            f"{r['cv_lightgbm']:.3f} | "
            + " / ".join(f"{v:.3f}" for v in r["cv_xgboost"].values())
            + f" | {r['base']:.3f} / {r['lightgbm_added']:.3f} / "
            f"{r['lightgbm_instead_of_depth4']:.3f} / {r['sizes_instead']:.3f} / "
            f"{r['sizes_added']:.3f} |"
        )
    if skipped:
        lines += ["", f"Skipped: {', '.join(skipped)} (the run left out a class)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=Path, default=E.DEFAULT_CAPTURES)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rerender", action="store_true",
                        help="rewrite the .md from the saved .json, running nothing")  # fmt: skip
    args = parser.parse_args(argv)
    if args.rerender:
        saved = json.loads(RESULTS.with_suffix(".json").read_text())
        rows, meta = saved["runs"], saved["meta"]
    else:
        paths = _captures("omics", args.captures)
        if not paths:
            sys.exit(f"no captured omics runs under {args.captures}: run estimators.py first")
        with cf.ProcessPoolExecutor(args.workers) as pool:
            rows = list(pool.map(study_one, paths))
        meta = study_meta(args.captures)
        payload = json.dumps({"meta": meta, "runs": rows}, indent=1) + "\n"
        write_atomically(RESULTS.with_suffix(".json"), payload)
    write_atomically(RESULTS.with_suffix(".md"), render(rows, meta))
    print(f"wrote {RESULTS.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
