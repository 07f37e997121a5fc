"""Which estimate of the selected model's performance is accurate, and which interval is as
narrow as 90% coverage allows? (issue 27, points 1 and 2)

insightome chooses the best of its candidates by cross-validation and estimates that
choice's performance with BBC-CV. The peers and omics benchmarks found the estimate
conservative (mean error -0.024) and its 95% interval wider than it needs to be. This study
runs insightome on many training samples, **captures** what every estimator needs — each
candidate's out-of-fold predictions, every sample's fold in every repeat, the decision
thresholds — and scores the refitted winner on patients it never saw. Then, on the same
captured runs, it computes each estimator and interval and compares them with that score:

- **plain CV**: the winner's own cross-validated score (the maximum of noisy estimates);
- **TT**: plain CV minus Tibshirani & Tibshirani's (2009) bias estimate, the mean over the
  folds of (best candidate on the fold - winner on the fold);
- **BBC-CV** (Tsamardinos et al. 2018) with three ways for a bootstrap to score a candidate
  (``insightome.evaluate.bbc.POOLINGS``): ``one_repeat`` (insightome's until now: the pooled
  out-of-fold predictions of one CV repeat per bootstrap), ``all_repeats`` (the mean of that
  over every repeat, same weights) and ``per_fold`` (the mean over one repeat's folds of
  the metric within each fold: one model's predictions per AUC);
- intervals (``insightome.evaluate.bbc.INTERVALS``): the out-of-bag scores' percentiles
  (``percentile``) and the same after shrinking their spread by sqrt(out-of-bag fraction)
  (``oob_scaled``), each at 95% and, for the record, at lower nominal levels.

Sources of captured runs:

- ``cohorts``: the small-n coverage study's cohorts and draws (benchmarks/small_n.py: ACTG
  175, TCGA pan-cancer survival, diabetes 130-US, METABRIC; preset ``fast``; n = 30, 50,
  100; the winner scored on > 1,000 remaining patients, so the truth is precise);
- ``omics``: the omics suite's datasets split 50/50 as benchmarks/omics_suite.py does
  (preset ``default``; more splits than the suite's two; the hold-out halves are small, so
  each split's truth is noisy and only means over many splits say much; an interval for the
  estimate is not meant to cover that noise too).

Cohort draws 0-19 are the **development** draws: the interval is chosen on them (the
narrowest multiple of the out-of-bag spread that covers >= 90% of held-out scores at every
n); draws 20-29 and the omics splits only **confirm** it.

Captures are written one file per run under ``--captures`` (default
``~/.cache/insightome/estimators/``; outside the repository: they hold out-of-fold
predictions) and a rerun skips the runs already there. ``--summarize`` writes
``benchmarks/results/estimators.md`` and ``.json``::

    python benchmarks/estimators.py --source cohorts --reps 20 --workers 2   # development
    python benchmarks/estimators.py --source cohorts --first-rep 20 --reps 10   # confirmation
    python benchmarks/estimators.py --source omics --splits 6
    python benchmarks/estimators.py --summarize
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import math
import multiprocessing
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import omics_suite
from small_n_cohorts import COHORTS, REPO, draw

RESULTS_DIR = REPO / "benchmarks" / "results"
OMICS_DIR = REPO.parent / "shared" / "data" / "omics"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
DEFAULT_CAPTURES = CACHE_DIR / "insightome" / "estimators"
SIZES = (30, 50, 100)
OMICS = ("ALLAML", "GLIOMA", "Prostate_GE", "colon", "leukemia", "lymphoma")
MIN_CLASS_TOTAL = 4  # as benchmarks/omics_suite.py
N_BOOTSTRAP = 1000
LEVELS = (0.95, 0.90, 0.80)  # nominal levels of the intervals compared
MULTIPLES = (1.0, 0.9, 0.8, 0.75, 0.7, 0.65, 0.6)  # spreads of the 95% interval compared
CONFIRM_FROM_REP = 20  # cohort draws from here on confirm what the earlier ones chose
TARGET_COVERAGE = 0.90


# --------------------------------------------------------------------------------------
# capture: one insightome run, what BBC-CV saw, and the winner's score on unseen patients
# --------------------------------------------------------------------------------------
def _capture_stage(box: dict[str, Any]) -> Any:
    """A stage plugged in after ``estimate`` that keeps what every estimator needs."""
    from insightome.evaluate.bbc import fold_membership
    from insightome.stages import Stage

    def keep(state: Any) -> None:
        made, cv, plan = state.require("study"), state.require("cv"), state.require("plan")
        box.update(
            oof=np.asarray(cv.oof, dtype=float),
            y=np.asarray(made.y),
            folds=fold_membership(plan.splits, len(made.y)),
            thresholds=None if state.thresholds is None else np.asarray(state.thresholds),
            groups=None if made.groups is None else np.asarray(made.groups),
            winner=int(state.require("bbc").winner),
            task=made.spec.task,
            candidates=[c.name for c in state.require("candidates")],
        )

    return Stage("capture_for_estimators", keep, after="estimate", saved=False)


def _save(path: Path, box: dict[str, Any], meta: dict[str, Any]) -> None:
    arrays = {
        k: box[k] for k in ("oof", "y", "folds", "thresholds", "groups") if box.get(k) is not None
    }
    meta = {**meta, "winner": box["winner"], "task": box["task"], "candidates": box["candidates"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial.npz")
    np.savez_compressed(partial, meta=np.array(json.dumps(meta)), **arrays)
    partial.replace(path)


def capture_cohort(cohort_name: str, n: int, rep: int, captures: Path) -> str:
    """One small-n draw (the coverage study's draw for this cohort, n and replicate)."""
    import insightome
    from small_n import heldout_score

    path = captures / "cohorts" / f"{cohort_name}-n{n}-r{rep}.npz"
    if path.exists():
        return f"{path.name}: kept"
    cohort, data, seed, train, score = draw(cohort_name, n, rep)
    box: dict[str, Any] = {}
    start = time.process_time()
    run = insightome.run(
        data.adata[train].copy(), **cohort.options, preset="fast", seed=rep, n_jobs=1,
        out_dir=None, discover=False, audit=False, progress=False, stages=[_capture_stage(box)],
    )  # fmt: skip
    heldout, heldout_se = heldout_score(run, data.adata[score].copy(), cohort, 200, seed)
    est = run.results["estimate"]
    meta = {
        "source": "cohorts", "dataset": cohort_name, "n": n, "rep": rep, "preset": "fast",
        "heldout": heldout, "heldout_se": heldout_se, "n_scored": len(score),
        "run_estimate": float(est["value"]), "run_ci95": [float(v) for v in est["ci95"]],
        "cpu_seconds": time.process_time() - start,
    }  # fmt: skip
    _save(path, box, meta)
    return f"{path.name}: heldout {heldout:.3f}, estimate {meta['run_estimate']:.3f}"


def _omics_halves(labels: np.ndarray, split: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The omics suite's 50/50 stratified split (classes under 4 dropped when needed)."""
    from sklearn.model_selection import train_test_split

    keep, notes = np.ones(len(labels), dtype=bool), []
    for _ in range(2):
        idx = np.flatnonzero(keep)
        train, hold = train_test_split(idx, test_size=0.5, stratify=labels[idx], random_state=split)
        if np.unique(labels[train], return_counts=True)[1].min() >= 2 or not keep.all():
            return np.sort(train), np.sort(hold), notes
        values, counts = np.unique(labels, return_counts=True)
        keep = ~np.isin(labels, values[counts < MIN_CLASS_TOTAL])
        notes.append(f"dropped classes {values[counts < MIN_CLASS_TOTAL].tolist()}")
    raise AssertionError("unreachable")


def capture_omics(dataset: str, split: int, captures: Path) -> str:
    """One omics dataset x split: insightome's defaults on the training half, the refitted
    winner's AUC on the hold-out half (scored as benchmarks/omics_suite.py scores it)."""
    from sklearn.metrics import roc_auc_score

    import insightome
    from insightome.io import read

    path = captures / "omics" / f"{dataset}-s{split}.npz"
    if path.exists():
        return f"{path.name}: kept"
    adata = read(OMICS_DIR / f"{dataset}.mat")
    labels = np.array([omics_suite._label(v) for v in adata.obs["Y"]])
    train_idx, hold_idx, notes = _omics_halves(labels, split)
    box: dict[str, Any] = {}
    start = time.process_time()
    run = insightome.run(
        adata[train_idx].copy(), target="Y", preset="default", seed=0, n_jobs=1, out_dir=None,
        ensemble="off",  # the study compares estimators of the selection of one configuration
        discover=False, audit=False, progress=False, stages=[_capture_stage(box)],
    )  # fmt: skip
    hold = adata[hold_idx].copy()
    classes = [str(c) for c in run.results["outcome"]["classes"]]
    pred = insightome.predict(run, hold, log=False).loc[[str(s) for s in hold.obs_names]]
    y_hold = labels[hold_idx]
    learned = np.isin(y_hold, classes)
    probs = pred[[f"prob_{c}" for c in classes]].to_numpy(float)[learned]
    y_hold = y_hold[learned]
    if len(classes) == 2:
        heldout = float(roc_auc_score(y_hold == classes[1], probs[:, 1]))
    else:
        probs = probs / probs.sum(axis=1, keepdims=True)
        heldout = float(roc_auc_score(y_hold, probs, multi_class="ovr", labels=classes))
    est = run.results["estimate"]
    meta = {
        "source": "omics", "dataset": dataset, "n": len(train_idx), "rep": split,
        "preset": "default", "heldout": heldout, "heldout_se": None, "n_scored": len(y_hold),
        "run_estimate": float(est["value"]), "run_ci95": [float(v) for v in est["ci95"]],
        "cpu_seconds": time.process_time() - start, "notes": notes,
    }  # fmt: skip
    _save(path, box, meta)
    return f"{path.name}: heldout {heldout:.3f}, estimate {meta['run_estimate']:.3f}"


def _task(job: tuple[str, str, int, int, str]) -> str:
    import warnings

    warnings.filterwarnings("ignore")  # fits' warnings are counted in the run's notes
    source, name, n, rep, captures = job
    try:
        if source == "cohorts":
            return capture_cohort(name, n, rep, Path(captures))
        return capture_omics(name, rep, Path(captures))
    except Exception as exc:  # a run that stops is reported, the others go on
        return f"{source} {name} n={n} rep={rep}: FAILED {type(exc).__name__}: {exc}"[:300]


def capture(jobs: list[tuple[str, str, int, int, str]], workers: int) -> None:
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        for i, line in enumerate(pool.map(_task, jobs), 1):
            print(f"[{i}/{len(jobs)}] {line}", flush=True)


# --------------------------------------------------------------------------------------
# the estimators, on one captured run
# --------------------------------------------------------------------------------------
def tt_estimate(oof: np.ndarray, y: np.ndarray, folds: np.ndarray, task: str, winner: int) -> float:
    """Tibshirani & Tibshirani (2009): plain CV minus the mean over every fold of every
    repeat of (best candidate's metric on the fold - the winner's)."""
    from insightome.evaluate.bbc import cv_scores
    from insightome.evaluate.metrics import PRIMARY

    metric = PRIMARY[task]
    usable = ~np.isnan(oof).any(axis=(0, 2, 3))
    plain = float(np.nanmean(cv_scores(oof[:, [winner]], y, metric)))
    gaps = []
    for r in range(oof.shape[0]):
        for f in np.unique(folds[r]):
            W = (folds[r] == f).astype(float)[None, :]
            vals = np.array(
                [
                    metric.fn(y, oof[r, c], W)[0] if usable[c] else np.nan
                    for c in range(oof.shape[1])
                ]
            )
            if np.isfinite(vals[winner]):
                gaps.append(np.nanmax(vals) - vals[winner])
    return plain - float(np.mean(gaps)) if gaps else plain


def intervals_of(oob: np.ndarray, fraction: np.ndarray) -> dict[str, list[float]]:
    """The intervals read off one BBC-CV's out-of-bag scores: ``percentile`` and
    ``oob_scaled`` at every nominal level of :data:`LEVELS`, and the 95% percentile interval
    with the scores' spread around their mean multiplied by each of :data:`MULTIPLES`
    (``x0.80``: ``calibrated``), as ``bbc_cv(interval=...)`` reads them."""
    centre = float(np.nanmean(oob))
    out = {}
    variants = [("percentile", oob), ("oob_scaled", centre + (oob - centre) * np.sqrt(fraction))]
    for name, values in variants:
        for level in LEVELS:
            tail = (100 - round(100 * level)) / 2  # 2.5 exactly at 95% (as bbc_cv reads it)
            lo, hi = np.nanpercentile(values, [tail, 100 - tail])
            out[f"{name} {level:.0%}"] = [float(lo), float(hi)]
    for m in MULTIPLES:
        out[f"x{m:.2f} 95%"] = widened(oob, m)
    return out


def widened(oob: np.ndarray, multiple: float) -> list[float]:
    """The 95% percentile interval of the out-of-bag scores after multiplying their spread
    around their mean by ``multiple`` (1.0: the percentile interval; 0.8: ``calibrated``
    for ``all_repeats``)."""
    centre = float(np.nanmean(oob))
    lo, hi = np.nanpercentile(centre + (oob - centre) * multiple, [2.5, 97.5])
    return [float(lo), float(hi)]


def estimators_of(path: Path) -> dict[str, Any]:
    """Every estimator and interval on one captured run (``path``)."""
    from insightome.evaluate.bbc import bbc_cv

    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        oof, y, folds = z["oof"], z["y"], z["folds"]
        thresholds = z["thresholds"] if "thresholds" in z.files else None
        groups = z["groups"] if "groups" in z.files else None
    task, winner = meta["task"], meta["winner"]
    # the run's own seed (cohort draws ran with seed = draw number; omics with seed 0)
    seed = int(meta["rep"]) if meta["source"] == "cohorts" else 0
    common = dict(
        n_bootstrap=N_BOOTSTRAP, seed=seed, groups=groups, thresholds=thresholds, choice=winner
    )
    out: dict[str, Any] = {"meta": meta}
    for pooling in ("one_repeat", "all_repeats", "per_fold"):
        # per_fold chooses its own winner (by the mean within-fold metric); where it is not
        # the run's, its estimate is still compared with the run's winner's held-out score
        # (the only model refitted), and the row says so
        kwargs = {**common, "choice": None} if pooling == "per_fold" else common
        res = bbc_cv(oof, y, task, pooling=pooling, folds=folds, **kwargs)
        out[f"bbc_{pooling}"] = {
            "value": res.estimate.value,
            "intervals": intervals_of(res.oob_scores, res.oob_fraction),
            "same_winner": bool(res.winner == winner),
        }
        if pooling == "one_repeat":
            out["plain_cv"] = {"value": res.estimate.plain_cv_value}
    out["tt"] = {"value": tt_estimate(oof, y, folds, task, winner)}
    return out


# --------------------------------------------------------------------------------------
# summary
# --------------------------------------------------------------------------------------
def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def error_stats(errors: np.ndarray) -> dict[str, float]:
    errors = errors[np.isfinite(errors)]
    return {
        "runs": len(errors),
        "mean_error": float(errors.mean()),
        "mean_error_se": float(errors.std(ddof=1) / np.sqrt(len(errors))),
        "median_abs_error": float(np.median(np.abs(errors))),
        "mean_abs_error": float(np.abs(errors).mean()),
        "rmse": float(np.sqrt((errors**2).mean())),
    }


def interval_stats(lo: np.ndarray, hi: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    covers = (lo <= truth) & (truth <= hi)
    k, n = int(covers.sum()), len(covers)
    return {
        "runs": n,
        "coverage": k / n,
        "coverage_wilson": list(wilson(k, n)),
        "mean_width": float((hi - lo).mean()),
        "median_width": float(np.median(hi - lo)),
        "misses_above": int((lo > truth).sum()),
        "misses_below": int((hi < truth).sum()),
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per source x n (cohorts) or source (omics): errors of every estimator, coverage and
    width of every interval."""
    cells: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        m = row["meta"]
        if m["source"] == "cohorts":
            part = "development" if m["rep"] < CONFIRM_FROM_REP else "confirmation"
            cells.setdefault(f"cohorts, {part} draws, n = {m['n']}", []).append(row)
            cells.setdefault(f"cohorts, {part} draws, all n", []).append(row)
        else:
            cells.setdefault("omics suite datasets, 50/50 halves", []).append(row)
    names = [k for k in rows[0] if k != "meta"] if rows else []
    out: dict[str, Any] = {}
    for key, cell in cells.items():
        truth = np.array([r["meta"]["heldout"] for r in cell])
        entry: dict[str, Any] = {"runs": len(cell), "estimators": {}, "intervals": {}}
        for name in names:
            values = np.array([r[name]["value"] for r in cell])
            entry["estimators"][name] = error_stats(values - truth)
            if "same_winner" in cell[0][name]:
                same = sum(r[name]["same_winner"] for r in cell)
                entry["estimators"][name]["runs_with_the_runs_winner"] = same
            for interval in cell[0][name].get("intervals", {}):
                lo = np.array([r[name]["intervals"][interval][0] for r in cell])
                hi = np.array([r[name]["intervals"][interval][1] for r in cell])
                entry["intervals"][f"{name} {interval}"] = interval_stats(lo, hi, truth)
        out[key] = entry
    return out


def _f(x: float, nd: int = 3, signed: bool = False) -> str:
    if x is None or not np.isfinite(x):
        return "—"
    return f"{x:+.{nd}f}" if signed else f"{x:.{nd}f}"


def _cell_order(key: str) -> tuple[int, int, str]:
    part = 0 if "development" in key else 1 if "confirmation" in key else 2
    n = 0 if key.endswith("all n") else int(key.rsplit("= ", 1)[1]) if "n = " in key else 0
    return (part, n, key)


def narrowest(summary: dict[str, Any], pooling: str) -> str | None:
    """The smallest multiple of :data:`MULTIPLES` whose 95% interval covered >= 90% of the
    held-out scores at every n of the development draws (None: none did)."""
    cells = [k for k in summary if k.startswith("cohorts, development") and "all n" not in k]
    if not cells:
        return None
    for m in sorted(MULTIPLES):
        name = f"bbc_{pooling} x{m:.2f} 95%"
        if all(summary[k]["intervals"][name]["coverage"] >= TARGET_COVERAGE for k in cells):
            return name
    return None


def render(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    keys = sorted(summary, key=_cell_order)
    estimators = list(summary[keys[0]]["estimators"]) if keys else []
    everything = [k for k in keys if k.endswith("all n") or k.startswith("omics")]
    picked = {p: narrowest(summary, p) for p in ("one_repeat", "all_repeats", "per_fold")}
    chosen_multiples = ", ".join(
        f"{name.split(' ')[-2] if name else 'none of the multiples'} for {p}"
        for p, name in picked.items()
    )
    per_fold_same = ", ".join(
        f"{summary[k]['estimators']['bbc_per_fold']['runs_with_the_runs_winner']} of "
        f"{summary[k]['runs']} ({k})"
        for k in everything
    )
    lines = [
        "# Which estimate, which interval? (BBC-CV variants against held-out scores)",
        "",
        f"- Command: `{meta['command']}`",
        f"- Date: {meta['date']}; machine: {meta['machine']}",
        f"- Captured runs: {meta['runs']} ({meta['by_source']})",
        "",
        "Each captured run is an insightome run on a training sample (discovery and audit off);"
        " its refitted winner is scored on patients it never saw (**held-out**). Every"
        " estimator is computed from the same run's out-of-fold predictions, for the run's"
        " winner (`bbc_per_fold`: its own, below), with the run's own 1,000 bootstraps (its seed);"
        " **error** = estimate − held-out."
        " Cohort draws 0–19 per cohort × n chose the interval (**development**); draws 20–29"
        " and the omics splits only **confirm** it. The estimators and intervals are defined"
        " in the docstring of `benchmarks/estimators.py`; `bbc_one_repeat` with the"
        " `percentile 95%` interval is insightome's BBC-CV as it was run.",
        "",
        "## Errors of the estimates",
        "",
        "Mean error ± its SE / median |error| per cell. `bbc_per_fold` chooses its own"
        " winner (the best mean within-fold score); it chose the run's winner in"
        f" {per_fold_same} of the runs, and is compared with that winner's held-out score in"
        " all of them.",
        "",
        "| cell | runs | " + " | ".join(estimators) + " |",
        "|---|---|" + "---|" * len(estimators),
    ]
    for key in keys:
        e = summary[key]["estimators"]
        cols = [
            f"{_f(e[k]['mean_error'], signed=True)} ± {_f(e[k]['mean_error_se'])} / "
            f"{_f(e[k]['median_abs_error'])}"
            for k in estimators
        ]
        lines.append(f"| {key} | {summary[key]['runs']} | " + " | ".join(cols) + " |")
    lines += [
        "",
        "## 95% intervals: coverage and mean width",
        "",
        "Coverage of the held-out score (mean width). `percentile`: the out-of-bag scores'"
        " 2.5th–97.5th percentiles; `xM`: the same after multiplying the scores' spread around"
        " their mean by M (`--bbc-interval calibrated` is the narrowest M that kept ≥ 90% at"
        f" every n of the development draws: {chosen_multiples}; {min(MULTIPLES):.2f} is the"
        " smallest M tried); `oob_scaled`: by the square root of each bootstrap's out-of-bag"
        " fraction.",
        "",
    ]
    shown = ["percentile 95%", *(f"x{m:.2f} 95%" for m in MULTIPLES[1:]), "oob_scaled 95%"]
    for pooling in ("one_repeat", "all_repeats", "per_fold"):
        lines += [
            f"### bbc_{pooling}",
            "",
            "| cell | " + " | ".join(shown) + " |",
            "|---|" + "---|" * len(shown),
        ]
        for key in keys:
            iv = summary[key]["intervals"]
            picked = [iv[f"bbc_{pooling} {s}"] for s in shown]
            cols = [f"{c['coverage']:.1%} ({_f(c['mean_width'], 2)})" for c in picked]
            lines.append(f"| {key} | " + " | ".join(cols) + " |")
        lines.append("")
    lines += ["## The narrowest 95% interval that kept coverage >= 90% at every n", ""]
    for pooling in ("one_repeat", "all_repeats", "per_fold"):
        name = narrowest(summary, pooling)
        if name is None:
            lines.append(f"- bbc_{pooling}: none of the multiples")
            continue
        checks = []
        for key in keys:
            if "development" in key:
                continue
            s_ = summary[key]["intervals"][name]
            lo, hi = s_["coverage_wilson"]
            cover = f"{s_['coverage']:.1%} (Wilson {lo:.1%}–{hi:.1%})"
            checks.append(f"{key}: {cover}, width {_f(s_['mean_width'])}")
        lines.append(
            f"- bbc_{pooling}: `{name.split(' ', 1)[1]}` on the development draws; confirmed on "
            + ("; ".join(checks) or "no confirmation runs yet")
        )
    return "\n".join(lines) + "\n"


def _rounded(value: Any) -> Any:
    """The per-run rows with floats to 6 decimals (the summary is computed unrounded)."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("cohorts", "omics"), action="append")
    parser.add_argument("--reps", type=int, default=20, help="draws per cohort x n")
    parser.add_argument("--first-rep", type=int, default=0, help="the first draw's number")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--cohorts", default=",".join(COHORTS))
    parser.add_argument("--datasets", default=",".join(OMICS))
    parser.add_argument("--splits", type=int, default=10, help="omics splits per dataset")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--captures", type=Path, default=DEFAULT_CAPTURES)
    parser.add_argument("--summarize", action="store_true")
    args = parser.parse_args(argv)
    jobs: list[tuple[str, str, int, int, str]] = []
    for source in args.source or []:
        if source == "cohorts":
            sizes = [int(s) for s in args.sizes.split(",")]
            jobs += [
                ("cohorts", c, n, rep, str(args.captures))
                for rep in range(args.first_rep, args.first_rep + args.reps)
                for n in sizes for c in args.cohorts.split(",")
            ]  # fmt: skip
        else:
            jobs += [
                ("omics", d, 0, s, str(args.captures))
                for s in range(args.splits) for d in args.datasets.split(",")
            ]  # fmt: skip
    if jobs:
        capture(jobs, args.workers)
    if not args.summarize:
        return 0
    paths = sorted(args.captures.glob("*/*.npz"))
    with cf.ProcessPoolExecutor(
        args.workers, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        rows = list(pool.map(estimators_of, paths))
    summary = summarize(rows)
    by_source: dict[str, int] = {}
    for r in rows:
        by_source[r["meta"]["source"]] = by_source.get(r["meta"]["source"], 0) + 1
    meta = {
        "command": "python benchmarks/estimators.py " + " ".join(argv or sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "runs": len(rows),
        "by_source": ", ".join(f"{k}: {v}" for k, v in sorted(by_source.items())),
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "estimators.json").write_text(
        json.dumps(
            {"meta": meta, "summary": summary, "runs": _rounded(rows)}, separators=(",", ":")
        )
        + "\n"
    )
    (RESULTS_DIR / "estimators.md").write_text(render(summary, meta))
    print(f"wrote {RESULTS_DIR / 'estimators.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
