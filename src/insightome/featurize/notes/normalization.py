"""Normalized text with a map back to the original: lower-case, accents stripped.

Every matcher of the notes engine (lexicon terms, ConText triggers, section headings,
values) works on the normalized text, so "Neumonía", "NEUMONIA" and "neumonia" are one
term; every offset the engine reports is mapped back into the ORIGINAL text, so
``text[start:end]`` is what the note says.

Each character is lower-cased and decomposed (NFD), and its combining marks are dropped.
Almost every character then gives exactly one character, and the normalized text has the
original's length (the fast path: offsets are the same). A character that gives none (a
combining mark of a decomposed note, "e" + U+0301) or several ("İ" → "i̇", ligatures) takes
the slow path: ``to_original`` maps every normalized position back to its source character.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["NormalizedText", "fold", "normalize"]


@lru_cache(maxsize=65536)
def _fold_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFD", char.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(text: str) -> str:
    """``text`` lower-cased with its accents stripped (may change its length)."""
    return "".join(_fold_char(c) for c in text)


class _Table(dict[int, str]):
    """``str.translate`` table that folds characters and remembers which do not fold to
    exactly one character (those force the slow path)."""

    def __init__(self) -> None:
        super().__init__()
        self.uneven: set[str] = set()

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = _fold_char(char)
        if len(folded) != 1:
            self.uneven.add(char)
        self[code] = folded
        return folded


_TABLE = _Table()


@dataclass(frozen=True)
class NormalizedText:
    """The normalized form of ``original``.

    ``to_original`` is ``None`` when the two have the same length (offsets are shared);
    otherwise an int array of ``len(text) + 1`` entries: the original index of the
    character that gave each normalized character, and ``len(original)`` at the end.
    """

    original: str
    text: str
    to_original: np.ndarray | None = None

    def start(self, position: int) -> int:
        """The original offset of a span starting at normalized ``position``."""
        if self.to_original is None:
            return position
        return int(self.to_original[position])

    def end(self, position: int) -> int:
        """The original offset of a span ending at normalized ``position`` (exclusive)."""
        if self.to_original is None:
            return position
        if position <= 0:
            return 0
        return max(int(self.to_original[position]), int(self.to_original[position - 1]) + 1)

    def starts(self, positions: np.ndarray) -> np.ndarray:
        """:meth:`start` of many positions."""
        if self.to_original is None:
            return positions
        return self.to_original[positions]

    def ends(self, positions: np.ndarray) -> np.ndarray:
        """:meth:`end` of many positions (each ≥ 1)."""
        if self.to_original is None:
            return positions
        return np.maximum(self.to_original[positions], self.to_original[positions - 1] + 1)


def normalize(text: str) -> NormalizedText:
    """Lower-case ``text`` and strip its accents, keeping a map back to its offsets."""
    if text.isascii():
        return NormalizedText(text, text.lower())
    folded = text.translate(_TABLE)
    if len(folded) == len(text) and not any(c in _TABLE.uneven for c in set(text)):
        return NormalizedText(text, folded)
    pieces: list[str] = []
    sources: list[int] = []
    for index, char in enumerate(text):
        piece = _TABLE[ord(char)]
        pieces.append(piece)
        sources.extend([index] * len(piece))
    sources.append(len(text))
    return NormalizedText(text, "".join(pieces), np.asarray(sources, dtype=np.int64))
