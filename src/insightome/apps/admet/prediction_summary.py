"""What ``summary.json`` of an ``insightome admet predict`` output holds.

:func:`predictions_summary`: the bundle (id, creation time, seed, preset, level, package
versions, each endpoint's scaffold-CV estimate), the input file and its SHA-256, the counts,
per endpoint :func:`endpoint_statistics` (share in the applicability domain, share clipped,
interval width or prediction-set shares) and the invalid rows. Written by
:mod:`insightome.apps.admet.report`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from insightome import __version__
from insightome.apps.admet.bundle import ADMET_PACKAGES
from insightome.apps.admet.endpoints import ENDPOINTS, endpoint
from insightome.run_content import versions

if TYPE_CHECKING:
    from insightome.apps.admet.bundle import AdmetBundle

SCHEMA = "insightome.admet-predict/1"
PREDICTIONS_FILE = "predictions.csv"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"
DISCLAIMER = (
    "Every value here is a model's estimate; no assay has measured these molecules. A "
    "prediction outside its model's applicability domain is unreliable, and no prediction is "
    "evidence of safety or efficacy: do not base clinical or regulatory decisions on them."
)


def _ordered(names: Sequence[str]) -> list[str]:
    """Endpoint stems in TDC's leaderboard order (absorption → toxicity)."""
    order = {e.stem: i for i, e in enumerate(ENDPOINTS.values())}
    return sorted(names, key=lambda n: order.get(n, len(order)))


def _share(mask: np.ndarray) -> float | None:
    return float(np.mean(mask)) if mask.size else None


def endpoint_statistics(table: pd.DataFrame, name: str, task: str) -> dict[str, Any]:
    """How one endpoint's predictions on this input look: domain, clipping, uncertainty."""
    ok = table["valid"].to_numpy(bool)
    in_domain = table[f"{name}_in_domain"].to_numpy(bool)[ok]
    stats: dict[str, Any] = {
        "n_predicted": int(ok.sum()),
        "share_in_domain": _share(in_domain),
        "n_out_of_domain": int((~in_domain).sum()),
        "share_clipped": _share(table[f"{name}_clipped"].to_numpy(bool)[ok]),
    }
    if task == "regression":
        width = (table[f"{name}_upper"] - table[f"{name}_lower"]).to_numpy(float)[ok]
        width = width[np.isfinite(width)]
        stats["median_interval_width"] = float(np.median(width)) if width.size else None
    else:
        sets = table[f"{name}_set"].fillna("").astype(str).to_numpy()[ok]
        stats["share_singleton_sets"] = _share(np.isin(sets, ["0", "1"]))
        stats["share_both_labels"] = _share(sets == "0,1")
        stats["share_empty_sets"] = _share(sets == "")
    return stats


def _bundle_sha256(bundle: AdmetBundle) -> str | None:
    """The bundle file's SHA-256 from the manifest (or the bundle's ``manifest.json``)."""
    found = bundle.manifest.get("bundle_sha256")
    if found is None and bundle.path is not None:
        try:
            found = json.loads((Path(bundle.path) / "manifest.json").read_text()).get(
                "bundle_sha256"
            )
        except (OSError, ValueError, AttributeError):
            found = None
    return found


def predictions_summary(
    table: pd.DataFrame,
    bundle: AdmetBundle,
    *,
    source: Path,
    input_sha256: str,
    invalid: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """What ``summary.json`` holds (plain data; NaN → null when written)."""
    manifest = bundle.manifest
    models = {s["endpoint"]: s for s in bundle.summary()}
    ok = table["valid"].to_numpy(bool)
    endpoints = {}
    for name in _ordered(bundle.endpoints):
        model = models[name]
        ep = endpoint(name)
        endpoints[name] = {
            "tdc_name": ep.name,
            "category": ep.category,
            "task": model["task"],
            "unit": ep.unit,
            "metric": ep.metric,
            "scaffold_cv_estimate": model["scaffold_cv_estimate"],
            "n_train": model["n_train"],
            "ad_threshold": model["ad_threshold"],
            "modelled_as": model["modelled_as"],
            **endpoint_statistics(table, name, model["task"]),
        }
    return {
        "schema": SCHEMA,
        "insightome_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "disclaimer": DISCLAIMER,
        "bundle": {
            "bundle_id": bundle.bundle_id,
            "created": manifest.get("created"),
            "path": None if bundle.path is None else str(Path(bundle.path).resolve()),
            "bundle_sha256": _bundle_sha256(bundle),
            "seed": manifest.get("seed"),
            "preset": manifest.get("preset"),
            "conformal_level": bundle.level,
            "versions": manifest.get("versions", {}),
            "drug_reference": manifest.get("drug_reference", {}),
        },
        "versions_at_prediction": versions(ADMET_PACKAGES),
        "input": {
            "path": str(Path(source).resolve()),
            "name": Path(source).name,
            "sha256": input_sha256,
        },
        "counts": {
            "molecules": len(table),
            "valid": int(ok.sum()),
            "invalid": int((~ok).sum()),
        },
        "level": bundle.level,
        "endpoints": endpoints,
        "invalid": [dict(item) for item in invalid],
        "files": {
            "predictions": PREDICTIONS_FILE,
            "summary": SUMMARY_FILE,
            "report": REPORT_FILE,
        },
    }
