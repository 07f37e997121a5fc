"""Model audit: performance, error rates and calibration by group, with honest uncertainty.

Everything is computed from the run's **out-of-fold** predictions (each sample scored by a
model that never saw it).

* **Point estimates by group**: fairlearn's :class:`~fairlearn.metrics.MetricFrame` (Weerts
  et al. 2023, JMLR 24:257), one per attribute, with sklearn/fairlearn metrics
  (``roc_auc_score``, ``true_positive_rate``, ``false_positive_rate``,
  ``false_negative_rate``, ``selection_rate``, ``r2_score``, ``mean_absolute_error``) and
  callables where they have none (Harrell's C, macro one-vs-rest AUC, calibration). Binary
  error rates use the same decision rule for all groups: each out-of-fold prediction is
  called positive at its training folds' prevalence (``threshold``, one per sample).
* **Calibration** (binary), after the hierarchy of Van Calster et al. (2019, BMC Med
  17:230): calibration-in-the-large = observed − mean predicted risk; calibration intercept
  = ``a`` in logit P(y) = a + logit(p) (slope fixed at 1; target 0); calibration slope = ``b``
  in logit P(y) = a + b·logit(p) (target 1), by a Newton solver vectorized over bootstraps.
* **Uncertainty**: B bootstrap samples of the *whole* data (weight matrices, as in
  :mod:`insightome.evaluate.bbc`); a group's metric in bootstrap b uses its weights in b, so
  group sizes vary as in a new sample. With ``sample_groups`` (``--groups``: several samples
  per patient) whole patients are resampled, as in BBC-CV: a patient's samples are not
  independent, and resampling them one by one would make every interval too narrow (by
  about √m with m samples per patient) and let flags appear by chance. 95% percentile
  intervals. **Disparities**: each group against the reference (the largest known group), as
  difference and ratio, paired on the same bootstrap samples.
* **Verdicts** per group × metric. "insufficient evidence" — never a pass — when the group or
  the reference has fewer than ``min_group_size`` samples or ``min_events`` positives /
  negatives / events for the metric; for error rates, when the two groups together have
  fewer than ``min_events`` hits or misses (a rate of 0/90 resamples to 0 every time, so its
  bootstrap interval is degenerate); for calibration fits, when Σ p(1 − p) (the intercept's
  Fisher information) is below ``min_events`` (near-perfect discrimination: a few confident
  errors drive the fit). With ``sample_groups`` these counts are of patients: each of a
  patient's m samples counts 1/m (copies of a sample are no new evidence). Otherwise "flag"
  when the point disparity lies outside its band (ratio band for rates — the four-fifths
  rule as used by Aequitas, Saleiro et al. 2018; absolute differences for AUC/C-index, R²
  and calibration) **and** no difference is excluded with 95% confidence; else "no
  disparity detected", which is absence of evidence, not proof of fairness. Selection rate
  (demographic parity) is reported but not judged ("reported, not judged"): with different
  outcome rates, a calibrated model should select groups at different rates. The confidence
  requirement is family-wise by default: the bootstrap p-value (the level at which the
  paired interval meets 0) must survive Holm's (1979) adjustment over the attribute's
  comparisons. Per-comparison intervals over eight metrics flagged 9 of 40 random
  three-level attributes (ACTG175), Holm none; ``multiplicity="none"`` restores them. The
  reference's own rows say "reference".

Privacy: a group with fewer than ``min_cell`` samples has ``n`` suppressed and no
metrics reported (verdict "insufficient evidence"). The sizes and outcome counts shown follow
:mod:`insightome.groups.disclosure` (as in the data audit): a group whose size is hidden, or a
metric computed over a hidden count (TPR over few positives, say), keeps its verdict but
publishes no numbers.

The thresholds and their sources are in :mod:`insightome.audit.audit_thresholds`, the metrics
(point, bootstrap, evidence rule; logistic recalibration) in
:mod:`insightome.audit.disparity_metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from fairlearn import metrics as fm

from insightome.audit.audit_thresholds import AuditThresholds
from insightome.audit.data_audit import AUDIT_LENGTH, AUDIT_TASK_INVALID, TASKS, jsonable
from insightome.audit.disparity_metrics import (
    AuditMetric,
    metrics_for_task,
    unit_weights,
    weight_total,
)
from insightome.errors import UserError
from insightome.evaluate import metrics as M
from insightome.evaluate.bbc import CHUNK_CELLS, bootstrap_weights
from insightome.evaluate.engine import counted_warnings, describe_warnings
from insightome.groups.disclosure import MIN_CELL, GroupDisclosure, group_disclosure
from insightome.groups.labels import aligned_labels, group_counts, reference_group

ALPHA = 0.05
SUPPRESSED_REASON = (
    "flagged; its numbers are suppressed because counts they are computed from are hidden "
    "(small-cell rule, docs/audit.md)"
)
REFERENCE, FLAG = "reference", "flag"
INSUFFICIENT, NO_DISPARITY = "insufficient evidence", "no disparity detected"
# Demographic parity is reported, not judged: when outcome rates differ between groups, a
# calibrated model *should* select them at different rates, and forcing equal selection
# would worsen calibration or error rates (Kleinberg et al. 2016; Chouldechova 2017).
NOT_JUDGED, NOT_JUDGED_METRICS = "reported, not judged", frozenset({"selection_rate"})
ROW_KEYS = ("attribute", "group", "n", "metric", "value", "ci95", "difference")
ROW_KEYS += ("difference_ci95", "ratio", "ratio_ci95", "verdict")


@dataclass(frozen=True)
class ModelAudit:
    metrics: tuple[str, ...]
    reference: dict[str, str]
    overall: dict[str, dict[str, Any]]
    groups: list[dict[str, Any]]
    flags: list[dict[str, Any]]
    thresholds: AuditThresholds
    min_group_size: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("metrics", "reference", "overall", "groups")}
        out |= {"flags": self.flags, "thresholds": self.thresholds.to_dict()}
        return jsonable(out | {"min_group_size": self.min_group_size, "notes": self.notes})


def model_audit(
    y: np.ndarray,
    pred: np.ndarray,
    task: str,
    groups: Mapping[str, pd.Series],
    *,
    classes: Sequence[str] = (),
    threshold: float | np.ndarray | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    min_group_size: int = 30,
    thresholds: AuditThresholds | None = None,
    min_cell: int = MIN_CELL,
    sample_groups: np.ndarray | None = None,
) -> ModelAudit:
    """Audit out-of-fold predictions ``pred`` of ``y`` by group (see the module docstring).

    ``groups`` holds one label per sample (in the order of ``y``) per attribute, e.g. from
    :func:`insightome.groups.labels.group_labels`; ``classes`` names the class codes in the
    notes; ``threshold`` is the binary decision threshold, one for all samples or one per
    sample: for out-of-fold predictions, the prevalence of the training folds that made
    each (:func:`insightome.evaluate.metrics.fold_thresholds`). Without it, the prevalence
    of ``y`` — the audited labels themselves; the notes say so.
    ``sample_groups`` (one patient ID or code per sample, ``--groups``) makes the bootstrap
    resample whole patients.
    """
    if task not in TASKS:
        raise UserError(AUDIT_TASK_INVALID, value=task)
    y, pred = np.asarray(y), np.asarray(pred, dtype=float)
    pred = pred.reshape(-1, 1) if pred.ndim == 1 else pred
    n = len(y)
    if len(pred) != n:
        raise UserError(AUDIT_LENGTH, what="the predictions", n_values=len(pred), n=n)
    if sample_groups is not None and len(sample_groups) != n:
        raise UserError(AUDIT_LENGTH, what="the --groups column", n_values=len(sample_groups), n=n)
    th = thresholds or AuditThresholds()
    notes = [f"{n_bootstrap} bootstrap samples of all {n} samples; 95% percentile intervals."]
    if sample_groups is not None:
        n_units = len(np.unique(sample_groups))
        notes[0] = (
            f"{n_bootstrap} bootstrap samples of all {n_units} groups (--groups; {n} samples), "
            "each drawn with all its samples; 95% percentile intervals."
        )
    if task == "binary":
        # the binary metrics see [probability, decision threshold] per sample
        cut = np.broadcast_to(M.decision_threshold(y) if threshold is None else threshold, n)
        pred = np.column_stack([pred[:, 0], cut])
        positive = f" '{classes[1]}'" if len(classes) > 1 else ""
        notes.append(f"Error rates of the positive class{positive} at " + _threshold_text(cut))
        if threshold is None:
            notes.append("The decision threshold is the prevalence of the audited labels.")
    specs = metrics_for_task(task, pred)
    labels = aligned_labels(groups, n)
    # MetricFrame passes sample indices; the metrics look their rows up in ``pred``
    y_pred = pred[:, 0] if task in ("regression", "survival") else np.arange(n)
    boot, boot_warnings = _bootstrap(
        y, pred, specs, labels, n_bootstrap, seed, min_cell, sample_groups
    )
    if boot_warnings:
        notes.append(
            f"Bootstrap warnings: {describe_warnings(boot_warnings)} — from resamples in which "
            "a metric is undefined (e.g. no positive case in a group's resample); such "
            "resamples are left out of that metric's interval, and no interval is given when "
            "most are undefined."
        )
    unit_w = unit_weights(sample_groups, n)
    with counted_warnings() as point_warnings, np.errstate(divide="warn", invalid="warn"):
        whole = _frame(specs, y, y_pred, np.zeros(n, dtype=int)).overall
        by_attr = {attr: _frame(specs, y, y_pred, lab).by_group for attr, lab in labels.items()}
    if point_warnings:
        notes.append(f"Warnings while scoring the groups: {describe_warnings(point_warnings)}.")
    overall = {m.name: {"value": float(whole[m.name])} for m in specs}
    for m in specs:
        overall[m.name]["ci95"] = _ci(boot[None][m.name])
    rows: list[dict[str, Any]] = []
    flags: list[dict[str, Any]] = []
    reference: dict[str, str] = {}
    for attr, lab in labels.items():
        ref = reference_group(lab, min_cell)
        if ref is not None:  # an attribute without one is named in the notes
            reference[attr] = ref
        by_group = by_attr[attr]
        tests = []  # (row, p-value, outside the band, reason, reference value)
        for g, size in zip(*group_counts(lab), strict=True):  # bands in age order
            for m in specs:
                row = dict.fromkeys(ROW_KEYS) | {"attribute": attr, "group": str(g)}
                rows.append(row := row | {"metric": m.name, "verdict": INSUFFICIENT})
                if size < min_cell:
                    continue
                value, b_g = float(by_group.loc[g, m.name]), boot[attr, g][m.name]
                row |= {"n": int(size), "value": value, "ci95": _ci(b_g)}
                if ref is None:
                    continue
                if g == ref:
                    ratio = 1.0 if m.has_ratio else None
                    row |= {"difference": 0.0, "ratio": ratio, "verdict": REFERENCE}
                    continue
                ref_value, b_ref = float(by_group.loc[ref, m.name]), boot[attr, ref][m.name]
                row |= {"difference": value - ref_value, "difference_ci95": _ci(b_g - b_ref)}
                if m.has_ratio:
                    row |= {"ratio": _ratio(value, ref_value), "ratio_ci95": _ratio_ci(b_g, b_ref)}
                finite = np.isfinite([value, ref_value, *row["difference_ci95"]]).all()
                sides = [(y[lab == x], pred[lab == x], unit_w[lab == x]) for x in (g, ref)]
                if finite and _testable(m, sides, task, th, min_group_size):
                    outside, reason = _band(m, row, th)
                    tests.append((row, _p_value(b_g - b_ref), outside, reason, ref_value))
        flags += _decide(tests, th, ref, n_bootstrap)
        if np.any(np.unique(lab, return_counts=True)[1] < min_cell):
            notes.append(f"'{attr}': groups under {min_cell} samples are not reported.")
        if ref is None:
            notes.append(
                f"'{attr}': fewer than two known groups of {min_cell}+ samples, so no group "
                "is compared with another (insufficient evidence)."
            )
    shown = group_disclosure(labels, y, task, min_cell, min_group_size=min_group_size)
    _publish(rows, flags, shown, specs)
    if n_tests := sum(r["verdict"] in (FLAG, NO_DISPARITY) for r in rows):
        how = "Holm-adjusted per attribute" if th.multiplicity.value == "holm" else "unadjusted"
        notes.append(f"{n_tests} group × metric comparisons tested; p-values {how}.")
    names = tuple(m.name for m in specs)
    return ModelAudit(names, reference, overall, rows, flags, th, min_group_size, notes)


def _publish(
    rows: list[dict[str, Any]],
    flags: list[dict[str, Any]],
    shown: GroupDisclosure,
    specs: list[AuditMetric],
) -> None:
    """Hide what the disclosure rule hides: the size of a hidden group (with its marker), and
    every number of a metric computed over a hidden count (a rate and its denominator give
    the count back). Verdicts stay; a flag on hidden numbers says so instead of quoting them."""
    needs = {m.name: m.needs for m in specs}
    hidden = set()
    for row in rows:
        attr, g = row["attribute"], row["group"]
        if not shown.size_shown(attr, g):
            row["n"], row["suppressed"] = None, {"n": shown.size_marker(attr, g)}
        if row["n"] is None or not _counts_shown(shown, attr, g, needs[row["metric"]]):
            if row["value"] is not None:
                hidden.add((attr, g, row["metric"]))
            row |= dict.fromkeys(ROW_KEYS[4:-1])
    for f in flags:
        if (f["attribute"], f["group"], f["metric"]) in hidden:
            f["reason"] = SUPPRESSED_REASON


def _counts_shown(shown: GroupDisclosure, attr: str, group: str, needs: str) -> bool:
    """Whether the counts a metric is computed over (:attr:`AuditMetric.needs`) are shown."""
    classes = {"pos": (1,), "neg": (0,), "both": (0, 1), "events": (1,)}.get(needs, ())
    if needs == "classes":
        return shown.all_shown(attr, group)
    return shown.size_shown(attr, group) and all(shown.cell_shown(attr, group, c) for c in classes)


def _frame(specs: list[AuditMetric], y: np.ndarray, y_pred: np.ndarray, lab: np.ndarray):
    """fairlearn MetricFrame of every metric by group (and overall)."""
    metrics = {m.name: m.point for m in specs}
    return fm.MetricFrame(metrics=metrics, y_true=y, y_pred=y_pred, sensitive_features=lab)


def _ratio_ci(b_g: np.ndarray, b_ref: np.ndarray) -> list[float]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return _ci(b_g / b_ref)


def _ratio(value: float, ref_value: float) -> float:
    if ref_value:
        return value / ref_value
    return math.inf if value > 0 else math.nan


def _testable(
    m: AuditMetric,
    sides: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    task: str,
    th: AuditThresholds,
    min_n: int,
) -> bool:
    """Enough data in the group and the reference (``sides``) for a verdict on ``m``.

    Each sample counts its weight ``w`` (1, or 1/m for a patient with m samples), so with
    ``--groups`` the evidence rules count patients, not copies of them.
    """
    k = int(th.min_events.value)
    for y, _, w in sides:
        size = weight_total(w)
        pos = weight_total(w[y == 1]) if task == "binary" else 0
        classes = np.bincount(y.astype(int), w) if task == "multiclass" else np.zeros(1)
        count = {"n": k, "pos": pos, "neg": size - pos, "both": min(pos, size - pos)}
        count |= {"events": weight_total(w[y > 0]), "classes": k * int(np.sum(classes >= k) >= 2)}
        if size < min_n or count[m.needs] < k:
            return False
    return m.enough is None or m.enough(*sides[0], *sides[1], k)


def _p_value(d_boot: np.ndarray) -> float:
    """Two-sided bootstrap p-value of no difference (where the paired interval meets 0)."""
    d = d_boot[np.isfinite(d_boot)]
    return float(min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0))))


def _band(m: AuditMetric, row: dict[str, Any], th: AuditThresholds) -> tuple[bool, str]:
    """Whether the point disparity lies outside the configured band, and how to say so."""
    lo, hi = row["difference_ci95"]
    ci = f"difference 95% CI {lo:.3g} to {hi:.3g}"
    if m.band == "ratio":
        low, high = th.ratio_band.value  # type: ignore[misc]
        outside = bool(row["ratio"] < low or row["ratio"] > high)  # NaN ratio: not outside
        return outside, f"ratio {row['ratio']:.3g} outside {low:g}–{high:g}; {ci}"
    limit = float(getattr(th, m.band).value)
    return abs(row["difference"]) > limit, f"{row['difference']:+.3g} beyond ±{limit:.3g}; {ci}"


def _decide(
    tests: list[tuple], th: AuditThresholds, ref: str | None, n_bootstrap: int
) -> list[dict[str, Any]]:
    """Verdicts of one attribute's comparisons (Holm step-down when configured)."""
    for t in tests:
        if t[0]["metric"] in NOT_JUDGED_METRICS:
            t[0]["verdict"] = NOT_JUDGED
    tests = [t for t in tests if t[0]["metric"] not in NOT_JUDGED_METRICS]
    p = np.array([t[1] for t in tests])
    adjusted, holm = p, th.multiplicity.value == "holm"
    if holm and len(p):
        order = np.argsort(p, kind="stable")
        adjusted = np.empty_like(p)
        steps = np.minimum(1.0, (len(p) - np.arange(len(p))) * p[order])
        adjusted[order] = np.maximum.accumulate(steps)
    flags = []
    for (row, _, outside, reason, ref_value), p_adj in zip(tests, adjusted, strict=True):
        row["verdict"] = FLAG if outside and p_adj <= ALPHA else NO_DISPARITY
        if row["verdict"] == FLAG:
            name = M.metric_label(row["metric"])
            text = f"{name} {row['value']:.3g} vs {ref_value:.3g} in reference '{ref}'"
            shown = f"{p_adj:.2g}" if p_adj > 0 else f"< {1 / n_bootstrap:.2g}"
            reason = f"{text}: {reason}; {'Holm-adjusted ' * holm}p {shown}"
            flags.append({k: row[k] for k in ("attribute", "group", "metric")} | {"reason": reason})
    return flags


