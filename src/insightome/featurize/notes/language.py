"""Which language a set of notes is written in: English or Spanish, by stopword counts.

Each language has a short list of frequent function words that are rare in the other
(``resources/common/stopwords.tsv``). The words of (up to) the first 200 notes and 200,000
characters are counted; the language with more hits wins, and the reason line gives the
counts, so a caller can record how the choice was made. With no hit at all (empty notes,
another language) English is assumed and the reason says so.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import cache

from insightome.featurize.notes.normalization import fold
from insightome.featurize.notes.resources import read_tsv, resource

__all__ = ["NAMES", "detect_language"]

NAMES = {"en": "English", "es": "Spanish"}
_WORD = re.compile(r"[a-z]+")
_MAX_NOTES = 200
_MAX_CHARS = 200_000


@cache
def _stopwords() -> dict[str, str]:
    words: dict[str, str] = {}
    for _, row in read_tsv(resource("common", "stopwords.tsv"), ("language", "word")):
        words[fold(row["word"])] = row["language"]
    return words


def detect_language(texts: Sequence[str]) -> tuple[str, str]:
    """("en" | "es", a reason line naming the counts) for a sequence of note texts."""
    stopwords = _stopwords()
    hits: Counter[str] = Counter()
    n_notes = n_chars = 0
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            continue
        piece = text[: _MAX_CHARS - n_chars]
        hits.update(stopwords[w] for w in _WORD.findall(fold(piece)) if w in stopwords)
        n_notes += 1
        n_chars += len(piece)
        if n_notes >= _MAX_NOTES or n_chars >= _MAX_CHARS:
            break
    en, es = hits["en"], hits["es"]
    counts = f"{en} English vs {es} Spanish stopwords in {n_notes} note(s)"
    if en == es == 0:
        return "en", f"not detected, English assumed: {counts}"
    language = "es" if es > en else "en"
    return language, f"detected from stopwords: {counts}"
