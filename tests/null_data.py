"""Generated p >> n data without signal, shaped like omics, so null tests run on any machine.

:func:`omics_like` draws an expression-like matrix (default 60 samples × 2,000 genes):
co-expression modules (each gene loads on one of ``n_modules`` latent factors), a strong
binary biological axis (like tumour against normal) that moves a fifth of the genes, and
gene-specific noise and scale. :func:`balanced_permutation` gives outcome labels with
exactly the chance overlap with that axis, so the labels carry no signal, not even the
realized correlation with the dominant axis that a plain random label keeps by chance (and
that a learner can genuinely learn within one realization).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class NullOmics:
    X: pd.DataFrame  # samples × genes
    axis: np.ndarray  # the binary biological axis (0/1), half the samples each
    modules: dict[str, list[str]]  # module name -> its genes (a gene-set collection)


def omics_like(n: int = 60, p: int = 2000, *, n_modules: int = 40, seed: int = 0) -> NullOmics:
    """Expression-like data (module doc); gene ``g{j}`` belongs to module ``j % n_modules``."""
    rng = np.random.default_rng(seed)
    axis = rng.permutation(np.arange(n) % 2)
    factors = rng.standard_normal((n, n_modules))
    module = np.arange(p) % n_modules
    loading = rng.uniform(0.5, 1.5, p)
    X = factors[:, module] * loading + rng.standard_normal((n, p))
    moved = rng.random(p) < 0.2  # genes that differ along the biological axis
    X += np.outer(axis - 0.5, np.where(moved, rng.normal(0, 2.0, p), 0.0))
    X = 6 + X * rng.uniform(0.3, 1.5, p)  # log-expression-like location and scales
    genes = [f"g{j}" for j in range(p)]
    modules = {
        f"module_{m}": [genes[j] for j in np.flatnonzero(module == m)] for m in range(n_modules)
    }
    return NullOmics(pd.DataFrame(X, columns=genes), axis, modules)


def balanced_permutation(y: np.ndarray, seed: int) -> np.ndarray:
    """A permutation of 0/1 ``y`` whose overlap with ``y`` is exactly the chance expectation."""
    rng = np.random.default_rng(seed)
    expected = round(y.sum() ** 2 / len(y))
    while True:
        y_perm = rng.permutation(y)
        if int((y_perm & y).sum()) == expected:
            return y_perm
