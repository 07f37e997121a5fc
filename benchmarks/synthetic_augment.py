"""Augmentation benchmark (issue 20): does training on real + synthetic rows help at small n?

Settings: ACTG 175 (lifelines; target ``cens``, the small-n study's cohort) at n = 50 and
n = 350, and the UCI heart-failure cohort (target ``DEATH_EVENT``; ``time``, the follow-up
period, left out: it is measured after baseline and leaks the outcome) at n = 50. For each
of R repeats a seeded subsample of n patients is drawn, stratified by outcome
(``small_n_cohorts.draw_subsample``); the rest of the cohort is the real held-out test.

On each draw, ``insightome.run`` runs once per synthesizer (``--augment cart``, ``--augment
copula``; preset ``fast``, ratio 1): its candidates are the preset's, each with an augmented
twin. Its augmentation comparison names the best real-only candidate (by mean CV AUC: the
one ``--augment off`` would choose, since the real-only candidates' folds, seeds and
predictions are the same) and the best augmented one; the run's winner is what ``--augment``
itself deploys. Each of these three is fitted on the n training patients (the winner is the
run's own refit) and scored on the held-out patients: AUC, Brier score and calibration
slope. Per setting and synthesizer the summary gives the mean of each arm and the paired
differences against the real-only arm (mean over repeats with a t 95% interval), and which
default the numbers support.

Every finished draw is appended at once as one JSON line to the runs file (default
``~/.cache/insightome/synthetic_augment.jsonl``); a rerun skips the draws already there or
among the compact runs of ``benchmarks/results/synthetic.json``::

    python benchmarks/synthetic_augment.py                    # the full plan (16 repeats)
    python benchmarks/synthetic_augment.py --repeats 2        # a smoke run (PARTIAL)
    python benchmarks/synthetic_augment.py --summarize        # write synthetic.md / .json
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from small_n import _cpu, append_run, read_runs, source_state
from small_n_cohorts import COHORTS, COHORTS_DIR, REPO, CohortData, draw_seed, draw_subsample

RESULTS_DIR = REPO / "benchmarks" / "results"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
DEFAULT_RUNS = CACHE_DIR / "insightome" / "synthetic_augment.jsonl"
HEART_FAILURE = COHORTS_DIR / "heart_failure" / "heart_failure_clinical_records_dataset.csv"
SETTINGS = (("actg175", 50), ("actg175", 350), ("heart_failure", 50))
METHODS = ("cart", "copula")
ARMS = ("real_only", "augmented", "selected")  # best real-only, best augmented, the winner
METRICS = ("auc", "brier", "calibration_slope")
REPEATS = 16  # ~50 CPU-s per draw (measured): 3 settings x 16 = ~40 CPU-min
N_BOOTSTRAP = 500  # BBC-CV's and the comparison's bootstraps in each run
OPTIONS = {
    "actg175": {"target": "cens", "task": "binary"},
    "heart_failure": {"target": "DEATH_EVENT", "task": "binary"},
}
SOURCES = {"actg175": COHORTS["actg175"].source, "heart_failure": HEART_FAILURE}


# --------------------------------------------------------------------------------------
# the cohorts, read as insightome reads a file
# --------------------------------------------------------------------------------------
def _frame(name: str) -> pd.DataFrame:
    if name == "actg175":
        return COHORTS["actg175"].load()
    frame = pd.read_csv(HEART_FAILURE).drop(columns=["time"])  # follow-up: leaks the outcome
    frame.index = pd.Index([f"hf{i:03d}" for i in range(len(frame))])
    return frame


@cache
def cohort_data(name: str) -> CohortData:
    """The cohort through insightome's own reader (a table written once to a temp file)."""
    from insightome.io import read

    frame = _frame(name)
    frame.index.name = "patient_id"
    folder = Path(tempfile.gettempdir()) / "insightome_synthetic_augment"
    folder.mkdir(exist_ok=True)
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame).to_numpy().tobytes()).hexdigest()
    path = folder / f"{name}-{digest[:12]}.csv"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        frame.to_csv(partial)
        partial.replace(path)
    target = OPTIONS[name]["target"]
    adata = read(path, id_column="patient_id", keep_in_obs=[target])
    strata = adata.obs[target].to_numpy(int)
    return CohortData(adata, strata, np.asarray(adata.obs_names, dtype=str))


