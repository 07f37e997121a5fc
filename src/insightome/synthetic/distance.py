"""Nearest-neighbour distances on mixed cohort tables (Gower).

The distance between two rows is the mean over columns of a per-column distance in [0, 1]
(Gower 1971):

* numeric column: ``|a - b| / range``, the range of the REFERENCE rows (the real training
  rows the generator was fitted on), capped at 1 so a value outside the reference range
  weighs no more than a categorical mismatch; a constant reference column (range 0)
  counts 0 for equal values and 1 otherwise;
* categorical column: 0 when equal, 1 when different;
* missing against a value: 1; missing against missing: 0 (missingness is itself an
  attribute a record can be recognised by).

Every privacy check measures distances in the same space, fitted once on the training
rows, so a synthetic table cannot shrink or stretch the scale it is judged on.
``nearest`` works on blocks of query rows so that 10,000 x 10,000 rows never hold more
than ``max_cells`` distances in memory at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Distances held in memory at once by `nearest` (float64: 4 million cells = 32 MB).
MAX_CELLS = 4_000_000


@dataclass(frozen=True)
class GowerSpace:
    """The per-column scales of a Gower distance, fitted on reference rows."""

    columns: tuple[str, ...]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    ranges: tuple[float, ...]  # one per numeric column, from the reference rows
    categories: tuple[tuple[str, ...], ...]  # one per categorical column

    @classmethod
    def fit(cls, reference: pd.DataFrame) -> GowerSpace:
        numeric = [c for c in reference.columns if pd.api.types.is_numeric_dtype(reference[c])]
        categorical = [c for c in reference.columns if c not in numeric]
        ranges = []
        for column in numeric:
            values = reference[column].to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            ranges.append(float(finite.max() - finite.min()) if finite.size else 0.0)
        categories = tuple(
            tuple(sorted(str(v) for v in reference[c].dropna().unique())) for c in categorical
        )
        return cls(
            columns=tuple(reference.columns),
            numeric=tuple(numeric),
            categorical=tuple(categorical),
            ranges=tuple(ranges),
            categories=categories,
        )

    def encode(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(numeric values, categorical codes) of ``frame``'s rows in this space.

        Numeric values stay in their units (NaN = missing); categorical values become
        integer codes, -1 for missing and a code below -1 for a category the reference
        never saw (the same code for the same text, in this process)."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"columns missing from the table: {', '.join(missing)}")
        numeric = np.empty((len(frame), len(self.numeric)))
        for j, column in enumerate(self.numeric):
            numeric[:, j] = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        codes = np.full((len(frame), len(self.categorical)), -1, dtype=np.int64)
        for j, (column, known) in enumerate(zip(self.categorical, self.categories, strict=True)):
            lookup = {value: k for k, value in enumerate(known)}
            values = frame[column]
            present = values.notna().to_numpy()
            codes[present, j] = [lookup.get(str(v), _unseen(str(v))) for v in values[present]]
        return numeric, codes

    def pairwise(self, left: pd.DataFrame, right: pd.DataFrame) -> np.ndarray:
        """The full distance matrix (small tables only; `nearest` for large ones)."""
        return _block_distances(self.encode(left), self.encode(right), self.ranges)

    def nearest(
        self,
        queries: pd.DataFrame,
        candidates: pd.DataFrame,
        max_cells: int = MAX_CELLS,
    ) -> tuple[np.ndarray, np.ndarray]:
        """For every query row, the distance to its nearest candidate row and that row's
        position (the first one on ties)."""
        if len(candidates) == 0:
            raise ValueError("no candidate rows to measure distances to")
        encoded_queries = self.encode(queries)
        encoded_candidates = self.encode(candidates)
        block = max(1, max_cells // len(candidates))
        distance = np.empty(len(queries))
        index = np.empty(len(queries), dtype=np.int64)
        for start in range(0, len(queries), block):
            rows = slice(start, start + block)
            part = (encoded_queries[0][rows], encoded_queries[1][rows])
            matrix = _block_distances(part, encoded_candidates, self.ranges)
            index[rows] = matrix.argmin(axis=1)
            distance[rows] = matrix[np.arange(matrix.shape[0]), index[rows]]
        return distance, index


def _unseen(value: str) -> int:
    """A code for a category the reference never saw: below -1, equal for equal text."""
    return -2 - (hash(value) % (2**61))


def _block_distances(
    left: tuple[np.ndarray, np.ndarray],
    right: tuple[np.ndarray, np.ndarray],
    ranges: tuple[float, ...],
) -> np.ndarray:
    """Mean per-column Gower distance between every row of ``left`` and of ``right``."""
    (left_num, left_cat), (right_num, right_cat) = left, right
    n_columns = left_num.shape[1] + left_cat.shape[1]
    total = np.zeros((left_num.shape[0], right_num.shape[0]))
    for j, scale in enumerate(ranges):
        a, b = left_num[:, j][:, None], right_num[:, j][None, :]
        if scale > 0:
            part = np.minimum(np.abs(a - b) / scale, 1.0)
        else:
            part = (a != b).astype(float)
        a_missing, b_missing = np.isnan(a), np.isnan(b)
        part = np.where(a_missing | b_missing, 1.0, part)
        part[a_missing & b_missing] = 0.0
        total += part
    for j in range(left_cat.shape[1]):
        total += left_cat[:, j][:, None] != right_cat[:, j][None, :]
    return total / max(n_columns, 1)
