"""Sensitive-attribute groups: one string label per sample, for the data and model audits.

Each sensitive attribute (a column of the sample annotations) becomes a
:class:`pandas.Series` of group labels aligned with the samples:

* **Missing values** — NaN/None, empty strings and the usual "not recorded" codes
  (:data:`MISSING_CODES`, with or without brackets, as in TCGA's ``[Not Available]``) —
  become the group ``"unknown"``: samples without the attribute are audited as their own
  group rather than silently dropped, since missingness itself is often unequal across
  populations.
* **Categorical or few-valued attributes** keep their values as labels (``1.0`` → ``"1"``).
* **Numeric attributes with many values** (more than :data:`MAX_LEVELS` distinct values)
  are banded, because a group per value is neither estimable nor meaningful. Age-like
  columns (named ``age…``) get the clinical bands ``<40``, ``40–59`` and ``≥60`` years
  (younger, middle-aged and older adults — a reporting convention, not a standard; band
  the column beforehand for others); any other numeric attribute gets tertiles, labelled
  with their cut points (``≤1.2``, ``1.2–3.4``, ``>3.4``) so that the report says exactly
  where the boundaries were (a tertile label ``a–b`` holds values in (a, b]).
* **Sex and gender are different attributes.** Sex (biological) and gender (identity)
  are not interchangeable, and the audit never merges them: when a table has both a
  ``sex`` and a ``gender`` column and both are listed, they are two attributes, each with
  its own groups, disparities and verdicts.
* **Intersections** (Crenshaw 1989; Buolamwini & Gebru 2018, "Gender Shades": error rates
  can be unremarkable for each attribute and severe at their intersection). For every pair
  of attributes an attribute named ``"a × b"`` is added, with labels ``"x × y"``, when at
  least two of its cells without an ``"unknown"`` part hold ``min_group_size`` samples or
  more. Smaller cells stay in the labels; the audits report them as insufficient evidence.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from functools import partial

import numpy as np
import pandas as pd

from insightome.errors import UserError, closest_names_hint
from insightome.number_format import fmt_number
from insightome.study import label_string

UNKNOWN = "unknown"
MAX_LEVELS = 10  # a numeric attribute with more distinct values than this is banded
AGE_BANDS = (40.0, 60.0)  # <40, 40–59, ≥60 years
INTERSECTION = " × "
# band and tertile labels: 3 significant digits; their bounds are finite by construction, a
# non-finite one (an attribute holding inf) prints as Python prints it rather than as missing
_g3 = partial(fmt_number, spec=".3g", missing=None)
MISSING_CODES = frozenset(
    {"", "na", "n/a", "nan", "none", "null", "missing", "unknown", "not available"}
    | {"not reported", "not evaluated", "not applicable", "unspecified"}
)

ATTRIBUTE_MISSING = (
    "sensitive attribute '{column}' is not a column of the sample annotations.{hint} "
    "Name an existing column."
)
ATTRIBUTES_EMPTY = "no sensitive attributes given. Name at least one annotation column to audit."
LABELS_LENGTH = (
    "sensitive attribute '{attribute}' has {n_labels} labels for {n} samples. Give one label "
    "per sample, in the order of the data (or indexed by sample ID)."
)


def group_labels(
    obs: pd.DataFrame,
    sensitive: Sequence[str],
    *,
    min_group_size: int = 30,
    intersections: bool = True,
) -> dict[str, pd.Series]:
    """Attribute name → string group label per sample (index of ``obs``).

    ``sensitive`` names columns of ``obs``; see the module docstring for banding, the
    ``"unknown"`` group and intersections (added when ``intersections`` is true and at
    least two cells reach ``min_group_size``). Sex and gender are kept as two separate
    attributes when both are given; nothing is merged.
    """
    names = list(dict.fromkeys(str(s) for s in sensitive))
    if not names:
        raise UserError(ATTRIBUTES_EMPTY)
    for name in names:
        if name not in obs.columns:
            hint = closest_names_hint(name, obs.columns)
            raise UserError(ATTRIBUTE_MISSING, column=name, hint=hint)
    labels = {name: _labels_of(obs[name], name) for name in names}
    if intersections:
        for a, b in itertools.combinations(names, 2):
            combined = labels[a] + INTERSECTION + labels[b]
            known = (labels[a] != UNKNOWN) & (labels[b] != UNKNOWN)
            if int((combined[known].value_counts() >= min_group_size).sum()) >= 2:
                labels[f"{a}{INTERSECTION}{b}"] = combined.rename(f"{a}{INTERSECTION}{b}")
    return labels


def _labels_of(column: pd.Series, name: str) -> pd.Series:
    values = column
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.nunique(dropna=True) > MAX_LEVELS:
        out = _age_bands(values) if name.lower().startswith("age") else _tertiles(values)
    else:
        out = values.map(label_string)
    out = out.where(values.notna(), UNKNOWN).astype(str)
    coded_missing = out.str.strip().str.strip("[]").str.strip().str.lower().isin(MISSING_CODES)
    return out.where(~coded_missing, UNKNOWN).rename(name)


def _age_bands(values: pd.Series) -> pd.Series:
    lo, hi = AGE_BANDS
    x = values.to_numpy(float)
    bands = np.where(x < lo, f"<{_g3(lo)}", np.where(x < hi, f"{_g3(lo)}–{_g3(hi - 1)}", ""))
    bands = np.where(x >= hi, f"≥{_g3(hi)}", bands)
    return pd.Series(bands, index=values.index)


def _tertiles(values: pd.Series) -> pd.Series:
    x = values.to_numpy(float)
    cuts = np.unique(np.nanquantile(x, [1 / 3, 2 / 3]))
    names = [f"≤{_g3(cuts[0])}"]
    names += [f"{_g3(a)}–{_g3(b)}" for a, b in itertools.pairwise(cuts)]
    names.append(f">{_g3(cuts[-1])}")
    codes = np.searchsorted(cuts, np.nan_to_num(x), side="left")  # x ≤ cut → that band
    return pd.Series(np.asarray(names, dtype=object)[codes], index=values.index)


def aligned_labels(
    groups: Mapping[str, pd.Series], n: int, index: pd.Index | None = None
) -> dict[str, np.ndarray]:
    """The labels of every attribute as string arrays in sample order.

    A Series indexed by the samples' IDs is reordered to ``index``; otherwise it must hold
    one label per sample, in order. Missing labels become ``"unknown"``.
    """
    out: dict[str, np.ndarray] = {}
    for name, series in groups.items():
        s = pd.Series(series)
        if index is not None and not s.index.equals(index) and index.isin(s.index).all():
            s = s.reindex(index)
        if len(s) != n:
            raise UserError(LABELS_LENGTH, attribute=name, n_labels=len(s), n=n)
        out[str(name)] = np.asarray(s.astype(object).where(s.notna(), UNKNOWN).astype(str))
    return out


def reference_group(labels: np.ndarray) -> str | None:
    """The largest group other than ``"unknown"`` (ties: the first in sorted order)."""
    values, counts = np.unique(labels[labels != UNKNOWN], return_counts=True)
    return str(values[np.argmax(counts)]) if len(values) else None
