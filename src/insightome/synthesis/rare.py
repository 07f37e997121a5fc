"""Rare categories merged before synthesis, each merge recorded.

A category seen in fewer than ``min_count`` patients identifies them: a sequential CART
copies real values from its leaves, so a rare category would reappear in the synthetic
table next to the same patients' other values. :func:`merge_rare_categories` merges, in
every categorical column (object or category dtype), the categories seen fewer than
``min_count`` times into ``"other"``; when those rare categories together are still fewer
than ``min_count`` (so "other" would be rare too), they go into the column's most frequent
category instead. Missing values stay missing. A column whose categories are all rare
becomes ``"other"`` throughout. Numbers are never changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

OTHER = "other"


@dataclass(frozen=True)
class CategoryMerge:
    """Categories of one column merged into one (the counts of the rare ones are not kept:
    they are small cells)."""

    column: str
    categories: tuple[str, ...]
    into: str
    min_count: int

    def sentence(self) -> str:
        names = ", ".join(f"'{c}'" for c in self.categories)
        return (
            f"column {self.column}: {names} (each seen in fewer than {self.min_count} rows) "
            f"merged into '{self.into}'"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "column": self.column,
            "categories": list(self.categories),
            "into": self.into,
            "min_count": self.min_count,
        }


def _is_categorical(column: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(column.dtype) or isinstance(
        column.dtype, pd.CategoricalDtype
    )


def merge_rare_categories(
    frame: pd.DataFrame, min_count: int
) -> tuple[pd.DataFrame, list[CategoryMerge]]:
    """``frame`` with the rare categories of its categorical columns merged, and the
    merges (one per column that changed). The input is not modified."""
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    out = frame.copy()
    merges: list[CategoryMerge] = []
    for position, name in enumerate(frame.columns):
        column = frame.iloc[:, position]
        if not _is_categorical(column):
            continue
        counts = column.value_counts(dropna=True, sort=True)
        counts = counts[counts > 0]  # a category dtype's unused levels
        rare = counts[counts < min_count]
        if rare.empty:
            continue
        common = counts[counts >= min_count]
        if rare.sum() >= min_count or common.empty or OTHER in common.index:
            into: object = OTHER
        else:
            into = common.index[0]
        mapping = {c: into for c in rare.index}
        values = column.astype(object).map(lambda v, m=mapping: m.get(v, v))
        if isinstance(column.dtype, pd.CategoricalDtype):
            kept = [c for c in column.cat.categories if c not in mapping]
            levels = kept + ([into] if into not in kept else [])
            values = values.astype(pd.CategoricalDtype(levels))
        else:
            values = values.astype(column.dtype)
        out.isetitem(position, values)
        merges.append(
            CategoryMerge(str(name), tuple(str(c) for c in rare.index), str(into), min_count)
        )
    return out, merges
