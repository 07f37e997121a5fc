"""A second table of per-sample annotations (a sample sheet), joined onto ``obs`` by ID.

The two files may name their ID columns differently: the data's is ``--id-column`` (or
found as usual), the table's is ``--annotations-id-column`` (default: the ``--id-column``
name when the table has it, else its first column). :func:`match` pairs the samples:
data samples without a row stop the read (one line), or with ``--drop-unmatched`` are left
out, with a note and their IDs in the provenance. :func:`feature_columns` turns the
columns named by ``--annotation-features`` into features, typed as the columns of a
samples-by-features data file are (numbers, or categories). :func:`annotate` does all of
it for :func:`insightome.io.read`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import anndata
import numpy as np
import pandas as pd

from insightome import errors
from insightome.errors import UserError
from insightome.io import arrays, formats, tables
from insightome.io.provenance import file_record


@dataclass
class Annotations:
    """An annotation table indexed by sample ID (the ID column itself removed)."""

    path: str
    frame: pd.DataFrame
    record: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    id_column: str = ""

    @property
    def ids(self) -> set[str]:
        """The sample IDs of the table."""
        return set(self.frame.index)


def read_annotations(
    path: str,
    *,
    id_column: str | None = None,
    annotations_id_column: str | None = None,
    sheet: str | int | None = None,
    decimal: str = "auto",
) -> Annotations:
    """Read an annotation table (CSV/TSV/Parquet/XLSX, or the ``obs`` of an .h5ad).

    IDs come from ``annotations_id_column`` (which must exist), else from ``id_column``
    when the table has it, else from its first column (or stored index). Rows without an
    ID are dropped with a note; repeated IDs raise DUPLICATE_IDS naming this file.
    """
    formats.check_file(path)
    fmt, _ = formats.detect_format(path)
    notes: list[str] = []
    if fmt == "mat":
        raise UserError(
            errors.OPTION_INVALID,
            option="--annotations",
            reason=f"{path} is a MATLAB file; give annotations as a table "
            "(.csv, .tsv, .parquet, .xlsx).",
        )
    own = annotations_id_column
    if fmt == "h5ad":
        obs = arrays.read_h5ad(path).obs
        n_rows, n_cols = obs.shape
        frame = obs.copy()
        if own is not None:
            frame = _ids_from_column(frame, own, path)
        else:
            frame.index = pd.Index([str(i) for i in obs.index], dtype=object)
        id_name = own or "obs_names"
        options: dict[str, Any] = {"id_column": id_name}
    else:
        table = formats.read_table(
            path, sheet=sheet if fmt == "xlsx" else None, id_column=own or id_column,
            decimal=decimal,
        )  # fmt: skip
        notes.extend(table.notes)
        raw = table.frame
        n_rows, n_cols = raw.shape
        columns = list(raw.columns)
        if own is not None and own not in columns:
            hint = errors.closest_names_hint(own, [c for c in columns if c])
            raise UserError(errors.ANNOTATIONS_ID_COLUMN_MISSING, path=path, column=own, hint=hint)
        wanted = own or id_column
        pos = columns.index(wanted) if wanted and wanted in columns else 0
        columns = [c or f"column_{i + 1}" if i != pos else c for i, c in enumerate(columns)]
        raw = raw.set_axis(columns, axis=1)
        ids = tables.id_strings(raw.iloc[:, pos])
        rest = [i for i in range(len(columns)) if i != pos]
        tables.check_unique([columns[i] for i in rest], path, what="features")
        frame = raw.iloc[:, rest].copy()
        frame.index = pd.Index(ids, dtype=object)
        id_name = columns[pos] or "(first column)"
        options = {**table.options, "id_column": id_name}
    missing = frame.index.isna()
    if missing.any():
        notes.append(f"annotation table has {int(missing.sum())} row(s) with no ID; ignored")
        frame = frame.loc[~missing]
    tables.check_unique(list(frame.index), path, what="ids")
    record = file_record(
        path, role="annotations", fmt=fmt, n_rows=n_rows, n_cols=n_cols, read_options=options
    )
    return Annotations(path, frame, record, notes, id_column=id_name)


def _ids_from_column(frame: pd.DataFrame, column: str, path: str) -> pd.DataFrame:
    """An .h5ad's obs indexed by one of its columns."""
    if column not in frame.columns:
        hint = errors.closest_names_hint(column, map(str, frame.columns))
        raise UserError(errors.ANNOTATIONS_ID_COLUMN_MISSING, path=path, column=column, hint=hint)
    ids = tables.id_strings(frame[column])
    out = frame.drop(columns=[column])
    out.index = pd.Index(ids, dtype=object)
    return out


