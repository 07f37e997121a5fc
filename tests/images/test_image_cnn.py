"""The CNN trained inside each fold (models.image_cnn): it learns, is deterministic, stops
early, cross-fits its training scores, caches its fits, keeps groups together, pickles
without torch objects and points at the informative region."""

from __future__ import annotations

import io
import pickle
import pickletools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

pytest.importorskip("torch")

from insightome import errors
from insightome.errors import UserError
from insightome.models import image_cnn
from insightome.models.candidates import Candidate
from insightome.models.image_cnn import (
    CNNConvergenceWarning,
    CNNScore,
    ImageBank,
    SmallCNN,
    bank_from_arrays,
    dump_without_images,
    occlusion_map,
    prepare_image,
    with_images,
    without_images,
)

SRC = Path(__file__).resolve().parents[2] / "src"
# small and quick: each CNN fit well under a second on one thread
FAST = {"epochs": 20, "width": 8, "batch_size": 32, "patience": 3, "tol": 0.01, "n_threads": 1}


def squares(n: int = 200, size: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noise images with a bright 6x6 square near the top-left corner (class 1) or near the
    bottom-right corner (class 0), scaled to [0, 1]: (n, 1, size, size)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0.3, 0.1, (n, 1, size, size)).astype(np.float32)
    y = np.arange(n) % 2
    for i in range(n):
        r, c = rng.integers(1, 6, 2)
        if y[i] == 1:
            X[i, 0, r : r + 6, c : c + 6] += 0.6
        else:
            X[i, 0, size - 6 - r : size - r, size - 6 - c : size - c] += 0.6
    return np.clip(X, 0, 1), y


class Logistic:
    """A tiny candidate: build(features, seed) → an unfitted pipeline."""

    def build(self, features: pd.DataFrame, seed: int = 0):
        return make_pipeline(StandardScaler(), LogisticRegression())


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.delenv(image_cnn.CACHE_ENV, raising=False)
    image_cnn.clear_cache()
    yield
    image_cnn.clear_cache()


def bank_and_table(n: int = 120, seed: int = 0, groups: bool = False):
    X, y = squares(n, seed=seed)
    ids = [f"s{i:03d}" for i in range(n)]
    grp = pd.Series([f"p{i // 3}" for i in range(n)], index=ids) if groups else None
    bank = ImageBank(ids, X, grp)
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"age": rng.normal(60, 10, n)}, index=pd.Index(ids, name="id"))
    return bank, table, y


# -- SmallCNN --------------------------------------------------------------------------------


def test_learns_the_squares_and_is_deterministic():
    X, y = squares(200)
    Xt, yt = squares(200, seed=1)
    first = SmallCNN(**FAST, seed=3).fit(X, y)
    assert roc_auc_score(yt, first.decision_function(Xt)) > 0.95
    assert roc_auc_score(yt, first.predict_proba(Xt)[:, 1]) > 0.95
    assert (first.predict(Xt) == yt).mean() > 0.9
    again = SmallCNN(**FAST, seed=3).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(Xt), again.predict_proba(Xt))
    other = SmallCNN(**FAST, seed=4).fit(X, y)
    assert not np.array_equal(first.predict_proba(Xt), other.predict_proba(Xt))
    assert first.embed(Xt).shape == (200, 4 * FAST["width"])
    # the logit is log p1 - log p0
    logp = first.predict_log_proba(Xt)
    np.testing.assert_allclose(first.decision_function(Xt), logp[:, 1] - logp[:, 0], atol=1e-9)


def test_stops_early_once_learnt_and_keeps_torch_settings():
    import torch

    threads = torch.get_num_threads()
    X, y = squares(160)
    model = SmallCNN(**{**FAST, "epochs": 60, "patience": 3}).fit(X, y)
    assert model.stopped_early_ and model.n_epochs_ < 60 - 3
    assert len(model.lrs_) == model.n_epochs_  # the refit ran the best run's epochs
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()


def test_too_few_epochs_warns_with_a_named_warning():
    X, y = squares(80)
    with pytest.warns(CNNConvergenceWarning, match="maximum of 2 epochs"):
        model = SmallCNN(**{**FAST, "epochs": 2, "tol": -1.0}).fit(X, y)
    assert model.warnings_ and not model.stopped_early_


