"""Conformal prediction audit: does the model's uncertainty cover every group?

Method. Split (inductive) conformal prediction on out-of-fold (OOF) predictions: each OOF
prediction comes from a model that never saw the sample, so its non-conformity score is
(approximately) exchangeable with the score of a new sample. Scores are ``1 - p(true class)``
for classification (prediction *sets*) and the absolute residual ``|y - y_hat|`` for
regression (prediction *intervals*), optionally divided by a difficulty estimate (normalized
conformal regression). A threshold is the ``ceil((n + 1) * level)``-th smallest calibration
score (:func:`conformal_quantile`, the finite-sample corrected quantile: the one threshold of
the package, used for the coverage estimates here, the thresholds saved for ``predict`` and
ADMET's intervals and sets); a class enters the set when its score is at most the
threshold, and an interval is ``y_hat +/- threshold``. (crepes, which computed the coverage
estimates until 2026-12, takes one rank more where ``(n + 1) * (1 - level)`` is a whole
number: ``tests/audit/test_conformal_quantile.py``.)

Coverage is estimated honestly by repeated random halving (stratified by the combined group
labels): calibrate on one half, measure coverage, set size or interval width on the other.
Coverage is the pooled proportion over ``n_splits`` halvings; because every sample is tested in
about half of the halvings, the pooled count is rescaled to the number of distinct samples
before the Clopper-Pearson 95% interval is computed (the raw pooled count would overstate the
precision ``n_splits / 2``-fold). With ``sample_groups`` (``--groups``: several samples per
patient) whole patients go to one half (stratified by the labels of their first sample), and
the count is rescaled to the number of distinct patients: their samples are not independent,
and counting them one by one would make the intervals too narrow (about √m-fold with m
samples per patient). The Mondrian minimum ``min_group_size`` then counts patients too.
Marginal conformal guarantees coverage on average over everyone, not within each group;
Mondrian (group-conditional) conformal calibrates one threshold per group and guarantees
coverage within each group. It is applied per sensitive attribute to
the groups with at least ``min_group_size`` calibration samples in every halving; other
groups fall back to the marginal threshold and get the verdict "insufficient evidence".
Group sizes follow the small-cell rule of
:mod:`insightome.groups.disclosure`; a hidden size hides everything computed from it.

References: Vovk, Gammerman & Shafer (2005) *Algorithmic Learning in a Random World*
(inductive and Mondrian conformal predictors); Angelopoulos & Bates (2021) *A Gentle
Introduction to Conformal Prediction and Distribution-Free Uncertainty Quantification*,
arXiv:2107.07511.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import beta

from insightome.groups.disclosure import MIN_CELL, GroupDisclosure, group_disclosure

BELOW = "coverage below target"
SMALL = "insufficient evidence"
CONSISTENT = "coverage consistent with target"
TASKS = ("binary", "multiclass", "regression")


@dataclass
class ConformalAudit:
    """Result of :func:`conformal_audit` (aggregates only, no row-level output)."""

    task: str
    level: float
    method: str
    marginal: dict[str, Any]
    groups: list[dict[str, Any]]
    notes: list[str]
    _thresholds: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def supported(self) -> bool:
        return self.task in TASKS

    def thresholds(self) -> dict[str, Any]:
        """JSON-ready thresholds fitted on all OOF samples, for :func:`apply_thresholds`."""
        return copy.deepcopy(self._thresholds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "method": self.method,
            "marginal": copy.deepcopy(self.marginal),
            "groups": copy.deepcopy(self.groups),
            "thresholds": self.thresholds(),
            "notes": list(self.notes),
        }


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The ``ceil((n + 1) * level)``-th smallest score; ``inf`` when that exceeds ``n``."""
    n = len(scores)
    k = math.ceil((n + 1) * level - 1e-9)
    return math.inf if k > n or n == 0 else float(np.sort(scores)[k - 1])


def clopper_pearson(x: float, n: int) -> tuple[float, float]:
    """Exact binomial 95% interval (``x`` may be a rescaled, non-integer count)."""
    lo = 0.0 if x <= 0 else float(beta.ppf(0.025, x, n - x + 1))
    hi = 1.0 if x >= n else float(beta.ppf(0.975, x + 1, n - x))
    return lo, hi


