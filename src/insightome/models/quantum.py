"""Quantum candidate families, simulated on the local CPU (extra ``quantum``: PennyLane).

``insightome run … --candidates default,quantum`` adds three configurations to the run's
candidates, cross-validated, selected and estimated by BBC-CV like every other one:

- ``quantum_kernel_svm`` — an SVM on the fidelity kernel ``k(a, b) = |<ψ(a)|ψ(b)>|²`` of an
  IQP feature map (Havlíček et al., Nature 2019: Hadamards, Z rotations by the features,
  ZZ rotations by their pairwise products, ``reps`` times; PennyLane's ``IQPEmbedding``).
  The kernel is computed from **one simulated statevector per sample** (broadcast over
  the samples, 2,048 per simulator call), then inner products: n simulations, not n²
  circuit runs. Features enter scaled by a ``bandwidth`` (Shaydulin & Wild, Phys. Rev. A
  2022: without it, the kernel of many qubits concentrates near 0 off the diagonal and the
  SVM learns little).
- ``variational_quantum`` — a variational quantum classifier: the features as Y rotations
  (angle embedding), ``layers`` strongly entangling layers of trainable rotations and CNOTs,
  the qubits' Pauli-Z expectations through a trained linear head to one logit per class;
  trained by Adam on mini-batches, gradients by backpropagation through the simulator
  (autograd), a fixed number of steps.
- ``rbf_svm`` — the classical control: an RBF-kernel SVM on the same reduced features, so
  the question "does the quantum kernel help?" is answered against a kernel SVM that saw
  exactly what it saw.

Each is a Pipeline: the run's imputation and scaling, then **PCA to the qubit count**
(each component standardized; fitted inside each training fold like every other step;
fewer qubits when the fold has fewer samples or independent directions:
:class:`QubitReduction`), then the model. The
simulator is PennyLane's ``default.qubit`` in analytic mode: exact statevectors and
expectation values, no shots (a real device would add shot noise; :data:`SIMULATION`).

PennyLane is imported inside the functions that simulate; a fitted model keeps only NumPy
arrays (its training features, weights), so it pickles and is unpickled without PennyLane,
which is needed again to predict.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from insightome import errors
from insightome.errors import UserError
from insightome.models.calibrated_svm import CalibratedKernelSVC

__all__ = [
    "QUANTUM_FAMILIES",
    "QuantumKernel",
    "VariationalQuantumClassifier",
    "circuit_description",
    "require_pennylane",
]

QUBITS = 8  # the default qubit count: PCA components fed to the circuits
MAX_QUBITS = 12  # 2^12 amplitudes per sample; more would make the simulation the run's cost
SIMULATOR = "default.qubit"
SIMULATION = "analytic (exact statevector and expectation values; no shots)"
QUANTUM_FAMILIES = ("quantum_kernel_svm", "variational_quantum")
CONTROL_FAMILY = "rbf_svm"  # classical, on the same reduced features
STATE_ROWS = 2048  # samples simulated per broadcast call (memory: rows x 2^qubits x 16 bytes)


def _pennylane() -> Any:
    """PennyLane, or the one-line hint to install the quantum extra."""
    try:
        import pennylane
    except ImportError as exc:
        raise UserError(errors.QUANTUM_EXTRA_MISSING) from exc
    return pennylane


def require_pennylane() -> str:
    """Fail early, in one line, when the quantum extra is absent (the plan stage calls it
    before anything is fitted); PennyLane's version otherwise."""
    return str(_pennylane().__version__)


@cache
def _state_circuit(n_qubits: int, reps: int) -> Any:
    qml = _pennylane()

    @qml.qnode(qml.device(SIMULATOR, wires=n_qubits))
    def state(angles: Any) -> Any:
        qml.IQPEmbedding(angles, wires=range(n_qubits), n_repeats=reps)
        return qml.state()

    return state


def feature_map_states(X: np.ndarray, reps: int, bandwidth: float) -> np.ndarray:
    """(n × 2^q) statevectors of the IQP feature map of each row of ``X`` (q = columns):
    one simulation per row, broadcast over rows in chunks of :data:`STATE_ROWS`."""
    X = np.asarray(X, dtype=float)
    _check_qubits(X)
    n, q = X.shape
    circuit = _state_circuit(q, reps)
    out = np.empty((n, 2**q), dtype=complex)
    for start in range(0, n, STATE_ROWS):
        chunk = X[start : start + STATE_ROWS] * bandwidth
        # a single row is not broadcast: PennyLane then returns one state of shape (2^q,)
        out[start : start + len(chunk)] = np.reshape(circuit(chunk), (len(chunk), 2**q))
    return out


