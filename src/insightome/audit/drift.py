"""Feature drift: a reference profile of the development features, and a batch compared with it.

:func:`reference_profile` summarizes the development features when a run is trained
(aggregates only, no row-level data, every count at least ``min_cell``);
:func:`feature_drift` compares new features with it: the population stability index per
feature, the standardized mean difference per numeric feature and the change in missingness
(thresholds and their sources in ``THRESHOLDS``; see :mod:`insightome.monitoring`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from insightome.groups.disclosure import MIN_CELL, group_disclosure
from insightome.io.json_values import json_ready
from insightome.study import label_string

PROFILE_SCHEMA = "insightome.reference_profile/1"
N_BINS = 10  # deciles
PSI_MODERATE, PSI_MAJOR = 0.1, 0.25  # Siddiqi 2006
SMD_THRESHOLD = 0.1  # Austin 2009
MISSING_INCREASE = 0.1  # insightome's choice
PSI_EPSILON = 1e-4  # proportion used for empty bins
OTHER = "(other)"  # categorical levels hidden by the small-cell rule, pooled
THRESHOLDS = {
    "psi_moderate": PSI_MODERATE,
    "psi_major": PSI_MAJOR,
    "psi_source": "Siddiqi, Credit Risk Scorecards, Wiley 2006",
    "smd": SMD_THRESHOLD,
    "smd_source": "Austin, Statistics in Medicine 28:3083-3107, 2009",
    "missing_increase": MISSING_INCREASE,
    "psi_epsilon": PSI_EPSILON,
}


def _bins(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Counts in the right-closed bins (-inf, e1], (e1, e2], …, (ek, inf)."""
    idx = np.searchsorted(np.asarray(edges, float), values, side="left")
    return np.bincount(idx, minlength=len(edges) + 1)


def _numeric_profile(values: np.ndarray, min_cell: int) -> dict[str, Any]:
    edges = list(np.unique(np.quantile(values, np.arange(1, N_BINS) / N_BINS)))
    counts = list(_bins(values, edges))
    small = [i for i, c in enumerate(counts) if 0 < c < min_cell]
    while small and len(counts) > 1:  # merge a small bin into its smaller neighbour
        i = small[0]
        left = i > 0 and (i == len(counts) - 1 or counts[i - 1] <= counts[i + 1])
        lo = i - 1 if left else i
        counts[lo] += counts.pop(lo + 1)
        del edges[lo]
        small = [i for i, c in enumerate(counts) if 0 < c < min_cell]
    return {
        "mean": float(values.mean()),
        "sd": float(values.std(ddof=1)) if len(values) > 1 else None,
        "edges": [float(e) for e in edges],
        "proportions": [c / len(values) for c in counts],
    }


def reference_profile(features: pd.DataFrame, *, min_cell: int = MIN_CELL) -> dict[str, Any]:
    """JSON-ready summary of the development features for :func:`monitor`.

    Per numeric feature: ``n`` (non-missing), ``missing`` (fraction), ``mean``, ``sd``,
    decile ``edges`` (inner edges of right-closed bins; minimum and maximum are never
    stored) and the ``proportions`` in each bin, adjacent bins merged until each holds at
    least ``min_cell`` samples. Per categorical feature: ``levels`` → proportion, the levels
    the small-cell rule hides (:mod:`insightome.groups.disclosure`: those with fewer than
    ``min_cell`` samples, and the further ones that keep them from being recomputed from
    the others and n) pooled as ``"(other)"``, so its share × n gives no small count back.
    Pass the run's ``--min-cell``. No row-level data.
    """
    profile: dict[str, Any] = {}
    for name in features.columns:
        col = features[name]
        known = col.notna().to_numpy()
        entry: dict[str, Any] = {"n": int(known.sum()), "missing": float(1 - known.mean())}
        if pd.api.types.is_numeric_dtype(col):
            values = col.to_numpy(float)[known]
            entry = {"type": "numeric", **entry, "mean": None, "sd": None}
            entry.update(_numeric_profile(values, min_cell) if len(values) else {})
        else:
            labels = pd.Series([label_string(v) for v in col[known]], dtype=object)
            cats = col.cat.categories if isinstance(col.dtype, pd.CategoricalDtype) else None
            levels = sorted(labels.unique()) if cats is None else list(map(label_string, cats))
            counts = labels.value_counts().reindex(levels, fill_value=0)
            hidden = _hidden_levels(labels, counts, min_cell)
            shares = {str(k): int(v) / max(len(labels), 1) for k, v in counts[~hidden].items()}
            if hidden.any():
                shares[OTHER] = int(counts[hidden].sum()) / len(labels)
            entry = {"type": "categorical", **entry, "levels": shares}
        profile[str(name)] = entry
    return json_ready(
        {"schema": PROFILE_SCHEMA, "n_samples": len(features), "min_cell": min_cell}
        | {"features": profile}
    )


