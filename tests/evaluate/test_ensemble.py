"""The average of the top configurations (--ensemble): chosen inside every bootstrap, so
the estimate stays corrected; a configuration like any other through refit, prediction and
the saved run."""

from __future__ import annotations

import dataclasses

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import insightome
from insightome.errors import UserError
from insightome.evaluate.bbc import bbc_cv
from insightome.evaluate.search import BBCSearchCV
from insightome.followup import winner_candidate
from insightome.models.candidates import Candidate
from insightome.models.ensemble import (
    AveragedCandidate,
    AveragedClassifier,
    averaged,
    each_member,
    saved_form,
)
from insightome.options import recorded_options


def noisy_candidates(y: np.ndarray, noise: list[float], repeats: int, seed: int) -> np.ndarray:
    """(R, C, n, 1) probabilities: each candidate sees y through its own independent noise."""
    rng = np.random.default_rng(seed)
    oof = np.zeros((repeats, len(noise), len(y), 1))
    for r in range(repeats):
        for c, sd in enumerate(noise):
            oof[r, c, :, 0] = 1 / (1 + np.exp(-(y + rng.normal(0, sd, len(y)))))
    return oof


def thresholds(y: np.ndarray, repeats: int) -> np.ndarray:
    return np.full((repeats, len(y)), y.mean())


def test_an_average_of_independent_errors_wins_and_is_estimated_like_a_choice():
    y = np.random.default_rng(1).integers(0, 2, 150)
    oof = noisy_candidates(y, [1.2, 1.2, 1.2, 2.0, 2.0], repeats=3, seed=0)
    single = bbc_cv(oof, y, "binary", n_bootstrap=400, thresholds=thresholds(y, 3))
    avg = bbc_cv(oof, y, "binary", n_bootstrap=400, thresholds=thresholds(y, 3), average_top=3)
    assert avg.averaged == (0, 1, 2) and avg.winner == 5
    assert len(avg.cv_mean) == len(avg.cv_sd) == len(avg.selection_frequency) == 6
    # its plain CV is the mean of the three members' predictions' AUC
    assert avg.cv_mean[5] > avg.cv_mean[:5].max()
    assert avg.estimate.plain_cv_value == pytest.approx(avg.cv_mean[5])
    assert avg.selection_frequency[5] > 0.9
    # better than the best single one, and still corrected below its own plain CV
    assert avg.estimate.value > single.estimate.value + 0.03
    assert avg.estimate.value < avg.estimate.plain_cv_value
    # the secondary metrics' plain values are the average's (Brier score of the mean)
    mean = oof[:, :3].mean(axis=1)[..., 0]
    brier = np.mean([np.mean((mean[r] - y) ** 2) for r in range(3)])
    assert avg.secondary["brier"].plain_cv_value == pytest.approx(brier)


def test_on_pure_noise_the_average_adds_no_optimism():
    """Labels unrelated to 12 candidates' predictions: the plain CV of the best of them and
    of the average of the top 3 is above chance by selection alone; BBC-CV, which repeats
    both choices in every bootstrap, stays at chance."""
    estimates, plain = [], []
    for seed in range(6):
        rng = np.random.default_rng(100 + seed)
        y = rng.integers(0, 2, 60)
        oof = rng.uniform(size=(3, 12, 60, 1))
        res = bbc_cv(oof, y, "binary", n_bootstrap=300, seed=seed,
                     thresholds=thresholds(y, 3), average_top=3)  # fmt: skip
        estimates.append(res.estimate.value)
        plain.append(res.estimate.plain_cv_value)
        assert res.selection_frequency[-1] > 0  # bags did choose averages
    assert abs(np.mean(estimates) - 0.5) < 0.03, estimates
    assert np.mean(plain) > np.mean(estimates) + 0.03, (plain, estimates)


def test_multiclass_probabilities_are_averaged_too():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 120)
    z = np.eye(3)[y][None, None] * 1.5 + rng.normal(0, 1.5, (2, 4, 120, 3))
    oof = np.exp(z) / np.exp(z).sum(axis=3, keepdims=True)
    res = bbc_cv(oof, y, "multiclass", n_bootstrap=200, average_top=3)
    assert res.averaged and len(res.cv_mean) == 5 and res.winner == 4


def test_the_option_needs_the_default_selection_and_two_or_more():
    y = np.array([0, 1] * 20)
    oof = noisy_candidates(y, [1.0, 1.0, 1.0], repeats=1, seed=0)
    with pytest.raises(ValueError, match="average_top"):
        bbc_cv(oof, y, "binary", thresholds=thresholds(y, 1), average_top=1)
    with pytest.raises(ValueError, match="average_top"):
        bbc_cv(oof, y, "binary", thresholds=thresholds(y, 1), average_top=3, choice=0)


