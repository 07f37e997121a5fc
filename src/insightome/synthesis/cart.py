"""Sequential CART synthesis (synthpop's default method), hand-written on scikit-learn.

The method of Reiter (2005) as implemented in R's synthpop (Nowok, Raab & Dibben, J Stat
Softw 2016, ``method = "cart"``). There is no maintained, permissively licensed Python port
of synthpop, so this module re-implements its default path on scikit-learn's decision
trees:

1. Columns are visited in the table's order (``first=`` moves one column, e.g. the
   outcome, to the front).
2. The first column is a bootstrap of its observed values (missing values included).
3. Each later column gets a tree fitted on the *real* rows, predicting it from the columns
   visited before it (``min_leaf`` = synthpop's ``minbucket``, default 5; the tree is
   grown fully otherwise, like synthpop's ``cp = 1e-8``). A synthetic row is dropped down
   that tree using its already-synthesized values, and takes the real value of a donor
   drawn at random from the leaf it lands in. Every synthetic value is therefore a real,
   observed value, within the observed range.
4. Missing values, as in synthpop: a categorical column's missing values are one more
   category; a numeric column with missing values is synthesized in two steps, first
   whether it is missing (a tree on the missing indicator), then its value for the rows
   not missing (a tree fitted on the real rows where it is observed).

Categorical predictors enter a tree as one number per category, the categories ordered by
the mean of the node's target (Breiman's ordering: for a numeric or two-class target the
best split on the ordered codes is the best split on subsets of categories); for a target
of three or more classes they are ordered by frequency. Numeric predictors keep their
missing values (scikit-learn's trees route them).

``smoothing="density"`` (synthpop's option of that name) adds Gaussian kernel noise to the
values drawn for a numeric column with at least :data:`SMOOTH_MIN_VALUES` distinct values
(a value held by over 70% of the rows is left alone, as synthpop does), bounded to the
observed range and rounded to the observed decimals. The bandwidth is Silverman's rule
(synthpop uses Sheather-Jones). It makes a synthetic row less likely to copy a real row
exactly; it is the default (:data:`DEFAULT_SMOOTHING`), chosen on the privacy gate's
evidence (benchmarks/results/synthetic_gate.md); ``smoothing=None`` keeps real values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from insightome.synthesis.columns import ColumnSpec, constant_notes, describe, finish

SMOOTH_MIN_VALUES = 20
SMOOTH_SKIP_MODE = 0.7  # synthpop leaves a value held by more than 70% of the rows alone
SMOOTHINGS = (None, "density")
#: Density smoothing by default (synthpop recommends it for disclosure control). Without
#: it every value is a real donor's: in benchmarks/results/synthetic_gate.md (heart
#: failure, ACTG 175 at n = 300 and in full; hold-out 0.3 and 0.5; 10 seeds) univariate
#: singling-out failed in 60 of 60 runs and the distance check in 80-100%; smoothed, the
#: former never failed and passed in 40-100% (100% at hold-out 0.5), the latter passed in
#: 70-90% on ACTG 175 at hold-out 0.5 (not on heart failure's 99 training rows).
DEFAULT_SMOOTHING: str | None = "density"


@dataclass
class _Leaves:
    """One tree and the real donors in each of its leaves (no tree: one leaf of all rows)."""

    tree: DecisionTreeClassifier | DecisionTreeRegressor | None
    slot: np.ndarray  # tree node id -> leaf slot
    starts: np.ndarray  # first donor of each slot in ``values``
    counts: np.ndarray
    values: np.ndarray  # donors' real values, grouped by slot
    ranks: list[np.ndarray | None]  # per predictor: category code -> number (None: numeric)

    @classmethod
    def fit(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        classify: bool,
        ranks: list[np.ndarray | None],
        min_leaf: int,
        seed: int,
    ) -> _Leaves:
        if X.shape[1] == 0 or len(y) < 2 * min_leaf:
            tree = None
            leaf = np.zeros(len(y), dtype=np.intp)
            slot = np.zeros(1, dtype=np.intp)
        else:
            kind = DecisionTreeClassifier if classify else DecisionTreeRegressor
            tree = kind(min_samples_leaf=min_leaf, random_state=seed).fit(X, y)
            node = tree.apply(X)
            slot = np.full(tree.tree_.node_count, -1, dtype=np.intp)
            leaves = np.unique(node)
            slot[leaves] = np.arange(len(leaves))
            leaf = slot[node]
        order = np.argsort(leaf, kind="stable")
        counts = np.bincount(leaf, minlength=int(slot.max()) + 1)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return cls(tree, slot, starts, counts, y[order], ranks)

    def draw(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One donor's value for each row of ``X`` (drawn uniformly in its leaf)."""
        n = X.shape[0]
        leaf = np.zeros(n, dtype=np.intp) if self.tree is None else self.slot[self.tree.apply(X)]
        pick = self.starts[leaf] + np.floor(rng.random(n) * self.counts[leaf]).astype(np.intp)
        return self.values[pick]


