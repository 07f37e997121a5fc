"""Sentence boundaries for clinical text.

spaCy's rule-based sentencizer splits only on sentence punctuation; clinical notes also
end statements with line breaks, lists and headings, and use full stops that end nothing
("Dr. Smith", "b.i.d.", "7.2 mg"). A sentence here ends

* after ``.``, ``!`` or ``?`` followed by white space or the end (or by a comma and no
  space: exports that replaced line breaks by commas, as MTSamples did, ".,2. Normal"),
  unless the word before a full stop is a known abbreviation (:data:`ABBREVIATIONS`:
  "Dr.", "approx."; units such as "mg." do end sentences), a single letter (an initial),
  a list number ("2.") or has inner full stops ("e.g.", "b.i.d."); the next word's case is
  not used (many notes are written in lower case);
* at a blank line;
* at a line starting with a list marker ("- ", "* ", "• ", "2. ", "3) ");
* before and after each heading (:mod:`~insightome.featurize.notes.sections`): a heading is
  a sentence of its own, so "HISTORY OF PRESENT ILLNESS:" never gives its scope to the
  next line.

A single line break alone does not end a sentence: dictated and exported notes wrap lines
mid-sentence. Boundaries are character positions of the normalized text (same offsets as
the tokens).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

__all__ = ["ABBREVIATIONS", "sentence_starts"]

#: Words written with a full stop that does not end a sentence (normalized, without the
#: stop); English and Spanish.
ABBREVIATIONS = frozenset(
    """dr dra drs dres mr mrs ms prof sr sra srta st vs etc approx fig figs no nos pt pts
    cf ca resp incl aprox ej pag pags num dcha izq ud uds hosp min max""".split()
)
_END = re.compile(r"[.!?]+[\"')\]]*(?:(?=\s|$)|,(?=\S))")
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n\s*")
_LIST_ITEM = re.compile(r"\n[ \t]*(?:[-*\u2022\u00b7]|\d{1,2}[.)])[ \t]")


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    if match.group()[0] in "!?":
        return True
    words = text[max(0, match.start() - 40) : match.start()].split()
    if not words or text[match.start() - 1].isspace():
        return True
    word = words[-1].lstrip("([\"',;:")
    if len(word) == 1 and word.isalpha():
        return False  # an initial
    if word.isdigit() and len(word) <= 2:
        before = match.start() - len(word)  # the last character before it, spaces skipped
        while before > 0 and text[before - 1] in " \t":
            before -= 1
        if before == 0 or text[before - 1] in "\n.,:;":
            return False  # a list number: "2. rest", "...cm.,2.  Normal"
    return "." not in word and word not in ABBREVIATIONS


def sentence_starts(text: str, headings: Iterable[tuple[int, int]] = ()) -> np.ndarray:
    """Sorted start positions of the sentences of normalized ``text`` (0 first).

    ``headings`` are (start, end) spans that stand as sentences of their own.
    """
    starts = {0}
    for match in _END.finditer(text):
        if _ends_sentence(text, match):
            starts.add(match.end())
    for match in _BLANK_LINE.finditer(text):
        starts.add(match.end())
    for match in _LIST_ITEM.finditer(text):
        starts.add(match.start() + 1)
    for start, end in headings:
        starts.add(start)
        starts.add(end)
    return np.array(sorted(s for s in starts if s < len(text) or s == 0), dtype=np.int64)