def conformal_audit(
    y: np.ndarray,
    pred: np.ndarray,
    task: str,
    groups: Mapping[str, pd.Series],
    *,
    classes: Sequence[Any] = (),
    level: float = 0.9,
    min_group_size: int = 30,
    n_splits: int = 20,
    seed: int = 0,
    difficulty: np.ndarray | None = None,
    min_cell: int = MIN_CELL,
    sample_groups: np.ndarray | None = None,
) -> ConformalAudit:
    """Audit split-conformal coverage, marginal and Mondrian, per sensitive group.

    ``difficulty`` (optional, one positive value per sample) switches regression to normalized
    conformal intervals ``y_hat +/- q * difficulty``; the default is the standard absolute
    residual. ``sample_groups`` (one patient ID or code per sample) keeps each patient's
    samples together and sizes the intervals by patients. Survival (risk scores) is not
    supported and returns a result saying so.
    """
    if task not in TASKS:
        note = f"Conformal prediction is not supported for task '{task}' (e.g. survival risk)."
        return ConformalAudit(task, level, "not supported", {}, [], [note])
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), not {level}")
    y = np.asarray(y)
    n = len(y)
    if n < 2 or len(pred) != n:
        raise ValueError(f"need >= 2 samples and one prediction each (y {n}, pred {len(pred)})")
    if sample_groups is not None and len(sample_groups) != n:
        raise ValueError(f"sample_groups has {len(sample_groups)} values for {n} samples")
    unit = np.arange(n) if sample_groups is None else _codes(sample_groups)
    point, true_score = _scores(y, pred, task, difficulty)
    sig = None if difficulty is None else np.asarray(difficulty, dtype=float)
    k = 0 if task == "regression" else point.shape[1]
    labels = {a: _labels(s, n) for a, s in groups.items()}
    rng = np.random.default_rng(seed)
    splits = [_halving(labels, unit, rng) for _ in range(n_splits)]
    eligible = {
        a: [
            g
            for g in np.unique(lab)
            if min(_count(unit[c & (lab == g)]) for c in splits) >= min_group_size
        ]
        for a, lab in labels.items()
    }

    def run(cal: np.ndarray, test: np.ndarray, lab: np.ndarray | None) -> tuple[Any, Any]:
        """Coverage indicators and set sizes / interval widths on ``test`` with the
        thresholds calibrated on ``cal`` (one per group of ``lab``: Mondrian)."""
        if lab is None:
            q = np.full(int(test.sum()), conformal_quantile(true_score[cal], level))
        else:
            q = np.empty(int(test.sum()))
            for g in np.unique(lab[test]):
                q[lab[test] == g] = conformal_quantile(true_score[cal & (lab == g)], level)
        if task == "regression":
            scale = 1.0 if sig is None else sig[test]
            low, high = point[test, 0] - q * scale, point[test, 0] + q * scale
            yt = y[test].astype(float)
            return (low <= yt) & (yt <= high), high - low
        sets = (1.0 - point[test]) <= q[:, None]
        return sets[np.arange(len(sets)), y[test].astype(int)], sets.sum(axis=1)

    cov, size = np.full((n_splits, n), np.nan), np.full((n_splits, n), np.nan)
    m_cov = {a: cov.copy() for a in labels}
    m_size = {a: cov.copy() for a in labels}
    for s, cal in enumerate(splits):
        cov[s, ~cal], size[s, ~cal] = run(cal, ~cal, None)
        for a, lab in labels.items():
            ok = np.isin(lab, eligible[a])
            if np.any(ok & ~cal):
                m_cov[a][s, ok & ~cal], m_size[a][s, ok & ~cal] = run(cal & ok, ~cal & ok, lab)
    marginal = {**_summary(cov, size, k, unit), "n": n}
    marginal = marginal if n >= min_cell else dict.fromkeys(marginal)  # suppress small data
    rows = []
    for a, lab in labels.items():
        for g in np.unique(lab):
            m = lab == g
            mond = (m_cov[a][:, m], m_size[a][:, m]) if g in eligible[a] else None
            rows.append(_group_row(a, g, cov[:, m], size[:, m], mond, level, k, min_cell, unit[m]))
    _publish(rows, group_disclosure(labels, y, task, min_cell, min_group_size=min_group_size))
    score = "absolute residual" if sig is None else "absolute residual / difficulty"
    score = "1 - p(true class)" if k else score
    thresholds = {
        "level": level,
        "task": task,
        "score": score,
        "classes": _class_names(classes, k) if k else [],
        "marginal": _finite(conformal_quantile(true_score, level)),
        "mondrian": {
            a: {
                str(g): _finite(conformal_quantile(true_score[lab == g], level))
                for g in np.unique(lab)
                if _count(unit[lab == g]) >= min_group_size
            }
            for a, lab in labels.items()
        },
    }
    method = (
        f"split conformal on out-of-fold predictions, score {thresholds['score']}, "
        f"{n_splits} stratified calibration/test halvings; marginal and Mondrian by group"
    )
    if sample_groups is not None:
        method += f"; whole groups (--groups, {_count(unit)}) kept within one half"
    unbounded = any(math.isinf(conformal_quantile(np.zeros(c.sum()), level)) for c in splits)
    notes = _notes(rows, marginal, n_splits, min_group_size, unbounded, sample_groups is not None)
    return ConformalAudit(task, level, method, marginal, rows, notes, thresholds)


