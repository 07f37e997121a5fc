"""Omics benchmark suite: is insightome's BBC-CV estimate honest on real omics data?

The protocol follows JADBio's evaluation (Tsamardinos et al. 2022, "Just Add Data"): each
dataset is split 50/50 (stratified) into a training half and a hold-out half; insightome
runs on the training half with its defaults, and the BBC-CV estimate of the winner's AUC is
compared with the winner's AUC on the untouched hold-out half. The bias of the estimate
(estimate - hold-out) should be close to zero, while the winner's plain cross-validated AUC
is optimistic (it was the maximum over ~10 configurations).

Every dataset x split runs in a fresh subprocess (this script re-invoked with ``--one``) so
that wall time and peak memory are per run. Results go to ``benchmarks/results/omics_suite.md``
(+ ``.json``). Usage::

    python benchmarks/omics_suite.py                      # all six datasets, 2 splits
    python benchmarks/omics_suite.py --datasets colon,ALLAML --splits 1
    python benchmarks/omics_suite.py --quick              # smoke test (preset fast, 1 repeat)
    python benchmarks/omics_suite.py --results-dir DIR    # also keep every run's results

``--results-dir DIR`` saves every run's results (results.json, model card, out-of-fold and
hold-out predictions, hypotheses, documents) under ``DIR/<dataset>/split<k>/``
(``result_trees.py``), for ``benchmarks/diff_results.py`` to compare two versions of the code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data" / "omics"
RESULTS_DIR = REPO / "benchmarks" / "results"
DATASETS = ("ALLAML", "GLIOMA", "Prostate_GE", "colon", "leukemia", "lymphoma")
TARGET = "Y"
FOLDS, REPEATS, N_BOOTSTRAP = 5, 3, 1000  # insightome's defaults
MIN_CLASS_TOTAL = 4  # classes smaller than this (whole dataset) are dropped if needed
RESULT_MARKER = "OMICS_SUITE_RESULT "
PACKAGES = ("insightome", "numpy", "scikit-learn", "xgboost-cpu", "lifelines", "anndata", "joblib")
TARGET_BIAS, TARGET_AUC, TARGET_SECONDS = 0.03, 0.90, 300.0


# --------------------------------------------------------------------------------------
# memory: peak RSS of this process tree (main process + joblib/loky workers)
# --------------------------------------------------------------------------------------
class TreeRSSSampler:
    """Sample the summed RSS of this process and all its descendants every ``interval`` s.

    The sum counts shared pages (libraries) once per process, so it is an upper bound of
    the physical memory the run needs; it catches the workers while they are alive, which
    ``RUSAGE_CHILDREN`` (terminated children only, largest single one) cannot.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE")

    def __enter__(self) -> TreeRSSSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        parents: dict[int, int] = {}
        rss: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid = int(entry.name)
            parents[pid] = int(fields[1])  # ppid (field 4 of stat)
            rss[pid] = int(fields[21]) * self._page  # rss in pages (field 24 of stat)
        root = os.getpid()
        tree, frontier = {root}, [root]
        children: dict[int, list[int]] = {}
        for pid, ppid in parents.items():
            children.setdefault(ppid, []).append(pid)
        while frontier:
            for child in children.get(frontier.pop(), []):
                if child not in tree:
                    tree.add(child)
                    frontier.append(child)
        self.peak_bytes = max(self.peak_bytes, sum(rss.get(p, 0) for p in tree))


def _shutdown_joblib_workers() -> None:
    """Stop loky's reusable worker pool so its workers count in RUSAGE_CHILDREN."""
    try:
        from joblib.externals.loky import reusable_executor

        executor = getattr(reusable_executor, "_executor", None)
        if executor is not None:
            executor.shutdown(wait=True)
    except Exception:  # pragma: no cover - best effort; memory is also sampled
        pass


