"""Learning curves nested in a fresh resampling plan: the winner at smaller training sizes.

The curve is built on a **fresh** plan (:func:`fresh_plan`): the run's folds, groups and
stratification, at least :data:`MIN_REPEATS` repeats below ``LARGE_N`` samples, and a seed
derived from the run's (``SeedSequence([seed, CURVE_SEED_KEY])``). The run's own splits
picked the winner, so its score on them is optimistic (the winner's curse); reusing them
at 100% would lift the curve's last point and steepen the curve. On the fresh plan every
size, 100% included, is fitted anew.

For every training fold of that plan (every repeat), nested subsamples are drawn at
each fraction of :data:`FRACTIONS` — stratified like the plan (class, event status or
outcome quintile) and, with groups, made of whole groups, so a patient never straddles
the subsample and the test fold. Each fraction's subsample holds the smaller fractions'
subsamples (one seeded order per fold, cut at each size), so the curve is smooth. The
winner's whole pipeline (imputation, scaling, univariate selection, model) is fitted on
each subsample and predicts that fold's *full* test fold; the fits go through
:func:`insightome.evaluate.engine.cross_validated_predictions` with a
:class:`~insightome.evaluate.splitters.ResamplingPlan` whose "repeats" are (fraction,
repeat) pairs, so they run in parallel, on a cluster, and from the fit cache on resume.

A fraction is dropped, with the reason, when a subsample would leave a class (binary,
multiclass) or the events (survival) with fewer than :data:`MIN_PER_CLASS` training
samples in some fold (a class with fewer in the training fold itself — one sample of a
class of 2 under 2-fold CV, :mod:`insightome.fold_design` — needs all of them), or fewer
than :data:`MIN_SAMPLES` samples in all.

Scores: the task's primary metric (:data:`insightome.evaluate.metrics.PRIMARY`), per
fraction the mean over repeats of the pooled out-of-fold score (as the run scores its
candidates), with the spread of the per-fold scores. :func:`bootstrap_curves` is a
hierarchical bootstrap: each bootstrap curve draws the repeats with replacement (which
subsample and fold split was drawn) and weights the test samples (whole groups with
``groups``), the same draws at every size, so the curves are paired across sizes
(:mod:`.power_law` fits them). The weights are drawn and scored in chunks of at most
``bbc.CHUNK_CELLS`` cells, so memory stays bounded at large n.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from insightome.evaluate import bbc
from insightome.evaluate.bbc import bootstrap_weights
from insightome.evaluate.group_level import group_codes
from insightome.evaluate.metrics import PRIMARY, MetricSpec
from insightome.evaluate.splitters import ResamplingPlan, make_plan, stratification_labels
from insightome.models.candidates import LARGE_N

FRACTIONS = (0.2, 0.3, 0.45, 0.6, 0.8, 1.0)
MIN_PER_CLASS = 2  # training samples of every class (events, survival) in a subsample
MIN_SAMPLES = 5  # training samples in a subsample, whatever the task
#: repeats of the curve's plan below LARGE_N samples (the run's, when it has more): with
#: one repeat the band could not reflect which subsamples happened to be drawn
MIN_REPEATS = 3
CURVE_SEED_KEY = 19  # the curve's plan seed: SeedSequence([run seed, CURVE_SEED_KEY])


def curve_seed(seed: int) -> int:
    """The fresh plan's seed, derived from the run's (documented: docs/learning-curves.md)."""
    return int(np.random.SeedSequence([seed, CURVE_SEED_KEY]).generate_state(1)[0] % (2**31))


def curve_repeats(run_repeats: int, n_samples: int) -> int:
    """At least :data:`MIN_REPEATS` below ``LARGE_N`` samples; the run's own above it."""
    return max(run_repeats, MIN_REPEATS) if n_samples < LARGE_N else run_repeats


def fresh_plan(
    plan: ResamplingPlan, y: np.ndarray, task: str, *, groups: np.ndarray | None, seed: int
) -> ResamplingPlan:
    """A new plan like the run's (folds, groups, stratification), not the splits that chose
    the winner: :func:`curve_repeats` repeats, seeded by :func:`curve_seed`."""
    return make_plan(
        y, task, folds=plan.folds, repeats=curve_repeats(plan.repeats, len(y)),
        seed=curve_seed(seed), groups=groups,
    )  # fmt: skip


@dataclass(frozen=True)
class CurvePlan:
    """The subsampled plan: ``plan.splits[s * repeats + r]`` is fraction ``s``, repeat ``r``."""

    fractions: tuple[float, ...]  # kept, increasing
    plan: ResamplingPlan
    repeats: int
    sizes: np.ndarray  # (S, R, K) training samples of every subsample
    group_sizes: np.ndarray | None  # (S, R, K) training groups, with groups
    dropped: list[str] = field(default_factory=list)  # "0.2: why" per dropped fraction


