"""Held-out attribution: how much a model's performance relies on each feature.

Permutation importance (Breiman 2001; Fisher, Rudin & Dominici 2019) measured on samples
the model did not see: for every split of the run's resampling plan, a configuration is
fitted on the training fold and predicts the held-out fold twice — as is, and with one
feature's held-out values shuffled (``n_shuffles`` times). The pooled out-of-fold metric
minus the pooled metric with the feature shuffled is that feature's importance, in the
task's primary metric (AUC, C-index, R²). It is computed once per CV repeat, so its
spread over repeats is a stability check: an attribution that changes sign between
repeats is not one to build a story on.

Importance is a property of the model, not of biology: two correlated features share
credit, and a feature can matter to the model through a confounder.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from insightome.evaluate.engine import fit_table, predict_matrix, prediction_width, table_rows
from insightome.evaluate.metrics import PRIMARY, plain
from insightome.evaluate.splitters import ResamplingPlan
from insightome.models.candidates import Candidate

N_SHUFFLES = 5
STACK_CELLS = 5_000_000  # cells of shuffled copies predicted in one call
MAX_REPEATS = 2  # CV repeats used: two are enough to see an attribution flip


def _split_predictions(
    candidate: Candidate,
    features: pd.DataFrame,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    columns: Sequence[str],
    n_classes: int,
    n_shuffles: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Held-out predictions (n_test × k) and with each column shuffled (c × s × n_test × k)."""
    rng = np.random.default_rng(seed)
    positions = [features.columns.get_loc(c) for c in columns]
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = fit_table(candidate, features)  # the values, where the fits take them
        try:
            model = candidate.build(features, seed).fit(table_rows(data, train), y[train])
        except Exception:
            return None
        held = table_rows(data, test)
        base = predict_matrix(model, held, candidate.task, n_classes)
        # shuffled copies of the held-out fold, stacked into as few predict calls as the
        # memory cap allows (one call per fold for small data)
        shuffled = np.empty((len(columns), n_shuffles, *base.shape))
        per_copy = len(held) * held.shape[1]
        batch = max(1, STACK_CELLS // max(per_copy, 1))
        copies, slots = [], []
        for j, col in enumerate(positions):
            for s in range(n_shuffles):
                order = rng.permutation(len(held))
                copies.append(_permuted(held, col, order))
                slots.append((j, s))
                if len(copies) == batch or (j, s) == (len(columns) - 1, n_shuffles - 1):
                    stacked = predict_matrix(model, _stack(copies), candidate.task, n_classes)
                    for i, (jj, ss) in enumerate(slots):
                        shuffled[jj, ss] = stacked[i * len(held) : (i + 1) * len(held)]
                    copies, slots = [], []
    return base, shuffled


def _permuted(
    held: pd.DataFrame | np.ndarray, col: int, order: np.ndarray
) -> pd.DataFrame | np.ndarray:
    """A copy of the held-out rows with column ``col`` (a position) in ``order``."""
    if isinstance(held, pd.DataFrame):
        out = held.copy()
        out[out.columns[col]] = held.iloc[:, col].to_numpy()[order]
        return out
    out = held.copy()
    out[:, col] = held[order, col]
    return out


def _stack(copies: list[Any]) -> pd.DataFrame | np.ndarray:
    return pd.concat(copies) if isinstance(copies[0], pd.DataFrame) else np.concatenate(copies)


#: A drop smaller than this is no drop: the rounding of averaging equal scores (a column the
#: fitted model does not use leaves every prediction, so every score, unchanged; their mean
#: can differ from the reference in the last bit, e.g. 7.9e-17), which would give a feature
#: the model never selected a "sign".
ZERO_DROP = 1e-12


def _drops(metric: Any, y: np.ndarray, base: np.ndarray, shuffled: np.ndarray) -> np.ndarray:
    """Drop of the (higher-is-better oriented) metric when each column is shuffled; exactly
    0 when it is below :data:`ZERO_DROP`."""
    reference = plain(metric.fn, y, base)
    out = np.empty(len(shuffled))
    for j, copies in enumerate(shuffled):
        drop = reference - float(np.mean([plain(metric.fn, y, c) for c in copies]))
        drop = 0.0 if abs(drop) < ZERO_DROP else drop
        out[j] = drop if metric.higher_is_better else -drop
    return out


def held_out_importance(
    candidate: Candidate,
    features: pd.DataFrame,
    y: np.ndarray,
    plan: ResamplingPlan,
    columns: Sequence[str],
    *,
    n_classes: int = 0,
    n_shuffles: int = N_SHUFFLES,
    max_repeats: int = MAX_REPEATS,
    per_fold: bool = False,
    seed: int = 0,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Importance of ``columns`` for ``candidate`` fitted on ``features`` (module docstring).

    Returns one row per column: ``importance`` (mean drop of the primary metric over
    repeats), ``sd`` over repeats, ``positive_fraction`` and ``negative_fraction`` (share of
    repeats with a drop > 0, < 0: the rest had no effect at all, e.g. a feature the model
    never selected) and ``rank`` (1 = most important). With ``per_fold`` the drop is
    measured on each held-out fold separately, so the spread is over folds (cheaper: one
    repeat is enough for a stability check; noisier on small folds).
    """
    columns = list(columns)
    repeats = min(max_repeats, plan.repeats)
    metric = PRIMARY[candidate.task]
    k = prediction_width(candidate.task, n_classes)
    units = [
        (r, f, train, test)
        for r, folds in enumerate(plan.splits[:repeats])
        for f, (train, test) in enumerate(folds)
    ]
    results = Parallel(n_jobs=n_jobs)(
        delayed(_split_predictions)(
            candidate, features, y, train, test, columns, n_classes, n_shuffles, seed + 1000 * r + f
        )
        for r, f, train, test in units
    )
    n = len(y)
    if per_fold:
        drops = np.full((len(units), len(columns)), np.nan)
        for i, ((_, _, _, test), res) in enumerate(zip(units, results, strict=True)):
            if res is not None:
                drops[i] = _drops(metric, y[test], res[0], res[1])
    else:
        drops = np.full((repeats, len(columns)), np.nan)
        for r in range(repeats):
            base = np.full((n, k), np.nan)
            shuffled = np.full((len(columns), n_shuffles, n, k), np.nan)
            for (rr, _, _, test), res in zip(units, results, strict=True):
                if rr == r and res is not None:
                    base[test], shuffled[:, :, test] = res
            if not np.isnan(base).any():
                drops[r] = _drops(metric, y, base, shuffled)
    spread = len(drops) > 1
    table = pd.DataFrame(
        {
            "importance": np.nanmean(drops, axis=0) if np.isfinite(drops).any() else np.nan,
            "sd": np.nanstd(drops, axis=0, ddof=1) if spread else np.nan,
            "positive_fraction": np.mean(drops > 0, axis=0),
            "negative_fraction": np.mean(drops < 0, axis=0),
        },
        index=pd.Index(columns, name="feature"),
    )
    table["rank"] = table["importance"].rank(ascending=False, method="min")
    table.attrs["metric"] = metric.name
    return table