def apply_thresholds(
    pred: np.ndarray,
    task: str,
    thresholds: Mapping[str, Any],
    classes: Sequence[Any] = (),
    group: tuple[str, Sequence[Any] | pd.Series] | None = None,
    difficulty: np.ndarray | None = None,
) -> list[str] | np.ndarray:
    """Prediction sets (';'-joined labels) or intervals (n x 2) from stored thresholds.

    A class is in the set when ``1 - p(class) <= q``, an interval is
    ``y_hat +/- q`` (times ``difficulty`` when the thresholds are normalized); ``q = None``
    means unbounded. ``group`` is ``(attribute, labels per sample)`` to use that attribute's
    Mondrian thresholds; samples of a group without one (small or unseen) use the marginal one.
    """
    if task not in TASKS:
        raise ValueError(f"conformal thresholds are not available for task '{task}'")
    point, _ = _scores(None, pred, task, difficulty)
    q = np.full(len(point), _inf(thresholds["marginal"]))
    if group is not None:
        lab = _labels(group[1], len(point))
        for g, qg in thresholds.get("mondrian", {}).get(group[0], {}).items():
            q[lab == g] = _inf(qg)
    if task == "regression":
        scale = 1.0 if difficulty is None else np.asarray(difficulty, dtype=float)
        return np.column_stack([point[:, 0] - q * scale, point[:, 0] + q * scale])
    names = np.array(
        _class_names(classes if len(classes) else thresholds.get("classes", ()), point.shape[1])
    )
    return [";".join(names[row]) for row in (1.0 - point) <= q[:, None]]