def nested_order(
    train: np.ndarray, strata: np.ndarray, codes: np.ndarray | None, rng: np.random.Generator
) -> list[np.ndarray]:
    """Per stratum, the training samples in a random order (whole groups together; with
    groups, ``strata`` is constant within each); a subsample takes a prefix of each."""
    out = []
    for s in np.unique(strata[train]):
        members = train[strata[train] == s]
        if codes is None:
            out.append(rng.permutation(members))
            continue
        groups = np.unique(codes[members])
        order = rng.permutation(groups)
        rank = np.empty(int(codes.max()) + 1, dtype=int)
        rank[order] = np.arange(len(order))
        out.append(members[np.argsort(rank[codes[members]], kind="stable")])
    return out


def take(orders: list[np.ndarray], fraction: float, codes: np.ndarray | None) -> np.ndarray:
    """The sorted subsample: ``round(fraction · n_s)`` samples of each stratum's order (with
    groups, whole groups until that many samples are reached)."""
    parts = []
    for members in orders:
        want = len(members) if fraction >= 1.0 else round(fraction * len(members))
        if codes is not None and 0 < want < len(members):
            # extend to the end of the last group taken: never split a group
            last = codes[members[want - 1]]
            while want < len(members) and codes[members[want]] == last:
                want += 1
        parts.append(members[:want])
    return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=int)


def _too_small(sub: np.ndarray, y: np.ndarray, task: str, fold: np.ndarray) -> str | None:
    """Why a training subsample of the training ``fold`` is too small to fit, or None."""
    if len(sub) < MIN_SAMPLES:
        return f"{len(sub)} training samples (fewer than {MIN_SAMPLES})"
    if task in ("binary", "multiclass"):
        size = int(y.max()) + 1
        counts = np.bincount(np.asarray(y[sub], dtype=int), minlength=size)
        # a class the fold itself holds fewer of than MIN_PER_CLASS needs all of them
        need = np.minimum(
            MIN_PER_CLASS, np.bincount(np.asarray(y[fold], dtype=int), minlength=size)
        )
        short = np.flatnonzero(counts < need)
        if len(short):
            c = short[0]
            return (
                f"a class would have {int(counts[c])} training sample(s) in some fold "
                f"(fewer than {int(need[c])})"
            )
    if task == "survival" and int((y[sub] > 0).sum()) < MIN_PER_CLASS:
        return f"fewer than {MIN_PER_CLASS} events in some training fold"
    return None


