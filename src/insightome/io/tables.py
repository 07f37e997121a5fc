"""Interpret a samples × features table: sample IDs, numeric vs categorical features.

Rows named in error messages use the spreadsheet convention: the header is line 1,
so the first data row is row 2 (``"{line} (sample '{id}')"``). Files without a header
line (Parquet) number data rows from 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from insightome import errors
from insightome.errors import UserError
from insightome.io.formats import RawTable

TYPO_SHARE = 0.8  # ≥ this share of numbers in a column → the rest are typos ...
MAX_TYPO_VALUES = 5  # ... unless the non-numbers take more distinct values than this
MIN_ROWS_ID_NOTE = 20  # from this many samples, flag all-distinct text columns as ID-like


@dataclass
class Parsed:
    """Samples × features content of a data file, ready to become an AnnData."""

    obs_names: list[str]
    X: np.ndarray
    var_names: list[str]
    categorical: pd.DataFrame
    obs: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    id_column: str = ""


def id_strings(values: pd.Series) -> list[str | None]:
    """Identifiers as strings: integral floats lose their '.0'; missing → None."""
    out: list[str | None] = []
    for v in values.tolist():
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            out.append(None)
        elif isinstance(v, float) and v.is_integer():
            out.append(str(int(v)))
        else:
            text = str(v).strip()
            out.append(text or None)
    return out


def is_numeric(series: pd.Series | np.dtype | pd.api.extensions.ExtensionDtype) -> bool:
    """Numeric or boolean dtype."""
    return pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series)


def is_name_column(series: pd.Series) -> bool:
    """Unique, non-missing, not-all-numeric text values (sample or feature names)."""
    if is_numeric(series) or series.isna().any():
        return False
    if not series.is_unique:
        return False
    return bool(pd.to_numeric(series, errors="coerce").isna().any())


def _duplicates(names: Sequence[object]) -> list[str]:
    index = pd.Index([str(n) for n in names])
    return [str(n) for n in index[index.duplicated()].unique()]


def check_unique(names: Sequence[object], path: str, *, what: str) -> None:
    """DUPLICATE_IDS (``what='ids'``) or DUPLICATE_FEATURES for repeated names."""
    dups = _duplicates(names)
    if dups:
        template = errors.DUPLICATE_IDS if what == "ids" else errors.DUPLICATE_FEATURES
        raise UserError(
            template,
            path=path,
            s="s" if len(dups) > 1 else "",
            examples=errors.examples(dups),
            n=len(dups),
        )


def missing_name(path: str, what: str) -> UserError:
    """A one-line error for an empty sample ID or feature name."""
    return UserError(errors.OPTION_INVALID, option=path, reason=what)


def row_label(line: int, name: str, kind: str = "sample") -> str:
    """How a row is named in messages: ``"12 (sample 'P07')"``."""
    return f"{line} ({kind} '{name}')"


# -- samples × features ---------------------------------------------------------------------


def _choose_ids(
    table: RawTable, path: str, id_column: str | None, keep: Sequence[str]
) -> tuple[int | None, list[str]]:
    """Position of the sample-ID column (None = row numbers) and its notes."""
    frame = table.frame
    columns = list(frame.columns)
    if id_column is not None:
        if id_column not in columns:
            hint = errors.closest_names_hint(id_column, [c for c in columns if c])
            raise UserError(errors.ID_COLUMN_MISSING, path=path, column=id_column, hint=hint)
        return columns.index(id_column), [f"used column '{id_column}' as sample ID"]
    if columns[0] == "" or table.first_is_index:
        label = f"'{columns[0]}'" if columns[0] else "(unnamed)"
        return 0, [f"used the first column {label} as sample ID"]
    if columns[0] not in keep and is_name_column(frame.iloc[:, 0]):
        return 0, [f"used column '{columns[0]}' as sample ID"]
    return None, [
        "no sample-ID column found: samples are named by their data row number "
        "('1', '2', …); name an ID column with --id-column"
    ]


class _Kind(NamedTuple):
    kind: str  # "numeric" | "categorical" | "typo"
    values: pd.Series | None = None
    bad_row: int = -1  # for "typo": position of the first non-number
    note: str = ""


def classify_column(series: pd.Series, name: str) -> _Kind:
    """Decide whether a non-numeric-dtype column is numbers, categories or numbers + typos.

    A column whose non-missing values are at least 80% numbers and whose non-numbers take
    at most :data:`MAX_TYPO_VALUES` distinct values is a numeric column with typos (such as
    '12..5' or '<5'); with more distinct non-numbers it is a code column (ICD-9 codes
    such as '250.8' and 'V57') and is treated as categorical, with a note.
    """
    if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
        return _Kind("categorical", series.astype("object"))  # category, datetime, ...
    blank = series.map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)
    values = series.where(~blank, np.nan)
    present = values.notna().to_numpy()
    if not present.any():
        return _Kind("numeric", pd.Series(np.nan, index=series.index, dtype=np.float64))
    kept = values[present]
    if kept.map(lambda v: isinstance(v, bool | np.bool_)).all():
        return _Kind("numeric", values.map(float, na_action="ignore").astype(np.float64))
    parsed = pd.to_numeric(kept, errors="coerce")
    ok = parsed.notna().to_numpy()
    if ok.all():
        return _Kind("numeric", pd.to_numeric(values, errors="coerce").astype(np.float64))
    if ok.mean() >= TYPO_SHARE:
        distinct = kept[~ok].astype(str).str.strip().unique()
        if len(distinct) <= MAX_TYPO_VALUES:
            return _Kind("typo", bad_row=int(np.flatnonzero(present)[np.flatnonzero(~ok)[0]]))
        note = (
            f"column '{name}' is {ok.mean():.0%} numbers but has {len(distinct)} distinct "
            f"non-numeric values (e.g. {errors.examples(distinct, 3)}): treated as categorical"
        )
        return _Kind("categorical", values, note=note)
    return _Kind("categorical", values)


def split_samples_by_features(
    table: RawTable, path: str, *, id_column: str | None, keep: Sequence[str]
) -> Parsed:
    """Rows are samples: pick IDs, move ``keep`` columns to obs, split features by type."""
    frame = table.frame
    columns = list(frame.columns)
    id_pos, notes = _choose_ids(table, path, id_column, keep)
    blank = [i for i, c in enumerate(columns) if c == "" and i != id_pos]
    # An unnamed, unique first column next to a chosen ID column holds row names (as R's
    # write.csv writes them): it is not a measurement, and as a feature it could leak the
    # row order. It is left out, with a note.
    row_names = bool(blank) and blank[0] == 0 and frame.iloc[:, 0].is_unique
    if row_names:
        blank = blank[1:]
        notes.append("ignored the unnamed first column (row names, not a measurement)")
    if blank:
        for i in blank:
            columns[i] = f"column_{i + 1}"
        notes.append(f"{len(blank)} column(s) without a header named column_<position>")
    check_unique([c for i, c in enumerate(columns) if i != id_pos], path, what="features")
    frame = frame.set_axis(columns, axis=1)
    if id_pos is None:
        positions = table.positions if table.positions is not None else range(len(frame))
        ids: list[str] = [str(int(p) + 1) for p in positions]
        id_name = ""
    else:
        id_name = columns[id_pos]
        raw = id_strings(frame.iloc[:, id_pos])
        for i, value in enumerate(raw):
            if value is None:
                raise missing_name(
                    path,
                    f"the sample-ID column '{id_name or '(unnamed first column)'}' is empty in "
                    f"row {table.line(i)}. Give every sample an ID, or choose another "
                    "column with --id-column.",
                )
        ids = [str(v) for v in raw]
    check_unique(ids, path, what="ids")
    index = pd.Index(ids, dtype=object)
    moved = [k for k in dict.fromkeys(keep) if k in columns]
    obs = frame[moved].set_axis(index, axis=0) if moved else pd.DataFrame(index=index)
    moved_set = set(moved)
    skip = {id_pos, 0} if row_names else {id_pos}
    if table.first_is_index and id_pos not in (None, 0):
        skip.add(0)  # a stored row index that is not the chosen ID: not data
        notes.append(f"ignored the stored row index '{columns[0] or '(unnamed)'}'")
    feature_pos = [i for i, c in enumerate(columns) if i not in skip and c not in moved_set]
    if not feature_pos:
        removed = [*([id_name] if id_name else []), *moved]
        raise UserError(errors.NO_FEATURES, path=path, removed=errors.examples(removed) or "-")
    numeric_names: list[str] = []
    numeric_values: dict[str, np.ndarray] = {}
    categorical: dict[str, pd.Categorical] = {}
    dtypes = frame.dtypes.tolist()
    native = [columns[i] for i in feature_pos if is_numeric(dtypes[i])]
    for i in feature_pos:
        name = columns[i]
        if is_numeric(dtypes[i]):
            numeric_names.append(name)
            continue
        kind, values, row, note = classify_column(frame.iloc[:, i], name)
        if note:
            notes.append(note)
        if kind == "typo":
            raise UserError(
                errors.NON_NUMERIC,
                path=path,
                column=name,
                row=row_label(table.line(row), ids[row]),
                value=str(frame.iloc[row, i]).strip(),
            )
        if kind == "numeric":
            numeric_names.append(name)
            numeric_values[name] = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            text = values.map(lambda v: str(v).strip(), na_action="ignore")
            categorical[name] = pd.Categorical(text)
            if len(ids) >= MIN_ROWS_ID_NOTE and text.notna().all() and text.is_unique:
                notes.append(
                    f"column '{name}' has a different value for every sample, like an ID; "
                    "it is kept as a categorical feature, exclude it if it identifies samples"
                )
    X = np.empty((len(ids), len(numeric_names)), dtype=np.float64)
    slot = {name: j for j, name in enumerate(numeric_names)}
    if native:
        where = [slot[n] for n in native] if numeric_values else slice(None)
        X[:, where] = frame[native].to_numpy(dtype=np.float64, na_value=np.nan)
    for name, values in numeric_values.items():
        X[:, slot[name]] = values
    check_finite(X, numeric_names, ids, path, line=table.line)
    cat = pd.DataFrame(categorical, index=index)
    return Parsed(ids, X, numeric_names, cat, obs, notes, id_column=id_name)


def check_finite(
    X: np.ndarray,
    var_names: Sequence[str],
    obs_names: Sequence[str],
    path: str,
    *,
    line: Callable[[int], int] | None = None,
    transposed: bool = False,
) -> None:
    """INFINITE_VALUE for the first ±inf in ``X`` (samples × features).

    ``line(i)`` maps a 0-based row of the file to its number; by default ``i + 1``.
    With ``transposed`` the file had features as rows, so the message names the sample
    as the column and the feature's line as the row.
    """
    inf = np.isinf(X)
    if not inf.any():
        return
    r, c = (int(v) for v in np.argwhere(inf)[0])
    number = line if line is not None else (lambda i: i + 1)
    if transposed:
        column, row = obs_names[r], row_label(number(c), var_names[c], "feature")
    else:
        column, row = var_names[c], row_label(number(r), obs_names[r])
    raise UserError(errors.INFINITE_VALUE, path=path, column=column, row=row)
