"""The headline of a run: the BBC-CV estimate, the candidates' scores, the winner, and how
the data were resampled (folds, bootstraps, permutations, seeds)."""

from __future__ import annotations

from pydantic import JsonValue

from insightome.results.fields import CI95, MaybeNumber, Number, Record, optional


class Estimate(Record):
    """The headline estimate (results.json ``estimate``): BBC-CV of the selected model."""

    metric: str
    value: MaybeNumber
    ci95: CI95
    plain_cv_value: MaybeNumber
    optimism: MaybeNumber
    permutation_p: MaybeNumber
    method: str
    n_bootstrap: int
    chance_level: Number
    # how each bootstrap scored a candidate and how the interval was read (--bbc-pooling,
    # --bbc-interval; absent in runs written before they were options)
    pooling: str = optional()
    interval: str = optional()


class SecondaryEstimate(Record):
    """A secondary metric, estimated on the same bootstraps as the headline."""

    value: MaybeNumber
    ci95: CI95
    plain_cv_value: MaybeNumber


class Winner(Record):
    """A candidate configuration: ``name``, model ``family`` and hyperparameters."""

    name: str
    family: str
    params: dict[str, JsonValue]


class CandidateScore(Winner):
    """One row of ``configurations``: a candidate and its cross-validated scores."""

    cv_value: MaybeNumber
    cv_sd: MaybeNumber
    bbc_selection_frequency: MaybeNumber
    failed_folds: int
    fit_seconds: Number
    # warning category → number of the candidate's CV fits that raised it (absent in
    # runs written before fit warnings were counted)
    fit_warnings: dict[str, int] = optional()


class FoldChoice(Record):
    """How the fold count was chosen (``fold_design.FoldChoice``): asked for with --folds
    (null: not given), used, and why (the default, given, or the largest the smallest class
    or the groups allow)."""

    requested: int | None
    chosen: int
    reason: str


class Resampling(Record):
    """The resampling plan: K-fold CV repeated, stratified and/or grouped, and BBC-CV."""

    folds: int
    repeats: int
    stratified: bool
    grouped: bool
    cv_seeds: list[int]
    n_bootstrap: int
    seed: int
    fold_choice: FoldChoice = optional()  # absent in runs before issue 17


class Permutation(Record):
    """The label-permutation test ("better than chance"); ``n`` = 0 when not run."""

    n: int
    p_value: MaybeNumber
    null: list[MaybeNumber]
    observed: MaybeNumber = optional()
    statistic: str = optional()


class Seeds(Record):
    """Every seed the run used, derived from the master ``seed``."""

    seed: int
    cv_seeds: list[int]
    bootstrap_seed: int
    permutation_seed: int
    model_seed: int
