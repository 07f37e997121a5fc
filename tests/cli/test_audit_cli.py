"""The audit through the CLI: run sections and documents, audit --justify, predict log,
review, monitor — on ACTG 175 (lifelines) with gender and race as sensitive attributes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from insightome.audit.prediction_log import read_log
from tests.cli.conftest import run_once, split_csv

EXCLUDE = "days,cd420,cd496,r,cd820,offtrt,treat"
QUICK = ("--preset", "fast", "--folds", "3", "--repeats", "2", "--bootstrap", "300", "--quiet",
         "--no-discover")  # fmt: skip
DOCUMENTS = ("MODEL_CARD.md", "TRIPOD_AI.md", "AI_ACT_ANNEX_IV.md", "FUTURE_AI.md")


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory, actg175_path) -> tuple[Path, Path]:
    names = ("development.csv", "new_patients.csv")
    return split_csv(actg175_path, tmp_path_factory.mktemp("actg"), 1600, names)


@pytest.fixture(scope="module")
def run_dir(cohorts, tmp_path_factory) -> Path:
    return run_once(tmp_path_factory.mktemp("runs"), cohorts[0], "--target", "cens",
                    "--task", "binary", "--id-column", "pidnum", "--sensitive", "gender,race",
                    "--exclude", EXCLUDE, *QUICK)  # fmt: skip


def _table_rows_consistent(markdown: str) -> None:
    """Every Markdown table row has as many cells as its header."""
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and i + 1 < len(lines) and set(lines[i + 1]) <= set("|-: "):
            width = line.replace("\\|", "").count("|")
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                assert lines[j].replace("\\|", "").count("|") == width, lines[j]
                j += 1


def test_run_has_audit_documents_and_report_sections(run_dir) -> None:
    res = json.loads((run_dir / "results.json").read_text())
    audit = res["audit"]
    assert set(audit["attributes"]) >= {"gender", "race"}
    groups = audit["model"]["groups"]
    assert {g["attribute"] for g in groups} >= {"gender", "race"}
    for g in groups:
        if g["n"] is not None and g["value"] is not None and g.get("ci95"):
            lo, hi = g["ci95"]
            assert lo <= g["value"] <= hi
    assert audit["data"]["representation"]
    assert audit["conformal"]["marginal"]["coverage"] > 0.85
    for name in DOCUMENTS:
        text = (run_dir / name).read_text()
        assert "to be completed by the authors" in text
        _table_rows_consistent(text)
    assert f"{res['estimate']['value']:.3f}" in (run_dir / "MODEL_CARD.md").read_text()
    assert res["documents"]["tripod_ai"]["n_filled"] > 5
    card = json.loads((run_dir / "model.json").read_text())
    assert card["reference_profile"]["n_samples"] == res["n_samples"]
    assert card["conformal"]["level"] == 0.9
    html = (run_dir / "report.html").read_text()
    for anchor in ('id="audit"', 'id="documentation"', "Model performance by group"):
        assert anchor in html


def test_audit_rerun_with_justify_and_bad_justify(cli, run_dir) -> None:
    r = cli("audit", run_dir, "--justify", "treat=not sensitive")
    assert r.code == 2 and "--justify" in r.err and len(r.err.strip().splitlines()) == 1
    r = cli("audit", run_dir, "--justify", "gender=dosing differs by sex", "--min-group-size", "50")
    assert r.code == 0, r.err
    res = json.loads((run_dir / "results.json").read_text())
    assert res["audit"]["settings"]["justify"] == {"gender": "dosing differs by sex"}
    assert res["audit"]["settings"]["min_group_size"] == 50
    assert res["invocation"]["min_group_size"] == 50


def test_predict_logs_review_overrides_and_log_round_trips(cli, run_dir, cohorts, tmp_path):
    out = tmp_path / "pred.csv"
    r = cli("predict", run_dir, cohorts[1], "--id-column", "pidnum", "-o", out, "--user", "dr.a")
    assert r.code == 0, r.err
    pred = pd.read_csv(out, index_col=0)
    assert "prediction_set_90" in pred.columns
    sample = str(pred.index[0])
    r = cli("review", run_dir, sample, "--reviewer", "dr.b", "--override", "1",
            "--reason", "CD4 count dropped at week 8")  # fmt: skip
    assert r.code == 0, r.err
    r = cli("review", run_dir, sample, "--reviewer", "dr.b", "--override", "1", "--reason", " ")
    assert r.code == 2
    log = read_log(run_dir)
    assert (log["event"] == "prediction").sum() == len(pred)
    assert (log["event"] == "override").sum() == 1
    assert set(log.loc[log["event"] == "prediction", "user"]) == {"dr.a"}
    card = json.loads((run_dir / "model.json").read_text())
    assert set(log["model_sha256"]) == {card["model_sha256"]}


def test_monitor_new_patients_with_labels(cli, run_dir, cohorts, tmp_path) -> None:
    r = cli("monitor", run_dir, cohorts[1], "--labels", "cens", "--id-column", "pidnum",
            "--out", tmp_path)  # fmt: skip
    assert r.code == 0, r.err
    (found,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    report = json.loads((found / "monitor.json").read_text())
    assert report["performance"] is not None
    text = (found / "monitor.md").read_text()
    assert "PSI" in text
    new_ids = pd.read_csv(cohorts[1])["pidnum"].astype(str)
    assert not any(f"| {i} |" in text for i in new_ids[:50])  # no row-level data


def test_audit_thresholds_and_min_cell_are_configurable(cli, run_dir) -> None:
    r = cli("audit", run_dir, "--audit-threshold", "bogus=1")
    assert r.code == 2 and "unknown threshold bogus" in r.err
    r = cli("audit", run_dir, "--audit-threshold", "max_auc_difference=0.01", "--min-cell", "400")
    assert r.code == 0, r.err
    res = json.loads((run_dir / "results.json").read_text())
    model = res["audit"]["model"]
    assert model["thresholds"]["max_auc_difference"]["value"] == 0.01
    assert "user" in model["thresholds"]["max_auc_difference"]["source"]
    female = [g for g in model["groups"] if g["attribute"] == "gender" and g["group"] == "0"]
    assert female and all(g["n"] is None and g["value"] is None for g in female)  # < 400
    assert "&lt;400" in (run_dir / "report.html").read_text()  # "<400", HTML-escaped
    card = json.loads((run_dir / "model.json").read_text())
    assert card["reference_profile"]["min_cell"] == 400  # monitoring follows the rerun


def test_audit_rerun_keeps_the_model_file_and_review_needs_a_prediction(
    cli, run_dir, cohorts, tmp_path
):
    from insightome.run_directory import file_sha256

    before = file_sha256(run_dir / "model.joblib")
    assert json.loads((run_dir / "model.json").read_text())["model_sha256"] == before
    r = cli("predict", run_dir, cohorts[1], "--id-column", "pidnum", "-o", tmp_path / "p.csv")
    assert r.code == 0, r.err
    r = cli("audit", run_dir, "--justify", "race=dosing differs")
    assert r.code == 0, r.err
    assert file_sha256(run_dir / "model.joblib") == before  # the model was not re-saved
    assert json.loads((run_dir / "model.json").read_text())["model_sha256"] == before
    assert set(read_log(run_dir)["model_sha256"]) == {before}  # the log points at it
    r = cli("review", run_dir, "never-predicted", "--reviewer", "dr.b", "--override", "1",
            "--reason", "a reason")  # fmt: skip
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1
    assert "no prediction of this sample" in r.err


def test_monitor_checks_the_new_data_against_the_training_rows(cli, run_dir, cohorts, tmp_path):
    args = ("--labels", "cens", "--id-column", "pidnum")
    r = cli("monitor", run_dir, cohorts[0], *args, "--out", tmp_path / "refused")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1
    assert "1600 of 1600" in r.err and "--allow-training-overlap" in r.err
    assert not (tmp_path / "refused").exists() or not list((tmp_path / "refused").iterdir())
    r = cli("monitor", run_dir, cohorts[0], *args, "--out", tmp_path / "forced",
            "--allow-training-overlap")  # fmt: skip
    assert r.code == 0, r.err
    (found,) = list((tmp_path / "forced").iterdir())
    report = json.loads((found / "monitor.json").read_text())
    assert report["training_overlap"]["n_overlap"] == 1600
    assert report["training_overlap"]["forced"] is True
    assert "1600 of 1600" in (found / "monitor.md").read_text()
    r = cli("monitor", run_dir, cohorts[1], *args, "--out", tmp_path / "new")
    assert r.code == 0, r.err
    (found,) = list((tmp_path / "new").iterdir())
    overlap = json.loads((found / "monitor.json").read_text())["training_overlap"]
    assert overlap["checked"] and overlap["n_overlap"] == 0
