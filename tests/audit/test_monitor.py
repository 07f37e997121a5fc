"""Deployment monitoring of a real run (scikit-learn's breast-cancer data)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import insightome
from insightome import errors
from insightome.audit.drift import OTHER, PSI_MAJOR
from insightome.errors import UserError
from insightome.monitoring import (
    MONITOR_NO_PROFILE,
    MONITOR_TOO_FEW,
    feature_drift,
    monitor,
    reference_profile,
    write_monitor_report,
)
from insightome.run_directory import Run
from insightome.study import make_study
from tests.conftest import breast_cancer_adata


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A real run on 340 samples; the other 229 are new data from the same distribution."""
    full = breast_cancer_adata()
    rng = np.random.default_rng(0)
    order = rng.permutation(full.n_obs)
    dev, new = full[order[:340]].copy(), full[order[340:]].copy()
    dev.obs["site"] = rng.choice(["A", "B"], dev.n_obs)
    new.obs["site"] = rng.choice(["A", "B"], new.n_obs)
    new.obs.iloc[:5, new.obs.columns.get_loc("site")] = "C"  # a group of 5: too small
    new.obs_names = [f"patient-{i:04d}" for i in range(new.n_obs)]
    run = insightome.run(
        dev,
        "diagnosis",
        sensitive=["site"],
        preset="fast",
        folds=3,
        repeats=1,
        n_bootstrap=200,
        out_dir=tmp_path_factory.mktemp("runs"),
        discover=False,
    )
    # `insightome.run` does not store the reference profile yet; it will, computed from the
    # study's features at training time. Until it is wired, compute it here the same way
    # and add it to the run's model.json.
    features = make_study(dev, target="diagnosis", sensitive=["site"]).features
    card = json.loads((run.path / "model.json").read_text())
    card["reference_profile"] = reference_profile(features)
    (run.path / "model.json").write_text(json.dumps(card))
    return Run.load(run.path), dev, new


def _with_feature(adata, name: str, factor: float):
    out = adata.copy()
    out.X[:, list(out.var_names).index(name)] *= factor
    return out


def test_reference_profile_holds_aggregates_only(study):
    run, dev, _ = study
    profile = run.model_card["reference_profile"]
    assert profile["n_samples"] == dev.n_obs and len(profile["features"]) == 30
    for name, f in profile["features"].items():
        assert f["type"] == "numeric" and f["n"] == dev.n_obs and f["missing"] == 0
        assert len(f["edges"]) <= 9 and len(f["proportions"]) == len(f["edges"]) + 1
        assert sum(f["proportions"]) == pytest.approx(1)
        counts = np.round(np.array(f["proportions"]) * f["n"])
        assert ((counts == 0) | (counts >= 10)).all(), name  # no bin below min_cell
        x = dev[:, name].X.ravel()
        assert f["mean"] == pytest.approx(x.mean()) and f["sd"] == pytest.approx(x.std(ddof=1))
    json.dumps(profile, allow_nan=False)


def test_same_distribution_shows_no_major_drift_and_no_performance_drop(study):
    run, _, new = study
    report = monitor(run, new, labels="diagnosis")
    s = report.drift["summary"]
    assert s["major"] == [] and s["share_psi_major"] == 0  # observed: 0 of 30
    assert s["mean_psi"] < PSI_MAJOR / 2  # observed 0.070
    p = report.performance
    assert p["metric"] == "auc" and p["development"] == run.results["estimate"]["value"]
    assert not p["drop"]
    # observed: 0.9976 [0.9938, 0.9998] vs development 0.9935 (BBC-CV, conservative): the
    # new estimate is at or above the development one, within 0.02
    assert p["ci95"][0] <= p["value"] <= p["ci95"][1]
    assert p["development_inside_ci"] or p["value"] > p["development"]
    assert abs(p["difference"]) < 0.02


