"""Keeping a run's SLURM worker jobs alive: jobs that end early are resubmitted.

On a real cluster a worker job ends before the run for three reasons: it reaches its
walltime, someone (or the scheduler) cancels it, or its node is lost. dask-jobqueue
submits the jobs once and does not replace them. :class:`JobKeeper` watches the run's jobs
in ``squeue`` every few seconds and resubmits the missing ones:

* a job that ends as SLURM's ``COMPLETED`` (its worker retired at its lifetime, set a
  little before the walltime by ``SlurmConfig.worker_lifetime``: its fits moved to the
  other workers) or ``TIMEOUT`` (killed at its walltime) ended as planned and is always
  replaced;
* a job that ends otherwise (``CANCELLED`` by ``scancel``, ``NODE_FAIL``, ``FAILED``,
  ``OUT_OF_MEMORY``, …) ended early; it is replaced up to ``max_replacements`` times in the
  run, and Dask reruns its fits in flight elsewhere;
* a submission ``sbatch`` refused mid-run (the job never got an id) is dropped and counted;
  three in a row and the keeper gives up.

A replacement gets a new name in the cluster's plan, so dask's own clean-up of the worker
that died (``distributed.deploy.lost-worker-timeout`` later) cannot cancel it. When no job
is left and none may be submitted, the keeper records why in ``lost`` and calls
``on_lost``; :class:`~insightome.compute.fit_backend.FitBackend` then stops the fits and
raises :class:`~insightome.errors.WorkersLost`, and the run keeps its checkpoint.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["JobKeeper", "walltime_seconds"]

_SLURM_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
#: squeue states of a job whose worker is gone or going: the job has ended
ENDED = {
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL",
    "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT",
}  # fmt: skip
#: final states of a job that ended as planned: its worker retired, or its walltime came
PLANNED = {"COMPLETED", "TIMEOUT"}
FAILED_SUBMISSIONS_LIMIT = 3  # sbatch refusals in a row before the keeper gives up
SUBMISSION_GRACE_S = 60.0  # a job without an id this long was refused by sbatch


def walltime_seconds(text: str) -> int:
    """Seconds in a SLURM time limit (``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM[:SS]``)."""
    match = _SLURM_TIME.match(text.strip())
    if match is None:
        raise ValueError(f"not a SLURM time limit: {text!r}")
    days, first, second, third = match.groups()
    parts = [int(p) for p in (first, second, third) if p is not None]
    if days is not None:  # D-HH[:MM[:SS]]
        hours, minutes, seconds = [*parts, 0, 0][:3]
        return int(days) * 86400 + hours * 3600 + minutes * 60 + seconds
    if len(parts) == 3:
        return parts[0] * 3600 + parts[1] * 60 + parts[2]
    if len(parts) == 2:
        return parts[0] * 60 + parts[1]
    return parts[0] * 60  # minutes


def _run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout


class JobKeeper(threading.Thread):
    """Resubmits a SLURMCluster's worker jobs that end before the run (module docstring)."""

    interval = 2.0  # seconds between two looks at squeue

    def __init__(
        self,
        cluster: Any,
        jobs: int,
        max_replacements: int,
        log: Callable[[str], None],
        *,
        on_lost: Callable[[], None] = lambda: None,
        log_directory: str = "",
    ) -> None:
        super().__init__(daemon=True, name="insightome-slurm-jobs")
        self.cluster, self.jobs, self.max_replacements = cluster, jobs, max_replacements
        self.log, self.on_lost, self.log_directory = log, on_lost, log_directory
        self.job_ids: list[str] = []  # every worker job submitted, in order
        self.retired: list[str] = []  # ended as planned (lifetime, walltime): replaced
        self.ended_early: list[str] = []  # cancelled, killed or lost before that
        self.refused = 0  # submissions sbatch refused mid-run
        self.squeue_failures = 0  # in all
        self._failing = 0  # in a row, now
        self.hosts: set[str] = set()
        self.lost: str | None = None
        self._states: dict[str, str] = {}  # job id → last state seen in squeue
        self._ids: dict[str, str] = {}  # plan name → its job's id
        self._unsubmitted: dict[str, float] = {}  # plan name → when first seen without an id
        self._refused_in_a_row = 0
        self._halt = threading.Event()
        self._lock = threading.Lock()  # one look at a time, and none after stop()

    def stop(self) -> None:
        """No look starts after this; one in progress (squeue may take seconds) is given
        5 s, and does not resubmit anything once it sees the halt."""
        self._halt.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout=5)

    def run(self) -> None:
        try:
            while not self._halt.wait(self.interval):
                with self._lock:
                    try:
                        self._check()
                    except Exception as exc:  # a failed look is logged; the next one retries
                        self._say(f"SLURM: could not check the worker jobs ({exc!r})")
                if self.lost is not None:
                    if not self._halt.is_set():
                        self.on_lost()
                    return
        except BaseException as exc:  # the keeper must not die silently: the run would wait
            self.lost = self.lost or f"the SLURM job keeper stopped ({exc!r})"
            if not self._halt.is_set():
                self.on_lost()

    def _say(self, message: str) -> None:
        try:
            self.log(message)
        except Exception:  # a log that cannot be written must not stop the keeper
            pass

    def summary(self) -> dict[str, Any]:
        """results.json ``compute.backend.slurm_jobs``."""
        return {
            "submitted": list(self.job_ids),
            "retired_at_lifetime": list(self.retired),
            "ended_early": list(self.ended_early),
            "submissions_refused": self.refused,
            "squeue_failures": self.squeue_failures,
            "nodes": sorted(self.hosts),
        }

    def pending_reasons(self) -> str:
        """Why the run's pending jobs wait, as squeue says (for the waiting message)."""
        ids = [j for j, state in list(self._states.items()) if state == "PENDING"]
        if not ids:
            return "none pending"
        try:
            out = _run("squeue", "-h", "-j", ",".join(ids), "-o", "%i %r")
        except (OSError, subprocess.SubprocessError):
            return f"{len(ids)} pending"
        return "; ".join(line.strip() for line in out.splitlines() if line.strip())

    # -- one look --------------------------------------------------------------------
    def _queue(self) -> dict[str, tuple[str, str]] | None:
        """This user's jobs in squeue: id → (state, node list); None if squeue failed."""
        try:
            out = _run("squeue", "--me", "-h", "-o", "%i %T %N")
        except (OSError, subprocess.SubprocessError) as exc:
            self.squeue_failures += 1
            self._failing += 1
            if self._failing == 1:
                self._say(f"SLURM: squeue failed ({exc}); the worker jobs are not watched")
            return None
        if self._failing:
            self._say(f"SLURM: squeue answers again after {self._failing} failure(s)")
            self._failing = 0
        queue = {}
        for line in out.splitlines():
            fields = line.split()
            if fields:
                queue[fields[0]] = (fields[1] if len(fields) > 1 else "", " ".join(fields[2:]))
        return queue

    def _check(self) -> None:
        # the plan before squeue: a job submitted while squeue runs is not in its answer
        workers = list(self.cluster.workers.items())
        spec = list(self.cluster.worker_spec)
        queue = self._queue()
        if queue is None or self._halt.is_set():
            return
        for name in spec:
            if name not in self.cluster.workers and name in self._ids:
                # dask closed it itself (its worker was gone for lost-worker-timeout)
                job_id = self._ids[name]
                self._forget(name)
                self._ended(job_id, queue.get(job_id, ("", ""))[0])
        for name, job in workers:
            job_id = getattr(job, "job_id", None)
            if not job_id:
                self._unsubmitted_job(name)
                continue
            self._unsubmitted.pop(name, None)
            if job_id not in self.job_ids:
                self.job_ids.append(job_id)
                self._ids[name] = job_id
                self._refused_in_a_row = 0  # sbatch took a job
            state, nodes = queue.get(job_id, ("", ""))
            if not state:  # not in squeue: ended, or too new to be listed
                state = _final_state(job_id) or ("GONE" if job_id in self._states else "")
                if state not in ENDED and state != "GONE":
                    continue  # PENDING, RUNNING, …: squeue was asked before it was there
            if state not in ENDED and state != "GONE":
                self._states[job_id] = state
                if state == "RUNNING":
                    self.hosts.update(_hostnames(nodes))
                continue
            self._forget(name)
            self._ended(job_id, state)
        if not self._halt.is_set():
            self._top_up()

    def _unsubmitted_job(self, name: str) -> None:
        first = self._unsubmitted.setdefault(name, time.monotonic())
        if time.monotonic() - first < SUBMISSION_GRACE_S:
            return
        self._unsubmitted.pop(name, None)
        self._forget(name)
        self.refused += 1
        self._refused_in_a_row += 1
        self._say(
            f"SLURM: a worker job was not submitted in {SUBMISSION_GRACE_S:.0f} s (sbatch "
            f"refused it or did not answer; see the log above); {self._refused_in_a_row} in a row"
        )

    def _forget(self, name: str) -> None:
        """Drop a job from the cluster's plan, so a replacement gets a new name."""
        self.cluster.worker_spec.pop(name, None)
        self.cluster.workers.pop(name, None)
        self._ids.pop(name, None)

    def _ended(self, job_id: str, state: str) -> None:
        final = state if state in ENDED else _final_state(job_id)
        final = final if final in ENDED else ""  # "" : gone, SLURM no longer says how
        self._states[job_id] = final or "ENDED"
        if final in PLANNED:
            self.retired.append(job_id)
            how = "retired before its walltime" if final == "COMPLETED" else "reached its walltime"
            self._say(f"SLURM: worker job {job_id} {how}; resubmitted")
            return
        self.ended_early.append(job_id)
        verb = "resubmitted" if len(self.ended_early) <= self.max_replacements else "not replaced"
        self._say(
            f"SLURM: worker job {job_id} ended ({final or 'gone from the queue'}) before the "
            f"run finished; its fits in flight are rerun elsewhere; {verb}"
        )

    def _top_up(self) -> None:
        """Submit the jobs missing from the plan; give up when none is left and none may be."""
        if self._refused_in_a_row >= FAILED_SUBMISSIONS_LIMIT:
            target = 0
        else:  # every early end beyond the allowance leaves its slot empty
            target = self.jobs - max(0, len(self.ended_early) - self.max_replacements)
        if target > 0 and len(self.cluster.worker_spec) < target:
            self.cluster.scale(jobs=target)  # new names: dask's clean-up cannot reach them
        elif target <= 0 and not self.cluster.workers:
            self.lost = self._why_lost()

    def _why_lost(self) -> str:
        if self._refused_in_a_row >= FAILED_SUBMISSIONS_LIMIT:
            return (
                f"sbatch refused {self._refused_in_a_row} worker jobs in a row (see its "
                "message above; the partition, account, QoS or sizes may have changed)"
            )
        allowed = (
            "no replacement is allowed (max_replacements: 0)"
            if self.max_replacements == 0
            else f"the {self.max_replacements} replacement(s) allowed were used up"
        )
        return (
            f"{len(self.ended_early)} SLURM worker job(s) ended before the run finished "
            f"(job(s) {', '.join(self.ended_early)}: cancelled, killed or their node lost) "
            f"and {allowed}; the jobs' logs are in {self.log_directory}"
        )


def _final_state(job_id: str) -> str:
    """A finished job's state (``COMPLETED``, ``CANCELLED``, ``TIMEOUT``, …) from
    scontrol, which keeps it for ``MinJobAge`` seconds; "" once it is forgotten."""
    try:
        out = _run("scontrol", "show", "job", "-o", job_id)
    except (OSError, subprocess.SubprocessError):
        return ""
    match = re.search(r"\bJobState=(\S+)", out)
    return match.group(1) if match else ""


def _hostnames(nodes: str) -> list[str]:
    """squeue's node list (``n[01-03],m1``) as host names."""
    if not nodes or nodes == "(null)":
        return []
    if "[" not in nodes:
        return nodes.split(",")
    try:
        return _run("scontrol", "show", "hostnames", nodes).split()
    except (OSError, subprocess.SubprocessError):
        return [nodes]
