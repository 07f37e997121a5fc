"""Faults: runs killed at random moments and workers lost mid-run, resumed and compared.

    PYTHONPATH=src python benchmarks/faults.py                      # every fault kind
    PYTHONPATH=src python benchmarks/faults.py --only dask-worker-sigkill --trials 3
    PYTHONPATH=src python benchmarks/faults.py --table-only         # faults.md from the json

``--only KIND`` reruns that row and keeps the other rows of ``faults.json``.

Each fault kind is a function in :data:`FAULT_KINDS` that runs its trials and returns one
record per trial (where the fault landed, how the run ended, whether ``--resume`` was
needed, whether the results equal an uninterrupted run's, what was wrong with the runs
folder). The records go to ``benchmarks/results/faults.json`` and the table to
``faults.md``; the numbers of the table come from the json. To add a fault kind (a SLURM
worker job cancelled with ``scancel``, a wall-time limit), write a function of
``(trials, seed, workdir)`` returning records made with :func:`trial_record` (a worker
fault can end with :func:`settle`, as the Dask and loky kinds do), and register it in
:data:`FAULT_KINDS`.

Two checks serve every kind, and ``tests/compute/test_faults.py`` uses them too:

* :func:`runs_folder_problems` — what makes a runs folder (``--out``) *corrupted*;
* :func:`compare_runs` — an interrupted-and-resumed run against an uninterrupted one with
  the same seed, ignoring only what :data:`RESUME_RULES` and ``diff_results.JSON_RULES``
  name (times, the compute ledger, versions, paths, random keys).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import diff_results
import faults_slurm
from insightome.audit.documents import DOCUMENTS
from insightome.results import validate_results
from insightome.run_directory import Run

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"

#: What a resumed run may legitimately differ in, beyond ``diff_results.JSON_RULES`` (times,
#: the compute ledger's measurements, timestamps, versions, absolute paths, hostnames, model
#: file and training-row digests). Each rule is counted when it matches.
RESUME_RULES: tuple[diff_results.Rule, ...] = (
    diff_results.Rule(
        "compute backend",
        "results.json 'compute.backend': where the fits ran (local processes or a Dask "
        "cluster), compared between a cluster run and the local reference",
        lambda p, v: p == ("compute", "backend"),
    ),
    diff_results.Rule(
        "parallel settings",
        "invocation 'n_jobs' and 'scheduler': how the fits were run, which --resume may "
        "change and which never changes a result",
        lambda p, v: len(p) == 2 and p[0] == "invocation" and p[1] in ("n_jobs", "scheduler"),
    ),
)
#: The files compared (the others are pickles, HTML, logs and random keys: see
#: ``diff_results.NOT_COMPARED``).
COMPARED_SUFFIXES = (".json", ".csv", ".tsv", ".md")

#: The stages a ``.partial`` directory saves, in order (``insightome.workflow.STAGES``).
SAVED_STAGES = ("plan", "select", "estimate", "refit", "discover", "audit", "document")
#: Where a kill landed, from what the runs folder shows (the stage after the last one saved).
LANDED_AFTER = {
    None: "study/screen/plan",
    "plan": "select",
    "select": "estimate",
    "estimate": "refit",
    "refit": "discover",
    "discover": "audit",
    "audit": "document",
    "document": "write",
}


# --------------------------------------------------------------------------------------
# data and commands
# --------------------------------------------------------------------------------------
def breast_data(path: Path, n: int = 240) -> Path:
    """scikit-learn's breast-cancer data: ``n`` samples x 10 features, a text outcome, and
    a made-up sensitive attribute (every third sample 'M') so the audit has groups."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    df = bunch.data.iloc[:n, :10].copy()
    df["diagnosis"] = bunch.target[:n].map({0: "malignant", 1: "benign"})
    df["sex"] = ["M" if i % 3 == 0 else "F" for i in range(n)]
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index_label="sample")
    return path


def run_options(seed: int, *, folds: int = 3, repeats: int = 1, late: bool = True) -> list[str]:
    """The options of a small run (``late``: with discovery and the audit, so the late
    stages exist)."""
    options = [
        "--target", "diagnosis", "--id-column", "sample", "--sensitive", "sex",
        "--preset", "fast", "--folds", str(folds), "--repeats", str(repeats),
        "--bootstrap", "200", "--seed", str(seed), "--n-jobs", "1", "--quiet",
    ]  # fmt: skip
    return options if late else [*options, "--no-discover", "--no-audit"]


