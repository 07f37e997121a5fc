"""The SLURM fault kinds of ``benchmarks/faults.py``: faults of a real cluster.

They need a SLURM cluster that answers ``sinfo`` (``.ci/slurm-cluster start`` makes a
one-node one on 127.0.0.1); without one, each kind returns no trial and says why. Every
trial runs ``insightome run … --slurm-config`` (1-core, 1 GB worker jobs), hits it with its
fault, resumes it with the same configuration when it stopped, checks the runs folder and
that no worker job of the run is left in the queue, and compares the run with an
uninterrupted local run with the same seed.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCANCEL_ONE = "one worker job cancelled (scancel)"
SCANCEL_ALL = "the only worker job cancelled, no replacement allowed"
SIGTERM_MAIN = "the main process sent SIGTERM (its own job's time limit)"
WALLTIME = "worker walltime of 1 minute, shorter than the run"


TEST_CLUSTER = "insightome-test"  # .ci/slurm-cluster's ClusterName: never a real cluster


def usable_test_cluster() -> str | None:
    """The default partition of the one-node test cluster with a usable node, or None.
    Any other SLURM (a login node's) is refused: the faults submit and cancel jobs."""
    if shutil.which("sinfo") is None:
        return None
    try:
        config = _run("scontrol", "show", "config")
        states = _run("sinfo", "-h", "-o", "%P %T")
    except (OSError, subprocess.SubprocessError):
        return None
    if not re.search(rf"^ClusterName\s*=\s*{TEST_CLUSTER}\s*$", config, re.M):
        return None
    for line in states.splitlines():
        name, _, state = line.partition(" ")
        if name.endswith("*") and state.strip() in ("idle", "mixed", "allocated"):
            return name.rstrip("*")
    return None


def _run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, timeout=20, check=True).stdout


def queued_jobs() -> set[str]:
    out = subprocess.run(
        ["squeue", "--me", "-h", "-o", "%i"], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def slurm_config(folder: Path, queue: str, **fields: object) -> Path:
    settings = {"queue": queue, "cores": 1, "memory": "1GB", "walltime": "00:10:00", "jobs": 2}
    settings.update(fields)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "slurm.yaml"
    path.write_text("slurm:\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in settings.items()))
    return path


def slurm_trial(
    kind: str,
    fault: str,
    trial: int,
    seed: int,
    data: Path,
    options: Sequence[str],
    reference: Path,
    out: Path,
    config: Path,
    *,
    after_fits: int,
) -> dict[str, Any]:
    """One run on the cluster, hit by ``fault`` once ``after_fits`` fits are cached (the
    walltime fault needs no hand); resumed on the cluster when it stopped."""
    import faults  # faults.py imports this module to register its kinds

    before = queued_jobs()
    victim = faults.cli("run", data, *options, "--slurm-config", config, "--out", out)
    cached = faults.wait_for_fits(out, after_fits, victim)
    if fault == SIGTERM_MAIN:
        victim.send_signal(signal.SIGTERM)
    elif fault in (SCANCEL_ONE, SCANCEL_ALL):
        run_jobs = sorted(queued_jobs() - before, key=int)
        subprocess.run(["scancel", run_jobs[0]], check=True)
    code, _, err = faults.finish(victim)
    record = faults.settle(
        kind, trial, seed, fault, code, err, out, reference, cached,
        resume_with=("--slurm-config", config),
    )  # fmt: skip
    time.sleep(5)  # a cancelled job may still be COMPLETING for KillWait
    left = sorted(queued_jobs() - before)
    if left:  # the run (and its resume) must give every worker job back
        record["problems"].append(f"worker jobs left in the queue: {', '.join(left)}")
    runs = [p for p in out.iterdir() if (p / "results.json").is_file()]
    record["slurm_jobs"] = _slurm_jobs(runs[0]) if len(runs) == 1 else {}
    return record


def _slurm_jobs(run_dir: Path) -> dict[str, Any]:
    results = run_dir / "results.json"
    if not results.is_file():
        return {}
    backend = json.loads(results.read_text())["compute"].get("backend", {})
    return backend.get("slurm_jobs", {})


def _kind(
    kind: str, plan: Sequence[tuple[str, dict[str, Any], int]], seed: int, workdir: Path,
    *, repeats: int = 2,
) -> list[dict[str, Any]]:  # fmt: skip
    """Run ``plan``: one (fault, configuration fields, fits before the fault) per trial."""
    import faults  # faults.py imports this module to register its kinds

    queue = usable_test_cluster()
    if queue is None:
        print(f"{kind}: no SLURM test cluster ({TEST_CLUSTER}) answers (.ci/slurm-cluster start)")
        return []
    data = faults.breast_data(workdir / "breast240.csv")
    options = faults.run_options(seed, folds=3, repeats=repeats, late=False)
    reference, _ = faults.uninterrupted(data, options, workdir / "reference")
    records = []
    for trial, (fault, fields, after_fits) in enumerate(plan):
        folder = workdir / f"t{trial}"
        config = slurm_config(folder, queue, **fields)
        record = slurm_trial(
            kind, fault, trial, seed, data, options, reference, folder / "runs", config,
            after_fits=after_fits,
        )  # fmt: skip
        records.append(record)
    return records


def scancel_worker(trials: int, seed: int, workdir: Path) -> list[dict[str, Any]]:
    """A worker job cancelled mid-run, the fault moving through the run (after 4, 8, …
    fits); every third trial the run's only job, with no replacement allowed."""
    plan = [
        (SCANCEL_ALL, {"jobs": 1, "max_replacements": 0}, 4 + 4 * (t % 5))
        if t % 3 == 2
        else (SCANCEL_ONE, {}, 4 + 4 * (t % 5))
        for t in range(trials)
    ]
    return _kind("slurm-scancel", plan, seed, workdir, repeats=4)


def sigterm_main(trials: int, seed: int, workdir: Path) -> list[dict[str, Any]]:
    """The main process sent SIGTERM, as SLURM does at its own job's time limit."""
    plan = [(SIGTERM_MAIN, {}, 4 + 6 * (t % 4)) for t in range(trials)]
    return _kind("slurm-sigterm-main", plan, seed, workdir, repeats=4)


def walltime(trials: int, seed: int, workdir: Path) -> list[dict[str, Any]]:
    """Worker jobs with a 1-minute walltime under a run of about a minute: they retire
    before it and are replaced."""
    plan = [(WALLTIME, {"walltime": "00:01:00"}, 1) for _ in range(trials)]
    return _kind("slurm-walltime", plan, seed, workdir, repeats=20)
