"""The learning curve (results.json ``learning_curve``, ``--learning-curve``;
docs/learning-curves.md): the winner's primary metric at each training size, on a fresh
resampling plan like the run's; the inverse power law fitted to it with its hierarchical
bootstrap band; what doubling the cohort (N → 2N) is expected to buy, or why the curve
cannot say; with discovery, the signature's stability versus n
(``stages.learning.curve_dict``)."""

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


class CurveResampling(Record):
    """The curve's own plan: the run's folds and groups, a seed derived from the run's
    (``SeedSequence([seed, 19])``), at least 3 repeats below 20,000 samples."""

    folds: int
    repeats: int
    run_repeats: int
    seed: int
    grouped: bool


class DrawnCurve(Record):
    """The fitted curve and its 95% bootstrap band on a grid of training sizes up to 2N."""

    n: list[Number]
    fitted: list[MaybeNumber]
    low: list[MaybeNumber]
    high: list[MaybeNumber]


class StabilityPoint(Record):
    n: Number
    stability: MaybeNumber  # Nogueira's (= Kuncheva's) index, mean over disjoint pairs
    ci95: CI95 | None  # bootstrap (over pairs) 95% CI of the mean
    range95: CI95 | None  # 2.5th and 97.5th percentiles of the pairs' values
    jaccard: MaybeNumber


class StabilityChange(Record):
    """Last minus first measured point, with a bootstrap (over pairs) 95% CI."""

    n_from: Number
    n_to: Number
    change: Number
    ci95: CI95
    rising: bool  # the interval lies above 0


class StabilityVersusN(Record):
    """Signature stability versus n (``discover.stability_curve.StabilityCurve.to_dict``)."""

    method: str
    q: int
    n_pairs: int
    points: list[StabilityPoint]
    change: StabilityChange | None  # null with fewer than two measured points
    skipped: list[str]
    summary: str


class LearningCurve(Record):
    method: str
    winner: str | None
    metric: str | None
    n_samples: int  # N: the samples the final model is trained on
    n_groups: int = optional()  # with --groups: the patients (groups) of the cohort
    fractions_dropped: list[str]  # "0.2 (about 14 training samples): why"
    resampling: CurveResampling
    points: list[CurvePoint]
    fit: PowerLaw | None  # on the observed curve
    n_full: MaybeNumber  # mean training size at the full fraction (about 0.8·N, 5 folds)
    doubling_from: MaybeNumber  # N
    doubling_to: MaybeNumber  # 2N: the drawn curve ends here
    band_conditional: bool  # 1 repeat: band and interval conditional on one set of subsamples
    curve: DrawnCurve
    doubling_gain: MaybeNumber  # perf(2N) − perf(N); null unless verdict is "estimated"
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
