"""A second table of per-sample annotations, joined onto ``obs`` by sample ID."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

    @property
    def ids(self) -> set[str]:
        """The sample IDs of the table."""
        return set(self.frame.index)


def read_annotations(
    path: str,
    *,
    id_column: str | None = None,
    sheet: str | int | None = None,
    decimal: str = "auto",
) -> Annotations:
    """Read an annotation table (CSV/TSV/Parquet/XLSX, or the ``obs`` of an .h5ad).

    IDs come from ``id_column`` when the table has it, else from its first column (or
    stored index). Rows without an ID are dropped with a note; repeated IDs raise
    DUPLICATE_IDS naming this file.
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
    if fmt == "h5ad":
        obs = arrays.read_h5ad(path).obs
        n_rows, n_cols = obs.shape
        frame = obs.copy()
        frame.index = pd.Index([str(i) for i in obs.index], dtype=object)
        options: dict[str, Any] = {"id_column": "obs_names"}
    else:
        table = formats.read_table(
            path, sheet=sheet if fmt == "xlsx" else None, id_column=id_column, decimal=decimal
        )
        notes.extend(table.notes)
        raw = table.frame
        n_rows, n_cols = raw.shape
        columns = list(raw.columns)
        pos = columns.index(id_column) if id_column and id_column in columns else 0
        columns = [c or f"column_{i + 1}" if i != pos else c for i, c in enumerate(columns)]
        raw = raw.set_axis(columns, axis=1)
        ids = tables.id_strings(raw.iloc[:, pos])
        rest = [i for i in range(len(columns)) if i != pos]
        tables.check_unique([columns[i] for i in rest], path, what="features")
        frame = raw.iloc[:, rest].copy()
        frame.index = pd.Index(ids, dtype=object)
        missing = frame.index.isna()
        if missing.any():
            notes.append(f"annotation table has {int(missing.sum())} row(s) with no ID; ignored")
            frame = frame.loc[~missing]
        options = {**table.options, "id_column": columns[pos] or "(first column)"}
    tables.check_unique(list(frame.index), path, what="ids")
    record = file_record(
        path, role="annotations", fmt=fmt, n_rows=n_rows, n_cols=n_cols, read_options=options
    )
    return Annotations(path, frame, record, notes)


def join(
    annotations: Annotations, obs: pd.DataFrame, data_path: str
) -> tuple[pd.DataFrame, list[str]]:
    """Append the annotation columns to ``obs`` (whose index is the data's sample IDs)."""
    ann = annotations.frame
    known = set(ann.index)
    missing = [i for i in obs.index if i not in known]
    if missing:
        raise UserError(
            errors.IDS_DO_NOT_MATCH,
            path=data_path,
            n_missing=len(missing),
            n_total=len(obs.index),
            annotations=annotations.path,
            examples=errors.examples(missing),
        )
    notes: list[str] = []
    extra = len(ann.index) - len(obs.index)
    if extra > 0:
        notes.append(
            f"annotation table has {extra} row(s) with no matching sample in the data; ignored"
        )
    aligned = ann.loc[list(obs.index)]
    aligned.index = obs.index
    clashes = [c for c in aligned.columns if c in set(obs.columns)]
    if clashes:
        aligned = aligned.rename(columns={c: f"{c}_annotations" for c in clashes})
        notes.append(
            "columns also in the data file were renamed with suffix '_annotations': "
            + errors.examples(clashes)
        )
    return pd.concat([obs, aligned], axis=1), notes