def test_a_rescaled_feature_is_flagged(study):
    run, _, new = study
    shifted = _with_feature(_with_feature(new, "mean radius", 1.5), "worst area", 1.5)
    report = monitor(run, shifted)
    s, feats = report.drift["summary"], report.drift["features"]
    assert set(s["major"]) == {"mean radius", "worst area"}
    assert s["status"] == f"major drift in 2 of 30 features (PSI > {PSI_MAJOR})"
    for name in ("mean radius", "worst area"):
        # observed PSI 3.57 / 0.77 and SMD 1.91 / 0.69 (mean radius / worst area)
        assert feats[name]["psi"] > 0.5 and feats[name]["smd"] > 0.5
        assert feats[name]["flags"][:2] == ["PSI>0.25", "|SMD|>0.1"]
        assert feats[name]["psi_level"] == "major"
    assert report.performance is None


def test_a_cohort_of_large_tumours_drifts_broadly(study):
    run, dev, new = study
    radius = new[:, "mean radius"].X.ravel()
    large = new[radius > np.median(dev[:, "mean radius"].X)].copy()
    report = monitor(run, large, labels="diagnosis")
    s = report.drift["summary"]
    assert "mean radius" in s["major"] and s["status"].startswith("major drift")
    assert s["share_psi_major"] > 0.3 and s["mean_psi"] > PSI_MAJOR  # observed 0.60, 0.86
    assert report.drift["features"]["mean radius"]["smd"] > 0.5


def test_corrupted_labels_show_a_performance_drop(study):
    run, _, new = study
    noisy = new.copy()
    flip = np.random.default_rng(1).random(noisy.n_obs) < 0.3
    labels = noisy.obs["diagnosis"].to_numpy().copy()
    labels[flip] = np.where(labels[flip] == "benign", "malignant", "benign")
    noisy.obs["diagnosis"] = labels
    p = monitor(run, noisy, labels="diagnosis").performance
    assert p["drop"] and not p["development_inside_ci"]
    assert p["development"] > p["ci95"][1]  # observed 0.69 [0.62, 0.76] vs 0.994
    assert p["difference"] < -0.2
    assert p["status"] == "below the development estimate (performance drop)"


def test_sensitive_groups_small_groups_and_complementary_suppression(study):
    run, _, new = study
    report = monitor(run, new, labels="diagnosis")
    groups = report.performance["groups"]["site"]
    assert set(groups) == {"A", "B", "C"}
    assert groups["C"]["status"] == "insufficient evidence" and groups["C"]["n"] is None
    assert "value" not in groups["C"]
    # with the total known, C's 5 would follow from the sizes of A and B: the smaller of the
    # two is hidden too, marked as not small, and so are its estimates; observed A 114, B 110
    sizes = new.obs["site"].value_counts()
    small, large = sorted(["A", "B"], key=lambda g: sizes[g])
    assert groups[small]["n"] is None and groups[large]["n"] == sizes[large]
    assert groups[small]["suppressed"]["n"] == "suppressed" and groups[small]["value"] is None
    assert groups["C"]["suppressed"]["n"] == "<10"
    assert report.performance["n"] == new.n_obs
    assert groups[large]["ci95"][0] <= groups[large]["value"] <= groups[large]["ci95"][1]
    assert groups[large]["status"] != "insufficient evidence"
    md = report.to_markdown()
    assert "| site = C | <10 | — | — | — | insufficient evidence |" in md
    rows = {line.split(" | ")[0]: line for line in md.splitlines() if line.startswith("| site")}
    assert rows[f"| site = {small}"].split(" | ")[1:3] == ["suppressed", "—"]
    assert rows[f"| site = {large}"].split(" | ")[1] == str(sizes[large])


def test_report_from_files_is_written_atomically_without_row_level_data(study, tmp_path):
    run, _, new = study
    table = pd.DataFrame(new.X, columns=new.var_names, index=new.obs_names)
    table = table.drop(columns=["worst symmetry"])  # a feature the new site does not measure
    table.insert(0, "id", new.obs_names)
    table["diagnosis"], table["site"] = new.obs["diagnosis"], new.obs["site"]
    cohort = tmp_path / "clinic_2025.csv"
    table.to_csv(cohort, index=False)

    report = monitor(run.path, cohort, labels="diagnosis", id_column="id")
    assert report.data["name"] == "clinic_2025" and len(report.data["sha256"]) == 64
    assert report.drift["summary"]["absent"] == ["worst symmetry"]
    assert report.drift["features"]["worst symmetry"]["flags"] == ["absent"]
    assert "site" in report.performance["groups"]
    out = write_monitor_report(report)
    assert out.parent == run.path / "monitoring" and out.name.endswith("-clinic_2025")
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temp dir left
    text = (out / "monitor.json").read_text() + (out / "monitor.md").read_text()
    assert json.loads((out / "monitor.json").read_text())["drift"]["summary"]["n_features"] == 30
    assert not any(sample in text for sample in new.obs_names)  # no sample IDs


