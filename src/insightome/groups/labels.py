"""Sensitive-attribute groups: one string label per sample, for the data and model audits.

Each sensitive attribute (a column of the sample annotations) becomes a
:class:`pandas.Series` of group labels aligned with the samples:

* **Missing values** — NaN/None, empty strings and the usual "not recorded" codes
  (:data:`MISSING_CODES`, with or without brackets, as in TCGA's ``[Not Available]``) —
  become the group ``"unknown"``: samples without the attribute are audited as their own
  group rather than silently dropped, since missingness itself is often unequal across
  populations.
* **Categorical or few-valued attributes** keep their values as labels (``1.0`` → ``"1"``).
* **Numeric attributes with many values** (more than :data:`MAX_LEVELS` distinct values;
  an age with more than two) are banded, because a group per value is neither estimable
  nor meaningful. Age attributes (:func:`is_age`: a column named ``age``,
  ``age_at_diagnosis``, ``patient_age`` …) get bands that fit the cohort — conventional
  bands merged, or quartiles, so that at least two bands reach ``min_group_size`` — or the
  user's cut points (``--age-bands``; :mod:`insightome.groups.age_bands`); any other
  numeric attribute gets tertiles, labelled with their cut points (``≤1.2``, ``1.2–3.4``,
  ``>3.4``) so that the report says exactly where the boundaries were (a tertile label
  ``a–b`` holds values in (a, b]).
* **Codes are stated, or named.** Groups that are numbers (sex coded 0/1) keep their
  codes, and the attribute's coding says that the coding was not given; ``--value-labels
  sex=0:female,1:male`` names them (:mod:`insightome.groups.coding`). :func:`grouping`
  returns each attribute's :class:`~insightome.groups.coding.AttributeCoding` with its
  labels.
* **Sex and gender are different attributes.** Sex (biological) and gender (identity)
  are not interchangeable, and the audit never merges them: when a table has both a
  ``sex`` and a ``gender`` column and both are listed, they are two attributes, each with
  its own groups, disparities and verdicts.
* **Intersections** (Crenshaw 1989; Buolamwini & Gebru 2018, "Gender Shades": error rates
  can be unremarkable for each attribute and severe at their intersection). For every pair
  of attributes an attribute named ``"a × b"`` is added, with labels ``"x × y"``, when at
  least two of its cells without an ``"unknown"`` part hold ``min_group_size`` samples or
  more. Smaller cells stay in the labels; the audits report them as insufficient evidence.
  An intersection that splits no group of either attribute (one attribute has a single
  known group, or one determines the other) is left out: its groups would be those of the
  other attribute under another name, and every finding about them would be reported twice.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from insightome import errors
from insightome.errors import UserError, closest_names_hint
from insightome.groups.age_bands import choose_age_bands
from insightome.groups.coding import AttributeCoding, age_coding, tertile_coding, value_coding
from insightome.number_format import fmt_number
from insightome.study import label_string

UNKNOWN = "unknown"
MAX_LEVELS = 10  # a numeric attribute with more distinct values than this is banded
#: "age" as a word of the name: age, age_at_dx, patient_age, AgeAtDiagnosis, PatientAge,
#: ageAtDx (camelCase splits at a capital); not stage, Stage, average, Page
AGE_NAME = re.compile(r"(?:(?:^|[^a-zA-Z])(?:age|Age|AGE)|(?<=[a-z])Age)(?:$|[^a-z])")
INTERSECTION = " × "
LEADING_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?(e[+-]?\d+)?")  # of a band or code label
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


@dataclass(frozen=True)
class Grouping:
    """The group label of every sample per attribute, and how each attribute was coded."""

    labels: dict[str, pd.Series]
    codings: dict[str, AttributeCoding]


def group_labels(
    obs: pd.DataFrame,
    sensitive: Sequence[str],
    *,
    min_group_size: int = 30,
    intersections: bool = True,
    age_bands: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    value_labels: Mapping[str, Mapping[str, str]] | None = None,
    strict_labels: bool = True,
) -> dict[str, pd.Series]:
    """Attribute name → string group label per sample (index of ``obs``); see
    :func:`grouping`, which also says how each attribute was coded."""
    return grouping(
        obs,
        sensitive,
        min_group_size=min_group_size,
        intersections=intersections,
        age_bands=age_bands,
        value_labels=value_labels,
        strict_labels=strict_labels,
    ).labels


def grouping(
    obs: pd.DataFrame,
    sensitive: Sequence[str],
    *,
    min_group_size: int = 30,
    intersections: bool = True,
    age_bands: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    value_labels: Mapping[str, Mapping[str, str]] | None = None,
    strict_labels: bool = True,
) -> Grouping:
    """The groups of each attribute named in ``sensitive`` (columns of ``obs``).

    See the module docstring for banding, the ``"unknown"`` group and intersections (added
    when ``intersections`` is true and at least two cells reach ``min_group_size``).
    ``age_bands`` are cut points in years for every age attribute (``--age-bands``), or
    per attribute (a saved run's recorded bands); without them the bands fit the cohort.
    ``value_labels`` names an attribute's codes (``--value-labels``); a code the data does
    not hold is refused unless ``strict_labels`` is false (a saved run's labels on new
    data, which may lack a group). Sex and gender are
    kept as two separate attributes when both are given; nothing is merged.
    """
    names = list(dict.fromkeys(str(s) for s in sensitive))
    if not names:
        raise UserError(ATTRIBUTES_EMPTY)
    for name in names:
        if name not in obs.columns:
            hint = closest_names_hint(name, obs.columns)
            raise UserError(ATTRIBUTE_MISSING, column=name, hint=hint)
    labels: dict[str, pd.Series] = {}
    codings: dict[str, AttributeCoding] = {}
    for name in names:
        cuts = age_bands.get(name) if isinstance(age_bands, Mapping) else age_bands
        given = (value_labels or {}).get(name)
        labels[name], codings[name] = _labels_of(
            obs[name], name, min_group_size, cuts, given, strict_labels
        )
    if intersections:
        for a, b in itertools.combinations(names, 2):
            if (combined := _intersection(labels[a], labels[b], min_group_size)) is not None:
                labels[combined.name] = combined
    return Grouping(labels, codings)


#: The fixed bands (<40, 40–59, ≥60) of runs made before bands fitted the cohort.
LEGACY_AGE_CUTS = (40.0, 60.0)


def recorded_grouping(
    audit: Mapping[str, Any] | None, attributes: Sequence[str] = ()
) -> dict[str, Any]:
    """The keywords of :func:`grouping` that group other samples (``monitor``'s new data)
    as a saved run grouped its own: each age attribute's recorded cut points and the value
    labels (``results["audit"]``). An audited run made before the codings were recorded
    used the fixed bands: its age ``attributes`` get :data:`LEGACY_AGE_CUTS`, so the new
    groups keep the run's names."""
    codings = (audit or {}).get("codings") or {}
    bands = {a: c["age_bands"]["cuts"] for a, c in codings.items() if c.get("age_bands")}
    if audit and "codings" not in audit:
        bands = {a: list(LEGACY_AGE_CUTS) for a in attributes if is_age(a)}
    labels = {a: c["value_labels"] for a, c in codings.items() if c.get("value_labels")}
    return {"age_bands": bands, "value_labels": labels, "strict_labels": False}


def is_age(name: str) -> bool:
    """Whether a column is an age in years by its name (``age``, ``Age (years)``,
    ``age_at_diagnosis``, ``patient_age``; not ``stage`` or ``page``)."""
    return bool(AGE_NAME.search(str(name)))


def _intersection(a: pd.Series, b: pd.Series, min_group_size: int) -> pd.Series | None:
    """``a × b`` when two of its known cells reach ``min_group_size`` and it splits a group
    of each attribute (else it repeats one of them under another name)."""
    combined = (a + INTERSECTION + b).rename(f"{a.name}{INTERSECTION}{b.name}")
    known = (a != UNKNOWN) & (b != UNKNOWN)
    n_cells = combined[known].nunique()
    if n_cells <= max(a[known].nunique(), b[known].nunique()):
        return None
    if int((combined[known].value_counts() >= min_group_size).sum()) < 2:
        return None
    return combined


def _labels_of(
    column: pd.Series,
    name: str,
    min_group_size: int,
    cuts: Sequence[float] | None,
    given: Mapping[str, str] | None,
    strict: bool = True,
) -> tuple[pd.Series, AttributeCoding]:
    values = column
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    n_values = values.nunique(dropna=True)
    # an age in years is banded unless it has two values at most (already a split)
    banded = numeric and (n_values > MAX_LEVELS or (n_values > 2 and is_age(name)))
    if banded and given:
        reason = f"{name} is banded ({'age bands' if is_age(name) else 'tertiles'}); value "
        reason += "labels name the codes of a coded attribute"
        raise UserError(errors.OPTION_INVALID, option="--value-labels", reason=reason)
    coding: AttributeCoding | None = None
    if banded and is_age(name):
        banding = choose_age_bands(values.to_numpy(float), min_group_size, cuts)
        out = pd.Series(banding.assign(values.to_numpy(float)), index=values.index)
        coding = age_coding(name, banding, set(out[values.notna()]))
    elif banded:
        out = _tertiles(values)
        known = out[values.notna()].drop_duplicates()
        coding = tertile_coding(name, list(known.sort_values(key=_by_value)))
    else:
        out = values.map(label_string)
    out = out.where(values.notna(), UNKNOWN).astype(str)
    coded_missing = out.str.strip().str.strip("[]").str.strip().str.lower().isin(MISSING_CODES)
    out = out.where(~coded_missing, UNKNOWN).rename(name)
    if coding is None:
        out, coding = value_coding(name, out, UNKNOWN, given, strict=strict)
    return out, coding


def _by_value(labels: pd.Series) -> pd.Series:
    """Tertile labels in the order of their bounds (``≤a``, ``a–b``, ``>b``)."""
    return labels.map(lambda s: (s[0] != "≤") + (s[0] == ">"))


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


def group_counts(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The groups of a label array and their sizes, in reading order: bands by their lower
    bound (``<30``, ``30–39``, ``≥40``), numbers by value, then text, ``"unknown"`` last;
    intersections by their parts."""
    values, counts = np.unique(labels, return_counts=True)
    order = sorted(range(len(values)), key=lambda i: _reading_key(str(values[i])))
    return values[order], counts[order]


def _reading_key(label: str) -> tuple[tuple[int, float, str], ...]:
    return tuple(_part_key(part) for part in label.split(INTERSECTION))


def _part_key(part: str) -> tuple[int, float, str]:
    if part == UNKNOWN:
        return (2, 0.0, part)
    below = part[:1] in ("<", "≤")
    number = LEADING_NUMBER.match(part.lstrip("<≤>≥"))
    if number is None:
        return (1, 0.0, part)
    return (0, -np.inf if below else float(number.group()), part)


def reference_group(labels: np.ndarray, min_cell: int = 1) -> str | None:
    """The largest group other than ``"unknown"`` (ties: the first in sorted order); None
    when fewer than two known groups reach ``min_cell`` samples (one group has nothing to
    be compared with: its rows are insufficient evidence, not a reference that looks
    audited)."""
    values, counts = np.unique(labels[labels != UNKNOWN], return_counts=True)
    if np.sum(counts >= min_cell) < 2:
        return None
    return str(values[np.argmax(counts)])