def cli(*args: object) -> subprocess.Popen[str]:
    """``insightome`` in a subprocess (this interpreter, this environment)."""
    return subprocess.Popen(
        [sys.executable, "-m", "insightome.cli.app", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 600) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def uninterrupted(data: Path, options: Sequence[str], out: Path) -> tuple[Path, float]:
    """A reference run: its directory and its wall time (process start to exit)."""
    start = time.perf_counter()
    code, _, err = finish(cli("run", data, *options, "--out", out))
    seconds = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"the reference run failed ({code}): {err[-2000:]}")
    (run_dir,) = out.iterdir()
    return run_dir, seconds


# --------------------------------------------------------------------------------------
# the runs folder: what "corrupted" means
# --------------------------------------------------------------------------------------
def runs_folder_problems(out: Path) -> list[str]:
    """Everything that makes the runs folder ``out`` corrupted; empty when it is not.

    A runs folder is *not corrupted* when every entry is one of:

    * a whole run: ``results.json`` valid against the shipped schema, ``model.joblib``
      matching the sha256 in ``model.json`` (:meth:`Run.load`), every file the run lists
      present (``predictions.csv``, ``report.html``, ``run.log``, the training-row files,
      each document of ``results.json["documents"]``, ``hypotheses.tsv`` and the
      signature model with discovery), and no temporary (hidden) file inside;
    * a ``.partial`` directory that ``--resume`` accepts: ``invocation.json`` readable
      with the data file it names, no ``results.json``, every stage file and fit-cache
      entry readable (hidden temporaries inside are allowed: resume removes them);
    * a hidden entry (``.<name>…``): a temporary of a write a kill interrupted, which no
      command reads as a run; :func:`hidden_entries` lists them.

    A whole run beside its own ``.partial`` (a kill between the two final renames) is not
    corrupted: ``--resume`` of that ``.partial`` returns the finished run and removes it.
    """
    if not out.exists():
        return []
    problems = []
    for entry in sorted(out.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            problems.append(f"{entry.name}: a file in the runs folder")
        elif entry.name.endswith(".partial"):
            problems += [f"{entry.name}: {p}" for p in _partial_problems(entry)]
        else:
            problems += [f"{entry.name}: {p}" for p in _run_problems(entry)]
    return problems


def hidden_entries(out: Path) -> list[str]:
    """Hidden temporaries in the runs folder (not runs; removed by resume or the next run)."""
    return sorted(p.name for p in out.iterdir() if p.name.startswith(".")) if out.exists() else []


def _run_problems(run_dir: Path) -> list[str]:
    try:
        run = Run.load(run_dir)
        validate_results(run.results, where=f"{run_dir}/results.json")
    except Exception as exc:  # any failure to load is what is being looked for
        return [f"not a whole run ({type(exc).__name__}: {str(exc)[:200]})"]
    listed = ["predictions.csv", "report.html", "run.log", "model.json"]
    listed += [Path(f).name for f in (run.model_card.get("training_rows") or {}).get("files", [])]
    listed += [DOCUMENTS[key][0] for key in run.results.get("documents") or {}]
    if run.results.get("discovery") is not None:
        listed.append("hypotheses.tsv")
        if run.model_card.get("signature"):
            listed.append("signature_model.joblib")
    problems = [f"{name} missing" for name in listed if not (run_dir / name).is_file()]
    hidden = [p.name for p in run_dir.rglob(".*")]
    if hidden:
        problems.append(f"temporary files inside a finished run: {', '.join(hidden)}")
    return problems


def _partial_problems(partial: Path) -> list[str]:
    problems = []
    try:
        invocation = json.loads((partial / "invocation.json").read_text())
        if not invocation.get("data"):
            problems.append("invocation.json names no data file")
    except (OSError, ValueError) as exc:
        problems.append(f"invocation.json unreadable ({type(exc).__name__}): --resume refuses it")
    if (partial / "results.json").exists():
        problems.append("a results.json in a .partial directory")
    for stage_file in sorted((partial / "stages").glob("[!.]*.pickle")):
        try:
            with stage_file.open("rb") as fh:
                pickle.load(fh)
        except Exception as exc:
            problems.append(f"{stage_file.name} unreadable ({type(exc).__name__})")
    for entry in sorted((partial / "cache").glob("[!.]*.npz")):
        try:
            with np.load(entry, allow_pickle=False) as f:
                f["ok"], f["seconds"]
        except Exception as exc:
            problems.append(f"cache/{entry.name} unreadable ({type(exc).__name__})")
    return problems


def landed(out: Path) -> str:
    """Where a kill landed, read from the runs folder it left."""
    partials = [p for p in out.glob("*.partial") if p.is_dir()] if out.exists() else []
    finals = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")] if (
        out.exists()
    ) else []  # fmt: skip
    finals = [p for p in finals if not p.name.endswith(".partial")]
    if finals and partials:
        return "write (run renamed, .partial not yet removed)"
    if finals:
        removing = any(p.name.endswith(".partial.removed") for p in out.iterdir())
        return "write (removing the .partial)" if removing else "finished"
    if not partials:
        return "start-up/read/study (before the .partial)"
    saved = [s for s in SAVED_STAGES if (partials[0] / "stages" / f"{s}.pickle").is_file()]
    return LANDED_AFTER[saved[-1] if saved else None]