# --------------------------------------------------------------------------------------
# one dataset x split (runs in a fresh subprocess)
# --------------------------------------------------------------------------------------
def _label(v: object) -> str:
    """Class label as insightome writes it (integral floats without '.0')."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    try:
        import numpy as np

        if isinstance(v, np.floating) and float(v).is_integer():
            return str(int(v))
    except ImportError:  # pragma: no cover
        pass
    return str(v)


def stage_cpu(results: dict[str, Any]) -> dict[str, float]:
    """CPU seconds of each stage of a run, by its energy ledger (its process tree)."""
    stages = results.get("compute", {}).get("stages") or {}
    return {name: float(stage["cpu_s"]) for name, stage in stages.items()}


def run_one(
    dataset: str, split: int, *, quick: bool, n_jobs: int, results_dir: Path | None = None
) -> dict[str, Any]:
    import numpy as np
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    import insightome
    from insightome.io import read

    t0 = time.perf_counter()
    notes: list[str] = []
    adata = read(DATA_DIR / f"{dataset}.mat")
    n_total, p = adata.shape
    labels = np.array([_label(v) for v in adata.obs[TARGET]])
    all_classes = sorted(set(labels.tolist()))

    def split_halves(keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.flatnonzero(keep)
        train, hold = train_test_split(idx, test_size=0.5, stratify=labels[idx], random_state=split)
        return np.sort(train), np.sort(hold)

    keep = np.ones(n_total, dtype=bool)
    train_idx, hold_idx = split_halves(keep)
    _, train_counts = np.unique(labels[train_idx], return_counts=True)
    if train_counts.min() < 2:
        values, counts = np.unique(labels, return_counts=True)
        rare = values[counts < MIN_CLASS_TOTAL]
        rare_counts = counts[counts < MIN_CLASS_TOTAL]
        small = [f"{v} (n={c})" for v, c in zip(rare, rare_counts, strict=True)]
        keep = ~np.isin(labels, rare)
        notes.append(
            f"dropped class(es) {', '.join(small)} (< {MIN_CLASS_TOTAL} samples in the whole "
            f"dataset; < 2 in a training half) before splitting: {int((~keep).sum())} samples "
            "removed"
        )
        train_idx, hold_idx = split_halves(keep)
    train, hold = adata[train_idx].copy(), adata[hold_idx].copy()

    options: dict[str, Any] = {
        "target": TARGET,
        "repeats": 1 if quick else REPEATS,
        "n_bootstrap": N_BOOTSTRAP,
        "preset": "fast" if quick else "default",
        "seed": 0,
        "n_jobs": n_jobs,
        "out_dir": None,
    }  # no --folds: insightome's default (5, fewer when the smallest class asks)
    t_fit = time.perf_counter()
    run = insightome.run(train, **options)
    fit_seconds = time.perf_counter() - t_fit

    res = run.results
    task = res["task"]
    classes: list[str] = list(res["outcome"]["classes"])
    folds = int(res["resampling"]["folds"])
    if folds != FOLDS:
        reason = res["resampling"]["fold_choice"]["reason"]
        notes.append(f"insightome chose {folds}-fold CV: {reason}")
    left_out = res["outcome"].get("classes_left_out") or []
    if left_out:
        listed = ", ".join(f"{c['label']} (n={c['n_samples']})" for c in left_out)
        notes.append(f"insightome left out class(es) {listed} of the training half (too small)")
    predict = insightome.predict
    if not callable(predict):  # older src: submodule ``insightome.predict`` shadowed the function
        predict = predict.predict
    pred = predict(run, hold)
    pred = pred.loc[[str(s) for s in hold.obs_names]]
    y_hold = np.array([_label(v) for v in hold.obs[TARGET]])
    learned = np.isin(y_hold, classes)
    if not learned.all():
        notes.append(
            f"{int((~learned).sum())} hold-out sample(s) of the left-out class(es) not scored "
            "(the model cannot predict a class it never learned)"
        )
        pred, y_hold = pred[learned], y_hold[learned]
    probs = pred[[f"prob_{c}" for c in classes]].to_numpy(float)
    if task == "binary":
        holdout_auc = float(roc_auc_score(y_hold == classes[1], probs[:, 1]))
    elif task == "multiclass":
        row_sums = probs.sum(axis=1)
        if not np.allclose(row_sums, 1.0, atol=1e-6):
            notes.append(
                f"predicted probabilities do not sum to 1 (range {row_sums.min():.4f}-"
                f"{row_sums.max():.4f}); renormalized for roc_auc_score"
            )
            probs = probs / row_sums[:, None]
        holdout_auc = float(
            roc_auc_score(y_hold, probs, multi_class="ovr", average="macro", labels=classes)
        )
    else:
        raise RuntimeError(f"{dataset}: insightome detected task {task!r}, expected classification")
    holdout_accuracy = float(np.mean(pred["predicted_class"].to_numpy(str) == y_hold))
    if results_dir is not None:
        from result_trees import save_run

        save_run(
            run,
            results_dir / dataset / f"split{split}",
            extra_tables={"holdout_predictions.csv": pred},
        )

    est = res["estimate"]
    failed = {c["name"]: c["failed_folds"] for c in res["configurations"] if c["failed_folds"]}
    if failed:
        notes.append("failed folds: " + ", ".join(f"{k}: {v}" for k, v in failed.items()))
    return {
        "dataset": dataset,
        "split": split,
        "seed": split,
        "n": int(n_total),
        "n_used": int(keep.sum()),
        "n_train": len(train_idx),
        "n_holdout": len(hold_idx),
        "p": int(p),
        "p_used": int(res["n_features"]),
        "n_classes": len(all_classes),
        "classes_used": classes,
        "class_counts_train": res["outcome"]["class_counts"],
        "task": task,
        "folds": folds,
        "repeats": options["repeats"],
        "preset": options["preset"],
        "winner": res["winner"]["name"],
        "metric": est["metric"],
        "bbc_estimate": float(est["value"]),
        "bbc_ci95": [float(x) for x in est["ci95"]],
        "plain_cv": float(est["plain_cv_value"]),
        "holdout_auc": holdout_auc,
        "holdout_accuracy": holdout_accuracy,
        "bias": float(est["value"]) - holdout_auc,
        "plain_cv_optimism": float(est["plain_cv_value"]) - holdout_auc,
        "ci_covers_holdout": bool(est["ci95"][0] <= holdout_auc <= est["ci95"][1]),
        "stage_cpu_s": stage_cpu(res),
        "fit_seconds": fit_seconds,
        "insightome_timings": res["timings"],
        "child_seconds": time.perf_counter() - t0,
        "insightome_warnings": res["warnings"],
        "insightome_notes": res["notes"],
        "configurations": {
            c["name"]: {
                "cv_value": c["cv_value"],
                "failed_folds": c["failed_folds"],
                "bbc_selection_frequency": c["bbc_selection_frequency"],
            }
            for c in res["configurations"]
        },
        "insightome_log_warnings": [ln for ln in run.log if " warning: " in ln],
        "notes": notes,
    }


def child_main(
    dataset: str, split: int, quick: bool, n_jobs: int, results_dir: Path | None = None
) -> None:
    with TreeRSSSampler() as sampler:
        row = run_one(dataset, split, quick=quick, n_jobs=n_jobs, results_dir=results_dir)
        _shutdown_joblib_workers()
    kb = 1024.0  # ru_maxrss is in KiB on Linux
    row["peak_rss_main_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / kb
    row["peak_rss_largest_worker_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / kb
    row["peak_rss_tree_mb"] = sampler.peak_bytes / 2**20
    print(RESULT_MARKER + json.dumps(row), flush=True)


# --------------------------------------------------------------------------------------
# orchestration
# --------------------------------------------------------------------------------------
def spawn_one(
    dataset: str, split: int, quick: bool, n_jobs: int, results_dir: Path | None = None
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--one",
        dataset,
        str(split),
        "--n-jobs",
        str(n_jobs),
    ]
    if quick:
        cmd.append("--quick")
    if results_dir is not None:
        cmd += ["--results-dir", str(results_dir.resolve())]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARKER)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        return {"dataset": dataset, "split": split, "error": "\n".join(tail), "wall_seconds": wall}
    row = json.loads(lines[-1][len(RESULT_MARKER) :])
    row["wall_seconds"] = wall  # whole subprocess: interpreter start, load, run, predict
    return row


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = float("nan")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = int(line.split()[1]) / 2**20
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_gib": round(ram_gib, 1),
        "os": platform.platform(),
    }


def source_state() -> dict[str, Any]:
    """The git commit of the code that was benchmarked, and whether src/ had local edits."""

    def git(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, check=False, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return out.stdout

    dirty = [ln[3:] for ln in git("status", "--porcelain", "--", "src").splitlines() if ln]
    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    digest = hashlib.sha256(git("diff", "HEAD", "--", "src").encode()).hexdigest()[:12]
    return {"commit": commit, "src_modified": dirty, "src_diff_sha256": digest}


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _mean(values: list[float]) -> float:
    return float(statistics.fmean(values)) if values else float("nan")


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        ok = [r for r in rows if r["dataset"] == ds and "error" not in r]
        if not ok:
            out.append({"dataset": ds, "n_splits": 0})
            continue
        out.append(
            {
                "dataset": ds,
                "n_splits": len(ok),
                "task": ok[0]["task"],
                "bbc_estimate": _mean([r["bbc_estimate"] for r in ok]),
                "plain_cv": _mean([r["plain_cv"] for r in ok]),
                "holdout_auc": _mean([r["holdout_auc"] for r in ok]),
                "bias": _mean([r["bias"] for r in ok]),
                "abs_bias": _mean([abs(r["bias"]) for r in ok]),
                "plain_cv_optimism": _mean([r["plain_cv_optimism"] for r in ok]),
                "ci_coverage": _mean([float(r["ci_covers_holdout"]) for r in ok]),
                "fit_seconds": _mean([r["fit_seconds"] for r in ok]),
                "wall_seconds": _mean([r["wall_seconds"] for r in ok]),
                "max_wall_seconds": max(r["wall_seconds"] for r in ok),
                "peak_rss_tree_mb": max(r["peak_rss_tree_mb"] for r in ok),
                "winners": sorted({r["winner"] for r in ok}),
            }
        )
    return out


def targets(summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The target check. |bias| is read three ways, because with 2 splits per dataset it matters.

    Primary (the brief's wording, "over the six sets"): median over datasets of |mean bias
    over the splits|. Stricter readings, also reported with PASS/FAIL: median over datasets
    of the mean |bias| per split, and median |bias| over all individual splits (the latter two
    include the hold-out half's own sampling noise, SE ~0.02-0.08 for 25-51 samples).
    """
    done = [s for s in summary if s.get("n_splits")]
    ok = [r for r in rows if "error" not in r]

    def med(values: list[float]) -> float:
        return float(statistics.median(values)) if values else math.nan

    abs_mean_bias = med([abs(s["bias"]) for s in done])
    mean_abs_bias = med([s["abs_bias"] for s in done])
    split_abs_bias = med([abs(r["bias"]) for r in ok])
    med_auc = med([s["holdout_auc"] for s in done])
    worst = max((s["max_wall_seconds"] for s in done), default=math.nan)
    return {
        "median_abs_bias": abs_mean_bias,
        "median_abs_bias_pass": bool(abs_mean_bias <= TARGET_BIAS),
        "median_mean_abs_bias": mean_abs_bias,
        "median_mean_abs_bias_pass": bool(mean_abs_bias <= TARGET_BIAS),
        "median_abs_bias_over_splits": split_abs_bias,
        "median_abs_bias_over_splits_pass": bool(split_abs_bias <= TARGET_BIAS),
        "median_holdout_auc": med_auc,
        "median_holdout_auc_pass": bool(med_auc >= TARGET_AUC),
        "median_holdout_auc_over_splits": med([r["holdout_auc"] for r in ok]),
        "max_seconds_per_dataset": worst,
        "time_pass": bool(worst <= TARGET_SECONDS),
        "max_seconds_per_dataset_all_splits": max(
            (s["wall_seconds"] * s["n_splits"] for s in done), default=math.nan
        ),
        "median_bbc_bias": med([s["bias"] for s in done]),
        "median_plain_cv_optimism": med([s["plain_cv_optimism"] for s in done]),
        "median_bias_over_splits": med([r["bias"] for r in ok]),
        "median_plain_cv_optimism_over_splits": med([r["plain_cv_optimism"] for r in ok]),
        "median_bbc_correction": med([r["plain_cv"] - r["bbc_estimate"] for r in ok]),
        "n_negative_bias": sum(r["bias"] < 0 for r in ok),
        "n_negative_optimism": sum(r["plain_cv_optimism"] < 0 for r in ok),
        "ci_coverage_over_splits": _mean([float(r["ci_covers_holdout"]) for r in ok]),
        "n_datasets": len(done),
        "n_splits_ok": len(ok),
        "n_splits_failed": len(rows) - len(ok),
    }


