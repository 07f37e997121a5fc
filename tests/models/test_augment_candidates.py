"""``--augment``'s twins: every candidate of a preset gets one, named apart (the fit cache
keys on the name), built as the same pipeline inside ``SyntheticTraining`` with the run's
settings, recorded in results.json's params, and read back as augmented by the commands on
a saved run and by discovery's signature search (a method never silently becomes another)."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.pipeline import Pipeline

from insightome.compute.cache import FitCache
from insightome.discover.signature import restricted
from insightome.followup import candidate_from
from insightome.models.candidates import augmented_twins, candidates
from insightome.synthesis import SyntheticTraining


def test_every_candidate_gets_a_distinctly_named_twin():
    real = candidates("binary", 8, "fast")
    twins = augmented_twins(real, "cart", 1.0)
    names = [c.name for c in real + twins]
    assert len(set(names)) == len(names) == 2 * len(real)
    for c, t in zip(real, twins, strict=True):
        assert t.name == c.name + "+synthetic(cart,ratio=1)"
        assert (t.family, t.params, t.k, t.task) == (c.family, c.params, c.k, c.task)
        assert c.augment is None and t.augment == "cart" and t.augment_ratio == 1.0
    assert augmented_twins(real, "copula", 2)[0].name.endswith("+synthetic(copula,ratio=2)")


def test_the_fit_cache_never_confuses_a_candidate_with_its_twin(tmp_path):
    cache = FitCache(tmp_path, "breast")
    y, train, test = np.array([0.0, 1.0] * 5), np.arange(6), np.arange(6, 10)
    real = candidates("binary", 8, "fast")
    keys = {cache.key(c, y, train, test, 0) for c in real + augmented_twins(real, "cart", 1.0)}
    assert len(keys) == 2 * len(real)


def test_a_twin_builds_the_same_pipeline_inside_synthetic_training():
    bunch = load_breast_cancer(as_frame=True)
    X, y = bunch.data.iloc[:80, :6], bunch.target.iloc[:80].to_numpy()
    real = candidates("binary", 6, "fast")[0]
    twin = augmented_twins([real], "copula", 0.5)[0]
    model = twin.build(X, seed=7)
    assert isinstance(model, SyntheticTraining) and isinstance(model.estimator, Pipeline)
    assert (model.method, model.mode, model.ratio, model.task, model.seed) == (
        "copula", "augment", 0.5, "binary", 7,
    )  # fmt: skip
    plain = real.build(X, seed=7)
    assert [n for n, _ in model.estimator.steps] == [n for n, _ in plain.steps]
    assert model.estimator.get_params().keys() == plain.get_params().keys()
    proba = model.fit(X, y).predict_proba(X)
    assert proba.shape == (80, 2) and np.allclose(proba.sum(axis=1), 1)


def test_results_json_records_the_twin_and_a_saved_run_reads_it_back():
    real = candidates("binary", 8, "fast")[1]
    twin = augmented_twins([real], "cart", 2.0)[0]
    entry = twin.to_dict()
    assert entry["params"]["augment"] == "cart" and entry["params"]["augment_ratio"] == 2.0
    assert "augment" not in real.to_dict()["params"]  # a run without --augment: as before
    back = candidate_from(entry, "binary")
    assert back == twin and back.name == twin.name
    assert candidate_from(real.to_dict(), "binary") == real


def test_the_signature_search_keeps_an_augmented_winner_augmented():
    twin = augmented_twins(candidates("binary", 40, "default"), "cart", 1.0)
    for c in twin:
        small = restricted(c, 5)
        assert small.augment == "cart" and small.name.endswith("+synthetic(cart,ratio=1)")
    assert all(restricted(c, 5).augment is None for c in candidates("binary", 40))
