"""What each column of a cohort table is, so a synthetic sample keeps it.

A cohort table is a pandas DataFrame, one row per patient: numeric columns (NaN missing)
and categorical columns (object or category dtype, NaN missing). :func:`describe` reads
each column's *kind*:

* ``binary`` — numbers whose observed values are exactly {0, 1} (or a bool column);
* ``integer`` — other numbers that are all whole;
* ``continuous`` — numbers with a fraction; ``decimals`` is the most decimal places seen
  (up to :data:`MAX_DECIMALS`), and synthetic values are rounded to it;
* ``categorical`` — everything else; ``categories`` in order of frequency (most common
  first, ties by first appearance).

with the observed minimum and maximum of numbers and the share missing. :func:`finish`
turns synthesized columns back into a table with the real table's columns, order and
dtypes: integers whole, binary 0/1, categories among the observed ones, numbers within
the observed range, and a fresh row index (never a real row's ID).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from insightome.errors import UserError

Kind = Literal["binary", "integer", "continuous", "categorical"]
MAX_DECIMALS = 6

EMPTY_TABLE = "the table to synthesize has no {what}: give it at least one row and one column."
DUPLICATE_COLUMNS = "the table to synthesize has duplicate column names ({names}): rename them."


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a cohort table as the synthesizers see it."""

    name: str
    kind: Kind
    dtype: object  # the real column's dtype (numpy or pandas), restored on every sample
    missing_share: float
    n_observed: int
    minimum: float | None = None  # numbers only
    maximum: float | None = None
    decimals: int = 0  # continuous only: rounding of synthetic values
    categories: tuple[object, ...] = ()  # categorical only, most frequent first

    @property
    def constant(self) -> bool:
        """One observed value (or none): nothing to model, the column is copied."""
        if self.n_observed == 0:
            return True
        if self.kind == "categorical":
            return len(self.categories) == 1
        return self.minimum == self.maximum

    @property
    def numeric(self) -> bool:
        return self.kind != "categorical"

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "name": self.name,
            "kind": self.kind,
            "missing_share": round(self.missing_share, 4),
        }
        if self.numeric and self.n_observed:
            d |= {"minimum": self.minimum, "maximum": self.maximum, "decimals": self.decimals}
        if self.kind == "categorical":
            d["n_categories"] = len(self.categories)
        return d


def _decimals(values: np.ndarray) -> int:
    for d in range(MAX_DECIMALS + 1):
        tolerance = 1e-9 * max(1.0, float(np.abs(values).max()))
        if np.allclose(values, np.round(values, d), rtol=0, atol=tolerance):
            return d
    return MAX_DECIMALS


def describe_column(column: pd.Series) -> ColumnSpec:
    name = str(column.name)
    observed = column.dropna()
    missing = float(column.isna().mean()) if len(column) else 0.0
    base = {"name": name, "dtype": column.dtype, "missing_share": missing}
    base["n_observed"] = len(observed)
    categorical = isinstance(column.dtype, pd.CategoricalDtype)
    if pd.api.types.is_bool_dtype(column.dtype) or (
        pd.api.types.is_numeric_dtype(column.dtype) and not categorical
    ):
        values = observed.to_numpy(float)
        if len(values) == 0:
            return ColumnSpec(kind="continuous", **base)
        lo, hi = float(values.min()), float(values.max())
        whole = bool(np.all(values == np.round(values)))
        if whole and set(np.unique(values)) <= {0.0, 1.0} and lo != hi:
            kind: Kind = "binary"
        elif whole:
            kind = "integer"
        else:
            kind = "continuous"
        decimals = _decimals(values) if kind == "continuous" else 0
        return ColumnSpec(kind=kind, minimum=lo, maximum=hi, decimals=decimals, **base)
    counts = observed.value_counts(sort=False)
    counts = counts[counts > 0]  # a category dtype's unused levels are not observed values
    # most frequent first; sorted() is stable, so ties keep the order they were seen in
    order = sorted(range(len(counts)), key=lambda i: -int(counts.iloc[i]))
    categories = tuple(counts.index[i] for i in order)
    return ColumnSpec(kind="categorical", categories=categories, **base)


def describe(frame: pd.DataFrame) -> list[ColumnSpec]:
    """The column specs of a cohort table (refusing an empty table or duplicate names)."""
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise UserError(EMPTY_TABLE, what="rows" if frame.shape[0] == 0 else "columns")
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        raise UserError(DUPLICATE_COLUMNS, names=", ".join(map(str, duplicated.unique())))
    return [describe_column(frame[c]) for c in frame.columns]


def constant_notes(specs: Sequence[ColumnSpec]) -> list[str]:
    """The notes every synthesizer records for the columns it does not model."""
    notes = []
    for s in specs:
        if s.n_observed == 0:
            notes.append(f"column {s.name}: all missing, synthesized as all missing")
        elif s.constant:
            notes.append(f"column {s.name}: constant, copied")
    return notes


def finish_numeric(values: np.ndarray, spec: ColumnSpec) -> np.ndarray:
    """Numbers of one column kept to its kind: rounded, within the observed range."""
    out = np.asarray(values, float).copy()
    if spec.n_observed == 0:
        return np.full(len(out), np.nan)
    seen = ~np.isnan(out)
    clipped = np.clip(out[seen], spec.minimum, spec.maximum)
    out[seen] = np.round(clipped, spec.decimals)
    return out


def finish(
    columns: Sequence[np.ndarray], specs: Sequence[ColumnSpec], names: pd.Index
) -> pd.DataFrame:
    """The synthesized columns (in the order of ``specs``) as a table with the real
    table's column names, order and dtypes, and a fresh row index."""
    data: dict[int, pd.Series] = {}
    for i, (values, spec) in enumerate(zip(columns, specs, strict=True)):
        if spec.numeric:
            numbers = finish_numeric(values, spec)
            series = pd.Series(numbers)
            if not np.isnan(numbers).any() or pd.api.types.is_float_dtype(spec.dtype):
                series = series.astype(spec.dtype)  # int64 / bool columns come back as such
        else:
            series = pd.Series(np.asarray(values, dtype=object)).astype(spec.dtype)
        data[i] = series
    frame = pd.DataFrame(data)
    frame.columns = names
    return frame
