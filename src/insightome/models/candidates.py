"""Candidate pipelines: a small, well-chosen set per task.

Every candidate is a full scikit-learn :class:`~sklearn.pipeline.Pipeline` —
imputation → scaling / one-hot encoding → univariate feature selection → model — so
every step that learns from data is refitted inside each resampling fold and cannot leak.

The set (per task) covers the families that win on small biomedical data: penalized
linear models (L1 / elastic-net / ridge), a linear SVM for p ≫ n, a random forest,
extremely randomized trees (classification) and gradient boosting (XGBoost, which also has
a Cox objective). Each has a small grid; the
grid is deliberately small because every extra configuration adds selection optimism,
which BBC-CV then has to remove.

Probabilistic models are fitted without class re-weighting so their probabilities stay
calibrated to the data's prevalence (re-weighting inflates minority-class risks, which
a clinician would read as real); the binary decision threshold is the prevalence instead
(:func:`insightome.evaluate.metrics.decision_threshold`).

The estimator of each family is built in :mod:`insightome.models.estimators`.

With ``--augment``, every candidate has an augmented twin (:func:`augmented_twins`): the
same pipeline wrapped in :class:`insightome.synthesis.SyntheticTraining`, which fits a
synthesizer on the training rows it is given and trains the pipeline on them plus
synthetic rows; only ``fit`` synthesizes, so synthetic rows never reach a test fold.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectKBest, f_classif, f_regression
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from insightome.compute.blocks import BLOCK_CELLS, blocks
from insightome.models.estimators import MODELS, logistic
from insightome.models.image_cnn import CNNScore, ImageBank
from insightome.models.imputation import MedianImputer
from insightome.models.note_terms import NoteTerms, NoteTexts
from insightome.models.quantum import QUBITS
from insightome.models.scaling import BlockwiseStandardScaler
from insightome.models.survival import cox_score_test
from insightome.options.checks import PRESETS, candidate_set_names
from insightome.options.checks import candidate_sets as check_candidate_sets
from insightome.synthesis import SyntheticTraining

# The logistic candidates set only ``l1_ratio``: from scikit-learn 1.8 on it chooses the
# penalty (1 = L1, between = elastic net, 0 = L2). Older versions ignore it unless
# ``penalty='elasticnet'`` and fit every one of them as ridge, with only a UserWarning;
# passing ``penalty`` instead is deprecated in 1.8 and removed in 1.10. So 1.8 is the floor
# (pyproject.toml), and an older scikit-learn is refused rather than fitted as ridge.
SKLEARN_MIN = "1.8"


def check_sklearn(version: str = sklearn.__version__) -> None:
    """Raise ImportError when scikit-learn ``version`` is older than :data:`SKLEARN_MIN`."""
    found = tuple(int(x) for x in re.findall(r"\d+", version)[:2])
    if found < tuple(int(x) for x in SKLEARN_MIN.split(".")):
        raise ImportError(
            f"insightome needs scikit-learn>={SKLEARN_MIN} (found {version}): older versions "
            "fit its L1 and elastic-net logistic models as ridge. Upgrade with: "
            f"pip install 'scikit-learn>={SKLEARN_MIN}'"
        )


check_sklearn()


@dataclass(frozen=True)
class Candidate:
    """One configuration: a family, its hyper-parameters and its feature-selection size."""

    family: str
    params: dict[str, Any] = field(default_factory=dict)
    k: int | None = None  # univariate selection size; None = all features
    task: str = "binary"
    # impute + scale first; off for learners that take NaN and are scale-free (boosted
    # trees on molecular features), where it only costs time
    preprocess: bool = True
    # --augment: trained on its training rows plus synthetic rows made from them by this
    # synthesizer ("cart", "copula"), augment_ratio synthetic rows per real row; None: real only
    augment: str | None = None
    augment_ratio: float = 1.0
    # --notes-tfidf K: the K TF-IDF terms of the training samples' notes most associated with
    # the outcome are added to the table inside fit (models.note_terms.NoteTerms); the notes
    # themselves are not part of the configuration (not in its name, repr or comparison)
    note_terms: int | None = None
    note_texts: NoteTexts | None = field(default=None, repr=False, compare=False)
    note_min_df: int = 2
    # --image-features cnn: the out-of-fold score of a small CNN trained on the training
    # samples' images is added to the table inside fit (models.image_cnn.CNNScore) with these
    # CNN settings; the images are not part of the configuration, like the notes
    cnn: tuple[tuple[str, Any], ...] | None = None
    cnn_images: ImageBank | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        shown = ",".join(f"{k}={v}" for k, v in self.params.items())
        sel = f"k={self.k}" if self.k else "k=all"
        terms = f"+terms(k={self.note_terms})" if self.note_terms else ""
        cnn = "+cnn" if self.cnn is not None else ""
        return (
            f"{self.family}({shown}{',' if shown else ''}{sel})" + self.augment_suffix + terms + cnn
        )

    @property
    def augment_suffix(self) -> str:
        """``+synthetic(cart,ratio=1)`` for an augmented twin (so the fit cache, the
        configurations table and the report never confuse it with its real-only self)."""
        if self.augment is None:
            return ""
        return f"+synthetic({self.augment},ratio={self.augment_ratio:g})"

    @property
    def fits_on_arrays(self) -> bool:
        """Whether the pipeline it builds for an all-numeric table may be fitted on the
        table's values instead (the same numbers: the lean preprocessor selects no columns
        by name). Cross-validation fits do so, sparing scikit-learn's per-column dtype
        checks of a wide DataFrame in every step; note terms, CNN scores and synthetic rows
        look rows up by sample, so their twins keep the frame."""
        return self.note_terms is None and self.cnn is None and self.augment is None

    def to_dict(self) -> dict[str, Any]:
        params: dict[str, Any] = {**self.params, "k": self.k or "all"}
        if self.augment is not None:
            params |= {"augment": self.augment, "augment_ratio": self.augment_ratio}
        if self.note_terms:
            params |= {"note_terms": self.note_terms, "note_min_df": self.note_min_df}
        if self.cnn is not None:
            params |= {"cnn": dict(self.cnn)}
        return {"name": self.name, "family": self.family, "params": params}

    def build(
        self, features: pd.DataFrame, seed: int = 0
    ) -> Pipeline | SyntheticTraining | NoteTerms | CNNScore:
        """The unfitted pipeline for a feature table with these columns and dtypes (an
        augmented twin: the pipeline inside :class:`SyntheticTraining`; with note terms: the
        configuration inside :class:`NoteTerms`, which builds it for the table plus terms;
        with the CNN: the configuration inside :class:`CNNScore`, likewise)."""
        if self.cnn is not None:
            inner = dataclasses.replace(self, cnn=None, cnn_images=None)
            return CNNScore(
                inner, self.cnn_images, cnn_params=dict(self.cnn), task=self.task, seed=seed
            )
        if self.note_terms:
            inner = dataclasses.replace(self, note_terms=None, note_texts=None)
            return NoteTerms(
                inner, self.note_texts, k=self.note_terms, min_df=self.note_min_df,
                task=self.task, seed=seed,
            )  # fmt: skip
        steps: list[tuple[str, Any]] = []
        if self.preprocess:
            steps.append(("preprocess", preprocessor(features, lean=True)))
        if self.k is not None:
            steps.append(("select", SelectKBest(_score_func(self.task), k=self.k)))
        model = MODELS[self.family](self.params, seed)
        if self.task == "multiclass" and isinstance(model, LogisticRegression):
            model = logistic(self.params, seed, binary=False)
        steps.append(("model", model))
        if self.augment is None:
            return Pipeline(steps)
        return SyntheticTraining(
            Pipeline(steps),
            method=self.augment,
            mode="augment",
            ratio=self.augment_ratio,
            task=self.task,
            seed=seed,
        )


def with_cnn(
    cands: Sequence[Candidate], images: ImageBank, params: dict[str, Any]
) -> list[Candidate]:
    """Every candidate with a CNN's out-of-fold score of its training samples' images added
    inside fit (``--image-features cnn``); the CNN fits are shared between candidates of one
    fold (models.image_cnn caches them)."""
    frozen = tuple(sorted(params.items()))
    return [dataclasses.replace(c, cnn=frozen, cnn_images=images) for c in cands]


def with_note_terms(
    cands: Sequence[Candidate], texts: NoteTexts, k: int, min_df: int
) -> list[Candidate]:
    """Every candidate with the ``k`` TF-IDF terms of its training samples' notes added
    inside fit (``--notes-tfidf``)."""
    return [
        dataclasses.replace(c, note_terms=int(k), note_texts=texts, note_min_df=int(min_df))
        for c in cands
    ]


def augmented_twins(cands: Sequence[Candidate], method: str, ratio: float) -> list[Candidate]:
    """The augmented twin of every candidate (``--augment``): the same configuration,
    trained on each training fold plus ``ratio`` synthetic rows per real row made by the
    ``method`` synthesizer from that fold alone."""
    return [dataclasses.replace(c, augment=method, augment_ratio=float(ratio)) for c in cands]


def preprocessor(features: pd.DataFrame, lean: bool = False) -> ColumnTransformer | Pipeline:
    """Median-impute + scale numeric columns; mode-impute + one-hot categorical columns.

    The median imputer is :class:`~insightome.models.imputation.MedianImputer` (the same
    numbers as scikit-learn's, 4x faster to fit); the scaler is scikit-learn's, fitted in
    blocks of rows on large folds and applied in place to the imputer's fresh copy
    (:mod:`insightome.models.scaling`).

    With ``lean`` and only numeric columns, the result is the imputer-scaler pipeline
    itself rather than a ColumnTransformer around it: the same numbers, without the
    ColumnTransformer's column selection and ``hstack``, which are two more copies of the
    fold (memory measured in :mod:`insightome.models.scaling`).
    """
    # by the dtypes Series: features[c] per column builds a Series per column, which on a
    # 7,000-gene table cost half of every cross-validation fit's time
    is_numeric = [pd.api.types.is_numeric_dtype(t) for t in features.dtypes]
    categorical = [c for c, num in zip(features.columns, is_numeric, strict=True) if not num]
    numeric = [c for c, num in zip(features.columns, is_numeric, strict=True) if num]
    # copy=False is safe: MedianImputer.transform always returns a new array
    scale = make_pipeline(MedianImputer(), BlockwiseStandardScaler(copy=False))
    if lean and numeric and not categorical:
        return scale
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(("numeric", scale, numeric))
    if categorical:
        transformers.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                categorical,
            )
        )
    return ColumnTransformer(transformers, sparse_threshold=0.0, verbose_feature_names_out=False)


def _score_func(task: str) -> Callable[..., Any]:
    return {
        "binary": f_classif_quiet,
        "multiclass": f_classif_quiet,
        "regression": f_regression_quiet,
        "survival": cox_score_test,
    }[task]


def _per_column_blocks(test: Callable[..., Any], X: Any, y: np.ndarray) -> Any:
    """A per-feature test, on blocks of columns when X is a large dense array.

    scikit-learn's F-tests copy the matrix per class and square it: on a 16,000 x 1,000
    float32 fold the univariate selection step peaked at 2.1x the fold above the
    preprocessing (``benchmarks/results/fit_memory.md``). Each feature's statistic only
    depends on its own column, so blocks of columns give the same statistics.
    """
    # A feature constant within a fold gets F = NaN (ranked last): scikit-learn's
    # "Features [...] are constant." warning goes on to the run, which counts it under that
    # meaning (evaluate.engine.KNOWN_WARNINGS); numpy's 0/0 warning behind the same NaN
    # would say it twice, so only the floating-point state is quieted here.
    with np.errstate(divide="ignore", invalid="ignore"):
        if not (isinstance(X, np.ndarray) and X.ndim == 2 and X.size >= BLOCK_CELLS):
            return test(X, y)
        parts = [test(X[:, cols], y) for cols in blocks(X.shape[1], len(X), BLOCK_CELLS)]
    return np.concatenate([f for f, _ in parts]), np.concatenate([p for _, p in parts])


# Module-level (not closures) so that fitted pipelines pickle with joblib.dump.
def f_classif_quiet(X: np.ndarray, y: np.ndarray) -> Any:
    """ANOVA F-test per feature, on blocks of columns for large folds (module-level, and
    named so, because saved pipelines refer to it)."""
    return _per_column_blocks(f_classif, X, y)


def f_regression_quiet(X: np.ndarray, y: np.ndarray) -> Any:
    """Univariate linear-regression F-test per feature, on blocks of columns for large folds."""
    return _per_column_blocks(f_regression, X, y)


LARGE_N = 20_000  # from here on, forests are subsampled (see candidates())
LARGE_FOREST = {"n_estimators": 100, "max_samples": 0.2, "min_samples_leaf": 5}
# extremely randomized trees draw no bootstrap sample (no max_samples): fewer, coarser trees
LARGE_EXTRA_TREES = {"n_estimators": 100, "min_samples_leaf": 5}
# families the fast preset leaves out: the random forest already stands for the randomized
# tree ensembles there (the fast preset is for tests and quick looks)
DEFAULT_ONLY = frozenset({"extra_trees"})
LARGE_L1 = {"solver": "saga"}


def candidates(
    task: str, n_numeric: int, preset: str = "default", n_samples: int = 0
) -> list[Candidate]:
    """The candidate configurations for a task.

    ``n_numeric`` is the number of numeric input features; univariate selection sizes are
    only used when they are smaller than that (otherwise all features are kept).
    ``preset='fast'`` keeps one configuration per family (for tests and quick looks),
    without the families of :data:`DEFAULT_ONLY`.
    From ``LARGE_N`` samples on, random forests grow 100 trees on 20% subsamples with
    leaves of at least 5 samples: with that much data each tree still sees thousands of
    samples, and a fit costs minutes instead of an hour; extremely randomized trees, which
    draw no bootstrap sample, grow 100 trees with leaves of at least 5. The binary L1
    logistic models are then fitted by ``saga`` instead of liblinear (with several classes
    an L1 model is :class:`~insightome.models.multinomial.MultinomialLogistic` at any n):
    the same convex problem, except that saga does not penalize the intercept, solved on
    the float32 fold in place, where liblinear needs
    a float64 copy and its own 16-byte-per-value node list (one L1 fit on a 16,000 × 1,000
    float32 fold peaked at 9.3× the fold with liblinear and 1.8× with saga, with the same
    held-out AUC to 4 decimals: ``benchmarks/results/fit_memory.md``).
    """

    def k(size: int) -> int | None:
        return size if size < n_numeric else None

    wide = n_numeric > 200
    if task in ("binary", "multiclass"):
        grid = [
            Candidate("l1_logistic", {"C": 0.3, "l1_ratio": 1.0}),
            Candidate("l1_logistic", {"C": 1.0, "l1_ratio": 1.0}),
            Candidate(
                "elastic_net_logistic", {"C": 0.1, "l1_ratio": 0.5}, k(200) if wide else None
            ),
            Candidate("ridge_logistic", {"C": 0.01}, k(50)),
            Candidate("linear_svm", {"C": 0.01}),
            Candidate("linear_svm", {"C": 1.0}, k(200) if wide else None),
            Candidate("random_forest", {"min_samples_leaf": 1}),
            Candidate("random_forest", {"min_samples_leaf": 3}, k(500) if wide else None),
            # added in issue 27: over the 30 captured omics runs of
            # benchmarks/results/candidates_study.md it raised the BBC-CV estimate of the
            # whole selection by 0.003 AUC on average (GLIOMA and colon up to +0.03)
            Candidate("extra_trees", {"min_samples_leaf": 1}),
            Candidate("xgboost", {"max_depth": 2}),
            Candidate("xgboost", {"max_depth": 4}, k(500) if wide else None),
        ]
    elif task == "regression":
        grid = [
            Candidate("ridge", {"alpha": 1.0}, k(50)),
            Candidate("ridge", {"alpha": 100.0}),
            Candidate("elastic_net", {"alpha": 0.05, "l1_ratio": 0.5}),
            Candidate("elastic_net", {"alpha": 0.2, "l1_ratio": 0.5}, k(200) if wide else None),
            Candidate("linear_svr", {"C": 0.1}),
            Candidate("random_forest_regressor"),
            Candidate("xgboost_regressor", {"max_depth": 2}),
            Candidate("xgboost_regressor", {"max_depth": 4}, k(500) if wide else None),
        ]
    elif task == "survival":
        grid = [
            Candidate("cox_elastic_net", {"penalizer": 0.05, "l1_ratio": 0.5}, k(20)),
            Candidate("cox_elastic_net", {"penalizer": 0.2, "l1_ratio": 0.5}, k(50)),
            Candidate("cox_ridge", {"penalizer": 0.5, "l1_ratio": 0.0}, k(50)),
            Candidate("xgboost_cox", {"max_depth": 2}),
            Candidate("xgboost_cox", {"max_depth": 4}, k(500) if wide else None),
        ]
    else:
        raise ValueError(f"unknown task {task!r}")
    if preset == "fast":
        seen: set[str] = set()
        grid = [
            c
            for c in grid
            if c.family not in DEFAULT_ONLY and not (c.family in seen or seen.add(c.family))
        ]
    elif preset != "default":
        raise ValueError(f"unknown preset {preset!r}; choose one of {PRESETS}")
    if n_samples >= LARGE_N:
        grid = [
            Candidate(c.family, {**c.params, **LARGE_FOREST}, c.k)
            if c.family.startswith("random_forest")
            else Candidate(c.family, {**c.params, **LARGE_EXTRA_TREES}, c.k)
            if c.family == "extra_trees"
            else Candidate(c.family, {**c.params, **LARGE_L1}, c.k)
            if c.family == "l1_logistic" and task == "binary"
            else c
            for c in grid
        ]
        grid = list({c.name: c for c in grid}.values())  # the two forests may now coincide
    return [Candidate(c.family, c.params, c.k, task) for c in grid]


QUANTUM_TASKS = ("binary", "multiclass")
QUANTUM_BANDWIDTH = 0.2  # the IQP kernel's feature scale (models.quantum; docs/quantum.md)


def candidate_sets(value: str) -> tuple[str, ...]:
    """``--candidates default,quantum`` → ``("default", "quantum")``, refused as the options
    refuse it (:func:`insightome.options.checks.candidate_sets`)."""
    problem = check_candidate_sets(value)
    if problem:
        raise ValueError(f"candidates={value!r}: {problem}")
    return tuple(candidate_set_names(value))


def quantum_candidates(task: str, n_columns: int) -> list[Candidate]:
    """The quantum set (``--candidates …,quantum``): the quantum-kernel SVM, the variational
    classifier and the classical control (an RBF SVM on the same reduced features), each
    after PCA to ``min(8, n_columns)`` qubits (components) inside the fold
    (:class:`~insightome.models.quantum.QubitReduction`: fewer where a fold allows fewer).
    One configuration per family: every extra one adds selection optimism, which BBC-CV
    then has to remove."""
    if task not in QUANTUM_TASKS:
        raise ValueError(f"the quantum candidates are classifiers, not {task} models")
    q = max(1, min(QUBITS, n_columns))
    grid = [
        Candidate(
            "quantum_kernel_svm", {"C": 1.0, "qubits": q, "reps": 2, "bandwidth": QUANTUM_BANDWIDTH}
        ),
        Candidate("variational_quantum", {"layers": 2, "qubits": q, "steps": 80, "bandwidth": 0.5}),
        Candidate("rbf_svm", {"C": 1.0, "components": q}),
    ]
    return [dataclasses.replace(c, task=task) for c in grid]
