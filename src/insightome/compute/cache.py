"""A cache of finished fits, so an interrupted run resumes where it stopped.

One small ``.npz`` file per (data, configuration, resampling split) fit holds the
out-of-fold predictions of that fit (or the error it raised), its fit time and the
warnings it raised (counts per category). Files are written to a temporary name and
renamed, so a kill -9 leaves either a whole entry or none.
The key hashes everything the predictions depend on: the modelling table and outcome,
the task, the configuration, the train/test indices, the seed, insightome's version and
the entry format (:data:`ENTRY_FORMAT`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from insightome import __version__

if TYPE_CHECKING:  # models is a layer above compute: the candidate is only read for its key
    from insightome.models.candidates import Candidate

# 2: entries also hold the fit's warning counts; format-1 entries (without them) get other
# keys, so a resumed run refits them rather than reporting no warnings for them.
# 3: the Cox elastic net is fitted by insightome's coordinate descent, no longer lifelines
# (issue 27): a run resumed across the change refits rather than mixing the two solvers
# 4: multinomial L1 / elastic-net logistic models are fitted by insightome's FISTA, no longer
# scikit-learn's saga (models.multinomial), and cross-validation fits see the table's values
# 5: random forests for classification grow 300 trees, not 500 (models.estimators.FOREST_TREES)
ENTRY_FORMAT = "5"


class CacheEntry(NamedTuple):
    """One finished fit: its predictions (None if it failed), time, error and warnings."""

    pred: np.ndarray | None
    seconds: float
    error: str | None
    warnings: dict[str, int]  # warning category name -> number raised during the fit


def data_fingerprint(features: pd.DataFrame, y: np.ndarray, task: str) -> str:
    """sha256 of the modelling table (values, names, dtypes), the outcome and the task."""
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(features, index=True).to_numpy().tobytes())
    h.update("\x1f".join(map(str, features.columns)).encode())
    h.update("\x1f".join(map(str, features.dtypes)).encode())
    h.update(np.ascontiguousarray(y, dtype=float).tobytes())
    h.update(task.encode())
    return h.hexdigest()


class FitCache:
    """Finished fits under ``directory`` for one modelling table (``fingerprint``)."""

    def __init__(self, directory: str | Path, fingerprint: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        # a kill -9 during put() leaves its temporary file behind; it is never an entry
        for stale in self.directory.glob(".tmp-*.npz"):
            stale.unlink(missing_ok=True)
        self.fingerprint = fingerprint
        self.hits = 0
        self.stored = 0

    def key(
        self, candidate: Candidate, y: np.ndarray, train: np.ndarray, test: np.ndarray, seed: int
    ) -> str:
        h = hashlib.sha256()
        name = candidate.name if candidate.preprocess else candidate.name + "|unprocessed"
        for part in (self.fingerprint, candidate.task, name, str(seed), __version__, ENTRY_FORMAT):
            h.update(part.encode() + b"\x1f")
        h.update(np.ascontiguousarray(train, dtype=np.int64).tobytes() + b"\x1f")
        h.update(np.ascontiguousarray(test, dtype=np.int64).tobytes() + b"\x1f")
        # the outcome itself, so permutation reruns (shuffled outcomes) get their own entries
        h.update(np.ascontiguousarray(y, dtype=float).tobytes())
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.npz"

    def get(self, key: str) -> CacheEntry | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as f:
                pred = f["pred"] if f["ok"] else None
                names, numbers = f["warning_categories"].tolist(), f["warning_counts"].tolist()
                counts = dict(zip(names, numbers, strict=True))
                error = None if f["ok"] else str(f["error"])
                entry = CacheEntry(pred, float(f["seconds"]), error, counts)
        except (OSError, ValueError, KeyError):
            return None  # unreadable entry: refit
        self.hits += 1
        return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        pred, seconds, error, counts = entry
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=self.directory)
        os.close(fd)
        try:
            np.savez(
                tmp,
                ok=pred is not None,
                pred=pred if pred is not None else np.empty((0, 0)),
                seconds=seconds,
                error=error or "",
                warning_categories=np.array(list(counts), dtype=str),
                warning_counts=np.array(list(counts.values()), dtype=np.int64),
            )
            os.replace(tmp, self._path(key))
            self.stored += 1
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
