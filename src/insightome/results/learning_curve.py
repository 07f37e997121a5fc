"""The learning curve (results.json ``learning_curve``, ``--learning-curve``;
docs/learning-curves.md): the winner's primary metric at each training size, nested in the
run's resampling; the inverse power law fitted to it with its bootstrap band; what doubling
the cohort is expected to buy, or why the curve cannot say; with discovery, the
signature's stability versus n (``stages.learning.curve_dict``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from insightome.results.fields import CI95, MaybeNumber, Number, Record, optional

Verdict = Literal["estimated", "too_few_sizes", "no_signal", "flat", "fit_failed", "too_noisy"]


class CurvePoint(Record):
    """One training size: the fraction of every training fold, the training samples (mean
    and range over folds and repeats), the score (mean over repeats of the pooled
    out-of-fold score) and the spread of the per-fold scores."""

    fraction: Number
    n_train: Number
    n_train_range: list[int] = Field(min_length=2, max_length=2)
    n_groups: Number = optional()  # with --groups: mean training groups
    score: MaybeNumber
    repeat_scores: list[MaybeNumber]
    fold_sd: MaybeNumber
    fold_range: list[Number] | None = Field(min_length=2, max_length=2)


class PowerLaw(Record):
    """``a − b·n^(−c)`` fitted to (n_train, score)."""

    a: Number
    b: Number
    c: Number


class DrawnCurve(Record):
    """The fitted curve and its 95% bootstrap band on a grid of training sizes up to 2n."""

    n: list[Number]
    fitted: list[MaybeNumber]
    low: list[MaybeNumber]
    high: list[MaybeNumber]


class StabilityPoint(Record):
    n: Number
    stability: MaybeNumber  # Nogueira's (= Kuncheva's) index, mean over disjoint pairs
    ci95: CI95 | None
    jaccard: MaybeNumber


class StabilityVersusN(Record):
    """Signature stability versus n (``discover.stability_curve.StabilityCurve.to_dict``)."""

    method: str
    q: int
    n_pairs: int
    points: list[StabilityPoint]
    skipped: list[str]
    summary: str


class LearningCurve(Record):
    method: str
    winner: str | None
    metric: str | None
    n_samples: int
    fractions_dropped: list[str]  # "0.2 (about 14 training samples): why"
    points: list[CurvePoint]
    fit: PowerLaw | None  # on the observed curve
    n_full: MaybeNumber  # mean training size at the full fraction
    curve: DrawnCurve
    doubling_gain: MaybeNumber  # perf(2n) − perf(n); null unless verdict is "estimated"
    doubling_gain_ci95: CI95 | None
    verdict: Verdict
    reason: str  # why no gain is given ("" when it is)
    full_size_ci95: CI95
    rise: MaybeNumber  # full-size score − smallest-size score
    rise_ci95: CI95
    n_bootstrap: int
    failed_bootstrap_fits: int
    max_failed_share: Number
    failed_fits: int  # fits of the winner that failed (their test folds left out)
    sentence: str
    notes: list[str]
    signature_stability: StabilityVersusN = optional()  # with discovery
