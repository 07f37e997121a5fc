"""Unsupervised patient subgroups: resampling stability, outcome association, composition.

1. **Outcome-blind input.** Only numeric features are clustered: all of them when there are
   at most ``max_features``, else the ``max_features`` of largest (raw-scale) variance, the
   top-variance convention of consensus clustering on expression data (Monti et al. 2003).
   Values are median-imputed and standardized here (unsupervised, so nothing leaks). The
   clustering never sees ``y``, which is what makes the outcome-association test valid:
   clustering on outcome-selected features (a prognostic signature, say) would make it
   circular, the subgroups being built from variation chosen for tracking the outcome.
2. **Resampling stability** (consensus-style, Monti et al. 2003, made scalable). Per ``k``:
   a reference k-means on all samples (10 starts); then ``n_resamples`` subsamples of
   min(``subsample``·n, ``MAX_FIT``) samples, a k-means (``RESAMPLE_N_INIT`` starts) fitted on
   each and the samples assigned with ``predict``; agreement with the reference is the
   adjusted Rand index (Hubert & Arabie 1985), computed on all samples (on a fixed random
   ``MAX_EVAL`` of them above that size). Stability(k) is the mean ARI (sd, 2.5–97.5 %
   percentiles); the chosen k has the highest mean, ties going to the smaller k. ARI
   stability favours small k: a stable k=2 is no evidence of two "true" types. Above
   ``MINIBATCH_ABOVE`` samples the reference is a MiniBatchKMeans. Cluster-wise stability
   (Hennig 2007) is each reference cluster's mean, over resamples, Jaccard similarity with its
   best-matching resample cluster on the same assignments as the ARI (≤ 0.5 dissolved,
   ≥ 0.75 stable in Hennig's reading).
3. **Outcome association**: survival — Kaplan–Meier median (95 % CI; NaN when not reached)
   and the multivariate log-rank test; binary/multiclass — class counts, rates with Wilson
   95 % CIs, chi-square test of independence; regression — mean, sd, t 95 % CI of the mean,
   Kruskal–Wallis test.
4. **Profile**: per subgroup, the 5 numeric features (all of them, not only those clustered
   on: ``in_clustering`` tells) of largest |standardized mean difference| (pooled sd, raw
   non-imputed values) against all other samples. A subgroup whose size is hidden (5.)
   shows the features only: its means and SMDs would give the size back.
5. **Sensitive-attribute composition**: counts per subgroup × level (missing values form a
   ``(missing)`` level). The sizes, outcome counts and composition cells follow the run's one
   small-cell rule (:mod:`insightome.groups.disclosure`), protected together: a hidden count is
   ``None`` with its marker under ``suppressed`` (``<min_cell``, or "suppressed" for a
   complementary cell), and a rate of a hidden count is ``None`` too. The chi-square p-value
   is computed on the real counts.

**Groups** (several samples per patient, ``groups``): the clustering and the profile use the
samples; every resample draws whole patients; the outcome table and test and the composition
count patients, each once, in the subgroup holding most of their samples (ties: the smaller
id), with the patient's outcome and most frequent attribute level. When the outcome varies
within patients the outcome test has no per-patient outcome and counts samples; its name
and the notes then say "groups not respected".

Subgroup ids are 1..k by decreasing size. Per-sample labels stay in memory:
:meth:`SubgroupResult.to_dict` never includes them. With too little data (fewer than
``MIN_SAMPLES`` samples, fewer than 2 usable numeric features, or no 2 ≤ k ≤ n/5) the result
has ``k=None`` and empty tables, and its notes say why no subgroups were sought.

This module finds the subgroups (1., 2.); the tables that describe them (3.–5.) and their
small-cell protection are built in :mod:`insightome.discover.subgroup_description`.

References: Monti S. et al. (2003) Mach Learn 52:91–118. Hennig C. (2007) Comput Stat Data
Anal 52:258–271. Hubert L. & Arabie P. (1985) J Classif 2:193–218. Wilson E.B. (1927) JASA
22:209–212.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from insightome.compute.blocks import blocks
from insightome.discover.subgroup_description import (
    composition_table,
    outcome_table,
    profile_table,
    publish_outcome,
    publish_profile,
    publish_sizes,
    subgroup_disclosure,
)
from insightome.evaluate.group_level import (
    NOT_RESPECTED,
    constant_within,
    group_codes,
    modal_per_group,
    whole_groups,
)
from insightome.groups.disclosure import (
    NOTE,
    SHOWN,
)
from insightome.study import TASKS

__all__ = ["SubgroupResult", "find_subgroups"]

MIN_SAMPLES = 20
MINIBATCH_ABOVE = 20_000
MAX_FIT = 2_000
MAX_EVAL = 20_000
RESAMPLE_N_INIT = 3


@dataclass(frozen=True)
class SubgroupResult:
    """Subgroups of one study; ``labels`` (1..k per sample) never leave memory."""

    labels: np.ndarray | None = field(repr=False)
    k: int | None
    stability: pd.DataFrame
    cluster_stability: pd.DataFrame
    sizes: pd.DataFrame
    outcome: pd.DataFrame
    outcome_test: dict[str, Any]
    profile: pd.DataFrame
    composition: dict[str, pd.DataFrame]
    composition_tests: dict[str, dict[str, Any]]
    features_used: list[str]
    notes: list[str]
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content (NaN → None), without per-sample labels."""
        comp = {
            col: {
                "table": _records(tab.reset_index()),
                "test": self.composition_tests.get(col, {}),
                "suppressed_below": self.settings["min_cell"],
            }
            for col, tab in self.composition.items()
        }
        return _jsonable(
            {
                "k": self.k,
                "stability": _records(self.stability),
                "cluster_stability": _records(self.cluster_stability),
                "sizes": _records(self.sizes),
                "outcome": {"table": _records(self.outcome), "test": self.outcome_test},
                "profile": _records(self.profile),
                "composition": comp,
                "features_used": self.features_used,
                "notes": self.notes,
                "settings": self.settings,
            }
        )


