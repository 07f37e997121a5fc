"""Bootstrap bias-corrected cross-validation (BBC-CV).

Tsamardinos, Greasidou & Borboudakis, "Bootstrapping the out-of-sample predictions for
efficient and accurate cross-validation", Machine Learning 107 (2018).

Choosing the best of C configurations by their cross-validated score and reporting that
score is optimistic (the maximum of noisy estimates). BBC-CV removes the optimism without
refitting anything: it bootstraps the pooled out-of-fold predictions, lets the *selection*
happen on each bootstrap sample (in-bag) and scores the selected configuration on the
samples left out (out-of-bag). The mean out-of-bag score is the estimate; its 2.5th and
97.5th percentiles are the 95% interval. With repeated CV, Tsamardinos et al.'s bootstrap b
uses repeat b mod R (``pooling="one_repeat"``); insightome's default scores every bootstrap
on the mean over all repeats (``"all_repeats"``: less noise from any one split into folds,
less bias in benchmarks/results/estimators.md). With groups (several samples per
patient), whole groups are resampled.

``pooling`` may also score per fold; ``interval`` narrows the interval (``calibrated``,
``oob_scaled``); see the comments at :func:`estimator_arguments` and
benchmarks/results/estimators.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from insightome.evaluate.metrics import PRIMARY, SECONDARY, MetricSpec, mean_of_defined
from insightome.options.checks import (
    CALIBRATED_WIDTH,
    DEFAULT_INTERVAL,
    DEFAULT_POOLING,
    INTERVALS,
    POOLINGS,
)

CHUNK_CELLS = 20_000_000  # bootstrap weights held at once (160 MB of float64)

SelectionRule = Callable[[np.ndarray], np.ndarray]


def select_best(scores: np.ndarray) -> np.ndarray:
    """The default selection rule: the best column of each row of (B × C) oriented scores."""
    return np.where(np.isnan(scores), -np.inf, scores).argmax(axis=1)


@dataclass(frozen=True)
class MetricEstimate:
    value: float
    ci95: tuple[float, float]
    plain_cv_value: float

    def to_dict(self) -> dict[str, object]:
        return {"value": self.value, "ci95": list(self.ci95), "plain_cv_value": self.plain_cv_value}


@dataclass(frozen=True)
class BBCResult:
    metric: str
    estimate: MetricEstimate
    winner: int
    cv_mean: np.ndarray  # (C,) mean over repeats of the pooled out-of-fold metric
    cv_sd: np.ndarray  # (C,) sd over repeats
    selection_frequency: np.ndarray  # (C,) how often each candidate won a bootstrap
    n_bootstrap: int
    chance: float | None
    secondary: dict[str, MetricEstimate] = field(default_factory=dict)
    # (B,) each bootstrap's out-of-bag score of its in-bag choice, and the fraction of the
    # samples out of its bag: the distribution the interval is read off
    oob_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    oob_fraction: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # average_top: the configurations averaged in column C (the top ones by plain CV); the
    # arrays above then have C + 1 entries, the last the average's (its selection
    # frequency: the bootstraps that chose an average, of whichever top configurations)
    averaged: tuple[int, ...] = ()


def bootstrap_weights(
    n: int, n_bootstrap: int, rng: np.random.Generator, groups: np.ndarray | None = None
) -> np.ndarray:
    """(B × n) counts of each sample in B bootstrap samples (whole groups when given).

    ``groups`` (one label per sample, e.g. a patient ID or its code) makes this a cluster
    bootstrap: G groups are drawn with replacement from the G distinct labels and every
    sample of a drawn group gets its group's count, so a group never straddles the in-bag
    and out-of-bag parts. With one sample per group it draws exactly what ``groups=None``
    draws. The one helper for bootstrap weights: BBC-CV, the model audit and any other
    resampling of a study with ``--groups`` use it.
    """
    if groups is None:
        return rng.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap).astype(float)
    _, codes = np.unique(np.asarray(groups), return_inverse=True)  # 0..G-1, none unused
    g = int(codes.max()) + 1
    group_counts = rng.multinomial(g, np.full(g, 1.0 / g), size=n_bootstrap)
    return group_counts[:, codes].astype(float)


def _scores(
    metric: MetricSpec,
    y: np.ndarray,
    oof_r: np.ndarray,
    W: np.ndarray,
    threshold: np.ndarray | None = None,
    columns: np.ndarray | None = None,
) -> np.ndarray:
    """(B × C) metric of every candidate under every weighting, oriented higher = better;
    with ``columns``, of those candidates only (the others -inf: never chosen)."""
    fn = metric.thresholded(threshold)
    cols = np.arange(oof_r.shape[0]) if columns is None else np.asarray(columns)
    vals = np.full((W.shape[0], oof_r.shape[0]), -np.inf)
    if len(cols):
        scored = np.column_stack([fn(y, oof_r[c], W) for c in cols])
        vals[:, cols] = scored if metric.higher_is_better else -scored
    return vals


def cv_scores(
    oof: np.ndarray,
    y: np.ndarray,
    metric: MetricSpec,
    thresholds: np.ndarray | None = None,
    fold_of: np.ndarray | None = None,
) -> np.ndarray:
    """(R × C) plain metric of every candidate in every repeat (NaN where unusable);
    ``thresholds`` (R × n) are the decision thresholds of thresholded metrics. With
    ``fold_of`` (R × n, the fold of every sample) it is the mean over the repeat's folds of
    the metric within each fold (``pooling="per_fold"``)."""
    ones = np.ones((1, len(y)))
    out = np.full(oof.shape[:2], np.nan)
    for r in range(oof.shape[0]):
        fn = metric.thresholded(None if thresholds is None else thresholds[r])
        fold_r = None if fold_of is None else fold_of[r]
        for c in range(oof.shape[1]):
            if not np.isnan(oof[r, c]).any():
                out[r, c] = _values(fn, y, oof[r, c], ones, fold_r)[0]
    return out


# How a bootstrap scores a candidate (``pooling=``, options.checks.POOLINGS):
# ``one_repeat`` — the metric of the pooled out-of-fold predictions of one CV repeat
# (bootstrap b uses repeat b mod R; Tsamardinos et al.'s BBC-CV); ``all_repeats`` (the
# default) — the mean over every repeat of that pooled metric, under the same weights (less
# noise from any one split into folds, in the in-bag choice and out of the bag; it scores R
# repeats per bootstrap where one_repeat scores one); ``per_fold`` — the
# mean over one repeat's folds of the metric within each fold (a fold's predictions come
# from one model, so models' different score scales never meet in one AUC; noisy on small
# folds). benchmarks/results/estimators.md measures each against held-out scores.
#
# How the 95% interval is read off the out-of-bag scores (``interval=``, INTERVALS):
# ``percentile`` (the default) — their 2.5th and 97.5th percentiles; ``calibrated`` — the
# same after multiplying each score's distance from their mean by CALIBRATED_WIDTH[pooling]
# (0.7, 0.8, 0.6: chosen per pooling to keep >= 90% coverage);
# ``oob_scaled`` — by sqrt(its out-of-bag fraction) instead (~0.61: an out-of-bag sample
# holds ~36.8% of the patients, so its metric varies ~1/0.368 times as much as on all of
# them).


def estimator_arguments(
    pooling: str, interval: str, splits: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]], n: int
) -> dict[str, Any]:
    """The keyword arguments of :func:`bbc_cv` for a run's ``--bbc-pooling`` and
    ``--bbc-interval`` over its plan's ``splits`` of ``n`` samples (the folds only where
    ``per_fold`` needs them). Every BBC-CV of a run (the headline, each family's, the
    signature's) takes them, so all are estimated the same way."""
    folds = fold_membership(splits, n) if pooling == "per_fold" else None
    return {"pooling": pooling, "interval": interval, "folds": folds}


def _pooled_scores(
    metric: MetricSpec,
    y: np.ndarray,
    oof_r: np.ndarray,
    W: np.ndarray,
    threshold: np.ndarray | None,
    fold_of: np.ndarray | None,
    columns: np.ndarray | None = None,
) -> np.ndarray:
    """(B × C) oriented scores of one repeat (of ``columns`` only; the others -inf): pooled,
    or the mean over folds (``fold_of``, the fold of every sample) of the metric within
    each fold."""
    if fold_of is None:
        return _scores(metric, y, oof_r, W, threshold, columns)
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty fold: NaN, left out
        per_fold = [
            _scores(metric, y, oof_r, W * (fold_of == f), threshold, columns)
            for f in np.unique(fold_of)
        ]
    return mean_of_defined(np.stack(per_fold))


def _values(
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    y: np.ndarray,
    pred: np.ndarray,
    W: np.ndarray,
    fold_of: np.ndarray | None,
) -> np.ndarray:
    """(B,) metric ``fn`` of one candidate's predictions under each weighting: pooled, or
    the mean over folds (``fold_of``) of the metric within each fold."""
    if fold_of is None:
        return fn(y, pred, W)
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty fold: NaN, left out
        per_fold = np.stack([fn(y, pred, W * (fold_of == f)) for f in np.unique(fold_of)])
    return mean_of_defined(per_fold)


def fold_membership(
    splits: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]], n: int
) -> np.ndarray:
    """(R × n) fold index of every sample in every repeat (``splits``: a plan's
    [repeat][fold] → (train, test))."""
    out = np.full((len(splits), n), -1)
    for r, folds in enumerate(splits):
        for f, (_, test) in enumerate(folds):
            out[r, test] = f
    return out


