"""Discovery through the CLI: hypotheses.tsv, the report section, validate and discover."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insightome.discover.hypotheses import COLUMNS, STATUS
from tests.cli.conftest import run_once, split_csv

QUICK = ("--preset", "fast", "--folds", "3", "--repeats", "2", "--bootstrap", "300", "--quiet")


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory, breast_csv) -> tuple[Path, Path]:
    """Development (first 380 tumours) and an independent validation cohort (the rest)."""
    names = ("development.csv", "validation.csv")
    return split_csv(breast_csv, tmp_path_factory.mktemp("cohorts"), 380, names)


@pytest.fixture(scope="module")
def run_dir(cohorts, tmp_path_factory) -> Path:
    return run_once(tmp_path_factory.mktemp("runs"), cohorts[0], "--target", "diagnosis",
                    "--positive-class", "malignant", *QUICK)  # fmt: skip


def test_run_writes_hypotheses_signature_and_report_section(run_dir) -> None:
    table = pd.read_csv(run_dir / "hypotheses.tsv", sep="\t")
    assert list(table.columns) == COLUMNS
    assert len(table) >= 3
    assert (table["status"] == STATUS).all()
    assert table["rank"].tolist() == list(range(1, len(table) + 1))
    assert table["score"].is_monotonic_decreasing
    assert table["score"].between(0, 1).all()
    assert set(table["kind"]) >= {"feature", "subgroup"}
    res = json.loads((run_dir / "results.json").read_text())
    sig = res["discovery"]["signature"]
    assert 1 <= sig["size"] <= 13
    assert sig["estimate"]["value"] > 0.9
    features = table.loc[table["in_signature"], "candidate"].tolist()
    assert set(sig["features"]) <= set(features)
    card = json.loads((run_dir / "model.json").read_text())
    assert card["signature"]["features"] == sig["features"]
    assert len(card["signature"]["model_sha256"]) == 64
    html = (run_dir / "report.html").read_text()
    assert 'id="discovery"' in html and "data-driven, unvalidated" in html
    assert "Minimal signature" in html and "Ranked hypotheses" in html


def test_validate_on_an_independent_cohort(cli, run_dir, cohorts, tmp_path) -> None:
    r = cli("validate", run_dir, cohorts[1], "--out", tmp_path)
    assert r.code == 0, r.err
    (found,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    report = json.loads((found / "validation.json").read_text())
    assert report["cohort"]["n_samples"] == 189
    for model in ("full", "signature"):
        auc = report["models"][model]["metrics"]["auc"]
        assert auc["value"] > 0.9
        assert auc["ci95"][0] <= auc["value"] <= auc["ci95"][1]
        assert report["models"][model]["features_missing"] == []
    assert "| signature | auc |" in (found / "validation.md").read_text()


def test_validate_reports_missing_features_and_still_scores(cli, run_dir, cohorts, tmp_path):
    res = json.loads((run_dir / "results.json").read_text())
    member = res["discovery"]["signature"]["features"][0]
    df = pd.read_csv(cohorts[1]).drop(columns=[member, "mean_symmetry"])
    path = tmp_path / "partial.csv"
    df.to_csv(path, index=False)
    r = cli("validate", run_dir, path, "--out", tmp_path / "v")
    assert r.code == 0, r.err
    assert "missing feature(s) imputed" in r.out
    (found,) = list((tmp_path / "v").iterdir())
    report = json.loads((found / "validation.json").read_text())
    assert set(report["models"]["full"]["features_missing"]) == {member, "mean_symmetry"}
    assert report["models"]["signature"]["features_missing"] == [member]


def test_validate_rejects_unknown_classes_with_one_line(cli, run_dir, cohorts, tmp_path):
    df = pd.read_csv(cohorts[1])
    df.loc[df.index[:3], "diagnosis"] = "unknown"
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    r = cli("validate", run_dir, path)
    assert r.code == 2
    assert len(r.err.strip().splitlines()) == 1
    assert "'diagnosis'" in r.err and "unknown" in r.err and "Recode" in r.err
    assert "labels the model does not know" in r.err


def test_discover_rerun_is_reproducible_and_rejects_bad_gene_sets(cli, run_dir, tmp_path):
    before = pd.read_csv(run_dir / "hypotheses.tsv", sep="\t")
    r = cli("discover", run_dir)
    assert r.code == 0, r.err
    after = pd.read_csv(run_dir / "hypotheses.tsv", sep="\t")
    pd.testing.assert_frame_equal(before, after)  # same data, seeds and plan
    bad = tmp_path / "bad.gmt"
    bad.write_text("ONLY_A_NAME\n")
    r = cli("discover", run_dir, "--genesets", bad)
    assert r.code == 2 and "bad.gmt" in r.err
    assert len(r.err.strip().splitlines()) == 1
    pd.testing.assert_frame_equal(before, pd.read_csv(run_dir / "hypotheses.tsv", sep="\t"))


def test_validate_applies_the_training_decision_threshold(cli, run_dir, cohorts, tmp_path):
    """Balanced accuracy is that of the classes `predict` gives (the training threshold),
    not of a threshold re-fitted to the cohort's own prevalence; few events are warned."""
    from insightome.prediction import predict

    df = pd.read_csv(cohorts[1])
    benign = df[df["diagnosis"] == "benign"]
    low = pd.concat([benign, df[df["diagnosis"] == "malignant"].iloc[:6]])  # prevalence ~5%
    path = tmp_path / "low_prevalence.csv"
    low.to_csv(path, index=False)
    r = cli("validate", run_dir, path, "--id-column", "sample", "--out", tmp_path / "v")
    assert r.code == 0, r.err
    assert "fewer than 10 samples in the smallest outcome class" in r.err  # 6 malignant
    (found,) = list((tmp_path / "v").iterdir())
    report = json.loads((found / "validation.json").read_text())
    card = json.loads((run_dir / "model.json").read_text())
    assert report["decision_threshold"]["value"] == card["decision_threshold"]

    predicted = predict(run_dir, path, id_column="sample", log=False)
    y = (low["diagnosis"] == "malignant").to_numpy()
    p = predicted["prob_malignant"].to_numpy()

    def balanced(hat: np.ndarray) -> float:
        return float(np.mean([np.mean(hat[y]), np.mean(~hat[~y])]))

    as_predicted = balanced((predicted["predicted_class"] == "malignant").to_numpy())
    own_threshold = balanced(p >= y.mean())
    assert as_predicted != pytest.approx(own_threshold)  # the two rules differ on this cohort
    got = report["models"]["full"]["metrics"]["balanced_accuracy"]["value"]
    assert got == pytest.approx(as_predicted)


