"""Tanimoto similarity on Morgan fingerprints, in chunks, for the applicability domain.

The fingerprint is the folded Morgan fingerprint of radius 2 with 2,048 bits (ECFP4-like),
read off the ``morgan_counts`` feature block (a bit is set where its count is non-zero, so
no second fingerprint is computed). Fingerprints are stored as a sparse binary matrix
(about 45 set bits per drug-like molecule), and Tanimoto similarities come from one sparse
matrix product per chunk of queries: ``|a ∧ b| / (|a| + |b| − |a ∧ b|)``.

A molecule with no set bit (for example a single atom) has similarity 0 to everything.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from scipy import sparse

from insightome.featurize.descriptors import SEPARATOR

FINGERPRINT_KIND = "morgan_counts"
CHUNK = 512  # queries per similarity block: CHUNK × n_reference float32 in memory


def fingerprint_bits(features: pd.DataFrame | np.ndarray) -> sparse.csr_matrix:
    """The binary Morgan fingerprints (sparse, float32) of a feature table's rows.

    ``features`` is a table from :func:`insightome.featurize.featurize` with the
    ``morgan_counts`` block, or that block as an array. Missing values (molecules that
    could not be featurized) give empty fingerprints.
    """
    if isinstance(features, pd.DataFrame):
        prefix = FINGERPRINT_KIND + SEPARATOR
        columns = [c for c in features.columns if str(c).startswith(prefix)]
        if not columns:
            raise ValueError(f"the feature table has no {FINGERPRINT_KIND} block")
        values = features[columns].to_numpy()
    else:
        values = np.asarray(features)
    bits = np.nan_to_num(np.asarray(values, dtype=np.float32)) > 0
    return sparse.csr_matrix(bits, dtype=np.float32)


class TanimotoIndex:
    """Reference fingerprints to compare queries against, chunk by chunk."""

    def __init__(self, bits: sparse.csr_matrix) -> None:
        self.bits = sparse.csr_matrix(bits, dtype=np.float32)
        self.counts = np.asarray(self.bits.sum(axis=1)).ravel()
        self._transposed = self.bits.T.tocsc()

    def __len__(self) -> int:
        return self.bits.shape[0]

    def similarity(self, query: sparse.csr_matrix) -> np.ndarray:
        """The dense (queries × references) Tanimoto matrix of a few queries."""
        query = sparse.csr_matrix(query, dtype=np.float32)
        q_counts = np.asarray(query.sum(axis=1)).ravel()
        shared = (query @ self._transposed).toarray()
        union = q_counts[:, None] + self.counts[None, :] - shared
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, shared / union, 0.0).astype(np.float32)

    def blocks(
        self, query: sparse.csr_matrix, chunk: int = CHUNK
    ) -> Iterator[tuple[slice, np.ndarray]]:
        """Yield (query rows, similarity block of shape rows × len(self))."""
        query = sparse.csr_matrix(query, dtype=np.float32)
        for start in range(0, query.shape[0], chunk):
            rows = slice(start, min(start + chunk, query.shape[0]))
            yield rows, self.similarity(query[rows])


def neighbour_mean(
    block: np.ndarray, values: np.ndarray, k: int, exclude: np.ndarray | None = None
) -> np.ndarray:
    """Mean of ``values`` over each row's ``k`` most similar references.

    ``exclude`` (one reference position per row, or -1) removes a row's own entry, for
    leave-one-out estimates on the reference set itself.
    """
    if exclude is not None:
        block = block.copy()
        hit = exclude >= 0
        block[np.flatnonzero(hit), exclude[hit]] = -1.0
    k = min(k, block.shape[1] - (1 if exclude is not None else 0))
    if k <= 0:
        return np.full(block.shape[0], np.nan)
    nearest = np.argpartition(-block, k - 1, axis=1)[:, :k]
    return values[nearest].mean(axis=1)