def bbc_cv(
    oof: np.ndarray,
    y: np.ndarray,
    task: str,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    groups: np.ndarray | None = None,
    select: SelectionRule = select_best,
    metric: MetricSpec | None = None,
    thresholds: np.ndarray | None = None,
    choice: int | None = None,
    pooling: str = DEFAULT_POOLING,
    folds: np.ndarray | None = None,
    interval: str = DEFAULT_INTERVAL,
    average_top: int = 0,
) -> BBCResult:
    """BBC-CV estimate of the select-the-best procedure's performance, with a 95% CI.

    ``select`` is the selection procedure being estimated: it maps (B × C) scores (higher
    is better; ``-inf`` for unusable candidates) to the chosen column of each row. It is
    applied to the plain CV scores (the reported choice) and, in-bag, to every bootstrap,
    so any rule — e.g. "the smallest signature within a tolerance of the full model" — is
    bias-corrected exactly as the default "pick the best" is. ``metric`` replaces the
    task's primary metric (e.g. a benchmark's own metric, such as TDC's MAE or AUPRC).

    ``thresholds`` (R × n; binary tasks) is the decision threshold of every out-of-fold
    prediction, the prevalence of the training folds that made it
    (:func:`insightome.evaluate.metrics.fold_thresholds`): thresholded metrics such as
    balanced accuracy use it, so held-out labels never set their own threshold.

    ``choice`` is the reported choice when it was made outside, on more data than ``oof``
    holds (e.g. a configuration chosen on all CV repeats); by default ``select`` makes it.

    ``pooling`` (:data:`POOLINGS`) is how a bootstrap scores a candidate; ``per_fold``
    needs ``folds`` (R × n, :func:`fold_membership`). ``interval`` (:data:`INTERVALS`) is
    how the 95% interval is read off the out-of-bag scores.

    ``average_top`` (≥ 2; classification: the candidates' predictions are probabilities)
    adds the average of the ``average_top`` best candidates to the selection: the plain CV
    ranking picks them and their average wins when its score beats the best candidate's;
    every bootstrap repeats both steps in-bag (its own top candidates, then average or
    not), so the estimate is corrected for the averaging as for the choice. The average of
    the reported top candidates is column C of the result (``averaged``: their indices).
    """
    _check_arguments(pooling, interval, folds, average_top, select, choice, task)
    metric = metric or PRIMARY[task]
    R, C = oof.shape[:2]
    secondary_specs = SECONDARY[task]
    if thresholds is None and any(m.at for m in (metric, *secondary_specs)):
        raise ValueError(f"{task} BBC-CV needs the out-of-fold decision thresholds")
    thresholds = None if thresholds is None else np.asarray(thresholds)[:R]
    usable = ~np.isnan(oof).any(axis=(0, 2, 3))
    if not usable.any():
        raise RuntimeError("no candidate configuration could be fitted on every fold")
    fold_of = None if folds is None or pooling != "per_fold" else np.asarray(folds)[:R]
    scorer = _Scorer(
        np.nan_to_num(oof), y, metric, thresholds, fold_of, np.flatnonzero(usable), average_top
    )  # unusable candidates are never picked (their NaN predictions read as 0 here)
    # the reported choice is made as every bootstrap makes it: per fold under per_fold
    per_repeat = cv_scores(oof, y, metric, thresholds, fold_of)  # NaN: unusable ones
    oriented = _oriented(per_repeat.mean(axis=0), metric)
    winner = int(select(np.where(usable, oriented, -np.inf)[None, :])[0])
    winner = winner if choice is None else choice
    finite = usable & np.isfinite(oriented)  # a usable candidate may still score NaN
    if average_top and finite.sum() >= average_top:
        ranked = np.argsort(-np.where(finite, oriented, -np.inf), kind="stable")
        scorer.report(tuple(sorted(int(c) for c in ranked[:average_top])))
        average = scorer.average(scorer.averaged)[:, None]
        per_repeat = np.column_stack(
            [per_repeat, cv_scores(average, y, metric, thresholds, fold_of)]
        )
        if _oriented(per_repeat.mean(axis=0), metric)[C] > oriented[winner]:
            winner = C
    cv_mean = per_repeat.mean(axis=0)
    cv_sd = per_repeat.std(axis=0, ddof=1) if R > 1 else np.full(len(cv_mean), np.nan)

    draws = _draw_and_score(
        scorer, select, usable, n_bootstrap, seed, groups, pooling, secondary_specs
    )
    chosen, oob_fraction = draws.chosen, draws.oob_fraction

    def summarize(values: np.ndarray, plain: float) -> MetricEstimate:
        return _summarize(values, plain, interval, pooling, oob_fraction)

    secondary = {}
    winner_oof = oof[:, [winner]] if winner < C else scorer.average(scorer.averaged)[:, None]
    for m in secondary_specs:
        plain = float(np.nanmean(cv_scores(winner_oof, y, m, thresholds, fold_of)))
        secondary[m.name] = summarize(draws.secondary[m.name], plain)
    width = len(cv_mean)  # C, or C + 1 with the reported average
    return BBCResult(
        metric=metric.name,
        estimate=summarize(draws.oob, float(cv_mean[winner])),
        winner=winner,
        cv_mean=cv_mean,
        cv_sd=cv_sd,
        selection_frequency=np.bincount(np.minimum(chosen[chosen >= 0], width - 1), minlength=width)
        / n_bootstrap,
        n_bootstrap=n_bootstrap,
        chance=metric.chance,
        secondary=secondary,
        oob_scores=draws.oob,
        oob_fraction=oob_fraction,
        averaged=scorer.averaged,
    )


