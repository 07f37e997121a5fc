"""BM25 over the trials' text (bm25s, with the Snowball English stemmer of PyStemmer).

The indexed text is :attr:`Trial.search_text` (titles, conditions, keywords, MeSH terms,
interventions, summary and eligibility text); the query is the patient's notes. The
benchmark's BM25 baseline is this index, so the baseline and the ranker see the same
fields, the same tokens and the same IDF (the whole corpus read, not one topic's trials).
bm25s is used rather than hand-written scoring: it is maintained (MIT), sparse and fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from insightome import errors
from insightome.apps.trials.records import Trial
from insightome.errors import UserError

__all__ = ["TextIndex", "TrialIndex", "require_extra"]


def _modules() -> tuple[Any, Any, Any]:
    try:
        import bm25s
        import Stemmer
        from bm25s.tokenization import Tokenizer
    except ModuleNotFoundError:
        raise UserError(errors.TRIALS_EXTRA_MISSING) from None
    return bm25s, Stemmer, Tokenizer


def require_extra() -> None:
    """Fail fast, before any input is read, when the ``trials`` extra is not installed."""
    _modules()
    try:
        import spacy  # noqa: F401  (the notes engine's tokenizer)
    except ModuleNotFoundError:
        raise UserError(errors.TRIALS_EXTRA_MISSING) from None


class TextIndex:
    """A BM25 index of texts by ID; :meth:`scores` gives every text's score for one query."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        bm25s, stemmer_module, tokenizer_class = _modules()
        self.ids = [str(i) for i in ids]
        self.position = {t: i for i, t in enumerate(self.ids)}
        stemmer = stemmer_module.Stemmer("english")
        self.tokenizer = tokenizer_class(stopwords="en", stemmer=stemmer.stemWord)
        tokens = self.tokenizer.tokenize(list(texts), show_progress=False)
        self.retriever = bm25s.BM25()
        self.retriever.index(tokens, show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """BM25 of every text (index order) for ``query``; zeros when no word is known."""
        ids = self.tokenizer.tokenize([query], update_vocab=False, show_progress=False)[0]
        if not ids:
            return np.zeros(len(self.ids))
        return np.asarray(self.retriever.get_scores(list(ids)), dtype=float)

    def top(self, query: str, k: int) -> tuple[list[str], np.ndarray]:
        """The ``k`` best IDs for ``query`` and their scores (ties by ID)."""
        scores = self.scores(query)
        order = np.lexsort((np.array(self.ids), -scores))[:k]
        return [self.ids[i] for i in order], scores[order]


class TrialIndex(TextIndex):
    """BM25 over trials' :attr:`~insightome.apps.trials.records.Trial.search_text`."""

    def __init__(self, trials: Sequence[Trial]) -> None:
        super().__init__([t.nct_id for t in trials], [t.search_text for t in trials])
        self.trial_ids = self.ids
