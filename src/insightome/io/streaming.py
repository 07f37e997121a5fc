"""Larger-than-memory AnnData: a streaming variance filter over a backed ``.h5ad`` file.

An ``.h5ad`` file is opened *backed* (``anndata.read_h5ad(path, backed="r")``): ``X``
stays on disk and is read in blocks of rows. Two passes keep memory bounded by one block
plus the kept columns:

1. **Column moments**: mean and variance of every feature over all samples, merged
   block by block (Chan, Golub & LeVeque 1979 pairwise update), NaN-aware; dense and
   sparse (CSR) ``X`` alike.
2. **Selection and load**: the ``k`` features with the largest variance (ties by
   position) plus any feature named in ``keep`` (outcome columns stored in ``X``) are
   copied block by block into an in-memory ``n × k`` matrix.

The filter never sees the outcome, so applying it once, before resampling, cannot leak
information into the performance estimate (a univariate filter would: those are steps
inside each CV fold). Variance is scale-dependent: it is the convention for expression
data on a common (log) scale; for mixed-unit tables choose the features yourself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse

BLOCK_CELLS = 2_000_000  # values read per block (16 MB of float64; ~4x that at peak)


@dataclass(frozen=True)
class ColumnMoments:
    n: np.ndarray  # finite values per column
    mean: np.ndarray
    m2: np.ndarray  # sum of squared deviations

    @property
    def variance(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n > 1, self.m2 / np.maximum(self.n - 1, 1), np.nan)


def block_rows(n_rows: int, n_cols: int, block_cells: int | None = None) -> int:
    cells = BLOCK_CELLS if block_cells is None else block_cells
    return max(1, min(n_rows, cells // max(n_cols, 1)))


def _dense(block: object) -> np.ndarray:
    if scipy.sparse.issparse(block):
        return np.asarray(block.toarray(), dtype=np.float64)  # type: ignore[attr-defined]
    return np.asarray(block, dtype=np.float64)


def column_moments(X: object, *, rows_per_block: int | None = None) -> ColumnMoments:
    """Per-column count, mean and M2 of a (backed) matrix read in blocks of rows."""
    n_rows, n_cols = X.shape  # type: ignore[attr-defined]
    step = rows_per_block or block_rows(n_rows, n_cols)
    n = np.zeros(n_cols)
    mean = np.zeros(n_cols)
    m2 = np.zeros(n_cols)
    for start in range(0, n_rows, step):
        block = _dense(X[start : start + step])  # type: ignore[index]
        finite = np.isfinite(block)
        nb = finite.sum(axis=0).astype(float)
        values = np.where(finite, block, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mb = np.where(nb > 0, values.sum(axis=0) / np.maximum(nb, 1), 0.0)
        m2b = (np.where(finite, block - mb, 0.0) ** 2).sum(axis=0)
        total = n + nb
        delta = mb - mean
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(total > 0, mean + delta * nb / np.maximum(total, 1), 0.0)
            m2 = m2 + m2b + np.where(total > 0, delta**2 * n * nb / np.maximum(total, 1), 0.0)
        n = total
    return ColumnMoments(n, mean, m2)


def top_variance(variance: np.ndarray, k: int) -> np.ndarray:
    """Indices (sorted) of the ``k`` largest variances; NaN variances come last."""
    v = np.where(np.isfinite(variance), variance, -np.inf)
    order = np.argsort(-v, kind="stable")
    return np.sort(order[: min(k, len(v))])


def load_columns(
    X: object, columns: Sequence[int], *, rows_per_block: int | None = None
) -> np.ndarray:
    """An in-memory ``n × len(columns)`` float64 copy, read in blocks of rows."""
    n_rows, n_cols = X.shape  # type: ignore[attr-defined]
    step = rows_per_block or block_rows(n_rows, n_cols)
    idx = np.asarray(columns, dtype=int)
    out = np.empty((n_rows, len(idx)), dtype=np.float64)
    for start in range(0, n_rows, step):
        block = X[start : start + step]  # type: ignore[index]
        if scipy.sparse.issparse(block):
            out[start : start + step] = block[:, idx].toarray()  # type: ignore[index]
        else:
            out[start : start + step] = np.asarray(block, dtype=np.float64)[:, idx]
    return out


def memory_budget_features(n_rows: int, available_bytes: float, fraction: float = 0.25) -> int:
    """How many float64 columns of ``n_rows`` fit in ``fraction`` of the available memory.

    A quarter leaves room for the model fits, which copy the table per worker.
    """
    return max(1, int(fraction * available_bytes // (8 * max(n_rows, 1))))


def selected_columns(
    X: object, var_names: Sequence[str], k: int, keep: Sequence[str] = ()
) -> tuple[np.ndarray, str]:
    """Columns to keep (top-``k`` variance ∪ ``keep``) and the note that says so."""
    n_cols = len(var_names)
    moments = column_moments(X)
    chosen = set(top_variance(moments.variance, k).tolist())
    position = {name: j for j, name in enumerate(var_names)}
    chosen |= {position[name] for name in keep if name in position}
    columns = np.array(sorted(chosen), dtype=int)
    kept_var = moments.variance[columns]
    floor = float(np.nanmin(kept_var)) if len(kept_var) else float("nan")
    note = (
        f"variance filter: kept the {min(k, n_cols)} of {n_cols} features with the largest "
        f"variance (smallest kept: {floor:.3g}); outcome-blind, so applied once before "
        "resampling without leaking into the estimate"
    )
    return columns, note
