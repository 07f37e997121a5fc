"""Bootstrap bias-corrected cross-validation (BBC-CV).

Tsamardinos, Greasidou & Borboudakis, "Bootstrapping the out-of-sample predictions for
efficient and accurate cross-validation", Machine Learning 107 (2018).

Choosing the best of C configurations by their cross-validated score and reporting that
score is optimistic (the maximum of noisy estimates). BBC-CV removes the optimism without
refitting anything: it bootstraps the pooled out-of-fold predictions, lets the *selection*
happen on each bootstrap sample (in-bag) and scores the selected configuration on the
samples left out (out-of-bag). The mean out-of-bag score is the estimate; its 2.5th and
97.5th percentiles are the 95% interval. With repeated CV, bootstrap b uses repeat b mod R.
With groups (several samples per patient), whole groups are resampled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from insightome.evaluate.metrics import PRIMARY, SECONDARY, MetricSpec

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
) -> np.ndarray:
    """(B × C) metric of every candidate under every weighting, oriented higher = better."""
    fn = metric.thresholded(threshold)
    vals = np.column_stack([fn(y, oof_r[c], W) for c in range(oof_r.shape[0])])
    return vals if metric.higher_is_better else -vals


def cv_scores(
    oof: np.ndarray, y: np.ndarray, metric: MetricSpec, thresholds: np.ndarray | None = None
) -> np.ndarray:
    """(R × C) plain metric of every candidate in every repeat (NaN where unusable);
    ``thresholds`` (R × n) are the decision thresholds of thresholded metrics."""
    ones = np.ones((1, len(y)))
    out = np.full(oof.shape[:2], np.nan)
    for r in range(oof.shape[0]):
        fn = metric.thresholded(None if thresholds is None else thresholds[r])
        for c in range(oof.shape[1]):
            if not np.isnan(oof[r, c]).any():
                out[r, c] = fn(y, oof[r, c], ones)[0]
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
    """
    metric = metric or PRIMARY[task]
    R, C, n, _ = oof.shape
    secondary_specs = SECONDARY[task]
    if thresholds is None and any(m.at for m in (metric, *secondary_specs)):
        raise ValueError(f"{task} BBC-CV needs the out-of-fold decision thresholds")
    thresholds = None if thresholds is None else np.asarray(thresholds)[:R]
    usable = ~np.isnan(oof).any(axis=(0, 2, 3))
    if not usable.any():
        raise RuntimeError("no candidate configuration could be fitted on every fold")
    per_repeat = cv_scores(oof, y, metric, thresholds)  # NaN only for unusable candidates
    cv_mean = per_repeat.mean(axis=0)
    cv_sd = per_repeat.std(axis=0, ddof=1) if R > 1 else np.full(C, np.nan)
    oriented = cv_mean if metric.higher_is_better else -cv_mean
    winner = int(select(np.where(usable, oriented, -np.inf)[None, :])[0])
    winner = winner if choice is None else choice

    rng = np.random.default_rng(seed)
    repeat_of = np.arange(n_bootstrap) % R
    chosen = np.zeros(n_bootstrap, dtype=int)
    oob = np.full(n_bootstrap, np.nan)
    oob_secondary = {m.name: np.full(n_bootstrap, np.nan) for m in secondary_specs}
    oof_clean = np.nan_to_num(oof)  # unusable candidates are never picked (below)
    # Bootstraps are drawn and scored in chunks of at most ~CHUNK_CELLS weights, in order,
    # so memory stays bounded for large n and the draws are the same as in one batch.
    chunk = max(1, CHUNK_CELLS // max(n, 1))
    for start in range(0, n_bootstrap, chunk):
        block = np.arange(start, min(start + chunk, n_bootstrap))
        W_in = bootstrap_weights(n, len(block), rng, groups)
        W_out = (W_in == 0).astype(float)
        for r in range(R):
            local = np.flatnonzero(repeat_of[block] == r)
            if not len(local):
                continue
            rows = block[local]
            thr = None if thresholds is None else thresholds[r]
            in_bag = _scores(metric, y, oof_clean[r], W_in[local], thr)
            in_bag[:, ~usable] = -np.inf
            pick = select(np.where(np.isnan(in_bag), -np.inf, in_bag))
            chosen[rows] = pick
            out_bag = _scores(metric, y, oof_clean[r], W_out[local], thr)
            sign = 1 if metric.higher_is_better else -1
            oob[rows] = out_bag[np.arange(len(rows)), pick] * sign
            for m in secondary_specs:  # only for the candidates some bootstrap chose
                fn = m.thresholded(thr)
                for c in np.unique(pick):
                    on = pick == c
                    oob_secondary[m.name][rows[on]] = fn(y, oof_clean[r, c], W_out[local][on])

    def summarize(values: np.ndarray, plain: float) -> MetricEstimate:
        lo, hi = np.nanpercentile(values, [2.5, 97.5])
        return MetricEstimate(float(np.nanmean(values)), (float(lo), float(hi)), float(plain))

    secondary = {}
    for m in secondary_specs:
        plain = float(np.nanmean(cv_scores(oof[:, [winner]], y, m, thresholds)))
        secondary[m.name] = summarize(oob_secondary[m.name], plain)
    return BBCResult(
        metric=metric.name,
        estimate=summarize(oob, float(cv_mean[winner])),
        winner=winner,
        cv_mean=cv_mean,
        cv_sd=cv_sd,
        selection_frequency=np.bincount(chosen, minlength=C) / n_bootstrap,
        n_bootstrap=n_bootstrap,
        chance=metric.chance,
        secondary=secondary,
    )
