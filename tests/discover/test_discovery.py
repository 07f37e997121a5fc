"""Discovery end to end, for every task, on real data shipped inside dependencies."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_rossi
from sklearn import datasets

import insightome
from insightome.discover.hypotheses import COLUMNS, STATUS
from tests.conftest import shared_data

QUICK = {"preset": "fast", "folds": 3, "repeats": 2, "n_bootstrap": 200, "out_dir": None}


def _adata(X: pd.DataFrame, obs: pd.DataFrame) -> ad.AnnData:
    X = X.reset_index(drop=True)
    idx = pd.Index([f"s{i}" for i in range(len(X))])
    return ad.AnnData(
        X.to_numpy(float), obs=obs.set_axis(idx), var=pd.DataFrame(index=X.columns.astype(str))
    )


def _check(run: insightome.Run, task: str) -> dict:
    found = run.results["discovery"]
    assert run.results["task"] == task
    assert found["status"] == STATUS
    table = run.hypotheses
    assert list(table.columns) == COLUMNS and len(table) > 0
    assert (table["status"] == STATUS).all()
    assert table["score"].is_monotonic_decreasing
    sig = found["signature"]
    assert sig["size"] == len(sig["features"]) >= 1
    lo, hi = sig["estimate"]["ci95"]
    assert lo <= sig["estimate"]["value"] <= hi
    assert run.signature_model is not None
    assert found["seconds"]["signature"] > 0
    return found


def test_regression_discovery_diabetes() -> None:
    bunch = datasets.load_diabetes(as_frame=True)
    obs = pd.DataFrame({"progression": bunch.target.to_numpy()})
    run = insightome.run(_adata(bunch.data, obs), "progression", **QUICK)
    found = _check(run, "regression")
    # BMI and serum triglycerides (s5) are the strongest predictors of progression
    top = {r["feature"] for r in found["effects"]["top"][:3]}
    assert {"bmi", "s5"} <= top
    assert set(found["signature"]["features"]) & {"bmi", "s5"}
    assert found["signature"]["estimate"]["metric"] == "r2"


def test_multiclass_discovery_wine() -> None:
    bunch = datasets.load_wine(as_frame=True)
    obs = pd.DataFrame({"cultivar": [f"c{t}" for t in bunch.target]})
    run = insightome.run(_adata(bunch.data, obs), "cultivar", **QUICK)
    found = _check(run, "multiclass")
    assert found["signature"]["estimate"]["value"] > 0.9
    assert found["subgroups"]["k"] is not None


def test_survival_discovery_rossi_with_sensitive_composition() -> None:
    rossi = load_rossi()
    obs = rossi[["week", "arrest", "race"]].astype({"race": str})
    X = rossi.drop(columns=["week", "arrest", "race"])
    run = insightome.run(
        _adata(X, obs), time_col="week", event="arrest", sensitive=["race"], **QUICK
    )
    found = _check(run, "survival")
    assert found["signature"]["estimate"]["metric"] == "c_index"
    effects = {r["feature"]: r for r in found["effects"]["top"]}
    assert effects["prio"]["direction"] == "higher hazard"
    comp = found["subgroups"]["composition"]["race"]
    for row in comp["table"]:  # counts < 10 never appear
        assert all(v is None or v >= 10 for k, v in row.items() if k != "subgroup")


def test_discovery_off_writes_no_hypotheses() -> None:
    bunch = datasets.load_breast_cancer(as_frame=True)
    obs = pd.DataFrame({"y": np.where(bunch.target == 0, "malignant", "benign")})
    run = insightome.run(_adata(bunch.data, obs), "y", discover=False, **QUICK)
    assert "discovery" not in run.results and run.hypotheses is None


@pytest.mark.slow
def test_null_calibration_permuted_survival_with_pathways() -> None:
    """TCGA-STAD expression (1577 gene symbols) with shuffled survival: discovery must find
    (almost) no stable gene and no pathway at FDR 0.05."""
    expr = pd.read_csv(
        shared_data("cohorts", "tcga_stad", "expression_xena_stad_1577genes.csv"), index_col=0
    )
    cohort = pd.read_csv(shared_data("cohorts", "tcga_stad", "cohort_stad_patients.csv"))
    cohort = cohort.set_index(cohort.columns[0]).loc[expr.index]
    keep = cohort["OS.time"].notna() & (cohort["OS.time"] > 0) & cohort["OS"].notna()
    rng = np.random.default_rng(0)
    order = rng.permutation(int(keep.sum()))
    obs = pd.DataFrame(
        {
            "time": cohort.loc[keep, "OS.time"].to_numpy()[order],
            "event": cohort.loc[keep, "OS"].to_numpy().astype(int)[order],
        }
    )
    run = insightome.run(
        _adata(expr.loc[keep], obs),
        time_col="time",
        event="event",
        genesets=[shared_data("genesets", "h.all.v7.0.symbols.gmt")],
        **{**QUICK, "repeats": 1},
    )
    found = run.results["discovery"]
    assert found["stability"]["n_stable"] <= 1
    pathways = found["pathways"]
    assert pathways["mapping"]["n_mapped"] > 500  # Hallmark covers about half of them
    significant = [r for r in pathways["prerank"] + pathways["ora"] if r["fdr"] < 0.05]
    assert len(significant) <= 1, significant
    assert not (run.hypotheses["kind"] == "pathway").sum() > 1