def test_the_averaged_model_is_the_mean_of_its_members_probabilities():
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:150, :6], y[:150]
    a, b = LogisticRegression(C=0.1, max_iter=2000), LogisticRegression(C=10, max_iter=2000)
    model = AveragedClassifier([a, b]).fit(X, y)
    expected = (a.predict_proba(X) + b.predict_proba(X)) / 2
    np.testing.assert_allclose(model.predict_proba(X), expected)
    assert list(model.classes_) == [0, 1]
    # fitted members that saw different classes (as in a training fold without one): each
    # contributes 0 for the classes it never saw, its columns aligned by class
    c = LogisticRegression(max_iter=2000).fit(X[y == 1][:5].tolist() + X[y == 0][:5].tolist(),
                                              [1] * 5 + [2] * 5)  # fmt: skip
    three = AveragedClassifier([a, c])
    three.members_, three.classes_ = [a, c], np.array([0, 1, 2])
    p, pa, pc = three.predict_proba(X), a.predict_proba(X), c.predict_proba(X)
    np.testing.assert_allclose(p[:, 0], pa[:, 0] / 2)
    np.testing.assert_allclose(p[:, 1], (pa[:, 1] + pc[:, 0]) / 2)
    np.testing.assert_allclose(p[:, 2], pc[:, 1] / 2)


def test_auto_averages_with_the_default_preset_and_plain_configurations_only():
    from types import SimpleNamespace

    from insightome.stages.modelling import ensemble_size

    def opts(**kw):
        base = {"ensemble": "auto", "preset": "default", "augment": "off", "notes_tfidf": 0,
                "image_features": ()}  # fmt: skip
        return SimpleNamespace(**{**base, **kw})

    assert ensemble_size(opts(), "binary") == 3 and ensemble_size(opts(), "multiclass") == 3
    assert ensemble_size(opts(), "regression") == 0
    assert ensemble_size(opts(preset="fast"), "binary") == 0
    assert ensemble_size(opts(augment="cart"), "binary") == 0
    assert ensemble_size(opts(notes_tfidf=50), "binary") == 0  # models that carry notes
    assert ensemble_size(opts(image_features=("cnn",)), "binary") == 0
    assert ensemble_size(opts(ensemble="off"), "binary") == 0
    assert ensemble_size(opts(ensemble="top3", preset="fast"), "binary") == 3


def test_an_average_is_offered_for_classification_only():
    members = [Candidate("ridge", {"alpha": 1.0}, task="regression")] * 3
    with pytest.raises(ValueError, match="offered for"):
        averaged(members)
    with pytest.raises(ValueError, match="average_top"):
        BBCSearchCV(task="regression", average_top=3).fit(
            pd.DataFrame({"a": np.arange(30.0)}), np.arange(30.0)
        )
    # task "auto" that reads a regression outcome: refused before any fit
    search = BBCSearchCV(average_top=3)
    with pytest.raises(ValueError, match="regression"):
        search.cross_validate(pd.DataFrame({"a": np.arange(40.0)}), np.linspace(0, 1, 40))
    assert not hasattr(search, "cv_predictions_")
    with pytest.raises(ValueError, match="class probabilities"):
        bbc_cv(np.zeros((1, 3, 10, 1)), np.arange(10.0), "regression", average_top=3)


@pytest.fixture(scope="module")
def breast():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X.iloc[:200, :10], y.iloc[:200]


def test_the_search_appends_the_average_and_refits_it(breast):
    X, y = breast
    search = BBCSearchCV(task="binary", repeats=2, n_bootstrap=300, average_top=3, seed=0)
    search.fit(X, y)
    n = search.n_configurations_
    assert len(search.candidates_) == n + 1 and isinstance(
        search.candidates_[-1], AveragedCandidate
    )
    members = search.bbc_.averaged
    np.testing.assert_allclose(search.oof_[:, n], search.oof_[:, list(members)].mean(axis=1))
    assert len(search.cv_results_["name"]) == n + 1
    assert search.cv_results_["family"][-1] == "average"
    # estimate() again starts from the cross-validated configurations: the same answer
    first = (search.best_index_, search.bbc_.estimate)
    search.estimate()
    assert (search.best_index_, search.bbc_.estimate) == first and len(search.candidates_) == n + 1
    # the average refitted is its members refitted, averaged
    average = search.candidates_[-1].build(X, 0).fit(X.to_numpy(), y.to_numpy())
    parts = [search.candidates_[c].build(X, 0).fit(X.to_numpy(), y.to_numpy()) for c in members]
    expected = np.mean([p.predict_proba(X.to_numpy()) for p in parts], axis=0)
    np.testing.assert_allclose(average.predict_proba(X.to_numpy()), expected)


