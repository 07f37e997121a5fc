"""The job keeper's decisions, on a stand-in cluster and queue (the real ones: tests/cluster)."""

from __future__ import annotations

import pytest

from insightome.compute import slurm_jobs
from insightome.compute.backends import SlurmConfig
from insightome.compute.slurm_jobs import JobKeeper, walltime_seconds
from insightome.errors import UserError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 5400),  # minutes
        ("30:00", 1800),  # minutes:seconds
        ("02:00:00", 7200),
        ("1-00", 86400),  # days-hours
        ("1-02:30", 86400 + 2 * 3600 + 30 * 60),
        ("2-00:00:10", 2 * 86400 + 10),
    ],
)
def test_walltime_seconds_reads_every_slurm_form(text, seconds):
    assert walltime_seconds(text) == seconds


def test_walltimes_sbatch_reads_as_minutes_are_refused():
    with pytest.raises(UserError, match="--slurm-walltime"):
        SlurmConfig(queue="q", walltime="02:00")  # SLURM: 2 minutes, not 2 hours


def test_worker_lifetime_leaves_a_tenth_of_the_walltime_within_bounds():
    assert SlurmConfig(queue="q", walltime="00:01:00").worker_lifetime() == (30, 10)
    assert SlurmConfig(queue="q", walltime="02:00:00").worker_lifetime() == (6600, 200)
    assert SlurmConfig(queue="q", walltime="2-00:00:00").worker_lifetime() == (172200, 200)


class Job:
    def __init__(self, job_id: str | None) -> None:
        self.job_id = job_id


class Cluster:
    """What the keeper uses of a SLURMCluster, behaving as dask's SpecCluster does: a plan
    (``worker_spec``) of named jobs; ``scale(jobs=n)`` adds new names to the plan up to n
    and submits every planned job not running; a refused sbatch leaves a job with no id."""

    def __init__(self, n: int) -> None:
        self.names = 0
        self.next_id = 100
        self.refuse = False
        self.worker_spec: dict[str, dict] = {}
        self.workers: dict[str, Job] = {}
        self.scaled: list[int] = []
        self.scale(jobs=n)

    def scale(self, jobs: int) -> None:
        self.scaled.append(jobs)
        while len(self.worker_spec) < jobs:
            self.worker_spec[f"w{self.names}"] = {}
            self.names += 1
        for name in self.worker_spec:
            if name not in self.workers:
                self.workers[name] = Job(None if self.refuse else str(self.next_id))
                self.next_id += 1


def keeper(cluster: Cluster, jobs: int, replacements: int, queue: dict, final: dict):
    """A keeper on ``cluster``, reading ``queue`` (id → (state, nodes)) as squeue and
    ``final`` (id → state) as scontrol's record of ended jobs."""
    logged: list[str] = []
    lost: list[bool] = []
    k = JobKeeper(cluster, jobs, replacements, logged.append, on_lost=lambda: lost.append(True))
    k._queue = lambda: dict(queue)  # type: ignore[method-assign]
    slurm_jobs._final_state = lambda job_id: final.get(job_id, "")  # type: ignore[assignment]
    return k, logged


@pytest.fixture(autouse=True)
def _restore(monkeypatch):
    monkeypatch.setattr(slurm_jobs, "_final_state", slurm_jobs._final_state)


@pytest.fixture
def clock(monkeypatch):
    """The keeper's clock, set by the test: ``clock[0] = seconds``."""
    now = [0.0]
    monkeypatch.setattr(slurm_jobs.time, "monotonic", lambda: now[0])
    return now


def test_a_cancelled_job_is_counted_and_replaced_under_a_new_name(clock, monkeypatch):
    cluster = Cluster(2)
    queue = {"100": ("RUNNING", "n1"), "101": ("RUNNING", "n[2-3]")}
    k, logged = keeper(cluster, 2, 2, queue, {"100": "CANCELLED"})
    hostnames = {"n[2-3]": ["n2", "n3"], "n1": ["n1"]}  # scontrol show hostnames
    monkeypatch.setattr(slurm_jobs, "_hostnames", hostnames.__getitem__)
    k._check()
    assert k.job_ids == ["100", "101"] and k.hosts == {"n1", "n2", "n3"}
    del queue["100"]  # scancel
    k._check()
    assert k.ended_early == ["100"] and k.retired == []
    # a new name: dask's clean-up of w0 (lost-worker-timeout later) cannot cancel it
    assert sorted(cluster.workers) == ["w1", "w2"] and cluster.workers["w2"].job_id == "102"
    assert k.lost is None
    assert "worker job 100 ended (CANCELLED)" in logged[-1] and logged[-1].endswith("resubmitted")


def test_a_job_that_completes_or_times_out_retired_as_planned(clock):
    cluster = Cluster(2)
    queue = {"100": ("RUNNING", "n1"), "101": ("RUNNING", "n1")}
    k, logged = keeper(cluster, 2, 0, queue, {"100": "COMPLETED", "101": "TIMEOUT"})
    k._check()
    queue.clear()
    k._check()
    assert k.retired == ["100", "101"] and k.ended_early == []
    assert k.lost is None and len(cluster.workers) == 2  # replaced even with no allowance
    assert "retired before its walltime" in logged[-2] and "reached its walltime" in logged[-1]


def test_no_job_left_and_no_replacement_allowed_is_lost(clock):
    cluster = Cluster(1)
    queue = {"100": ("RUNNING", "n1")}
    k, logged = keeper(cluster, 1, 0, queue, {"100": "NODE_FAIL"})
    k._check()
    queue.clear()
    k._check()
    assert k.ended_early == ["100"] and not cluster.workers
    assert k.lost is not None and "no replacement is allowed" in k.lost
    assert logged[-1].endswith("not replaced")


def test_a_job_dask_closed_itself_is_noticed(clock):
    cluster = Cluster(1)
    queue = {"100": ("RUNNING", "n1")}
    k, _ = keeper(cluster, 1, 1, queue, {"100": "CANCELLED"})
    k._check()
    del cluster.workers["w0"]  # what SpecCluster does when a worker stays gone
    queue.clear()
    k._check()
    assert k.ended_early == ["100"] and list(cluster.workers) == ["w1"]


def test_pending_and_completing_jobs_are_left_alone(clock):
    cluster = Cluster(2)
    queue = {"100": ("PENDING", ""), "101": ("COMPLETING", "n1")}
    k, _ = keeper(cluster, 2, 0, queue, {})
    for _ in range(3):
        k._check()
    assert k.ended_early == [] and k.retired == [] and cluster.scaled == [2]


def test_refused_submissions_give_up_after_three_in_a_row(clock):
    cluster = Cluster(1)
    queue = {"100": ("RUNNING", "n1")}
    k, logged = keeper(cluster, 1, 5, queue, {"100": "CANCELLED"})
    k._check()
    cluster.refuse = True  # sbatch now refuses every job
    queue.clear()
    k._check()  # job 100 ended; its replacement is refused (no id)
    for _ in range(6):  # each refused job: seen without an id, then dropped a minute later
        k._check()
        clock[0] += slurm_jobs.SUBMISSION_GRACE_S + 1
    assert k.refused == 3 and k.lost is not None and "sbatch refused 3" in k.lost
    assert "was not submitted" in logged[-1]
