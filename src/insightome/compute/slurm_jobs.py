"""Keeping a run's SLURM worker jobs alive: jobs that end early are resubmitted.

On a real cluster a worker job ends before the run for three reasons: it reaches its
walltime, someone (or the scheduler) cancels it, or its node is lost. dask-jobqueue
submits the jobs once and does not replace them. :class:`JobKeeper` watches the run's jobs
in ``squeue`` every few seconds and resubmits the missing ones:

* a job that reaches its worker lifetime (set a little before its walltime, see
  ``SlurmConfig.worker_lifetime``) retires on purpose — its fits move to the other
  workers — and is always replaced;
* a job that ends earlier (``scancel``, a lost node, a killed worker) is replaced up to
  ``max_replacements`` times in the run; its fits in flight are rerun elsewhere by Dask.

When no job is left and none may be resubmitted, the keeper records why in ``lost`` and
interrupts the main thread; :class:`~insightome.compute.backends.FitBackend` turns that
into :class:`~insightome.errors.WorkersLost`, and the run keeps its checkpoint for
``--resume``.
"""

from __future__ import annotations

import _thread
import re
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["JobKeeper", "walltime_seconds"]

_SLURM_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")


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


class JobKeeper(threading.Thread):
    """Resubmits a SLURMCluster's worker jobs that end before the run (module docstring)."""

    interval = 2.0  # seconds between two looks at squeue

    def __init__(
        self,
        cluster: Any,
        client: Any,
        jobs: int,
        max_replacements: int,
        log: Callable[[str], None],
        *,
        lifetime_s: float,
        log_directory: str = "",
    ) -> None:
        super().__init__(daemon=True, name="insightome-slurm-jobs")
        self.cluster, self.client, self.jobs = cluster, client, jobs
        self.max_replacements, self.log, self.lifetime_s = max_replacements, log, lifetime_s
        self.log_directory = log_directory
        self.job_ids: list[str] = []  # every worker job submitted, in order
        self.retired: list[str] = []  # reached their worker lifetime: replaced, as planned
        self.ended_early: list[str] = []  # cancelled, killed or lost before it
        self.hosts: set[str] = set()
        self.lost: str | None = None
        self.in_use = False  # the main thread is waiting for fits (FitBackend.use)
        self._running_since: dict[str, float] = {}
        self._halt = threading.Event()
        self._squeue_failed = False

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=10)

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                self._check()
            except Exception as exc:  # a failed look is logged; the next one retries
                self.log(f"SLURM: could not check the worker jobs ({type(exc).__name__}: {exc})")
            if self.lost is not None:
                if self.in_use:
                    _thread.interrupt_main()
                return

    def summary(self) -> dict[str, Any]:
        """results.json ``compute.backend.slurm_jobs``."""
        return {
            "submitted": list(self.job_ids),
            "retired_at_lifetime": list(self.retired),
            "ended_early": list(self.ended_early),
            "nodes": sorted(self.hosts),
        }

    def _queue(self) -> dict[str, tuple[str, str]] | None:
        """This user's jobs in squeue: id → (state, node list); None if squeue failed."""
        try:
            out = subprocess.run(
                ["squeue", "--me", "-h", "-o", "%i %T %N"],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            if not self._squeue_failed:
                self.log(f"SLURM: squeue failed ({exc}); worker jobs are not watched")
                self._squeue_failed = True
            return None
        queue = {}
        for line in out.splitlines():
            fields = line.split()
            if fields:
                queue[fields[0]] = (fields[1] if len(fields) > 1 else "", " ".join(fields[2:]))
        return queue

    def _check(self) -> None:
        queue = self._queue()
        if queue is None:
            return
        now = time.monotonic()
        workers = dict(self.cluster.workers)  # name → dask_jobqueue Job
        current = set()
        for name, job in workers.items():
            job_id = getattr(job, "job_id", None)
            if not job_id:
                continue
            current.add(job_id)
            if job_id not in self.job_ids:
                self.job_ids.append(job_id)
            state, nodes = queue.get(job_id, ("", ""))
            if state == "RUNNING":
                self._running_since.setdefault(job_id, now)
                self.hosts.update(n for n in nodes.split(",") if n)
            if state in ("PENDING", "CONFIGURING", "RUNNING"):
                continue
            self.cluster.workers.pop(name, None)  # gone from the queue: the job has ended
            current.discard(job_id)
        seen = set(self.retired) | set(self.ended_early)
        for job_id in self.job_ids:  # ended here, or dropped by dask when its worker died
            if job_id not in current and job_id not in seen:
                self._ended(job_id, now)
        # every early end beyond the allowance leaves its slot empty
        target = self.jobs - max(0, len(self.ended_early) - self.max_replacements)
        if target > 0 and len(self.cluster.workers) < target:
            self.cluster.scale(jobs=target)  # the missing jobs are submitted again
        elif target <= 0 and not self.cluster.workers:
            allowed = (
                "no replacement is allowed (max_replacements: 0)"
                if self.max_replacements == 0
                else f"the {self.max_replacements} replacement(s) allowed were used up"
            )
            self.lost = (
                f"{len(self.ended_early)} SLURM worker job(s) ended before the run finished "
                f"(job(s) {', '.join(self.ended_early)}: cancelled, killed or their node "
                f"lost) and {allowed}; the jobs' logs are in {self.log_directory}"
            )

    def _ended(self, job_id: str, now: float) -> None:
        started = self._running_since.get(job_id)
        ran = now - started if started is not None else 0.0
        # a worker retires at its lifetime (give or take its stagger): that end is planned
        if ran >= self.lifetime_s * 0.6:
            self.retired.append(job_id)
            self.log(f"SLURM: worker job {job_id} retired before its walltime; resubmitted")
            return
        self.ended_early.append(job_id)
        verb = "resubmitted" if len(self.ended_early) <= self.max_replacements else "not replaced"
        self.log(
            f"SLURM: worker job {job_id} ended after {ran:.0f} s, before the run finished "
            f"(cancelled, killed or its node lost); its fits in flight are rerun elsewhere; {verb}"
        )