def find_subgroups(
    features: pd.DataFrame,
    y: np.ndarray,
    task: str,
    *,
    classes: Sequence[str] = (),
    sensitive: pd.DataFrame | None = None,
    k_range: Iterable[int] = range(2, 7),
    n_resamples: int = 50,
    subsample: float = 0.8,
    max_features: int = 50,
    seed: int = 0,
    min_cell: int = 10,
    groups: np.ndarray | None = None,
) -> SubgroupResult:
    """Find stable k-means subgroups on outcome-blind numeric features (see module doc).

    ``y`` is in insightome's internal encoding (class codes, float, or signed survival time)
    and is used only after clustering, to describe and test the subgroups. ``groups`` (one
    code per sample) makes resamples, the outcome test and the composition count patients.
    """
    start = time.perf_counter()
    y, n = np.asarray(y), len(features)
    for name, obj in (("y", y), ("sensitive", sensitive), ("groups", groups)):
        if obj is not None and len(obj) != n:
            raise ValueError(f"{name} has {len(obj)} rows for {n} samples")
    if task not in TASKS or n_resamples < 1 or not 0 < subsample <= 1:
        raise ValueError(f"invalid task {task!r}, n_resamples {n_resamples} or subsample")
    settings: dict[str, Any] = dict(k_range=list(k_range), n_resamples=n_resamples, seed=seed)
    settings |= dict(subsample=subsample, max_features=max_features, min_cell=min_cell)
    settings["n_samples"] = n
    codes = None if groups is None else group_codes(groups)
    if codes is not None:
        settings["n_patients"] = int(codes.max()) + 1
    numeric = list(features.select_dtypes(include="number").columns)  # not category, not bool
    X, used, notes = _prepare(features, numeric, max_features)
    ks = [k for k in settings["k_range"] if 2 <= k <= n / 5]
    if skipped := [k for k in settings["k_range"] if k not in ks]:
        notes.append(f"k = {skipped} skipped (k must satisfy 2 ≤ k ≤ n/5 = {n / 5:g}).")
    reasons = [
        (n < MIN_SAMPLES, f"only {n} samples (at least {MIN_SAMPLES} are needed)"),
        (len(used) < 2, f"only {len(used)} usable numeric feature(s) (at least 2 are needed)"),
        (not ks, "no k in k_range satisfies 2 ≤ k ≤ n/5"),
    ]
    if why := next((reason for bad, reason in reasons if bad), ""):
        notes.append(f"No subgroups were sought: {why}.")
        e = pd.DataFrame()
        return SubgroupResult(None, None, e, e, e, e, {}, e, {}, {}, used, notes, settings)
    algo = "MiniBatchKMeans" if n > MINIBATCH_ABOVE else "KMeans"
    fit, ev = max(2 * max(ks), min(round(subsample * n), MAX_FIT)), min(n, MAX_EVAL)
    notes.append(
        f"Stability: {n_resamples} subsamples of {fit} samples per k (KMeans, "
        f"{RESAMPLE_N_INIT} starts) against a {algo} reference on all {n} samples "
        f"(10 starts); ARI on {ev} samples."
        + (" Each subsample draws whole patients (--groups)." if codes is not None else "")
    )
    with threadpool_limits(limits=1):  # thread pools inside these small fits only add overhead
        stability, refs, jaccards = _stability(X, ks, n_resamples, fit, seed, algo, codes)
    k = int(stability.sort_values(["mean_ari", "k"], ascending=[False, True]).iloc[0]["k"])
    order = np.argsort(-np.bincount(refs[k]), kind="stable")  # old ids by decreasing size
    labels = np.argsort(order)[refs[k]] + 1
    ids = np.arange(1, k + 1)
    jac = jaccards[k][:, order]
    sd = jac.std(0, ddof=1) if n_resamples > 1 else np.full(k, np.nan)
    cluster_stability = pd.DataFrame({"subgroup": ids, "mean_jaccard": jac.mean(0), "sd": sd})
    counts = np.bincount(labels, minlength=k + 1)[1:]
    sizes = pd.DataFrame({"subgroup": ids, "n": counts, "fraction": counts / n})
    if (small := ids[counts < min_cell]).size:
        notes.append(f"Subgroup(s) {small.tolist()} have fewer than {min_cell} samples.")
    # the unit the outcome test and the composition count: samples, or patients
    unit_labels, unit_y, unit_of = labels, y, None
    if codes is not None:
        unit_labels = modal_per_group(labels, codes).astype(int).to_numpy()
        spread = int((pd.Series(labels).groupby(codes).nunique() > 1).sum())
        notes.append(
            f"Outcome association and composition per patient (--groups): each of the "
            f"{len(unit_labels)} patients counted once, in the subgroup holding most of their "
            f"samples ({spread} patient(s) have samples in more than one subgroup)."
        )
        unit_of = np.unique(codes, return_index=True)[1]
        if constant_within(y, codes):
            unit_y = y[unit_of]
        else:
            unit_labels, unit_of = labels, None
            notes.append(
                f"The outcome varies within patients: its association with the subgroups is "
                f"tested on the {n} samples as if independent ({NOT_RESPECTED})."
            )
    outcome, test = outcome_table(unit_y, unit_labels, ids, task, list(classes))
    if codes is not None and unit_of is None:
        test["name"] += f" ({NOT_RESPECTED})"
    X_numeric = features[numeric].to_numpy(float)
    profile = profile_table(X_numeric, numeric, set(used), labels, ids, notes)
    if sensitive is not None and sensitive.index.is_unique:
        if set(sensitive.index) == set(features.index):
            sensitive = sensitive.loc[features.index]  # else: aligned by position
    shown = subgroup_disclosure(labels, y, task, sensitive, min_cell)
    shown_outcome = shown_patients = shown
    if codes is not None:  # the outcome and composition tables count patients: protect those
        unit_sensitive = None
        if sensitive is not None:
            unit_sensitive = pd.DataFrame(
                {c: modal_per_group(sensitive[c].reset_index(drop=True), codes) for c in sensitive}
            )
        patient_labels = modal_per_group(labels, codes).astype(int).to_numpy()
        patient_y = unit_y if unit_of is not None else np.full(len(patient_labels), np.nan)
        shown_patients = subgroup_disclosure(
            patient_labels, patient_y, task, unit_sensitive, min_cell
        )
        if unit_of is not None:
            shown_outcome = shown_patients
    sizes = publish_sizes(sizes, shown)
    profile = publish_profile(profile, shown)
    outcome = publish_outcome(outcome, shown_outcome, task, classes)
    composition, comp_tests = {}, {}
    if sensitive is not None:
        for col in sensitive.columns:
            values, col_labels = sensitive[col].reset_index(drop=True), labels
            if codes is not None:  # patients: their most frequent level, their subgroup
                values = modal_per_group(values, codes).rename(col)
                col_labels = modal_per_group(labels, codes).astype(int).to_numpy()
            tab, ctest, col_notes = composition_table(values, col_labels, ids, shown_patients)
            composition[str(col)], comp_tests[str(col)] = tab, ctest
            notes.extend(f"{col}: {note}" for note in col_notes)
    hidden = (shown, shown_outcome, shown_patients)
    if any(v != SHOWN for d in hidden for v in d.status.values()):
        notes.append(NOTE.format(k=min_cell))
    settings |= dict(algorithm=algo, fit_size=fit, eval_size=ev)
    settings["seconds"] = round(time.perf_counter() - start, 3)
    parts = (stability, cluster_stability, sizes, outcome, test, profile, composition, comp_tests)
    return SubgroupResult(labels, k, *parts, used, notes, settings)


