"""Load the TDC ADMET Benchmark Group datasets from local files.

Two layouts are read (Therapeutics Data Commons; Huang et al., NeurIPS Datasets and
Benchmarks 2021):

* **TDC's benchmark-group layout**, as written by ``tdc.benchmark_group.admet_group(path=
  data_dir)``: ``<data_dir>/admet_group/<name lower>/train_val.csv`` and ``test.csv``
  (``<data_dir>`` may also be the ``admet_group`` folder itself). The official leaderboard
  split; the frame gets a ``tdc_split`` column (``train_val`` / ``test``).
* **A full-dataset CSV** ``<data_dir>/<stem>.csv`` with columns ``Drug_ID``, ``Drug``,
  ``Y`` — the layout of ``../shared/data/tdc_admet_full`` (PROVENANCE.md section 1). Those
  files hold each complete dataset, concatenated from ``ADME(name).get_split()`` — TDC's
  default *random* split (seed 42, 70/10/20) recorded in ``tdc_random_split_seed42``. That
  column is NOT the leaderboard split.

TDC's scaffold split depends on row order (scaffold groups are formed in order of first
appearance), so the full-dataset loader restores TDC's original row order when it can: the
random split is ``test = df.sample(frac=0.2, random_state=42)``, ``valid =
rest.sample(frac=0.125, random_state=1)``, ``train`` = the remaining rows in original order
(``tdc/utils/split.py::create_fold``), and pandas draws ``sample`` rows as
``RandomState(seed).permutation(n)[:k]``. Inverting that gives each row's original position;
with it, :func:`benchmark_split` reproduces the leaderboard's scaffold test set (on AMES
and DILI the restored order puts TDC's numeric ``Drug_ID`` in strictly increasing order,
which a wrong inversion could not do by chance).

Every problem with the files is a one-line :class:`~insightome.errors.UserError`; the
SHA-256 of each file read is recorded in ``frame.attrs["files"]``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from insightome import errors
from insightome.apps.admet.endpoints import Endpoint, endpoint
from insightome.errors import UserError
from insightome.evaluate.scaffold import tdc_benchmark_split
from insightome.io.provenance import file_sha256

REQUIRED_COLUMNS = ("Drug_ID", "Drug", "Y")
RANDOM_SPLIT_COLUMN = "tdc_random_split_seed42"
SPLIT_COLUMN = "tdc_split"
BENCHMARK_LAYOUT = "tdc_admet_group"
FULL_LAYOUT = "full_dataset"

DATA_DIR_MISSING = (
    "{path}: data directory not found. Give the folder that holds TDC's admet_group/ "
    "folder or the full-dataset CSV files (<name>.csv)."
)
DATA_DIR_NOT_DIRECTORY = (
    "{path}: is a file, not a directory. Give the folder that holds the TDC data."
)
ENDPOINT_DATA_MISSING = (
    "{path}: no data for {name}: expected {benchmark} and test.csv (TDC benchmark-group "
    "layout) or {full} (full dataset). Download it with tdc.benchmark_group.admet_group"
    "(path=...) or copy the CSV there."
)
BENCHMARK_PART_MISSING = (
    "{path}: file not found; TDC's benchmark-group layout needs both train_val.csv and "
    "test.csv in {folder}. Download the benchmark again."
)
COLUMNS_MISSING = (
    "{path}: missing column{s} {missing} (found: {found}). TDC files have the columns "
    "Drug_ID, Drug (SMILES) and Y."
)
SMILES_MISSING = (
    "{path}: column 'Drug' row {row} is empty; every row needs a SMILES. Fix or remove the row."
)
Y_MISSING = (
    "{path}: column 'Y' row {row} is empty; every row needs a measured value. Fix or remove "
    "the row."
)
Y_NOT_BINARY = "{path}: {name} is a binary endpoint but column 'Y' holds {values}; code it as 0/1."


def _display(path: Path) -> str:
    return os.fspath(path)


def _read_csv(path: Path) -> pd.DataFrame:
    """Read one TDC CSV, checking the columns and the values of Drug and Y."""
    if not path.is_file():
        raise UserError(errors.FILE_MISSING, path=_display(path))
    try:
        frame = pd.read_csv(path, dtype={"Drug_ID": "string", "Drug": "string"})
    except pd.errors.EmptyDataError:
        raise UserError(errors.FILE_EMPTY, path=_display(path)) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            errors.FILE_CORRUPT, path=_display(path), kind="CSV", reason=reason
        ) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(
            COLUMNS_MISSING,
            path=_display(path),
            s="s" if len(missing) > 1 else "",
            missing=errors.examples(missing),
            found=errors.examples(frame.columns) or "none",
        )
    if frame.empty:
        raise UserError(errors.FILE_EMPTY, path=_display(path))
    drug = frame["Drug"].str.strip()
    empty = drug.isna() | (drug == "")
    if empty.any():
        raise UserError(SMILES_MISSING, path=_display(path), row=int(np.argmax(empty)) + 1)
    frame["Drug"] = drug
    y_numeric = pd.to_numeric(frame["Y"], errors="coerce")
    bad = y_numeric.isna() & frame["Y"].notna()
    if bad.any():
        row = int(np.argmax(bad))
        raise UserError(
            errors.NON_NUMERIC,
            path=_display(path),
            column="Y",
            row=row + 1,
            value=str(frame["Y"].iloc[row]).strip(),
        )
    if y_numeric.isna().any():
        raise UserError(Y_MISSING, path=_display(path), row=int(np.argmax(y_numeric.isna())) + 1)
    if not np.isfinite(y_numeric.to_numpy(dtype=float)).all():
        row = int(np.argmax(~np.isfinite(y_numeric.to_numpy(dtype=float))))
        raise UserError(errors.INFINITE_VALUE, path=_display(path), column="Y", row=row + 1)
    frame["Y"] = y_numeric.astype(float)
    return frame


def _file_record(path: Path, n_rows: int) -> dict[str, Any]:
    return {
        "path": os.path.abspath(path),
        "display_path": _display(path),
        "sha256": file_sha256(path),
        "n_rows": int(n_rows),
    }


def _check_binary(frame: pd.DataFrame, ep: Endpoint, path: Path) -> None:
    if ep.is_binary:
        values = sorted(set(frame["Y"].unique()) - {0.0, 1.0})
        if values:
            raise UserError(
                Y_NOT_BINARY, path=_display(path), name=ep.name, values=errors.examples(values)
            )


def tdc_original_order(random_split: pd.Series | np.ndarray) -> np.ndarray | None:
    """Original TDC row positions of rows concatenated from TDC's default random split.

    ``random_split`` labels each row ``train`` / ``valid`` / ``test`` as written by
    ``get_split()`` (``method='random', seed=42, frac=[0.7, 0.1, 0.2]``), with each part's
    rows in the order TDC returned them. Returns ``positions`` such that row ``i`` was row
    ``positions[i]`` of TDC's dataset, or None when the part sizes are not those TDC's
    ``create_fold`` would produce (then the order cannot be restored).
    """
    labels = np.asarray(random_split, dtype=object)
    n = labels.size
    train = np.flatnonzero(labels == "train")
    valid = np.flatnonzero(labels == "valid")
    test = np.flatnonzero(labels == "test")
    if len(train) + len(valid) + len(test) != n or n == 0:
        return None
    test_frac, val_frac = 0.2, 0.1  # TDC's default frac=[0.7, 0.1, 0.2]
    if len(test) != round(test_frac * n):
        return None
    test_pos = np.random.RandomState(42).permutation(n)[: len(test)]
    rest = np.setdiff1d(np.arange(n), test_pos)
    m = rest.size
    if len(valid) != round(val_frac / (1 - test_frac) * m):
        return None
    valid_pos = rest[np.random.RandomState(1).permutation(m)[: len(valid)]]
    train_pos = np.setdiff1d(rest, valid_pos)
    positions = np.empty(n, dtype=np.intp)
    positions[train] = train_pos
    positions[valid] = valid_pos
    positions[test] = test_pos
    return positions


def _locate(ep: Endpoint, data_dir: Path) -> tuple[str, Path]:
    """Which layout holds the endpoint, and its folder (benchmark) or file (full)."""
    candidates = [data_dir / "admet_group" / ep.stem, data_dir / ep.stem]
    for folder in candidates:
        if (folder / "train_val.csv").exists() or (folder / "test.csv").exists():
            return BENCHMARK_LAYOUT, folder
    full = data_dir / f"{ep.stem}.csv"
    if full.exists():
        return FULL_LAYOUT, full
    raise UserError(
        ENDPOINT_DATA_MISSING,
        path=_display(data_dir),
        name=ep.name,
        benchmark=_display(candidates[0] / "train_val.csv"),
        full=_display(full),
    )


def _load_benchmark(ep: Endpoint, folder: Path) -> pd.DataFrame:
    parts = []
    records = []
    for part in ("train_val", "test"):
        path = folder / f"{part}.csv"
        if not path.is_file():
            raise UserError(BENCHMARK_PART_MISSING, path=_display(path), folder=_display(folder))
        frame = _read_csv(path)
        _check_binary(frame, ep, path)
        frame[SPLIT_COLUMN] = part
        parts.append(frame)
        records.append(_file_record(path, len(frame)))
    frame = pd.concat(parts, ignore_index=True)
    frame.attrs.update(
        {
            "layout": BENCHMARK_LAYOUT,
            "files": records,
            "row_order": "TDC benchmark files: train_val.csv rows, then test.csv rows",
        }
    )
    return frame


def _load_full(ep: Endpoint, path: Path) -> pd.DataFrame:
    frame = _read_csv(path)
    _check_binary(frame, ep, path)
    record = _file_record(path, len(frame))
    row_order = "as in the file"
    notes: list[str] = []
    if RANDOM_SPLIT_COLUMN in frame.columns:
        notes.append(
            f"column '{RANDOM_SPLIT_COLUMN}' is TDC's default random split, not the "
            "leaderboard scaffold split"
        )
        positions = tdc_original_order(frame[RANDOM_SPLIT_COLUMN].astype(str).to_numpy())
        if positions is None:
            notes.append(
                f"'{RANDOM_SPLIT_COLUMN}' part sizes do not match TDC's random split; "
                "rows kept in file order"
            )
        else:
            frame = frame.iloc[np.argsort(positions)].reset_index(drop=True)
            row_order = "TDC's original dataset order (restored from the random split)"
    frame.attrs.update(
        {"layout": FULL_LAYOUT, "files": [record], "row_order": row_order, "notes": notes}
    )
    return frame


def load_endpoint(name: str, data_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """One ADMET endpoint's data: columns ``Drug_ID``, ``Drug`` (SMILES), ``Y`` and more.

    Reads TDC's benchmark-group layout when present (adds ``tdc_split``), else the
    full-dataset CSV ``<data_dir>/<stem>.csv`` (rows restored to TDC's original order when
    its ``tdc_random_split_seed42`` column allows). ``frame.attrs`` records the endpoint,
    the layout, each file's path, SHA-256 and row count, the row order and notes.
    """
    ep = endpoint(name)
    directory = Path(data_dir)
    if not directory.exists():
        raise UserError(DATA_DIR_MISSING, path=_display(directory))
    if not directory.is_dir():
        raise UserError(DATA_DIR_NOT_DIRECTORY, path=_display(directory))
    layout, where = _locate(ep, directory)
    frame = _load_benchmark(ep, where) if layout == BENCHMARK_LAYOUT else _load_full(ep, where)
    frame.attrs["endpoint"] = ep.name
    frame.attrs.setdefault("notes", [])
    return frame


def benchmark_split(frame: pd.DataFrame) -> pd.Series:
    """The leaderboard split of a loaded endpoint: ``train_val``, ``test`` or NA per row.

    Uses the official ``tdc_split`` column when the frame came from TDC's benchmark files;
    otherwise reproduces it with :func:`insightome.evaluate.scaffold.tdc_benchmark_split`
    (scaffold split, seed 42, 70/10/20, on the rows in their current order — TDC's order
    after :func:`load_endpoint`). Rows whose SMILES RDKit cannot parse are NA (TDC drops
    them). ``result.attrs["source"]`` is ``official`` or ``reproduced``.
    """
    if SPLIT_COLUMN in frame.columns:
        labels = frame[SPLIT_COLUMN].astype("string")
        labels.attrs["source"] = "official"
        return labels

    train_val, test = tdc_benchmark_split(frame["Drug"].tolist())
    values = np.full(len(frame), None, dtype=object)
    values[train_val] = "train_val"
    values[test] = "test"
    labels = pd.Series(values, index=frame.index, name=SPLIT_COLUMN, dtype="string")
    labels.attrs["source"] = "reproduced"
    return labels