def test_multiclass_and_no_flips():
    X, y = squares(150)
    y = np.where(np.arange(150) % 3 == 2, "c", np.where(y == 1, "a", "b"))
    X[y == "c"] = np.clip(X[y == "c"] * 0.3, 0, 1)  # a third class: dark images
    model = SmallCNN(**FAST, flips="none").fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (150, 3) and list(model.classes_) == ["a", "b", "c"]
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-6)
    assert model.decision_function(X).shape == (150, 3)
    assert (model.predict(X) == y).mean() > 0.8


def test_inner_split_keeps_groups_together():
    y = np.arange(90) % 2
    groups = np.arange(90) // 3
    train, val = image_cnn._inner_split(y, groups, 5, seed=0)
    assert not set(groups[train]) & set(groups[val])
    for train, test in image_cnn._cross_fit_folds(y, groups, 3, seed=0):
        assert not set(groups[train]) & set(groups[test])


# -- CNNScore --------------------------------------------------------------------------------


def test_cnn_score_under_cross_validation_is_out_of_fold():
    bank, table, y = bank_and_table(120)
    model = CNNScore(Logistic(), bank, cnn_params=FAST, inner_folds=2, seed=1)
    scores = cross_val_score(model, table, y, cv=KFold(3, shuffle=True, random_state=0),
                             scoring="roc_auc")  # fmt: skip
    assert scores.min() > 0.9
    fitted = model.fit(table, y)
    assert fitted.score_columns_ == ["cnn:score"]
    final = fitted.cnn_.decision_function(bank.lookup(table.index))
    oof = fitted.train_scores_[:, 0]
    # each training row's score came from a CNN that did not see it: not the final CNN's
    assert not np.allclose(oof, final, atol=1e-3)
    assert roc_auc_score(y, oof) > 0.9
    coef = fitted.estimator_[-1].coef_[0]
    assert abs(coef[1]) > abs(coef[0])  # the CNN score, not the noise column, predicts


def test_cnn_fits_are_cached_in_memory_and_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv(image_cnn.CACHE_ENV, str(tmp_path))
    bank, table, y = bank_and_table(80)
    a = CNNScore(Logistic(), bank, cnn_params=FAST, inner_folds=2).fit(table, y)
    b = CNNScore(Logistic(), bank, cnn_params=FAST, inner_folds=2).fit(table, y)
    assert image_cnn.cache_stats() == {"trained": 1, "memory": 1, "disk": 0}
    assert b.cnn_ is a.cnn_
    assert len(list(tmp_path.glob("*.pkl"))) == 1 and not list(tmp_path.glob("*.tmp"))
    image_cnn.clear_cache()  # another process: only the disk
    c = CNNScore(Logistic(), bank, cnn_params=FAST, inner_folds=2).fit(table, y)
    assert image_cnn.cache_stats() == {"trained": 0, "memory": 0, "disk": 1}
    np.testing.assert_array_equal(c.predict_proba(table), a.predict_proba(table))
    # other rows (or another seed) are fitted again
    CNNScore(Logistic(), bank, cnn_params=FAST, inner_folds=2).fit(table.iloc[:70], y[:70])
    CNNScore(Logistic(), bank, cnn_params=FAST, inner_folds=2, seed=5).fit(table, y)
    assert image_cnn.cache_stats()["trained"] == 2


def test_groups_never_straddle_the_inner_splits(monkeypatch):
    bank, table, y = bank_and_table(90, groups=True)
    seen: list[np.ndarray] = []
    fit = SmallCNN.fit

    def spy(self, X, y, groups=None):
        seen.append(np.asarray(groups))
        return fit(self, X, y, groups)

    monkeypatch.setattr(SmallCNN, "fit", spy)
    CNNScore(Logistic(), bank, cnn_params=FAST, inner_folds=3).fit(table, y)
    everyone = bank.groups_for(table.index)
    assert len(seen) == 4  # three inner folds and the final CNN
    for train_groups in seen[:3]:
        # every image of a group the fold trained on is in that fold's training rows
        assert np.isin(everyone, train_groups).sum() == len(train_groups)
        assert len(train_groups) < len(everyone)


