"""The supercomputer path on a real SLURM cluster: jobs submitted, faults survived.

Each test runs ``insightome run … --slurm-config`` as a user would (a real process) on the
one-node cluster of ``.ci/slurm-cluster`` and compares it with the same run on the local
backend: the same seed gives the same estimate, configurations and predictions, whatever
happened to the worker jobs on the way.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.cluster.conftest import (
    RUN,
    assert_same_results,
    cancel_a_job_mid_run,
    cli,
    finished,
    gone,
    my_jobs,
    new_jobs,
    slurm_yaml,
    wait_for,
)

pytestmark = pytest.mark.cluster

REPEATS_PAST_LIFETIME = 100  # repeats whose fits outlast a worker's 30 ± 10 s lifetime


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err, err[-3000:]


def test_run_submits_worker_jobs_and_equals_the_local_run(
    partition, data, local_reference, tmp_path
):
    config = slurm_yaml(tmp_path, partition, jobs=2)
    out = tmp_path / "runs"
    proc = cli("run", data, *RUN, "--repeats", 4, "--slurm-config", config, "--out", out)
    seen: dict[str, str] = {}

    def running_workers() -> bool:
        seen.update({j: s for j, s in my_jobs().items() if s == "RUNNING"})
        return len(seen) >= 2 or proc.poll() is not None

    wait_for(running_workers, 120, "two running worker jobs in squeue")
    job = next(iter(seen))
    shown = subprocess.run(
        ["scontrol", "show", "job", job], capture_output=True, text=True, check=True
    ).stdout
    assert f"Partition={partition}" in shown and "JobName=dask-worker" in shown
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    _no_traceback(err)

    run = finished(out)
    assert_same_results(run, local_reference(4))
    backend = run.results["compute"]["backend"]
    assert backend["backend"] == "dask-jobqueue SLURM"
    assert backend["connections"].startswith("TLS")
    jobs = backend["slurm_jobs"]
    assert set(seen) <= set(jobs["submitted"]) and len(jobs["submitted"]) == 2
    assert jobs["ended_early"] == [] and jobs["nodes"]
    # the energy ledger says what it measured and what it did not
    machines = backend["machines"]
    assert "this machine" in machines["measured"][0]
    assert all(j in machines["not_measured"][0] for j in jobs["submitted"])
    assert "Not measured: SLURM worker job(s)" in (run.directory / "report.html").read_text()
    assert backend["events"][0].startswith("SLURM: submitted 2 worker job(s)")
    # the run gave its jobs back
    wait_for(lambda: gone(jobs["submitted"]), 60, "the run's jobs to leave the queue")


def test_a_worker_job_cancelled_mid_run_is_replaced(partition, data, local_reference, tmp_path):
    config = slurm_yaml(tmp_path, partition, jobs=2)
    out = tmp_path / "runs"
    proc, victim = cancel_a_job_mid_run(data, RUN, config, out)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    _no_traceback(err)

    run = finished(out)
    assert_same_results(run, local_reference(4))
    jobs = run.results["compute"]["backend"]["slurm_jobs"]
    assert jobs["ended_early"] == [victim]
    assert len(jobs["submitted"]) == 3  # the two asked for and the replacement
    log = (run.directory / "run.log").read_text()
    assert f"worker job {victim} ended (CANCELLED)" in log and "resubmitted" in log


def test_when_no_worker_is_left_the_run_stops_and_resumes_identically(
    partition, data, local_reference, tmp_path
):
    config = slurm_yaml(tmp_path, partition, jobs=1, max_replacements=0)
    out = tmp_path / "runs"
    shown = [o for o in RUN if o != "--quiet"]  # cluster events are printed as they happen
    proc, victim = cancel_a_job_mid_run(data, shown, config, out)
    _, err = proc.communicate(timeout=300)

    assert proc.returncode == 3, err
    _no_traceback(err)
    assert f"worker job {victim} ended (CANCELLED)" in err and "not replaced" in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert f"job(s) {victim}" in lines[0] and "no replacement is allowed" in lines[0]
    command = re.search(r"finish the run with: (insightome run --resume \S+)", lines[0])
    assert command is not None, lines[0]
    # nothing half-written: only the checkpoint, which the printed command names
    (partial,) = out.iterdir()
    assert partial.name.endswith(".partial") and str(partial) in command.group(1)
    assert not (partial / "results.json").exists()
    # the cluster was closed on the way out: no TLS key left, the jobs' logs kept
    assert not list(partial.glob(".dask-jobqueue.*")) and list(partial.glob("slurm-logs/*.err"))

    resumed = cli("run", "--resume", partial, "--slurm-config", slurm_yaml(tmp_path, partition))
    out2, err2 = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err2
    _no_traceback(err2)
    run = finished(out)
    assert run.directory.name in out2
    assert_same_results(run, local_reference(4))
    assert re.search(r"fit cache: reused ([1-9]\d*) fit", (run.directory / "run.log").read_text())


def test_workers_retire_before_their_walltime_and_are_replaced(
    partition, data, local_reference, tmp_path
):
    # a 1-minute walltime: each worker retires after 30 ± 10 s, so the fits must take well
    # over 40 s: 100 repeats (45 took 28 s of fitting on 2 local cores on 2026-12-07, after
    # forests went to 300 trees, and then finished on SLURM before any worker retired)
    config = slurm_yaml(tmp_path, partition, jobs=2, walltime="00:01:00")
    out = tmp_path / "runs"
    proc = cli("run", data, *RUN, "--repeats", REPEATS_PAST_LIFETIME, "--slurm-config", config,
               "--out", out)  # fmt: skip
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err
    _no_traceback(err)

    run = finished(out)
    assert_same_results(run, local_reference(REPEATS_PAST_LIFETIME))
    backend = run.results["compute"]["backend"]
    assert backend["worker_lifetime_s"] == 30
    jobs = backend["slurm_jobs"]
    assert jobs["retired_at_lifetime"], jobs
    assert len(jobs["submitted"]) > 2 and jobs["ended_early"] == []
    assert "retired before its walltime; resubmitted" in (run.directory / "run.log").read_text()


def test_a_job_sbatch_refuses_is_one_line_before_anything_runs(partition, data, tmp_path):
    config = slurm_yaml(tmp_path, "no-such-partition", jobs=1)
    out = tmp_path / "runs"
    before = set(my_jobs())
    proc = cli("run", data, *RUN, "--repeats", 1, "--slurm-config", config, "--out", out)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    _no_traceback(err)
    (line,) = [line for line in err.splitlines() if line.strip()]
    assert line.startswith("error: --slurm-config") and "SLURM refused the worker job" in line
    assert "partition" in line.lower()
    assert not new_jobs(before) and not out.exists()  # nothing submitted, nothing written


def test_the_run_waits_for_worker_jobs_held_in_the_queue(
    partition, data, local_reference, tmp_path
):
    # the node is full for 45 s: the worker job waits in the queue (the run used to give
    # up after 30 s, dask's scatter timeout)
    blocker = subprocess.run(
        ["sbatch", "--parsable", "-p", partition, "-c", "4", "-o", "/dev/null",
         "--wrap", "sleep 45"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    try:
        config = slurm_yaml(tmp_path, partition, jobs=1)
        out = tmp_path / "runs"
        proc = cli("run", data, *RUN, "--repeats", 4, "--slurm-config", config, "--out", out)
        _, err = proc.communicate(timeout=600)
    finally:
        subprocess.run(["scancel", blocker], check=False)
    assert proc.returncode == 0, err
    _no_traceback(err)
    assert_same_results(finished(out), local_reference(4))
