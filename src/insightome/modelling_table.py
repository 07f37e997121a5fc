"""The modelling table: the features offered to the models, and warnings about them.

:func:`feature_table` takes the numeric matrix and the text (categorical) features of the
samples with a known outcome, leaves out the role columns (outcome, groups, site,
``--exclude``, sensitive attributes unless ``--use-sensitive``) and drops all-missing and
constant features, with a note for each. :func:`identifier_warnings` flags numeric features
that look like sample identifiers. :mod:`insightome.study` calls both.
"""

from __future__ import annotations

import re

import anndata as ad
import numpy as np
import pandas as pd

from insightome import errors
from insightome.errors import UserError

FLOAT32_CELLS = 50_000_000  # from 400 MB of float64 on, the modelling table is float32


def feature_table(
    adata: ad.AnnData,
    keep: np.ndarray,
    path: str,
    *,
    role_columns: tuple[str, ...],
    exclude: tuple[str, ...],
    sensitive: tuple[str, ...],
    use_sensitive: bool,
    learned_features: bool = False,
) -> tuple[pd.DataFrame, int, list[str]]:
    """Numeric + categorical features of the kept samples; drop constant/all-missing ones.

    ``learned_features``: the candidates add features inside fit (the CNN's score), so a
    table with no column of its own is allowed (the rows still index the samples)."""
    notes: list[str] = []
    drop = set(role_columns)
    # float32 halves the memory of large tables; every model casts as it needs and 7
    # significant digits exceed the precision of any omics or clinical measurement.
    large = adata.n_obs * adata.n_vars >= FLOAT32_CELLS
    # no copy that is not needed (rows or columns dropped, another dtype): at 100,000 x
    # 1,000 every copy of the table is 381 MB in the process that holds the study
    X = np.asarray(adata.X)
    if not keep.all():
        X = X[keep]
    X = X.astype(np.float32 if large else np.float64, copy=False)
    if large:
        notes.append(f"features stored as float32 ({adata.n_obs} x {adata.n_vars} values)")
    numeric = pd.DataFrame(X, index=adata.obs_names[keep], columns=adata.var_names.astype(str))
    if drop & set(numeric.columns):
        numeric = numeric.loc[:, [c for c in numeric.columns if c not in drop]]
    cat = adata.obsm.get("categorical")
    parts = [numeric]
    if isinstance(cat, pd.DataFrame) and cat.shape[1]:
        cat = cat.loc[adata.obs_names[keep], [c for c in cat.columns if c not in drop]]
        parts.append(cat.astype("category"))
    if use_sensitive:
        for s in sensitive:
            if s in adata.obs.columns and s not in numeric.columns:
                col = adata.obs.loc[adata.obs_names[keep], s]
                parts.append(
                    col.to_frame()
                    if pd.api.types.is_numeric_dtype(col)
                    else col.astype("category").to_frame()
                )
        notes.append(
            "sensitive attributes used as features (--use-sensitive): " + ", ".join(sensitive)
        )
    features = pd.concat(parts, axis=1) if len(parts) > 1 else numeric
    missing_excl = [
        c
        for c in exclude
        if c not in adata.var_names
        and c not in adata.obs.columns
        and not (isinstance(cat, pd.DataFrame) and c in cat.columns)
    ]
    if missing_excl:
        notes.append("--exclude named columns that are not in the data: " + ", ".join(missing_excl))
    all_missing = features.columns[features.isna().all().to_numpy()]
    nunique = features.nunique(dropna=True)
    constant = [c for c in features.columns if nunique[c] <= 1 and c not in set(all_missing)]
    if len(all_missing):
        notes.append(
            f"dropped {len(all_missing)} all-missing feature(s): " + errors.examples(all_missing)
        )
    if constant:
        notes.append(f"dropped {len(constant)} constant feature(s): " + errors.examples(constant))
    if len(all_missing) or constant:
        features = features.drop(columns=[*all_missing, *constant])
    if features.shape[1] == 0 and not learned_features:
        raise UserError(errors.NO_FEATURES, path=path, removed=errors.examples(drop))
    return features, len(all_missing) + len(constant), notes


_ID_TOKENS = {"id", "ids", "pid", "pidnum", "num", "no", "nr", "number", "idx", "index", "key"}
_ID_PREFIXES = ("pid", "patientid", "sampleid", "subjectid", "caseid")


def _looks_like_id_name(name: str) -> bool:
    lowered = str(name).lower()
    tokens = [t for t in re.split(r"[^a-z0-9]+", lowered) if t]
    return bool(tokens) and (tokens[-1] in _ID_TOKENS or lowered.startswith(_ID_PREFIXES))


def identifier_warnings(features: pd.DataFrame) -> list[str]:
    """Numeric features that look like sample identifiers (unique integers, ID-like name).

    A patient or sample number used as a feature can carry recruitment order, site or
    batch, and lets a model score on bookkeeping rather than biology.
    """
    out = []
    if len(features) < 20:
        return out
    for name in features.columns:
        col = features[name]
        if not pd.api.types.is_numeric_dtype(col) or not _looks_like_id_name(name):
            continue
        values = col.dropna().to_numpy(dtype=float)
        if len(values) == len(col) and np.all(values == np.round(values)) and col.is_unique:
            out.append(
                f"Feature '{name}' looks like an identifier (a unique whole number per sample). "
                "Identifiers can encode recruitment order or site; name it with --id-column or "
                "leave it out with --exclude."
            )
    return out