def _ci(values: np.ndarray) -> list[float]:
    finite = values[~np.isnan(values)]
    if len(finite) < 0.5 * len(values):  # mostly undefined: no interval
        return [math.nan, math.nan]
    with np.errstate(invalid="ignore"):  # ratios may be infinite
        return [float(v) for v in np.percentile(finite, [2.5, 97.5])]


def _bootstrap(
    y: np.ndarray,
    pred: np.ndarray,
    specs: list[AuditMetric],
    labels: Mapping[str, np.ndarray],
    n_bootstrap: int,
    seed: int,
    min_cell: int = MIN_CELL,
    sample_groups: np.ndarray | None = None,
) -> dict[Any, dict[str, np.ndarray]]:
    """Bootstrap values: key None (all samples) or (attribute, group) → metric → (B,).

    With ``sample_groups`` whole groups (patients) are resampled.
    """
    n = len(y)
    cells: dict[Any, np.ndarray] = {None: np.arange(n)}
    for attr, lab in labels.items():
        for g, c in zip(*np.unique(lab, return_counts=True), strict=True):
            if c >= min_cell:
                cells[attr, g] = np.flatnonzero(lab == g)
    out: dict[Any, dict[str, list[np.ndarray]]] = {k: {m.name: [] for m in specs} for k in cells}
    rng = np.random.default_rng(seed)
    chunk = max(1, CHUNK_CELLS // max(n, 1))  # bounded memory, same draws as one batch
    # NaN resamples: told in the notes, not hidden (numpy made to warn whatever its global
    # setting, so that the count does not depend on what ran before)
    with counted_warnings() as raised, np.errstate(divide="warn", invalid="warn"):
        for start in range(0, n_bootstrap, chunk):
            W = bootstrap_weights(n, min(chunk, n_bootstrap - start), rng, sample_groups)
            for key, idx in cells.items():
                for m in specs:
                    out[key][m.name].append(m.boot(y[idx], pred[idx], W[:, idx]))
    values = {k: {name: np.concatenate(v) for name, v in d.items()} for k, d in out.items()}
    return values, raised


def _threshold_text(cut: np.ndarray) -> str:
    """The decision threshold(s) in words, for the notes."""
    lo, hi = float(cut.min()), float(cut.max())
    if lo == hi:
        return f"decision threshold {lo:.4g}."
    return (
        f"each sample's decision threshold: the prevalence of the training folds that "
        f"predicted it ({lo:.4g} to {hi:.4g}; mean over CV repeats)."
    )
