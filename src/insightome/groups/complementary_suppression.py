"""Complementary suppression by linear programming: which counts to hide so that no small
count can be recomputed (the method is described in :mod:`insightome.groups.disclosure`).

:func:`protect` takes the base-cell counts, the published and derivable :class:`Count` objects and
the totals a reader always knows, and returns each printed count's status: :data:`SHOWN`,
:data:`SMALL` or :data:`COMPLEMENTARY`. :func:`protected` is the test a small count's
possible range must pass.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

SINGLES_TRIED = 12  # the smallest binding counts tried, one at a time, as complements
PAIRS_TRIED = 30  # pairs of counts tried when no single one widens a range
SHOWN, SMALL, COMPLEMENTARY = "shown", "small", "complementary"


def protected(lo: float, hi: float, floor: int, min_cell: int) -> bool:
    """Whether a small count whose possible values a reader can narrow to [``lo``, ``hi``] is
    protected: the range still reaches ``min_cell`` − 1, and starts no higher than the middle
    of [``floor``, ``min_cell`` − 1] (knowing that a count is 3 or more is not knowing it)."""
    top = min_cell - 1
    return hi >= top - 1e-6 and lo <= floor + (top - floor) // 2 + 1e-6


@dataclass(frozen=True)
class Count:
    """A count a table may publish (``printed``) or that can be derived from one (not)."""

    key: Hashable
    cells: np.ndarray  # indices of the base cells it sums
    floor: int = 0  # the smallest value a reader knows it can take (1 for a listed group)
    printed: bool = True
    ceiling: float = math.inf  # the largest value a reader knows it can take


def protect(
    base: Sequence[int] | np.ndarray,
    counts: Sequence[Count],
    known: Sequence[np.ndarray],
    min_cell: int,
) -> dict[Hashable, str]:
    """Status (:data:`SHOWN`, :data:`SMALL`, ``"complementary"``) of every printed count.

    ``base`` holds the base-cell counts, ``counts`` the published (``printed``) and derivable
    counts, ``known`` the sums always shown (each an array of base-cell indices, e.g. all
    cells for n). A small printed count is hidden; a small derivable one must not be
    recomputable either. Complementary counts are added greedily (module docstring).
    """
    return _Protection(np.asarray(base, dtype=float), counts, known, int(min_cell)).run()


class _Protection:
    """The linear programmes of :func:`protect` over one set of base cells."""

    def __init__(
        self, base: np.ndarray, counts: Sequence[Count], known: Sequence[np.ndarray], k: int
    ) -> None:
        self.base, self.k = base, k
        self.printed = [c for c in counts if c.printed]
        self.sensitive = [c for c in counts if base[c.cells].sum() < k]
        self.value = {c.key: float(base[c.cells].sum()) for c in counts}
        self.status = {c.key: SMALL if self.value[c.key] < k else SHOWN for c in self.printed}
        self.rows = {c.key: self._row(c.cells) for c in counts}
        self.known = np.array([self._row(cells) for cells in known]).reshape(-1, len(base))
        self.known_b = self.known @ base

    def _row(self, cells: np.ndarray) -> np.ndarray:
        r = np.zeros(len(self.base))
        r[cells] = 1.0
        return r

    def run(self) -> dict[Hashable, str]:
        if self.k > 0 and len(self.base):
            for target in self.sensitive:
                while True:
                    (lo, hi), binding = self._range(target)
                    if self._safe(target, lo, hi):
                        break
                    best = self._complement(target, lo, hi, binding)
                    if best is None:
                        break  # every count that could help is hidden already
                    self.status[best] = COMPLEMENTARY
        return dict(self.status)

    def _safe(self, target: Count, lo: float, hi: float) -> bool:
        # a small count a reader knows to be under min_group_size < k tops out below k − 1
        k = self.k if target.ceiling == math.inf else min(self.k, int(target.ceiling) + 1)
        return protected(lo, hi, target.floor, k)

    def _range(self, target: Count) -> tuple[tuple[float, float], set[Hashable]]:
        """The smallest and largest value ``target`` can take given what is shown, and the
        shown counts that bind either bound (non-zero dual values)."""
        shown = [c.key for c in self.printed if self.status[c.key] == SHOWN]
        eq = np.vstack([self.known, *(self.rows[key] for key in shown)])
        b_eq = np.concatenate([self.known_b, [self.value[key] for key in shown]])
        ub, b_ub = [], []
        for c in self.printed:
            if self.status[c.key] == SMALL:  # floor ≤ x ≤ k − 1
                ub += [self.rows[c.key], -self.rows[c.key]]
                b_ub += [min(self.k - 1, c.ceiling), -c.floor]
            elif self.status[c.key] == COMPLEMENTARY:  # the reader knows it is not small
                ub.append(-self.rows[c.key])
                b_ub.append(-max(self.k, c.floor))
                if c.ceiling < math.inf:
                    ub.append(self.rows[c.key])
                    b_ub.append(c.ceiling)
        bounds, binding = [], set()
        for sign in (1.0, -1.0):
            res = linprog(
                sign * self.rows[target.key],
                A_ub=np.array(ub) if ub else None,
                b_ub=np.array(b_ub) if b_ub else None,
                A_eq=eq,
                b_eq=b_eq,
                bounds=(0, None),
                method="highs",
            )
            if res.status != 0:  # unbounded above (the real counts are always feasible)
                bounds.append(np.inf * -sign)
                continue
            bounds.append(sign * res.fun)
            duals = res.eqlin.marginals[len(self.known_b) :]
            binding |= {key for key, d in zip(shown, duals, strict=True) if abs(d) > 1e-9}
        return (bounds[0], bounds[1]), binding

    def _complement(
        self, target: Count, lo: float, hi: float, binding: set[Hashable]
    ) -> Hashable | None:
        """The shown count to hide next, among those that bind ``target``'s range: the
        smallest that protects it, else the smallest that widens its range, else the smaller
        of the smallest pair that widens it (a count shown twice, e.g. a group and the sum of
        its intersections, needs two), else the smallest."""
        order = sorted(binding, key=lambda key: (self.value[key], str(key)))
        widening = []
        for key in order[:SINGLES_TRIED]:
            verdict = self._try(target, (key,), lo, hi)
            if verdict == "protects":
                return key
            if verdict == "widens":
                widening.append(key)
        if widening:
            return widening[0]
        pairs = sorted(
            ((a, b) for i, a in enumerate(order) for b in order[i + 1 :]),
            key=lambda p: (self.value[p[0]] + self.value[p[1]], str(p)),
        )
        for pair in pairs[:PAIRS_TRIED]:
            if self._try(target, pair, lo, hi) != "no change":
                return pair[0]
        return order[0] if order else None

    def _try(self, target: Count, keys: tuple[Hashable, ...], lo: float, hi: float) -> str:
        """What hiding ``keys`` as well would do to ``target``'s range."""
        for key in keys:
            self.status[key] = COMPLEMENTARY
        (new_lo, new_hi), _ = self._range(target)
        for key in keys:
            self.status[key] = SHOWN
        if self._safe(target, new_lo, new_hi):
            return "protects"
        return "widens" if new_lo < lo - 1e-6 or new_hi > hi + 1e-6 else "no change"


def cross_classify(*codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Base cells of samples classified by several label arrays: (cell of each sample, counts)."""
    if not codes:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    keys = np.column_stack([np.unique(np.asarray(c).astype(str), return_inverse=True)[1]
                            for c in codes])  # fmt: skip
    _, cell, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return cell.ravel(), counts
