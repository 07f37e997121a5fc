"""From SMILES to model inputs: standardization, duplicate merging and features.

Training molecules are standardized (largest fragment, neutralized; see
:func:`insightome.featurize.standardization.standardize`) and duplicates — the same
standardized InChIKey — merged: regression values are averaged, classes decided by
majority (a tie leaves the molecule out, as its label is unknown). Molecules to predict are
standardized the same way, one row per input row, and rows that cannot be parsed keep
their reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from insightome.featurize.descriptors import featurize
from insightome.featurize.standardization import standardize

FEATURE_KINDS = ("rdkit2d", "morgan_counts", "avalon", "erg")
CacheDir = str | Path | Literal[False] | None


@dataclass
class TrainingSet:
    """Unique standardized molecules with their (merged) values and features."""

    smiles: list[str]
    y: np.ndarray
    features: pd.DataFrame
    n_input: int
    notes: list[str] = field(default_factory=list)
    invalid: pd.DataFrame = field(default_factory=pd.DataFrame)


def training_set(
    smiles: Sequence[Any],
    y: Sequence[Any] | np.ndarray,
    *,
    binary: bool,
    n_jobs: int = 1,
    cache_dir: CacheDir = None,
    keep_fragments: bool = False,
) -> TrainingSet:
    """Standardize, merge duplicates, drop unusable rows and featurize (``keep_fragments``:
    see :func:`~insightome.featurize.standardization.standardize`)."""
    result = standardize(
        list(smiles),
        labels=np.asarray(y, dtype=float),
        task="classification" if binary else "regression",
        keep_fragments=keep_fragments,
    )
    label = result.label_column or "label"
    molecules = result.molecules
    features = featurize(result, kinds=FEATURE_KINDS, n_jobs=n_jobs, cache_dir=cache_dir)
    features = features.reset_index(drop=True)
    usable = molecules[label].notna().to_numpy() & ~features.isna().all(axis=1).to_numpy()
    notes = list(result.notes)
    if (~usable).any():
        notes.append(
            f"{int((~usable).sum())} molecules without a usable label or features left out"
        )
    return TrainingSet(
        smiles=molecules.loc[usable, "smiles"].tolist(),
        y=molecules.loc[usable, label].to_numpy(float),
        features=features.loc[usable].reset_index(drop=True),
        n_input=result.n_input,
        notes=notes,
        invalid=result.invalid,
    )


def prediction_inputs(
    smiles: Sequence[Any],
    *,
    n_jobs: int = 1,
    cache_dir: CacheDir = False,
    keep_fragments: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, features), one row per input: ``records`` has ``input``, ``smiles``
    (standardized), ``valid`` and ``reason``; invalid rows have all-NaN features.

    Repeated molecules (same canonical SMILES after standardization) are featurized once.
    The feature cache is off by default here: keying the cache costs an InChIKey per
    molecule, which pays off for training sets that are featurized again and again, not
    for one-off screening.
    """
    result = standardize(list(smiles), inchikeys=False, keep_fragments=keep_fragments)
    records = result.records[["input", "smiles", "valid", "reason"]].reset_index(drop=True)
    unique = featurize(result, kinds=FEATURE_KINDS, n_jobs=n_jobs, cache_dir=cache_dir)
    position = {s: i for i, s in enumerate(result.molecules["smiles"])}
    ok = records["valid"].to_numpy(bool)
    index = np.array(
        [position.get(s, 0) if v else 0 for s, v in zip(records["smiles"], ok, strict=True)],
        dtype=np.intp,
    )
    features = (
        unique.iloc[index].reset_index(drop=True)
        if len(unique)
        else pd.DataFrame(np.nan, index=range(len(records)), columns=unique.columns)
    )
    if (~ok).any():
        features.loc[~ok] = np.nan
    return records, features
