"""``read()``: any supported data file (+ optional annotation table) → AnnData."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import anndata
import numpy as np
import pandas as pd
import psutil
import scipy.sparse

from insightome import errors
from insightome.errors import UserError
from insightome.io import arrays, formats, streaming, tables
from insightome.io import orientation as layout
from insightome.io.annotations import Annotations, annotate, read_annotations
from insightome.io.orientation import SBF
from insightome.io.provenance import file_record
from insightome.io.tables import Parsed

#: Sparse .h5ad matrices up to this many cells are densified.
MAX_DENSE_CELLS = 200_000_000
MEMORY_FRACTION = 0.25  # a dense X larger than this share of free memory is streamed


def _move_vars_to_obs(parsed: Parsed, keep: Sequence[str], path: str) -> None:
    """Move features named in ``keep`` out of X into obs (matrix formats)."""
    names = [k for k in dict.fromkeys(keep) if k in set(parsed.var_names)]
    if not names:
        return
    slot = {n: j for j, n in enumerate(parsed.var_names)}
    for name in names:
        parsed.obs[name] = parsed.X[:, slot[name]]
    drop = {slot[n] for n in names}
    kept = [j for j in range(len(parsed.var_names)) if j not in drop]
    parsed.X = parsed.X[:, kept]
    parsed.var_names = [parsed.var_names[j] for j in kept]
    parsed.notes.append("moved to obs: " + errors.examples(names))
    if not kept:
        raise UserError(errors.NO_FEATURES, path=path, removed=errors.examples(names))


def _from_mat(path: str, keep: Sequence[str]) -> tuple[Parsed, dict[str, Any]]:
    mat = arrays.read_mat(path)
    n, p = mat.X.shape
    if n == 0 or p == 0:
        raise UserError(errors.FILE_EMPTY, path=path)
    notes = list(mat.notes)
    obs_names = mat.sample_names or [f"S{i + 1}" for i in range(n)]
    var_names = mat.feature_names or [f"F{j + 1}" for j in range(p)]
    if mat.sample_names is None:
        notes.append("no sample names in the MATLAB file: samples named S1..Sn")
    if mat.feature_names is None:
        notes.append("no feature names in the MATLAB file: features named F1..Fp")
    tables.check_unique(obs_names, path, what="ids")
    tables.check_unique(var_names, path, what="features")
    index = pd.Index(obs_names, dtype=object)
    obs = pd.DataFrame(index=index)
    if mat.y is not None:
        obs["Y"] = mat.y
    tables.check_finite(mat.X, var_names, obs_names, path)
    parsed = Parsed(obs_names, mat.X, var_names, pd.DataFrame(index=index), obs, notes)
    _move_vars_to_obs(parsed, [k for k in keep if k != "Y"], path)
    options = {**mat.options, "keep_in_obs": list(keep)}
    record = file_record(path, role="data", fmt="mat", n_rows=n, n_cols=p, read_options=options)
    return parsed, record


def _from_h5ad(
    path: str, keep: Sequence[str], max_features: int | None = None
) -> tuple[anndata.AnnData, list[str], dict]:
    notes: list[str] = []
    backed = arrays.read_h5ad_backed(path)
    n_rows, n_cols = backed.shape
    if n_rows == 0 or n_cols == 0:
        raise UserError(errors.FILE_EMPTY, path=path)
    if backed.X is None:
        raise formats.corrupt(path, "h5ad", "the file has no X matrix")
    tables.check_unique(list(backed.obs_names), path, what="ids")
    tables.check_unique(list(backed.var_names), path, what="features")
    available = psutil.virtual_memory().available
    too_big = n_rows * n_cols * 8 > MEMORY_FRACTION * available or (
        n_rows * n_cols > MAX_DENSE_CELLS
    )
    k = max_features
    if k is None and too_big:
        k = min(streaming.memory_budget_features(n_rows, available), MAX_DENSE_CELLS // n_rows)
        notes.append(
            f"X ({n_rows} × {n_cols}) is larger than a quarter of the free memory "
            f"({available / 2**30:.1f} GiB): read from disk in blocks, features filtered by "
            "variance (set --max-features to choose how many)"
        )
    if k is not None and k < n_cols:
        var_names = [str(v) for v in backed.var_names]
        columns, note = streaming.selected_columns(backed.X, var_names, k, keep)
        notes.append(note)
        adata = anndata.AnnData(
            X=streaming.load_columns(backed.X, columns),
            obs=backed.obs.copy(),
            var=backed.var.iloc[columns].copy(),
            obsm={key: value for key, value in backed.obsm.items()},
        )
        backed.file.close()
    else:
        backed.file.close()
        adata = arrays.read_h5ad(path)
    X = adata.X
    if scipy.sparse.issparse(X):
        if n_rows * n_cols > MAX_DENSE_CELLS:
            raise UserError(
                errors.OPTION_INVALID,
                option=path,
                reason=f"the sparse X matrix ({n_rows} × {n_cols}) is too large to use densely; "
                "select features first (e.g. the most variable genes) and save again.",
            )
        X = X.toarray()
        notes.append("X was stored sparse; converted to a dense matrix")
    try:
        adata.X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise formats.corrupt(path, "h5ad", f"X is not numeric: {formats.reason_of(exc)}") from exc
    names = [k for k in dict.fromkeys(keep) if k in set(adata.var_names)]
    if names:
        slot = {v: j for j, v in enumerate(adata.var_names)}
        for name in names:
            adata.obs[name] = np.array(adata.X[:, slot[name]], dtype=np.float64)
        dropped = set(names)
        adata = adata[:, [v not in dropped for v in adata.var_names]].copy()
        notes.append("moved to obs: " + errors.examples(names))
        if adata.n_vars == 0:
            raise UserError(errors.NO_FEATURES, path=path, removed=errors.examples(names))
    tables.check_finite(adata.X, list(adata.var_names), list(adata.obs_names), path)
    cat = adata.obsm.get("categorical") if "categorical" in adata.obsm else None
    if not isinstance(cat, pd.DataFrame):
        adata.obsm["categorical"] = pd.DataFrame(index=adata.obs_names.copy())
    if "source" not in adata.var.columns:
        adata.var["source"] = "data"
    options = {"keep_in_obs": list(keep), "max_features": max_features}
    record = file_record(
        path, role="data", fmt="h5ad", n_rows=n_rows, n_cols=n_cols, read_options=options
    )
    return adata, notes, record


def _from_table(
    path: str,
    *,
    annotations: Annotations | None,
    id_column: str | None,
    orient: str,
    keep: Sequence[str],
    sheet: str | int | None,
    decimal: str = "auto",
) -> tuple[Parsed, dict[str, Any], str, str]:
    table = formats.read_table(path, sheet=sheet, id_column=id_column, decimal=decimal)
    orientation, reason = layout.decide_orientation(
        table,
        orient,
        keep,
        id_column=id_column,
        annotation_ids=annotations.ids if annotations is not None else None,
    )
    if orientation == SBF:
        parsed = tables.split_samples_by_features(table, path, id_column=id_column, keep=keep)
    else:
        parsed = layout.split_features_by_samples(table, path, keep=keep)
    parsed.notes[:0] = table.notes
    options = {
        **table.options,
        "id_column": parsed.id_column or None,
        "orient": orient,
        "keep_in_obs": list(keep),
    }
    n_rows, n_cols = table.frame.shape
    record = file_record(
        path, role="data", fmt=table.fmt, n_rows=n_rows, n_cols=n_cols, read_options=options
    )
    return parsed, record, orientation, reason


def read(
    path: str | os.PathLike[str],
    *,
    annotations: str | os.PathLike[str] | None = None,
    id_column: str | None = None,
    orient: str = "auto",
    keep_in_obs: Sequence[str] = (),
    sheet: str | int | None = None,
    max_features: int | None = None,
    decimal: str = "auto",
    annotations_id_column: str | None = None,
    drop_unmatched: bool = False,
    annotation_features: Sequence[str] = (),
) -> anndata.AnnData:
    """Read a data file (samples × features or features × samples) into an AnnData.

    Parameters
    ----------
    path
        A .csv/.tsv/.txt/.tab (optionally .gz), .parquet/.pq, .xlsx, .h5ad or .mat file.
    annotations
        Optional per-sample table whose columns are joined onto ``obs`` by sample ID.
    id_column
        Name of the sample-ID column (also looked up in the annotation table).
    orient
        ``"auto"``, ``"samples-by-features"`` or ``"features-by-samples"``.
    keep_in_obs
        Columns (or, in features × samples files, rows) that are not features — the
        target, survival time/event, groups, sensitive attributes — moved into ``obs``.
        Names not found are ignored.
    sheet
        Sheet name or 0-based position for .xlsx files (default: the first sheet). It
        applies to the data file if that is a workbook, else to an .xlsx annotation file.
    max_features
        Keep only this many numeric features, those with the largest variance (an
        outcome-blind filter, see :mod:`insightome.io.streaming`). For ``.h5ad`` the file
        is read from disk in blocks, so X may be larger than memory; such a file is
        filtered automatically when its dense X would not fit in a quarter of free memory.
    decimal
        ``"auto"`` (default) reads numbers written with a decimal comma ("1,5") in a
        file separated by ``;`` or tabs as numbers, with a note; ``","`` does so in any
        text table (and takes dots grouping three digits as thousands separators);
        ``"."`` never does. Applies to the data file and the annotation table.
    annotations_id_column
        The annotation table's sample-ID column (default: ``id_column`` when the table
        has it, else its first column).
    drop_unmatched
        Leave out data samples without a row in the annotation table (a note says how
        many and which; ``uns['provenance']['annotations']`` lists them) instead of
        raising.
    annotation_features
        Columns of the annotation table to use as features: numeric ones are appended to
        ``X`` (``var['source']`` ``"annotations"``), the others to
        ``obsm['categorical']``; they stay in ``obs`` too.

    Returns
    -------
    AnnData with samples as rows: ``X`` float64 numeric features (NaN = missing),
    ``obsm['categorical']`` the non-numeric features (pandas 'category' columns),
    ``obs`` the ``keep_in_obs`` columns + annotation columns, ``var['source']``,
    ``uns['provenance']`` (with an annotation table, ``annotations``: the ID columns, the
    samples left out and the annotation columns used as features) and ``uns['notes']``.

    Raises
    ------
    UserError
        For any problem with the files, with a one-line message naming file, column and row.
    """
    _check_read_options(orient, decimal, max_features)
    shown = str(path)
    keep = [keep_in_obs] if isinstance(keep_in_obs, str) else [str(k) for k in keep_in_obs]
    formats.check_file(shown)
    fmt, _ = formats.detect_format(shown)
    ann = None
    if annotations is not None:
        ann_sheet = sheet if fmt != "xlsx" else None  # --sheet belongs to the data workbook
        ann = read_annotations(
            str(annotations), id_column=id_column, annotations_id_column=annotations_id_column,
            sheet=ann_sheet, decimal=decimal,
        )  # fmt: skip
    elif annotation_features:
        raise UserError(
            errors.OPTION_INVALID,
            option="--annotation-features",
            reason="names columns of the annotation table; give it with --annotations",
        )
    adata, notes, record, orientation, reason = _read_data(
        shown, fmt, ann, id_column=id_column, orient=orient, keep=keep, sheet=sheet,
        decimal=decimal, max_features=max_features,
    )  # fmt: skip
    if max_features is not None and fmt != "h5ad" and max_features < adata.n_vars:
        var_names = [str(v) for v in adata.var_names]
        columns, note = streaming.selected_columns(adata.X, var_names, max_features)
        adata = adata[:, columns].copy()
        notes.append(note)
    if max_features is not None:
        record["read_options"] = {**record.get("read_options", {}), "max_features": max_features}
    records = [record]
    provenance: dict[str, Any] = {}
    if ann is not None:
        adata, summary = annotate(adata, ann, shown, drop_unmatched, annotation_features)
        notes.extend(summary.pop("notes"))
        records.append(ann.record)
        provenance["annotations"] = summary
    adata.uns["provenance"] = {
        "files": records,
        "orientation": orientation,
        "orientation_reason": reason,
        **provenance,
    }
    adata.uns["notes"] = notes
    return adata


def _check_read_options(orient: str, decimal: str, max_features: int | None) -> None:
    layout.check_orient(orient)
    if decimal not in formats.DECIMALS:
        raise UserError(
            errors.OPTION_INVALID,
            option="--decimal",
            reason=f"choose auto, . or , (the decimal mark of the numbers), not {decimal!r}",
        )
    if max_features is not None and max_features < 1:
        raise UserError(
            errors.OPTION_INVALID,
            option="--max-features",
            reason=f"keep at least 1 feature, got {max_features}",
        )


def _read_data(
    shown: str,
    fmt: str,
    ann: Annotations | None,
    *,
    id_column: str | None,
    orient: str,
    keep: list[str],
    sheet: str | int | None,
    decimal: str,
    max_features: int | None,
) -> tuple[anndata.AnnData, list[str], dict[str, Any], str, str]:
    """The data file as AnnData (before the annotation join): its notes, file record,
    orientation and the reason for it."""
    notes: list[str] = []
    if fmt in ("mat", "h5ad"):
        orientation = SBF
        reason = f"{formats.KIND[fmt]} files always store samples as rows"
        if orient != "auto":
            notes.append(f"orient={orient} ignored: {reason}")
        if fmt == "mat":
            parsed, record = _from_mat(shown, keep)
            adata = _to_anndata(parsed)
            notes.extend(parsed.notes)
        else:
            adata, h5_notes, record = _from_h5ad(shown, keep, max_features)
            notes.extend(h5_notes)
        return adata, notes, record, orientation, reason
    try:
        parsed, record, orientation, reason = _from_table(
            shown,
            annotations=ann,
            id_column=id_column,
            orient=orient,
            keep=keep,
            sheet=sheet,
            decimal=decimal,
        )
    except UserError as exc:
        if exc.template == errors.ID_COLUMN_MISSING and ann is not None:
            if ann.id_column == id_column:  # the sheet's ID column, not the data's
                raise UserError(
                    errors.ID_COLUMN_ONLY_IN_ANNOTATIONS,
                    path=shown,
                    column=id_column,
                    annotations=ann.path,
                ) from None
        raise
    adata = _to_anndata(parsed)
    notes.extend(parsed.notes)
    return adata, notes, record, orientation, reason


def _to_anndata(parsed: Parsed) -> anndata.AnnData:
    index = pd.Index(parsed.obs_names, dtype=object)
    obs = parsed.obs.copy()
    obs.index = index
    var = pd.DataFrame({"source": "data"}, index=pd.Index(parsed.var_names, dtype=object))
    categorical = parsed.categorical.copy()
    categorical.index = index.copy()
    return anndata.AnnData(X=parsed.X, obs=obs, var=var, obsm={"categorical": categorical})