def test_an_average_of_cnn_models_is_saved_without_images():
    """--ensemble top3 with --image-features cnn: each member's saved form holds no image,
    and given the images again the average predicts what it predicted when fitted."""
    from insightome.models.ensemble import AveragedClassifier, each_member, saved_form

    bank, table, y = bank_and_table(80)
    members = [
        CNNScore(Candidate("ridge_logistic", {"C": c, "l1_ratio": 0.0}), bank, cnn_params=FAST,
                 inner_folds=2)
        for c in (0.1, 1.0)
    ]  # fmt: skip
    model = AveragedClassifier(members).fit(table, y)
    expected = model.predict_proba(table)
    saved = saved_form(model)
    assert all(m.images is None and not hasattr(m, "train_scores_") for m in saved.members_)
    assert all(m.images is not None for m in model.members_)  # the fitted model is unchanged
    blob = pickle.dumps(saved)
    assert len(blob) < 400_000  # two members' weights, not the images
    with pytest.raises(UserError):
        pickle.loads(blob).predict_proba(table)
    restored = each_member(pickle.loads(blob), lambda m: with_images(m, bank))
    np.testing.assert_allclose(restored.predict_proba(table), expected)


def test_saved_model_has_no_images_and_no_torch(tmp_path):
    bank, table, y = bank_and_table(80)
    ridge = Candidate("ridge_logistic", {"C": 1.0, "l1_ratio": 0.0})  # insightome's own
    model = CNNScore(ridge, bank, cnn_params=FAST, inner_folds=2).fit(table, y)
    expected = model.predict_proba(table)
    saved = without_images(model)
    assert saved.images is None and not hasattr(saved, "train_scores_")
    blob = pickle.dumps(saved)
    strings = [arg for _, arg, _ in pickletools.genops(blob) if isinstance(arg, str)]
    assert not [s for s in strings if "torch" in s]
    assert len(blob) < 200_000  # the weights, not the images
    with pytest.raises(UserError) as err:
        pickle.loads(blob).predict_proba(table)
    assert str(err.value) == errors.IMAGES_NOT_GIVEN
    restored = with_images(pickle.loads(blob), bank)
    np.testing.assert_allclose(restored.predict_proba(table), expected)
    # a process without torch unpickles it (torch is needed only to predict)
    path = tmp_path / "model.pkl"
    path.write_bytes(blob)
    code = f"""
import importlib.abc, pickle, sys

class NoTorch(importlib.abc.MetaPathFinder):  # as if torch were not installed
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "torch":
            raise ImportError("no torch")

sys.meta_path.insert(0, NoTorch())
m = pickle.load(open({str(path)!r}, "rb"))
assert "torch" not in sys.modules
print(type(m).__name__, m.cnn_.state_["head.1.weight"].shape)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": str(SRC), "PATH": ""},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "CNNScore"


def test_new_samples_need_their_images():
    bank, table, y = bank_and_table(80)
    model = CNNScore(Logistic(), bank, cnn_params=FAST, inner_folds=2).fit(table, y)
    new = pd.DataFrame({"age": [50.0]}, index=pd.Index(["nobody"], name="id"))
    with pytest.raises(UserError) as err:
        model.predict(new)
    assert "nobody" in str(err.value) and "1 sample(s)" in str(err.value)


def test_refusals():
    bank, table, y = bank_and_table(40)
    with pytest.raises(ValueError, match="task"):
        CNNScore(Logistic(), bank, task="regression").fit(table, y)
    with pytest.raises(ValueError, match="prefix"):
        CNNScore(Logistic(), bank).fit(table.assign(**{"cnn:score": 1.0}), y)
    with pytest.raises(UserError) as err:
        CNNScore(Logistic(), None).fit(table, y)
    assert str(err.value) == errors.IMAGES_NOT_GIVEN


def test_multiclass_scores_are_log_probabilities():
    bank, table, y = bank_and_table(90)
    y = np.where(np.arange(90) % 3 == 2, 2, y)
    model = CNNScore(Logistic(), bank, cnn_params=FAST, inner_folds=2, task="multiclass")
    model.fit(table, y)
    assert model.score_columns_ == ["cnn:score:0", "cnn:score:1", "cnn:score:2"]
    np.testing.assert_allclose(np.exp(model.train_scores_).sum(axis=1), 1, atol=1e-6)
    assert model.predict_proba(table).shape == (90, 3)


# -- occlusion -------------------------------------------------------------------------------


def test_occlusion_map_points_at_the_square():
    X, y = squares(200)
    model = SmallCNN(**FAST).fit(X, y)
    ones = np.flatnonzero(y == 1)[:5]
    for i in ones:
        for patch, margin in ((None, 0.005), (8, 0.05)):  # a seventh of the side; 8 pixels
            heat = occlusion_map(model, X[i], patch=patch)
            assert heat.shape == (28, 28) and heat.dtype == np.float32
            top_left = heat[:12, :12].mean()
            elsewhere = np.r_[heat[14:, :].ravel(), heat[:, 14:].ravel()].mean()
            assert top_left > elsewhere + margin, (patch, top_left, elsewhere)
            row, col = np.unravel_index(np.argmax(heat), heat.shape)
            assert row < 12 and col < 12


# -- the image table -------------------------------------------------------------------------


def test_image_bank_digest_lookup_repr_and_copy():
    X, _ = squares(10)
    ids = [f"s{i}" for i in range(10)]
    bank = ImageBank(ids, X)
    assert bank == ImageBank(ids, X.copy()) and hash(bank) == hash(ImageBank(ids, X))
    X2 = X.copy()
    X2[0, 0, 0, 0] = 1 - X2[0, 0, 0, 0]
    assert bank != ImageBank(ids, X2)
    assert bank != ImageBank(ids, X, pd.Series(range(10), index=ids))
    assert "0." not in repr(bank) and "10 samples" in repr(bank)
    import copy

    assert copy.deepcopy(bank) is bank
    got = bank.lookup(["s3", "s1"])
    assert got.dtype == np.float16 and got.shape == (2, 1, 28, 28)
    np.testing.assert_allclose(got[1], X[1], atol=1e-3)
    with pytest.raises(UserError, match=r"e\.g\. zz"):
        bank.lookup(["s1", "zz"])
    with pytest.raises(ValueError, match="duplicate"):
        ImageBank(["a", "a"], X[:2])


def test_checkpoints_refer_to_images_by_digest():
    X, _ = squares(6)
    ids = [f"s{i}" for i in range(6)]
    bank = ImageBank(ids, X)
    stream = io.BytesIO()
    dump_without_images({"bank": bank}, stream)
    assert len(stream.getvalue()) < 2_000  # no pixels
    image_cnn._REGISTRY.pop(bank.digest, None)
    restored = pickle.loads(stream.getvalue())["bank"]
    assert restored == bank and len(restored) == 6
    with pytest.raises(UserError) as err:
        restored.lookup(["s1"])
    assert str(err.value) == errors.IMAGES_NOT_READ
    bank.register()
    restored = pickle.loads(stream.getvalue())["bank"]
    np.testing.assert_array_equal(restored.lookup(["s2"]), bank.lookup(["s2"]))


def test_bank_from_arrays_resizes_scales_and_refuses_volumes():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 4096, (64, 48)).astype(np.uint16)
    colour = rng.integers(0, 256, (30, 30, 4)).astype(np.uint8)  # RGBA: alpha dropped
    bank = bank_from_arrays(["g", "c"], iter([grey, colour]), size=28)
    images = bank.lookup(["g", "c"])
    assert images.shape == (2, 3, 28, 28) and bank.channels == 3
    assert images.min() == 0 and images.max() == 1
    np.testing.assert_array_equal(images[0, 0], images[0, 2])  # grey repeated
    one = prepare_image(grey, 16)
    assert one.shape == (1, 16, 16) and one.min() == 0 and one.max() == 1
    assert prepare_image(np.full((5, 5), 7.0), 8).max() == 0  # constant: zeros
    with pytest.raises(ValueError, match=r"sample v: .*3D volume"):
        bank_from_arrays(["g", "v"], [grey, np.zeros((5, 20, 20))])


def test_missing_torch_is_one_line_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(UserError) as err:
        SmallCNN().fit(*squares(10))
    assert str(err.value) == errors.IMAGES_EXTRA_MISSING
    assert "pip install 'insightome[images]'" in str(err.value)


def test_no_warning_is_printed_when_converged(recwarn):
    X, y = squares(160)
    SmallCNN(**{**FAST, "epochs": 60, "patience": 3}).fit(X, y)
    assert not [w for w in recwarn if issubclass(w.category, CNNConvergenceWarning)]


def test_the_early_stopping_split_holds_every_class_on_both_sides_with_groups():
    from insightome.models.image_cnn import _inner_split

    rng = np.random.default_rng(0)
    found = 0
    for design in range(300):
        n_groups = int(rng.integers(6, 15))
        sizes = rng.integers(1, 6, n_groups)
        groups = np.repeat(np.arange(n_groups), sizes)
        y = np.repeat(rng.integers(0, 2, n_groups), sizes)  # one outcome per patient
        if len(np.unique(y)) < 2:
            continue
        split = _inner_split(y, groups, 5, design)
        if split is None:
            continue
        train, valid = split
        found += 1
        assert set(y[train]) == set(y[valid]) == {0, 1}
        assert not set(groups[train]) & set(groups[valid])
    assert found > 200
