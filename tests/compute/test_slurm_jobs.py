"""The job keeper's decisions, on a stand-in cluster and queue (the real ones: tests/cluster)."""

from __future__ import annotations

import pytest

from insightome.compute import slurm_jobs
from insightome.compute.backends import SlurmConfig
from insightome.compute.slurm_jobs import JobKeeper, walltime_seconds


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


def test_worker_lifetime_leaves_a_tenth_of_the_walltime_within_bounds():
    assert SlurmConfig(queue="q", walltime="00:01:00").worker_lifetime() == (30, 10)
    assert SlurmConfig(queue="q", walltime="02:00:00").worker_lifetime() == (6600, 200)
    assert SlurmConfig(queue="q", walltime="2-00:00:00").worker_lifetime() == (172200, 200)


class Job:
    def __init__(self, job_id: str) -> None:
        self.job_id = job_id


class Cluster:
    """What the keeper uses of a SLURMCluster: ``workers`` and ``scale(jobs=)``."""

    def __init__(self, n: int) -> None:
        self.next_id = 100
        self.workers: dict[str, Job] = {}
        self.scaled: list[int] = []
        self.scale(jobs=n)

    def scale(self, jobs: int) -> None:
        self.scaled.append(jobs)
        for i in range(jobs):
            if f"w{i}" not in self.workers and len(self.workers) < jobs:
                self.workers[f"w{i}"] = Job(str(self.next_id))
                self.next_id += 1


def keeper(cluster: Cluster, jobs: int, replacements: int, queue: dict, clock: list[float]):
    """A keeper on ``cluster``, reading ``queue`` (id → (state, nodes)) as squeue."""
    logged: list[str] = []
    k = JobKeeper(cluster, None, jobs, replacements, logged.append, lifetime_s=100.0)
    k._queue = lambda: dict(queue)  # type: ignore[method-assign]
    return k, logged


@pytest.fixture
def clock(monkeypatch):
    """The keeper's clock, set by the test: ``clock[0] = seconds``."""
    now = [0.0]
    monkeypatch.setattr(slurm_jobs.time, "monotonic", lambda: now[0])
    return now


def test_a_job_that_ends_early_is_counted_and_replaced(clock):
    cluster = Cluster(2)
    queue = {"100": ("RUNNING", "n1"), "101": ("RUNNING", "n2")}
    k, logged = keeper(cluster, 2, 2, queue, clock)
    k._check()
    assert k.job_ids == ["100", "101"] and k.hosts == {"n1", "n2"}
    clock[0] = 10.0
    del queue["100"]  # scancel
    k._check()
    assert k.ended_early == ["100"] and k.retired == []
    assert cluster.scaled[-1] == 2 and len(cluster.workers) == 2  # a new job submitted
    assert k.lost is None
    assert "worker job 100 ended after 10 s" in logged[-1] and logged[-1].endswith("resubmitted")


def test_a_job_that_reaches_its_lifetime_is_retired_not_counted(clock):
    cluster = Cluster(1)
    queue = {"100": ("RUNNING", "n1")}
    k, _ = keeper(cluster, 1, 0, queue, clock)
    k._check()
    clock[0] = 95.0  # its lifetime (100 s, give or take the stagger)
    queue.clear()
    k._check()
    assert k.retired == ["100"] and k.ended_early == []
    assert k.lost is None and len(cluster.workers) == 1  # replaced even with no allowance


def test_no_job_left_and_no_replacement_allowed_is_lost(clock):
    cluster = Cluster(1)
    queue = {"100": ("RUNNING", "n1")}
    k, logged = keeper(cluster, 1, 0, queue, clock)
    k._check()
    clock[0] = 5.0
    queue.clear()
    k._check()
    assert k.ended_early == ["100"] and not cluster.workers
    assert k.lost is not None and "no replacement is allowed" in k.lost
    assert logged[-1].endswith("not replaced")


def test_a_pending_job_is_left_alone(clock):
    cluster = Cluster(2)
    queue = {"100": ("PENDING", ""), "101": ("RUNNING", "n1")}
    k, _ = keeper(cluster, 2, 0, queue, clock)
    for _ in range(3):
        k._check()
    assert k.ended_early == [] and cluster.scaled == [2] and k.hosts == {"n1"}
