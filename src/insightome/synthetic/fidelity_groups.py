"""Fidelity per sensitive group: is each group as present, and as faithfully drawn, in the
synthetic cohort as in the real one? (docs/synthetic-fidelity.md)

For every group of every attribute: its share of the real training rows, of the real
hold-out and of the synthetic rows, and its columns compared within the group
(:func:`~insightome.synthetic.fidelity_columns.compare_columns`, the attribute's own column
left out). A group with fewer than ``min_cell`` real training rows is "insufficient
evidence": nothing of it is compared and its size reads ``<min_cell``. Real group sizes
(and shares, which give the size back with n) are published only where the project's
small-cell rule allows (:func:`insightome.groups.disclosure.group_disclosure`, with
complementary suppression: one small group of a two-group attribute hides the other's size
too). Synthetic shares are shown: they describe the synthetic table, not patients.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from insightome.errors import COLUMN_MISSING, UserError, closest_names_hint
from insightome.groups.age_bands import AgeBanding, choose_age_bands
from insightome.groups.disclosure import SHOWN, group_disclosure, small_marker
from insightome.synthetic.fidelity_columns import ColumnFidelity, compare_columns
from insightome.synthetic.fidelity_measures import Encoded

COMPARED = "compared"
INSUFFICIENT = "insufficient evidence"
ABSENT = "absent from the synthetic cohort"
NOT_RECORDED = "not recorded"
BAND_ABOVE = 10  # a numeric attribute with more distinct values is cut into age bands


@dataclass(frozen=True)
class GroupFidelity:
    """One group of one sensitive attribute."""

    attribute: str
    group: str
    status: str  # compared, insufficient evidence, absent from the synthetic cohort
    n_real: str  # the count, or its marker (<10, suppressed)
    share_real: float | None  # None when the count is hidden
    share_holdout: float | None
    share_synthetic: float | None  # None where the real count is hidden (it would give it away)
    columns: tuple[ColumnFidelity, ...]
    flagged: tuple[str, ...]  # the columns flagged within the group

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["columns"] = [asdict(c) for c in self.columns]
        out["flagged"] = list(self.flagged)
        return out


@dataclass(frozen=True)
class GroupLabels:
    """Each attribute's label for every row of the three tables, and its own column."""

    labels: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    own_column: Mapping[str, str | None]
    notes: tuple[str, ...]


def group_labels(
    groups: Mapping[str, object],
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    min_cell: int,
) -> GroupLabels:
    """The labels of ``groups`` (attribute → column name or three label arrays, aligned to
    ``train``, ``holdout`` and ``synthetic``); a column that is not in the tables is refused
    with one line (UserError), before any work is done."""
    notes: list[str] = []
    labels = {
        attribute: _labels(attribute, spec, train, holdout, synthetic, min_cell, notes)
        for attribute, spec in groups.items()
    }
    own = {a: spec if isinstance(spec, str) else None for a, spec in groups.items()}
    return GroupLabels(labels, own, tuple(notes))


