"""A fitted ADMET bundle in memory: :class:`AdmetBundle`, predicting with its endpoint models.

:meth:`AdmetBundle.predict` standardizes and featurizes the input once and asks every
endpoint model (value, interval or prediction set, similarity, domain); :meth:`neighbours`
finds each molecule's most similar training molecules over the union of the training sets;
:meth:`profile` adds the approved-drug percentiles (:func:`percentile`). How a bundle is
fitted, saved and loaded is in :mod:`insightome.apps.admet.bundle`.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import effective_n_jobs
from scipy import sparse

from insightome.apps.admet.context import (
    PHYSCHEM_PROPERTIES,
    physchem_properties,
    sa_score,
    structural_alerts,
)
from insightome.apps.admet.inputs import prediction_inputs
from insightome.apps.admet.model import (
    LEVEL,
    EndpointModel,
)
from insightome.apps.admet.similarity import TanimotoIndex, fingerprint_bits

CHUNK = 2000  # molecules per prediction chunk (features of a chunk are ~50 MB)
NEIGHBOUR_CHUNK = 250  # queries per similarity block (250 × 41,000 union molecules: 41 MB)


@dataclass
class AdmetBundle:
    """Fitted endpoint models, keyed by TDC file stem (e.g. ``solubility_aqsoldb``)."""

    models: dict[str, EndpointModel]
    manifest: dict[str, Any] = field(default_factory=dict)
    drug_reference: dict[str, np.ndarray] = field(default_factory=dict)
    path: Path | None = None
    _index: tuple[TanimotoIndex, dict[str, np.ndarray]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def endpoints(self) -> list[str]:
        return list(self.models)

    @property
    def level(self) -> float:
        levels = {m.level for m in self.models.values()}
        if len(levels) > 1:
            raise ValueError(f"the bundle's models have different conformal levels {levels}")
        return levels.pop() if levels else LEVEL

    @property
    def y_scale(self) -> dict[str, float]:
        return {k: m.y_scale for k, m in self.models.items() if m.task == "regression"}

    @property
    def bundle_id(self) -> str:
        return str(self.manifest.get("bundle_id", "unsaved"))

    def predict(
        self, smiles: Sequence[Any], *, n_jobs: int = 1, chunk: int = CHUNK
    ) -> pd.DataFrame:
        """One row per input: ``input``, ``smiles`` (standardized), ``valid``, ``reason``,
        then per endpoint the value, interval or prediction set, similarity, domain flag and
        clipping flag (see :meth:`EndpointModel.predict`)."""
        values = list(smiles)
        parts = []
        for start in range(0, max(len(values), 1), chunk):
            part = values[start : start + chunk]
            records, features = prediction_inputs(part, n_jobs=n_jobs)
            neighbours = self.neighbours(fingerprint_bits(features), n_jobs=n_jobs)
            whole, whole_neighbours = self._whole_substances(
                part, records, features, neighbours, n_jobs
            )
            # LightGBM releases the GIL while it predicts: one thread per core
            with ThreadPoolExecutor(max_workers=max(1, effective_n_jobs(n_jobs))) as pool:
                futures = [
                    pool.submit(m.predict, whole, whole_neighbours[name])
                    if m.keep_fragments
                    else pool.submit(m.predict, features, neighbours[name])
                    for name, m in self.models.items()
                ]
                predicted = [f.result() for f in futures]
            parts.append(pd.concat([records, *predicted], axis=1))
        table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        return table.iloc[: len(values)].reset_index(drop=True)

    def _whole_substances(
        self,
        smiles: list[Any],
        records: pd.DataFrame,
        features: pd.DataFrame,
        neighbours: dict[str, tuple[np.ndarray, np.ndarray]],
        n_jobs: int,
    ) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]]]:
        """Features and neighbours for the models that keep counter-ions: only inputs with
        several fragments differ from their parent, so only those are featurized again."""
        keep = [name for name, m in self.models.items() if m.keep_fragments]
        rows = np.flatnonzero(
            [isinstance(v, str) and "." in v for v in smiles] & records["valid"].to_numpy(bool)
        )
        if not keep or not len(rows):
            return features, neighbours
        _, salts = prediction_inputs([smiles[i] for i in rows], n_jobs=n_jobs, keep_fragments=True)
        index = features.index[rows]
        salts = salts.set_axis(index).astype(features.dtypes.to_dict())
        whole = pd.concat([features.drop(index=index), salts]).loc[features.index]
        found = self.neighbours(fingerprint_bits(salts), n_jobs=n_jobs, names=keep)
        patched = {}
        for name in keep:
            similarity, difficulty = neighbours[name][0].copy(), neighbours[name][1].copy()
            similarity[rows], difficulty[rows] = found[name]
            patched[name] = (similarity, difficulty)
        return whole, patched

    def neighbours(
        self, bits: Any, n_jobs: int = 1, names: Sequence[str] | None = None
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each endpoint's (nearest-neighbour similarity, neighbours' mean out-of-fold
        residual) for each fingerprint, from one comparison with the union of all training
        sets (the CYP sets, for instance, share most of their molecules). Chunks of
        queries run in threads: the sparse products and reductions release the GIL.
        ``names`` limits the endpoints (default: all)."""
        index, columns = self._union()
        n = bits.shape[0]
        wanted = {name: self.models[name] for name in (names or self.models)}
        out = {name: (np.zeros(n), np.zeros(n)) for name in wanted}

        def chunk(rows: slice) -> None:
            block = index.similarity(bits[rows])
            for name, model in wanted.items():
                out[name][0][rows], out[name][1][rows] = model.from_similarities(
                    block[:, columns[name]]
                )

        step = NEIGHBOUR_CHUNK
        chunks = [slice(a, min(a + step, n)) for a in range(0, n, step)]
        with ThreadPoolExecutor(max_workers=max(1, effective_n_jobs(n_jobs))) as pool:
            for future in [pool.submit(chunk, rows) for rows in chunks]:
                future.result()
        return out

    def _union(self) -> tuple[TanimotoIndex, dict[str, np.ndarray]]:
        if self._index is None:
            position: dict[bytes, int] = {}
            rows: list[sparse.csr_matrix] = []
            columns: dict[str, np.ndarray] = {}
            for name, model in self.models.items():
                bits = model.reference.bits
                cols = np.empty(bits.shape[0], dtype=np.intp)
                new: list[int] = []
                for i in range(bits.shape[0]):
                    key = bits.indices[bits.indptr[i] : bits.indptr[i + 1]].tobytes()
                    if key not in position:
                        position[key] = len(position)
                        new.append(i)
                    cols[i] = position[key]
                if new:
                    rows.append(bits[new])
                columns[name] = cols
            union = sparse.vstack(rows, format="csr") if rows else sparse.csr_matrix((0, 1))
            self._index = (TanimotoIndex(union), columns)
        return self._index

    def profile(self, smiles: Sequence[Any], *, n_jobs: int = 1) -> pd.DataFrame:
        """:meth:`predict` plus context: each prediction's percentile among approved drugs
        (``<endpoint>_drug_percentile``), RDKit physchem properties and their percentiles,
        synthetic accessibility and structural alerts (PAINS, Brenk)."""

        table = self.predict(smiles, n_jobs=n_jobs)
        ok = table["valid"].to_numpy(bool)
        valid_smiles = table.loc[ok, "smiles"].tolist()
        extra: dict[str, Any] = {}
        for name in self.endpoints:
            if name in self.drug_reference:
                extra[f"{name}_drug_percentile"] = percentile(
                    self.drug_reference[name], table[name].to_numpy(float)
                )
        physchem = pd.DataFrame(np.nan, index=table.index, columns=list(PHYSCHEM_PROPERTIES))
        alerts = pd.Series("", index=table.index, dtype=object)
        n_alerts = pd.Series(0, index=table.index)
        sa = pd.Series(np.nan, index=table.index)
        if valid_smiles:
            props = physchem_properties(valid_smiles)
            props.index = table.index[ok]
            physchem = props.reindex(table.index)
            sa.loc[ok] = sa_score(valid_smiles)
            found = structural_alerts(valid_smiles)
            alerts.loc[ok] = ["; ".join(f"{a['catalog']}:{a['name']}" for a in f) for f in found]
            n_alerts.loc[ok] = [len(f) for f in found]
        for name in physchem.columns:
            extra[name] = physchem[name].to_numpy(float)
            if name in self.drug_reference:
                extra[f"{name}_drug_percentile"] = percentile(
                    self.drug_reference[name], physchem[name].to_numpy(float)
                )
        extra["SA"] = sa.to_numpy(float)
        extra["n_alerts"] = n_alerts.to_numpy(int)
        extra["alerts"] = alerts.to_numpy(object)
        return pd.concat([table, pd.DataFrame(extra, index=table.index)], axis=1)

    def summary(self) -> list[dict[str, Any]]:
        return [m.summary() for m in self.models.values()]


def percentile(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Percentile (0–100) of each value among the reference values; ties count half
    (as :meth:`insightome.apps.admet.context.ReferenceSet.percentile`)."""
    ref = np.sort(np.asarray(reference, float)[np.isfinite(reference)])
    query = np.asarray(values, dtype=float)
    if ref.size == 0:
        return np.full(query.shape, np.nan)
    below = np.searchsorted(ref, query, side="left")
    at_or_below = np.searchsorted(ref, query, side="right")
    return np.where(np.isnan(query), np.nan, 100.0 * (below + at_or_below) / (2.0 * ref.size))
