"""A run killed with SIGKILL resumes from its checkpoint and ends as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

OPTIONS = [
    "--target",
    "diagnosis",
    "--preset",
    "fast",
    "--folds",
    "5",
    "--repeats",
    "2",
    "--bootstrap",
    "200",
    "--seed",
    "3",
    "--n-jobs",
    "1",
    "--quiet",
]


def cli(*args: object, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "insightome.cli.app", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    bunch = load_breast_cancer(as_frame=True)
    df = bunch.data.iloc[:240, :10].copy()
    df["diagnosis"] = bunch.target[:240].map({0: "malignant", 1: "benign"})
    path = tmp_path_factory.mktemp("resume") / "breast240.csv"
    df.to_csv(path, index_label="sample")
    return path


def _entries(cache: Path) -> list[Path]:
    """Whole cache entries: a kill -9 mid-write can leave a ``.tmp-*.npz`` that is not one."""
    return [p for p in cache.glob("*.npz") if not p.name.startswith(".tmp-")]


def test_stale_temporary_files_are_removed_on_open(tmp_path):
    from insightome.compute.cache import CacheEntry, FitCache

    cache = FitCache(tmp_path, "fp")
    cache.put("k", CacheEntry(np.array([[0.1, 0.9]]), 1.0, None, {}))
    (tmp_path / ".tmp-abc123.npz").write_bytes(b"half a file")
    FitCache(tmp_path, "fp")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.npz"]


def test_resume_after_kill_9_equals_uninterrupted_run(data, tmp_path):
    reference = cli("run", data, *OPTIONS, "--out", tmp_path / "ref")
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err

    victim = cli("run", data, *OPTIONS, "--out", tmp_path / "killed")
    deadline = time.time() + 120
    partial = None
    while time.time() < deadline:
        partials = list((tmp_path / "killed").glob("*.partial"))
        if partials and len(_entries(partials[0] / "cache")) >= 12:
            partial = partials[0]
            break
        time.sleep(0.05)
    assert partial is not None, "the run never checkpointed 12 fits"
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    assert not [p for p in (tmp_path / "killed").iterdir() if not p.name.endswith(".partial")]
    cached = len(_entries(partial / "cache"))
    assert 12 <= cached < 60  # killed part-way through the 6 x 5 x 2 fits

    resumed = cli("run", "--resume", partial, "--quiet")
    out2, err2 = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err2
    final = tmp_path / "killed" / partial.name.removesuffix(".partial")
    assert out2.strip() == str(final) and not partial.exists()

    ref_dir = next((tmp_path / "ref").iterdir())
    ref, res = (json.loads((d / "results.json").read_text()) for d in (ref_dir, final))
    assert res["estimate"] == ref["estimate"] and res["winner"] == ref["winner"]
    assert [c["cv_value"] for c in res["configurations"]] == [
        c["cv_value"] for c in ref["configurations"]
    ]
    pd.testing.assert_frame_equal(
        pd.read_csv(final / "predictions.csv"), pd.read_csv(ref_dir / "predictions.csv")
    )
    log = (final / "run.log").read_text()
    assert f"reused {cached} fit(s)" in log


def test_resume_refuses_changed_data(data, tmp_path):
    changed = tmp_path / "breast240.csv"
    changed.write_text(data.read_text())
    victim = cli("run", changed, *OPTIONS, "--out", tmp_path / "runs")
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / "runs").glob("*.partial/cache/*.npz")):
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)
    (partial,) = (tmp_path / "runs").glob("*.partial")
    df = pd.read_csv(changed)
    df.loc[0, "mean radius"] += 1.0
    df.to_csv(changed, index=False)
    resumed = cli("run", "--resume", partial)
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 2 and "data changed" in err and "Traceback" not in err


def test_a_partial_another_process_works_in_is_refused(tmp_path):
    """Two processes never work in one .partial (a batch script submitted again while its
    first job still ends): the second --resume is one line; once the first has ended, the
    directory resumes."""
    from insightome.compute import checkpoint as module
    from insightome.compute.checkpoint import Checkpoint
    from insightome.errors import UserError

    partial = Checkpoint.create(tmp_path, "20261206-000000-x", {"data": "x"}).directory
    Checkpoint(partial).release()  # this process lets go of it
    assert partial.resolve() not in module._HELD
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from insightome.compute.checkpoint import Checkpoint; "
         "Checkpoint.open(sys.argv[1]); print('held', flush=True); time.sleep(60)",
         str(partial)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match="another insightome process is working in"):
            Checkpoint.open(partial)
    finally:
        holder.kill()
        holder.wait()
    assert Checkpoint.open(partial).directory == partial  # its holder ended: it resumes