# --------------------------------------------------------------------------------------
# comparison with an uninterrupted run
# --------------------------------------------------------------------------------------
@dataclass
class Comparison:
    differences: list[str]
    ignored: dict[str, int]  # rule name -> how often it matched
    files: int

    @property
    def identical(self) -> bool:
        return not self.differences


def compare_runs(reference: Path, run_dir: Path) -> Comparison:
    """results.json, predictions.csv, hypotheses.tsv and the documents of two run
    directories, value by value, ignoring only what ``diff_results.JSON_RULES`` /
    ``TEXT_RULES`` and :data:`RESUME_RULES` name (model.joblib, report.html, run.log and
    the random training-row key are not compared: see ``diff_results.NOT_COMPARED``)."""
    report = diff_results.Report()
    rules = [*diff_results.JSON_RULES, *RESUME_RULES]
    names = sorted(
        {p.name for d in (reference, run_dir) for p in d.iterdir()}
        & {p.name for p in reference.iterdir() if p.suffix in COMPARED_SUFFIXES}
    )
    for name in names:
        a, b = reference / name, run_dir / name
        if not b.is_file():
            report.differ(name, "missing from the resumed run")
        elif a.suffix == ".json":
            diff_results.compare_json(
                json.loads(a.read_text()), json.loads(b.read_text()), name, report, rules
            )
        else:
            diff_results.compare_files(a, b, name, report, set())
    for name in sorted({p.name for p in run_dir.iterdir() if p.suffix in COMPARED_SUFFIXES}):
        if not (reference / name).is_file():
            report.differ(name, "only in the resumed run")
    differences = [f"{f}: {d}" for f, ds in report.differences.items() for d in ds]
    return Comparison(differences, dict(report.rule_matches), len(names))


# --------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------
def trial_record(
    kind: str,
    trial: int,
    seed: int,
    *,
    landed_in: str,
    finished_without_resume: bool,
    resumed: bool,
    comparison: Comparison | None,
    problems: Sequence[str],
    **details: Any,
) -> dict[str, Any]:
    """One trial of a fault kind: where the fault landed, how the run ended, whether the
    results equal the uninterrupted run's, and every problem found in the runs folder
    (after the fault, and after the resume)."""
    return {
        "kind": kind,
        "trial": trial,
        "seed": seed,
        "landed": landed_in,
        "finished_without_resume": finished_without_resume,
        "resumed": resumed,
        "identical": None if comparison is None else comparison.identical,
        "differences": [] if comparison is None else comparison.differences[:20],
        "ignored": {} if comparison is None else comparison.ignored,
        "corrupted": bool(problems),
        "problems": list(problems),
        **details,
    }


def resume_and_check(
    partial: Path, out: Path, reference: Path, *extra: object
) -> tuple[dict[str, Any], Path]:
    """``insightome run --resume`` on ``partial`` (with ``extra`` options, e.g. the
    cluster's); the runs folder must then hold the one finished run and nothing else.
    Returns what happened and the run directory."""
    code, stdout, err = finish(cli("run", "--resume", partial, "--quiet", *extra))
    problems = [] if code == 0 else [f"--resume exited {code}: {err.strip()[-500:]}"]
    problems += [f"after resume: {p}" for p in runs_folder_problems(out)]
    left = [p.name for p in out.iterdir() if p.name != partial.name.removesuffix(".partial")]
    if left:
        problems.append(f"after resume, besides the run: {', '.join(sorted(left))}")
    run_dir = Path(stdout.strip().splitlines()[-1]) if code == 0 and stdout.strip() else None
    if run_dir is not None and run_dir.name != partial.name.removesuffix(".partial"):
        problems.append(f"resume wrote {run_dir.name}, not {partial.name}'s run")
    return {"resume_exit_code": code, "problems": problems}, run_dir or partial