def test_categorical_drift_pools_rare_levels(study):
    _, dev, new = study

    def size_class(adata) -> pd.Series:
        r = adata[:, "mean radius"].X.ravel()
        bands = np.select([r < 12, r < 15, r < 25], ["small", "medium", "large"], "giant")
        return pd.Series(pd.Categorical(bands, categories=["giant", "large", "medium", "small"]))

    ref = reference_profile(pd.DataFrame({"size": size_class(dev)}))
    levels = ref["features"]["size"]["levels"]
    assert "giant" not in levels and levels[OTHER] > 0  # fewer than 10 giant tumours: pooled
    same = feature_drift(ref, pd.DataFrame({"size": size_class(new)}))
    r = new[:, "mean radius"].X.ravel()
    big = feature_drift(ref, pd.DataFrame({"size": size_class(new[r > 15])}))
    assert same["features"]["size"]["psi"] < 0.1 < PSI_MAJOR < big["features"]["size"]["psi"]
    assert big["summary"]["major"] == ["size"]


def test_run_without_reference_profile_is_refused(study):
    run, _, new = study
    card = {k: v for k, v in run.model_card.items() if k != "reference_profile"}
    with pytest.raises(UserError) as info:
        monitor(replace(run, model_card=card), new)
    assert info.value.template == MONITOR_NO_PROFILE
    assert "predates monitoring" in str(info.value) and "rerun" in str(info.value)


def test_bad_outcome_options_and_tiny_batches(study):
    run, _, new = study
    with pytest.raises(UserError) as info:
        monitor(run, new, labels="diagnosys")
    assert info.value.template == errors.COLUMN_MISSING and "'diagnosis'" in str(info.value)
    with pytest.raises(UserError) as info:
        monitor(run, new, time="t", event="e")
    assert info.value.template == errors.OPTION_INVALID
    with pytest.raises(UserError) as info:
        monitor(run, new[:9].copy())
    assert info.value.template == MONITOR_TOO_FEW


def test_monitoring_follows_the_runs_min_cell(study):
    """A run made with --min-cell 20 hides groups of 10-19 in monitoring too, without being
    told again; a smaller --min-cell than the run's is refused."""
    run, _, new = study
    new = new.copy()
    new.obs["site"] = new.obs["site"].astype(str)
    new.obs.iloc[5:20, new.obs.columns.get_loc("site")] = "D"  # a group of 15
    strict = replace(run, results={**run.results, "invocation": {"min_cell": 20}})
    report = monitor(strict, new, labels="diagnosis")
    assert report.min_cell == 20
    groups = report.performance["groups"]["site"]
    assert groups["D"]["n"] is None and groups["D"]["suppressed"]["n"] == "<20"
    md = report.to_markdown()
    assert "| site = D | <20 |" in md and "| 15 |" not in md
    with pytest.raises(UserError) as info:
        monitor(strict, new, labels="diagnosis", min_cell=10)
    assert info.value.template == errors.OPTION_INVALID and "--min-cell 20" in str(info.value)


def test_a_single_rare_level_is_not_pooled_alone():
    """'(other)' holding one level of 5 gave it back: its share × n. The rule hides a
    further level with it, so the rare one could be anything from 1 to 9."""
    col = pd.Series(["a"] * 100 + ["b"] * 50 + ["c"] * 30 + ["rare"] * 5, dtype=object)
    ref = reference_profile(pd.DataFrame({"x": col}))
    levels, n = ref["features"]["x"]["levels"], ref["features"]["x"]["n"]
    assert "rare" not in levels
    pooled = round(levels[OTHER] * n)
    others_pooled = 1 + 3 - len(levels)  # levels other than "rare" in the pool (each ≥ 10)
    assert others_pooled >= 1 and pooled - 10 * others_pooled >= 9, levels
    same = feature_drift(ref, pd.DataFrame({"x": col}))
    assert same["features"]["x"]["psi"] == pytest.approx(0, abs=1e-9)
