"""Age bands that fit the cohort: which cut points an age attribute is grouped by, and why.

Fixed bands fail at the edges of a cohort: <40 / 40–59 / ≥60 put a heart-failure cohort of
60–98-year-olds in one group, and the audit then had nothing to compare. The bands are
therefore chosen per cohort, by the first rule that leaves **at least two bands of
``min_group_size`` samples or more** (``--min-group-size``), and the rule is recorded:

1. ``"set by --age-bands"`` — the user's cut points, as given (bands below the minimum
   size stay, and the audit says "insufficient evidence" for them);
2. ``"standard"`` — clinically conventional bands (<18, 18–29, then 10-year bands up to
   ≥90: :data:`STANDARD_CUTS`), a band smaller than ``min_group_size`` merged into its
   smaller neighbour until every band reaches it (e.g. 60–69, 70–79, ≥80 for a cohort of
   60–98-year-olds; 40–49 … ≥80 merged to 40–59, 60–69, ≥70 for a smaller one);
3. ``"quantiles"`` — quartiles of the cohort's ages rounded to whole years, merged the
   same way (a cohort within one decade, e.g. 61–69);
4. ``"insufficient"`` — no split gives two bands of the minimum size (fewer than
   2 × ``min_group_size`` ages): the ages are split at their median, rounded to a whole
   year, and every comparison is "insufficient evidence", rather than one group that
   looks audited. Ages that are all equal stay one band.

A band ``[a, b)`` is labelled ``a–(b−1)`` when both are whole years (``50–64`` holds ages
from 50 up to, not including, 65), ``<a`` and ``≥b`` at the ends, and ``a to <b`` for
cut points that are not whole years.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from insightome.number_format import fmt_number

#: The conventional cut points (years): children, young adults, then decades.
STANDARD_CUTS = (18.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0)
QUANTILES = (0.25, 0.5, 0.75)  # quartiles, when the standard bands leave one group
USER, STANDARD = "set by --age-bands", "standard"
QUANTILE, INSUFFICIENT = "quantiles", "insufficient"


@dataclass(frozen=True)
class AgeBanding:
    """The cut points chosen for one age attribute, the rule that chose them, in words."""

    cuts: tuple[float, ...]
    rule: str
    explanation: str

    def labels(self) -> list[str]:
        """The band labels, youngest first (one more than the cut points)."""
        return band_labels(self.cuts)

    def assign(self, ages: np.ndarray) -> np.ndarray:
        """The band label of each age (NaN ages get an arbitrary band; the caller masks them)."""
        codes = np.searchsorted(np.asarray(self.cuts, float), np.nan_to_num(ages), side="right")
        return np.asarray(self.labels(), dtype=object)[codes]


def choose_age_bands(
    ages: np.ndarray, min_group_size: int, cuts: Sequence[float] | None = None
) -> AgeBanding:
    """The bands of ``ages`` (NaN = not recorded): see the module docstring for the rules."""
    known = np.sort(np.asarray(ages, float)[~np.isnan(np.asarray(ages, float))])
    if cuts:
        given = tuple(float(c) for c in cuts)
        return AgeBanding(given, USER, f"cut points {_cuts_text(given)} years, set by --age-bands")
    standard = _merged(known, STANDARD_CUTS, min_group_size)
    if len(standard) >= 1:
        return AgeBanding(
            standard,
            STANDARD,
            f"standard bands (<18, 18–29, 10-year bands to ≥90), a band under "
            f"{min_group_size} samples merged into its smaller neighbour",
        )
    quartiles = tuple(np.unique(np.round(np.quantile(known, QUANTILES)))) if len(known) else ()
    merged = _merged(known, tuple(float(q) for q in quartiles), min_group_size)
    if len(merged) >= 1:
        return AgeBanding(
            merged,
            QUANTILE,
            f"quartiles of this cohort's ages rounded to whole years (the standard bands "
            f"left one group of {min_group_size}+), a band under {min_group_size} samples "
            "merged into its smaller neighbour",
        )
    median = float(np.round(np.median(known))) if len(known) else np.nan
    split = (median,) if len(known) and known[0] < median <= known[-1] else ()
    reason = (
        f"no split gives two bands of {min_group_size}+ samples ({len(known)} ages "
        "recorded): every comparison is insufficient evidence"
    )
    how = "split at the median" if split else "all ages are equal: one band"
    return AgeBanding(split, INSUFFICIENT, f"{how}; {reason}")


def band_labels(cuts: Sequence[float]) -> list[str]:
    """``(50, 65, 75)`` → ``['<50', '50–64', '65–74', '≥75']``; no cut points: ``['all']``."""
    if not cuts:
        return ["all ages"]
    labels = [f"<{_year(cuts[0])}"]
    for a, b in itertools.pairwise(cuts):
        whole = float(a).is_integer() and float(b).is_integer()
        labels.append(f"{_year(a)}–{_year(b - 1)}" if whole else f"{_year(a)} to <{_year(b)}")
    labels.append(f"≥{_year(cuts[-1])}")
    return labels


def _merged(known: np.ndarray, cuts: tuple[float, ...], min_size: int) -> tuple[float, ...]:
    """``cuts`` with empty bands dropped and a band under ``min_size`` merged into its
    smaller neighbour (the smallest band first) until every band reaches it; ``()`` when
    that leaves one band. An empty lowest band is kept as a floor (a cohort of
    60–98-year-olds starts at 60–69, not at <70) and is not counted."""
    bands = list(cuts)
    while len(bands) >= 2 and _counts(known, bands)[:2] == [0, 0]:
        del bands[0]  # the lowest bands are empty: the floor moves up
    while bands and _counts(known, bands)[-1] == 0:
        del bands[-1]  # the highest band is empty: the one below becomes "≥"
    while bands and (empty := [i for i, c in enumerate(_counts(known, bands)) if c == 0 and i]):
        del bands[empty[0]]  # an empty band inside: merged into the one above
    while len(bands) >= 1:
        counts = _counts(known, bands)
        floor = int(counts[0] == 0)  # the empty band below the floor is no group
        populated = counts[floor:]
        if len(populated) < 2 or min(populated) >= min_size:
            break
        i = floor + int(np.argmin(populated))
        left = counts[i - 1] if i > floor else np.inf
        right = counts[i + 1] if i + 1 < len(counts) else np.inf
        del bands[i - 1 if left <= right else i]  # the cut shared with the smaller neighbour
    counts = _counts(known, bands)
    return tuple(bands) if len(counts) - int(counts[0] == 0) >= 2 else ()


def _counts(known: np.ndarray, cuts: Sequence[float]) -> list[int]:
    """Ages per band ``[cuts[i-1], cuts[i])``."""
    edges = np.searchsorted(known, np.asarray(cuts, float), side="left")
    return list(np.diff(np.concatenate([[0], edges, [len(known)]])).astype(int))


def _year(value: float) -> str:
    return fmt_number(float(value), spec=".4g", missing=None)


def _cuts_text(cuts: Sequence[float]) -> str:
    return ", ".join(_year(c) for c in cuts)
