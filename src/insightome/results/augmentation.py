"""The augmentation comparison (results.json ``augmentation``, ``--augment``;
docs/augmentation.md): the best real-only candidate against the best augmented one on the
same out-of-fold predictions, each metric with its 95% bootstrap interval and the paired
difference's, the finding per metric and the verdict in words
(:mod:`insightome.audit.augmentation`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from insightome.results.fields import CI95, MaybeNumber, Number, Record, optional


class ComparedCandidate(Record):
    """The best candidate of one kind: its name and mean cross-validated primary metric."""

    name: str
    cv_value: MaybeNumber


class MetricComparison(Record):
    """One metric of the two candidates (augmented − real-only for the difference)."""

    metric: str
    better: Literal["higher", "lower", "closer to 1"]
    real_only: MaybeNumber
    real_only_ci95: CI95
    augmented: MaybeNumber
    augmented_ci95: CI95
    difference: MaybeNumber
    difference_ci95: CI95
    finding: Literal["better", "worse", "no evidence"]
    # the calibration slope: change in |slope − 1|, which its finding reads
    distance_from_1_change: MaybeNumber = optional()
    distance_from_1_change_ci95: CI95 = optional()
    undefined_bootstraps: int


class Augmentation(Record):
    """``--augment``: what was compared, how, and what it showed."""

    method: Literal["cart", "copula"]
    ratio: Number
    compared: bool
    verdict: str
    caveat: str
    winner: str
    winner_augmented: bool
    augmented_selection_frequency: Number
    n_bootstrap: int
    seed: list[int] = Field(min_length=2, max_length=2)  # SeedSequence([seed, 20])
    real_only: ComparedCandidate = optional()  # absent when not compared
    augmented: ComparedCandidate = optional()
    metrics: list[MetricComparison]
    not_compared_because: str = optional()