class QuantumKernel:
    """The fidelity kernel ``|<ψ(a)|ψ(b)>|²`` of the IQP feature map, as a callable
    ``k(A, B)`` for :class:`~sklearn.svm.SVC`: the statevectors of A's and B's rows are
    simulated once each, and the Gram matrix is their inner products, squared in modulus."""

    def __init__(self, reps: int = 2, bandwidth: float = 0.2) -> None:
        self.reps = reps
        self.bandwidth = bandwidth

    def __call__(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        a = feature_map_states(A, self.reps, self.bandwidth)
        b = a if B is A else feature_map_states(B, self.reps, self.bandwidth)
        return np.abs(a.conj() @ b.T) ** 2

    def __repr__(self) -> str:
        return f"QuantumKernel(reps={self.reps}, bandwidth={self.bandwidth:g})"


def _check_qubits(X: np.ndarray) -> None:
    if X.shape[1] > MAX_QUBITS:
        raise ValueError(
            f"{X.shape[1]} features reach the circuit: at most {MAX_QUBITS} qubits are "
            "simulated (reduce the features to the qubit count first)"
        )


# -- the variational classifier ---------------------------------------------------------------


@cache
def _expval_circuit(n_qubits: int) -> Any:
    qml = _pennylane()

    @qml.qnode(qml.device(SIMULATOR, wires=n_qubits), diff_method="backprop")
    def expvals(weights: Any, angles: Any) -> Any:
        qml.AngleEmbedding(angles, wires=range(n_qubits), rotation="Y")
        qml.StronglyEntanglingLayers(weights, wires=range(n_qubits))
        return [qml.expval(qml.PauliZ(w)) for w in range(n_qubits)]

    return expvals


def _logits(pnp: Any, circuit: Any, weights: Any, head: Any, bias: Any, angles: Any) -> Any:
    """(n × outputs) logits: the qubits' Pauli-Z expectations through the linear head."""
    z = pnp.reshape(pnp.stack(circuit(weights, angles), axis=-1), (len(angles), -1))
    return z @ head.T + bias


class VariationalQuantumClassifier(ClassifierMixin, BaseEstimator):
    """A variational quantum classifier on the local statevector simulator.

    The features (at most :data:`MAX_QUBITS`, one qubit each) times ``bandwidth`` are Y
    rotations; ``layers`` strongly entangling layers follow; the Pauli-Z expectations of the
    qubits go through a trained linear head to one logit per class (binary: one logit, a
    sigmoid), so probabilities can leave the ±1 range of an expectation and any number of
    classes can be read from a few qubits. Trained by Adam (``learning_rate``) for ``steps``
    mini-batches of ``batch_size`` samples, cross-entropy loss, from small random circuit
    weights (``random_state``); the head starts by reading class c from qubit c.
    """

    def __init__(
        self,
        layers: int = 2,
        steps: int = 80,
        learning_rate: float = 0.05,
        batch_size: int = 32,
        bandwidth: float = 0.5,
        random_state: int = 0,
    ) -> None:
        self.layers = layers
        self.steps = steps
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.bandwidth = bandwidth
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> VariationalQuantumClassifier:
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        _check_qubits(X)
        self.classes_, codes = np.unique(y, return_inverse=True)
        n_classes, q = len(self.classes_), X.shape[1]
        if n_classes < 2:
            raise ValueError("the outcome has one class: there is nothing to classify")
        n_out = 1 if n_classes == 2 else n_classes
        qml = _pennylane()
        pnp = qml.numpy
        rng = np.random.default_rng(self.random_state)
        shape = qml.StronglyEntanglingLayers.shape(n_layers=self.layers, n_wires=q)
        weights = pnp.array(rng.normal(0.0, 0.1, shape), requires_grad=True)
        head = pnp.array(np.eye(n_out, q, dtype=float), requires_grad=True)
        if n_out > q:  # more classes than qubits: the extra classes start from all qubits
            head[q:] = 1.0 / q
        bias = pnp.array(np.zeros(n_out), requires_grad=True)
        circuit = _expval_circuit(q)
        angles, onehot = X * self.bandwidth, np.eye(n_classes)[codes]
        optimizer = qml.AdamOptimizer(self.learning_rate)
        batch = min(self.batch_size, len(X))

        def loss(w: Any, h: Any, b: Any, rows: np.ndarray) -> Any:
            z = _logits(pnp, circuit, w, h, b, angles[rows])
            if n_out == 1:  # binary cross-entropy of the sigmoid
                return pnp.mean(pnp.logaddexp(0.0, z[:, 0]) - codes[rows] * z[:, 0])
            shifted = z - pnp.max(z, axis=1, keepdims=True)
            logp = shifted - pnp.log(pnp.sum(pnp.exp(shifted), axis=1, keepdims=True))
            return -pnp.mean(pnp.sum(onehot[rows] * logp, axis=1))

        for _ in range(self.steps):
            rows = rng.choice(len(X), size=batch, replace=False)
            weights, head, bias = optimizer.step(
                lambda w, h, b, rows=rows: loss(w, h, b, rows), weights, head, bias
            )
        self.weights_ = np.asarray(weights, dtype=float)
        self.head_ = np.asarray(head, dtype=float)
        self.bias_ = np.asarray(bias, dtype=float)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "weights_")
        X = validate_data(self, X, reset=False)
        circuit = _expval_circuit(X.shape[1])
        z = _logits(np, circuit, self.weights_, self.head_, self.bias_, X * self.bandwidth)
        z = np.asarray(z, dtype=float)
        if z.shape[1] == 1:
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1.0 - p1, p1])
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        proba = self.predict_proba(X)  # checks that the model is fitted
        return self.classes_[proba.argmax(axis=1)]