def _ranks(codes: np.ndarray, target: np.ndarray | None, n_levels: int) -> np.ndarray:
    """Category code -> its position when ordered by the mean of ``target`` (frequency
    order, i.e. the codes themselves, without a target to order by)."""
    if target is None or n_levels < 2:
        return np.arange(n_levels, dtype=float)
    seen = ~np.isnan(codes) & ~np.isnan(target)
    sums = np.bincount(codes[seen].astype(np.intp), weights=target[seen], minlength=n_levels)
    counts = np.bincount(codes[seen].astype(np.intp), minlength=n_levels)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)  # unseen: last
    order = np.lexsort((np.arange(n_levels), means))
    ranks = np.empty(n_levels)
    ranks[order] = np.arange(n_levels)
    return ranks


def _encode(columns: list[np.ndarray], ranks: list[np.ndarray | None], n: int) -> np.ndarray:
    """The predictors of a tree as one float matrix (categories as their ranks)."""
    out = np.empty((n, len(columns)))
    for j, (values, rank) in enumerate(zip(columns, ranks, strict=True)):
        if rank is None:
            out[:, j] = values
        else:
            seen = ~np.isnan(values)
            out[:, j] = np.nan
            out[seen, j] = rank[values[seen].astype(np.intp)]
    return out


def _smooth(values: np.ndarray, spec: ColumnSpec, rng: np.random.Generator) -> np.ndarray:
    """synthpop's density smoothing of one numeric column's synthetic values."""
    out = values.copy()
    seen = ~np.isnan(out)
    if seen.sum() < 2:
        return out
    uniques, counts = np.unique(out[seen], return_counts=True)
    smooth = seen.copy()
    if counts.max() > SMOOTH_SKIP_MODE * seen.sum():
        smooth &= out != uniques[np.argmax(counts)]
    x = out[smooth]
    if len(x) < 2:
        return out
    iqr = np.subtract(*np.percentile(x, [75, 25]))
    spread = min(np.std(x, ddof=1), iqr / 1.34) or np.std(x, ddof=1)
    bandwidth = 0.9 * spread * len(x) ** -0.2
    out[smooth] = np.clip(x + rng.normal(0.0, bandwidth, len(x)), spec.minimum, spec.maximum)
    return out