def _hidden_levels(labels: pd.Series, counts: pd.Series, min_cell: int) -> pd.Series:
    """Which levels (of ``counts``) the one small-cell rule hides, given that n is known: a
    single small level pooled alone would read share × n."""
    hidden = (counts > 0) & (counts < min_cell)
    if not hidden.any():
        return hidden
    shown = group_disclosure({"level": labels.to_numpy(str)}, None, "regression", min_cell)
    return pd.Series([c > 0 and not shown.size_shown("level", str(k)) for k, c in counts.items()],
                     index=counts.index)  # fmt: skip


def psi(reference: Any, new: Any, eps: float = PSI_EPSILON) -> float:
    """Population stability index of two proportion vectors over the same bins."""
    p, q = np.maximum(np.asarray(reference, float), eps), np.maximum(np.asarray(new, float), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def _feature_drift(ref: dict[str, Any], col: pd.Series, min_cell: int) -> dict[str, Any]:
    known = col.notna().to_numpy()
    missing = float(1 - known.mean())
    out: dict[str, Any] = {"type": ref["type"], "psi": None}
    if ref["type"] == "numeric":
        out |= {"reference_mean": ref["mean"], "reference_sd": ref["sd"], "new_mean": None}
        out |= {"new_sd": None, "smd": None}
    out |= {"missing_reference": ref["missing"], "missing_new": missing}
    out["missing_change"] = missing - ref["missing"]
    if known.sum() >= min_cell and ref["n"] > 0:  # fewer values: no summary of them
        if ref["type"] == "numeric":
            x = col.to_numpy(float)[known]
            out["new_mean"], out["new_sd"] = float(x.mean()), float(x.std(ddof=1))
            out["smd"] = float((x.mean() - ref["mean"]) / ref["sd"]) if ref["sd"] else None
            out["psi"] = psi(ref["proportions"], _bins(x, ref["edges"]) / len(x))
        else:
            levels = ref["levels"]
            labels = pd.Series([v if v in levels else OTHER for v in map(label_string, col[known])])
            names = list(dict.fromkeys([*levels, *labels]))
            new = labels.value_counts(normalize=True).reindex(names, fill_value=0)
            out["psi"] = psi([levels.get(n, 0.0) for n in names], new.to_numpy())
    v = out["psi"]
    levels = ("stable", "moderate", "major")
    out["psi_level"] = None if v is None else levels[(v > PSI_MODERATE) + (v > PSI_MAJOR)]
    out["flags"] = [
        flag
        for flag, hit in (
            (f"PSI>{PSI_MAJOR}", v is not None and v > PSI_MAJOR),
            (f"|SMD|>{SMD_THRESHOLD}", abs(out.get("smd") or 0) > SMD_THRESHOLD),
            (f"missing+{out['missing_change']:.2f}", out["missing_change"] > MISSING_INCREASE),
        )
        if hit
    ]
    return out


def feature_drift(
    profile: dict[str, Any],
    features: pd.DataFrame,
    *,
    absent: list[str] | tuple[str, ...] = (),
    min_cell: int = MIN_CELL,
) -> dict[str, Any]:
    """Per-feature drift of ``features`` from ``profile`` and its summary (module doc)."""
    per: dict[str, Any] = {}
    for name in map(str, features.columns):
        if name in profile["features"]:
            per[name] = _feature_drift(profile["features"][name], features[name], min_cell)
            if name in absent:
                per[name].update(absent=True, flags=["absent"])
    on = {k: v for k, v in per.items() if not v.get("absent")}
    psis = {k: v["psi"] for k, v in on.items() if v["psi"] is not None}
    smds = {k: v["smd"] for k, v in on.items() if v.get("smd") is not None}
    major = sorted((k for k, v in psis.items() if v > PSI_MAJOR), key=lambda k: -psis[k])
    moderate = sorted((k for k in psis if PSI_MODERATE < psis[k] <= PSI_MAJOR), key=psis.get)
    smd_above = sorted((k for k in smds if abs(smds[k]) > SMD_THRESHOLD), key=lambda k: smds[k])
    n_new, n_ref = len(features), profile["n_samples"]
    return {
        "summary": {
            "status": f"major drift in {len(major)} of {len(psis)} features (PSI > {PSI_MAJOR})"
            if major
            else f"no major drift (no feature with PSI > {PSI_MAJOR})",
            "n_features": len(per),
            "n_compared": len(psis),
            "absent": [k for k in per if k not in on],
            "major": major,
            "moderate": moderate[::-1],
            "smd_above": smd_above,
            "missing_increase": [
                k for k, v in on.items() if v["missing_change"] > MISSING_INCREASE
            ],
            "share_psi_major": len(major) / len(psis) if psis else None,
            "share_smd_above": len(smd_above) / len(smds) if smds else None,
            "mean_psi": float(np.mean(list(psis.values()))) if psis else None,
            "chance_smd_sd": math.sqrt(1 / n_new + 1 / n_ref) if n_new and n_ref else None,
        },
        "features": per,
    }
