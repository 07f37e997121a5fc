"""What describes the subgroups :func:`~insightome.discover.subgroups.find_subgroups` found.

The outcome per subgroup and its test (:func:`outcome_table`), the profile of most
different features (:func:`profile_table`), the sensitive-attribute composition and its
chi-square test (:func:`composition_table`), and the run's one small-cell rule over these
tables (:func:`subgroup_disclosure`, then the ``publish_*`` functions hide what it hides).
The methods are described in :mod:`insightome.discover.subgroups`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import median_survival_times
from scipy import stats

from insightome.evaluate.engine import counted_warnings
from insightome.groups.disclosure import (
    SUPPRESSED,
    GroupDisclosure,
    group_disclosure,
    small_marker,
)
from insightome.groups.labels import INTERSECTION

TOP_PROFILE = 5
MISSING_LEVEL = "(missing)"


def _test(name: str, fn: Any, *args: Any) -> dict[str, Any]:
    try:
        stat, p = fn(*args)[:2]
    except ValueError:  # degenerate table or groups
        stat, p = math.nan, math.nan
    return {"name": name, "statistic": float(stat), "p_value": float(p)}


def outcome_table(
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


def profile_table(
    X: np.ndarray,
    names: list[str],
    used: set[str],
    labels: np.ndarray,
    ids: np.ndarray,
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """Top features per subgroup by |SMD| (pooled sd) against all other samples.

    A feature with fewer than 2 observed values in the subgroup or in the rest, or no
    spread, has no SMD and is not ranked; how many, per subgroup, goes to ``notes``."""
    out = []
    for g in ids:
        a, b = X[labels == g], X[labels != g]
        na, nb = (~np.isnan(a)).sum(0), (~np.isnan(b)).sum(0)
        # the same arithmetic on every column; a column with < 2 values on a side (or no
        # spread) gets a NaN SMD: numpy's warnings about it are taken here and the note says
        # how many features were left unranked
        with counted_warnings(), np.errstate(divide="warn", invalid="warn"):
            ma, mb = np.nanmean(a, 0), np.nanmean(b, 0)
            va, vb = np.nanvar(a, 0, ddof=1), np.nanvar(b, 0, ddof=1)
            pooled = np.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
            smd = np.where(pooled > 0, (ma - mb) / pooled, np.nan)
        spread = np.isfinite(smd)
        if notes is not None and (n_without := int((~spread).sum())):
            notes.append(
                f"Subgroup {g} profile: {n_without} feature(s) without an SMD (fewer than 2 "
                "observed values in the subgroup or the rest, or no spread), not ranked."
            )
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


def subgroup_disclosure(
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


def publish_sizes(sizes: pd.DataFrame, shown: GroupDisclosure) -> pd.DataFrame:
    """Subgroup sizes with hidden ones as None (and their fraction, n × fraction giving n)."""
    rows = []
    for r in sizes.to_dict("records"):
        g = str(r["subgroup"])
        if not shown.size_shown("subgroup", g):
            r |= {"n": None, "fraction": None}
            r["suppressed"] = dict.fromkeys(("n", "fraction"), shown.size_marker("subgroup", g))
        rows.append(r)
    return pd.DataFrame(rows).astype(object)


def publish_profile(profile: pd.DataFrame, shown: GroupDisclosure) -> pd.DataFrame:
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


def publish_outcome(
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


def composition_table(
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