# -- the three families: reduce to the qubit count, then the model -----------------------------


class QubitReduction(TransformerMixin, BaseEstimator):
    """PCA to at most ``n_components`` components, then each standardized: the features a
    circuit's qubits receive, fitted on the training fold only.

    The count is what the fold can give: at most its number of features and samples − 1,
    and only components with variance (above ``1e-10`` of the first one's): a component with
    none in the training fold — a flag constant there, collinear features, fewer samples
    than qubits — would otherwise be divided by ~0 and send a test sample to 1e15.
    ``n_components_`` is the number kept (the qubits the circuit gets in this fit).
    """

    def __init__(self, n_components: int = QUBITS, random_state: int = 0) -> None:
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: Any = None) -> QubitReduction:
        X = validate_data(self, X)
        k = max(1, min(int(self.n_components), X.shape[1], X.shape[0] - 1))
        self.pca_ = PCA(n_components=k, random_state=self.random_state).fit(X)
        variance = self.pca_.explained_variance_
        self.keep_ = variance > 1e-10 * max(float(variance[0]), np.finfo(float).tiny)
        self.keep_[0] = True  # at least one qubit
        self.n_components_ = int(self.keep_.sum())
        self.scaler_ = StandardScaler().fit(self.pca_.transform(X)[:, self.keep_])
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "scaler_")
        X = validate_data(self, X, reset=False)
        return self.scaler_.transform(self.pca_.transform(X)[:, self.keep_])


def _reduced(model: BaseEstimator, components: int, seed: int) -> Pipeline:
    """:class:`QubitReduction` to ``components``, then the model; fitted inside each
    training fold like every other step."""
    reduce = QubitReduction(n_components=int(components), random_state=seed)
    return Pipeline([("reduce", reduce), ("model", model)])


def quantum_kernel_svm(p: dict[str, Any], seed: int) -> Pipeline:
    kernel = QuantumKernel(reps=int(p["reps"]), bandwidth=float(p["bandwidth"]))
    svm = CalibratedKernelSVC(C=p["C"], kernel=kernel, random_state=seed)
    return _reduced(svm, p["qubits"], seed)


def variational_quantum(p: dict[str, Any], seed: int) -> Pipeline:
    model = VariationalQuantumClassifier(
        layers=int(p["layers"]), steps=int(p["steps"]), bandwidth=float(p["bandwidth"]),
        random_state=seed,
    )  # fmt: skip
    return _reduced(model, p["qubits"], seed)


def rbf_svm(p: dict[str, Any], seed: int) -> Pipeline:
    """The classical control: an RBF SVM on the same reduced features (``components``)."""
    svm = CalibratedKernelSVC(C=p["C"], kernel="rbf", random_state=seed)
    return _reduced(svm, p["components"], seed)


def circuit_description(family: str, params: dict[str, Any]) -> dict[str, Any]:
    """What results.json and the model card record of a quantum configuration: the circuit
    in words, the qubit count, the simulator and its mode, the parameters that shape it."""
    q = int(params["qubits"])
    reduction = (
        f"PCA to at most {q} standardized components (fewer when a training fold has fewer "
        "samples or independent directions), fitted in each training fold"
    )
    if family == "quantum_kernel_svm":
        circuit = (
            f"IQP feature map (Havlicek et al. 2019; PennyLane IQPEmbedding), {params['reps']} "
            f"repetition(s) of: Hadamard on each of {q} qubits, RZ(feature), ZZ rotations by "
            f"the products of every pair of features; features x bandwidth "
            f"{params['bandwidth']}. Kernel |<psi(a)|psi(b)>|^2 from one statevector per "
            f"sample; SVM (C = {params['C']}, balanced classes) with Platt-scaled probabilities"
        )
    elif family == "variational_quantum":
        circuit = (
            f"angle embedding (RY(feature x {params['bandwidth']}) on each of {q} qubits), "
            f"{params['layers']} strongly entangling layer(s) (trainable rotations + CNOT "
            "ring); the qubits' <Z> through a trained linear head to one logit per class; Adam, "
            f"{params['steps']} mini-batch steps, gradients by backpropagation"
        )
    else:
        raise ValueError(f"{family!r} is not a quantum family")
    return {
        "family": family,
        "circuit": circuit,
        "qubits": q,
        "reduction": reduction,
        "simulator": f"PennyLane {SIMULATOR}",
        "mode": SIMULATION,
        "shots": None,
    }