def _prepare(
    features: pd.DataFrame, numeric: list[str], max_features: int
) -> tuple[np.ndarray, list[str], list[str]]:
    """Median-imputed, standardized matrix of the (top-variance) usable numeric features."""
    notes = []
    if n_other := features.shape[1] - len(numeric):
        notes.append(f"{n_other} non-numeric feature(s) were not used for clustering.")
    if not numeric:  # nothing to cluster on: find_subgroups says so in its notes
        return np.empty((len(features), 0)), [], notes
    table = features if len(numeric) == features.shape[1] else features[numeric]
    # float64 copies of a block of columns at a time
    var = pd.concat(
        [table.iloc[:, cols].astype(float).var() for cols in blocks(table.shape[1], len(table))]
    )
    usable = var[var > 0]
    if dropped := len(numeric) - len(usable):
        notes.append(f"{dropped} constant or all-missing numeric feature(s) were not used.")
    if len(usable) > max_features:
        usable = usable.sort_values(ascending=False, kind="stable").iloc[:max_features]
        notes.append(
            f"Clustered on the top {max_features} of {len(var)} numeric features by variance "
            "(top-variance convention of consensus clustering, Monti et al. 2003)."
        )
    elif len(usable):
        notes.append(f"Clustered on all {len(usable)} usable numeric features.")
    # one float64 copy, imputed and standardized in place (the same numbers as
    # np.where / (X - mean) / sd, without their three whole-matrix temporaries)
    chosen = table if len(usable) == table.shape[1] else table[usable.index]
    X = np.array(chosen, dtype=float)
    if X.size:
        missing = np.isnan(X)
        if missing.any():
            np.copyto(X, np.broadcast_to(np.nanmedian(X, axis=0), X.shape), where=missing)
        del missing
        mean, sd = X.mean(0), X.std(0)
        X -= mean
        X /= np.where(sd > 0, sd, 1.0)
    return X, [str(c) for c in usable.index], notes


