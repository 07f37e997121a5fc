"""Bemis–Murcko scaffold splits, reproducing the Therapeutics Data Commons (TDC) procedure.

A molecule's *scaffold* is its Bemis–Murcko framework: the ring systems and the linkers
between them, side chains removed (Bemis & Murcko, J. Med. Chem. 1996, 39, 2887). A scaffold
split keeps every scaffold in one part, so the test molecules have frameworks that the
model never saw — a harder and more honest estimate than a random split.

This module replicates TDC's code (Huang et al., "Therapeutics Data Commons", NeurIPS
Datasets and Benchmarks 2021) line for line, so that the same input rows in the same order
give the same partition:

* ``tdc/utils/split.py::create_scaffold_split`` (mims-harvard/TDC @ 0262f79b): the scaffold
  of each SMILES is ``MurckoScaffold.MurckoScaffoldSmiles(mol=Chem.MolFromSmiles(s),
  includeChirality=False)``; SMILES that raise (RDKit cannot parse them) are dropped from
  every part. Molecules are grouped by scaffold in order of first appearance; the sizes are
  ``train = int(n_valid * f0)``, ``valid = int(n_valid * f1)``, ``test = n_valid - train -
  valid``. Scaffold sets larger than half the valid or half the test size are "big";
  ``random.Random(seed)`` shuffles the big sets, then the small sets, and the big ones come
  first. Each set then goes to train if it still fits, else to valid if it fits, else to
  test (with ``frac[2] == 0``: train if it fits, else valid).
* ``tdc/bm_generator.py`` (@ 240bce2c): the ADMET Benchmark Group was generated with
  ``get_split(method='scaffold', seed=42, frac=[0.7, 0.1, 0.2])``; the fixed test set is the
  scaffold ``test`` part and ``train_val`` is ``train`` + ``valid``.
* ``tdc/benchmark_group/base_group.py::get_train_valid_split`` (@ 1bea3efe): the leaderboard
  protocol re-splits ``train_val`` with ``create_scaffold_split(train_val, seed,
  frac=[0.875, 0.125, 0.0])`` for seeds 1–5 (``tdc/metadata.py::admet_splits`` lists
  'scaffold' for all 22 ADMET endpoints).

Because the grouping follows the row order, the same molecules in a different order give a
different (equally valid) partition of the same sizes; see :func:`tdc_benchmark_split`.

:class:`ScaffoldKFold` is a scikit-learn splitter for cross-validation inside a training
set: scaffold groups never straddle folds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence, Sized
from random import Random

import numpy as np
from sklearn.model_selection import BaseCrossValidator

#: TDC's default train/valid/test fractions for a scaffold split.
TDC_FRACTIONS: tuple[float, float, float] = (0.7, 0.1, 0.2)
#: The seed TDC used to cut the fixed test set of the ADMET Benchmark Group.
TDC_BENCHMARK_SEED = 42
#: TDC's train/valid fractions inside ``train_val`` (``get_train_valid_split``).
TDC_TRAIN_VALID_FRACTIONS: tuple[float, float, float] = (0.875, 0.125, 0.0)
#: The seeds of the TDC leaderboard protocol (one model per seed, mean ± sd reported).
TDC_LEADERBOARD_SEEDS: tuple[int, ...] = (1, 2, 3, 4, 5)


def murcko_scaffold(smiles: str) -> str | None:
    """The Bemis–Murcko scaffold SMILES of ``smiles`` as TDC computes it; None if invalid.

    Acyclic molecules have the empty scaffold ``''`` (they all share one group, as in TDC).
    """
    from rdkit import Chem, RDLogger
    from rdkit.Chem.Scaffolds import MurckoScaffold

    RDLogger.DisableLog("rdApp.*")
    try:
        return MurckoScaffold.MurckoScaffoldSmiles(
            mol=Chem.MolFromSmiles(smiles), includeChirality=False
        )
    except Exception:  # TDC drops any SMILES on which RDKit raises
        return None


def murcko_scaffolds(smiles: Sequence[str]) -> list[str | None]:
    """:func:`murcko_scaffold` for each SMILES (None marks an invalid one)."""
    return [murcko_scaffold(s) for s in smiles]


def _check_fractions(frac: Sequence[float]) -> tuple[float, float, float]:
    if len(frac) != 3:
        raise ValueError(f"frac must hold three fractions (train, valid, test), got {frac!r}")
    f = tuple(float(x) for x in frac)
    if min(f) < 0 or abs(sum(f) - 1.0) > 1e-6:
        raise ValueError(f"frac must be non-negative and sum to 1, got {frac!r}")
    return f[0], f[1], f[2]


def _scaffold_index_sets(scaffolds: Sequence[str | None]) -> tuple[list[set[int]], int]:
    """Row indices grouped by scaffold (first-appearance order) and the invalid count."""
    groups: dict[str, set[int]] = {}
    n_invalid = 0
    for i, scaffold in enumerate(scaffolds):
        if scaffold is None:
            n_invalid += 1
            continue
        groups.setdefault(scaffold, set()).add(i)
    return list(groups.values()), n_invalid


def _tdc_partition(
    scaffolds: Sequence[str | None], seed: int, frac: tuple[float, float, float]
) -> tuple[list[int], list[int], list[int]]:
    """The core of TDC's ``create_scaffold_split`` on precomputed scaffolds."""
    index_sets, n_invalid = _scaffold_index_sets(scaffolds)
    n = len(scaffolds) - n_invalid
    train_size = int(n * frac[0])
    val_size = int(n * frac[1])
    test_size = n - train_size - val_size

    big: list[set[int]] = []
    small: list[set[int]] = []
    for index_set in index_sets:
        if len(index_set) > val_size / 2 or len(index_set) > test_size / 2:
            big.append(index_set)
        else:
            small.append(index_set)
    rng = Random(seed)
    rng.seed(seed)  # TDC seeds twice; harmless, kept for fidelity
    rng.shuffle(big)
    rng.shuffle(small)

    train: list[int] = []
    val: list[int] = []
    test: list[int] = []
    for index_set in big + small:
        if len(train) + len(index_set) <= train_size:
            train += index_set
        elif frac[2] == 0 or len(val) + len(index_set) <= val_size:
            val += index_set
        else:
            test += index_set
    return train, val, test


