"""Duplicate molecules: rows with the same standardized identity merged into one molecule.

Rows are grouped by standardized InChIKey (the canonical SMILES where RDKit cannot make an
InChI). A regression label is averaged (the spread is reported), a class label takes the
majority vote, and disagreeing rows are reported as conflicts; a tie leaves the label
missing (:func:`merge_duplicates`). :func:`infer_task` says how labels merge when the task
is "auto". Used by :func:`insightome.featurize.standardization.standardize`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

Task = Literal["auto", "regression", "classification"]
MAX_CLASSES = 10  # integer-valued labels with at most this many values are classes
MOLECULE_COLUMNS = ("id", "smiles", "inchikey", "n_rows", "rows")


def infer_task(values: pd.Series, task: Task) -> str:
    if task != "auto":
        if task not in ("regression", "classification"):
            raise ValueError(f"task must be auto, regression or classification, not {task!r}")
        return task
    known = values.dropna()
    if known.empty:
        return "regression"
    numeric = pd.to_numeric(known, errors="coerce")
    if numeric.isna().any() or pd.api.types.is_bool_dtype(known):
        return "classification"
    integral = bool(np.all(np.mod(numeric.to_numpy(float), 1) == 0))
    return "classification" if integral and numeric.nunique() <= MAX_CLASSES else "regression"


def _merge_labels(values: list[Any], task: str) -> tuple[Any, float | None, bool]:
    """(merged label, spread for regression, conflict for classification)."""
    known = [v for v in values if not pd.isna(v)]
    if not known:
        return np.nan, None, False
    if task == "regression":
        numbers = np.asarray(known, dtype=float)
        return float(numbers.mean()), float(numbers.max() - numbers.min()), False
    counts = pd.Series(known).value_counts(sort=True)
    conflict = len(counts) > 1
    if conflict and counts.iloc[0] == counts.iloc[1]:  # a tie: no majority
        return np.nan, None, True
    return counts.index[0], None, conflict


def merge_duplicates(
    records: pd.DataFrame, mols: list[Any], label: str | None, task: str | None
) -> tuple[pd.DataFrame, list[Any], pd.DataFrame, list[str]]:
    """Unique molecules (first appearance order), their mols, the duplicates and notes."""
    groups: dict[str, list[int]] = {}
    valid = records["valid"].to_numpy()
    for pos, (key, smiles) in enumerate(zip(records["inchikey"], records["smiles"], strict=True)):
        if valid[pos]:
            groups.setdefault(key or f"smiles:{smiles}", []).append(pos)
    rows = records["row"].to_numpy()
    molecules, duplicates, kept = [], [], []
    for members in groups.values():
        first = records.iloc[members[0]]
        entry = {
            "id": first["id"],
            "smiles": first["smiles"],
            "inchikey": first["inchikey"],
            "n_rows": len(members),
            "rows": tuple(int(rows[m]) for m in members),
        }
        dup: dict[str, Any] = {}
        if len(members) > 1:
            dup = {
                "inchikey": first["inchikey"],
                "smiles": first["smiles"],
                "rows": entry["rows"],
                "inputs": tuple(records["input"].iloc[members]),
            }
        if label is not None and task is not None:
            values = records[label].iloc[members].tolist()
            merged, spread, conflict = _merge_labels(values, task)
            entry[label] = merged if len(members) > 1 else values[0]
            if dup:
                dup["labels"] = tuple(values)
                dup["spread" if task == "regression" else "conflict"] = (
                    spread if task == "regression" else conflict
                )
                dup[label] = merged
        molecules.append(entry)
        kept.append(mols[members[0]])
        if dup:
            duplicates.append(dup)
    columns = [*MOLECULE_COLUMNS, *([label] if label else [])]
    molecules_df = pd.DataFrame(molecules, columns=columns)
    duplicates_df = pd.DataFrame(duplicates)
    return molecules_df, kept, duplicates_df, _duplicate_notes(duplicates_df, task)


def _duplicate_notes(duplicates: pd.DataFrame, task: str | None) -> list[str]:
    if duplicates.empty:
        return []
    n_rows = int(sum(len(r) for r in duplicates["rows"]))
    notes = [
        f"{len(duplicates)} molecules occur more than once (same standardized InChIKey); "
        f"{n_rows} rows merged into {len(duplicates)} (see .duplicates)"
    ]
    if task == "regression" and "spread" in duplicates:
        spread = duplicates["spread"].dropna()
        worst = f"{spread.max():.4g}" if len(spread) else "n/a"
        notes.append(
            f"regression labels averaged over {n_rows} duplicate rows in "
            f"{len(duplicates)} groups; largest spread (max - min) {worst}"
        )
    elif task == "classification" and "conflict" in duplicates:
        conflicts = duplicates[duplicates["conflict"]]
        if len(conflicts):
            rows = "; ".join(", ".join(map(str, r)) for r in conflicts["rows"].head(5))
            notes.append(
                f"{len(conflicts)} duplicate groups have conflicting class labels (rows {rows}"
                f"{', …' if len(conflicts) > 5 else ''}); majority kept, ties left missing"
            )
    return notes
