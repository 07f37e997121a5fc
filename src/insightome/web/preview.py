"""What the workbench shows of a dataset before a run: its columns, their types and
missingness and the orientation the reader decided (never a row of it), and — once the user
has chosen the outcome and the rest — the study the run would make and the leakage screen's
warnings, by the run's own read, study and screen stages (nothing is fitted or written).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from insightome import errors
from insightome.errors import UserError
from insightome.io import read
from insightome.options import RunOptions, invocation
from insightome.stages.modelling import study
from insightome.stages.reading import read as read_stage
from insightome.stages.screening import screen
from insightome.stages.state import RunState
from insightome.web.storage import check_inside

#: The reading options of a run, as ``insightome.io.read`` takes them.
READING = (
    "annotations", "id_column", "orient", "decimal", "annotations_id_column", "drop_unmatched",
)  # fmt: skip
SHOWN_COLUMNS = 300  # a wider table lists this many columns, and says how many more


def preview(data: Path, annotations: Path | None = None) -> dict[str, Any]:
    """Samples, columns (kind, % missing, distinct values) and orientation of ``data``
    (a :class:`~insightome.errors.UserError` — the CLI's message — if it cannot be read)."""
    adata = read(data, annotations=annotations)
    columns: list[dict[str, Any]] = []
    x = np.asarray(adata.X, dtype=float)
    for j, name in enumerate(adata.var_names[:SHOWN_COLUMNS]):
        values = x[:, j]
        present = values[~np.isnan(values)]
        columns.append(
            {
                "name": str(name),
                "kind": "numeric",
                "missing": float(np.isnan(values).mean()),
                "distinct": len(np.unique(present)),
            }
        )
    categorical = adata.obsm.get("categorical")
    if categorical is not None:
        for name in categorical.columns:
            series = categorical[name]
            columns.append(
                {
                    "name": str(name),
                    "kind": "categorical",
                    "missing": float(series.isna().mean()),
                    "distinct": int(series.nunique(dropna=True)),
                }
            )
    for name in adata.obs.columns:
        series = adata.obs[name]
        columns.append(
            {
                "name": str(name),
                "kind": "sample sheet",
                "missing": float(series.isna().mean()),
                "distinct": int(series.nunique(dropna=True)),
            }
        )
    prov = adata.uns.get("provenance", {})
    n_columns = adata.n_vars + (0 if categorical is None else categorical.shape[1])
    return {
        "n_samples": int(adata.n_obs),
        "n_columns": int(n_columns),
        "columns": columns,
        "more_columns": max(0, adata.n_vars - SHOWN_COLUMNS),
        "names": [str(v) for v in adata.var_names]
        + ([] if categorical is None else [str(c) for c in categorical.columns])
        + [str(c) for c in adata.obs.columns],
        "orientation": prov.get("orientation"),
        "orientation_reason": prov.get("orientation_reason"),
        "notes": list(adata.uns.get("notes", [])),
    }


def images_inside(data: Path, values: dict[str, Any]) -> None:
    """The image and mask paths of a manifest — in the data table or the sample sheet, read
    as the run reads them — all lie inside the dataset's folder (a
    :class:`~insightome.errors.UserError` naming the option and row otherwise)."""
    columns = {o: values[o] for o in ("image_column", "mask_column") if values.get(o)}
    if not columns:
        return
    reading = {k: values[k] for k in READING if values.get(k) is not None}
    obs = read(data, keep_in_obs=list(columns.values()), **reading).obs
    for option, column in columns.items():
        flag = "--" + option.replace("_", "-")
        if column not in obs:
            raise UserError(
                errors.OPTION_INVALID, option=flag,
                reason=f"no column {column!r} in the data table or its sample sheet",
            )  # fmt: skip
        check_inside([str(v) for v in obs[column].dropna()], data.parent, flag)


def check(data: Path, values: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """The study the run would make with ``values`` and its leakage screen: read, study
    and screen, as the run does them, with no output folder."""
    images_inside(data, values)
    options = RunOptions.create(**{**values, "out_dir": None, "progress": False})
    state = RunState(str(data), options, invocation(str(data), options))
    for stage in (read_stage, study, screen):
        stage(state)
    made, found = state.require("study"), state.leakage_screen
    design = made.design_lines()
    return {
        "design": design,
        "n_samples": made.n_samples,
        "n_features": int(made.features.shape[1]),
        "task": made.spec.task,
        "warnings": list(made.warnings),
        "notes": [n for n in made.notes if n not in design],  # each said once
        "leakage": [dataclasses.asdict(f) for f in found.findings],
        "leakage_checked": found.checked,
        "leakage_notes": list(found.notes),
    }
