"""Peers benchmark: insightome side by side with AutoGluon, TPOT, a tuned forest and OmicLearn.

Every tool gets the same outer splits as ``omics_suite.py`` (stratified 50/50 training /
hold-out halves, ``random_state`` = split number, the same class-dropping rule), fits on the
training half only, and predicts the untouched hold-out half. For each tool x dataset x
split, run in its own fresh subprocess, the harness measures the hold-out AUC (computed here
from the tool's probabilities: binary ``roc_auc_score`` on P(positive), multiclass macro
one-vs-rest), the tool's OWN estimate of that AUC (insightome: BBC-CV; AutoGluon: the best
model's validation / out-of-fold score; TPOT: its best pipeline's CV score; GridSearchCV:
``best_score_``; OmicLearn: its repeated-CV mean AUC), wall time, CPU time of the whole
process tree, peak memory (summed PSS of the tree, sampled every 0.5 s) and an estimated
energy (Green Algorithms, insightome's constants).

insightome runs in this (the product's) virtual environment; the peers run through
``benchmarks/peers_runner.py`` in their own venv, ``benchmarks/.venv-peers``, pinned by
``benchmarks/peers_requirements.txt`` so the product's dependencies stay lean. Results go
to ``benchmarks/results/peers.md`` (+ ``.json`` and a ``.png`` plot). Usage::

    python benchmarks/peers.py --setup                    # create / update the peers venv
    python benchmarks/peers.py                            # full run: 9 datasets x 2 splits
    python benchmarks/peers.py --datasets colon,breast_cancer --splits 1 --tools insightome,rf_grid
    python benchmarks/peers.py --quick                    # smoke test: colon, 1 split, tiny budgets
    python benchmarks/peers.py --quick --output /tmp/peers.md   # ... written outside results/

``make bench-peers`` does the first two.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import omics_suite

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
RESULTS_DIR = BENCH / "results"
PEERS_VENV = BENCH / ".venv-peers"
PEERS_PYTHON = PEERS_VENV / "bin" / "python"
REQUIREMENTS = BENCH / "peers_requirements.txt"
RUNNER = BENCH / "peers_runner.py"
COHORTS_DIR = REPO.parent / "shared" / "data" / "cohorts"
RESULT_MARKER = "PEERS_RESULT "
RUNNER_MARKER = "PEERS_RUNNER_RESULT "

OMICS_DATASETS: tuple[str, ...] = omics_suite.DATASETS
CLINICAL_DATASETS = ("breast_cancer", "actg175", "heart_failure")
DATASETS = OMICS_DATASETS + CLINICAL_DATASETS
QUICK_DATASETS = ("colon",)
FOLDS = omics_suite.FOLDS  # CV folds asked of every peer (lowered for tiny classes)

TOOLS = ("insightome", "autogluon_medium", "autogluon_best", "tpot", "rf_grid", "omiclearn")
TOOL_LABELS = {
    "insightome": "insightome (defaults)",
    "autogluon_medium": "AutoGluon medium_quality",
    "autogluon_best": "AutoGluon best_quality",
    "tpot": "TPOT",
    "rf_grid": "RF GridSearchCV",
    "omiclearn": "OmicLearn-style (ET + XGBoost)",
}
RUNNER_TOOL = {
    "autogluon_medium": "autogluon",
    "autogluon_best": "autogluon",
    "tpot": "tpot",
    "rf_grid": "rf_grid",
    "omiclearn": "omiclearn",
}
RF_GRID = {"max_features": ["sqrt", 0.1, 0.3], "min_samples_leaf": [1, 3, 5]}
#: Each peer's budget: what it is allowed to spend per dataset x split (2 cores).
BUDGETS: dict[str, dict[str, Any]] = {
    "autogluon_medium": {"presets": "medium_quality", "hyperparameters": "default",
                         "time_limit": 45},
    "autogluon_best": {"presets": "best_quality", "hyperparameters": "zeroshot",
                       "time_limit": 120},
    "tpot": {"search_space": "linear-light", "max_time_mins": 1.0, "max_eval_time_mins": 0.25,
             "generations": 5, "population_size": 20},
    "rf_grid": {"n_estimators": 500, **RF_GRID},
    "omiclearn": {"max_features": 20, "n_trees": 100, "cv_repeats": 10, "random_state": 23},
}  # fmt: skip
QUICK_BUDGETS: dict[str, dict[str, Any]] = {
    "autogluon_medium": {**BUDGETS["autogluon_medium"], "time_limit": 20},
    # below ~60 s AutoGluon's DyStack sub-fit can train nothing on 4,000+ features, after which
    # best_quality fails with "Learner is already fit"
    "autogluon_best": {**BUDGETS["autogluon_best"], "time_limit": 60},
    "tpot": {**BUDGETS["tpot"], "max_time_mins": 0.25, "max_eval_time_mins": 0.1,
             "generations": 2, "population_size": 6},
    "rf_grid": {**BUDGETS["rf_grid"], "n_estimators": 100},
    "omiclearn": {**BUDGETS["omiclearn"], "cv_repeats": 2},
}  # fmt: skip
#: Typical wall seconds per run on an idle 2-core machine, from smoke runs (time-limited
#: tools: their limit + start-up); used only for the projection printed and reported.
EXPECTED_RUN_SECONDS = {
    "insightome": 45.0,
    "autogluon_medium": 50.0,
    "autogluon_best": 125.0,
    "tpot": 70.0,
    "rf_grid": 25.0,
    "omiclearn": 25.0,
}
HARD_TIMEOUT_FLOOR_S = 600.0  # a run is killed after max(this, 3 x its time budget + 300 s)
TARGET_AUC_MARGIN = 0.01  # insightome's mean hold-out AUC >= every peer's - this
TARGET_CPU_RATIO = 0.2  # insightome's CPU time <= this x AutoGluon best_quality's
PAIRED_BOOTSTRAP = 10_000  # resamples for the CI of a paired difference (over datasets)
PEER_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "MPLBACKEND": "Agg",
    "PYTHONNOUSERSITE": "1",
}


# --------------------------------------------------------------------------------------
# datasets and splits
# --------------------------------------------------------------------------------------
@dataclass
class Dataset:
    name: str
    X: Any  # (n, p) float64
    y_raw: Any  # the outcome as loaded (written to insightome's obs)
    labels: Any  # (n,) str, as insightome writes class labels
    samples: list[str]
    features: list[str]
    target: str
    source: str
    notes: list[str] = field(default_factory=list)


@dataclass
class Split:
    train: Any  # sorted indices into the dataset
    hold: Any
    keep: Any  # bool mask: samples not dropped for class size
    notes: list[str]


def dataset_path(name: str) -> Path | None:
    """The file a dataset is read from, or None for data shipped inside a package."""
    if name in OMICS_DATASETS:
        return omics_suite.DATA_DIR / f"{name}.mat"
    if name == "heart_failure":
        return COHORTS_DIR / "heart_failure" / "heart_failure_clinical_records_dataset.csv"
    if name in ("breast_cancer", "actg175"):
        return None
    raise ValueError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})")


def dataset_available(name: str) -> bool:
    path = dataset_path(name)
    return path is None or path.is_file()


def _cohort_frame(loader: Callable[[], tuple[Any, dict[str, Any]]]) -> tuple[Any, Any, str]:
    """Features and outcome of an ``audit.py`` cohort, framed exactly as audit.py frames it:
    the id column becomes the index; the target, the sensitive attributes and the excluded
    columns stay out of the features; the features are the remaining numeric columns."""
    frame, options = loader()
    id_column = options.get("id_column")
    if id_column:
        frame = frame.set_index(id_column)
    roles = {options["target"], *options.get("sensitive", ()), *options.get("exclude", ())}
    X = frame.drop(columns=[c for c in frame.columns if c in roles]).select_dtypes("number")
    return X, frame[options["target"]], options["target"]


def load_dataset(name: str) -> Dataset:
    import numpy as np

    if name in OMICS_DATASETS:
        from insightome.io import read

        adata = read(dataset_path(name))
        y_raw = adata.obs[omics_suite.TARGET].to_numpy()
        return Dataset(
            name=name,
            X=np.asarray(adata.X, dtype=float),
            y_raw=y_raw,
            labels=np.array([omics_suite._label(v) for v in y_raw]),
            samples=[str(s) for s in adata.obs_names],
            features=[str(v) for v in adata.var_names],
            target=omics_suite.TARGET,
            source=f"../shared/data/omics/{name}.mat",
        )
    notes: list[str] = []
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        bc = load_breast_cancer(as_frame=True)
        X = bc.data
        y = bc.target.map(dict(enumerate(bc.target_names))).rename("diagnosis")
        target, source = "diagnosis", "sklearn.datasets.load_breast_cancer (WDBC, shipped)"
    elif name in ("actg175", "heart_failure"):
        import audit

        X, y, target = _cohort_frame(getattr(audit, name))
        if name == "actg175":
            # the CSV's row-number column is an identifier, not a measurement
            X = X.drop(columns=[c for c in X.columns if str(c).startswith("Unnamed")])
            notes.append(
                "features as benchmarks/audit.py frames ACTG175 (target `cens`; days, cd420, "
                "cd496, r, cd820, offtrt, treat excluded; gender and race kept out as sensitive "
                "attributes), minus the CSV's row-number column `Unnamed: 0`"
            )
            source = "lifelines.datasets ACTG175.csv (shipped)"
        else:
            notes.append("features as benchmarks/audit.py frames it (time excluded, sex kept out)")
            source = "../shared/data/cohorts/heart_failure"
    else:
        raise ValueError(f"unknown dataset {name!r}")
    y_raw = y.to_numpy()
    return Dataset(
        name=name,
        X=X.to_numpy(dtype=float),
        y_raw=y_raw,
        labels=np.array([omics_suite._label(v) for v in y_raw]),
        samples=[str(s) for s in X.index],
        features=[str(c) for c in X.columns],
        target=target,
        source=source,
        notes=notes,
    )


def make_split(labels: Any, split: int) -> Split:
    """The outer split of ``omics_suite.run_one``, reproduced (tests check they agree).

    Stratified 50/50 with ``random_state=split``; if a training half would hold fewer than
    2 samples of a class, classes with fewer than ``MIN_CLASS_TOTAL`` samples in the whole
    dataset are dropped and the split is redone.
    """
    import numpy as np
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    notes: list[str] = []

    def halves(keep: Any) -> tuple[Any, Any]:
        idx = np.flatnonzero(keep)
        train, hold = train_test_split(idx, test_size=0.5, stratify=labels[idx], random_state=split)
        return np.sort(train), np.sort(hold)

    keep = np.ones(len(labels), dtype=bool)
    train, hold = halves(keep)
    _, train_counts = np.unique(labels[train], return_counts=True)
    if train_counts.min() < 2:
        values, counts = np.unique(labels, return_counts=True)
        small = counts < omics_suite.MIN_CLASS_TOTAL
        desc = [f"{v} (n={c})" for v, c in zip(values[small], counts[small], strict=True)]
        keep = ~np.isin(labels, values[small])
        notes.append(
            f"dropped class(es) {', '.join(desc)} (< {omics_suite.MIN_CLASS_TOTAL} samples in "
            f"the whole dataset) before splitting: {int((~keep).sum())} samples removed"
        )
        train, hold = halves(keep)
    return Split(train=train, hold=hold, keep=keep, notes=notes)


def cv_folds(train_labels: Any) -> int:
    """``FOLDS``, lowered to the smallest training class count (as insightome's fallback)."""
    import numpy as np

    _, counts = np.unique(np.asarray(train_labels), return_counts=True)
    return max(2, min(FOLDS, int(counts.min())))


def write_npz(ds: Dataset, sp: Split, path: Path) -> dict[str, Any]:
    """The training half and the hold-out features for a peer (hold-out labels stay here)."""
    import numpy as np

    classes = sorted(set(ds.labels[sp.keep].tolist()))
    code = {c: i for i, c in enumerate(classes)}
    y_train = np.array([code[v] for v in ds.labels[sp.train]], dtype=np.int64)
    folds = cv_folds(ds.labels[sp.train])
    np.savez(
        path,
        X_train=ds.X[sp.train],
        y_train=y_train,
        X_hold=ds.X[sp.hold],
        classes=np.array(classes),
        folds=np.int64(folds),
    )
    return {"classes": classes, "folds": folds}


# --------------------------------------------------------------------------------------
# AUC and energy
# --------------------------------------------------------------------------------------
def align_proba(proba: Any, tool_classes: Sequence[str], classes: Sequence[str]) -> Any:
    """Reorder probability columns from the tool's class order to ``classes`` (0 if absent)."""
    import numpy as np

    proba = np.asarray(proba, dtype=float)
    index = {str(c): j for j, c in enumerate(tool_classes)}
    out = np.zeros((proba.shape[0], len(classes)))
    for k, c in enumerate(classes):
        if c in index:
            out[:, k] = proba[:, index[c]]
    return out


def holdout_auc(y_true: Sequence[str], proba: Any, classes: Sequence[str]) -> tuple[float, str]:
    """Binary: AUC of P(classes[1]); multiclass: macro one-vs-rest AUC. Returns (auc, note)."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y_true).astype(str)
    proba = np.asarray(proba, dtype=float)
    if len(classes) == 2:
        return float(roc_auc_score(y == classes[1], proba[:, 1])), ""
    note = ""
    sums = proba.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-6):
        note = f"probabilities renormalized (row sums {sums.min():.4f}-{sums.max():.4f})"
        zero = sums <= 0
        proba = np.where(zero[:, None], 1.0 / len(classes), proba)
        proba = proba / proba.sum(axis=1)[:, None]
    auc = roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=list(classes))
    return float(auc), note


def energy_constants() -> dict[str, Any]:
    from insightome.compute.ledger import (
        DEFAULT_CARBON_INTENSITY,
        DEFAULT_PUE,
        MEMORY_POWER_W_PER_GB,
    )
    from insightome.compute.probes import core_power, cpu_model

    core_w, core_source = core_power(cpu_model())
    return {
        "core_power_w": core_w,
        "core_power_source": core_source,
        "memory_power_w_per_gb": MEMORY_POWER_W_PER_GB,
        "pue": DEFAULT_PUE,
        "carbon_intensity_g_per_kwh": DEFAULT_CARBON_INTENSITY,
    }


def energy_wh(cpu_s: float, wall_s: float, peak_mem_gb: float, c: dict[str, Any]) -> float:
    """Green Algorithms: (CPU s x W per core + wall s x GB x W per GB) x PUE, in Wh."""
    joules = cpu_s * c["core_power_w"] + wall_s * peak_mem_gb * c["memory_power_w_per_gb"]
    return joules * c["pue"] / 3600.0


# --------------------------------------------------------------------------------------
# measuring one subprocess (tree): wall, CPU (RUSAGE_CHILDREN delta), peak summed PSS
# --------------------------------------------------------------------------------------
class TreeMonitor:
    """Every ``interval`` s: the summed PSS (``/proc/<pid>/smaps_rollup``; RSS where that is
    unreadable) of the process ``root`` and its descendants, and each one's CPU ticks."""

    def __init__(self, root: int, interval: float = 0.5) -> None:
        self.root = root
        self.interval = interval
        self.peak_bytes = 0
        self.pss_samples = 0
        self.rss_samples = 0
        self.max_processes = 0
        self._cpu_ticks: dict[tuple[int, int], int] = {}
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def _tree(self) -> dict[int, list[str]]:
        stats: dict[int, list[str]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as fh:
                    stats[int(entry.name)] = fh.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
        children: dict[int, list[int]] = {}
        for pid, fields in stats.items():
            children.setdefault(int(fields[1]), []).append(pid)
        tree, frontier = {}, [self.root]
        while frontier:
            pid = frontier.pop()
            if pid in stats and pid not in tree:
                tree[pid] = stats[pid]
                frontier.extend(children.get(pid, []))
        return tree

    def sample(self) -> None:
        tree = self._tree()
        total = 0
        for pid, fields in tree.items():
            # stat fields after the command: [0]=state (field 3), utime=14, stime=15,
            # starttime=22, rss=24 (1-based), so index = field - 3
            self._cpu_ticks[(pid, int(fields[19]))] = int(fields[11]) + int(fields[12])
            pss = _pss_bytes(pid)
            if pss is None:
                self.rss_samples += 1
                total += int(fields[21]) * self._page
            else:
                self.pss_samples += 1
                total += pss
        self.max_processes = max(self.max_processes, len(tree))
        self.peak_bytes = max(self.peak_bytes, total)

    @property
    def sampled_cpu_seconds(self) -> float:
        return sum(self._cpu_ticks.values()) / os.sysconf("SC_CLK_TCK")

    @property
    def method(self) -> str:
        if self.rss_samples == 0:
            return "PSS"
        return "RSS" if self.pss_samples == 0 else "PSS+RSS"


def _pss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float
    cpu_sampled_s: float
    peak_mem_mb: float
    mem_method: str
    max_processes: int
    timed_out: bool


def measure(cmd: list[str], *, env: dict[str, str], timeout: float) -> Measured:
    """Run ``cmd`` in a fresh process (own session) and measure it from outside."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    timed_out = False
    with TreeMonitor(proc.pid) as mon:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)  # the run's own session only
            out, err = proc.communicate()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Measured(
        returncode=proc.returncode,
        stdout=out,
        stderr=err,
        wall_s=wall,
        cpu_s=cpu,
        cpu_sampled_s=mon.sampled_cpu_seconds,
        peak_mem_mb=mon.peak_bytes / 2**20,
        mem_method=mon.method,
        max_processes=mon.max_processes,
        timed_out=timed_out,
    )


def _marker_json(stdout: str, marker: str) -> dict[str, Any] | None:
    lines = [ln for ln in stdout.splitlines() if ln.startswith(marker)]
    return json.loads(lines[-1][len(marker) :]) if lines else None


# --------------------------------------------------------------------------------------
# insightome in a fresh subprocess (this script with --one)
# --------------------------------------------------------------------------------------
def insightome_one(dataset: str, split: int, *, quick: bool, n_jobs: int) -> dict[str, Any]:
    """insightome on one training half; probabilities for the hold-out half.

    Omics datasets go through ``omics_suite.run_one`` itself (same split, options, fold
    fallback and prediction); its ``insightome.predict`` call is observed to collect the
    probabilities. Clinical cohorts take the same steps on their AnnData here.
    """
    import insightome

    predict = insightome.predict
    if not callable(predict):  # older src: the submodule shadowed the function (as omics_suite)
        predict = predict.predict
    captured: dict[str, Any] = {}

    def observed_predict(run: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        out = predict(run, data, *args, **kwargs)
        captured["pred"] = out
        return out

    if dataset in OMICS_DATASETS:
        insightome.predict = observed_predict  # type: ignore[assignment]
        try:
            row = omics_suite.run_one(dataset, split, quick=quick, n_jobs=n_jobs)
        finally:
            insightome.predict = predict  # type: ignore[assignment]
        pred = captured["pred"]
        classes = [str(c) for c in row["classes_used"]]
        return {
            "classes": classes,
            "samples": [str(s) for s in pred.index],
            "proba": pred[[f"prob_{c}" for c in classes]].to_numpy(float).tolist(),
            "estimate": row["bbc_estimate"],
            "estimate_kind": f"BBC-CV estimate of the winner's {row['metric']}",
            "details": {
                "winner": row["winner"],
                "bbc_ci95": row["bbc_ci95"],
                "plain_cv": row["plain_cv"],
                "folds": row["folds"],
                "repeats": row["repeats"],
                "preset": row["preset"],
                "omics_suite_holdout_auc": row["holdout_auc"],
                "stage_cpu_s": row.get("stage_cpu_s", {}),
                "notes": row["notes"],
            },
            "version": omics_suite.versions().get("insightome", "?"),
        }

    import anndata as ad
    import pandas as pd

    ds = load_dataset(dataset)
    sp = make_split(ds.labels, split)
    adata = ad.AnnData(
        ds.X,
        obs=pd.DataFrame({ds.target: ds.y_raw}, index=pd.Index(ds.samples)),
        var=pd.DataFrame(index=pd.Index(ds.features)),
    )
    train, hold = adata[sp.train].copy(), adata[sp.hold].copy()
    options: dict[str, Any] = {
        "target": ds.target,
        "repeats": 1 if quick else omics_suite.REPEATS,
        "n_bootstrap": omics_suite.N_BOOTSTRAP,
        "preset": "fast" if quick else "default",
        "seed": 0,
        "n_jobs": n_jobs,
        "out_dir": None,
    }
    notes: list[str] = []
    run = insightome.run(train, **options)  # no --folds: insightome's own choice, as in
    res = run.results  # omics_suite (5, fewer when the smallest class asks)
    options["folds"] = int(res["resampling"]["folds"])
    if options["folds"] < FOLDS:
        reason = res["resampling"]["fold_choice"]["reason"]
        notes.append(f"insightome chose {options['folds']}-fold CV: {reason}")
    left_out = res["outcome"].get("classes_left_out") or []
    if left_out:  # fewer than 2 training samples per fold: insightome does not learn them
        listed = ", ".join(f"{c['label']} (n={c['n_samples']})" for c in left_out)
        notes.append(f"insightome left out class(es) {listed} (too small to learn)")
    classes = [str(c) for c in res["outcome"]["classes"]]
    pred = predict(run, hold).loc[[str(s) for s in hold.obs_names]]
    est = res["estimate"]
    return {
        "classes": classes,
        "samples": [str(s) for s in pred.index],
        "proba": pred[[f"prob_{c}" for c in classes]].to_numpy(float).tolist(),
        "estimate": float(est["value"]),
        "estimate_kind": f"BBC-CV estimate of the winner's {est['metric']}",
        "details": {
            "winner": res["winner"]["name"],
            "bbc_ci95": [float(x) for x in est["ci95"]],
            "plain_cv": float(est["plain_cv_value"]),
            "folds": options["folds"],
            "repeats": options["repeats"],
            "preset": options["preset"],
            "task": res["task"],
            "n_features_used": int(res["n_features"]),
            "notes": notes,
            # CPU s of each stage by the run's energy ledger (its process tree): what
            # discovery and the model audit (stages discover, audit) cost, which no peer runs;
            # the data audit runs inside the study stage and stays counted
            "stage_cpu_s": omics_suite.stage_cpu(res),
        },
        "version": omics_suite.versions().get("insightome", "?"),
    }


def child_main(dataset: str, split: int, quick: bool, n_jobs: int) -> None:
    out = insightome_one(dataset, split, quick=quick, n_jobs=n_jobs)
    omics_suite._shutdown_joblib_workers()  # reap loky workers: their CPU counts
    print(RESULT_MARKER + json.dumps(out), flush=True)


# --------------------------------------------------------------------------------------
# one tool x dataset x split
# --------------------------------------------------------------------------------------
def budget_seconds(tool: str, budget: dict[str, Any]) -> float:
    if "time_limit" in budget:
        return float(budget["time_limit"])
    if "max_time_mins" in budget:
        return 60.0 * float(budget["max_time_mins"])
    return EXPECTED_RUN_SECONDS.get(tool, 60.0)


def hard_timeout(tool: str, budget: dict[str, Any]) -> float:
    return max(HARD_TIMEOUT_FLOOR_S, 3.0 * budget_seconds(tool, budget) + 300.0)


def peer_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PEER_ENV)
    env["PATH"] = f"{PEERS_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_tool(
    tool: str,
    ds: Dataset,
    sp: Split,
    split: int,
    *,
    data_file: Path,
    workdir: Path,
    budgets: dict[str, dict[str, Any]],
    quick: bool,
    n_jobs: int,
    energy: dict[str, Any],
) -> dict[str, Any]:
    classes = sorted(set(ds.labels[sp.keep].tolist()))
    budget = budgets.get(tool, {})
    if tool == "insightome":
        cmd = [sys.executable, str(Path(__file__).resolve()), "--one", ds.name, str(split),
               "--n-jobs", str(n_jobs)] + (["--quick"] if quick else [])  # fmt: skip
        env = dict(os.environ)
        marker = RESULT_MARKER
    else:
        tool_dir = workdir / tool
        cmd = [str(PEERS_PYTHON), str(RUNNER), "--tool", RUNNER_TOOL[tool], "--data",
               str(data_file), "--workdir", str(tool_dir), "--params", json.dumps(budget),
               "--n-jobs", str(n_jobs), "--seed", "0"]  # fmt: skip
        env = peer_env()
        marker = RUNNER_MARKER
    timeout = hard_timeout(tool, budget)
    m = measure(cmd, env=env, timeout=timeout)
    if tool != "insightome":
        shutil.rmtree(workdir / tool, ignore_errors=True)
    row: dict[str, Any] = {
        "tool": tool,
        "dataset": ds.name,
        "split": split,
        "n_train": len(sp.train),
        "n_holdout": len(sp.hold),
        "p": int(ds.X.shape[1]),
        "n_classes": len(classes),
        "task": "binary" if len(classes) == 2 else "multiclass",
        "wall_s": m.wall_s,
        "cpu_s": m.cpu_s,
        "cpu_sampled_s": m.cpu_sampled_s,
        "peak_mem_mb": m.peak_mem_mb,
        "mem_method": m.mem_method,
        "max_processes": m.max_processes,
        "energy_wh": energy_wh(m.cpu_s, m.wall_s, m.peak_mem_mb * 2**20 / 1e9, energy),
        "notes": list(sp.notes),
    }
    if m.cpu_s + 1.0 < 0.9 * m.cpu_sampled_s:
        row["notes"].append(
            f"CPU from RUSAGE_CHILDREN ({m.cpu_s:.0f} s) < sampled tree CPU "
            f"({m.cpu_sampled_s:.0f} s): some descendants were not reaped"
        )
    out = _marker_json(m.stdout, marker)
    if m.timed_out or m.returncode != 0 or out is None:
        tail = (m.stderr or m.stdout).strip().splitlines()[-20:]
        why = f"killed after the hard timeout of {timeout:.0f} s" if m.timed_out else (
            f"exit code {m.returncode}")  # fmt: skip
        row["error"] = why + ("\n" + "\n".join(tail) if tail else "")
        return row
    y_hold = ds.labels[sp.hold]
    proba = out["proba"]
    if tool == "insightome":
        want = [ds.samples[i] for i in sp.hold]
        if sorted(out["samples"]) != sorted(want):
            row["error"] = "insightome's hold-out samples differ from the harness's split"
            return row
        position = {s: i for i, s in enumerate(out["samples"])}
        proba = [proba[position[s]] for s in want]
        tool_classes = out["classes"]
    else:
        tool_classes = classes
    auc, note = holdout_auc(y_hold, align_proba(proba, tool_classes, classes), classes)
    if note:
        row["notes"].append(note)
    missing = [c for c in classes if c not in set(tool_classes)]
    if missing:
        row["notes"].append(f"no probability column for class(es) {missing}: 0 used")
    details = out.get("details", {})
    if tool == "insightome":  # its own notes (fold count chosen, classes left out)
        row["notes"] += [n for n in details.get("notes", []) if not n.startswith("dropped class")]
    check = details.get("omics_suite_holdout_auc")
    if check is not None and abs(check - auc) > 1e-9:
        row["notes"].append(f"omics_suite computed hold-out AUC {check:.6f}, harness {auc:.6f}")
    seen = details.get("classes_seen_by_autogluon")
    if seen is not None and len(seen) < len(classes):
        row["notes"].append(
            f"AutoGluon dropped {len(classes) - len(seen)} rare class(es) from training"
        )
    if details.get("retried"):
        row["notes"].append(details["retried"])
    if out.get("network_attempts"):
        row["notes"].append(f"refused network connections: {out['network_attempts']}")
    estimate = out.get("estimate")
    estimate = None if estimate is None or not math.isfinite(float(estimate)) else float(estimate)
    row.update(
        {
            "holdout_auc": auc,
            "estimate": estimate,
            "error_est": None if estimate is None else estimate - auc,
            "estimate_kind": out.get("estimate_kind", ""),
            "version": out.get("version", ""),
            "details": details,
            "network_attempts": len(out.get("network_attempts") or []),
        }
    )
    if estimate is None:
        row["notes"].append("the tool reported no internal estimate")
    return row


# --------------------------------------------------------------------------------------
# summary and targets
# --------------------------------------------------------------------------------------
def _ok(r: dict[str, Any]) -> bool:
    return "error" not in r and r.get("holdout_auc") is not None


def _mean(values: Sequence[float]) -> float:
    return float(statistics.fmean(values)) if values else math.nan


def summarize(rows: list[dict[str, Any]], tools: Sequence[str]) -> list[dict[str, Any]]:
    """Per tool, over its own successful runs."""
    out = []
    for tool in tools:
        mine = [r for r in rows if r["tool"] == tool]
        ok = [r for r in mine if _ok(r)]
        est = [r for r in ok if r.get("estimate") is not None]
        out.append(
            {
                "tool": tool,
                "n_runs": len(mine),
                "n_ok": len(ok),
                "n_failed": len(mine) - len(ok),
                "n_with_estimate": len(est),
                "mean_holdout_auc": _mean([r["holdout_auc"] for r in ok]),
                "mean_estimate": _mean([r["estimate"] for r in est]),
                "mean_abs_error": _mean([abs(r["error_est"]) for r in est]),
                "median_abs_error": (
                    float(statistics.median(abs(r["error_est"]) for r in est)) if est else math.nan
                ),
                "mean_signed_error": _mean([r["error_est"] for r in est]),
                "total_cpu_s": float(sum(r["cpu_s"] for r in mine)),
                "total_cpu_s_ok": float(sum(r["cpu_s"] for r in ok)),
                "mean_wall_s": _mean([r["wall_s"] for r in mine]),
                "total_wall_s": float(sum(r["wall_s"] for r in mine)),
                "max_peak_mem_mb": max((r["peak_mem_mb"] for r in mine), default=math.nan),
                "total_energy_wh": float(sum(r["energy_wh"] for r in mine)),
            }
        )
    return out


def _paired(
    rows: list[dict[str, Any]], a: str, b: str, need_estimate: bool = False
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    def usable(r: dict[str, Any]) -> bool:
        return _ok(r) and (not need_estimate or r.get("estimate") is not None)

    index = {(r["dataset"], r["split"]): r for r in rows if r["tool"] == b and usable(r)}
    return [
        (r, index[(r["dataset"], r["split"])])
        for r in rows
        if r["tool"] == a and usable(r) and (r["dataset"], r["split"]) in index
    ]


def paired_difference_ci(
    pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]],
    value: Callable[[dict[str, Any]], float],
    *,
    n_boot: int = PAIRED_BOOTSTRAP,
    seed: int = 0,
) -> tuple[float, float]:
    """95% percentile CI of mean(value(a) - value(b)) by a bootstrap over DATASETS.

    The splits of one dataset share most of their samples, so they are resampled together
    (a cluster bootstrap): resampling splits as if independent would understate the noise.
    With one dataset the interval is that dataset's spread only (still reported, flagged by
    the caller through ``n_datasets``).
    """
    import numpy as np

    by_ds: dict[str, list[float]] = {}
    for a, b in pairs:
        by_ds.setdefault(a["dataset"], []).append(value(a) - value(b))
    if not by_ds:
        return (math.nan, math.nan)
    groups = list(by_ds.values())
    sums = np.array([sum(g) for g in groups])
    counts = np.array([len(g) for g in groups])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(groups), size=(n_boot, len(groups)))
    means = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return (float(lo), float(hi))


def _wins(pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> tuple[int, int, int]:
    """Datasets where insightome's mean hold-out AUC is ahead / level (+-0.005) / behind."""
    by_ds: dict[str, list[float]] = {}
    for a, b in pairs:
        by_ds.setdefault(a["dataset"], []).append(a["holdout_auc"] - b["holdout_auc"])
    diffs = [statistics.fmean(v) for v in by_ds.values()]
    ahead = sum(d > 0.005 for d in diffs)
    behind = sum(d < -0.005 for d in diffs)
    return ahead, len(diffs) - ahead - behind, behind


def targets(rows: list[dict[str, Any]], tools: Sequence[str]) -> dict[str, Any]:
    """The three targets, each insightome vs a peer on the dataset x splits both completed.

    Every comparison also carries the 95% CI of the paired difference (bootstrap over
    datasets, :func:`paired_difference_ci`), because a hold-out AUC on 25-50 samples moves by
    +-0.05 between splits: a PASS or FAIL whose interval spans the threshold is a tie.
    """
    peers = [t for t in tools if t != "insightome"]
    auc_cmp, err_cmp = [], []
    for peer in peers:
        pairs = _paired(rows, "insightome", peer)
        if pairs:
            mine = _mean([x["holdout_auc"] for x, _ in pairs])
            theirs = _mean([y["holdout_auc"] for _, y in pairs])
            lo, hi = paired_difference_ci(pairs, lambda r: r["holdout_auc"])
            ahead, level, behind = _wins(pairs)
            auc_cmp.append({"peer": peer, "n_pairs": len(pairs),
                            "n_datasets": len({x["dataset"] for x, _ in pairs}),
                            "insightome": mine, "peer_value": theirs,
                            "difference": mine - theirs, "ci95": [lo, hi],
                            "datasets_ahead": ahead, "datasets_level": level,
                            "datasets_behind": behind,
                            "pass": bool(mine >= theirs - TARGET_AUC_MARGIN)})  # fmt: skip
        pairs = _paired(rows, "insightome", peer, need_estimate=True)
        if pairs:
            mine = _mean([abs(x["error_est"]) for x, _ in pairs])
            theirs = _mean([abs(y["error_est"]) for _, y in pairs])
            lo, hi = paired_difference_ci(pairs, lambda r: abs(r["error_est"]))
            err_cmp.append({"peer": peer, "n_pairs": len(pairs),
                            "n_datasets": len({x["dataset"] for x, _ in pairs}),
                            "insightome": mine, "peer_value": theirs,
                            "difference": mine - theirs, "ci95": [lo, hi],
                            "pass": bool(mine < theirs)})  # fmt: skip
    cpu: dict[str, Any] = {"evaluated": False}
    pairs = [(x, y) for x, y in _paired(rows, "insightome", "autogluon_best")]
    if pairs:
        mine = float(sum(x["cpu_s"] for x, _ in pairs))
        theirs = float(sum(y["cpu_s"] for _, y in pairs))
        cpu = {"evaluated": True, "n_pairs": len(pairs), "insightome_cpu_s": mine,
               "autogluon_best_cpu_s": theirs, "ratio": mine / theirs if theirs else math.nan,
               "pass": bool(mine <= TARGET_CPU_RATIO * theirs)}  # fmt: skip
        staged = [(x.get("details") or {}).get("stage_cpu_s") for x, _ in pairs]
        cpu["runs_without_stage_cpu"] = sum(1 for st in staged if not st)
        if all(staged):
            stages = sorted({k for st in staged for k in st})
            totals = {k: sum(st.get(k, 0.0) for st in staged) for k in stages}
            cpu["insightome_stage_cpu_s"] = totals
            extra = totals.get("discover", 0.0) + totals.get("audit", 0.0)
            cpu["without_discovery_audit"] = {
                "insightome_cpu_s": mine - extra,
                "discovery_audit_cpu_s": extra,
                "ratio": (mine - extra) / theirs if theirs else math.nan,
                "pass": bool(mine - extra <= TARGET_CPU_RATIO * theirs),
            }
    return {
        "auc": {"evaluated": bool(auc_cmp), "comparisons": auc_cmp,
                "pass": bool(auc_cmp) and all(c["pass"] for c in auc_cmp)},
        "estimate_error": {"evaluated": bool(err_cmp), "comparisons": err_cmp,
                           "pass": bool(err_cmp) and all(c["pass"] for c in err_cmp)},
        "cpu": cpu,
    }  # fmt: skip


def projected_seconds(n_splits_per_dataset: dict[str, int], tools: Sequence[str]) -> float:
    runs = sum(n_splits_per_dataset.values())
    return runs * sum(EXPECTED_RUN_SECONDS.get(t, 60.0) for t in tools)


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------
_f = omics_suite._f  # number formatting and PASS/FAIL, as in the omics suite's report
_pf = omics_suite._pf


def describe_budget(tool: str, budget: dict[str, Any], n_jobs: int) -> str:
    if tool == "insightome":
        return (
            f"`insightome.run` defaults: preset `{budget['preset']}`, {FOLDS}-fold x "
            f"{budget['repeats']} repeated CV, BBC-CV with {omics_suite.N_BOOTSTRAP} bootstraps, "
            f"seed 0, n_jobs={n_jobs}; no time limit (it has none)"
        )
    b = budget
    if tool.startswith("autogluon"):
        return (
            "`TabularPredictor(eval_metric='roc_auc' (binary) | 'log_loss' (multiclass)).fit("
            f"presets="
            f"'{b['presets']}', time_limit={b['time_limit']}, num_cpus={n_jobs}, num_gpus=0)`, "
            f"hyperparameters = the preset's own portfolio (`{b['hyperparameters']}`) "
            "restricted to tree / simple models (GBM, CAT, XGB, RF, XT; LR, KNN allowed but "
            "not in the portfolio): NN_TORCH and FASTAI removed"
        )
    if tool == "tpot":
        return (
            f"`TPOTClassifier(search_space='{b['search_space']}', scorers=['roc_auc' | "
            f"'roc_auc_ovr'], cv={FOLDS}, max_time_mins={b['max_time_mins']}, "
            f"max_eval_time_mins={b['max_eval_time_mins']}, generations={b['generations']}, "
            f"population_size={b['population_size']}, n_jobs={n_jobs}, random_state=0)` "
            "(whichever of time and generations ends first)"
        )
    if tool == "rf_grid":
        return (
            f"`GridSearchCV(RandomForestClassifier(n_estimators={b['n_estimators']}), "
            f"{{max_features: {b['max_features']}, min_samples_leaf: {b['min_samples_leaf']}}}, "
            f"scoring='roc_auc' | 'roc_auc_ovr', cv=StratifiedKFold({FOLDS}, shuffle), "
            f"n_jobs={n_jobs})`, then the best setting refitted on the whole training half"
        )
    if tool == "omiclearn":
        return (
            "OmicLearn's defaults re-implemented (OmicLearn is a Streamlit app, not on PyPI): "
            "zero imputation if values are missing, no normalization, ExtraTrees("
            f"{b['n_trees']} trees) top-{b['max_features']} features chosen inside each fold, "
            "XGBoost(learning_rate=0.3, max_depth=6, min_child_weight=1, 100 trees), "
            f"RepeatedStratifiedKFold({FOLDS} splits x {b['cv_repeats']} repeats, "
            f"random_state={b['random_state']}) for the estimate, then a refit on the whole "
            f"training half; n_jobs={n_jobs}"
        )
    return json.dumps(b)


def render_markdown(
    meta: dict[str, Any],
    rows: list[dict[str, Any]],
    summary: list[dict[str, Any]],
    tgt: dict[str, Any],
) -> str:
    m, e = meta["machine"], meta["energy"]
    tools = meta["tools"]
    lines = ["# insightome vs peer AutoML tools (same splits, same data)", ""]
    if meta["quick"]:
        lines += [
            "> **QUICK SMOKE TEST** (`--quick`: tiny budgets, insightome preset `fast`). These "
            "numbers are NOT the benchmark; rerun without `--quick`.",
            "",
        ]
    pv = meta.get("peer_versions") or {}
    lines += [
        f"- Command: `{meta['command']}`",
        f"- Date: {meta['date']} (total {meta['total_seconds'] / 60:.1f} min; projected "
        f"beforehand {meta['projected_seconds'] / 60:.0f} min)"
        + (
            f"; {meta['resumed_runs']} of the runs reused from an earlier invocation's "
            "checkpoint (`--keep`), their time included in the total"
            if meta.get("resumed_runs")
            else ""
        )
        + (
            f"; tables re-rendered {meta['rendered']} from the saved runs (`--rerender`)"
            if meta.get("rendered")
            else ""
        ),
        f"- Machine: {m['cpu']}, {m['logical_cores']} logical cores ({m['usable_cores']} "
        f"usable), {m['ram_gib']} GiB RAM; {m['os']}",
        "- insightome side (product venv): "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        "- peers side (`benchmarks/.venv-peers`, pinned in `benchmarks/peers_requirements.txt`"
        + (f", {meta['peers_venv_mb']:.0f} MB on disk" if meta.get("peers_venv_mb") else "")
        + "): "
        + (", ".join(f"{k} {v}" for k, v in pv.items() if k != "network_attempts") or "n/a"),
        f"- Source: {meta['source']}",
        *_reuse_line(meta.get("reused_peer_runs")),
        f"- Datasets: {', '.join(meta['datasets'])}"
        + (f"; skipped: {'; '.join(meta['skipped'])}" if meta["skipped"] else ""),
        "",
        "![mean hold-out AUC against total CPU time](" + meta["plot"] + ")",
        "",
        "## Protocol",
        "",
        "Each dataset is split into stratified 50/50 training and hold-out halves exactly as "
        "`benchmarks/omics_suite.py` does (`train_test_split(stratify=y, test_size=0.5, "
        f"random_state=split)`, splits 0..{meta['splits'] - 1}; classes with fewer than "
        f"{omics_suite.MIN_CLASS_TOTAL} samples in the whole dataset are dropped first when a "
        "training half would hold fewer than 2 of them). Every tool gets the same halves and "
        "sees only the training half; its final model predicts the hold-out half, whose AUC "
        "the harness computes from the tool's probabilities (`roc_auc_score`; binary: "
        "P(second class in sorted order); multiclass: macro one-vs-rest). Cross-validation "
        f"inside the peers is {FOLDS}-fold, lowered to the smallest training class count where "
        f"a class is smaller; insightome chooses its own ({FOLDS}, fewer when the smallest "
        "class asks, 2 for a class of 2 training samples; a class of 1 training sample, too "
        "small to give every training fold one, is left out, its hold-out samples then scored "
        "with probability 0). Each tool x dataset x split "
        "runs in its own fresh subprocess (insightome in the product venv, peers through "
        "`benchmarks/peers_runner.py` in `benchmarks/.venv-peers`, offline: hub switches set, "
        "TPOT's update check disabled, non-loopback connections refused and counted).",
        "",
        "**estimate** = the tool's OWN estimate of its AUC; **err** = estimate - hold-out AUC "
        "(> 0: optimistic). **wall** = the subprocess's wall clock (interpreter start, data "
        "load, fit, predict). **CPU** = user+system CPU of the whole process tree: the "
        "`resource.getrusage(RUSAGE_CHILDREN)` delta around the subprocess, which includes "
        "every descendant that was waited for (a sampled per-process count is kept as a "
        f"cross-check). **peak MB** = the peak of the summed {meta['mem_methods']} of the "
        "subprocess and its descendants, sampled every 0.5 s (PSS shares shared pages among "
        "processes, so it is not inflated by forked workers). **energy** (estimated, Green "
        "Algorithms with insightome's constants): (CPU s x "
        f"{e['core_power_w']} W per core + wall s x peak memory GB x "
        f"{e['memory_power_w_per_gb']} W/GB) x PUE {e['pue']}; core power: "
        f"{e['core_power_source']}.",
        "",
        "## Budgets (per dataset x split, 2 cores)",
        "",
    ]
    for tool in tools:
        lines.append(f"- **{TOOL_LABELS[tool]}**: {meta['budget_text'][tool]}")
    lines += [
        f"- Hard cap per run: killed after max({HARD_TIMEOUT_FLOOR_S:.0f} s, 3 x its time "
        "budget + 300 s), counted as a failure. The full run (9 datasets x 2 splits x 6 tools "
        "= 108 runs) is sized to fit in 2 hours on 2 idle cores: projected "
        f"{projected_seconds(dict.fromkeys(DATASETS, 2), TOOLS) / 3600:.2f} h from typical "
        "wall seconds per run measured in smoke runs ("
        + ", ".join(f"{TOOL_LABELS[t]} {v:.0f}" for t, v in EXPECTED_RUN_SECONDS.items())
        + "; the time-limited tools use their whole limit).",
        "",
        "## Per tool",
        "",
        "Means over each tool's successful runs (n ok / runs); CPU, wall, memory and energy "
        "over all its runs, failures included.",
        "",
        "| tool | n ok | mean hold-out AUC | mean estimate | mean abs(err) | median abs(err) "
        "| mean err | total CPU s | mean wall s | max peak MB | total energy Wh (est.) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        lines.append(
            f"| {TOOL_LABELS[s['tool']]} | {s['n_ok']}/{s['n_runs']} "
            f"| {_f(s['mean_holdout_auc'])} | {_f(s['mean_estimate'])} "
            f"| {_f(s['mean_abs_error'])} | {_f(s.get('median_abs_error', math.nan))} "
            f"| {_f(s['mean_signed_error'], signed=True)} "
            f"| {s['total_cpu_s']:.0f} | {_f(s['mean_wall_s'], 0)} "
            f"| {_f(s['max_peak_mem_mb'], 0)} | {_f(s['total_energy_wh'], 2)} |"
        )
    t = tgt
    lines += [
        "",
        "## Targets",
        "",
        "Each compares insightome with a peer on the dataset x splits both completed. The "
        "bracket is the 95% CI of the paired difference (insightome - peer), from "
        f"{PAIRED_BOOTSTRAP:,} bootstrap resamples of the datasets (a dataset's splits "
        "resampled together): where it spans the threshold, the PASS or FAIL is within the "
        "noise of hold-out halves of 25-1,000 samples.",
    ]
    if t["auc"]["evaluated"]:
        lines.append(
            f"- insightome mean hold-out AUC >= every peer's - {TARGET_AUC_MARGIN}: "
            f"**{_pf(t['auc']['pass'])}**"
        )
        for c in t["auc"]["comparisons"]:
            lines.append(
                f"  - vs {TOOL_LABELS[c['peer']]} ({c['n_pairs']} runs): {_f(c['insightome'])} "
                f"vs {_f(c['peer_value'])} (difference {_f(c['difference'], signed=True)}"
                f"{_ci_text(c)}; insightome ahead on {c['datasets_ahead']}, level on "
                f"{c['datasets_level']}, behind on {c['datasets_behind']} of {c['n_datasets']} "
                f"datasets): {_pf(c['pass'])}"
            )
    else:
        lines.append("- hold-out AUC target: not evaluated (no insightome/peer pair completed)")
    if t["estimate_error"]["evaluated"]:
        lines.append(
            "- insightome's mean abs(estimate - hold-out) is the smallest: "
            f"**{_pf(t['estimate_error']['pass'])}**"
        )
        for c in t["estimate_error"]["comparisons"]:
            lines.append(
                f"  - vs {TOOL_LABELS[c['peer']]} ({c['n_pairs']} runs): {_f(c['insightome'])} "
                f"vs {_f(c['peer_value'])} (difference {_f(c['difference'], signed=True)}"
                f"{_ci_text(c)}): {_pf(c['pass'])}"
            )
    else:
        lines.append("- estimate-error target: not evaluated")
    c = t["cpu"]
    if c["evaluated"]:
        lines.append(
            f"- insightome CPU time <= {TARGET_CPU_RATIO:g} x AutoGluon best_quality's "
            f"({c['n_pairs']} runs): {c['insightome_cpu_s']:.0f} s vs "
            f"{c['autogluon_best_cpu_s']:.0f} s (ratio {_f(c['ratio'])}): **{_pf(c['pass'])}**"
        )
        w = c.get("without_discovery_audit")
        if not w and c.get("runs_without_stage_cpu"):
            lines.append(
                "  - without discovery and the model audit: not evaluated "
                f"({c['runs_without_stage_cpu']} insightome runs record no stage CPU)"
            )
        if w:
            lines.append(
                "  - without discovery and the model audit (their stages' "
                f"{w['discovery_audit_cpu_s']:.0f} CPU-s, by each run's energy ledger, "
                "subtracted; no peer runs either): "
                f"{w['insightome_cpu_s']:.0f} s (ratio {_f(w['ratio'])}): {_pf(w['pass'])}"
            )
            by_stage = c.get("insightome_stage_cpu_s") or {}
            lines.append(
                "  - insightome's CPU-s by stage, summed over the runs (energy ledger; the rest "
                "is the interpreter, imports and the workers' start): "
                + ", ".join(
                    f"{k} {v:.0f}" for k, v in sorted(by_stage.items(), key=lambda kv: -kv[1])
                )
            )
    else:
        lines.append("- CPU target: not evaluated (needs insightome and autogluon_best runs)")
    lines += ["", "## Per dataset: mean hold-out AUC over the splits", ""]
    lines += per_dataset_table(rows, tools)
    lines += [
        "",
        "## Per dataset x split",
        "",
        "| dataset | split | n train/hold | p | classes | tool | hold-out AUC | estimate | err "
        "| wall s | CPU s | peak MB | energy Wh | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        base = (
            f"| {r['dataset']} | {r['split']} | {r['n_train']}/{r['n_holdout']} | {r['p']} "
            f"| {r['n_classes']} | {TOOL_LABELS[r['tool']]} "
        )
        notes = "; ".join(r["notes"]).replace("|", "/")
        if "error" in r:
            err = r["error"].strip().splitlines()
            msg = (err[0] + (": " + err[-1] if len(err) > 1 else "")).replace("|", "/")[:300]
            lines.append(
                base + f"| **FAILED** | | | {r['wall_s']:.0f} | {r['cpu_s']:.0f} "
                f"| {r['peak_mem_mb']:.0f} | {r['energy_wh']:.3f} | {msg}; {notes} |"
            )
            continue
        lines.append(
            base + f"| {_f(r['holdout_auc'])} | {_f(r['estimate'])} "
            f"| {_f(r['error_est'], signed=True)} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} "
            f"| {r['peak_mem_mb']:.0f} | {r['energy_wh']:.3f} | {notes} |"
        )
    lines += ["", "## What each estimate is", ""]
    kinds: dict[str, set[str]] = {}
    for r in rows:
        if r.get("estimate_kind"):
            kinds.setdefault(r["tool"], set()).add(r["estimate_kind"])
    for tool in tools:
        for k in sorted(kinds.get(tool, ())):
            lines.append(f"- {TOOL_LABELS[tool]}: {k}")
    lines += ["", "## Notes", ""] + [f"- {n}" for n in meta["notes"]] + [""]
    if meta["quick"]:
        lines += ["Produced with `--quick`: not a valid benchmark result.", ""]
    return "\n".join(lines)


def _reuse_line(reuse: dict[str, Any] | None) -> list[str]:
    """The line saying which peers' runs were taken from an earlier results file."""
    if not reuse:
        return []
    m = reuse["machine"]
    return [
        f"- **Peers' runs reused** (`--reuse-peers {reuse['path']}`): {reuse['runs']} runs of "
        f"the peers from the run of {reuse['date']} ({reuse['source']}; machine: {m['cpu']}, "
        f"{m['usable_cores']} usable cores, {m['ram_gib']} GiB RAM), with the same splits, "
        "budgets and peer versions; "
        + (
            "only insightome's runs are new"
            if not reuse.get("run_now")
            else f"{reuse['run_now']} peers' runs missing there were run now, with insightome's"
        )
        + ". Their CPU times are compared with insightome's across the two days."
    ]


def _ci_text(c: dict[str, Any]) -> str:
    lo, hi = c["ci95"]
    if math.isnan(lo):
        return ""
    return f", 95% CI {_f(lo, signed=True)} to {_f(hi, signed=True)}"


def per_dataset_table(rows: list[dict[str, Any]], tools: Sequence[str]) -> list[str]:
    """Dataset x tool grid of mean hold-out AUC (best per row in bold; failures counted)."""
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    out = [
        "| dataset | " + " | ".join(TOOL_LABELS[t] for t in tools) + " |",
        "|---|" + "---|" * len(tools),
    ]
    for name in names:
        cells: list[tuple[float, str]] = []
        for tool in tools:
            mine = [r for r in rows if r["dataset"] == name and r["tool"] == tool]
            ok = [r["holdout_auc"] for r in mine if _ok(r)]
            value = _mean(ok)
            text = _f(value) if ok else "failed"
            if mine and len(ok) < len(mine) and ok:
                text += f" ({len(mine) - len(ok)} failed)"
            cells.append((value, text))
        best = max((v for v, _ in cells if not math.isnan(v)), default=math.nan)
        out.append(
            f"| {name} | " + " | ".join(f"**{t}**" if v == best else t for v, t in cells) + " |"
        )
    return out


def plot(summary: list[dict[str, Any]], path: Path, quick: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for s in summary:
        if not s["n_ok"] or not s["total_cpu_s"] > 0:
            continue
        mine = s["tool"] == "insightome"
        ax.scatter(s["total_cpu_s"], s["mean_holdout_auc"], s=90 if mine else 60,
                   marker="*" if mine else "o", color="C3" if mine else "C0", zorder=3)  # fmt: skip
        ax.annotate(TOOL_LABELS[s["tool"]], (s["total_cpu_s"], s["mean_holdout_auc"]),
                    textcoords="offset points", xytext=(6, 4), fontsize=8)  # fmt: skip
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.margins(x=0.35, y=0.15)
    ax.set_xlabel("total CPU time over all runs (s, log scale)")
    ax.set_ylabel("mean hold-out AUC")
    title = "Hold-out AUC vs CPU time (each tool's successful runs)"
    ax.set_title(title + (" - QUICK SMOKE TEST" if quick else ""), fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# --------------------------------------------------------------------------------------
# the peers venv
# --------------------------------------------------------------------------------------
def setup_venv() -> int:
    """Create ``benchmarks/.venv-peers`` if missing, then install the pinned set into it."""
    if not PEERS_PYTHON.exists():
        print(f"creating {PEERS_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    pip = [str(PEERS_PYTHON), "-m", "pip"]
    # --no-deps: the file is a complete, pinned set (see its header for why)
    subprocess.run([*pip, "install", "--quiet", "--no-deps", "-r", str(REQUIREMENTS)], check=True)
    check = subprocess.run([*pip, "check"], capture_output=True, text=True, check=False)
    expected = "tpot 1.1.0 requires xgboost, which is not installed."
    issues = [ln for ln in check.stdout.splitlines() if ln.strip() and ln.strip() != expected]
    if issues:
        print("pip check reports:\n" + "\n".join(issues), file=sys.stderr)
    versions = peer_versions()
    if versions is None:
        print("the peers venv does not import autogluon/tpot", file=sys.stderr)
        return 1
    attempts = versions.pop("network_attempts", [])
    print("peers venv ready: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    if attempts:
        print(f"importing the peers tried to reach the network: {attempts}", file=sys.stderr)
    return 0


def peer_versions() -> dict[str, Any] | None:
    if not PEERS_PYTHON.exists():
        return None
    proc = subprocess.run(
        [str(PEERS_PYTHON), str(RUNNER), "--versions"],
        capture_output=True,
        text=True,
        env=peer_env(),
        check=False,
        timeout=300,
    )
    return _marker_json(proc.stdout, RUNNER_MARKER) if proc.returncode == 0 else None


def _dir_mb(path: Path) -> float:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total / 2**20


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default=None,
                    help=f"comma-separated (default: all of {', '.join(DATASETS)}; "
                    f"--quick: {','.join(QUICK_DATASETS)})")  # fmt: skip
    ap.add_argument("--splits", type=int, default=None, help="50/50 splits, seeds 0.. (default 2)")
    ap.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated of {TOOLS}")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: colon, 1 split, tiny budgets (marked in the results)",
    )
    ap.add_argument("--setup", action="store_true", help="create / update the peers venv and exit")
    ap.add_argument("--n-jobs", type=int, default=2, help="cores given to every tool (default 2)")
    ap.add_argument("--output", type=Path, default=RESULTS_DIR / "peers.md",
                    help="Markdown results file (.json and .png written beside it)")  # fmt: skip
    ap.add_argument("--rerender", action="store_true",
                    help="rewrite <output>.md/.png and the targets from <output>.json's runs, "
                    "running nothing")  # fmt: skip
    ap.add_argument("--keep", action="store_true",
                    help="resume: reuse finished runs saved in <output>.partial.json")  # fmt: skip
    ap.add_argument("--reuse-peers", type=Path, default=None, metavar="RESULTS_JSON",
                    help="take the peers' runs (every tool but insightome) from an earlier "
                    "results .json instead of running them again; the tables say so")  # fmt: skip
    ap.add_argument("--one", nargs=2, metavar=("DATASET", "SPLIT"), help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.setup:
        return setup_venv()
    if args.rerender:
        return rerender(args.output)
    if args.one:
        child_main(args.one[0], int(args.one[1]), args.quick, args.n_jobs)
        return 0
    names = [d.strip() for d in (args.datasets or ",".join(
        QUICK_DATASETS if args.quick else DATASETS)).split(",") if d.strip()]  # fmt: skip
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in TOOLS] + [d for d in names if d not in DATASETS]
    if unknown:
        sys.exit(f"unknown tool(s)/dataset(s): {', '.join(unknown)}")
    splits = args.splits if args.splits is not None else (1 if args.quick else 2)
    if splits < 1:
        sys.exit("--splits must be at least 1")
    peers = [t for t in tools if t != "insightome"]
    borrowed, earlier = _earlier_peer_runs(args.reuse_peers, peers, args.quick)
    pv = (earlier or {}).get("peer_versions") if earlier else (peer_versions() if peers else None)
    if peers and pv is None:
        sys.exit(
            f"the peers venv {PEERS_VENV} is missing or broken: run "
            "`python benchmarks/peers.py --setup` first"
        )
    skipped = [f"{d} ({dataset_path(d)} not found)" for d in names if not dataset_available(d)]
    names = [d for d in names if dataset_available(d)]
    budgets = QUICK_BUDGETS if args.quick else BUDGETS
    energy = energy_constants()
    projected = projected_seconds(
        dict.fromkeys(names, splits), [t for t in tools if earlier is None or t == "insightome"]
    )
    print(f"{len(names)} dataset(s) x {splits} split(s) x {len(tools)} tool(s); projected "
          f"~{projected / 60:.0f} min" + (" (full budgets)" if args.quick else ""),
          flush=True)  # fmt: skip
    for s in skipped:
        print(f"skipped {s}", flush=True)

    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    partial = args.output.with_suffix(".partial.json")
    done: dict[tuple[str, int, str], dict[str, Any]] = {}
    reused: list[dict[str, Any]] = []  # the checkpointed runs this invocation kept
    if args.keep and partial.exists():
        for r in json.loads(partial.read_text()):
            done[(r["dataset"], int(r["split"]), r["tool"])] = r
        print(f"resuming: {len(done)} finished run(s) read from {partial}", flush=True)
    lent: list[dict[str, Any]] = []  # the peers' runs taken from --reuse-peers
    ds_notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="insightome-peers-") as tmp:
        for name in names:
            ds = load_dataset(name)
            ds_notes += [f"{name}: {n}" for n in ds.notes]
            for split in range(splits):
                sp = make_split(ds.labels, split)
                workdir = Path(tmp) / f"{name}-{split}"
                workdir.mkdir()
                data_file = workdir / "data.npz"
                info = write_npz(ds, sp, data_file)
                for tool in tools:
                    if (name, split, tool) in borrowed:
                        rows.append(borrowed[(name, split, tool)])
                        lent.append(rows[-1])
                        continue
                    if (name, split, tool) in done:
                        rows.append(done[(name, split, tool)])
                        reused.append(rows[-1])
                        continue
                    print(f"[{time.strftime('%H:%M:%S')}] {name} split {split} {tool} ...",
                          flush=True)  # fmt: skip
                    row = run_tool(tool, ds, sp, split, data_file=data_file, workdir=workdir,
                                   budgets=budgets, quick=args.quick, n_jobs=args.n_jobs,
                                   energy=energy)  # fmt: skip
                    if info["folds"] < FOLDS and tool != "insightome":
                        row["notes"].append(f"CV folds lowered to {info['folds']}")
                    rows.append(row)
                    _save_partial(partial, rows)
                    if "error" in row:
                        print(f"  FAILED after {row['wall_s']:.0f} s: {row['error']}", flush=True)
                    else:
                        print(f"  AUC {row['holdout_auc']:.3f}, estimate {_f(row['estimate'])}, "
                              f"wall {row['wall_s']:.0f} s, CPU {row['cpu_s']:.0f} s, peak "
                              f"{row['peak_mem_mb']:.0f} MB", flush=True)  # fmt: skip
                shutil.rmtree(workdir, ignore_errors=True)
    insightome_budget = {"preset": "fast" if args.quick else "default",
                         "repeats": 1 if args.quick else omics_suite.REPEATS}  # fmt: skip
    methods = sorted({r["mem_method"] for r in rows}) or ["PSS"]
    notes = [
        "OmicLearn is a Streamlit web app (not on PyPI); its default pipeline is re-implemented "
        "in `benchmarks/peers_runner.py` from MannLabs/OmicLearn `utils/ml_helper.py` and its "
        "UI defaults. OmicLearn is binary-only; multiclass uses macro one-vs-rest AUC.",
        "AutoGluon runs tree models only (no torch in the peers venv: no neural nets, no "
        "foundation models, nothing downloaded). Its estimate is the AUC of its best model on "
        "AutoGluon's own validation predictions: for medium_quality its internal hold-out "
        "validation split (the same rows that fit the ensemble weights; 5-20 rows on the omics "
        "sets), for "
        "best_quality the out-of-fold predictions of the bagged models. Binary: eval_metric "
        "`roc_auc`, and the estimate equals AutoGluon's `score_val`. Multiclass: eval_metric "
        "`log_loss`, because with `roc_auc_ovr_macro` every model's validation score was NaN on "
        "lymphoma (validation rows lacking some classes) and AutoGluon kept no model; the "
        "estimate is then the macro one-vs-rest AUC of the same predictions over the classes "
        "present.",
        "TPOT uses its `linear-light` search space (no inner classifiers, faster estimators): "
        "with the default `linear` space most pipelines were invalid on the tiny multiclass "
        "sets (stacked inner-classifier outputs change width with the classes present in a "
        "fold: 'X has 4033 features, but LGBMClassifier is expecting 4027'), and the light space "
        "suits a one-minute budget. TPOT's own estimate is the best CV score among everything "
        "it evaluated, so it carries the selection optimism BBC-CV removes.",
        "AutoGluon may drop classes too rare to train on; the hold-out AUC then gets 0 "
        "probability for them (stated in the row's notes).",
        "The peers venv installs `xgboost-cpu` (AutoGluon's own Linux requirement, also the "
        "product's) instead of `xgboost`, which TPOT names; same code, no 200+ MB NCCL wheel.",
        "insightome on the omics datasets runs through `omics_suite.run_one` unchanged; its "
        "hold-out AUC is recomputed here from the predicted probabilities and cross-checked.",
        *ds_notes,
    ]
    meta = {
        "command": "python " + shlex.join([os.path.relpath(Path(sys.argv[0]).resolve(), REPO),
                                           *sys.argv[1:]])
        if argv is None else "python benchmarks/peers.py " + shlex.join(argv),
        "date": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        "total_seconds": time.perf_counter() - start
        + sum(r["wall_s"] for r in reused),
        "resumed_runs": len(reused),
        "reused_peer_runs": None
        if earlier is None
        else {
            **earlier,
            "runs": len(lent),
            "run_now": sum(r["tool"] != "insightome" for r in rows) - len(lent),
        },
        "projected_seconds": projected,
        "quick": args.quick,
        "splits": splits,
        "n_jobs": args.n_jobs,
        "datasets": names,
        "skipped": skipped,
        "tools": tools,
        "budgets": {t: budgets.get(t, insightome_budget) for t in tools},
        "budget_text": {t: describe_budget(t, budgets.get(t, insightome_budget), args.n_jobs)
                        for t in tools},
        "machine": omics_suite.machine_info(),
        "versions": {**omics_suite.versions(), "matplotlib": _version("matplotlib")},
        "peer_versions": pv,
        "peers_venv_mb": (earlier or {}).get("peers_venv_mb")
        if earlier
        else (_dir_mb(PEERS_VENV) if peers else None),
        "source": _source_text(args.quick),
        "energy": energy,
        "mem_methods": "/".join(methods),
        "plot": args.output.with_suffix(".png").name,
        "notes": notes,
    }  # fmt: skip
    write_results(meta, rows, args.output)
    partial.unlink(missing_ok=True)
    return 0


def write_results(meta: dict[str, Any], rows: list[dict[str, Any]], output: Path) -> None:
    """Summaries, targets, plot, Markdown and JSON from the runs (each file: temp, rename)."""
    tools = meta["tools"]
    summary = summarize(rows, tools)
    tgt = targets(rows, tools)
    output.parent.mkdir(parents=True, exist_ok=True)
    payload = {"meta": meta, "targets": tgt, "summary": summary, "runs": rows}
    files = {
        output: render_markdown(meta, rows, summary, tgt),
        output.with_suffix(".json"): json.dumps(payload, indent=2, default=str) + "\n",
    }
    png = output.with_suffix(".png")
    tmp_png = png.with_name(png.stem + ".tmp.png")
    plot(summary, tmp_png, meta["quick"])
    for path, text in files.items():
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    tmp_png.replace(png)
    print(f"wrote {output}, {output.with_suffix('.json').name} and {png.name}", flush=True)


def rerender(output: Path) -> int:
    """Rewrite the Markdown, plot and targets from the runs saved in ``<output>.json``."""
    src = output.with_suffix(".json")
    if not src.exists():
        sys.exit(f"{src} not found: run the benchmark first")
    payload = json.loads(src.read_text())
    meta = payload["meta"]
    meta["rendered"] = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
    write_results(meta, payload["runs"], output)
    return 0


def _earlier_peer_runs(
    path: Path | None, peers: Sequence[str], quick: bool = False
) -> tuple[dict[tuple[str, int, str], dict[str, Any]], dict[str, Any] | None]:
    """``--reuse-peers``: the peers' runs of an earlier results .json by (dataset, split,
    tool), and where they came from (path, date, source, the peers' versions and venv
    size); ({}, None) without it. An earlier file from a ``--quick`` run (or a full one,
    for ``--quick``) or with other budgets is refused: its runs are not this benchmark's."""
    if path is None:
        return {}, None
    earlier = json.loads(path.read_text())
    budgets = QUICK_BUDGETS if quick else BUDGETS
    changed = [t for t in peers if earlier["meta"].get("budgets", {}).get(t) != budgets.get(t)]
    if bool(earlier["meta"].get("quick")) != quick or changed:
        sys.exit(
            f"--reuse-peers {path}: its runs were made with other settings "
            f"(quick={earlier['meta'].get('quick')}; budgets differ for {changed or 'none'})"
        )
    runs = {
        (r["dataset"], int(r["split"]), r["tool"]): r
        for r in earlier["runs"]
        if r["tool"] != "insightome" and r["tool"] in peers
    }
    meta = earlier["meta"]
    origin = meta.get("reused_peer_runs")
    if origin:  # that file reused them in turn: keep saying where they were run
        if origin.get("run_now"):
            sys.exit(
                f"--reuse-peers {path}: its peers' runs come from two runs ({origin['runs']} "
                f"reused, {origin['run_now']} run then); rerun the peers instead"
            )
        meta = {**meta, **{k: origin[k] for k in ("date", "source", "machine") if k in origin}}
        meta = {**meta, "peer_versions": origin.get("peer_versions"),
                "peers_venv_mb": origin.get("peers_venv_mb")}  # fmt: skip
    return runs, {
        "path": os.path.relpath(path.resolve(), REPO),
        "date": meta["date"],
        "source": meta["source"],
        "machine": meta["machine"],
        "peer_versions": meta.get("peer_versions"),
        "peers_venv_mb": meta.get("peers_venv_mb"),
    }


def _save_partial(path: Path, rows: list[dict[str, Any]]) -> None:
    """Checkpoint finished runs (temp file, then rename) so ``--keep`` can resume."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, default=str) + "\n")
    tmp.replace(path)


def _version(pkg: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def _source_text(quick: bool) -> str:
    if quick:
        return "not recorded in --quick runs"
    s = omics_suite.source_state()
    dirty = s["src_modified"]
    return f"git commit {s['commit']}" + (
        f" with uncommitted edits under src/: {', '.join(dirty)}" if dirty else " (src/ clean)"
    )


if __name__ == "__main__":
    sys.exit(main())