def _check_arguments(
    pooling: str,
    interval: str,
    folds: np.ndarray | None,
    average_top: int,
    select: SelectionRule,
    choice: int | None,
    task: str,
) -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling={pooling!r}: choose one of {POOLINGS}")
    if interval not in INTERVALS:
        raise ValueError(f"interval={interval!r}: choose one of {INTERVALS}")
    if pooling == "per_fold" and folds is None:
        raise ValueError("pooling='per_fold' needs the fold of every sample (folds=)")
    if average_top and (average_top < 2 or select is not select_best or choice is not None):
        raise ValueError("average_top needs >= 2 and the default selection rule")
    if average_top and task not in ("binary", "multiclass"):
        raise ValueError(f"average_top averages class probabilities: not for a {task} task")


def _oriented(values: np.ndarray, metric: MetricSpec) -> np.ndarray:
    """``values`` of ``metric`` with higher = better."""
    return values if metric.higher_is_better else -values


def _summarize(
    values: np.ndarray, plain: float, interval: str, pooling: str, oob_fraction: np.ndarray
) -> MetricEstimate:
    """The estimate (mean out-of-bag score) and its 95% interval, read as ``interval``."""
    centre = float(np.nanmean(values))
    if interval == "oob_scaled":
        values = centre + (values - centre) * np.sqrt(oob_fraction)
    elif interval == "calibrated":
        values = centre + (values - centre) * CALIBRATED_WIDTH[pooling]
    lo, hi = np.nanpercentile(values, [2.5, 97.5])
    return MetricEstimate(centre, (float(lo), float(hi)), float(plain))


