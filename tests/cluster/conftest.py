"""A real one-node SLURM cluster for the tests marked ``cluster`` (``make test-cluster``).

``.ci/slurm-cluster start`` installs, configures and starts it; these fixtures only check
that it answers. Without a cluster the tests skip with one line — unless
``INSIGHTOME_REQUIRE_CLUSTER=1`` (set by ``make test-cluster`` and so by CI), where a
cluster that does not answer is a failure, not a skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

# the run every test starts from: small and fast, long enough to be interrupted
RUN = [
    "--target", "diagnosis", "--id-column", "sample", "--preset", "fast", "--folds", "3",
    "--bootstrap", "200", "--seed", "3", "--quiet",
]  # fmt: skip


BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))
from faults_slurm import TEST_CLUSTER, slurm_config, usable_test_cluster  # noqa: E402


@pytest.fixture(scope="session")
def partition() -> str:
    name = usable_test_cluster()
    if name is None:
        message = f"no SLURM test cluster ({TEST_CLUSTER}) answers (start one: make test-cluster)"
        if os.environ.get("INSIGHTOME_REQUIRE_CLUSTER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return name


@pytest.fixture(scope="session")
def data(tmp_path_factory) -> Path:
    bunch = load_breast_cancer(as_frame=True)
    df = bunch.data.iloc[:240, :10].copy()
    df["diagnosis"] = bunch.target[:240].map({0: "malignant", 1: "benign"})
    path = tmp_path_factory.mktemp("cluster-data") / "breast240.csv"
    df.to_csv(path, index_label="sample")
    return path


def slurm_yaml(folder: Path, partition: str, **fields: object) -> Path:
    """A --slurm-config file: 1-core, 1 GB worker jobs on ``partition`` (the benchmark's)."""
    return slurm_config(folder, partition, **fields)


def cli(*args: object, **kwargs) -> subprocess.Popen:
    """``insightome ARGS`` as a user runs it: a real process, so SLURM and signals are real."""
    return subprocess.Popen(
        [sys.executable, "-m", "insightome.cli.app", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs,
    )  # fmt: skip


def my_jobs() -> dict[str, str]:
    """This user's SLURM jobs now: id → state."""
    out = subprocess.run(
        ["squeue", "--me", "-h", "-o", "%i %T"], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def new_jobs(before: set[str]) -> list[str]:
    """The jobs that appeared since ``before``, oldest first: the run's own."""
    return sorted(set(my_jobs()) - before, key=int)


def gone(jobs: list[str]) -> bool:
    """None of ``jobs`` is in the queue any more (not even COMPLETING)."""
    return not set(jobs) & set(my_jobs())


def cancel_a_job_mid_run(
    data: Path, options: list[str], config: Path, out: Path
) -> tuple[subprocess.Popen, str]:
    """Start ``insightome run`` on SLURM, wait for 8 finished fits, scancel the run's first
    worker job; the running process and the job cancelled."""
    before = set(my_jobs())
    proc = cli("run", data, *options, "--repeats", 4, "--slurm-config", config, "--out", out)
    wait_for(lambda: fits_done(out) >= 8 or proc.poll() is not None, 180, "8 finished fits")
    assert proc.poll() is None, "the run finished before a job could be cancelled"
    victim = new_jobs(before)[0]
    subprocess.run(["scancel", victim], check=True)
    return proc, victim


def fits_done(out_dir: Path) -> int:
    return sum(1 for p in out_dir.glob("*.partial/cache/*.npz") if not p.name.startswith(".tmp-"))


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Finished:
    directory: Path
    results: dict
    predictions: pd.DataFrame


def finished(out_dir: Path) -> Finished:
    """The one finished run in ``out_dir``; nothing else may be there."""
    entries = sorted(out_dir.iterdir())
    assert len(entries) == 1 and not entries[0].name.endswith(".partial"), entries
    run = entries[0]
    return Finished(
        run,
        json.loads((run / "results.json").read_text()),
        pd.read_csv(run / "predictions.csv"),
    )


def assert_same_results(a: Finished, b: Finished) -> None:
    """The same estimate, winner, every configuration's CV value and every prediction."""
    assert a.results["estimate"] == b.results["estimate"]
    assert a.results["winner"] == b.results["winner"]
    assert [c["cv_value"] for c in a.results["configurations"]] == [
        c["cv_value"] for c in b.results["configurations"]
    ]
    pd.testing.assert_frame_equal(a.predictions, b.predictions)


@pytest.fixture(scope="session")
def local_reference(data, tmp_path_factory):
    """``reference(repeats)``: the uninterrupted local run (one process) of each size."""
    made: dict[int, Finished] = {}

    def reference(repeats: int) -> Finished:
        if repeats not in made:
            out = tmp_path_factory.mktemp(f"local-{repeats}")
            proc = cli("run", data, *RUN, "--repeats", repeats, "--n-jobs", "1", "--out", out)
            _, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err
            made[repeats] = finished(out)
        return made[repeats]

    return reference