# --------------------------------------------------------------------------------------
# fault kinds
# --------------------------------------------------------------------------------------
def main_process_sigkill(
    trials: int, seed: int, workdir: Path, *, n_samples: int = 240, **run_settings: Any
) -> list[dict[str, Any]]:
    """The main process of ``insightome run`` (local backend) killed with SIGKILL after a
    seeded-random delay in [0, the wall time of an uninterrupted run] (stratified: trial i
    of n in the i-th n-th of it, so the kills spread over the whole run), then resumed."""
    kind = "main-sigkill"
    data = breast_data(workdir / f"breast{n_samples}.csv", n_samples)
    options = run_options(seed, **run_settings)
    reference, duration = uninterrupted(data, options, workdir / "reference")
    rng = random.Random(seed)
    records = []
    for trial in range(trials):
        # stratified: trial i in the i-th of ``trials`` equal slices of the run
        delay = rng.uniform(trial, trial + 1) * duration / trials
        out = workdir / f"{kind}-{trial}"
        victim = cli("run", data, *options, "--out", out)
        try:
            code = victim.wait(timeout=delay)  # finished before the kill
        except subprocess.TimeoutExpired:
            os.kill(victim.pid, signal.SIGKILL)
            code = victim.wait()
        victim.communicate()
        where = landed(out)
        problems = runs_folder_problems(out)
        hidden = hidden_entries(out)
        partials = sorted(out.glob("*.partial")) if out.exists() else []
        comparison, resumed, details = None, False, {}
        if partials:
            resumed = True
            details, run_dir = resume_and_check(partials[0], out, reference)
            problems += details.pop("problems")
            comparison = compare_runs(reference, run_dir)
        elif where == "finished":
            (run_dir,) = [p for p in out.iterdir() if not p.name.startswith(".")]
            comparison = compare_runs(reference, run_dir)
        records.append(
            trial_record(
                kind,
                trial,
                seed,
                landed_in=where,
                finished_without_resume=where == "finished",
                resumed=resumed,
                comparison=comparison,
                problems=problems,
                delay_s=round(delay, 2),
                run_seconds=round(duration, 2),
                exit_code=code,
                hidden_after_kill=hidden,
                **details,
            )
        )
        print(f"{kind} #{trial}: {delay:.1f}s -> {where}; {records[-1]['identical']}", flush=True)
    return records


#: What a Dask trial does to the cluster once some fits are cached.
DASK_FAULTS = {
    "one worker killed": "SIGKILL of one worker's OS process (its nanny starts a new one)",
    "cluster closed": "the scheduler and every worker shut down (LocalCluster.close)",
    "no worker left": "every worker retired (LocalCluster.scale(0)); the scheduler stays",
}


def dask_worker_sigkill(
    trials: int, seed: int, workdir: Path, *, n_samples: int = 240
) -> list[dict[str, Any]]:
    """A local Dask cluster (2 worker processes, 1 thread each) loses workers mid-run:
    trials cycle through one worker killed (twice), the cluster closed, one worker killed
    (twice), no worker left (:data:`DASK_FAULTS`). The run must finish with results equal
    to a local run's, or stop with one line naming the ``--resume`` command, which must
    then finish it with equal results."""
    data = breast_data(workdir / f"breast{n_samples}.csv", n_samples)
    options = lean_options(seed)
    reference, _ = uninterrupted(data, options, workdir / "dask-reference")
    cycle = ["one worker killed", "one worker killed", "cluster closed"] * 2
    cycle[5] = "no worker left"
    return [
        dask_trial(cycle[trial % 6], trial, seed, data, options, reference, workdir / f"t{trial}")
        for trial in range(trials)
    ]


def lean_options(seed: int) -> list[str]:
    """No discovery or audit; 3 folds x 2 repeats x 6 candidates = 36 fits: enough for a
    fault to land while fits run."""
    return run_options(seed, folds=3, repeats=2, late=False)


