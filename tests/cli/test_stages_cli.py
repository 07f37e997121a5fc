"""``--skip STAGE`` and ``--resume DIR --from-stage STAGE`` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import insightome
from insightome.stages import Stage
from tests.cli.conftest import FAST
from tests.cli.test_bad_input import assert_user_error


@pytest.fixture
def study_csv(tmp_path: Path) -> Path:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    df = bunch.data.iloc[:200, :6].copy()
    df["diagnosis"] = bunch.target[:200].map({0: "malignant", 1: "benign"})
    df["sex"] = ["F", "M"] * 100
    path = tmp_path / "study.csv"
    df.to_csv(path, index_label="sample")
    return path


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--skip", "estimate"], ["--skip", "estimate stage cannot be skipped", "discover"]),
        (["--skip", "discovery"], ["--skip", "'discovery'", "read, study"]),
        (["--skip", "discover", "--genesets", "sets.gmt"], ["--genesets", "--no-discover"]),
        (["--from-stage", "audit"], ["--from-stage", "--resume DIR"]),
    ],
)
def test_refused_stage_options(cli, study_csv, tmp_path, args, fragments):
    (tmp_path / "sets.gmt").write_text("SET\tdesc\tmean radius\n")
    args = [str(tmp_path / a) if a == "sets.gmt" else a for a in args]
    result = cli("run", study_csv, "--target", "diagnosis", *FAST, "--out", tmp_path / "runs",
                 *args)  # fmt: skip
    assert_user_error(result, *fragments)
    assert not (tmp_path / "runs").exists()


class Crash(Exception):
    pass


def crash(state) -> None:
    raise Crash


def test_resume_from_a_named_stage_on_the_command_line(cli, study_csv, tmp_path):
    options = {"preset": "fast", "folds": 3, "repeats": 1, "n_bootstrap": 200,
               "discover": False, "sensitive": ["sex"]}  # fmt: skip
    with pytest.raises(Crash):
        insightome.run(study_csv, "diagnosis", out_dir=tmp_path / "runs",
                       stages=[Stage("crash", crash, after="audit")], **options)  # fmt: skip
    (partial,) = (tmp_path / "runs").iterdir()
    result = cli("run", "--resume", partial, "--from-stage", "audit", "--quiet")
    assert result.code == 0, result.err
    final = Path(result.out.strip())
    assert final == partial.with_name(partial.name.removesuffix(".partial"))
    reference = insightome.run(study_csv, "diagnosis", out_dir=None, **options)
    saved = json.loads((final / "results.json").read_text())
    assert saved["audit"]["model"] == json.loads(json.dumps(reference.results["audit"]["model"]))
    assert saved["estimate"] == reference.results["estimate"]
    loaded = insightome.Run.load(final).predictions  # sample IDs "0", "1" are read as numbers
    pd.testing.assert_frame_equal(
        loaded.reset_index(drop=True), reference.predictions.reset_index(drop=True)
    )