class SequentialCART:
    """synthpop's sequential CART: fit(frame, seed), then sample(n, seed)."""

    name = "cart"

    def __init__(
        self,
        min_leaf: int = 5,
        smoothing: str | None = DEFAULT_SMOOTHING,
        first: str | None = None,
    ) -> None:
        if min_leaf < 1:
            raise ValueError(f"min_leaf must be at least 1, got {min_leaf}")
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"smoothing must be one of {SMOOTHINGS}, got {smoothing!r}")
        self.min_leaf = min_leaf
        self.smoothing = smoothing
        self.first = first
        self.notes: list[str] = []

    # -- fitting ---------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, seed: int) -> Self:
        self.specs_ = describe(frame)
        self.columns_ = frame.columns
        names = [s.name for s in self.specs_]
        visit = list(range(len(names)))
        if self.first is not None:
            if self.first not in names:
                raise ValueError(f"first={self.first!r} is not a column of the table")
            visit.remove(names.index(self.first))
            visit.insert(0, names.index(self.first))
        self.visit_ = visit
        real = [self._codes(frame.iloc[:, i], self.specs_[i]) for i in range(len(names))]
        self.notes = constant_notes(self.specs_)
        self.steps_: dict[int, tuple[_Leaves | None, _Leaves | None]] = {}
        for step, j in enumerate(visit):
            spec, target = self.specs_[j], real[j]
            before = visit[:step]
            if spec.n_observed == 0:
                self.steps_[j] = (None, None)
                continue
            missing = np.isnan(target)
            indicator = None
            if spec.numeric and missing.any():
                indicator = self._leaves(real, before, missing.astype(float), None, True, seed)
                y = target[~missing]
                rows = ~missing
            elif spec.numeric:
                y, rows = target, None
            else:  # a categorical column's missing values are one more category
                y, rows = np.where(missing, len(spec.categories), target), None
            value = self._leaves(real, before, y, rows, not spec.numeric, seed + 1 + step)
            self.steps_[j] = (indicator, value)
        self.smoothed_ = {j for j in visit if self._smoothable(j)}
        if self.smoothing:
            self.notes.append(
                f"smoothing {self.smoothing}: {len(self.smoothed_)} numeric column(s) with "
                f"at least {SMOOTH_MIN_VALUES} distinct values"
            )
        return self

    @staticmethod
    def _codes(column: pd.Series, spec: ColumnSpec) -> np.ndarray:
        """Numbers as floats, categories as float codes (most frequent 0); NaN missing."""
        if spec.numeric:
            return column.to_numpy(dtype=float, na_value=np.nan)
        lookup = {c: i for i, c in enumerate(spec.categories)}
        return np.array([lookup.get(v, np.nan) for v in column.astype(object)], dtype=float)

    def _leaves(
        self,
        real: list[np.ndarray],
        before: list[int],
        y: np.ndarray,
        rows: np.ndarray | None,
        classify: bool,
        seed: int,
    ) -> _Leaves:
        columns = [real[p] if rows is None else real[p][rows] for p in before]
        order_by = None if classify and len(np.unique(y)) > 2 else y.astype(float)
        ranks = [
            None
            if self.specs_[p].numeric
            else _ranks(col, order_by, len(self.specs_[p].categories))
            for p, col in zip(before, columns, strict=True)
        ]
        X = _encode(columns, ranks, len(y))
        return _Leaves.fit(X, y, classify, ranks, self.min_leaf, seed)

    def _smoothable(self, j: int) -> bool:
        _, value = self.steps_[j]
        if not self.smoothing or self.specs_[j].kind not in ("continuous", "integer"):
            return False
        return value is not None and len(np.unique(value.values)) >= SMOOTH_MIN_VALUES

    # -- sampling --------------------------------------------------------------------
    def sample(self, n: int, seed: int, *, given: pd.Series | None = None) -> pd.DataFrame:
        """``n`` synthetic rows. ``given`` fixes the values of the first visited column
        (``first=``), e.g. an outcome drawn beforehand; the rest is drawn given them."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        rng = np.random.default_rng(seed)
        synthetic: dict[int, np.ndarray] = {}
        for step, j in enumerate(self.visit_):
            spec = self.specs_[j]
            before = self.visit_[:step]
            if step == 0 and given is not None:
                synthetic[j] = self._given(given, n)
            elif spec.n_observed == 0:
                synthetic[j] = np.full(n, np.nan)
            else:
                synthetic[j] = self._draw(j, [synthetic[p] for p in before], n, rng)
            if j in self.smoothed_ and not (step == 0 and given is not None):
                synthetic[j] = _smooth(synthetic[j], spec, rng)
        columns = [self._decode(synthetic[j], self.specs_[j]) for j in range(len(self.specs_))]
        return finish(columns, self.specs_, self.columns_)

    def _given(self, given: pd.Series, n: int) -> np.ndarray:
        spec = self.specs_[self.visit_[0]]
        if given.name != spec.name or len(given) != n:
            raise ValueError(f"given must be {n} values of the first visited column {spec.name!r}")
        codes = self._codes(given.reset_index(drop=True), spec)
        _, value = self.steps_[self.visit_[0]]
        seen = np.unique(value.values) if value is not None else np.empty(0)
        if spec.numeric and spec.kind != "continuous":
            unseen = ~np.isin(codes, seen) & given.notna().to_numpy()
        elif spec.numeric:
            unseen = (codes < spec.minimum) | (codes > spec.maximum)
        else:
            unseen = np.isnan(codes) & given.notna().to_numpy()
        if unseen.any():
            raise ValueError(f"given holds values never seen in column {spec.name!r}")
        return codes

    def _draw(
        self, j: int, before: list[np.ndarray], n: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Column ``j`` for ``n`` synthetic rows, given the columns visited before it."""
        indicator, value = self.steps_[j]
        assert value is not None
        out = np.full(n, np.nan)
        rows = np.ones(n, dtype=bool)
        if indicator is not None:  # first whether it is missing, then its value
            rows = indicator.draw(_encode(before, indicator.ranks, n), rng) == 0
        if rows.any():
            out[rows] = value.draw(_encode([b[rows] for b in before], value.ranks, rows.sum()), rng)
        if not self.specs_[j].numeric:
            out[out == len(self.specs_[j].categories)] = np.nan  # the missing category
        return out

    @staticmethod
    def _decode(values: np.ndarray, spec: ColumnSpec) -> np.ndarray:
        if spec.numeric:
            return values
        labels = np.array([*spec.categories, np.nan], dtype=object)
        return labels[np.where(np.isnan(values), len(spec.categories), values).astype(np.intp)]