def dask_trial(
    fault: str,
    trial: int,
    seed: int,
    data: Path,
    options: Sequence[str],
    reference: Path,
    out: Path,
    *,
    after_fits: int = 6,
) -> dict[str, Any]:
    """One run on a fresh LocalCluster, hit by ``fault`` once ``after_fits`` fits are
    cached; resumed (locally) when it stopped; checked and compared with ``reference``."""
    from distributed import Client, LocalCluster

    kind = "dask-worker-sigkill"
    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        address = cluster.scheduler_address
        victim = cli("run", data, *options, "--scheduler", address, "--out", out)
        cached = wait_for_fits(out, after_fits, victim)
        if fault == "cluster closed":
            cluster.close()
        elif fault == "no worker left":
            cluster.scale(0)
        else:
            with Client(address) as client:
                pids = client.run(os.getpid)
            os.kill(sorted(pids.values())[0], signal.SIGKILL)
        code, _, err = finish(victim)
    return settle(kind, trial, seed, fault, code, err, out, reference, cached)


def settle(
    kind: str,
    trial: int,
    seed: int,
    fault: str,
    code: int,
    err: str,
    out: Path,
    reference: Path,
    cached: int,
    *,
    resume_with: Sequence[object] = (),
) -> dict[str, Any]:
    """After a worker fault: the runs folder checked; a stopped run must have printed one
    line (no traceback) and is resumed (locally, or with the options ``resume_with``);
    the run compared with ``reference``."""
    problems = runs_folder_problems(out)
    lines = err.strip().splitlines()
    details: dict[str, Any] = {
        "fault": fault,
        "exit_code": code,
        "message": lines[-1] if code != 0 and lines else "",
        "traceback": "Traceback" in err,
    }
    if code != 0 and (details["traceback"] or len(lines) != 1):
        others = [line for line in lines[:-1] if line.strip()][:3]  # what else was printed
        problems.append(f"stopped without one clear line: also {others!r}; {lines[-1][:200]!r}")
    partials = sorted(out.glob("*.partial"))
    resumed = code != 0 and bool(partials)
    if resumed:
        more, run_dir = resume_and_check(partials[0], out, reference, *resume_with)
        problems += more.pop("problems")
        details.update(more)
    else:
        finals = [p for p in out.iterdir() if not p.name.startswith(".")]
        run_dir = finals[0] if len(finals) == 1 else out
    comparison = compare_runs(reference, run_dir)
    print(f"{kind} #{trial}: {fault} -> exit {code}; identical {comparison.identical}")
    return trial_record(
        kind, trial, seed, landed_in=f"select ({cached} fits cached)",
        finished_without_resume=code == 0, resumed=resumed, comparison=comparison,
        problems=problems, **details,
    )  # fmt: skip


def local_worker_sigkill(
    trials: int, seed: int, workdir: Path, *, n_samples: int = 240
) -> list[dict[str, Any]]:
    """``--n-jobs 2`` (joblib's loky process pool): once 6 fits are cached, one pool
    worker is killed with SIGKILL (as the kernel's out-of-memory killer would). The run
    must stop with one line naming the ``--resume`` command (loky's pool cannot go on
    without the worker), and the resume must equal a ``--n-jobs 1`` run."""
    import psutil

    kind = "local-worker-sigkill"
    data = breast_data(workdir / f"breast{n_samples}.csv", n_samples)
    options = lean_options(seed)
    reference, _ = uninterrupted(data, options, workdir / "reference")
    two = list(options)
    two[two.index("--n-jobs") + 1] = "2"
    records = []
    for trial in range(trials):
        out = workdir / f"t{trial}"
        victim = cli("run", data, *two, "--out", out)
        cached = wait_for_fits(out, 6, victim)
        pool = [
            child
            for child in psutil.Process(victim.pid).children(recursive=True)
            if any(part.startswith("LokyProcess") for part in child.cmdline())
        ]
        os.kill(pool[0].pid, signal.SIGKILL)
        code, _, err = finish(victim)
        fault = "one pool worker killed"
        records.append(settle(kind, trial, seed, fault, code, err, out, reference, cached))
    return records