def group_fidelity(
    groups: GroupLabels, data: Encoded, rng: np.random.Generator, min_cell: int
) -> list[GroupFidelity]:
    """Every group of every attribute of ``groups`` (module docstring)."""
    labels = groups.labels
    if not labels:
        return []
    real_sizes = group_disclosure(
        {a: v[0] for a, v in labels.items()}, None, "regression", min_cell
    )
    hold_sizes = group_disclosure(
        {a: v[1] for a, v in labels.items()}, None, "regression", min_cell
    )
    real, hold, synth = (data.rows[n] for n in ("train", "holdout", "synthetic"))
    out = []
    for attribute, (lab_real, lab_hold, lab_synth) in labels.items():
        others = tuple(c for c in data.columns if c != groups.own_column[attribute])
        for group in sorted(set(lab_real.tolist()), key=str):
            in_real, in_hold = real[lab_real == group], hold[lab_hold == group]
            in_synth = synth[lab_synth == group]
            shown = real_sizes.status.get(("n", attribute, group)) == SHOWN
            hold_shown = (
                hold_sizes.status.get(("n", attribute, group)) == SHOWN and len(in_hold) >= min_cell
            )
            share_synth = len(in_synth) / len(synth)
            if len(in_real) < min_cell:
                out.append(
                    GroupFidelity(
                        attribute, group, INSUFFICIENT, small_marker(min_cell), None, None,
                        None, (), (),
                    )
                )  # fmt: skip
                continue
            if not shown:  # a faithful generator's share would give the hidden count away
                share_synth = None
            marker = real_sizes.size_marker(attribute, group)
            n_real = str(len(in_real)) if shown else (marker or small_marker(min_cell))
            share_real = len(in_real) / len(real) if shown else None
            share_hold = len(in_hold) / len(hold) if hold_shown else None
            if len(in_synth) < 2:
                out.append(
                    GroupFidelity(
                        attribute, group, ABSENT, n_real, share_real, share_hold, share_synth,
                        (), (),
                    )
                )  # fmt: skip
                continue
            columns = compare_columns(
                data,
                in_real,
                in_synth,
                in_hold if len(in_hold) >= min_cell else None,
                rng,
                min_cell,
                others,
            )
            flagged = tuple(c.column for c in columns if c.flagged)
            out.append(
                GroupFidelity(
                    attribute, group, COMPARED, n_real, share_real, share_hold,
                    share_synth, columns, flagged,
                )
            )  # fmt: skip
    return out


def _labels(
    attribute: str,
    spec: object,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    min_cell: int,
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The group label of every row of the three tables (missing: "not recorded").

    ``spec`` is a column name, three label arrays, or one array (e.g. a ``pd.Series``)
    with a label for every row of train, holdout and synthetic stacked in that order."""
    if isinstance(spec, str):
        if spec not in train.columns:
            hint = closest_names_hint(spec, map(str, train.columns))
            raise UserError(
                COLUMN_MISSING,
                path="the cohort",
                role="sensitive",
                column=spec,
                hint=hint,
                option="sensitive",
            )
        columns = [train[spec], holdout[spec], synthetic[spec]]
        known = train[spec].dropna()
        if pd.api.types.is_numeric_dtype(known) and known.nunique() > BAND_ABOVE:
            banding = choose_age_bands(train[spec].to_numpy(float), min_cell)
            notes.append(f"{attribute}: grouped in bands ({banding.explanation})")
            return tuple(_banded(c, banding) for c in columns)  # type: ignore[return-value]
        return tuple(_as_labels(c) for c in columns)  # type: ignore[return-value]
    sizes = np.cumsum([len(train), len(holdout), len(synthetic)])
    if isinstance(spec, pd.Series | np.ndarray) and len(spec) == sizes[-1]:
        spec = np.split(np.asarray(spec, dtype=object), sizes[:-1])  # stacked: split
    if not isinstance(spec, Sequence | list) or len(spec) != 3:
        raise TypeError(
            f"groups[{attribute!r}]: give a column name, three label arrays (train, "
            "holdout, synthetic) or one label per row of the three stacked in that order"
        )
    arrays = tuple(_as_labels(pd.Series(np.asarray(s, dtype=object))) for s in spec)
    for name, frame, array in zip(
        ("train", "holdout", "synthetic"), (train, holdout, synthetic), arrays, strict=True
    ):
        if len(array) != len(frame):
            raise ValueError(
                f"groups[{attribute!r}]: {len(array)} {name} labels for {len(frame)} rows"
            )
    return arrays  # type: ignore[return-value]


def _as_labels(column: pd.Series) -> np.ndarray:
    """Labels as text (1.0 reads 1), missing as "not recorded"."""

    def text(value: object) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return NOT_RECORDED
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return np.array([text(v) for v in column.astype(object).tolist()], dtype=object)


def _banded(column: pd.Series, banding: AgeBanding) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(float)
    labels = np.asarray(banding.assign(values), dtype=object)
    labels[np.isnan(values)] = NOT_RECORDED
    return labels