@dataclass(frozen=True)
class Matching:
    """How the data's samples pair with the table's rows."""

    keep: np.ndarray  # per data sample: has a row in the table
    dropped: list[str]  # data samples without a row, left out (--drop-unmatched)
    unused: list[str]  # table rows without a data sample (ignored)

    def notes(self, annotations: Annotations) -> list[str]:
        out = []
        if self.dropped:  # a count: notes reach the report and the documents (no IDs)
            out.append(
                f"{len(self.dropped)} data sample(s) without a row in the annotation table "
                f"{PurePath(annotations.path).name} were left out (--drop-unmatched; their "
                "IDs in results.json data.annotations)"
            )
        if self.unused:
            out.append(
                f"annotation table has {len(self.unused)} row(s) with no matching sample in "
                "the data; ignored"
            )
        return out


def match(
    annotations: Annotations, data_ids: Sequence[str], data_path: str, *, drop_unmatched: bool
) -> Matching:
    """Pair the data's samples with the table's rows.

    A data sample without a row is refused (IDS_DO_NOT_MATCH, which suggests
    ``--drop-unmatched``) unless ``drop_unmatched``; no sample with a row at all is
    always refused (IDS_NONE_MATCH: the ID columns are almost certainly wrong).
    """
    known = annotations.ids
    keep = np.array([i in known for i in data_ids], dtype=bool)
    missing = [i for i, k in zip(data_ids, keep, strict=True) if not k]
    if missing and not keep.any():
        raise UserError(
            errors.IDS_NONE_MATCH,
            path=data_path,
            n_total=len(data_ids),
            examples=errors.examples(data_ids, 3),
            annotations=annotations.path,
            theirs=errors.examples(list(annotations.frame.index), 3),
        )
    if missing and not drop_unmatched:
        raise UserError(
            errors.IDS_DO_NOT_MATCH,
            path=data_path,
            n_missing=len(missing),
            n_total=len(data_ids),
            annotations=annotations.path,
            examples=errors.examples(missing),
        )
    present = set(data_ids)
    unused = [str(i) for i in annotations.frame.index if i not in present]
    return Matching(keep, [str(i) for i in missing], unused)


