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
   small-cell rule (:mod:`insightome.audit.disclosure`), protected together: a hidden count is
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

References: Monti S. et al. (2003) Mach Learn 52:91–118. Hennig C. (2007) Comput Stat Data
Anal 52:258–271. Hubert L. & Arabie P. (1985) J Classif 2:193–218. Wilson E.B. (1927) JASA
22:209–212.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import median_survival_times
from scipy import stats
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from insightome.audit.disclosure import (
    NOTE,
    SHOWN,
    SUPPRESSED,
    GroupDisclosure,
    group_disclosure,
    small_marker,
)
from insightome.audit.groups import INTERSECTION
from insightome.compute.blocks import blocks
from insightome.evaluate.group_level import (
    NOT_RESPECTED,
    constant_within,
    group_codes,
    modal_per_group,
    whole_groups,
)
from insightome.study import TASKS

__all__ = ["SubgroupResult", "find_subgroups"]

MIN_SAMPLES = 20
MINIBATCH_ABOVE = 20_000
MAX_FIT = 2_000
MAX_EVAL = 20_000
RESAMPLE_N_INIT = 3
TOP_PROFILE = 5
MISSING_LEVEL = "(missing)"


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
    outcome, test = _outcome(unit_y, unit_labels, ids, task, list(classes))
    if codes is not None and unit_of is None:
        test["name"] += f" ({NOT_RESPECTED})"
    profile = _profile(features[numeric].to_numpy(float), numeric, set(used), labels, ids)
    if sensitive is not None and sensitive.index.is_unique:
        if set(sensitive.index) == set(features.index):
            sensitive = sensitive.loc[features.index]  # else: aligned by position
    shown = _disclosure(labels, y, task, sensitive, min_cell)
    shown_outcome = shown_patients = shown
    if codes is not None:  # the outcome and composition tables count patients: protect those
        unit_sensitive = None
        if sensitive is not None:
            unit_sensitive = pd.DataFrame(
                {c: modal_per_group(sensitive[c].reset_index(drop=True), codes) for c in sensitive}
            )
        patient_labels = modal_per_group(labels, codes).astype(int).to_numpy()
        patient_y = unit_y if unit_of is not None else np.full(len(patient_labels), np.nan)
        shown_patients = _disclosure(patient_labels, patient_y, task, unit_sensitive, min_cell)
        if unit_of is not None:
            shown_outcome = shown_patients
    sizes = _publish_sizes(sizes, shown)
    profile = _publish_profile(profile, shown)
    outcome = _publish_outcome(outcome, shown_outcome, task, classes)
    composition, comp_tests = {}, {}
    if sensitive is not None:
        for col in sensitive.columns:
            values, col_labels = sensitive[col].reset_index(drop=True), labels
            if codes is not None:  # patients: their most frequent level, their subgroup
                values = modal_per_group(values, codes).rename(col)
                col_labels = modal_per_group(labels, codes).astype(int).to_numpy()
            tab, ctest, col_notes = _composition(values, col_labels, ids, shown_patients)
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


def _test(name: str, fn: Any, *args: Any) -> dict[str, Any]:
    try:
        stat, p = fn(*args)[:2]
    except ValueError:  # degenerate table or groups
        stat, p = math.nan, math.nan
    return {"name": name, "statistic": float(stat), "p_value": float(p)}


