"""Pre-ranked GSEA with a phenotype-permutation null, in NumPy (Subramanian et al., PNAS 2005).

The enrichment score (ES) of a set is the maximum deviation from zero of the weighted
(p = 1) Kolmogorov–Smirnov running sum over the signed ranking. The null ES come from
rankings recomputed for permuted outcome labels (GSEA's phenotype permutation), which keeps
the correlation between genes. As GSEA computes them: the NES divides the ES by the mean
same-signed null ES of the set; the nominal p is the share of same-signed null ES at least
as extreme; the FDR q-value is the share of all same-signed null NES beyond the NES over the
share of observed same-signed NES beyond it (pooled over the tested sets); the FWER p is the
share of permutations whose most extreme same-signed null NES reaches the NES.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BATCH_MEMBERSHIPS = 200_000  # permuted rankings x memberships per batch: stays in cache


def _scores_es(values: np.ndarray, flat_set: np.ndarray, flat_gene: np.ndarray):
    """Weighted (p = 1) enrichment scores of every set, per ranking.

    ``values`` is (rankings, genes), genes in a fixed order that also breaks ties;
    ``flat_set`` / ``flat_gene`` list the memberships grouped by set. The running sum
    peaks at a hit or just before one, so only hit positions are evaluated. Returns the ES
    (rankings, sets), the running sum at and just before each hit, and the hit genes.
    """
    b, n = values.shape
    order = np.argsort(-values, axis=1, kind="stable")
    rank = np.empty((b, n), dtype=np.int64)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(n), (b, n)), axis=1)
    # Positions of the hits, sorted within each set (the set offset keeps sets apart).
    offset = flat_set * n
    pos = np.sort(rank[:, flat_gene] + offset, axis=1) - offset
    row = (np.arange(b) * n)[:, None]  # offsets into the flattened (b, n) arrays
    gene = order.ravel()[pos + row]
    weight = np.abs(values.ravel()[gene + row])
    starts = np.flatnonzero(np.r_[True, np.diff(flat_set) != 0])
    sizes = np.diff(np.r_[starts, len(flat_set)])
    cum = np.cumsum(weight, axis=1)
    hit = cum - np.repeat(cum[:, starts] - weight[:, starts], sizes, axis=1)
    total = np.repeat(np.add.reduceat(weight, starts, axis=1), sizes, axis=1)
    total = np.maximum(total, np.finfo(float).tiny)
    j = np.arange(len(flat_set)) - np.repeat(starts, sizes) + 1
    top = hit / total - (pos + 1 - j) / (n - np.repeat(sizes, sizes))
    bottom = top - weight / total
    high = np.maximum.reduceat(top, starts, axis=1)
    low = np.minimum.reduceat(bottom, starts, axis=1)
    return np.where(high >= -low, high, low), top, bottom, gene


def _share_beyond(values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Share of the same-signed ``values`` at least as extreme as each ``x``."""
    values = np.sort(values)
    n_neg = np.searchsorted(values, 0.0, side="left")
    above = (len(values) - np.searchsorted(values, x, side="left")) / max(len(values) - n_neg, 1)
    below = np.searchsorted(values, x, side="right") / max(n_neg, 1)
    return np.where(x >= 0, above, below)


def _gsea_statistics(es: np.ndarray, es_null: np.ndarray) -> dict[str, np.ndarray]:
    """NES, nominal p, FDR q and FWER p from the null ES (sets x permutations), as GSEA."""
    up, down = es_null >= 0, es_null < 0
    n_up, n_down = up.sum(1), down.sum(1)
    mean_up = np.where(n_up > 0, (es_null * up).sum(1) / np.maximum(n_up, 1), np.abs(es))
    mean_down = np.where(n_down > 0, -(es_null * down).sum(1) / np.maximum(n_down, 1), np.abs(es))
    with np.errstate(divide="ignore", invalid="ignore"):
        nes = np.where(es >= 0, es / mean_up, es / mean_down)
        nes_null = np.where(up, es_null / mean_up[:, None], es_null / mean_down[:, None])
        beyond = np.where(es[:, None] >= 0, es_null >= es[:, None], es_null <= es[:, None])
        p = np.nan_to_num(beyond.sum(1) / np.where(es >= 0, n_up, n_down), nan=1.0)
        fdr = np.minimum(1.0, _share_beyond(nes_null.ravel(), nes) / _share_beyond(nes, nes))
    fwer = np.where(
        nes >= 0,
        (nes_null.max(0)[None, :] >= nes[:, None]).mean(1),
        (nes_null.min(0)[None, :] <= nes[:, None]).mean(1),
    )
    return {"nes": nes, "p": p, "fdr": fdr, "fwer": fwer}


def phenotype_permutation_gsea(
    scores: pd.Series,
    names: dict[str, str],
    tested: list[tuple[str, list[str]]],
    null: pd.DataFrame,
) -> dict[str, object]:
    """GSEA statistics of the ``tested`` sets with the null from permuted-label rankings.

    ``scores`` is the observed ranking keyed by gene (its keys order the ties); ``names``
    maps each key to the feature name that indexes ``null`` (features x permutations, the
    same statistic for permuted outcome labels); ``tested`` lists (set name, member keys),
    every set non-empty. Returns arrays ``es``, ``nes``, ``p``, ``fdr`` and ``fwer`` (one
    value per tested set, unclipped) and ``lead``, the leading-edge keys of each set in
    running-sum order.
    """
    keys = sorted(scores.index)
    index = {k: i for i, k in enumerate(keys)}
    features = [names[k] for k in keys]
    missing = [f for f in features if f not in null.index]
    if missing:
        raise ValueError(f"null_rankings lacks {len(missing)} ranked features, e.g. {missing[:3]}")
    null_values = null.loc[features].to_numpy(dtype=float).T
    null_values[~np.isfinite(null_values)] = 0.0
    flat_set = np.repeat(np.arange(len(tested)), [len(m) for _, m in tested])
    flat_gene = np.array([index[g] for _, m in tested for g in m])
    observed = scores.loc[keys].to_numpy(float)[None, :]
    es, top, bottom, gene = (a[0] for a in _scores_es(observed, flat_set, flat_gene))
    edges = []
    starts = np.flatnonzero(np.r_[True, np.diff(flat_set) != 0])
    for a, b, e in zip(starts, np.r_[starts[1:], len(flat_set)], es, strict=True):
        k = a + (top[a:b].argmax() if e >= 0 else bottom[a:b].argmin())
        edges.append(gene[a : k + 1] if e >= 0 else gene[k:b][::-1])
    batch = max(1, BATCH_MEMBERSHIPS // len(flat_set))
    es_null = np.vstack(
        [
            _scores_es(null_values[i : i + batch], flat_set, flat_gene)[0]
            for i in range(0, len(null_values), batch)
        ]
    ).T
    return {
        "es": es,
        **_gsea_statistics(es, es_null),
        "lead": [[keys[g] for g in e] for e in edges],
    }
