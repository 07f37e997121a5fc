"""LightGBM with small-n settings in the classification set? Measured on captured omics runs
(issue 27, point 3).

The peers win with gradient boosting libraries other than XGBoost (AutoGluon's portfolio
leads with LightGBM and CatBoost). insightome's classification set has XGBoost at depths 2
and 4. This study fits LightGBM with settings for a few dozen samples (LightGBM's own
defaults need 20 samples per leaf, so on a 30-sample fold a tree can hardly split) on the
folds of every omics run ``benchmarks/estimators.py`` captured (the omics suite's datasets,
50/50 splits, preset ``default``, the candidate set of the capture) and asks, with the same
yardstick as ``benchmarks/candidates_study.py`` (the BBC-CV estimate of the *whole
selection*, so a configuration that only adds selection noise scores lower):

- **added**: LightGBM joins the selection;
- **instead of XGBoost depth 4**: LightGBM replaces it (the same number of configurations,
  about the same CPU);
- the out-of-fold AUC (mean over repeats) of LightGBM against each XGBoost configuration,
  and the CPU seconds of their fits on the same folds.

BBC-CV here is insightome's default (``all_repeats`` pooling, 1,000 bootstraps, seed 0).
CatBoost is not in insightome's environment and was not tried. ``python
benchmarks/boosting_study.py`` writes ``benchmarks/results/boosting_study.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estimators as E
import omics_suite
from candidates_study import _captures, _fold_predictions, _load, _mean_se, _training_half

RESULTS = E.REPO / "benchmarks" / "results" / "boosting_study"
N_BOOTSTRAP = 1000
# small-n LightGBM: shallow trees (7 leaves), leaves of 3 samples, 300 rounds at 0.05, a
# third of the features per tree (as insightome's LGBM_DEFAULTS for ADMET)
SMALL_N_LIGHTGBM = {"num_leaves": 7, "min_child_samples": 3, "n_estimators": 300}


def _bbc(oof: np.ndarray, a: dict[str, Any], task: str) -> float:
    from insightome.evaluate.bbc import bbc_cv

    res = bbc_cv(oof, a["y"], task, n_bootstrap=N_BOOTSTRAP, seed=0, thresholds=a.get("thresholds"))
    return float(res.estimate.value)


def study_one(path: Path) -> dict[str, Any]:
    from insightome.evaluate.bbc import cv_scores
    from insightome.evaluate.metrics import PRIMARY
    from insightome.models.candidates import Candidate

    meta, a = _load(path)
    task, names = meta["task"], list(meta["candidates"])
    X = _training_half(meta)
    if len(X) != len(a["y"]):
        return {"run": path.stem, "skipped": "the run left out a class: its half differs"}
    xgb = [i for i, name in enumerate(names) if name.startswith("xgboost(")]
    deep = next(i for i in xgb if "max_depth=4" in names[i])
    fits = [Candidate("lightgbm", SMALL_N_LIGHTGBM, None, task)] + [
        Candidate("xgboost", {"max_depth": d}, None, task) for d in (2,)
    ]
    oof, seconds = _fold_predictions(X, a, task, fits)
    light = oof[:, [0]]
    base = a["oof"]
    others = [c for c in range(base.shape[1]) if c != deep]
    cv = cv_scores(np.concatenate([light, base[:, xgb]], 1), a["y"], PRIMARY[task], None)
    return {
        "run": path.stem, "task": task, "p": X.shape[1],
        "base": _bbc(base, a, task),
        "added": _bbc(np.concatenate([base, light], 1), a, task),
        "instead_of_depth4": _bbc(np.concatenate([base[:, others], light], 1), a, task),
        "cv_lightgbm": float(cv[:, 0].mean()),
        "cv_xgboost": {names[c]: float(cv[:, 1 + i].mean()) for i, c in enumerate(xgb)},
        "cpu_lightgbm": float(seconds[0]), "cpu_xgboost_depth2": float(seconds[1]),
    }  # fmt: skip


def render(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    ok = [r for r in rows if "skipped" not in r]
    skipped = sorted({r["run"] for r in rows if "skipped" in r})
    best_xgb = [max(r["cv_xgboost"].values()) for r in ok]
    wins = sum(r["cv_lightgbm"] > b for r, b in zip(ok, best_xgb, strict=True))
    cpu = sum(r["cpu_lightgbm"] for r in ok) / sum(r["cpu_xgboost_depth2"] for r in ok)
    lines = [
        "# LightGBM with small-n settings in the classification set? (issue 27)",
        "",
        f"- Command: `python benchmarks/boosting_study.py`; date {meta['date']}; source "
        f"{meta['source']}; machine {meta['machine']}",
        f"- Captured runs: `{meta['captures']}` (omics, written by `benchmarks/estimators.py` "
        f"with the candidate set of that time); BBC-CV: insightome's default "
        f"(`all_repeats`), {N_BOOTSTRAP} bootstraps, seed 0",
        f"- LightGBM: `{SMALL_N_LIGHTGBM}` over insightome's `LGBM_DEFAULTS` (learning rate "
        "0.05, a third of the features per tree, 80% row subsamples)",
        "",
        "## Change in the BBC-CV estimate of the whole selection",
        "",
        "| LightGBM | runs | mean change ± SE (min, max) |",
        "|---|---|---|",
        f"| added | {len(ok)} | {_mean_se([r['added'] - r['base'] for r in ok])} |",
        f"| instead of XGBoost depth 4 | {len(ok)} | "
        f"{_mean_se([r['instead_of_depth4'] - r['base'] for r in ok])} |",
        "",
        "## Out-of-fold AUC against XGBoost (mean over repeats)",
        "",
        f"- LightGBM − the better XGBoost configuration: "
        f"{_mean_se([r['cv_lightgbm'] - b for r, b in zip(ok, best_xgb, strict=True)])}; "
        f"LightGBM higher in {wins} of {len(ok)} runs",
        f"- CPU of the fits on the same folds, LightGBM / XGBoost depth 2: {cpu:.2f}",
        "",
        "| run | p | LightGBM | " + " | ".join(ok[0]["cv_xgboost"]) + " | selection: base / "
        "added / instead of depth 4 |",
        "|---|---|---|" + "---|" * (len(ok[0]["cv_xgboost"]) + 1),
    ]
    for r in ok:
        lines.append(
            f"| {r['run']} | {r['p']} | {r['cv_lightgbm']:.3f} | "
            + " | ".join(f"{v:.3f}" for v in r["cv_xgboost"].values())
            + f" | {r['base']:.3f} / {r['added']:.3f} / {r['instead_of_depth4']:.3f} |"
        )
    if skipped:
        lines += ["", f"Skipped: {', '.join(skipped)} (the run left out a class)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=Path, default=E.DEFAULT_CAPTURES)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    paths = _captures("omics", args.captures)
    if not paths:
        sys.exit(f"no captured omics runs under {args.captures}: run benchmarks/estimators.py")
    with cf.ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(study_one, paths))
    state, m = omics_suite.source_state(), omics_suite.machine_info()
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": f"git commit {state['commit']}"
        + (" (src/ clean)" if not state["src_modified"] else " (src/ modified)"),
        "machine": f"{m['cpu']}, {m['usable_cores']} usable cores",
        "captures": str(args.captures).replace(str(Path.home()), "~"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"meta": meta, "runs": rows}, indent=1) + "\n")
    tmp.replace(RESULTS.with_suffix(".json"))
    md = RESULTS.with_suffix(".md.tmp")
    md.write_text(render(rows, meta))
    md.replace(RESULTS.with_suffix(".md"))
    print(f"wrote {RESULTS.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