# --------------------------------------------------------------------------------------
# one draw
# --------------------------------------------------------------------------------------
def heldout_metrics(prob: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """AUC, Brier score and calibration slope of predicted risks on held-out patients
    (insightome's own metric functions)."""
    from insightome.audit.augmentation import calibration_slope
    from insightome.evaluate.metrics import auc, brier

    pred, ones = prob.reshape(-1, 1), np.ones((1, len(y)))
    return {
        "auc": float(auc(y, pred, ones)[0]),
        "brier": float(brier(y, pred, ones)[0]),
        "calibration_slope": float(calibration_slope(y, pred, ones)[0]),
    }


def _arm_model(run: Any, name: str, train: Any, cohort: str, seed: int) -> Any:
    """The configuration ``name`` of ``run`` fitted on all its training samples: the run's
    own refit when it is the winner, else fitted as the run's refit stage fits."""
    from insightome.followup import candidate_from
    from insightome.study import make_study

    if name == run.results["winner"]["name"]:
        return run.model
    entry = next(c for c in run.results["configurations"] if c["name"] == name)
    made = make_study(train, **{k: v for k, v in OPTIONS[cohort].items()})
    candidate = candidate_from(entry, run.results["task"])
    return candidate.build(made.features, seed).fit(made.features, made.y)


def run_one(cohort: str, n: int, rep: int) -> dict[str, Any]:
    """Draw one subsample; per synthesizer, one ``--augment`` run on it and its three arms
    scored on every remaining patient."""
    import insightome

    data = cohort_data(cohort)
    seed = draw_seed(f"augment:{cohort}", n, rep)
    train_idx, score_idx = draw_subsample(data.strata, data.groups, n, np.random.default_rng(seed))
    train, scoring = data.adata[train_idx].copy(), data.adata[score_idx].copy()
    row: dict[str, Any] = {
        "cohort": cohort, "n": n, "rep": rep, "draw_seed": seed,
        "n_scored": len(score_idx), "train_events": int(data.strata[train_idx].sum()),
    }  # fmt: skip
    cpu0, wall0 = _cpu(), time.perf_counter()
    target = OPTIONS[cohort]["target"]
    try:
        for method in METHODS:
            run = insightome.run(
                train, **OPTIONS[cohort], preset="fast", augment=method, seed=rep, n_jobs=1,
                n_bootstrap=N_BOOTSTRAP, out_dir=None, discover=False, audit=False,
                progress=False,
            )  # fmt: skip
            aug = run.results["augmentation"]
            positive = run.results["outcome"]["positive_class"]
            y = (scoring.obs[target].astype(str).to_numpy() == str(positive)).astype(int)
            names = {
                "real_only": aug["real_only"]["name"],
                "augmented": aug["augmented"]["name"],
                "selected": run.results["winner"]["name"],
            }
            arms = {}
            for arm, name in names.items():
                model = _arm_model(run, name, train, cohort, rep)
                pred = insightome.predict(dataclasses.replace(run, model=model), scoring, log=False)
                prob = pred.loc[[str(s) for s in scoring.obs_names], f"prob_{positive}"]
                arms[arm] = {"name": name, **heldout_metrics(prob.to_numpy(float), y)}
            row[method] = {
                "arms": arms,
                "bbc_estimate": float(run.results["estimate"]["value"]),
                "winner_augmented": bool(aug["winner_augmented"]),
                "cv_verdict": aug["verdict"],
                "cv_metrics": {m["metric"]: m["finding"] for m in aug["metrics"]},
            }
    except Exception as exc:  # a draw that stops is a result of the study, not hidden
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        row["error"] = f"{type(exc).__name__}: {message}"[:500]
    row.update(cpu_seconds=_cpu() - cpu0, wall_seconds=time.perf_counter() - wall0)
    return row


def _run_task(task: tuple[str, int, int]) -> dict[str, Any]:
    """One draw; the warnings raised outside the fits (the engine counts the fits' own in
    each run's notes) are recorded in the draw's row, category and message, with counts."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        row = run_one(*task)
    counts: dict[str, int] = {}
    for w in caught:
        key = f"{w.category.__name__}: {str(w.message).splitlines()[0][:120]}"
        counts[key] = counts.get(key, 0) + 1
    return {**row, "warnings": counts}


# --------------------------------------------------------------------------------------
# the plan and its execution (resumable)
# --------------------------------------------------------------------------------------
def make_plan(repeats: int) -> list[tuple[str, int, int]]:
    """Replicate-major: every setting gets its k-th draw before any gets its k+1-th."""
    return [(c, n, rep) for rep in range(repeats) for c, n in SETTINGS if SOURCES[c].exists()]


def gather_runs(runs: Path, results: Path) -> list[dict[str, Any]]:
    """The runs file's draws, then the results JSON's that the runs file lacks."""
    rows = read_runs(runs)
    seen = {(r["cohort"], r["n"], r["rep"]) for r in rows}
    try:
        stored = json.loads(results.read_text()).get("runs", [])
    except (OSError, json.JSONDecodeError, AttributeError):
        stored = []
    rows += [r for r in stored if (r["cohort"], r["n"], r["rep"]) not in seen]
    return rows


def execute(plan: list[tuple[str, int, int]], runs: Path, results: Path, workers: int) -> None:
    done = {(r["cohort"], r["n"], r["rep"]) for r in gather_runs(runs, results)}
    todo = [t for t in plan if t not in done]
    print(f"{len(plan) - len(todo)} of {len(plan)} draws done; {len(todo)} to go", flush=True)
    if not todo:
        return
    source = source_state()
    runs.parent.mkdir(parents=True, exist_ok=True)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"  # one core per run: workers are the parallelism
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = {pool.submit(_run_task, t): t for t in todo}
        for k, fut in enumerate(cf.as_completed(futures), 1):
            row = {**fut.result(), "commit": source["commit"],
                   "src_dirty": bool(source["src_modified"])}  # fmt: skip
            append_run(runs, row)
            c, n, rep = futures[fut]
            status = row.get("error") or ", ".join(
                f"{m}: AUC real {row[m]['arms']['real_only']['auc']:.3f} "
                f"aug {row[m]['arms']['augmented']['auc']:.3f}"
                for m in METHODS
            )
            print(f"[{k}/{len(todo)}] {c} n={n} rep={rep}: {status} "
                  f"({row['cpu_seconds']:.0f} CPU-s)", flush=True)  # fmt: skip


# --------------------------------------------------------------------------------------
# the summary
# --------------------------------------------------------------------------------------
def paired(values: list[float]) -> dict[str, Any]:
    """Mean of paired differences over repeats with a t 95% interval (None below 2)."""
    x = np.asarray([v for v in values if v == v], dtype=float)
    out: dict[str, Any] = {"n": len(x), "mean": float(x.mean()) if len(x) else None}
    if len(x) >= 2:
        half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
        out["ci95"] = [float(x.mean() - half), float(x.mean() + half)]
    else:
        out["ci95"] = None
    return out


def finding(metric: str, diff: dict[str, Any], real: list[float], other: list[float]) -> str:
    """better / worse / no evidence: the interval of the difference (for the slope, of the
    change in |slope - 1|) excludes 0."""
    ci = diff["ci95"]
    if metric == "calibration_slope":
        ci = paired([abs(o - 1) - abs(r - 1) for r, o in zip(real, other, strict=True)])["ci95"]
        better_if_low = True
    else:
        better_if_low = metric == "brier"
    if ci is None:
        return "too few repeats"
    if (ci[1] < 0) if better_if_low else (ci[0] > 0):
        return "better"
    if (ci[0] > 0) if better_if_low else (ci[1] < 0):
        return "worse"
    return "no evidence"


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    cells = []
    for cohort, n in SETTINGS:
        done = [r for r in rows if r["cohort"] == cohort and r["n"] == n and "error" not in r]
        errors = [r for r in rows if r["cohort"] == cohort and r["n"] == n and "error" in r]
        for method in METHODS:
            arms = {a: {m: [r[method]["arms"][a][m] for r in done] for m in METRICS} for a in ARMS}
            cell: dict[str, Any] = {
                "cohort": cohort, "n": n, "method": method, "repeats": len(done),
                "errors": len(errors),
                "means": {a: {m: _mean(v) for m, v in arms[a].items()} for a in ARMS},
                "winner_augmented": sum(r[method]["winner_augmented"] for r in done),
            }  # fmt: skip
            for arm in ("augmented", "selected"):
                cell[f"{arm}_minus_real"] = {}
                for m in METRICS:
                    real, other = arms["real_only"][m], arms[arm][m]
                    diff = paired([o - r for r, o in zip(real, other, strict=True)])
                    diff["finding"] = finding(m, diff, real, other)
                    cell[f"{arm}_minus_real"][m] = diff
            cells.append(cell)
    return {"cells": cells, "default": choose_default(cells)}


def _mean(values: list[float]) -> float | None:
    x = [v for v in values if v == v]
    return float(np.mean(x)) if x else None


def choose_default(cells: list[dict[str, Any]]) -> dict[str, str]:
    """``--augment M`` becomes the default only if, at every setting, turning it on
    (the run's winner against the real-only choice) gave a better held-out AUC and no worse
    Brier score or calibration slope; otherwise ``off``."""
    for method in METHODS:
        mine = [c for c in cells if c["method"] == method]
        if mine and all(
            c["selected_minus_real"]["auc"]["finding"] == "better"
            and all(c["selected_minus_real"][m]["finding"] != "worse" for m in METRICS)
            for c in mine
        ):
            return {"augment": method, "why": f"--augment {method} helped at every setting"}
    return {
        "augment": "off",
        "why": "at no synthesizer did --augment give a better held-out AUC without a worse "
        "Brier score or calibration slope at every setting",
    }


def _fmt(x: Any, spec: str = ".3f") -> str:
    return "–" if x is None or x != x else format(x, spec)


def render(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        "# Augmentation with synthetic rows: real-only vs real + synthetic training",
        "",
        f"{'**PARTIAL** — ' if meta['partial'] else ''}{meta['draws']} draws "
        f"({meta['repeats_done']} of {meta['repeats_planned']} repeats per setting); "
        f"{meta['cpu_hours']:.2f} CPU-hours; commit {meta['commits']}; written {meta['written']}.",
        "",
        "Made by `benchmarks/synthetic_augment.py` (its docstring holds the method). Per draw: "
        "a stratified subsample of n patients trains, every other patient of the cohort is the "
        "held-out test. `insightome run --augment M --preset fast` (ratio 1) on the subsample; "
        "three arms scored on the held-out patients: **real-only** (the best real-only "
        "candidate by CV, what `--augment off` chooses), **augmented** (the best augmented "
        "twin), **selected** (the run's winner, what `--augment M` deploys). Differences are "
        "arm minus real-only, mean over repeats with a t 95% interval; a finding is 'better' "
        "or 'worse' only when that interval excludes 0 (calibration slope: the change in "
        "|slope − 1|).",
        "",
        "| cohort | n | synthesizer | repeats | held-out AUC real / aug / selected | "
        "AUC: aug − real | AUC: selected − real | Brier: selected − real | "
        "slope real / selected | slope finding | winner augmented |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in summary["cells"]:
        m, sel, aug = c["means"], c["selected_minus_real"], c["augmented_minus_real"]

        def diff(d: dict[str, Any]) -> str:
            ci = d["ci95"]
            shown = _fmt(d["mean"], "+.3f")
            return shown + (f" ({_fmt(ci[0], '+.3f')}, {_fmt(ci[1], '+.3f')})" if ci else "")

        lines.append(
            f"| {c['cohort']} | {c['n']} | {c['method']} | {c['repeats']} | "
            f"{_fmt(m['real_only']['auc'])} / {_fmt(m['augmented']['auc'])} / "
            f"{_fmt(m['selected']['auc'])} | {diff(aug['auc'])} {aug['auc']['finding']} | "
            f"{diff(sel['auc'])} {sel['auc']['finding']} | {diff(sel['brier'])} "
            f"{sel['brier']['finding']} | {_fmt(m['real_only']['calibration_slope'], '.2f')} / "
            f"{_fmt(m['selected']['calibration_slope'], '.2f')} | "
            f"{sel['calibration_slope']['finding']} | {c['winner_augmented']} of {c['repeats']} |"
        )
    default = summary["default"]
    unsettled = " With this few repeats the intervals cannot settle it: the full run decides."
    lines += [
        "",
        f"**Default supported by these numbers: `--augment {default['augment']}`** — "
        f"{default['why']}." + (unsettled if meta["partial"] else ""),
        "",
        _warnings_line(meta),
        "",
    ]
    return "\n".join(lines)


def _warning_totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Warnings raised outside the fits, summed over the draws that recorded them."""
    totals: dict[str, int] = {}
    for r in rows:
        for key, count in (r.get("warnings") or {}).items():
            totals[key] = totals.get(key, 0) + count
    return totals


def _warnings_line(meta: dict[str, Any]) -> str:
    """What the draws recorded of the warnings raised outside the fits (each run counts its
    fits' own warnings in its notes)."""
    recorded, total = meta.get("warnings_recorded", 0), meta["draws"]
    if recorded == 0:
        return (
            f"Warnings raised outside the fits were not recorded for these {total} draws (the "
            "script silenced them then; it now records them per draw). The fits' own warnings "
            "are counted by each run."
        )
    found = meta.get("warnings") or {}
    shown = "; ".join(f"{k} ({v})" for k, v in sorted(found.items())) or "none"
    return f"Warnings outside the fits, recorded for {recorded} of {total} draws: {shown}."


def write_outputs(rows: list[dict[str, Any]], repeats: int) -> None:
    """synthetic.md and .json; PARTIAL below the full plan's repeats, whatever was asked."""
    repeats = max(repeats, REPEATS)
    summary = summarize(rows)
    done = min((c["repeats"] for c in summary["cells"]), default=0)
    commits = sorted({f"{r.get('commit', '?')[:10]}{'+dirty' if r.get('src_dirty') else ''}"
                      for r in rows})  # fmt: skip
    meta = {
        "partial": done < repeats,
        "draws": len(rows),
        "repeats_done": done,
        "repeats_planned": repeats,
        "cpu_hours": sum(r["cpu_seconds"] for r in rows) / 3600,
        "commits": ", ".join(commits),
        "written": datetime.now(UTC).strftime("%Y-%m-%d"),
        "warnings_recorded": sum("warnings" in r for r in rows),
        "warnings": _warning_totals(rows),
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "synthetic.json").write_text(
        json.dumps({"meta": meta, "summary": summary, "runs": rows}, indent=1) + "\n"
    )
    (RESULTS_DIR / "synthetic.md").write_text(render(summary, meta))
    print(f"wrote {RESULTS_DIR / 'synthetic.md'} ({'PARTIAL' if meta['partial'] else 'full'})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=Path, default=DEFAULT_RUNS)
    parser.add_argument("--summarize", action="store_true", help="only write the summary")
    args = parser.parse_args(argv)
    results = RESULTS_DIR / "synthetic.json"
    missing = [c for c, path in SOURCES.items() if not path.exists()]
    for c in missing:
        print(f"skipped {c}: {SOURCES[c]} not found", file=sys.stderr)
    if not args.summarize:
        execute(make_plan(args.repeats), args.runs, results, args.workers)
    write_outputs(gather_runs(args.runs, results), args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
