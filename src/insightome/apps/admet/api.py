"""The ADMET app's API: what ``insightome admet fit`` and ``admet predict`` call.

::

    import insightome

    bundle = insightome.admet_fit("tdc_data/")     # fit, save (versioned), make default
    table = insightome.admet_predict(["CC(=O)Oc1ccccc1C(=O)O"])  # uses the default bundle
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from insightome.apps.admet.bundle import AdmetBundle, fit_bundle, load_bundle, save_bundle
from insightome.apps.admet.model import LEVEL


def admet_fit(
    data_dir: str | os.PathLike[str],
    *,
    endpoints: Sequence[str] | None = None,
    seed: int = 0,
    level: float = LEVEL,
    n_jobs: int = 1,
    preset: str = "default",
    root: str | Path | None = None,
    save: bool = True,
) -> AdmetBundle:
    """Fit the endpoint models from TDC's files in ``data_dir`` and save the bundle
    (under ``root``, default the user data directory) as the new default."""
    bundle = fit_bundle(
        data_dir, endpoints=endpoints, seed=seed, level=level, n_jobs=n_jobs, preset=preset
    )
    if save:
        save_bundle(bundle, root)
    return bundle


def admet_predict(
    smiles: Sequence[Any],
    *,
    bundle: AdmetBundle | str | os.PathLike[str] | None = None,
    n_jobs: int = 1,
    context: bool = True,
) -> pd.DataFrame:
    """Predict every endpoint for each molecule (one row per input, invalid rows kept with
    their reason); with ``context``, add approved-drug percentiles, physchem properties,
    synthetic accessibility and structural alerts."""
    model = bundle if isinstance(bundle, AdmetBundle) else load_bundle(bundle)
    if context:
        return model.profile(smiles, n_jobs=n_jobs)
    return model.predict(smiles, n_jobs=n_jobs)
