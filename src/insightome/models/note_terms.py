"""TF-IDF terms of each sample's notes, learned inside ``fit`` only (``--notes-tfidf K``).

:class:`NoteTerms` wraps a candidate configuration. Its ``fit(X, y)`` looks up the notes of
the samples it is given (by ``X``'s index, the sample IDs), fits a TF-IDF vectorizer on
them — word 1-2-grams in at least ``min_df`` of those samples' notes; tokens inside a
negation scope arrive prefixed ``neg_`` (:func:`insightome.notes_features.negation_marked`),
so "no fever" and "fever" are different terms — keeps the ``k`` terms most associated with
the outcome (chi-squared for classes, the F-test for a number), appends them to the feature
table as ``term:<n-gram>`` columns and fits the candidate's pipeline on the result. The
vocabulary, the document frequencies and the selection are therefore fitted on the training
rows only: under any resampling no test sample's words are in its model.

Privacy: terms are counted only when found in at least ``min_df`` samples' notes (the run
sets it to ``--min-cell``), and the fitted model keeps the ``k`` selected terms alone (a
vectorizer over them; not the fold's whole vocabulary, nor scikit-learn's ``stop_words_``,
the list of every pruned term). A selected term is still a word of the notes — a ward's or
a clinician's name written in many notes can be one. The notes themselves are held by
:class:`NoteTexts` during a run; :func:`without_texts` gives the model that is saved, which
holds no note text (and so cannot predict new samples: their notes are not given to it).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, MetaEstimatorMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.feature_selection import SelectKBest, chi2, f_regression
from sklearn.preprocessing import normalize

from insightome import errors
from insightome.errors import UserError
from insightome.models.fit_features import AddsFeaturesInFit

TERM_PREFIX = "term:"
MAX_VOCABULARY = 50_000  # the most frequent terms of a fold, before the selection
TASKS = ("binary", "multiclass", "regression")
# word 1-2-grams, sublinear term frequency; rows are L2-normalized after the selection
VECTORIZER = {"ngram_range": (1, 2), "sublinear_tf": True, "norm": None, "dtype": np.float32}


# The notes of this process's runs, by digest (the read stage registers them): a NoteTexts
# written to a checkpoint holds only its digest (reduce_by_reference, stages.checkpoints) and
# finds its texts here once a resumed run's read stage has read the notes again.
_REGISTRY: dict[str, pd.Series] = {}


def reduce_by_reference(obj: Any) -> Any:
    """For a pickler's ``reducer_override``: a :class:`NoteTexts` as its digest (found again
    through :meth:`NoteTexts.register`); ``NotImplemented`` for anything else."""
    if isinstance(obj, NoteTexts):
        return (NoteTexts._reference, (obj.digest, len(obj)))
    return NotImplemented


class NoteTexts:
    """Each sample's notes as one text, looked up by sample ID; immutable, compared by
    digest (so a candidate holding it stays cheap to copy, compare and name)."""

    __slots__ = ("_n", "_texts", "digest")

    def __init__(self, texts: Mapping[str, str] | pd.Series) -> None:
        series = pd.Series(texts, dtype=object)
        series.index = series.index.astype(str)
        self._texts: pd.Series | None = series
        self._n = len(series)
        h = hashlib.sha256()
        for key, text in series.items():
            h.update(f"{key}\x1f{text}\x1e".encode())
        self.digest = h.hexdigest()

    def register(self) -> NoteTexts:
        """Make these notes findable by digest in this process (for a resumed run's
        checkpoints, which refer to them); the read stage registers a run's notes."""
        _REGISTRY[self.digest] = self._series()
        return self

    @classmethod
    def _reference(cls, digest: str, n: int) -> NoteTexts:
        made = cls.__new__(cls)
        made._texts, made._n, made.digest = _REGISTRY.get(digest), n, digest
        return made

    def __reduce__(self) -> tuple[Any, ...]:
        return (NoteTexts, (self._series(),))

    def _series(self) -> pd.Series:
        if self._texts is None:  # restored from a checkpoint before the notes were read
            self._texts = _REGISTRY.get(self.digest)
            if self._texts is None:
                raise UserError(errors.NOTE_TERMS_NOT_READ)
        return self._texts

    def __len__(self) -> int:
        return self._n

    def lookup(self, ids: pd.Index) -> list[str]:
        texts = self._series()
        keys = pd.Index([str(i) for i in ids])
        missing = keys.difference(texts.index)
        if len(missing):
            raise UserError(errors.NOTE_TERMS_UNKNOWN_SAMPLES, n=len(missing))
        return texts.reindex(keys).astype(str).tolist()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoteTexts) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:  # never the text
        return f"NoteTexts({len(self)} samples, sha256 {self.digest[:12]})"

    def __deepcopy__(self, memo: dict[int, Any]) -> NoteTexts:
        return self  # immutable: sklearn's clone need not copy the notes


