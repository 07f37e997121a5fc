"""Synthetic cohort generators: sequential CART (synthpop's method) and a Gaussian copula.

A cohort table is a pandas DataFrame, one row per patient, no ID column: numeric columns
float (NaN missing), categorical columns object or category dtype (NaN missing); the
outcome is an ordinary column. Every generator follows :class:`Synthesizer`:
``fit(frame, seed)`` then ``sample(n, seed)``, a table with the same columns, order and
dtypes and a fresh row index; ``notes`` says what it changed or fell back on.
:func:`merge_rare_categories` merges rare categories before synthesis.
:class:`SyntheticTraining` trains any estimator on real plus synthetic rows (or synthetic
only) inside ``fit``, so synthetic rows never reach a test fold. The judging of a synthetic
table (fidelity, utility, privacy) is :mod:`insightome.synthetic`. docs/synthesis-methods.md
describes the methods and their weaknesses.
"""

from __future__ import annotations

from typing import Protocol, Self

import pandas as pd

from insightome.synthesis.cart import SequentialCART
from insightome.synthesis.columns import ColumnSpec, describe
from insightome.synthesis.copula import GaussianCopula
from insightome.synthesis.rare import CategoryMerge, merge_rare_categories
from insightome.synthesis.training import SyntheticTraining


class Synthesizer(Protocol):
    """What every generator offers."""

    name: str
    notes: list[str]

    def fit(self, frame: pd.DataFrame, seed: int) -> Self: ...

    def sample(self, n: int, seed: int) -> pd.DataFrame: ...


SYNTHESIZERS: dict[str, type] = {"cart": SequentialCART, "copula": GaussianCopula}

__all__ = [
    "SYNTHESIZERS",
    "CategoryMerge",
    "ColumnSpec",
    "GaussianCopula",
    "SequentialCART",
    "Synthesizer",
    "SyntheticTraining",
    "describe",
    "merge_rare_categories",
]
