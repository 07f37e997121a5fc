"""docs/compute.md's MareNostrum 5 recipe, run as it is written on the one-node cluster.

The job script ``docs/recipes/marenostrum5.sbatch`` is submitted with ``sbatch``; it runs
insightome, which submits the worker jobs of ``docs/recipes/marenostrum5-workers.yaml``.
What this cluster cannot have is changed, and only that: the partition (``gpp`` → the test
cluster's), the network interface (``ib0`` → none), the jobs' sizes (MareNostrum's 28 cores
and 60 GB → 1 and 1 GB, 2 jobs), and ``module`` (Lmod is not installed: a stand-in records
what the script asks it to load).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.cluster.conftest import (
    RUN,
    assert_same_results,
    finished,
    fits_done,
    gone,
    my_jobs,
    new_jobs,
    wait_for,
)

pytestmark = pytest.mark.cluster

RECIPES = Path(__file__).resolve().parents[2] / "docs" / "recipes"
TEST_SIZES = {"cores": 1, "memory": "1GB", "jobs": 2, "walltime": "00:10:00"}


def _workers_yaml(folder: Path, partition: str) -> Path:
    config = yaml.safe_load((RECIPES / "marenostrum5-workers.yaml").read_text())
    slurm = config["slurm"]
    assert slurm["queue"] == "gpp" and slurm["interface"] == "ib0"
    slurm.update(queue=partition, **TEST_SIZES)
    del slurm["interface"]
    path = folder / "marenostrum5-workers.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _module_stand_in(folder: Path) -> Path:
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    module = bin_dir / "module"
    module.write_text(f'#!/bin/sh\necho "$@" >> {folder / "module.log"}\n')
    module.chmod(0o755)
    return bin_dir


def test_the_marenostrum5_recipe_runs_and_resumes_its_own_run(
    partition, data, local_reference, tmp_path
):
    runs = tmp_path / "scratch" / "insightome-runs"
    env = {
        **os.environ,
        "PATH": f"{_module_stand_in(tmp_path)}:{os.environ['PATH']}",
        "INSIGHTOME_VENV": sys.prefix,
        "DATA": str(data),
        "TARGET": "diagnosis",
        "RUNS": str(runs),
        "WORKERS": str(_workers_yaml(tmp_path, partition)),
        "INSIGHTOME_OPTIONS": " ".join(map(str, [*RUN[2:], "--repeats", 4])),
    }

    def submit() -> str:
        return subprocess.run(
            ["sbatch", "--parsable", "-p", partition, "--cpus-per-task=1",
             "--chdir", str(tmp_path), str(RECIPES / "marenostrum5.sbatch")],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.strip().split(";")[0]  # fmt: skip

    # another run's checkpoint in the same folder: the recipe must leave it alone
    other = runs / "20260101-000000-other-cohort-response.partial"
    other.mkdir(parents=True)
    (other / "invocation.json").write_text("{}")

    # the first job is cancelled part-way, as its time limit or a lost node would stop it
    before = set(my_jobs())
    first = submit()
    wait_for(lambda: fits_done(runs) >= 8 or first not in my_jobs(), 300, "8 finished fits")
    assert first in my_jobs(), "the recipe's job finished before it could be cancelled"
    workers = [j for j in new_jobs(before) if j != first]
    assert workers, "the recipe's run submitted no worker job"
    subprocess.run(["scancel", first], check=True)
    wait_for(lambda: first not in my_jobs(), 120, f"job {first} to end")
    # SIGTERM reached insightome: it cancelled its worker jobs on the way out
    wait_for(lambda: gone(workers), 60, f"the worker jobs {workers} to be cancelled")
    (partial,) = [p for p in runs.iterdir() if p != other]
    assert partial.name.endswith("-breast240-diagnosis.partial")
    err = (tmp_path / f"insightome-{first}.err").read_text()
    assert "Traceback" not in err, err[-3000:]
    assert "insightome run --resume" in err  # it said how to finish

    # the same script, submitted again, resumes that run and finishes it
    second = submit()
    wait_for(lambda: second not in my_jobs(), 600, f"job {second} to end")
    err = (tmp_path / f"insightome-{second}.err").read_text()
    assert "Traceback" not in err, err[-3000:]
    assert (tmp_path / "module.log").read_text().splitlines()[:2] == [
        "purge",
        "load python/3.11",
    ]
    assert other.is_dir()  # untouched
    shutil.rmtree(other)
    run = finished(runs)
    assert run.directory.name == partial.name.removesuffix(".partial")
    assert_same_results(run, local_reference(4))
    assert "fit cache: reused" in (run.directory / "run.log").read_text()
    jobs = run.results["compute"]["backend"]["slurm_jobs"]
    assert len(jobs["submitted"]) == 2
    wait_for(lambda: gone(jobs["submitted"]), 60, "the run's jobs to leave the queue")
