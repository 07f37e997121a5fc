"""Small-cell suppression: the one rule for every count that leaves a run (docs/audit.md).

A count is **small** when it is under ``min_cell`` (``--min-cell``, default 10); a small count
is never shown: it reads ``<min_cell`` (e.g. ``<10``, ``<5``). Hiding it is not enough when the
same report lets a reader recompute it: from a total (76 + 10 + ? + 209 + 40 of 336), from a
rate and its n (13 × 0.769), or from another table with the same groups (an intersection
table against its marginals, the model audit against the data audit). So further counts are
hidden (**complementary suppression**) until no small count can be pinned down: they read
:data:`SUPPRESSED` ("suppressed"), never ``<min_cell``, because they are not small.

How. The published counts of a run are sums of *base cells* (the samples cross-classified
by every group and the outcome class). :func:`protect` treats what a reader knows as linear
constraints on the base cells (shown counts exactly; ``<k`` counts in [floor, k − 1];
"suppressed" counts ≥ k; totals that are always known, such as n and the class counts) and
solves two linear programmes per small count for the range it could take. A small count is
protected when that range still reaches k − 1 and starts in the lower half of [floor, k − 1]
(:func:`protected`), or when no further hiding widens it. While one is not, the smallest
binding shown count that protects it (else widens its range) is hidden as well. (For the
tables insightome publishes, sums of a cross-classification, the LP ranges are the integer
ranges.) Every estimate computed from a hidden count (a prevalence, a
rate, a percentage, a metric of a group whose size is hidden) is hidden with it, because a
rate and its denominator give the count back.

Some outputs say on which side of ``--min-group-size`` a group's size lies without printing
it: the proxy analysis lists the groups it used, the model audit tests a group or gives
"insufficient evidence", conformal keeps a Mondrian threshold per group of that size. With
``min_group_size`` given, :func:`group_disclosure` lets the reader know that of every group
(at least ``min_group_size``, or under it), so the counts it hides stay protected.

The linear programmes (:func:`protect`, :class:`Count`) are in
:mod:`insightome.groups.complementary_suppression`; this module holds the rule's markers and
:func:`group_disclosure`, which every audit table, the report and discovery use.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from insightome.groups.complementary_suppression import (
    COMPLEMENTARY,
    SHOWN,
    SMALL,
    Count,
    protect,
)
from insightome.groups.labels import INTERSECTION

__all__ = [
    "MIN_CELL",
    "NOTE",
    "SHOWN",
    "SMALL",
    "SUPPRESSED",
    "Count",
    "count_text",
    "is_hidden",
    "marker",
    "protect",
    "small_marker",
]

MIN_CELL = 10
_CACHE: dict[str, GroupDisclosure] = {}
UNKNOWN = "unknown"  # a count the rule never saw: hidden (fail closed), marked "suppressed"
SUPPRESSED = "suppressed"
NOTE = (
    "Counts under {k} read <{k}; 'suppressed' marks a count that is not small but is hidden so "
    "that a small count cannot be recomputed from totals, rates or other tables. Estimates "
    "computed from a hidden count are hidden with it."
)


def small_marker(min_cell: int) -> str:
    """How a small count reads: ``<10`` for ``min_cell`` 10."""
    return f"<{int(min_cell)}"


def marker(status: str, min_cell: int) -> str | None:
    """The text shown instead of a hidden count (None when the count is shown)."""
    if status == SMALL:
        return small_marker(min_cell)
    return SUPPRESSED if status in (COMPLEMENTARY, UNKNOWN) else None


def is_hidden(row: Mapping[str, Any], key: str = "n") -> bool:
    """Whether ``row[key]`` was hidden (a result row keeps its markers under ``suppressed``)."""
    hidden = row.get("suppressed")
    return (isinstance(hidden, Mapping) and key in hidden) or row.get(key) is None


def count_text(row: Mapping[str, Any], key: str = "n", min_cell: int = MIN_CELL) -> str:
    """``row[key]`` as it may be shown: the number, or the marker the run recorded for it.

    Rows without a recorded marker (older runs) read ``<min_cell`` when the count is None.
    """
    hidden = row.get("suppressed")
    if isinstance(hidden, Mapping) and key in hidden:
        return str(hidden[key])
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return small_marker(min_cell)
    if value < min_cell:  # never show a small count, whatever wrote the row
        return small_marker(min_cell)
    return str(int(value))


@dataclass(frozen=True)
class GroupDisclosure:
    """What may be shown of the groups of several attributes (and of their outcome counts).

    Built by :func:`group_disclosure`; ``status`` maps ``("n", attribute, group)`` and
    ``("cell", attribute, group, class)`` to :data:`SHOWN`, :data:`SMALL` or
    ``"complementary"``. Classes not printed (the negatives of a binary outcome, the
    censored of a survival one) count as shown only when the group size and every printed
    class of the group are, since they then follow by subtraction.
    """

    status: Mapping[Hashable, str]
    min_cell: int
    printed: tuple[int, ...] = ()
    n_classes: int = 0

    def size_shown(self, attribute: str, group: str) -> bool:
        return self.status.get(("n", attribute, group), UNKNOWN) == SHOWN

    def cell_shown(self, attribute: str, group: str, cls: int) -> bool:
        if cls in self.printed:
            return self.status.get(("cell", attribute, group, cls), UNKNOWN) == SHOWN
        return self.size_shown(attribute, group) and all(
            self.cell_shown(attribute, group, c) for c in self.printed
        )

    def all_shown(self, attribute: str, group: str) -> bool:
        """The size and every outcome count of the group are shown."""
        return self.size_shown(attribute, group) and all(
            self.cell_shown(attribute, group, c) for c in range(self.n_classes)
        )

    def size_marker(self, attribute: str, group: str) -> str | None:
        return marker(self.status.get(("n", attribute, group), UNKNOWN), self.min_cell)

    def cell_marker(self, attribute: str, group: str, cls: int) -> str | None:
        if cls in self.printed:
            return marker(self.status.get(("cell", attribute, group, cls), UNKNOWN), self.min_cell)
        return None if self.cell_shown(attribute, group, cls) else SUPPRESSED


def outcome_classes(y: np.ndarray | None, task: str) -> tuple[np.ndarray | None, tuple[int, ...]]:
    """Per-sample outcome class for the disclosure tables, and the classes whose counts are
    printed: binary the positives, multiclass every class, survival the events, regression
    none (only group sizes)."""
    if y is None or task == "regression":
        return None, ()
    y = np.asarray(y)
    if task == "survival":
        return (y.astype(float) > 0).astype(int), (1,)
    codes = y.astype(int)
    if task == "binary":
        return codes, (1,)
    return codes, tuple(range(int(codes.max()) + 1 if len(codes) else 0))


def group_disclosure(
    labels: Mapping[str, np.ndarray],
    y: np.ndarray | None,
    task: str,
    min_cell: int,
    outcome_of: Collection[str] | None = None,
    known_sizes: Collection[str] = (),
    min_group_size: int = 0,
) -> GroupDisclosure:
    """Which group sizes and outcome counts of ``labels`` (attribute → one label per sample,
    intersections ``"a × b"`` included) may be shown, with n and the class totals known.

    Every attribute's groups are one table whose total is n; an intersection's cells add up
    to its attributes' groups; the outcome counts of a group add up to its size and, over the
    groups, to the class totals. All these tables are protected together (:func:`protect`),
    over the full cross-classification of the attributes and the outcome class (a reader
    does not know which combinations are empty). ``outcome_of`` names the attributes whose
    groups' outcome counts are published (default: all); ``known_sizes`` the attributes
    whose group sizes a reader has from elsewhere (they are never hidden here);
    ``min_group_size`` (when > 0) the size of which the reader knows, for every group,
    whether it reaches it (module docstring): every caller about the same groups passes the
    same value, so that they hide the same counts.
    """
    classes, printed = outcome_classes(y, task)
    arrays = {a: np.asarray(v).astype(str) for a, v in labels.items()}
    if not arrays:
        return GroupDisclosure({}, min_cell, printed)
    # the data audit, the model audit and conformal coverage ask about the same tables
    scope = None if outcome_of is None else sorted(outcome_of)
    settings = (task, min_cell, scope, sorted(known_sizes), int(min_group_size))
    key = hashlib.sha256(repr(settings).encode())
    for a, v in arrays.items():
        key.update(a.encode() + b"\0" + "\0".join(v.tolist()).encode())
    key.update(b"" if classes is None else classes.astype(np.int64).tobytes())
    if (found := _CACHE.get(key.hexdigest())) is not None:
        return found
    result = _group_disclosure(
        arrays, classes, printed, min_cell, outcome_of, known_sizes, int(min_group_size)
    )
    _CACHE.clear()  # one set of tables at a time is all a run needs
    _CACHE[key.hexdigest()] = result
    return result


def _group_disclosure(
    arrays: Mapping[str, np.ndarray],
    classes: np.ndarray | None,
    printed: tuple[int, ...],
    min_cell: int,
    outcome_of: Collection[str] | None,
    known_sizes: Collection[str],
    min_group_size: int = 0,
) -> GroupDisclosure:
    n_classes = int(classes.max()) + 1 if classes is not None and len(classes) else 0
    plain = [a for a in arrays if not _intersection(a, arrays)]
    dims = [*(arrays[a] for a in plain), *([classes.astype(str)] if n_classes else [])]
    levels, codes = zip(*(np.unique(d, return_inverse=True) for d in dims), strict=True)
    shape = tuple(len(lv) for lv in levels)
    if n_classes:  # classes absent from the data still have (empty) cells
        shape = (*shape[:-1], n_classes)
        codes = (*codes[:-1], classes.astype(int))
    sample_cell = np.ravel_multi_index(codes, shape)
    base = np.bincount(sample_cell, minlength=int(np.prod(shape)))
    grid = np.indices(shape).reshape(len(shape), -1)  # level code of every base cell
    known = [np.arange(len(base))]
    known += [np.flatnonzero(grid[-1] == c) for c in range(n_classes)]
    counts: list[Count] = []
    for a, lab in arrays.items():
        parts = _intersection(a, arrays) or (a,)
        axes = [plain.index(p) for p in parts]
        combos = {}
        for g in np.unique(lab):
            first = int(np.flatnonzero(lab == g)[0])
            combos[g] = tuple(int(codes[ax][first]) for ax in axes)
        for g, combo in combos.items():
            in_g = np.all([grid[ax] == v for ax, v in zip(axes, combo, strict=True)], axis=0)
            if a in known_sizes:
                known.append(np.flatnonzero(in_g))
                continue
            cells = np.flatnonzero(in_g)
            floor, ceiling = _size_bounds(int(base[cells].sum()), min_group_size)
            counts.append(Count(("n", a, str(g)), cells, floor, ceiling=ceiling))
            for c in range(n_classes if outcome_of is None or a in outcome_of else 0):
                cells = np.flatnonzero(in_g & (grid[-1] == c))
                counts.append(Count(("cell", a, str(g), c), cells, 0, printed=c in printed))
        if len(axes) > 1:  # unlisted combinations of an intersection are empty
            listed = set(combos.values())
            for combo in np.ndindex(*(shape[ax] for ax in axes)):
                if combo not in listed:
                    zero = np.all([grid[ax] == v for ax, v in zip(axes, combo, strict=True)], 0)
                    known.append(np.flatnonzero(zero))
    status = protect(base, counts, known, min_cell)
    return GroupDisclosure(status, min_cell, printed, n_classes)


def _size_bounds(size: int, min_group_size: int) -> tuple[int, float]:
    """(floor, ceiling) a reader knows of a listed group's size: at least 1, and on the side
    of ``min_group_size`` that other outputs give away (no side when it is 0)."""
    if min_group_size <= 0:
        return 1, math.inf
    if size >= min_group_size:
        return max(1, min_group_size), math.inf
    return 1, min_group_size - 1


def _intersection(name: str, arrays: Mapping[str, np.ndarray]) -> tuple[str, ...]:
    """The attributes an intersection ``"a × b"`` is made of (empty for a plain attribute)."""
    parts = tuple(name.split(INTERSECTION))
    return parts if len(parts) > 1 and all(p in arrays for p in parts) else ()