@dataclass
class _Scorer:
    """What every bag of one BBC-CV scores: the candidates' out-of-fold predictions (NaN as
    0), the metric with each repeat's thresholds and folds, and the averages of top
    candidates bags choose (``average_top``): column C is the reported average, C + 1, …
    the others, numbered as bags first choose them."""

    oof: np.ndarray  # (R, C, n, k)
    y: np.ndarray
    metric: MetricSpec
    thresholds: np.ndarray | None
    fold_of: np.ndarray | None
    usable_columns: np.ndarray
    average_top: int = 0
    averaged: tuple[int, ...] = ()  # the reported average's members (column C)
    averages: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)
    average_ids: dict[tuple[int, ...], int] = field(default_factory=dict)
    average_of: dict[int, tuple[int, ...]] = field(default_factory=dict)

    @property
    def n_candidates(self) -> int:
        return self.oof.shape[1]

    def threshold(self, r: int) -> np.ndarray | None:
        return None if self.thresholds is None else self.thresholds[r]

    def fold(self, r: int) -> np.ndarray | None:
        return None if self.fold_of is None else self.fold_of[r]

    def report(self, members: tuple[int, ...]) -> None:
        """The plain CV's average of top candidates: column C."""
        self.averaged = members
        self.average_ids[members] = self.n_candidates
        self.average_of[self.n_candidates] = members

    def average(self, members: tuple[int, ...]) -> np.ndarray:
        """(R, n, k) mean out-of-fold predictions of ``members``."""
        if members not in self.averages:
            self.averages[members] = self.oof[:, list(members)].mean(axis=1)
        return self.averages[members]

    def prediction(self, r: int, c: int) -> np.ndarray:
        """(n, k) out-of-fold predictions of column ``c`` in repeat ``r``."""
        return self.oof[r, c] if c < self.n_candidates else self.average(self.average_of[c])[r]

    def in_bag(self, W: np.ndarray, r: int) -> np.ndarray:
        """(B × C) oriented scores of every usable candidate in repeat ``r``."""
        return _pooled_scores(
            self.metric, self.y, self.oof[r], W, self.threshold(r), self.fold(r),
            self.usable_columns,
        )  # fmt: skip

    def chosen_values(
        self, spec: MetricSpec, W: np.ndarray, pick: np.ndarray, repeats: Sequence[int]
    ) -> np.ndarray:
        """(rows,) ``spec`` of each row's chosen candidate under its weights, averaged over
        ``repeats``: out of the bag, only the chosen candidates are scored."""
        values = np.zeros(len(pick))
        for r in repeats:
            fn = spec.thresholded(self.threshold(r))
            for c in np.unique(pick):
                on = pick == c
                values[on] += _values(fn, self.y, self.prediction(r, int(c)), W[on], self.fold(r))
        return values / len(repeats)

    def with_averages(
        self, in_bag: np.ndarray, pick: np.ndarray, W: np.ndarray, repeats: Sequence[int]
    ) -> np.ndarray:
        """Each bag's choice between its best candidate and the average of its
        ``average_top`` best (in-bag), the average winning when it scores higher."""
        top = np.sort(np.argsort(-in_bag, axis=1, kind="stable")[:, : self.average_top], axis=1)
        full = np.isfinite(np.take_along_axis(in_bag, top, axis=1)).all(axis=1)
        pick = pick.copy()
        keys, inverse = np.unique(top, axis=0, return_inverse=True)
        for i, key in enumerate(keys):
            rows = np.flatnonzero((inverse.ravel() == i) & full)
            if not len(rows):
                continue
            members = tuple(int(c) for c in key)
            score = np.mean(
                [
                    _pooled_scores(
                        self.metric, self.y, self.average(members)[r][None], W[rows],
                        self.threshold(r), self.fold(r),
                    )[:, 0]
                    for r in repeats
                ],
                axis=0,
            )  # fmt: skip
            score = np.where(np.isnan(score), -np.inf, score)
            better = score > in_bag[rows, pick[rows]]
            if better.any():
                if members not in self.average_ids:
                    self.average_ids[members] = self.n_candidates + len(self.average_ids)
                    self.average_of[self.average_ids[members]] = members
                pick[rows[better]] = self.average_ids[members]
        return pick


