"""TCGA-STAD expression + sample sheet, run and followed up on held-out tissue-source sites.

The expression file's ID column is unnamed (12-character TCGA barcodes); the sample sheet
names it ``patient`` in development and ``barcode`` in the held-out set (Barretos Cancer
Hospital). One development sample has no sheet row. Survival (OS.time, OS) with the
tumour stage (categorical) and age (numeric) from the sheet as features.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.cli.conftest import FAST, run_dirs
from tests.cli.test_bad_input import assert_user_error
from tests.conftest import shared_data

HELD_OUT = "Barretos Cancer Hospital"
N_GENES = 150  # the first genes of the 1,577: enough for a model, quick to fit
MISSING = "TCGA-IN-7808"  # the development sample whose sheet row is removed


@pytest.fixture(scope="module")
def stad(tmp_path_factory) -> dict[str, Path]:
    folder = shared_data("cohorts", "tcga_stad")
    expression = pd.read_csv(folder / "expression_xena_stad_1577genes.csv", index_col=0)
    sheet = pd.read_csv(folder / "cohort_stad_patients.csv").rename(columns={"case_id": "patient"})
    out = tmp_path_factory.mktemp("stad")
    held = set(sheet.loc[sheet["tss_source_site"] == HELD_OUT, "patient"])
    dev = expression.index[~expression.index.isin(held)]
    paths = {name: out / f"{name}.csv" for name in ("dev", "dev_sheet", "new", "new_sheet")}
    expression.loc[dev].iloc[:, :N_GENES].to_csv(paths["dev"])  # index column unnamed
    expression.loc[sorted(held)].iloc[:, :N_GENES].to_csv(paths["new"])
    in_dev = sheet["patient"].isin(dev) & (sheet["patient"] != MISSING)
    sheet[in_dev].to_csv(paths["dev_sheet"], index=False)
    sheet[sheet["patient"].isin(held)].rename(columns={"patient": "barcode"}).to_csv(
        paths["new_sheet"], index=False
    )
    return paths


RUN = ("--time", "OS.time", "--event", "OS", "--annotation-features",
       "ajcc_pathologic_tumor_stage,age", "--no-audit")  # fmt: skip


def test_run_predict_validate_monitor_on_held_out_sites(cli, stad, tmp_path):
    runs = tmp_path / "runs"
    common = (stad["dev"], "--annotations", stad["dev_sheet"], "--annotations-id-column",
              "patient", *RUN, *FAST, "--out", runs)  # fmt: skip
    # one expression sample without a sheet row: a clear line that offers the way forward
    refused = cli("run", *common)
    assert_user_error(refused, "1 of", MISSING, "--drop-unmatched")
    assert not run_dirs(runs)
    result = cli("run", *common, "--drop-unmatched")
    assert result.code == 0, result.err
    (run,) = run_dirs(runs)
    results = json.loads((run / "results.json").read_text())
    joined = results["data"]["annotations"]
    assert joined["data_without_annotations"] == [MISSING]
    assert joined["features"] == ["ajcc_pathologic_tumor_stage", "age"]
    assert "OS.time" in joined["not_features"] and "tss_source_site" in joined["not_features"]
    n_dev = len(pd.read_csv(stad["dev"]))
    assert results["n_samples"] == n_dev - 1 and results["task"] == "survival"
    card = json.loads((run / "model.json").read_text())
    assert card["dtypes"]["ajcc_pathologic_tumor_stage"] == "categorical"
    assert "Stage IIIA" in card["categories"]["ajcc_pathologic_tumor_stage"]
    assert "age" in card["features"]
    report = (run / "report.html").read_text()
    assert "(--annotation-features): ajcc_pathologic_tumor_stage, age" in report
    assert "1 data sample(s) without a row left out (--drop-unmatched)" in report

    new, sheet = stad["new"], stad["new_sheet"]
    n_new = len(pd.read_csv(new))
    follow = ("--annotations", sheet, "--annotations-id-column", "barcode")
    # predict: the risk of every held-out patient, the stage and age read from their sheet
    result = cli("predict", run, new, *follow, "--no-log")
    assert result.code == 0, result.err
    risks = pd.read_csv(pd.io.common.StringIO(result.out), index_col=0)
    assert len(risks) == n_new and risks["risk"].notna().all()
    # validate: the outcome columns are the run's (OS.time, OS), found in the sheet
    result = cli("validate", run, new, *follow, "--out", tmp_path / "val")
    assert result.code == 0, result.err
    assert f"External validation on {n_new} samples" in result.out and "C-index" in result.out
    (written,) = (tmp_path / "val").glob("*/validation.json")
    validation = json.loads(written.read_text())
    assert validation["cohort"]["outcome_columns"] == {"time": "OS.time", "event": "OS"}
    assert validation["models"]["full"]["features_missing"] == []
    # monitor with survival labels: drift summary and performance on the console
    result = cli("monitor", run, new, *follow, "--time", "OS.time", "--event", "OS",
                 "--out", tmp_path / "mon")  # fmt: skip
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    (md,) = (tmp_path / "mon").glob("*/monitor.md")
    summary = json.loads(md.with_name("monitor.json").read_text())
    assert lines[0] == f"Drift: {summary['drift']['summary']['status']}"
    assert f"{len(card['features'])} of {len(card['features'])} features compared" in lines[1]
    (perf,) = [ln for ln in lines if ln.startswith("Performance (C-index; development BBC-CV")]
    assert f"{summary['performance']['development_estimate']['value']:.3f}" in perf
    value = summary["performance"]["value"]
    (overall,) = [ln for ln in lines if ln.strip().startswith(f"all (n {n_new}): {value:.3f}")]
    assert summary["performance"]["status"] in overall
    assert "{}" not in result.out and "null" not in result.out


def test_validate_names_other_outcome_columns_and_refuses_the_wrong_kind(cli, stad, tmp_path):
    # a development sheet with every row: no --drop-unmatched needed
    sheet = pd.read_csv(stad["dev_sheet"])
    full = shared_data("cohorts", "tcga_stad", "cohort_stad_patients.csv")
    missing_row = pd.read_csv(full).rename(columns={"case_id": "patient"})
    sheet = pd.concat([sheet, missing_row[missing_row["patient"] == MISSING]])
    dev_sheet = tmp_path / "dev_sheet.csv"
    sheet.to_csv(dev_sheet, index=False)
    runs = tmp_path / "runs"
    result = cli("run", stad["dev"], "--annotations", dev_sheet, "--annotations-id-column",
                 "patient", "--time", "OS.time", "--event", "OS", "--no-audit", *FAST,
                 "--out", runs)  # fmt: skip
    assert result.code == 0, result.err
    (run,) = run_dirs(runs)
    renamed = tmp_path / "new_sheet.csv"
    new_sheet = pd.read_csv(stad["new_sheet"])
    new_sheet.rename(columns={"OS.time": "os_days", "OS": "died"}).to_csv(renamed, index=False)
    follow = ("--annotations", renamed, "--annotations-id-column", "barcode")
    result = cli("validate", run, stad["new"], *follow, "--out", tmp_path / "val")
    assert_user_error(result, "outcome column 'OS.time' not found", "Check --time")
    result = cli("validate", run, stad["new"], *follow, "--time", "os_days", "--event", "died",
                 "--out", tmp_path / "val")  # fmt: skip
    assert result.code == 0, result.err
    assert "C-index" in result.out
    result = cli("validate", run, stad["new"], *follow, "--target", "died")
    assert_user_error(result, "--target", "survival model", "--time and --event")
