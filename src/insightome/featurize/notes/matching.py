"""Lexicon matching on the normalized tokens of a note.

Every term (name and synonyms) is normalized and tokenized like the notes and added to a
spaCy ``PhraseMatcher`` on the token text (one pattern per term, thousands stay fast: the
matcher is a trie in Cython). A concept's ``regex`` runs over the normalized text and must
match whole words. Case-sensitive abbreviations (:func:`~.lexicon.is_case_sensitive`) are
kept only where the original note writes them in capitals.

Overlaps: the longest match (in tokens, then characters) wins, then the earliest; a span
matched identically by several concepts gives one mention per concept (in lexicon order):
a lexicon may list a term under two concepts on purpose, and dropping one silently would
hide it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from insightome.featurize.notes.lexicon import Lexicon, is_case_sensitive
from insightome.featurize.notes.normalization import NormalizedText, fold
from insightome.featurize.notes.tokens import Tokens

__all__ = ["ConceptMatch", "ConceptMatcher"]


@dataclass(frozen=True)
class ConceptMatch:
    """A concept found at tokens [start, end) of the normalized Doc."""

    concept: int  # index into the lexicon's concepts
    start: int
    end: int


class ConceptMatcher:
    """Finds the concepts of a lexicon in normalized Docs."""

    def __init__(self, lexicon: Lexicon, nlp: Any) -> None:
        from spacy.matcher import PhraseMatcher

        self.lexicon = lexicon
        self.matcher = PhraseMatcher(nlp.vocab, attr="ORTH")
        self._keys: dict[int, tuple[int, bool]] = {}  # match id → (concept, case-sensitive)
        self.regexes: list[tuple[int, re.Pattern[str]]] = []
        by_key: dict[tuple[int, bool], list[str]] = {}
        for index, concept in enumerate(lexicon.concepts):
            for term in concept.terms:
                phrase = " ".join(fold(term).split())
                by_key.setdefault((index, is_case_sensitive(term)), []).append(phrase)
            if concept.regex:
                self.regexes.append((index, re.compile(rf"(?<!\w)(?:{concept.regex})(?!\w)")))
        for (index, sensitive), phrases in by_key.items():
            name = f"concept:{index}:{int(sensitive)}"
            self._keys[nlp.vocab.strings.add(name)] = (index, sensitive)
            self.matcher.add(name, list(nlp.tokenizer.pipe(dict.fromkeys(phrases))))

    def find(
        self, tokens: Tokens, norm: NormalizedText, excluded: np.ndarray
    ) -> list[ConceptMatch]:
        """The concept matches of a note's tokens after overlap resolution, in text order;
        tokens with ``excluded[i]`` (headings) hold none."""
        found: list[ConceptMatch] = []
        for key, start, end in self.matcher(tokens.doc):
            index, sensitive = self._keys[key]
            if sensitive and not _in_capitals(tokens, norm, start, end):
                continue
            found.append(ConceptMatch(index, start, end))
        for index, pattern in self.regexes:
            for match in pattern.finditer(norm.text):
                span = tokens.span(match.start(), match.end())
                if span is not None:
                    found.append(ConceptMatch(index, *span))
        if excluded.any():
            found = [m for m in found if not excluded[m.start : m.end].any()]
        return _resolve(found, tokens)


def _in_capitals(tokens: Tokens, norm: NormalizedText, start: int, end: int) -> bool:
    first, last = tokens.chars(start, end)
    written = norm.original[norm.start(first) : norm.end(last)]
    return all(c.isupper() for c in written if c.isalpha())


def _resolve(found: list[ConceptMatch], tokens: Tokens) -> list[ConceptMatch]:
    if not found:
        return []

    starts, ends = tokens.starts.tolist(), tokens.ends.tolist()

    def order(m: ConceptMatch) -> tuple[int, int, int, int]:
        return (-(m.end - m.start), starts[m.start] - ends[m.end - 1], m.start, m.concept)

    taken = [False] * len(starts)
    winners: set[tuple[int, int]] = set()
    kept: list[ConceptMatch] = []
    for match in sorted(set(found), key=order):
        span = (match.start, match.end)
        if span in winners:
            kept.append(match)
        elif not any(taken[match.start : match.end]):
            taken[match.start : match.end] = [True] * (match.end - match.start)
            winners.add(span)
            kept.append(match)
    kept.sort(key=lambda m: (m.start, m.end, m.concept))
    return kept