class NoteTermsWarning(UserWarning):
    """A NoteTerms fit without terms (none frequent enough in the training samples' notes)."""


class NoteTerms(AddsFeaturesInFit, MetaEstimatorMixin, BaseEstimator):
    """A candidate fitted on the feature table plus the ``k`` TF-IDF terms of the training
    samples' notes most associated with the outcome (see the module docstring).

    ``candidate`` is anything with ``build(features, seed)`` returning an unfitted
    estimator for a feature table with those columns (an insightome ``Candidate``)."""

    def __init__(
        self,
        candidate: Any,
        texts: NoteTexts | None,
        k: int = 500,
        min_df: int = 2,
        task: str = "binary",
        seed: int = 0,
    ) -> None:
        self.candidate = candidate
        self.texts = texts
        self.k = k
        self.min_df = min_df
        self.task = task
        self.seed = seed

    def _docs(self, X: pd.DataFrame) -> list[str]:
        if self.texts is None:
            raise UserError(errors.NOTE_TERMS_NO_TEXTS)
        if not isinstance(X, pd.DataFrame):
            raise TypeError("NoteTerms needs the feature table as a DataFrame indexed by sample ID")
        return self.texts.lookup(X.index)

    def _with_terms(self, X: pd.DataFrame, terms: Any) -> pd.DataFrame:
        block = pd.DataFrame(
            terms.toarray() if hasattr(terms, "toarray") else terms,
            columns=self.terms_,
            index=X.index,
        )
        return pd.concat([X, block], axis=1)

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> Self:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        clash = [c for c in map(str, X.columns) if c.startswith(TERM_PREFIX)]
        if clash:
            raise ValueError(f"feature column(s) {clash[:3]} use the terms' prefix {TERM_PREFIX!r}")
        docs = self._docs(X)
        vectorizer = TfidfVectorizer(**VECTORIZER, min_df=self.min_df, max_features=MAX_VOCABULARY)
        try:
            tfidf = vectorizer.fit_transform(docs)
        except ValueError:  # scikit-learn: no term left after min_df (or no words at all)
            tfidf = None
        y = np.asarray(y)
        if tfidf is None or tfidf.shape[1] == 0:
            # counted by the fit engine as a fit warning of the candidate (results.json
            # configurations, the report): the fold was fitted on the table alone
            warnings.warn(
                f"note terms: no term is in at least {self.min_df} of the {len(docs)} training "
                "samples' notes; this fit used the feature table alone",
                NoteTermsWarning,
                stacklevel=2,
            )
            self.vectorizer_, self.terms_ = None, []
            self.estimator_ = self.candidate.build(X, self.seed).fit(X, y)
            return self
        score = f_regression if self.task == "regression" else chi2
        keep = SelectKBest(score, k=min(int(self.k), tfidf.shape[1])).fit(tfidf, y).get_support()
        names = [str(t) for t in vectorizer.get_feature_names_out()[keep]]
        # the model keeps the selected terms only: a vectorizer over them alone gives the same
        # columns (no row normalization before the selection; rows are normalized after it)
        self.vectorizer_ = TfidfVectorizer(
            **VECTORIZER, vocabulary={t: i for i, t in enumerate(names)}
        )
        self.vectorizer_.idf_ = vectorizer.idf_[keep]
        self.terms_ = [TERM_PREFIX + t for t in names]
        frame = self._with_terms(X, normalize(tfidf[:, np.flatnonzero(keep)]))
        self.estimator_ = self.candidate.build(frame, self.seed).fit(frame, y)
        return self

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        if self.vectorizer_ is None:
            return X
        return self._with_terms(X, normalize(self.vectorizer_.transform(self._docs(X))))


def without_texts(model: Any) -> Any:
    """The model to save: a fitted :class:`NoteTerms` without the run's notes (any other
    model as is). It keeps its vocabulary (terms in at least ``min_df`` samples' notes)."""
    if not isinstance(model, NoteTerms) or model.texts is None:
        return model
    stripped = NoteTerms(model.candidate, None, model.k, model.min_df, model.task, model.seed)
    stripped.__dict__.update(
        {k: v for k, v in model.__dict__.items() if k.endswith("_") and not k.startswith("_")}
    )
    return stripped