def _fit(X: np.ndarray, k: int, n_init: int, seed: int, algo: str) -> KMeans | MiniBatchKMeans:
    if algo == "MiniBatchKMeans":
        return MiniBatchKMeans(k, n_init=n_init, random_state=seed, batch_size=4096).fit(X)
    return KMeans(k, n_init=n_init, random_state=seed).fit(X)


def _stability(
    X: np.ndarray,
    ks: list[int],
    n_resamples: int,
    fit: int,
    seed: int,
    algo: str,
    codes: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict[int, np.ndarray], dict[int, np.ndarray]]:
    """ARI summary per k, reference labels per k, per-resample best Jaccard per k.

    With group ``codes`` each subsample is whole groups holding about ``fit`` samples."""
    n = len(X)
    streams = np.random.SeedSequence(seed).spawn(n_resamples + 1)
    ev = np.sort(np.random.default_rng(streams[0]).permutation(n)[:MAX_EVAL])
    rows, refs, jaccards = [], {}, {}
    for k in ks:
        ref = _fit(X, k, 10, seed, algo).labels_
        ref_ev = ref[ev]
        aris, jac = np.empty(n_resamples), np.empty((n_resamples, k))
        for b in range(n_resamples):
            rng = np.random.default_rng(streams[b + 1])  # the same subsamples for every k
            if codes is None:
                idx = rng.choice(n, fit, replace=False)
            else:
                idx = whole_groups(codes, fit, rng)
            km = _fit(X[idx], k, RESAMPLE_N_INIT, int(rng.integers(2**31)), "KMeans")
            pred = km.predict(X[ev])
            aris[b] = adjusted_rand_score(ref_ev, pred)
            cont = np.bincount(ref_ev * k + pred, minlength=k * k).reshape(k, k)
            union = cont.sum(1)[:, None] + cont.sum(0)[None, :] - cont
            jac[b] = (cont / np.maximum(union, 1)).max(1)
        lo, hi = np.percentile(aris, [2.5, 97.5])
        sd = aris.std(ddof=1) if n_resamples > 1 else math.nan
        rows.append({"k": k, "mean_ari": aris.mean(), "sd": sd, "lo": lo, "hi": hi})
        refs[k], jaccards[k] = ref, jac
    return pd.DataFrame(rows), refs, jaccards


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [] if df.empty else df.astype(object).to_dict("records")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
