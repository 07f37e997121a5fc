"""How well each column alone orders the outcome: vectorised rank statistics for the
leakage screen (:mod:`insightome.leakage_screen`).

Every statistic is direction-free (a column that orders the outcome backwards leaks as
much as one that orders it forwards) and computed on the rows where the column is known:

* binary — the Mann–Whitney AUC from average ranks, ``max(AUC, 1 − AUC)``;
* multiclass — the mean over pairs of classes of that pairwise AUC (Hand & Till's M,
  direction-free per pair): 1 when the column separates every pair of classes;
* regression — ``|Spearman ρ|``;
* survival — Harrell's C-index (higher value = earlier event), ``max(C, 1 − C)``; with more
  than :data:`MAX_PAIRS` comparable pairs, on a fixed random sample of them (said in a note),
  drawn without listing them all (20,000 rows have up to 200 million);
* a text column against classes — :func:`level_pairwise_auc` (levels ordered per pair) and
  :func:`level_purity` (the share of the rows in their level's majority class).

Columns are processed in blocks of about :data:`BLOCK_CELLS` values, so 20,000 omics
features take a few seconds and no more memory than a few copies of a block.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BLOCK_CELLS = 4_000_000
MAX_PAIRS = 50_000  # comparable pairs for the C-index (its SE from a sample: ~0.003)

STATISTIC_NAMES = {
    "binary": "AUC",
    "multiclass": "pairwise AUC",
    "regression": "|Spearman rho|",
    "survival": "C-index",
}


def _blocks(n_rows: int, n_cols: int, cells: int = BLOCK_CELLS) -> list[slice]:
    width = max(1, cells // max(n_rows, 1))
    return [slice(s, min(s + width, n_cols)) for s in range(0, n_cols, width)]


def binary_auc(X: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Direction-free AUC of each column of ``X`` (NaN = missing) for the 0/1 ``positive``;
    NaN where a column has no known value in one of the classes."""
    out = np.full(X.shape[1], np.nan)
    pos = np.asarray(positive, dtype=bool)[:, None]
    for block in _blocks(*X.shape):
        x = X[:, block]
        valid = ~np.isnan(x)
        ranks = pd.DataFrame(x).rank(na_option="keep").to_numpy()
        n1 = (valid & pos).sum(axis=0).astype(float)
        n0 = (valid & ~pos).sum(axis=0).astype(float)
        r1 = np.where(valid & pos, ranks, 0.0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = (r1 - n1 * (n1 + 1) / 2) / (n1 * n0)
        out[block] = np.where((n1 > 0) & (n0 > 0), auc, np.nan)
    return np.maximum(out, 1 - out)


def pairwise_auc(X: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Mean over pairs of classes of the direction-free AUC (multiclass)."""
    classes = np.unique(codes)
    total = np.zeros(X.shape[1])
    count = np.zeros(X.shape[1])
    for i, a in enumerate(classes):
        for b in classes[i + 1 :]:
            rows = (codes == a) | (codes == b)
            auc = binary_auc(X[rows], codes[rows] == a)
            known = ~np.isnan(auc)
            total[known] += auc[known]
            count[known] += 1
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def spearman(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|Spearman ρ| of each column with ``y``, on the rows where the column is known."""
    out = np.full(X.shape[1], np.nan)
    complete = ~np.isnan(X).any(axis=0)
    y_ranks = pd.Series(y).rank().to_numpy()
    yc = y_ranks - y_ranks.mean()
    y_norm = np.sqrt((yc**2).sum())
    idx = np.flatnonzero(complete)
    for block in _blocks(X.shape[0], len(idx)):
        cols = idx[block]
        ranks = pd.DataFrame(X[:, cols]).rank().to_numpy()
        rc = ranks - ranks.mean(axis=0)
        norms = np.sqrt((rc**2).sum(axis=0)) * y_norm
        with np.errstate(invalid="ignore", divide="ignore"):
            out[cols] = np.where(norms > 0, (rc.T @ yc) / norms, np.nan)
    for c in np.flatnonzero(~complete):  # columns with missing values: their own rows
        known = ~np.isnan(X[:, c])
        if known.sum() > 2:
            rho = pd.Series(X[known, c]).corr(pd.Series(y[known]), method="spearman")
            out[c] = rho
    return np.abs(out)


def comparable_pairs(
    time: np.ndarray, event: np.ndarray, max_pairs: int = MAX_PAIRS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, int]:
    """The comparable pairs (an event, a later time) as indices into ``time`` sorted
    (stably): all of them when there are at most ``max_pairs``, else ``max_pairs`` drawn
    uniformly (with replacement, fixed seed) without building the full list — an event
    drawn in proportion to its number of later times, then one of those uniformly. Returns
    the two index arrays and the number of comparable pairs."""
    t = np.asarray(time, dtype=float)[np.argsort(time, kind="stable")]
    e = np.asarray(event)[np.argsort(time, kind="stable")].astype(bool)
    events = np.flatnonzero(e)
    start = np.searchsorted(t, t[events], side="right")  # first strictly later time
    partners = len(t) - start
    n_pairs = int(partners.sum())
    if n_pairs <= max_pairs:
        a = np.repeat(events, partners)
        offsets = np.arange(n_pairs) - np.repeat(np.cumsum(partners) - partners, partners)
        return a, np.repeat(start, partners) + offsets, n_pairs
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(events), max_pairs, p=partners / n_pairs)
    b = start[pick] + (rng.random(max_pairs) * partners[pick]).astype(np.int64)
    return events[pick], np.minimum(b, len(t) - 1), n_pairs


def concordance(
    X: np.ndarray, time: np.ndarray, event: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, int, int]:
    """Direction-free Harrell's C of each column (higher value = earlier event).

    Returns the C-indices, the number of comparable pairs and the number used (all of
    them, or a fixed random sample of :data:`MAX_PAIRS`, drawn by
    :func:`comparable_pairs` in memory proportional to the rows, not the pairs)."""
    order = np.argsort(time, kind="stable")
    a, b, n_pairs = comparable_pairs(time, event, MAX_PAIRS, seed)
    Xs = X[order].astype(np.float32)  # differences only need their sign
    out = np.full(X.shape[1], np.nan)
    has_nan = np.isnan(Xs).any(axis=0)
    for block in _blocks(len(a), X.shape[1]):
        d = Xs[a, block] - Xs[b, block]
        score = np.count_nonzero(d > 0, axis=0) + 0.5 * np.count_nonzero(d == 0, axis=0)
        n_known = np.full(d.shape[1], len(a))
        if has_nan[block].any():
            n_known = n_known - np.count_nonzero(np.isnan(d), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[block] = np.where(n_known > 0, score / n_known, np.nan)
    return np.maximum(out, 1 - out), n_pairs, len(a)


def level_pairwise_auc(values: pd.Series, codes: np.ndarray) -> float:
    """A text column against a multiclass outcome: for each pair of classes, the
    direction-free AUC with the levels ordered by their share of the first class (the
    best a threshold can do, as :func:`level_scores` does for a binary outcome); the mean
    over the pairs. 1 when the levels determine the class, whatever their names."""
    level, _ = pd.factorize(values, use_na_sentinel=True)
    level = np.asarray(level)
    known = level >= 0
    classes = np.unique(codes[known])
    aucs = []
    for i, a in enumerate(classes):
        for b in classes[i + 1 :]:
            rows = known & ((codes == a) | (codes == b))
            is_a = (codes[rows] == a).astype(float)
            share = pd.Series(is_a).groupby(level[rows]).mean()
            score = share.reindex(level[rows]).to_numpy()
            auc = binary_auc(score[:, None], is_a == 1)[0]
            if not np.isnan(auc):
                aucs.append(auc)
    return float(np.mean(aucs)) if aucs else float("nan")


def level_scores(values: pd.Series, task: str, y: np.ndarray) -> np.ndarray | None:
    """A text column as numbers: each level replaced by its outcome summary (binary: the
    positive rate; regression: the mean outcome; survival: events per unit of time;
    multiclass: an arbitrary code, replaced in the screen by :func:`level_pairwise_auc`).
    Ordering the levels by the outcome gives the best a threshold on the column can do."""
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    codes = np.asarray(codes)
    out = np.full(len(codes), np.nan)
    known = codes >= 0
    if task == "multiclass":
        out[known] = codes[known]
        return out
    frame = pd.DataFrame({"level": codes[known]})
    if task == "survival":
        frame["event"] = (y[known] > 0).astype(float)
        frame["time"] = np.abs(y[known])
        sums = frame.groupby("level")[["event", "time"]].sum()
        score = sums["event"] / sums["time"].where(sums["time"] > 0)
    else:
        frame["y"] = np.asarray(y, dtype=float)[known]
        score = frame.groupby("level")["y"].mean()
    out[known] = score.reindex(codes[known]).to_numpy()
    return out


def level_purity(values: pd.Series, labels: np.ndarray) -> tuple[float, int]:
    """How far a column's levels determine the class: the share of the rows with a value
    whose class is their level's majority class, and how many classes are a majority
    somewhere (all of them when the column recodes or refines the outcome)."""
    known = values.notna().to_numpy()
    if not known.any():
        return float("nan"), 0
    table = pd.crosstab(values[known].astype(str).to_numpy(), np.asarray(labels)[known])
    counts = table.to_numpy()
    purity = counts.max(axis=1).sum() / known.sum()
    return float(purity), len(set(counts.argmax(axis=1)))