def _as_index(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.intp)


def scaffold_split(
    smiles: Sequence[str], *, seed: int, frac: Sequence[float] = TDC_FRACTIONS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TDC's scaffold split of ``smiles`` into (train, valid, test) row positions.

    Positions refer to ``smiles`` and come in the order TDC would emit the rows. Invalid
    SMILES are in no part (as in TDC). ``frac`` with a zero test fraction gives an empty
    test part and sends every set that does not fit into train to valid.
    """
    f = _check_fractions(frac)
    train, val, test = _tdc_partition(murcko_scaffolds(list(smiles)), seed, f)
    return _as_index(train), _as_index(val), _as_index(test)


def tdc_benchmark_split(
    smiles: Sequence[str], *, seed: int = TDC_BENCHMARK_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """The ADMET Benchmark Group's (train_val, test) positions, as TDC generated them.

    TDC ran :func:`scaffold_split` with ``seed=42`` and ``frac=(0.7, 0.1, 0.2)`` on the
    full dataset in its distributed row order; ``train_val`` is train followed by valid.
    Given the rows in that order this reproduces the leaderboard split exactly; in any
    other order the sizes match TDC's targets but the membership differs.
    """
    train, val, test = scaffold_split(smiles, seed=seed, frac=TDC_FRACTIONS)
    return np.concatenate([train, val]).astype(np.intp), test


def tdc_train_valid_split(
    train_val_smiles: Sequence[str], *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """TDC's ``get_train_valid_split``: (train, valid) positions within ``train_val``.

    A scaffold split with ``frac=(0.875, 0.125, 0.0)``; the leaderboard uses seeds 1–5
    (:data:`TDC_LEADERBOARD_SEEDS`).
    """
    train, val, _ = scaffold_split(train_val_smiles, seed=seed, frac=TDC_TRAIN_VALID_FRACTIONS)
    return train, val


class ScaffoldKFold(BaseCrossValidator):
    """K-fold cross-validation over Bemis–Murcko scaffold groups.

    ``split(X, y, groups=smiles)``: every molecule with the same scaffold lands in the same
    test fold. Scaffold groups are shuffled with ``seed`` and then placed largest first
    into the fold with the fewest molecules, so folds are balanced in size and the
    assignment changes with the seed. Invalid SMILES each form their own group (they are
    kept, not dropped, so every row is tested exactly once).
    """

    def __init__(self, n_splits: int = 5, seed: int = 0) -> None:
        if int(n_splits) < 2:
            raise ValueError(f"n_splits must be at least 2, got {n_splits}")
        self.n_splits = int(n_splits)
        self.seed = int(seed)

    def get_n_splits(self, X: object = None, y: object = None, groups: object = None) -> int:
        """The number of folds."""
        return self.n_splits

    def fold_of(self, smiles: Sequence[str]) -> np.ndarray:
        """The test fold (0 … n_splits-1) of each molecule."""
        scaffolds = murcko_scaffolds(list(smiles))
        keys = [s if s is not None else f"\x00invalid:{i}" for i, s in enumerate(scaffolds)]
        members: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            members.setdefault(key, []).append(i)
        groups = list(members.values())
        if len(groups) < self.n_splits:
            raise ValueError(
                f"{len(groups)} scaffold groups cannot fill {self.n_splits} folds; use fewer folds"
            )
        order = list(range(len(groups)))
        Random(self.seed).shuffle(order)  # Python's generator: stable across versions
        # Largest first; ties keep the seeded random order (stable sort).
        order.sort(key=lambda g: -len(groups[g]))
        fold = np.empty(len(keys), dtype=np.intp)
        sizes = np.zeros(self.n_splits, dtype=np.int64)
        for g in order:
            k = int(np.argmin(sizes))
            fold[groups[g]] = k
            sizes[k] += len(groups[g])
        return fold

    def split(
        self, X: object, y: object = None, groups: Sequence[str] | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (train, test) positions; ``groups`` are the SMILES of the rows of ``X``."""
        if groups is None:
            raise ValueError("ScaffoldKFold needs groups=<SMILES of each row>")
        smiles = list(groups)
        if isinstance(X, Sized) and len(X) != len(smiles):
            raise ValueError(f"X has {len(X)} rows but groups has {len(smiles)} SMILES")
        fold = self.fold_of(smiles)
        positions = np.arange(len(smiles))
        for k in range(self.n_splits):
            test = fold == k
            yield positions[~test], positions[test]

    def _iter_test_indices(
        self, X: object = None, y: object = None, groups: Sequence[str] | None = None
    ) -> Iterator[np.ndarray]:
        for _, test in self.split(X, y, groups):
            yield test

    def __repr__(self) -> str:
        return f"ScaffoldKFold(n_splits={self.n_splits}, seed={self.seed})"
