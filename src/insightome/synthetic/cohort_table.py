"""The real cohort as one table to synthesize: what is kept, what is left out, and why.

A cohort table has one row per patient and no identifier: numeric columns as float64,
categorical ones as ``object`` (NaN = missing), the outcome as ordinary columns (a class
label, a number, or survival time and event). It is made from the study the engine would
model (:func:`insightome.study.make_study`), so the outcome, the classes left out and the
features dropped are decided exactly as ``insightome run`` decides them; then

* the sample IDs, ``--groups`` (one sample per patient is required: a group column whose
  values are all distinct is a second identifier) and ``--exclude`` columns are left out;
* a numeric column with a different whole number in every row (an identifier or an
  export's row numbers, whatever its name; :func:`insightome.modelling_table.identifier_warnings`
  names the ID-like ones) and a text column whose every value is distinct (names, free text)
  are left out, because a generator would copy them or invent look-alikes;
* sensitive attributes and the site stay in (the fidelity per group needs them).

Every column left out is named in :attr:`CohortTable.left_out` with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from insightome import errors
from insightome.errors import UserError
from insightome.modelling_table import identifier_warnings
from insightome.study import Study

#: The column of a synthetic table's row labels (never a real ID).
SYNTHETIC_ID = "synthetic_id"


@dataclass
class CohortTable:
    """The real cohort to synthesize and how it maps back to the study's roles."""

    frame: pd.DataFrame  # one row per patient, no identifier
    task: str
    outcome: tuple[str, ...]  # the outcome column(s): (target,) or (time, event)
    sensitive: tuple[str, ...]
    classes: list[str]
    left_out: dict[str, str] = field(default_factory=dict)  # column → why
    notes: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    def features(self) -> list[str]:
        return [c for c in self.frame.columns if c not in self.outcome]

    def outcome_vector(self, frame: pd.DataFrame) -> np.ndarray:
        """The engine's encoding of ``frame``'s outcome (class codes, numbers, or signed
        survival time), so a table of real or synthetic rows can be modelled."""
        if self.task == "survival":
            time = frame[self.outcome[0]].to_numpy(dtype=float)
            event = frame[self.outcome[1]].to_numpy(dtype=float)
            return np.where(event > 0, time, -time)
        if self.task == "regression":
            return frame[self.outcome[0]].to_numpy(dtype=float)
        codes = {label: i for i, label in enumerate(self.classes)}
        return frame[self.outcome[0]].astype(str).map(codes).to_numpy(dtype=int)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.n_rows,
            "columns": len(self.frame.columns),
            "task": self.task,
            "outcome": list(self.outcome),
            "sensitive": list(self.sensitive),
            "left_out": dict(self.left_out),
            "notes": list(self.notes),
        }


def cohort_table(made: Study, adata: ad.AnnData, path: str) -> CohortTable:
    """The study ``made`` from ``adata`` (read from ``path``) as a cohort table."""
    spec = made.spec
    if spec.groups is not None:
        counts = pd.Series(made.groups).value_counts()
        if (counts > 1).any():
            raise UserError(
                errors.OPTION_INVALID,
                option="--groups",
                reason=(
                    f"{int((counts > 1).sum())} patients in '{spec.groups}' have several "
                    "samples; synthesize needs one row per patient (aggregate the samples "
                    "first, e.g. one row per patient and visit as columns)"
                ),
            )
    features = made.features.copy()
    left_out: dict[str, str] = {}
    for col in _identifier_columns(features):
        left_out[col] = "looks like an identifier (a unique whole number per row)"
    for col in features.columns:
        if col not in left_out and _row_number(features[col]):
            left_out[col] = "a different whole number in every row (a row number or an identifier)"
    for col in features.columns:
        values = features[col]
        if not pd.api.types.is_numeric_dtype(values) and _all_distinct(values):
            left_out[col] = "text with a different value in every row (names or free text)"
    features = features.drop(columns=list(left_out))
    roles = set(spec.role_columns)
    read_columns = [
        *map(str, adata.var_names),
        *adata.obsm.get("categorical", pd.DataFrame()).columns,
    ]
    for col in read_columns:
        if col not in made.features.columns and col not in roles and col not in left_out:
            left_out[col] = "constant or all missing (left out by the study)"
    for col in spec.exclude:
        left_out[col] = "--exclude"
    if spec.groups is not None:
        left_out[spec.groups] = "--groups: one sample per patient, so an identifier"
    left_out["(sample IDs)"] = "identifiers are never synthesized; fresh row labels are given"

    frame = pd.DataFrame(index=pd.RangeIndex(len(features)))
    for col in features.columns:
        frame[col] = _plain(features[col])
    roles = [*spec.sensitive, spec.site] if not spec.use_sensitive else [spec.site]
    for col in roles:
        if col and col not in frame.columns:
            frame[col] = _plain(made.obs[col])
    outcome = _outcome_columns(made)
    for col, values in outcome.items():
        frame[col] = values
    notes = [f"{made.n_samples} of {adata.n_obs} rows of {path} modelled by the study"]
    return CohortTable(
        frame=frame,
        task=spec.task,
        outcome=tuple(outcome),
        sensitive=tuple(spec.sensitive),
        classes=list(made.classes),
        left_out=left_out,
        notes=notes,
    )


def _outcome_columns(made: Study) -> dict[str, Any]:
    spec = made.spec
    if spec.task == "survival":
        time, event = made.time_event
        return {spec.time: time.astype(float), spec.event: event.astype(float)}
    if spec.task == "regression":
        return {spec.target: made.y.astype(float)}
    labels = np.asarray(made.classes, dtype=object)[made.y.astype(int)]
    return {spec.target: labels}


def _plain(values: pd.Series) -> np.ndarray:
    """float64 for numbers, object (str or NaN) for everything else."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float, na_value=np.nan)
    out = values.astype(object).to_numpy()
    return np.array([v if pd.isna(v) else str(v) for v in out], dtype=object)


def _identifier_columns(features: pd.DataFrame) -> list[str]:
    flagged = identifier_warnings(features)
    return [c for c in features.columns if any(f"Feature '{c}' " in w for w in flagged)]


def _row_number(values: pd.Series) -> bool:
    """A different whole number in every row that has one (an export's row numbers, a
    record number; a few blanks allowed), whatever the column's name: a generator would
    copy or imitate it, and it measures nothing about the patient."""
    known = values.dropna()
    if not pd.api.types.is_numeric_dtype(values) or len(known) < 20:
        return False
    if len(known) < 0.9 * len(values):
        return False
    v = known.to_numpy(dtype=float)
    return bool(np.all(v == np.round(v))) and len(np.unique(v)) == len(v)


def _all_distinct(values: pd.Series) -> bool:
    known = values.dropna()
    return len(known) >= 20 and known.nunique() == len(known)
