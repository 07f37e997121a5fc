"""Same seeds, same results on every backend; SLURM configurations are validated."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

import insightome
from insightome.compute import fit_backend
from insightome.compute.backends import SlurmConfig, slurm_from_options
from insightome.errors import UserError
from tests.conftest import breast_cancer_adata


@pytest.fixture(scope="module")
def adata():
    return breast_cancer_adata(n_rows=300, n_cols=12)


def test_dask_localcluster_gives_identical_results(adata):
    from distributed import LocalCluster

    opts = {"target": "diagnosis", "preset": "fast", "folds": 3, "repeats": 2, "n_bootstrap": 200}
    local = insightome.run(adata, out_dir=None, n_jobs=1, seed=4, **opts)
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    ) as cluster:
        remote = insightome.run(
            adata, out_dir=None, scheduler=cluster.scheduler_address, seed=4, **opts
        )
        prefixes = set(cluster.scheduler.task_prefixes)
    # one task per fit: scikit-learn's own joblib calls inside a fit (ColumnTransformer,
    # forest trees, calibration) must run in the fit, not come back to the scheduler as
    # nested tasks (they did, and made two workers slower than one)
    assert any(p.startswith("batch_of__fit_predict") for p in prefixes)
    nested = ("_fit_transform_one", "_transform_one", "_parallel_build_trees", "calibrator")
    assert not [p for p in prefixes if any(name in p for name in nested)], prefixes
    assert remote.results["compute"]["backend"]["backend"] == "dask.distributed"
    assert remote.results["estimate"] == local.results["estimate"]
    for a, b in zip(remote.results["configurations"], local.results["configurations"], strict=True):
        assert a["cv_value"] == b["cv_value"]
    pd.testing.assert_frame_equal(remote.predictions, local.predictions)


def test_unreachable_scheduler_is_a_user_error(adata):
    with pytest.raises(UserError, match="cannot reach the Dask scheduler"):
        insightome.run(
            adata,
            target="diagnosis",
            out_dir=None,
            preset="fast",
            folds=3,
            repeats=1,
            n_bootstrap=200,
            scheduler="tcp://127.0.0.1:9",
        )


def test_slurm_job_script_for_a_marenostrum_style_partition(tmp_path):
    config = tmp_path / "slurm.yaml"
    config.write_text(
        "slurm:\n  queue: gpp\n  account: bsc99\n  cores: 8\n  memory: 32GB\n"
        "  walltime: '01:30:00'\n  jobs: 4\n  interface: lo\n"
        "  job_script_prologue: ['module load python/3.11']\n"
    )
    slurm = slurm_from_options(config, cores=16)  # command-line options override the file
    assert slurm.cores == 16 and slurm.jobs == 4
    cluster = slurm.make_cluster(tmp_path)
    try:
        script = cluster.job_script()
        # the scheduler's web server (dashboard, health) is not reachable from outside
        sockets = cluster.scheduler.http_server._sockets.values()
        assert {s.getsockname()[0] for s in sockets} == {"127.0.0.1"}
    finally:
        cluster.close()
    for line in (
        "#SBATCH -p gpp",
        "#SBATCH -A bsc99",
        "--cpus-per-task=16",
        "-t 01:30:00",
        "module load python/3.11",
        f"#SBATCH -o {tmp_path}/slurm-logs/",  # the jobs' logs stay with the run
        "--lifetime 4860s --lifetime-stagger 180s",  # retires 9 min before the walltime
        "--protocol tls://",  # only the run's own jobs can join its scheduler
        f"--tls-key {tmp_path}/.dask-jobqueue.worker.key.",
    ):
        assert line in script


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"queue": "gpp", "walltime": "90 minutes"}, "--slurm-walltime"),
        ({"queue": "gpp", "memory": "lots"}, "--slurm-memory"),
        ({"queue": "gpp", "cores": 0}, "--slurm-cores"),
        ({"cores": 4}, "--slurm-queue"),
    ],
)
def test_invalid_slurm_settings_are_refused(fields, fragment):
    with pytest.raises(UserError, match=fragment):
        slurm_from_options(None, **fields)


def test_unknown_yaml_key_is_named(tmp_path):
    config = tmp_path / "slurm.yaml"
    config.write_text("queue: gpp\nwall_time: '01:00:00'\n")
    with pytest.raises(UserError, match="wall_time"):
        SlurmConfig.from_yaml(config)


SCHEDULER_GONE = """
import sys, time
from distributed import Client, LocalCluster
from insightome.compute.fit_backend import FitBackend
if __name__ == "__main__":
    cluster = LocalCluster(n_workers=1, processes=False, dashboard_address=None)  # in-process
    if sys.argv[1] == "a run's client":
        backend = FitBackend(scheduler=cluster.scheduler_address)
        backend._connect()
        backend._client._timeout = 1  # the run's client gives up reconnecting after 1 s
    else:
        client = Client(cluster.scheduler_address, timeout="1s")
    cluster.close()
    time.sleep(3)  # a process still stopping after the client's reconnection timeout
"""


@pytest.mark.parametrize("client", ["a run's client", "another client"])
def test_a_lost_scheduler_adds_no_line_after_the_runs_own(client, tmp_path):
    """A stopping run outlived its client's reconnection timeout once under load, and
    distributed printed "Failed to reconnect to scheduler …" after the run's one line;
    insightome reports a lost scheduler itself (WorkersLost) and drops that record while a
    run holds the client. Another client of the same process (a notebook's) keeps it, which
    also shows that this test can fail."""
    import subprocess
    import sys

    script = tmp_path / "gone.py"
    script.write_text(SCHEDULER_GONE)
    done = subprocess.run(
        [sys.executable, str(script), client], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    printed = "Failed to reconnect to scheduler" in done.stderr
    assert printed is (client == "another client"), done.stderr


def test_the_clients_rescheduling_record_is_dropped_only_while_a_run_holds_a_client():
    """A cluster closed mid-run printed distributed's "Couldn't gather 1 keys, rescheduling"
    before the run's own one-line message (seen once in a full test run)."""
    record = logging.LogRecord(
        "distributed.client", logging.WARNING, __file__, 1,
        "Couldn't gather %s keys, rescheduling %s", (1, ["batch_of_fit-1"]), None,
    )  # fmt: skip
    other = logging.LogRecord(
        "distributed.client", logging.WARNING, __file__, 1, "Something else", (), None
    )
    dropped = fit_backend._RescheduledGathers()
    assert dropped.filter(record)  # no run client: another client's record is kept
    fit_backend._RUN_CLIENTS.add(-1)
    try:
        assert not dropped.filter(record) and dropped.filter(other)
        assert any(
            isinstance(f, fit_backend._RescheduledGathers)
            for f in logging.getLogger("distributed.client").filters
        )
    finally:
        fit_backend._RUN_CLIENTS.discard(-1)