def wait_for_fits(out: Path, n: int, process: subprocess.Popen[str], limit: float = 300) -> int:
    """Wait until the run's fit cache holds ``n`` entries; return how many it holds."""
    deadline = time.time() + limit
    while time.time() < deadline and process.poll() is None:
        entries = [p for p in out.glob("*.partial/cache/*.npz") if not p.name.startswith(".")]
        if len(entries) >= n:
            return len(entries)
        time.sleep(0.02)
    raise RuntimeError(f"the run never cached {n} fits (exit code {process.poll()})")


@dataclass(frozen=True)
class FaultKind:
    title: str
    trials: int  # default number of trials
    run: Callable[[int, int, Path], list[dict[str, Any]]]
    setup: str  # the runs and the fault, for the table's notes


#: Every fault kind, by the name ``--only`` takes.
FAULT_KINDS: dict[str, FaultKind] = {
    "main-sigkill": FaultKind(
        "main process SIGKILL at a random moment (local backend)",
        20,
        main_process_sigkill,
        "breast cancer 240 x 10, --preset fast --folds 3 --repeats 1 --bootstrap 200 "
        "--n-jobs 1 --sensitive sex, discovery and audit on; kill i of n after a random "
        "delay in the i-th n-th of an uninterrupted run's wall time (process start to exit)",
    ),
    "dask-worker-sigkill": FaultKind(
        "Dask worker SIGKILL mid-run (LocalCluster)",
        6,
        dask_worker_sigkill,
        "breast cancer 240 x 10, --preset fast --folds 3 --repeats 2 (36 fits) --no-discover "
        "--no-audit --scheduler on LocalCluster(n_workers=2, processes=True, "
        "threads_per_worker=1); after 6 fits cached: one worker's process SIGKILLed (4 "
        "trials), the cluster closed (1), every worker retired (1); compared with a local "
        "--n-jobs 1 run; a stopped run resumed locally",
    ),
    "local-worker-sigkill": FaultKind(
        "local worker process SIGKILL mid-run (--n-jobs 2)",
        3,
        local_worker_sigkill,
        "breast cancer 240 x 10, as the Dask row but --n-jobs 2 (joblib's loky pool); after "
        "6 fits cached, one LokyProcess SIGKILLed; compared with a --n-jobs 1 run",
    ),
    # a real SLURM cluster (faults_slurm.py; skipped, with a line, when none answers)
    "slurm-scancel": FaultKind(
        "SLURM worker job cancelled mid-run (scancel; every third: the only job, no "
        "replacement allowed)",
        6,
        faults_slurm.scancel_worker,
        "breast cancer 240 x 10, --preset fast --folds 3 --repeats 4 (72 fits) --no-discover "
        "--no-audit --slurm-config: 2 jobs of 1 core, 1 GB (every third trial: 1 job, "
        "max_replacements 0) on the one-node test cluster (.ci/slurm-cluster); after 4, 8, "
        "... 20 fits cached, the run's first job scancelled; a stopped run resumed with the "
        "same --slurm-config; compared with a local --n-jobs 1 run",
    ),
    "slurm-sigterm-main": FaultKind(
        "SLURM: main process sent SIGTERM mid-run (its own job's time limit)",
        3,
        faults_slurm.sigterm_main,
        "as slurm-scancel, 2 jobs; after 4, 10, 16 fits cached, SIGTERM to the insightome "
        "process; resumed with the same --slurm-config",
    ),
    "slurm-walltime": FaultKind(
        "SLURM worker walltime (1 min) shorter than the run",
        2,
        faults_slurm.walltime,
        "as slurm-scancel but --repeats 20 (360 fits), 2 jobs with walltime 00:01:00: each "
        "worker retires after 30 +- 10 s and is replaced (faults.json: slurm_jobs per trial)",
    ),
}