def _f(x: float, nd: int = 3, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:+.{nd}f}" if signed else f"{x:.{nd}f}"


def _pf(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def render_markdown(
    meta: dict[str, Any],
    rows: list[dict[str, Any]],
    summary: list[dict[str, Any]],
    tgt: dict[str, Any],
) -> str:
    m, v, src = meta["machine"], meta["versions"], meta["source"]
    lines = ["# insightome omics benchmark (JADBio protocol)", ""]
    if meta["quick"]:
        lines += [
            "> **QUICK SMOKE TEST** (`--quick`: preset `fast`, 1 repeat). These numbers are NOT "
            "the benchmark; rerun without `--quick`.",
            "",
        ]
    lines += [
        f"- Command: `{meta['command']}`",
        f"- Date: {meta['date']} (total {meta['total_seconds'] / 60:.1f} min)",
        f"- Machine: {m['cpu']}, {m['logical_cores']} logical cores ({m['usable_cores']} usable), "
        f"{m['ram_gib']} GiB RAM; {m['os']}",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- Source: git commit {src['commit']}"
        + (
            f" with uncommitted edits in {len(src['src_modified'])} file(s) under src/ (other "
            "engineers were editing concurrently): " + ", ".join(src["src_modified"])
            if src["src_modified"]
            else " (src/ clean)"
        )
        + (
            " **src/ changed while the benchmark ran** (diff hash "
            f"{meta['source_at_start']['src_diff_sha256']} at start, {src['src_diff_sha256']} at "
            "end): splits may have run different code."
            if meta["source_at_start"]["src_diff_sha256"] != src["src_diff_sha256"]
            else ""
        ),
        f"- insightome settings: folds=default ({FOLDS}, fewer when a class asks), "
        f"repeats={meta['repeats']}, "
        f"n_bootstrap={N_BOOTSTRAP}, preset={meta['preset']}, seed=0, n_jobs={meta['n_jobs']}",
        "",
        "## Protocol",
        "",
        "Each dataset is split into stratified 50/50 training and hold-out halves "
        "(`sklearn.model_selection.train_test_split(stratify=y)`, `random_state` = split "
        f"number 0..{meta['splits'] - 1}). insightome runs on the training half only, with "
        f"{'its defaults' if not meta['quick'] else 'the --quick settings'} ({FOLDS}-fold x "
        f"{meta['repeats']} repeated stratified CV over its `{meta['preset']}` candidate "
        f"pipelines, BBC-CV with {N_BOOTSTRAP} bootstraps), `--folds` not given: insightome "
        f"uses {FOLDS} folds, fewer when the smallest class asks (a class of 2 training samples "
        "gives 2 folds), and leaves out a class of 1 training sample, too small to give every "
        "training fold one (its hold-out samples are then not scored); "
        f"classes with fewer than {MIN_CLASS_TOTAL} samples "
        "in the whole dataset are dropped before splitting when a training half would hold "
        "fewer than 2 of them (both stated in the notes). The refitted winner predicts the "
        "hold-out half, scored with `sklearn.metrics.roc_auc_score` (binary: probability of "
        "insightome's positive class; multiclass: macro one-vs-rest). "
        "**bias** = BBC-CV estimate - hold-out AUC (should be ~0); **plain-CV optimism** = "
        "the winner's plain CV AUC - hold-out AUC (the selection optimism BBC-CV removes). Each "
        "dataset x split runs in a fresh subprocess: time is that subprocess's wall clock "
        "(interpreter start, load, insightome run, prediction); memory is the peak RSS of the "
        "main process (`RUSAGE_SELF`) and the sampled peak of the summed RSS of the main process "
        "plus its joblib workers (every 0.5 s; counts shared libraries once per process, so an "
        "upper bound).",
        "",
        "## Per split",
        "",
        "| dataset | split | n (train/hold) | p | classes | task | folds | winner "
        "| BBC-CV AUC [95% CI] | plain CV | hold-out AUC | bias | plain-CV optimism "
        "| time (s) | peak MB main / tree | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            err = r["error"].splitlines()[-1] if r["error"] else "failed"
            lines.append(
                f"| {r['dataset']} | {r['split']} | | | | | | **ERROR** | | | | | "
                f"| {r['wall_seconds']:.0f} | | {err.replace('|', '/')} |"
            )
            continue
        lo, hi = r["bbc_ci95"]
        ncls = f"{len(r['classes_used'])}" + (
            f" (of {r['n_classes']})" if len(r["classes_used"]) != r["n_classes"] else ""
        )
        notes = "; ".join(r["notes"]) or ""
        lines.append(
            f"| {r['dataset']} | {r['split']} | {r['n']} ({r['n_train']}/{r['n_holdout']}) "
            f"| {r['p']} | {ncls} | {r['task']} | {r['folds']} | `{r['winner']}` "
            f"| {_f(r['bbc_estimate'])} [{_f(lo)}, {_f(hi)}] | {_f(r['plain_cv'])} "
            f"| {_f(r['holdout_auc'])} | {_f(r['bias'], signed=True)} "
            f"| {_f(r['plain_cv_optimism'], signed=True)} | {r['wall_seconds']:.0f} "
            f"| {r['peak_rss_main_mb']:.0f} / {r['peak_rss_tree_mb']:.0f} | {notes} |"
        )
    lines += [
        "",
        f"## Per dataset (mean over {meta['splits']} split{'s' if meta['splits'] != 1 else ''})",
        "",
        "| dataset | task | BBC-CV AUC | plain CV | hold-out AUC | bias | abs bias "
        "| plain-CV optimism | CI covers hold-out | time (s), mean / max | peak tree MB (max) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        if not s.get("n_splits"):
            lines.append(f"| {s['dataset']} | all splits failed | | | | | | | | | |")
            continue
        lines.append(
            f"| {s['dataset']} | {s['task']} | {_f(s['bbc_estimate'])} | {_f(s['plain_cv'])} "
            f"| {_f(s['holdout_auc'])} | {_f(s['bias'], signed=True)} | {_f(s['abs_bias'])} "
            f"| {_f(s['plain_cv_optimism'], signed=True)} | {s['ci_coverage']:.0%} "
            f"| {s['wall_seconds']:.0f} / {s['max_wall_seconds']:.0f} "
            f"| {s['peak_rss_tree_mb']:.0f} |"
        )
    t = tgt
    lines += [
        "",
        "## Target check",
        "",
        f"Over {t['n_datasets']} dataset(s) ({t['n_splits_ok']} splits ok, "
        f"{t['n_splits_failed']} failed); medians are over the per-dataset means above.",
        "",
        f"- median |bias| = {_f(t['median_abs_bias'])} (target <= {TARGET_BIAS}; |mean bias| "
        f"per dataset, median over datasets): **{_pf(t['median_abs_bias_pass'])}**",
        f"  - stricter: median of the per-dataset mean |bias| = "
        f"{_f(t['median_mean_abs_bias'])}: **{_pf(t['median_mean_abs_bias_pass'])}**; median "
        f"|bias| over all {t['n_splits_ok']} splits = {_f(t['median_abs_bias_over_splits'])}: "
        f"**{_pf(t['median_abs_bias_over_splits_pass'])}** (both include the hold-out half's "
        "own sampling noise)",
        f"- median hold-out AUC = {_f(t['median_holdout_auc'])} (target >= {TARGET_AUC}): "
        f"**{_pf(t['median_holdout_auc_pass'])}** (over all splits: "
        f"{_f(t['median_holdout_auc_over_splits'])})",
        f"- slowest dataset = {t['max_seconds_per_dataset']:.0f} s per run on "
        f"{meta['n_jobs']} cores (target <= {TARGET_SECONDS:.0f} s each): "
        f"**{_pf(t['time_pass'])}** (both splits of the slowest dataset together: "
        f"{t['max_seconds_per_dataset_all_splits']:.0f} s)",
        "",
        f"- median BBC-CV bias = {_f(t['median_bbc_bias'], signed=True)} vs median plain-CV "
        f"optimism = {_f(t['median_plain_cv_optimism'], signed=True)} (per-dataset means; "
        f"over all splits: bias {_f(t['median_bias_over_splits'], signed=True)}, optimism "
        f"{_f(t['median_plain_cv_optimism_over_splits'], signed=True)}). The optimism is what "
        "BBC-CV removes; the median correction it applied (plain CV - BBC-CV) was "
        f"{_f(t['median_bbc_correction'])}.",
        f"- bias < 0 (conservative estimate) in {t['n_negative_bias']} of {t['n_splits_ok']} "
        f"splits; plain-CV optimism < 0 in {t['n_negative_optimism']} of {t['n_splits_ok']}.",
        f"- 95% CI covered the hold-out AUC in {t['ci_coverage_over_splits']:.0%} of splits "
        "(the CI is for the estimate's sampling error, and the hold-out AUC of ~30-50 samples "
        "is itself noisy, so this is only indicative).",
        "",
    ]
    if meta["quick"]:
        lines += ["Produced with `--quick`: not a valid benchmark result.", ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        help="comma-separated dataset names (default: all six)",
    )
    ap.add_argument("--splits", type=int, default=2, help="number of 50/50 splits (seeds 0..)")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke test only: preset fast, 1 repeat (marked in the results)",
    )
    ap.add_argument("--n-jobs", type=int, default=2, help="insightome n_jobs (default 2)")
    ap.add_argument(
        "--output",
        type=Path,
        default=RESULTS_DIR / "omics_suite.md",
        help="Markdown results file (JSON written beside it)",
    )
    ap.add_argument(
        "--results-dir",
        type=Path,
        default=None,
        help="also save every run's results under DIR/<dataset>/split<k>/ (for "
        "benchmarks/diff_results.py)",
    )
    ap.add_argument("--one", nargs=2, metavar=("DATASET", "SPLIT"), help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not DATA_DIR.is_dir():
        sys.exit(
            f"omics data not found: {DATA_DIR} (expected ../shared/data/omics/*.mat "
            "next to the repository)"
        )
    if args.one:
        child_main(args.one[0], int(args.one[1]), args.quick, args.n_jobs, args.results_dir)
        return 0
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    missing = [d for d in names if not (DATA_DIR / f"{d}.mat").is_file()]
    if missing:
        sys.exit(f"dataset file(s) not found in {DATA_DIR}: {', '.join(missing)}")
    if args.splits < 1:
        sys.exit("--splits must be at least 1")

    start = time.perf_counter()
    source_at_start = source_state()
    rows = []
    for ds in names:
        for split in range(args.splits):
            print(f"[{time.strftime('%H:%M:%S')}] {ds} split {split} ...", flush=True)
            row = spawn_one(ds, split, args.quick, args.n_jobs, args.results_dir)
            if "error" in row:
                print(f"  ERROR after {row['wall_seconds']:.0f} s:\n{row['error']}", flush=True)
            else:
                print(
                    f"  {row['wall_seconds']:.0f} s, winner {row['winner']}, BBC "
                    f"{row['bbc_estimate']:.3f}, plain CV {row['plain_cv']:.3f}, hold-out "
                    f"{row['holdout_auc']:.3f}, bias {row['bias']:+.3f}, tree "
                    f"{row['peak_rss_tree_mb']:.0f} MB",
                    flush=True,
                )
            rows.append(row)
    summary = summarize(rows)
    tgt = targets(summary, rows)
    meta = {
        "command": "python "
        + shlex.join([os.path.relpath(Path(sys.argv[0]).resolve(), REPO), *sys.argv[1:]])
        if argv is None
        else "python benchmarks/omics_suite.py " + shlex.join(argv),
        "date": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        "total_seconds": time.perf_counter() - start,
        "quick": args.quick,
        "preset": "fast" if args.quick else "default",
        "repeats": 1 if args.quick else REPEATS,
        "splits": args.splits,
        "n_jobs": args.n_jobs,
        "datasets": names,
        "machine": machine_info(),
        "versions": versions(),
        "source": source_state(),
        "source_at_start": source_at_start,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render_markdown(meta, rows, summary, tgt))
    payload = {"meta": meta, "targets": tgt, "summary": summary, "splits": rows}
    args.output.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.output} and {args.output.with_suffix('.json')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