def test_run_without_a_model_sha256_is_refused(cli, run_dir, cohorts, tmp_path):
    old = tmp_path / "old_run"
    shutil.copytree(run_dir, old)
    card = json.loads((old / "model.json").read_text())
    del card["model_sha256"]
    (old / "model.json").write_text(json.dumps(card))
    for command in (("predict", old, cohorts[1]), ("validate", old, cohorts[1])):
        r = cli(*command)
        assert r.code == 2, r.err
        assert len(r.err.strip().splitlines()) == 1
        assert "sha256" in r.err and "rerun" in r.err


def test_validate_checks_the_cohort_against_the_training_rows(cli, run_dir, cohorts, tmp_path):
    dev = pd.read_csv(cohorts[0])
    first = tmp_path / "first100.csv"
    dev.iloc[:100].to_csv(first, index=False)
    r = cli("validate", run_dir, first, "--out", tmp_path / "refused")
    assert r.code == 2
    assert len(r.err.strip().splitlines()) == 1
    assert "100 of 100" in r.err and "--allow-training-overlap" in r.err
    assert not (tmp_path / "refused").exists() or not list((tmp_path / "refused").iterdir())

    r = cli("validate", run_dir, first, "--out", tmp_path / "forced", "--allow-training-overlap")
    assert r.code == 0, r.err
    assert "100 of 100" in r.err
    (found,) = list((tmp_path / "forced").iterdir())
    report = json.loads((found / "validation.json").read_text())
    overlap = report["training_overlap"]
    assert (overlap["checked"], overlap["n_overlap"], overlap["fraction"]) == (True, 100, 1.0)
    assert overlap["forced"] is True
    assert "NOT an external validation" in report["status"]
    assert "NOT an external validation" in (found / "validation.md").read_text()

    # ten training rows among new ones, as float32 and with the columns in another order
    mixed = pd.concat([dev.iloc[:10], pd.read_csv(cohorts[1])])
    numeric = mixed.select_dtypes("float64").columns
    mixed[numeric] = mixed[numeric].astype("float32")
    mixed = mixed[mixed.columns[::-1]]
    path = tmp_path / "mixed.csv"
    mixed.to_csv(path, index=False)
    r = cli("validate", run_dir, path, "--out", tmp_path / "mixed")
    assert r.code == 0, r.err
    assert "10 of 199" in r.err
    (found,) = list((tmp_path / "mixed").iterdir())
    overlap = json.loads((found / "validation.json").read_text())["training_overlap"]
    assert (overlap["n_overlap"], overlap["n_rows"], overlap["forced"]) == (10, 199, False)

    r = cli("validate", run_dir, cohorts[1], "--out", tmp_path / "independent")
    assert r.code == 0, r.err
    (found,) = list((tmp_path / "independent").iterdir())
    report = json.loads((found / "validation.json").read_text())
    assert report["training_overlap"]["checked"] and report["training_overlap"]["n_overlap"] == 0
    assert "no cohort row equals a training row" in report["status"]


def test_validate_of_a_run_without_row_hashes_says_overlap_was_not_checked(
    cli, run_dir, cohorts, tmp_path
):
    from insightome.overlap import HASH_FILE, KEY_FILE

    old = tmp_path / "old_run"
    shutil.copytree(run_dir, old)
    for name in (HASH_FILE, KEY_FILE):
        (old / name).unlink()
    card = json.loads((old / "model.json").read_text())
    del card["training_rows"]
    (old / "model.json").write_text(json.dumps(card))
    r = cli("validate", old, cohorts[1], "--out", tmp_path / "v")
    assert r.code == 0, r.err
    assert "could not be checked" in r.err
    (found,) = list((tmp_path / "v").iterdir())
    report = json.loads((found / "validation.json").read_text())
    assert report["training_overlap"]["checked"] is False
    assert "not checked" in report["status"]


def test_validation_thresholds_at_the_training_prevalence_not_the_cohorts() -> None:
    """The deployed model calls a sample positive at the training prevalence (model card);
    the cohort's own prevalence must not set the threshold its balanced accuracy is
    judged at."""
    import numpy as np
    from sklearn.metrics import balanced_accuracy_score

    from insightome.validation import _metrics

    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.5).astype(int)  # cohort prevalence ≈ 0.5
    p = np.clip(0.3 + 0.25 * (y - 0.5) + rng.normal(0, 0.15, 300), 0, 1)
    trained_at = 0.3  # the development data's prevalence
    got = _metrics("binary", y, p[:, None], 0, trained_at)["balanced_accuracy"]["value"]
    want = balanced_accuracy_score(y, (p >= trained_at).astype(int))
    assert got == pytest.approx(want, abs=1e-12)
    assert abs(want - balanced_accuracy_score(y, (p >= y.mean()).astype(int))) > 0.05