# --------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------
def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One row of the table: counts over a kind's trials, and where the faults landed."""
    return {
        "faults_tried": len(records),
        # the run directory written whole, whether or not the process lived to exit 0
        "finished_without_resume": sum(
            r["finished_without_resume"] or r["landed"] == "finished" for r in records
        ),
        "nothing_to_resume": sum(r["landed"].startswith("start-up") for r in records),
        "resumed": sum(r["resumed"] for r in records),
        "identical": sum(r["identical"] is True for r in records),
        "compared": sum(r["identical"] is not None for r in records),
        "corrupted": sum(r["corrupted"] for r in records),
        "landed": dict(Counter(r["landed"] for r in records)),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Faults: runs killed and workers lost, resumed and compared",
        "",
        "Made by `benchmarks/faults.py`; every number is from `faults.json`.",
        "",
        "| fault | faults tried | finished without resume | runs resumed | killed before "
        "the .partial (nothing to resume) | results identical | directories corrupted | seed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind in report["kinds"].values():
        s = kind["summary"]
        lines.append(
            f"| {kind['title']} | {s['faults_tried']} | {s['finished_without_resume']} | "
            f"{s['resumed']} | {s['nothing_to_resume']} | {s['identical']} of {s['compared']} | "
            f"{s['corrupted']} | "
            f"{kind['seed']} |"
        )
    lines += ["", "Where and when each row was run:", ""]
    for kind in report["kinds"].values():
        lines.append(
            f"- {kind['title']}: {kind['machine']}, {kind['date']}, insightome commit "
            f"`{kind['commit']}`, {kind['seconds']:.0f} s in all; {kind['setup']}"
        )
    lines += [
        "",
        "*Results identical*: results.json, predictions.csv, hypotheses.tsv and the documents "
        "equal an uninterrupted run's with the same seed, value by value, ignoring only "
        "times, the compute ledger, timestamps, versions, absolute paths and random keys "
        "(`compare_runs`; the rules it used are counted in faults.json). A kill before the "
        "`.partial` directory existed leaves nothing to resume (its own column); the folder "
        "is still checked. *Corrupted* (`runs_folder_problems`): anything in "
        "the runs folder other than whole runs, `.partial` directories that `--resume` "
        "accepts and hidden temporaries — checked after every fault and after every resume.",
        "",
        "Where the faults landed:",
        "",
    ]
    for kind in report["kinds"].values():
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(kind["summary"]["landed"].items()))
        lines.append(f"- {kind['title']}: {shown}")
    problems = [
        f"- {r['kind']} #{r['trial']}: {p}"
        for kind in report["kinds"].values()
        for r in kind["trials"]
        for p in [*r["problems"], *r["differences"]]
    ]
    lines += ["", "Problems found:", "", *(problems or ["- none"])]
    messages = sorted(
        {r["message"] for k in report["kinds"].values() for r in k["trials"] if r.get("message")}
    )
    if messages:
        lines += ["", "What a stopped run printed (one line):", ""]
        lines += [f"- `{m}`" for m in messages]
    return "\n".join(lines) + "\n"


def git_commit() -> str:
    """The short commit, with ``+changes`` when src/ differs from it."""
    try:
        head, changes = (
            subprocess.run(
                ["git", "-C", str(ROOT), *command], capture_output=True, text=True, check=True
            ).stdout.strip()
            for command in (["rev-parse", "--short", "HEAD"], ["status", "--porcelain", "src"])
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if changes else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(FAULT_KINDS), action="append")
    parser.add_argument("--trials", type=int, help="trials per kind (default: each kind's own)")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/insightome-faults"))
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--table-only", action="store_true", help="rewrite faults.md from faults.json; run nothing"
    )
    args = parser.parse_args(argv)
    kinds = [] if args.table_only else args.only or list(FAULT_KINDS)
    path = args.results_dir / "faults.json"
    # --only reruns those kinds; the other rows of an earlier run are kept
    report: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {"kinds": {}}
    for kind_report in report["kinds"].values():  # the table's numbers, from the records
        kind_report["summary"] = summarize(kind_report["trials"])
    for name in kinds:
        kind = FAULT_KINDS[name]
        workdir = args.workdir / name
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        start, commit = time.perf_counter(), git_commit()  # the code the trials run
        records = kind.run(args.trials or kind.trials, args.seed, workdir)
        if not records:
            continue  # nothing to run it on (no SLURM cluster): the last records stay
        report["kinds"][name] = {
            "title": kind.title,
            "setup": kind.setup,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "commit": commit,
            "seed": args.seed,
            "seconds": round(time.perf_counter() - start, 1),
            "summary": summarize(records),
            "trials": records,
        }
    report["kinds"] = {k: report["kinds"][k] for k in FAULT_KINDS if k in report["kinds"]}
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    (args.results_dir / "faults.md").write_text(markdown(report))
    print(markdown(report))
    bad = sum(
        k["summary"]["corrupted"] + k["summary"]["compared"] - k["summary"]["identical"]
        for k in report["kinds"].values()
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