@dataclass
class _Draws:
    """Per bootstrap: the column its bag chose (-1: none), the out-of-bag score of that
    choice (primary and secondary metrics) and the share of samples out of its bag."""

    chosen: np.ndarray
    oob: np.ndarray
    oob_fraction: np.ndarray
    secondary: dict[str, np.ndarray]


def _draw_and_score(
    scorer: _Scorer,
    select: SelectionRule,
    usable: np.ndarray,
    n_bootstrap: int,
    seed: int,
    groups: np.ndarray | None,
    pooling: str,
    secondary_specs: Sequence[MetricSpec],
) -> _Draws:
    """Draw the bootstraps, let each bag choose (``select``, then an average of its top
    candidates when ``scorer`` offers one) and score the choice out of the bag."""
    R, _, n, _ = scorer.oof.shape
    rng = np.random.default_rng(seed)
    repeat_of = np.arange(n_bootstrap) % R
    draws = _Draws(
        np.full(n_bootstrap, -1), np.full(n_bootstrap, np.nan), np.full(n_bootstrap, np.nan),
        {m.name: np.full(n_bootstrap, np.nan) for m in secondary_specs},
    )  # fmt: skip
    # Bootstraps are drawn and scored in chunks of at most ~CHUNK_CELLS weights, in order,
    # so memory stays bounded for large n and the draws are the same as in one batch.
    chunk = max(1, CHUNK_CELLS // max(n, 1))
    for start in range(0, n_bootstrap, chunk):
        block = np.arange(start, min(start + chunk, n_bootstrap))
        W_in = bootstrap_weights(n, len(block), rng, groups)
        W_out = (W_in == 0).astype(float)
        draws.oob_fraction[block] = W_out.mean(axis=1)
        # (rows of the block, the repeats each row is scored on)
        if pooling == "all_repeats":
            parts = [(np.arange(len(block)), tuple(range(R)))]
        else:
            parts = [(np.flatnonzero(repeat_of[block] == r), (r,)) for r in range(R)]
        for local, repeats in parts:
            if not len(local):
                continue
            rows = block[local]
            in_bag = np.mean([scorer.in_bag(W_in[local], r) for r in repeats], axis=0)
            in_bag[:, ~usable] = -np.inf
            in_bag = np.where(np.isnan(in_bag), -np.inf, in_bag)
            # a bag where no candidate could be scored (e.g. no positive drawn) chooses
            # nothing: it is left out of the estimate and the selection frequencies
            scored = (in_bag > -np.inf).any(axis=1)
            local, rows, in_bag = local[scored], rows[scored], in_bag[scored]
            if not len(local):
                continue
            pick = select(in_bag)
            if scorer.averaged:
                pick = scorer.with_averages(in_bag, pick, W_in[local], repeats)
            draws.chosen[rows] = pick
            draws.oob[rows] = scorer.chosen_values(scorer.metric, W_out[local], pick, repeats)
            for m in secondary_specs:
                draws.secondary[m.name][rows] = scorer.chosen_values(m, W_out[local], pick, repeats)
    return draws