def join(annotations: Annotations, obs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Append the annotation columns to ``obs`` (whose index is the data's sample IDs,
    each with a row in the table: see :func:`match`)."""
    aligned = annotations.frame.loc[list(obs.index)]
    aligned.index = obs.index
    notes: list[str] = []
    clashes = [c for c in aligned.columns if c in set(obs.columns)]
    if clashes:
        aligned = aligned.rename(columns={c: f"{c}_annotations" for c in clashes})
        notes.append(
            "columns also in the data file were renamed with suffix '_annotations': "
            + errors.examples(clashes)
        )
    return pd.concat([obs, aligned], axis=1), notes


def feature_columns(
    annotations: Annotations,
    names: Sequence[str],
    index: pd.Index,
    *,
    taken: set[str],
    data_path: str,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The columns ``names`` of the table as features of the samples ``index``: numeric
    ones (a float frame) and categorical ones (a category frame), decided as for a data
    file's columns (:func:`insightome.io.tables.classify_column`); and notes.

    A name the table lacks, or one that is already a data column (``taken``), is refused.
    """
    frame = annotations.frame
    for name in names:
        if name not in frame.columns:
            hint = errors.closest_names_hint(name, map(str, frame.columns))
            raise UserError(
                errors.ANNOTATION_FEATURE_MISSING, path=annotations.path, column=name, hint=hint
            )
        if name in taken:
            raise UserError(
                errors.ANNOTATION_FEATURE_CLASH,
                path=annotations.path,
                column=name,
                data=data_path,
            )
    rows = frame.loc[list(index)]
    numeric: dict[str, np.ndarray] = {}
    categorical: dict[str, pd.Categorical] = {}
    notes: list[str] = []
    for name in names:
        column = rows[name]
        if tables.is_numeric(column.dtype):
            numeric[name] = column.to_numpy(dtype=np.float64, na_value=np.nan)
            continue
        kind, values, row, note = tables.classify_column(column.reset_index(drop=True), name)
        notes += [note] * bool(note)
        if kind == "typo":
            raise UserError(
                errors.NON_NUMERIC,
                path=annotations.path,
                column=name,
                row=f"for sample '{index[row]}'",
                value=str(column.iloc[row]).strip(),
            )
        if kind == "numeric":
            numeric[name] = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            text = values.map(lambda v: str(v).strip(), na_action="ignore")
            categorical[name] = pd.Categorical(text.to_numpy(dtype=object))
    return (
        pd.DataFrame(numeric, index=index, dtype=np.float64),
        pd.DataFrame(categorical, index=index),
        notes,
    )


def annotate(
    adata: anndata.AnnData,
    ann: Annotations,
    path: str,
    drop_unmatched: bool,
    features: Sequence[str],
) -> tuple[anndata.AnnData, dict[str, Any]]:
    """Pair (:func:`match`), join and take the annotation ``features`` of ``adata`` (the
    data file ``path`` as read); and the summary ``uns['provenance']['annotations']``
    keeps, with the notes under ``"notes"``."""
    ids = [str(i) for i in adata.obs_names]
    matched = match(ann, ids, path, drop_unmatched=drop_unmatched)
    if matched.dropped:
        adata = adata[matched.keep].copy()
    obs, notes = join(ann, adata.obs)
    adata.obs = obs
    notes = [*ann.notes, *matched.notes(ann), *notes]
    names = list(dict.fromkeys(features))
    if names:
        cat = adata.obsm.get("categorical")
        taken = {str(v) for v in adata.var_names}
        taken |= set(map(str, cat.columns)) if isinstance(cat, pd.DataFrame) else set()
        numeric, categorical, typed = feature_columns(
            ann, names, adata.obs_names, taken=taken, data_path=path
        )
        adata = _with_features(adata, numeric, categorical)
        notes += typed
        notes.append("annotation columns used as features: " + ", ".join(names))
    summary = {
        "path": ann.path,
        "id_column": ann.id_column,
        "n_matched": int(adata.n_obs),
        "data_without_annotations": matched.dropped,
        "annotations_without_data": len(matched.unused),  # a count: people not studied
        "features": names,
        "not_features": [str(c) for c in ann.frame.columns if c not in set(names)],
        "notes": notes,
    }
    return adata, summary


def _with_features(
    adata: anndata.AnnData, numeric: pd.DataFrame, categorical: pd.DataFrame
) -> anndata.AnnData:
    """``adata`` with ``numeric`` appended to X and ``categorical`` to obsm["categorical"]."""
    if numeric.shape[1]:
        X = np.hstack([np.asarray(adata.X, dtype=np.float64), numeric.to_numpy()])
        added = pd.DataFrame({"source": "annotations"}, index=numeric.columns.astype(str))
        var = pd.concat([adata.var, added])
        out = anndata.AnnData(X=X, obs=adata.obs, var=var, obsm=dict(adata.obsm))
        out.uns.update(adata.uns)
        adata = out
    if categorical.shape[1]:
        cat = adata.obsm.get("categorical")
        base = cat if isinstance(cat, pd.DataFrame) else pd.DataFrame(index=adata.obs_names)
        adata.obsm["categorical"] = pd.concat([base, categorical], axis=1)
    return adata
