"""End to end through the CLI, one test per outcome kind, on data shipped in dependencies."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

from tests.cli.conftest import FAST, run_dirs

RUN_FILES = {
    "results.json",
    "model.joblib",
    "model.json",
    "predictions.csv",
    "report.html",
    "run.log",
    "training_rows.key",  # keyed hashes of the training rows (validate, monitor)
    "training_rows.hmac",
    "MODEL_CARD.md",
    "TRIPOD_AI.md",
    "AI_ACT_ANNEX_IV.md",
    "FUTURE_AI.md",
}


def single_run(out: Path) -> tuple[Path, dict]:
    dirs = run_dirs(out)
    assert len(dirs) == 1, dirs
    assert {p.name for p in dirs[0].iterdir()} == RUN_FILES
    return dirs[0], json.loads((dirs[0] / "results.json").read_text())


def check_results(res: dict, task: str, metric: str, n: int) -> None:
    assert res["schema"] == "insightome.results/1"
    assert res["task"] == task and res["n_samples"] == n
    est = res["estimate"]
    assert est["metric"] == metric and est["method"] == "BBC-CV"
    lo, hi = est["ci95"]
    assert lo <= est["value"] <= hi
    assert est["plain_cv_value"] >= est["value"] - 0.05
    assert len(res["data"]["files"][0]["sha256"]) == 64
    assert res["versions"]["scikit-learn"] and res["seeds"]["seed"] == 0
    assert res["timings"]["total"] > 0


def test_binary_end_to_end_and_predict_round_trip(cli, tmp_path, breast_csv):
    out = tmp_path / "runs"
    r = cli(
        "run",
        breast_csv,
        "--target",
        "diagnosis",
        "--positive-class",
        "malignant",
        "--out",
        out,
        *FAST,
    )
    assert r.code == 0, r.err
    run_dir, res = single_run(out)
    assert r.out.strip() == str(run_dir)
    check_results(res, "binary", "auc", 569)
    assert res["task_detected"] and res["outcome"]["positive_class"] == "malignant"
    assert res["estimate"]["value"] > 0.95  # a well-known, strongly separable dataset
    oof = pd.read_csv(run_dir / "predictions.csv", index_col=0)
    assert list(oof.columns) == ["y", "prob_benign", "prob_malignant", "predicted_class"]
    html = (run_dir / "report.html").read_text()
    assert "BBC-CV" in html and "data:image/png;base64," in html and "T000" not in html

    new = pd.read_csv(breast_csv).drop(columns=["diagnosis"]).sample(25, random_state=1)
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path, index=False)
    pred_path = tmp_path / "pred.csv"
    p = cli("predict", run_dir, new_path, "--output", pred_path)
    assert p.code == 0, p.err
    pred = pd.read_csv(pred_path, index_col=0)
    assert list(pred.index) == list(new["sample"])
    truth = pd.read_csv(breast_csv).set_index("sample").loc[pred.index, "diagnosis"]
    assert (pred["predicted_class"] == truth).mean() > 0.85
    np.testing.assert_allclose(pred[["prob_benign", "prob_malignant"]].sum(axis=1), 1.0)


def test_multiclass_end_to_end(cli, tmp_path):
    wine = datasets.load_wine(as_frame=True).frame
    wine["cultivar"] = wine.pop("target").map({0: "barolo", 1: "grignolino", 2: "barbera"})
    path = tmp_path / "wine.parquet"
    wine.to_parquet(path)
    out = tmp_path / "runs"
    r = cli("run", path, "--target", "cultivar", "--out", out, *FAST)
    assert r.code == 0, r.err
    _, res = single_run(out)
    check_results(res, "multiclass", "auc_macro_ovr", 178)
    assert sorted(res["outcome"]["classes"]) == ["barbera", "barolo", "grignolino"]
    assert res["estimate"]["value"] > 0.9
    assert {"balanced_accuracy", "brier"} <= set(res["secondary"])


def test_regression_end_to_end_with_sensitive_attribute(cli, tmp_path):
    diab = datasets.load_diabetes(as_frame=True, scaled=False).frame
    diab["sex"] = diab["sex"].map({1.0: "F", 2.0: "M"})
    path = tmp_path / "diabetes.tsv"
    diab.to_csv(path, sep="\t", index_label="patient")
    out = tmp_path / "runs"
    r = cli("run", path, "--target", "target", "--sensitive", "sex", "--out", out, *FAST)
    assert r.code == 0, r.err
    run_dir, res = single_run(out)
    check_results(res, "regression", "r2", 442)
    assert (
        0.3 < res["estimate"]["value"] < 0.6
    )  # diabetes progression: R² ≈ 0.45-0.5 in the literature
    model = json.loads((run_dir / "model.json").read_text())
    assert "sex" not in model["features"] and res["spec"]["sensitive"] == ["sex"]
    assert {"rmse", "mae"} <= set(res["secondary"])


def test_survival_end_to_end(cli, tmp_path):
    rossi = Path(str(resources.files("lifelines.datasets").joinpath("rossi.csv")))
    out = tmp_path / "runs"
    r = cli(
        "run",
        rossi,
        "--time",
        "week",
        "--event",
        "arrest",
        "--sensitive",
        "race",
        "--out",
        out,
        *FAST,
    )
    assert r.code == 0, r.err
    run_dir, res = single_run(out)
    check_results(res, "survival", "c_index", 432)
    assert res["outcome"]["n_events"] == 114
    assert 0.55 < res["estimate"]["value"] < 0.75  # Rossi recidivism: C ≈ 0.64 for the Cox model
    oof = pd.read_csv(run_dir / "predictions.csv", index_col=0)
    assert list(oof.columns) == ["time", "event", "risk"]
    new_path = tmp_path / "rossi_new.csv"
    pd.read_csv(rossi).drop(columns=["week", "arrest"]).to_csv(new_path, index=False)
    p = cli("predict", run_dir, new_path)
    assert p.code == 0, p.err
    from io import StringIO

    from lifelines.utils import concordance_index

    risk = pd.read_csv(StringIO(p.out), index_col=0)["risk"].to_numpy()
    full = pd.read_csv(rossi)
    # in-sample concordance of the refitted model: better than its out-of-fold estimate
    assert concordance_index(full["week"], -risk, full["arrest"]) > res["estimate"]["value"] - 0.02


def test_omics_mat_end_to_end_warns_on_few_events_per_feature(cli, tmp_path):
    from tests.conftest import shared_data

    path = shared_data("omics", "colon.mat")
    out = tmp_path / "runs"
    r = cli("run", path, "--out", out, *FAST)  # target defaults to Y for .mat files
    assert r.code == 0, r.err
    _, res = single_run(out)
    check_results(res, "binary", "auc", 62)
    assert res["n_features"] == 2000
    assert any("Few events per feature" in w for w in res["warnings"])
    assert not any("Small sample" in w for w in res["warnings"])  # n = 62 >= 50
    assert res["estimate"]["value"] > 0.7


def test_small_sample_warning(cli, tmp_path, breast_csv):
    df = pd.read_csv(breast_csv).groupby("diagnosis").head(20)
    path = tmp_path / "breast40.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "runs"
    r = cli("run", path, "--target", "diagnosis", "--out", out, *FAST)
    assert r.code == 0, r.err
    run_dir, res = single_run(out)
    assert res["n_samples"] == 40
    assert any("Small sample: n = 40 < 50" in w for w in res["warnings"])
    assert "Small sample: n = 40 &lt; 50" in (run_dir / "report.html").read_text()


def test_constant_and_empty_features_are_dropped_with_a_note(cli, tmp_path, breast_csv):
    df = pd.read_csv(breast_csv)
    df["batch_constant"] = 1.0
    df["unmeasured"] = np.nan
    path = tmp_path / "breast_extra.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "runs"
    r = cli("run", path, "--target", "diagnosis", "--out", out, *FAST)
    assert r.code == 0, r.err
    _, res = single_run(out)
    assert res["n_features"] == 30 and res["n_features_dropped"] == 2
    notes = " ".join(res["notes"])
    assert "batch_constant" in notes and "unmeasured" in notes


@pytest.mark.slow
def test_permutation_p_value_and_demo_dataset(cli, tmp_path, actg175_path):
    out = tmp_path / "runs"
    r = cli(
        "run",
        actg175_path,
        "--target",
        "cens",
        "--id-column",
        "pidnum",
        "--exclude",
        "days,cd420,cd496,r,cd820,offtrt,treat",
        "--sensitive",
        "gender,race",
        "--permutations",
        "3",
        "--out",
        out,
        *FAST,
    )
    assert r.code == 0, r.err
    _, res = single_run(out)
    perm = res["permutation"]
    assert perm["n"] == 3 and len(perm["null"]) == 3
    assert max(perm["null"]) < perm["observed"]  # ACTG 175 baseline variables carry real signal
    assert res["estimate"]["permutation_p"] == pytest.approx(0.25)
    assert all(0.4 < v < 0.6 for v in perm["null"])


def test_groups_keep_repeated_samples_of_a_patient_together(cli, tmp_path, actg175_path):
    """Two near-identical samples per patient: without --groups the copies leak across folds."""
    df = pd.read_csv(actg175_path).drop(columns=["Unnamed: 0"], errors="ignore").iloc[:400]
    df = df.drop(columns=["days", "cd420", "cd496", "r", "cd820", "offtrt", "treat"])
    rng = np.random.default_rng(0)
    copy = df.copy()
    copy["wtkg"] = copy["wtkg"] + rng.normal(0, 0.01, len(copy))
    both = pd.concat([df, copy], ignore_index=True)
    both.insert(0, "sample", [f"s{i}" for i in range(len(both))])
    path = tmp_path / "repeated.csv"
    both.to_csv(path, index=False)
    common = ("--target", "cens", "--exclude", "pidnum", "--id-column", "sample", *FAST)
    grouped = cli("run", path, "--groups", "pidnum", *common, "--out", tmp_path / "g")
    naive = cli("run", path, *common, "--out", tmp_path / "n")
    assert grouped.code == 0 and naive.code == 0, grouped.err + naive.err
    _, res_g = single_run(tmp_path / "g")
    _, res_n = single_run(tmp_path / "n")
    assert res_g["resampling"]["grouped"] and not res_n["resampling"]["grouped"]
    assert res_g["estimate"]["value"] < 0.8  # ACTG 175 from baseline: AUC about 0.7
    assert res_n["estimate"]["value"] > res_g["estimate"]["value"] + 0.1  # memorized copies


def test_predict_aligns_categorical_columns_with_training(cli, tmp_path):
    """A categorical training column read as numbers in a new file still maps to its levels."""
    rng = np.random.default_rng(2)
    n = 120
    ecog = rng.choice(["0", "1", "2", "unknown"], n)
    risk = np.select([ecog == "2", ecog == "1"], [2.0, 1.0], 0.0) + rng.normal(0, 0.7, n)
    df = pd.DataFrame(
        {"id": [f"p{i}" for i in range(n)], "ecog": ecog, "age": rng.normal(60, 8, n)}
    )
    df["outcome"] = np.where(risk > 1.0, "poor", "good")
    train = tmp_path / "train.csv"
    df.to_csv(train, index=False)
    out = tmp_path / "runs"
    r = cli("run", train, "--target", "outcome", "--out", out, *FAST)
    assert r.code == 0, r.err
    run_dir, _ = single_run(out)
    assert json.loads((run_dir / "model.json").read_text())["dtypes"]["ecog"] == "categorical"
    new = pd.DataFrame({"id": ["a", "b", "c"], "ecog": [2, 0, 2], "age": [60.0, 60.0, 61.0]})
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path, index=False)  # ecog is all numbers here: read as a numeric column
    p = cli("predict", run_dir, new_path)
    assert p.code == 0, p.err
    from io import StringIO

    pred = pd.read_csv(StringIO(p.out), index_col=0)
    # ECOG 2 carries the risk: both ECOG-2 patients score above the ECOG-0 patient
    assert pred.loc["a", "prob_poor"] > pred.loc["b", "prob_poor"] < pred.loc["c", "prob_poor"]
