"""Readers for the matrix formats: MATLAB ``.mat`` (v4-v7.2 via scipy, v7.3 via h5py)
and AnnData ``.h5ad``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anndata
import h5py
import numpy as np
import scipy.io
import scipy.sparse

from insightome import errors
from insightome.errors import UserError
from insightome.io.formats import corrupt

_X_KEYS = ("X", "x")
_Y_KEYS = ("Y", "y")
_FEATURE_KEYS = (
    "genes",
    "gene_names",
    "genenames",
    "gene_symbols",
    "features",
    "feature_names",
    "featurenames",
    "var_names",
    "probes",
)
_SAMPLE_KEYS = ("samples", "sample_names", "sample_ids", "obs_names")


@dataclass
class MatData:
    """The arrays of a MATLAB file, oriented samples × features."""

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str] | None
    sample_names: list[str] | None
    options: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _cell_text(value: Any) -> str:
    """One MATLAB cell / char element as a string."""
    arr = np.asarray(value)
    if arr.size == 0:
        return ""
    if arr.dtype.kind in "US":
        flat = [v.decode() if isinstance(v, bytes) else str(v) for v in arr.ravel()]
        return "".join(flat).strip()
    if arr.dtype.kind == "O":
        return _cell_text(arr.ravel()[0])
    item = arr.ravel()[0]
    if isinstance(item, float | np.floating) and float(item).is_integer():
        return str(int(item))
    return str(item).strip()


def _names(value: Any, expected: int) -> list[str] | None:
    """A cell / char / numeric array as ``expected`` names, or None if it does not fit."""
    arr = np.asarray(value)
    char_matrix = (
        arr.dtype.kind == "U"
        and arr.ndim == 2
        and arr.shape[0] == expected
        and arr.shape[1] > 1
        and all(len(v) <= 1 for v in arr.ravel())
    )
    if char_matrix:
        names = ["".join(row).strip() for row in arr]  # one name per row
    else:
        names = [_cell_text(v) for v in arr.ravel()]
    return names if len(names) == expected else None


def _labels(y: Any, n: int, path: str) -> np.ndarray:
    """The label vector: flattened, integers when integral, strings for char/cell."""
    if scipy.sparse.issparse(y):
        y = y.toarray()
    arr = np.asarray(y)
    if arr.dtype.kind in "OUS":
        values = _names(arr, n)
        if values is None:
            raise corrupt(path, "mat", f"Y has {arr.size} labels but X has {n} rows")
        return np.asarray(values, dtype=object)
    flat = arr.ravel()
    if flat.size != n:
        raise corrupt(path, "mat", f"Y has {flat.size} values but X has {n} rows")
    if flat.dtype.kind == "b":
        return flat.astype(np.int64)
    if flat.dtype.kind in "iu":
        return flat.astype(np.int64)
    flat = flat.astype(np.float64)
    if np.all(np.isfinite(flat)) and np.all(flat == np.round(flat)):
        return flat.astype(np.int64)
    return flat


def _h5_value(f: h5py.File, obj: h5py.Dataset | h5py.Group) -> Any:
    """Decode one MATLAB v7.3 variable (HDF5 stores MATLAB arrays transposed)."""
    if isinstance(obj, h5py.Group):
        if "MATLAB_sparse" in obj.attrs and {"data", "ir", "jc"} <= set(obj):
            n_rows = int(obj.attrs["MATLAB_sparse"])
            jc = obj["jc"][()]
            shape = (n_rows, len(jc) - 1)
            return scipy.sparse.csc_matrix((obj["data"][()], obj["ir"][()], jc), shape=shape)
        return None
    cls = obj.attrs.get("MATLAB_class", b"")
    cls = cls.decode() if isinstance(cls, bytes) else str(cls)
    data = obj[()]
    if cls == "char":
        arr = np.atleast_2d(np.asarray(data)).T
        return np.asarray(["".join(chr(int(c)) for c in row if c).strip() for row in arr])
    if cls == "cell" or data.dtype == h5py.ref_dtype:
        refs = np.asarray(data).T.ravel()
        return np.asarray([_cell_text(_h5_value(f, f[r])) for r in refs], dtype=object)
    return np.asarray(data).T


def _read_mat73(path: str) -> dict[str, Any]:
    contents: dict[str, Any] = {}
    with h5py.File(path, "r") as f:
        for key in f:
            if key.startswith("#"):  # '#refs#', '#subsystem#'
                continue
            value = _h5_value(f, f[key])
            if value is not None:
                contents[key] = value
    return contents


def read_mat(path: str) -> MatData:
    """Read a MATLAB file holding ``X`` (n × p) and optionally ``Y`` (n labels)."""
    version = "5"
    try:
        contents = scipy.io.loadmat(path)
    except NotImplementedError:  # MATLAB v7.3 is HDF5
        version = "7.3"
        try:
            contents = _read_mat73(path)
        except Exception as exc:
            raise corrupt(path, "mat", exc) from exc
    except Exception as exc:  # ValueError, TypeError, struct.error, ... on a broken file
        raise corrupt(path, "mat", exc) from exc
    keys = sorted(k for k in contents if not k.startswith("__"))
    by_lower = {k.lower(): k for k in keys}
    x_key = next((k for k in _X_KEYS if k in contents), None)
    if x_key is None:
        raise UserError(errors.MAT_MISSING_KEYS, path=path, keys=", ".join(keys) or "none")
    x = contents[x_key]
    if scipy.sparse.issparse(x):
        x = x.toarray()
    x = np.asarray(x)
    if x.dtype.kind not in "biuf" or x.ndim != 2:
        raise corrupt(path, "mat", f"'{x_key}' is not a 2-D numeric matrix")
    x = x.astype(np.float64)
    n, p = x.shape
    y_key = next((k for k in _Y_KEYS if k in contents), None)
    y = _labels(contents[y_key], n, path) if y_key is not None else None
    feature_names = sample_names = None
    used = {"X": x_key}
    if y_key is not None:
        used["Y"] = y_key
    for key in _FEATURE_KEYS:
        if key in by_lower and feature_names is None:
            feature_names = _names(contents[by_lower[key]], p)
            if feature_names is not None:
                used["feature_names"] = by_lower[key]
    for key in _SAMPLE_KEYS:
        if key in by_lower and sample_names is None:
            sample_names = _names(contents[by_lower[key]], n)
            if sample_names is not None:
                used["sample_names"] = by_lower[key]
    options: dict[str, Any] = {"mat_version": version, "keys": used}
    return MatData(x, y, feature_names, sample_names, options)


def read_h5ad_backed(path: str) -> anndata.AnnData:
    """Open an AnnData file with X left on disk (``backed="r"``)."""
    try:
        return anndata.read_h5ad(path, backed="r")
    except Exception as exc:  # OSError from h5py, KeyError, ValueError, ...
        raise corrupt(path, "h5ad", exc) from exc


def read_h5ad(path: str) -> anndata.AnnData:
    """Read an AnnData file fully into memory."""
    try:
        return anndata.read_h5ad(path)
    except Exception as exc:  # OSError from h5py, KeyError, ValueError, ...
        raise corrupt(path, "h5ad", exc) from exc
