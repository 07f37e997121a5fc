"""A data file + sample sheet project followed up with predict, validate and monitor.

scikit-learn's breast-cancer data split into measurements (ID column 'sample') and a
sample sheet (ID column 'tumour_id' for development, 'tumour' for the new samples) that
holds the outcome and two annotation features: a categorical one and a numeric one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insightome.followup import reload
from tests.cli.conftest import FAST, run_once
from tests.cli.test_bad_input import assert_user_error

N_DEV = 400


@pytest.fixture(scope="module")
def project(breast_csv: Path, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sheet")
    df = pd.read_csv(breast_csv)
    rng = np.random.default_rng(1)
    sheet = pd.DataFrame(
        {
            "tumour_id": df["sample"],
            "diagnosis": df["diagnosis"],
            "grade": rng.choice(["G1", "G2", "G3"], len(df)),
            "age": rng.integers(30, 85, len(df)).astype(float),
            "centre": rng.choice(["north", "south"], len(df)),
        }
    )
    data = df.drop(columns=["diagnosis"])
    paths = {
        "dev_data": folder / "dev_data.csv",
        "dev_sheet": folder / "dev_sheet.csv",
        "new_data": folder / "new_data.csv",
        "new_sheet": folder / "new_sheet.csv",
    }
    data.iloc[:N_DEV].to_csv(paths["dev_data"], index=False)
    sheet.iloc[:N_DEV].to_csv(paths["dev_sheet"], index=False)
    data.iloc[N_DEV:].to_csv(paths["new_data"], index=False)
    new_sheet = sheet.iloc[N_DEV:].rename(columns={"tumour_id": "tumour"})
    new_sheet.iloc[::-1].to_csv(paths["new_sheet"], index=False)  # another row order
    paths["run"] = run_once(
        folder / "runs", paths["dev_data"], "--annotations", paths["dev_sheet"],
        "--annotations-id-column", "tumour_id", "--target", "diagnosis",
        "--annotation-features", "grade,age", "--no-audit", *FAST,
    )  # fmt: skip
    return paths


def test_the_run_uses_and_records_the_annotation_features(project):
    run = project["run"]
    results = json.loads((run / "results.json").read_text())
    joined = results["data"]["annotations"]
    assert joined["id_column"] == "tumour_id" and joined["n_matched"] == N_DEV
    assert joined["features"] == ["grade", "age"]
    assert joined["not_features"] == ["diagnosis", "centre"]
    assert results["invocation"]["annotation_features"] == ["grade", "age"]
    assert results["invocation"]["annotations_id_column"] == "tumour_id"
    card = json.loads((run / "model.json").read_text())
    assert card["dtypes"]["grade"] == "categorical" and card["dtypes"]["age"] != "categorical"
    assert sorted(card["categories"]["grade"]) == ["G1", "G2", "G3"]
    report = (run / "report.html").read_text()
    assert "columns used as features (--annotation-features): grade, age" in report
    assert "not used as features: 2 (diagnosis, centre)" in report


def test_predict_validate_and_monitor_read_the_new_sample_sheet(cli, project):
    run, data, sheet = project["run"], project["new_data"], project["new_sheet"]
    n_new = len(pd.read_csv(data))
    # the sheet's ID column differs from the run's: named with --annotations-id-column
    result = cli("predict", run, data, "--annotations", sheet,
                 "--annotations-id-column", "tumour", "--no-log")  # fmt: skip
    assert result.code == 0, result.err
    table = pd.read_csv(pd.io.common.StringIO(result.out), index_col=0)
    assert len(table) == n_new and {"prob_benign", "prob_malignant"} <= set(table.columns)
    assert table.index[0] == pd.read_csv(data)["sample"].iloc[0]
    # the outcome column defaults to the run's (in the sheet, not in the data file)
    result = cli("validate", run, data, "--annotations", sheet,
                 "--annotations-id-column", "tumour", "--out", run.parent / "val")  # fmt: skip
    assert result.code == 0, result.err
    assert f"External validation on {n_new} samples" in result.out
    (written,) = (run.parent / "val").glob("*/validation.json")
    cohort = json.loads(written.read_text())["cohort"]
    assert cohort["outcome_columns"] == {"target": "diagnosis"}
    assert (
        cohort["annotations"]["id_column"] == "tumour" and cohort["annotations"]["left_out"] == []
    )
    # monitor with labels: the console has the drift summary and the performance rows
    result = cli("monitor", run, data, "--annotations", sheet, "--annotations-id-column",
                 "tumour", "--labels", "diagnosis", "--out", run.parent / "mon")  # fmt: skip
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("Drift: ") and "{}" not in result.out
    n_features = len(json.loads((run / "model.json").read_text())["features"])
    assert lines[1].strip().startswith(f"{n_features} of {n_features} features compared")
    assert "mean PSI" in lines[1]
    (perf,) = [ln for ln in lines if ln.startswith("Performance (")]
    assert "development BBC-CV" in perf and "null" not in result.out
    (overall,) = [ln for ln in lines if ln.strip().startswith(f"all (n {n_new})")]
    assert "95% CI" in overall and "the development estimate" in overall
    (md,) = (run.parent / "mon").glob("*/monitor.md")
    status = json.loads(md.with_name("monitor.json").read_text())["drift"]["summary"]["status"]
    assert f"**{status}.**" in md.read_text() and lines[0] == f"Drift: {status}"


@pytest.mark.parametrize(
    "command", [("predict", "--no-log"), ("validate",), ("monitor", "--labels", "diagnosis")]
)
def test_a_model_with_annotation_features_needs_the_new_sheet(cli, project, tmp_path, command):
    """Without the sheet, every follow-up stops (validate and monitor would otherwise
    impute the sheet's features, quietly changing what their figures measure). The new
    data carry the outcome themselves here, so only the sheet's features are missing."""
    name, *flags = command
    data = pd.read_csv(project["new_data"])
    outcome = pd.read_csv(project["new_sheet"]).set_index("tumour")["diagnosis"]
    data["diagnosis"] = data["sample"].map(outcome).to_numpy()
    data.to_csv(tmp_path / "new_with_outcome.csv", index=False)
    before = sorted(p.name for p in project["run"].rglob("*"))
    result = cli(name, project["run"], tmp_path / "new_with_outcome.csv", *flags)
    assert_user_error(result, "'age', 'grade'", "give the new samples' annotation table",
                      "--annotations")  # fmt: skip
    assert sorted(p.name for p in project["run"].rglob("*")) == before


def test_a_monitor_without_labels_says_performance_was_not_measured(cli, project):
    run = project["run"]
    result = cli("monitor", run, project["new_data"], "--annotations", project["new_sheet"],
                 "--annotations-id-column", "tumour", "--out", run.parent / "mon2")  # fmt: skip
    assert result.code == 0, result.err
    assert "Performance: not measured" in result.out
    assert "give --labels diagnosis" in result.err  # the sheet holds the run's outcome


def test_a_rerun_step_reads_the_sheet_as_the_run_did(project):
    """followup.reload (audit, discover) rebuilds the study with the run's annotation
    options: the same samples and features as the run's model."""
    run = project["run"]
    study = reload(run, command="audit", winner_oof=False).study
    card = json.loads((run / "model.json").read_text())
    assert list(study.features.columns) == card["features"]
    assert {"grade", "age"} <= set(study.features.columns) and study.n_samples == N_DEV


def test_a_new_sample_without_a_sheet_row(cli, project, tmp_path):
    sheet = pd.read_csv(project["new_sheet"])
    first = pd.read_csv(project["new_data"])["sample"].iloc[0]
    short = tmp_path / "short.csv"
    sheet[sheet["tumour"] != first].to_csv(short, index=False)
    args = ("predict", project["run"], project["new_data"], "--annotations", short,
            "--annotations-id-column", "tumour", "--no-log")  # fmt: skip
    # the run did not drop unmatched samples, so neither does predict unless asked
    assert_user_error(cli(*args), f"1 of {len(sheet)} sample IDs", repr(first), "--drop-unmatched")
    result = cli(*args, "--drop-unmatched")
    assert result.code == 0, result.err
    table = pd.read_csv(pd.io.common.StringIO(result.out), index_col=0)
    assert len(table) == len(sheet) - 1 and first not in table.index
    assert "note: 1 sample(s) without a row in the annotation table left out" in result.err
    assert repr(first) in result.err


def test_new_data_are_read_in_the_orientation_the_follow_ups_used_for_the_run():
    """A run made with this version: the orientation its data were read in (genes x
    samples exports score as such); a run made before the follow-ups read new data as the
    run did: samples-by-features, as they read it then; --orient always wins."""
    from types import SimpleNamespace

    from insightome.prediction import new_data_orient

    def run(invocation):
        return SimpleNamespace(
            results={"invocation": invocation, "data": {"orientation": "features-by-samples"}}
        )

    now = {"orient": "auto", "annotations_id_column": None}
    assert new_data_orient(run(now)) == "features-by-samples"
    assert new_data_orient(run({"orient": "auto"})) == "samples-by-features"
    assert new_data_orient(run({"orient": "features-by-samples"})) == "samples-by-features"
    assert new_data_orient(run({"orient": "auto"}), "features-by-samples") == "features-by-samples"
    assert new_data_orient(run({**now, "orient": "samples-by-features"})) == "samples-by-features"