def _outcome(
    y: np.ndarray, labels: np.ndarray, ids: np.ndarray, task: str, classes: list[str]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    y = y.astype(float)
    ok = np.isfinite(y)
    y, labels = y[ok], labels[ok]
    groups = [y[labels == g] for g in ids]
    rows: list[dict[str, Any]] = []
    if task == "survival":
        time_, event = np.abs(y), y > 0
        for g, v in zip(ids, groups, strict=True):
            kmf = KaplanMeierFitter().fit(np.abs(v), v > 0)
            ci = median_survival_times(kmf.confidence_interval_).to_numpy(float).ravel()
            est = np.array([kmf.median_survival_time_, *ci], dtype=float)
            med, lo, hi = np.where(np.isfinite(est), est, np.nan)  # NaN: median not reached
            row = dict(subgroup=g, n=len(v), events=int((v > 0).sum()))
            rows.append(row | dict(median_time=med, median_lo=lo, median_hi=hi))
        res = multivariate_logrank_test(time_, labels, event)
        test = _test("log-rank", lambda: (res.test_statistic, res.p_value))
    elif task in ("binary", "multiclass"):
        n_cls = max(len(classes), int(y.max()) + 1)
        names = list(classes) or [str(c) for c in range(n_cls)]
        table = np.array([np.bincount(v.astype(int), minlength=n_cls) for v in groups])
        n_g = table.sum(1)
        z = stats.norm.ppf(0.975)  # Wilson (1927) score interval
        with np.errstate(all="ignore"):
            p = table / n_g[:, None]
            centre = (p + z**2 / (2 * n_g[:, None])) / (1 + z**2 / n_g[:, None])
            half = z * np.sqrt(p * (1 - p) / n_g[:, None] + z**2 / (4 * n_g[:, None] ** 2))
            half /= 1 + z**2 / n_g[:, None]
        for i, g in enumerate(ids):
            row: dict[str, Any] = {"subgroup": g, "n": int(n_g[i])}
            for c, name in enumerate(names):
                lo, hi = centre[i, c] - half[i, c], centre[i, c] + half[i, c]
                row |= {f"n_{name}": int(table[i, c]), f"rate_{name}": p[i, c]}
                row |= {f"rate_{name}_lo": lo, f"rate_{name}_hi": hi}
            rows.append(row)
        test = _test("chi-square", stats.chi2_contingency, table[n_g > 0][:, table.sum(0) > 0])
    else:
        for g, v in zip(ids, groups, strict=True):
            m = v.mean() if len(v) else math.nan
            sd = v.std(ddof=1) if len(v) > 1 else math.nan
            half = stats.t.ppf(0.975, len(v) - 1) * sd / math.sqrt(len(v)) if len(v) > 1 else sd
            rows.append(
                dict(subgroup=g, n=len(v), mean=m, sd=sd, mean_lo=m - half, mean_hi=m + half)
            )
        test = _test("Kruskal-Wallis", stats.kruskal, *groups)
    return pd.DataFrame(rows), test


def _profile(
    X: np.ndarray, names: list[str], used: set[str], labels: np.ndarray, ids: np.ndarray
) -> pd.DataFrame:
    """Top features per subgroup by |SMD| (pooled sd) against all other samples."""
    out = []
    for g in ids:
        a, b = X[labels == g], X[labels != g]
        na, nb = (~np.isnan(a)).sum(0), (~np.isnan(b)).sum(0)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns
            ma, mb = np.nanmean(a, 0), np.nanmean(b, 0)
            va, vb = np.nanvar(a, 0, ddof=1), np.nanvar(b, 0, ddof=1)
            pooled = np.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
            smd = np.where(pooled > 0, (ma - mb) / pooled, np.nan)
        top = [j for j in np.argsort(-np.nan_to_num(np.abs(smd), nan=-1.0)) if np.isfinite(smd[j])]
        for rank, j in enumerate(top[:TOP_PROFILE], 1):
            row = dict(subgroup=g, rank=rank, feature=str(names[j]), mean_in=ma[j])
            out.append(row | dict(mean_rest=mb[j], smd=smd[j], in_clustering=str(names[j]) in used))
    return pd.DataFrame(out)


def _levels(col: pd.Series) -> tuple[np.ndarray, list[str]]:
    """A sensitive column's values as strings (missing: ``(missing)``) and its levels."""
    values = col.astype(object).where(col.notna(), MISSING_LEVEL).astype(str).to_numpy()
    levels = sorted(set(values) - {MISSING_LEVEL}) + [MISSING_LEVEL] * (MISSING_LEVEL in values)
    return values, levels


def _disclosure(
    labels: np.ndarray,
    y: np.ndarray,
    task: str,
    sensitive: pd.DataFrame | None,
    min_cell: int,
) -> GroupDisclosure:
    """What the subgroup tables may show: subgroup sizes (their total is n), outcome counts
    (the class totals are known) and composition cells (each level's total is in the data
    audit), protected together by the run's one small-cell rule."""
    ids = labels.astype(str)
    tables = {"subgroup": ids}
    for col in sensitive.columns if sensitive is not None else []:
        values, _ = _levels(sensitive[col])
        tables[str(col)] = values
        tables[f"subgroup{INTERSECTION}{col}"] = np.char.add(np.char.add(ids, INTERSECTION), values)
    outcome = y if np.isfinite(np.asarray(y, dtype=float)).all() else None
    levels = [a for a in tables if a != "subgroup" and INTERSECTION not in a]
    return group_disclosure(
        tables, outcome, task, min_cell, outcome_of={"subgroup"}, known_sizes=levels
    )


def _publish_sizes(sizes: pd.DataFrame, shown: GroupDisclosure) -> pd.DataFrame:
    """Subgroup sizes with hidden ones as None (and their fraction, n × fraction giving n)."""
    rows = []
    for r in sizes.to_dict("records"):
        g = str(r["subgroup"])
        if not shown.size_shown("subgroup", g):
            r |= {"n": None, "fraction": None}
            r["suppressed"] = dict.fromkeys(("n", "fraction"), shown.size_marker("subgroup", g))
        rows.append(r)
    return pd.DataFrame(rows).astype(object)


def _publish_profile(profile: pd.DataFrame, shown: GroupDisclosure) -> pd.DataFrame:
    """The profile with the means and SMDs of a subgroup of hidden size None: its mean, the
    rest's mean and the overall mean give its size back, n (m − rest) / (in − rest). Which
    features stand out stays shown."""
    if profile.empty:
        return profile
    numbers = ("mean_in", "mean_rest", "smd")
    rows = []
    for r in profile.to_dict("records"):
        r["suppressed"] = None
        if not shown.size_shown("subgroup", str(r["subgroup"])):
            r |= dict.fromkeys(numbers) | {"suppressed": dict.fromkeys(numbers, SUPPRESSED)}
        rows.append(r)
    return pd.DataFrame(rows).astype(object)


def _publish_outcome(
    outcome: pd.DataFrame, shown: GroupDisclosure, task: str, classes: Sequence[str]
) -> pd.DataFrame:
    """The outcome table with every hidden count None (with its marker) and every estimate
    computed from a hidden count None: a rate and its n give the count back."""
    if outcome.empty:
        return outcome
    names = list(classes) or [str(c) for c in range(shown.n_classes)]
    rows = []
    for r in outcome.to_dict("records"):
        g, hidden = str(r["subgroup"]), {}
        if not shown.size_shown("subgroup", g):
            hidden["n"] = shown.size_marker("subgroup", g)
            keep = {"subgroup"}
            r = {k: (v if k in keep else None) for k, v in r.items()}
        if task in ("binary", "multiclass"):
            for c, name in enumerate(names):
                if not shown.cell_shown("subgroup", g, c):
                    hidden[f"n_{name}"] = shown.cell_marker("subgroup", g, c) or SUPPRESSED
                    r |= dict.fromkeys((f"n_{name}", f"rate_{name}"))
                    r |= dict.fromkeys((f"rate_{name}_lo", f"rate_{name}_hi"))
        elif task == "survival" and not shown.cell_shown("subgroup", g, 1):
            hidden["events"] = shown.cell_marker("subgroup", g, 1) or SUPPRESSED
            r["events"] = None
        r["suppressed"] = hidden or None
        rows.append(r)
    return pd.DataFrame(rows).astype(object)


def _composition(
    col: pd.Series, labels: np.ndarray, ids: np.ndarray, shown: GroupDisclosure
) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    values, levels = _levels(col)
    codes = pd.Categorical(values, categories=levels).codes
    counts = np.zeros((len(ids), len(levels)), dtype=int)
    np.add.at(counts, (labels - 1, codes), 1)
    name = f"subgroup{INTERSECTION}{col.name}"
    marks = [
        {
            lv: (shown.size_marker(name, f"{g}{INTERSECTION}{lv}") if counts[i, j] else None)
            or (small_marker(shown.min_cell) if not counts[i, j] else None)
            for j, lv in enumerate(levels)
        }
        for i, g in enumerate(ids)
    ]
    cells = np.array([[m[lv] is None for lv in levels] for m in marks], dtype=bool)
    table = np.where(cells, counts.astype(object), None)
    tab = pd.DataFrame(table, index=pd.Index(ids, name="subgroup"), columns=levels)
    tab["suppressed"] = [{lv: v for lv, v in m.items() if v is not None} or None for m in marks]
    real = counts[:, [j for j, v in enumerate(levels) if v != MISSING_LEVEL]]
    real = real[:, real.sum(0) > 0]
    test = _test("chi-square", stats.chi2_contingency, real[real.sum(1) > 0])
    notes = []
    if (~cells).any():
        notes.append(f"{int((~cells).sum())} cell(s) hidden (small-cell rule, docs/audit.md).")
    return tab, test, notes


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