def curve_plan(
    plan: ResamplingPlan,
    y: np.ndarray,
    task: str,
    *,
    fractions: Sequence[float] = FRACTIONS,
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> CurvePlan:
    """Nested, stratified (group-aware) subsamples of every training fold of ``plan``."""
    strata = stratification_labels(y, task)
    codes = None if groups is None else group_codes(groups)
    if codes is not None:  # a patient's samples in one stratum (its first sample's): whole
        first = np.unique(codes, return_index=True)[1]
        strata = strata[first][codes]
    rng = np.random.default_rng([seed, 19])
    orders = [
        [nested_order(train, strata, codes, rng) for train, _ in folds] for folds in plan.splits
    ]
    kept, dropped, splits = [], [], []
    for fraction in sorted(set(fractions)):
        subs = [[take(o, fraction, codes) for o in fold_orders] for fold_orders in orders]
        why = next(
            (
                w
                for row, fold_orders in zip(subs, orders, strict=True)
                for sub, o in zip(row, fold_orders, strict=True)
                if (w := _too_small(sub, y, task, np.concatenate(o))) is not None
            ),
            None,
        )
        mean_n = np.mean([len(sub) for row in subs for sub in row])
        if why is not None:
            dropped.append(f"{fraction:g} (about {mean_n:.0f} training samples): {why}")
            continue
        if splits and all(
            np.array_equal(a, b) for row, prev in zip(subs, splits[-1], strict=True)
            for a, (b, _) in zip(row, prev, strict=True)
        ):  # fmt: skip
            dropped.append(f"{fraction:g}: the same subsamples as the fraction before it")
            continue
        kept.append(float(fraction))
        splits.append(
            [[(sub, test) for sub, (_, test) in zip(row, folds, strict=True)]
             for row, folds in zip(subs, plan.splits, strict=True)]
        )  # fmt: skip
    flat = tuple(tuple(row) for per_fraction in splits for row in per_fraction)
    sizes = np.array([[[len(s) for s, _ in row] for row in f] for f in splits], dtype=int)
    group_sizes = None
    if codes is not None:
        group_sizes = np.array(
            [[[len(np.unique(codes[s])) for s, _ in row] for row in f] for f in splits], dtype=int
        )
    repeats = len(plan.splits)
    seeds = tuple(plan.seeds) * len(kept)
    subsampled = ResamplingPlan(flat, plan.folds, len(flat), seeds, plan.grouped)
    return CurvePlan(tuple(kept), subsampled, repeats, sizes.reshape(len(kept), repeats, -1),
                     None if group_sizes is None else group_sizes.reshape(len(kept), repeats, -1),
                     dropped)  # fmt: skip


@dataclass(frozen=True)
class CurveScores:
    """The winner's primary metric at every kept fraction."""

    metric: MetricSpec
    n_train: np.ndarray  # (S,) mean training samples per fraction
    score: np.ndarray  # (S,) mean over repeats of the pooled out-of-fold score
    repeat_scores: np.ndarray  # (S, R) pooled out-of-fold score of each repeat
    fold_scores: np.ndarray  # (S, R, K) score on each test fold (NaN where undefined)
    failed_fits: int  # fits that failed (their test fold is left out of the scores)


def score_curve(
    oof: np.ndarray, y: np.ndarray, task: str, curve: CurvePlan, failed_fits: int = 0
) -> CurveScores:
    """Score ``oof`` ((S·R) × n × k predictions of the winner, in the curve plan's order)."""
    metric = PRIMARY[task]
    S, R = len(curve.fractions), curve.repeats
    K = curve.plan.folds
    repeat_scores = np.full((S, R), np.nan)
    fold_scores = np.full((S, R, K), np.nan)
    for s in range(S):
        for r in range(R):
            pred = oof[s * R + r]
            seen = ~np.isnan(pred).any(axis=1)
            if seen.sum() > 1:
                repeat_scores[s, r] = metric.fn(y[seen], pred[seen], np.ones((1, seen.sum())))[0]
            for k, (_, test) in enumerate(curve.plan.splits[s * R + r]):
                if seen[test].all():
                    ones = np.ones((1, len(test)))
                    fold_scores[s, r, k] = metric.fn(y[test], pred[test], ones)[0]
    score = _mean_over_repeats(repeat_scores)
    n_train = curve.sizes.reshape(S, -1).mean(axis=1)
    return CurveScores(metric, n_train, score, repeat_scores, fold_scores, failed_fits)


def bootstrap_curves(
    oof: np.ndarray,
    y: np.ndarray,
    task: str,
    curve: CurvePlan,
    *,
    n_bootstrap: int,
    seed: int,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """(B × S) hierarchical bootstrap curves, paired across sizes.

    Bootstrap ``b`` draws the repeats with replacement (counts ``C[b]``: which subsamples and
    fold splits were drawn) and weights the test samples ``W[b]`` (whole groups with
    ``groups``); every size is scored under the same ``C[b]`` and ``W[b]``: its score is the
    ``C[b]``-weighted mean over repeats of the pooled out-of-fold score under ``W[b]``. With
    one repeat only the test samples are resampled. Drawn and scored in chunks of at most
    ``bbc.CHUNK_CELLS`` weights; the draws do not depend on the chunk size.
    """
    S, R = len(curve.fractions), curve.repeats
    out = np.zeros((n_bootstrap, S))
    for block, counts, W in curve_draws(len(y), R, n_bootstrap, seed=seed, groups=groups):
        out[block] = _scored(oof, y, task, S, R, counts, W)
    return out


def curve_draws(
    n: int, repeats: int, n_bootstrap: int, *, seed: int, groups: np.ndarray | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Chunks of (bootstrap indices, repeat counts (b × R), test-sample weights (b × n)).

    The repeats and the weights come from two generators, each drawn in order, so the
    draws are the same whatever the chunk size (``bbc.CHUNK_CELLS``)."""
    weights_rng = np.random.default_rng([seed, 20])
    repeats_rng = np.random.default_rng([seed, 20, 1])
    chunk = max(1, bbc.CHUNK_CELLS // max(n, 1))
    for start in range(0, n_bootstrap, chunk):
        block = np.arange(start, min(start + chunk, n_bootstrap))
        counts = (
            repeats_rng.multinomial(repeats, np.full(repeats, 1.0 / repeats), size=len(block))
            if repeats > 1
            else np.ones((len(block), 1), dtype=int)
        )
        yield block, counts.astype(float), bootstrap_weights(n, len(block), weights_rng, groups)


def _scored(
    oof: np.ndarray, y: np.ndarray, task: str, S: int, R: int, counts: np.ndarray, W: np.ndarray
) -> np.ndarray:
    """(b × S) curves of one chunk: per size, the counts-weighted mean over repeats."""
    metric = PRIMARY[task]
    out = np.zeros((W.shape[0], S))
    for s in range(S):
        per_repeat = np.full((W.shape[0], R), np.nan)
        for r in range(R):
            pred = oof[s * R + r]
            seen = ~np.isnan(pred).any(axis=1)
            if seen.all():  # no copy of the weights (every sample predicted)
                per_repeat[:, r] = metric.fn(y, pred, W)
            elif seen.sum() > 1:
                per_repeat[:, r] = metric.fn(y[seen], pred[seen], W[:, seen])
        finite = np.isfinite(per_repeat)
        weight = np.where(finite, counts, 0.0)
        total = (np.where(finite, per_repeat, 0.0) * weight).sum(axis=1)
        mass = weight.sum(axis=1)
        out[:, s] = np.where(mass > 0, total / np.maximum(mass, 1e-300), np.nan)
    return out


def _mean_over_repeats(values: np.ndarray) -> np.ndarray:
    """Row means ignoring NaN (a repeat whose score is undefined); NaN for a row of NaN."""
    finite = np.isfinite(values)
    total = np.where(finite, values, 0.0).sum(axis=1)
    count = finite.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)