def test_a_run_ends_in_the_average_when_it_wins_and_follow_ups_rebuild_it(tmp_path, monkeypatch):
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X, y = X.iloc[:240, :10], y.iloc[:240]
    data = X.assign(diagnosis=np.where(y == 1, "benign", "malignant"))
    path = tmp_path / "breast.csv"
    data.to_csv(path, index_label="sample")
    seen = []

    def permutation_test(features, y, cands, **kwargs):  # what the null reruns
        seen.extend(cands)
        return real_permutation_test(features, y, cands, **kwargs)

    import insightome.stages.modelling as modelling

    real_permutation_test = modelling.permutation_test
    monkeypatch.setattr(modelling, "permutation_test", permutation_test)
    run = insightome.run(path, "diagnosis", id_column="sample", repeats=2, n_bootstrap=300,
                         permutations=2, audit=False, out_dir=tmp_path / "runs")  # fmt: skip
    res = run.results
    entries = res["configurations"]
    assert entries[-1]["family"] == "average" and len(entries[-1]["params"]["members"]) == 3
    assert any("ensemble: the average of the top 3" in n for n in res["notes"])
    assert res["invocation"]["ensemble"] == "auto"
    # on these 240 tumours the average of the top 3 wins (plain CV and most bootstraps)
    assert res["winner"]["family"] == "average", res["winner"]["name"]
    assert isinstance(run.model, AveragedClassifier) and len(run.model.members_) == 3
    # the permutation null reruns the configurations, not the average (it is chosen from them)
    assert seen and not any(isinstance(c, AveragedCandidate) for c in seen)
    assert len(res["permutation"]["null"]) == 2
    # discovery searched the signature of the average's best member, and says so
    assert any("used the best of them by plain CV" in n for n in res["discovery"]["notes"])
    members = [m["name"] for m in res["winner"]["params"]["members"]]
    assert run.model_card["signature"]["winner"]["name"] in members
    rebuilt = winner_candidate(res)
    assert isinstance(rebuilt, AveragedCandidate) and rebuilt.name == res["winner"]["name"]
    # predict: the saved model's probabilities, the mean of its members'
    pred = insightome.predict(run.path, path, id_column="sample")
    expected = np.mean([m.predict_proba(X) for m in run.model.members_], axis=0)
    np.testing.assert_allclose(pred["prob_benign"].to_numpy(), expected[:, 0])


def test_the_fast_preset_and_old_runs_average_nothing(breast, tmp_path):
    X, y = breast
    adata_path = tmp_path / "b.csv"
    X.assign(d=y.to_numpy()).to_csv(adata_path, index_label="sample")
    run = insightome.run(adata_path, "d", id_column="sample", preset="fast", repeats=1,
                         n_bootstrap=200, discover=False, audit=False, out_dir=None)  # fmt: skip
    assert all(c["family"] != "average" for c in run.results["configurations"])
    assert recorded_options({"data": "x.csv"}).ensemble == "off"


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"task": "regression"}, "this is a regression outcome"),
        ({"augment": "cart"}, "--augment compares"),
    ],
)
def test_top3_where_it_cannot_apply_is_refused_in_one_line(breast, tmp_path, extra, fragment):
    X, y = breast
    path = tmp_path / "b.csv"
    X.assign(d=y.to_numpy()).to_csv(path, index_label="sample")
    with pytest.raises(UserError) as refused:
        insightome.run(path, "d", id_column="sample", ensemble="top3", out_dir=tmp_path / "o",
                       **extra)  # fmt: skip
    message = str(refused.value)
    assert message.startswith("--ensemble: top3 averages") and fragment in message
    assert "\n" not in message and not (tmp_path / "o").exists()


def test_an_average_of_note_term_models_is_saved_without_the_notes():
    """--ensemble top3 with --notes-tfidf: every member carries the run's notes while it
    fits; the saved average keeps none (each member's vocabulary only), and a prediction
    given the notes again predicts what the fitted average predicted."""
    import pickle

    from insightome.models.note_terms import NoteTerms, NoteTexts
    from insightome.saved_run_notes import TEXTS_KEY, model_with_texts

    secret = "Zebulon Quixote"
    n = 60
    ids = [f"S{i}" for i in range(n)]
    y = np.array([i % 2 for i in range(n)])
    texts = {s: f"Seen by {secret}. {'fever cough' if label else 'no fever'} today"
             for s, label in zip(ids, y, strict=True)}  # fmt: skip
    features = pd.DataFrame({"age": np.linspace(40, 80, n)}, index=ids)
    members = [
        dataclasses.replace(Candidate(f, params, task="binary"), note_terms=5,
                            note_texts=NoteTexts(texts), note_min_df=1)
        for f, params in (("ridge_logistic", {"C": 1.0}), ("random_forest", {}))
    ]  # fmt: skip
    model = averaged(members).build(features, 0).fit(features, y)
    expected = model.predict_proba(features)
    saved = saved_form(model)
    blob = pickle.dumps(saved)
    assert secret.encode() not in blob and b"fever cough today" not in blob
    assert all(isinstance(m, NoteTerms) and m.texts is None for m in saved.members_)
    assert all(len(m.terms_) > 0 for m in saved.members_)  # each keeps its own terms
    assert all(m.texts is not None for m in model.members_)  # the fitted model is unchanged
    with pytest.raises(UserError, match="give the samples' notes"):
        pickle.loads(blob).predict_proba(features)
    adata = ad.AnnData(obs=pd.DataFrame(index=ids), uns={TEXTS_KEY: pd.Series(texts)})
    given = each_member(pickle.loads(blob), lambda m: model_with_texts(m, adata))
    np.testing.assert_allclose(given.predict_proba(features), expected)
