"""The quantum families (models.quantum): the fidelity kernel against its closed form, one
simulated state per sample, learning on real data (scikit-learn's shipped breast-cancer and
iris tables), persistence without PennyLane, and the limits that are refused."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

pytest.importorskip("pennylane", reason="the quantum extra is not installed")

from insightome import errors
from insightome.evaluate.search import BBCSearchCV
from insightome.models import quantum
from insightome.models.candidates import quantum_candidates
from insightome.models.quantum import QuantumKernel, VariationalQuantumClassifier
from tests.conftest import without_module

ROOT = Path(__file__).resolve().parents[2]


def test_one_qubit_kernel_is_the_closed_form_fidelity():
    # IQP on one qubit, one repetition: H then RZ(b·x), so |<ψ(x)|ψ(y)>|² = cos²(b(x − y)/2)
    x = np.array([[0.0], [0.7], [-1.3], [2.0]])
    for bandwidth in (0.2, 1.0):
        K = QuantumKernel(reps=1, bandwidth=bandwidth)(x, x)
        d = x[:, 0][:, None] - x[:, 0][None, :]
        np.testing.assert_allclose(K, np.cos(bandwidth * d / 2) ** 2, atol=1e-12)


def test_kernel_is_a_fidelity_matrix_from_one_state_per_sample(monkeypatch):
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(30, 5)), rng.normal(size=(7, 5))
    simulated: list[int] = []
    states = quantum.feature_map_states

    def counted(X, reps, bandwidth):
        simulated.append(len(X))
        return states(X, reps, bandwidth)

    monkeypatch.setattr(quantum, "feature_map_states", counted)
    kernel = QuantumKernel(reps=2, bandwidth=0.5)
    K = kernel(A, A)
    assert simulated == [30]  # n states for an n × n Gram matrix, not n² circuits
    np.testing.assert_allclose(np.diag(K), 1.0, atol=1e-12)
    np.testing.assert_allclose(K, K.T, atol=1e-12)
    assert K.min() >= 0 and K.max() <= 1 + 1e-12
    assert np.linalg.eigvalsh(K).min() > -1e-9  # positive semi-definite
    cross = kernel(B, A)
    assert simulated == [30, 7, 30] and cross.shape == (7, 30)
    # a state simulated alone (not broadcast) is the same state
    alone = states(A[:1], 2, 0.5)
    np.testing.assert_allclose(alone[0], states(A, 2, 0.5)[0], atol=1e-12)


def test_kernel_states_are_normalised_and_depend_on_the_bandwidth():
    X = np.random.default_rng(1).normal(size=(10, 4))
    narrow = quantum.feature_map_states(X, 2, 0.1)
    np.testing.assert_allclose(np.linalg.norm(narrow, axis=1), 1.0, atol=1e-12)
    off = ~np.eye(10, dtype=bool)
    k_narrow = QuantumKernel(2, 0.1)(X, X)[off].mean()
    k_wide = QuantumKernel(2, 1.0)(X, X)[off].mean()
    assert k_narrow > 0.8 > k_wide  # wide bandwidths concentrate the kernel toward 0


def breast_cancer(n: int = 160):
    X, y = load_breast_cancer(return_X_y=True)
    X, _, y, _ = train_test_split(X, y, train_size=n, stratify=y, random_state=0)
    return X, y


def test_quantum_set_is_cross_validated_like_any_candidate_on_real_data():
    X, y = breast_cancer()
    cands = quantum_candidates("binary", X.shape[1])
    assert [c.family for c in cands] == ["quantum_kernel_svm", "variational_quantum", "rbf_svm"]
    assert [c.params.get("qubits", c.params.get("components")) for c in cands] == [8, 8, 8]
    search = BBCSearchCV(cands, folds=3, repeats=1, n_bootstrap=200).fit(X, y)
    cv = dict(zip(search.cv_results_["family"], search.cv_results_["mean_test_score"], strict=True))
    assert (search.cv_results_["failed_folds"] == 0).all()
    assert cv["quantum_kernel_svm"] > 0.95 and cv["rbf_svm"] > 0.95
    assert cv["variational_quantum"] > 0.85
    model = search.best_estimator_
    # the reduction is part of the fitted pipeline: PCA to the qubit count inside the fold
    assert model.named_steps["model"].named_steps["reduce"].n_components_ == 8


def test_quantum_kernel_svm_ranks_held_out_samples():
    X, y = breast_cancer(300)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, stratify=y, random_state=1)
    (qsvm,) = [c for c in quantum_candidates("binary", X.shape[1]) if "kernel" in c.family]
    model = qsvm.build(pd.DataFrame(Xtr), seed=0).fit(pd.DataFrame(Xtr), ytr)
    proba = model.predict_proba(pd.DataFrame(Xte))
    assert proba.shape == (len(Xte), 2)
    assert roc_auc_score(yte, proba[:, 1]) > 0.95


def reduced_iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_variational_classifier_learns_three_classes_and_pickles(tmp_path):
    X, y = reduced_iris()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    vqc = VariationalQuantumClassifier(layers=2, steps=80, random_state=0).fit(Xtr, ytr)
    proba = vqc.predict_proba(Xte)
    assert proba.shape == (len(Xte), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (vqc.predict(Xte) == yte).mean() >= 0.8
    again = VariationalQuantumClassifier(layers=2, steps=80, random_state=0).fit(Xtr, ytr)
    np.testing.assert_allclose(again.predict_proba(Xte), proba)  # seeded: reproducible
    restored = pickle.loads(pickle.dumps(vqc))
    np.testing.assert_allclose(restored.predict_proba(Xte), proba)
    assert restored.predict_proba(Xte[:1]).shape == (1, 3)  # one row: not broadcast


def test_a_saved_quantum_model_unpickles_without_pennylane_and_says_what_it_needs(tmp_path):
    X, y = reduced_iris()
    model = make_pipeline(PCA(3), VariationalQuantumClassifier(steps=5)).fit(X, y)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    code = without_module("pennylane") + (
        "import pickle\n"
        f"model = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "from insightome.errors import UserError\n"
        "try:\n"
        f"    model.predict_proba([[0.1, 0.2, 0.3, 0.4]])\n"
        "except UserError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == errors.QUANTUM_EXTRA_MISSING


def test_the_reduction_gives_a_fold_only_the_qubits_it_can_fill():
    from insightome.models.quantum import QubitReduction

    rng = np.random.default_rng(0)
    # a flag constant in the training fold (0 throughout), 1 in a new sample: whitening its
    # zero-variance component would send that sample to ~1e15
    train = np.column_stack([rng.normal(size=(40, 2)), np.zeros(40)])
    new = np.array([[0.1, -0.2, 1.0]])
    reduce = QubitReduction(n_components=8).fit(train)
    assert reduce.n_components_ == 2  # three columns, one without variance
    assert np.abs(reduce.transform(new)).max() < 10
    np.testing.assert_allclose(reduce.transform(train).std(axis=0), 1.0)
    # fewer training samples than qubits: at most samples - 1 components
    few = QubitReduction(n_components=8).fit(rng.normal(size=(6, 20)))
    assert few.n_components_ == 5 and few.transform(rng.normal(size=(3, 20))).shape == (3, 5)
    # the kernel SVM and the classifier fit on what the reduction gives
    y = np.array([0, 1] * 20)
    for family in ("quantum_kernel_svm", "variational_quantum", "rbf_svm"):
        (cand,) = [c for c in quantum_candidates("binary", 3) if c.family == family]
        frame = pd.DataFrame(train)
        model = cand.build(frame, seed=0).fit(frame, y)
        proba = model.predict_proba(pd.DataFrame(new))
        assert np.isfinite(proba).all() and proba.shape == (1, 2)


def test_the_qubits_of_a_fitted_model_are_found_inside_its_pipelines():
    from insightome.stages.candidate_sets import fitted_qubits

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(np.column_stack([rng.normal(size=(30, 2)), np.zeros(30)]))
    (cand,) = [c for c in quantum_candidates("binary", 3) if c.family == "variational_quantum"]
    model = cand.build(frame, seed=0).set_params(model__model__steps=2)
    model.fit(frame, np.array([0, 1] * 15))
    assert fitted_qubits(model) == 2  # 3 columns asked, one constant: 2 qubits
    assert fitted_qubits(make_pipeline(StandardScaler())) is None


def test_limits_are_refused_with_the_reason():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="at most 12 qubits"):
        VariationalQuantumClassifier(steps=1).fit(rng.normal(size=(20, 13)), [0, 1] * 10)
    with pytest.raises(ValueError, match="at most 12 qubits"):  # 2^13 amplitudes a sample
        QuantumKernel()(rng.normal(size=(3, 13)), rng.normal(size=(2, 13)))
    with pytest.raises(ValueError, match="one class"):
        VariationalQuantumClassifier(steps=1).fit(rng.normal(size=(20, 3)), [1] * 20)
    # more classes than qubits: the linear head reads every class from all the qubits
    four = VariationalQuantumClassifier(steps=2).fit(rng.normal(size=(20, 3)), [0, 1, 2, 3] * 5)
    assert four.predict_proba(rng.normal(size=(6, 3))).shape == (6, 4)
    with pytest.raises(ValueError, match="classifiers, not regression"):
        quantum_candidates("regression", 10)
    # a table narrower than 8 features gets one qubit per feature
    assert quantum_candidates("multiclass", 4)[0].params["qubits"] == 4


@pytest.mark.slow
def test_the_estimators_pass_scikit_learns_checks():
    from sklearn.utils.estimator_checks import check_estimator

    from insightome.models.calibrated_svm import CalibratedKernelSVC

    # the SVM around the quantum kernel (its plumbing is the kernel's; the kernel itself is
    # checked against its closed form above, and a quantum kernel here costs 20 s)
    check_estimator(CalibratedKernelSVC(kernel="rbf"))
    check_estimator(
        VariationalQuantumClassifier(steps=3),
        expected_failed_checks={
            "check_classifiers_train": "3 optimizer steps (to keep the check fast) do not "
            "reach the accuracy this check asks for; 80 steps learn (tests above)"
        },
    )