def _scores(
    y: np.ndarray | None, pred: np.ndarray, task: str, difficulty: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities (n x K) or point predictions (n x 1), and true-label scores."""
    p = np.asarray(pred, dtype=float)
    p = p[:, None] if p.ndim == 1 else p
    if task == "binary":
        pos = np.clip(p[:, 0], 0.0, 1.0)
        p = np.column_stack([1.0 - pos, pos])
    elif task == "regression":
        p = p[:, :1]
    if y is None:
        return p, np.zeros(0)
    if task == "regression":
        scale = 1.0 if difficulty is None else np.asarray(difficulty, dtype=float)
        return p, np.abs(np.asarray(y, dtype=float) - p[:, 0]) / scale
    codes = np.asarray(y).astype(int)
    if codes.min() < 0 or codes.max() >= p.shape[1]:
        raise ValueError(f"class codes must be in 0..{p.shape[1] - 1}")
    return p, 1.0 - p[np.arange(len(codes)), codes]


def _summary(cov: np.ndarray, size: np.ndarray, k: int, unit: np.ndarray) -> dict[str, Any]:
    """Pooled coverage over the halvings (NaN = not in that test half) with its 95% CI.

    The CI is sized by the distinct units (``unit``: patient code per column; samples when
    each is its own patient), not by the pooled number of tests.
    """
    n_distinct = _count(unit)
    c = float(np.nanmean(cov))
    tested, per = ~np.isnan(size), (~np.isnan(cov)).sum(axis=1)
    per_split = np.nansum(cov, axis=1)[per > 0] / per[per > 0]
    out: dict[str, Any] = {
        "coverage": c,
        "ci95": list(clopper_pearson(c * n_distinct, n_distinct)),
        "coverage_sd": float(np.std(per_split)),
        "split_range": [float(per_split.min()), float(per_split.max())],
    }
    if not k:
        out["mean_width"] = _finite(float(np.nanmean(size)))
        return out
    out["mean_size"] = float(np.nanmean(size))
    out["empty_fraction"] = float(np.sum(size[tested] == 0) / tested.sum())
    out["full_fraction"] = float(np.sum(size[tested] == k) / tested.sum())
    return out


def _verdict(ci: list[float], level: float) -> str:
    return BELOW if ci[1] < level else CONSISTENT


def _group_row(
    attribute: str,
    group: str,
    cov: np.ndarray,
    size: np.ndarray,
    mondrian: tuple[np.ndarray, np.ndarray] | None,
    level: float,
    k: int,
    min_cell: int = MIN_CELL,
    unit: np.ndarray | None = None,
) -> dict[str, Any]:
    size_key = "mean_size" if k else "mean_width"
    keys = ("n", "coverage", "ci95", "coverage_sd", size_key, "mondrian_coverage", "mondrian_ci95")
    row: dict[str, Any] = {"attribute": attribute, "group": str(group), **dict.fromkeys(keys)}
    row.update({"mondrian_" + size_key: None, "verdict": SMALL, "mondrian_verdict": SMALL})
    row["small"] = mondrian is None
    n = cov.shape[1]
    if n < min_cell:  # suppressed: the count and every rate computed from it
        return row
    unit = np.arange(n) if unit is None else unit
    s = _summary(cov, size, k, unit)
    row.update(n=n, coverage=s["coverage"], ci95=s["ci95"], coverage_sd=s["coverage_sd"])
    row[size_key] = s[size_key]
    if mondrian is not None:
        row["verdict"] = _verdict(s["ci95"], level)
        m = _summary(*mondrian, k, unit)
        row.update(mondrian_coverage=m["coverage"], mondrian_ci95=m["ci95"])
        row["mondrian_" + size_key] = m[size_key]
        row["mondrian_verdict"] = _verdict(m["ci95"], level)
    return row


def _publish(rows: list[dict[str, Any]], shown: GroupDisclosure) -> None:
    """A group whose size the disclosure rule hides shows no numbers (its coverage and its
    set sizes are rates over that size); verdicts stay."""
    for row in rows:
        if not shown.size_shown(row["attribute"], row["group"]):
            keep = ("attribute", "group", "verdict", "mondrian_verdict", "small")
            row |= {k: None for k in row if k not in keep}
            row["suppressed"] = {"n": shown.size_marker(row["attribute"], row["group"])}


def _notes(
    rows: list[dict[str, Any]],
    marginal: dict[str, Any],
    splits: int,
    min_n: int,
    unbounded: bool,
    grouped: bool = False,
) -> list[str]:
    units = (
        "distinct groups (--groups: a group's samples always share a half)"
        if grouped
        else ("distinct samples")
    )
    notes = [
        f"Coverage pooled over {splits} random calibration/test halvings; the 95% "
        f"Clopper-Pearson interval uses the number of {units} (each is tested in about half "
        "of the halvings). Hidden group sizes (small-cell rule) hide their rates."
    ]
    small = [f"{r['attribute']}={r['group']}" for r in rows if r["small"]]
    if small:
        notes.append(
            f"Fewer than {min_n} calibration samples: {', '.join(small)}; group-conditional "
            "coverage cannot be assessed (the marginal threshold is used for them)."
        )
    fixed = [
        f"{r['attribute']}={r['group']}"
        for r in rows
        if (r["verdict"], r["mondrian_verdict"]) == (BELOW, CONSISTENT)
    ]
    if fixed:
        notes.append(f"Mondrian thresholds restore coverage for: {', '.join(fixed)}.")
    if unbounded:
        notes.append("Too few samples for this level: sets or intervals are unbounded.")
    if (marginal.get("empty_fraction") or 0) > 0:
        notes.append(
            "Some prediction sets are empty: the model is more accurate than the target level, "
            "so the least confident predictions get no label at this level."
        )
    return notes


def _halving(
    labels: Mapping[str, np.ndarray], unit: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Random half for calibration (boolean mask over samples): whole units (patients; codes
    0..G-1, one per sample) go to one half, stratified by the combined group labels of each
    unit's first sample. With one sample per unit, a stratified halving of the samples."""
    n = len(unit)
    key = np.array(["\x1f".join(t) for t in zip(*labels.values(), strict=True)] or [""] * n)
    key = key[np.unique(unit, return_index=True)[1]]  # one key per unit, in code order
    cal = np.zeros(len(key), dtype=bool)
    for stratum in np.unique(key):
        idx = rng.permutation(np.flatnonzero(key == stratum))
        k = len(idx) // 2 + int(len(idx) % 2 == 1 and rng.random() < 0.5)
        cal[idx[:k]] = True
    return cal[unit]


def _codes(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Codes 0..G-1 of group labels (one per sample)."""
    return np.unique(np.asarray(values), return_inverse=True)[1].reshape(-1)


def _count(unit: np.ndarray) -> int:
    """Number of distinct units (patients) among ``unit``."""
    return len(np.unique(unit))


def _labels(values: Sequence[Any] | pd.Series, n: int) -> np.ndarray:
    s = pd.Series(np.asarray(values, dtype=object))
    if len(s) != n:
        raise ValueError(f"group labels have {len(s)} values for {n} samples")
    return s.where(s.notna(), "unknown").astype(str).to_numpy()


def _class_names(classes: Sequence[Any], k: int) -> list[str]:
    names = [str(c) for c in classes] if len(classes) else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} class labels for {k} probability columns")
    return names


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _inf(x: float | None) -> float:
    return math.inf if x is None else float(x)
