"""The tokens of a normalized note: a spaCy Doc without white-space tokens, and where each
token lies in the normalized text.

spaCy's tokenizer makes a token of every extra white space ("a  b", a line break): kept,
such tokens would stop a multi-word term or trigger written across a line break and count
in ConText's token windows. They are dropped: the Doc the matchers see holds the words and
punctuation only, and :attr:`Tokens.starts`/:attr:`Tokens.ends` give each token's span of
the normalized text (the Doc's own offsets are not used once it is rebuilt).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Tokens", "tokens_of"]


@dataclass(frozen=True)
class Tokens:
    """The tokens of ``text`` (normalized): ``doc[i]`` spans ``text[starts[i]:ends[i]]``."""

    doc: Any
    text: str
    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)

    def span(self, start: int, end: int) -> tuple[int, int] | None:
        """The token range [first, last) overlapping characters [start, end), or None."""
        first = int(np.searchsorted(self.ends, start, side="right"))
        last = int(np.searchsorted(self.starts, end, side="left"))
        return (first, last) if first < last else None

    def chars(self, first: int, last: int) -> tuple[int, int]:
        """The character span of tokens [first, last)."""
        return int(self.starts[first]), int(self.ends[last - 1])


def tokens_of(nlp: Any, text: str, doc: Any = None) -> Tokens:
    """Tokenize normalized ``text`` (or take its ``doc``) and drop white-space tokens."""
    from spacy.tokens import Doc

    if doc is None:
        doc = nlp.tokenizer(text)  # not make_doc: no max_length (see resources.blank_pipeline)
    table = doc.to_array(["IDX", "LENGTH", "IS_SPACE", "ORTH"])
    table = table.reshape(-1, 4)
    words = table[:, 2] == 0
    starts = table[words, 0].astype(np.int64)
    ends = starts + table[words, 1].astype(np.int64)
    if not words.all():
        strings = doc.vocab.strings
        doc = Doc(doc.vocab, words=[strings[int(o)] for o in table[words, 3]])
    return Tokens(doc, text, starts, ends)
