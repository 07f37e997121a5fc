"""Orientation of a table, and reading the features × samples (omics) layout.

Features × samples is the usual omics layout: the first column holds feature (gene)
names, the header holds sample IDs. It is transposed so that samples are rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from insightome import errors
from insightome.errors import UserError
from insightome.io.formats import RawTable
from insightome.io.tables import (
    Parsed,
    check_finite,
    check_unique,
    id_strings,
    is_name_column,
    is_numeric,
    missing_name,
    row_label,
)

SBF = "samples-by-features"
FBS = "features-by-samples"
ORIENTS = ("auto", SBF, FBS)


def check_orient(orient: str) -> None:
    """Raise ORIENT_INVALID unless ``orient`` is one of :data:`ORIENTS`."""
    if orient not in ORIENTS:
        raise UserError(errors.ORIENT_INVALID, value=orient)


# -- orientation ----------------------------------------------------------------------------


def decide_orientation(
    table: RawTable,
    orient: str,
    keep: Sequence[str],
    *,
    id_column: str | None = None,
    annotation_ids: set[str] | None = None,
) -> tuple[str, str]:
    """Return ``(orientation, reason)`` for a table read from a text/Parquet/Excel file."""
    if orient != "auto":
        return orient, f"set explicitly (orient={orient})"
    frame = table.frame
    columns = list(frame.columns)
    header_hits = [k for k in keep if k in columns]
    if header_hits:
        return SBF, f"'{header_hits[0]}' is a column header, so columns are variables"
    if id_column is not None and id_column in columns:
        return SBF, f"the ID column '{id_column}' is a column header"
    first = set(v for v in id_strings(frame.iloc[:, 0]) if v is not None)
    if annotation_ids:
        in_header = len(annotation_ids & set(columns[1:]))
        in_rows = len(annotation_ids & first)
        if in_header != in_rows:
            orientation = FBS if in_header > in_rows else SBF
            return orientation, (
                f"{in_header} column headers vs {in_rows} first-column values match annotation IDs"
            )
    row_hits = [k for k in keep if k in first]
    if row_hits:
        return FBS, f"'{row_hits[0]}' is a first-column value, so rows are variables"
    n_rows, n_cols = frame.shape
    if (
        n_cols > 1
        and n_rows > 5 * n_cols
        and is_name_column(frame.iloc[:, 0])
        and all(is_numeric(dt) for dt in frame.dtypes.iloc[1:])
    ):
        return FBS, "more rows than columns, all numeric: looks like features × samples"
    return SBF, "default: rows are samples, columns are variables"


# -- features × samples ---------------------------------------------------------------------


def _obs_row(values: pd.Series) -> pd.Series:
    """A metadata row of a features × samples file as a typed column."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().sum() == values.notna().sum():
        if numbers.notna().all() and np.all(numbers == np.round(numbers)):
            return numbers.astype(np.int64)
        return numbers.astype(np.float64)
    return values.astype(object)


def split_features_by_samples(table: RawTable, path: str, *, keep: Sequence[str]) -> Parsed:
    """Rows are features (first column = names), columns are samples: transpose."""
    frame = table.frame
    columns = list(frame.columns)
    samples = columns[1:]
    for j, sample in enumerate(samples):
        if not sample:
            raise missing_name(
                path,
                f"the header of column {j + 2} (a sample ID in this features × samples "
                "layout) is empty. Give every sample an ID.",
            )
    check_unique(samples, path, what="ids")
    names = id_strings(frame.iloc[:, 0])
    for i, name in enumerate(names):
        if name is None:
            raise missing_name(
                path,
                f"the feature name (first column) is empty in row {table.line(i)}. "
                "Name every feature.",
            )
    feature_names = [str(n) for n in names]
    check_unique(feature_names, path, what="features")
    index = pd.Index(samples, dtype=object)
    keep_set = set(keep)
    meta_rows = [i for i, n in enumerate(feature_names) if n in keep_set]
    obs = pd.DataFrame(index=index)
    for name in [k for k in dict.fromkeys(keep) if k in set(feature_names)]:
        i = feature_names.index(name)
        obs[name] = _obs_row(frame.iloc[i, 1:].set_axis(index)).to_numpy()
    meta_set = set(meta_rows)
    data_rows = [i for i in range(len(feature_names)) if i not in meta_set]
    if not data_rows:
        raise UserError(errors.NO_FEATURES, path=path, removed=errors.examples(obs.columns) or "-")
    take = np.asarray(data_rows) if meta_rows else slice(None)
    X = np.empty((len(samples), len(data_rows)), dtype=np.float64)
    dtypes = frame.dtypes.tolist()
    for j in range(len(samples)):
        col = frame.iloc[:, j + 1]
        if is_numeric(dtypes[j + 1]):
            X[j] = col.to_numpy(dtype=np.float64, na_value=np.nan)[take]
            continue
        values = col.iloc[take]
        parsed = pd.to_numeric(values, errors="coerce")
        bad = np.flatnonzero((parsed.isna() & values.notna()).to_numpy())
        if bad.size:
            i = data_rows[int(bad[0])]
            raise UserError(
                errors.NON_NUMERIC,
                path=path,
                column=samples[j],
                row=row_label(table.line(i), feature_names[i], "feature"),
                value=str(values.iloc[int(bad[0])]).strip(),
            )
        X[j] = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    var_names = [feature_names[i] for i in data_rows]
    lines = [table.line(i) for i in data_rows]
    check_finite(X, var_names, samples, path, line=lines.__getitem__, transposed=True)
    notes = ["features × samples layout: transposed so that rows are samples"]
    categorical = pd.DataFrame(index=index)
    return Parsed(list(samples), X, var_names, categorical, obs, notes)
