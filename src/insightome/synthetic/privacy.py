"""The privacy gate of a synthetic cohort: every check, its verdict and the reasons.

Checks (docs/synthetic-privacy.md states each, its threshold and its limits):

* distance to closest record (DCR): each synthetic row's Gower distance to the nearest
  training row against each hold-out row's distance to the nearest training row, all rows
  of both; fails when exact copies of training rows are more common than real rows equal
  to a training row, or when the synthetic 5th percentile is below the hold-out's by more
  than sampling error (a one-sided permutation test); ``dcr_rule`` says whether a
  percentile below within sampling error passes ("one-sided", the default) or is
  "insufficient evidence" ("point");
* membership inference: an attacker scores a record by its closeness to the synthetic
  table (minus the distance to its nearest synthetic row); members are all the training
  rows, non-members all the hold-out rows; the AUC with DeLong's 95% interval (exact
  and deterministic for a fixed scoring rule, ties as midranks, valid at the small sizes
  this is used at, where a bootstrap of 25 rows per class is itself unstable) must have
  its upper bound at or below 0.60;
* singling out (univariate, multivariate) and linkability risks by anonymeter's method
  (`disclosure_risks.py`): upper bound of each 95% interval at or below 0.09.

A check passes, fails, or gives "insufficient evidence": too few rows to compute it, or an
interval that straddles its bound (the point estimate is within it, the interval is not).
Insufficient evidence does not pass the gate: a small cohort has to earn its release, and
the user may override the gate knowingly (``--force``). No result holds a row's values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from insightome.io.json_values import json_ready
from insightome.synthetic.disclosure_risks import (
    DisclosureRisk,
    linkability_risk,
    singling_out_risk,
)
from insightome.synthetic.distance import GowerSpace
from insightome.synthetic.fidelity_measures import auc_delong, auc_interval
from insightome.synthetic.settings import PrivacyThresholds

PASS, FAIL, INSUFFICIENT = "pass", "fail", "insufficient evidence"


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict: "pass", "fail" or "insufficient evidence", and why."""

    name: str
    verdict: str
    reason: str  # one line; for a pass, what was measured
    details: dict = field(default_factory=dict)  # the check's aggregates (JSON-safe)

    @property
    def passed(self) -> bool:
        return self.verdict == PASS

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "passed": self.passed,
            "reason": self.reason,
            "details": json_ready(self.details),
        }


@dataclass(frozen=True)
class PrivacyReport:
    """Every check, the gate's verdict and one reason line per check that did not pass."""

    checks: list[CheckResult]
    thresholds: PrivacyThresholds
    notes: list[str]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def reasons(self) -> list[str]:
        return [f"{c.name}: {c.verdict}: {c.reason}" for c in self.checks if not c.passed]

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "reasons": self.reasons,
            "checks": [c.to_dict() for c in self.checks],
            "thresholds": json_ready(self.thresholds.to_dict()),
            "notes": list(self.notes),
        }


def privacy_checks(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    thresholds: PrivacyThresholds | None = None,
    seed: int = 0,
    link_columns: tuple[list[str], list[str]] | None = None,
) -> PrivacyReport:
    """Run every privacy check of a synthetic table (same columns as ``train``)."""
    thresholds = thresholds or PrivacyThresholds()
    columns = list(train.columns)
    for name, frame in (("hold-out", holdout), ("synthetic", synthetic)):
        if list(frame.columns) != columns:
            raise ValueError(f"the {name} table's columns differ from the training table's")
    holdout, synthetic = holdout[columns], synthetic[columns]
    space = GowerSpace.fit(train)
    notes = [
        f"distances: Gower over {len(columns)} columns, numeric ranges of the "
        f"{len(train)} training rows"
    ]
    checks = [
        distance_to_closest_record(space, train, holdout, synthetic, thresholds, seed),
        membership_inference(space, train, holdout, synthetic, thresholds, seed),
    ]
    risks = [
        (
            singling_out_risk(
                train,
                holdout,
                synthetic,
                seed,
                mode,
                n_attacks=thresholds.n_attacks,
                n_cols=thresholds.singling_out_columns,
                max_attempts=thresholds.max_query_attempts,
                confidence_level=thresholds.confidence_level,
            ),
            thresholds.singling_out_upper,
        )
        for mode in ("univariate", "multivariate")
    ]
    risks.append(
        (
            linkability_risk(
                train,
                holdout,
                synthetic,
                seed,
                aux_cols=link_columns,
                n_attacks=thresholds.n_attacks,
                n_neighbors=thresholds.linkability_neighbors,
                confidence_level=thresholds.confidence_level,
            ),
            thresholds.linkability_upper,
        )
    )
    checks += [_risk_check(risk, bound, thresholds.min_rows) for risk, bound in risks]
    return PrivacyReport(checks=checks, thresholds=thresholds, notes=notes)


# -- distance to closest record ----------------------------------------------------------
def distance_to_closest_record(
    space: GowerSpace,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    thresholds: PrivacyThresholds,
    seed: int,
) -> CheckResult:
    """Synthetic rows' distances to their nearest training row against the hold-out rows'.

    Every row of each table is used (a row's distance to the training rows does not depend
    on the other rows of its table, so the larger table need not be cut down to the
    smaller one's size: its percentile is simply more precise). "Significantly closer" is
    a one-sided permutation test of the percentile difference (the two tables' distances
    pooled and relabelled at random, ``dcr_bootstrap`` times): exact for a table of real
    patients the generator never saw, whose distances are exchangeable with the hold-out's,
    so it refuses such a table at most 1 - ``confidence_level`` of the time; a percentile
    bootstrap of the difference (each table resampled at its own size) is reported as the
    interval. ``thresholds.dcr_rule`` decides what a difference below zero within
    sampling error means (see :class:`PrivacyThresholds`)."""
    rng = np.random.default_rng(seed)
    n_syn, n_hold = len(synthetic), len(holdout)
    synthetic_dcr = space.nearest(synthetic, train)[0]
    holdout_dcr = space.nearest(holdout, train)[0]
    q = thresholds.dcr_percentile
    synthetic_p, holdout_p = np.percentile(synthetic_dcr, q), np.percentile(holdout_dcr, q)
    copies, real_ties = float(np.mean(synthetic_dcr == 0)), float(np.mean(holdout_dcr == 0))
    draws = thresholds.dcr_bootstrap
    difference = _bootstrap_percentile(synthetic_dcr, q, draws, rng) - _bootstrap_percentile(
        holdout_dcr, q, draws, rng
    )
    alpha = 1.0 - thresholds.confidence_level
    low, high = np.quantile(difference, [alpha / 2, 1 - alpha / 2])
    p_value = _permutation_p(synthetic_dcr, holdout_dcr, q, draws, rng)
    details = {
        "synthetic_rows": n_syn,
        "holdout_rows": n_hold,
        "percentile": q,
        "synthetic_percentile": synthetic_p,
        "holdout_percentile": holdout_p,
        "difference": synthetic_p - holdout_p,
        "difference_ci": [low, high],
        "difference_ci_method": f"percentile bootstrap, {draws} resamples of each table",
        "p_closer": p_value,
        "p_closer_method": f"one-sided permutation test, {draws} relabellings",
        "rule": thresholds.dcr_rule,
        "point_rule_met": bool(synthetic_p >= holdout_p),
        "synthetic_median": float(np.median(synthetic_dcr)),
        "holdout_median": float(np.median(holdout_dcr)),
        "exact_copy_share": copies,
        "holdout_exact_share": real_ties,
    }
    measured = (
        f"p{q:g} {synthetic_p:.3f} synthetic vs {holdout_p:.3f} hold-out; exact copies "
        f"{copies:.1%} vs hold-out {real_ties:.1%} ({n_syn} synthetic, {n_hold} hold-out rows)"
    )
    name = "distance to closest record"
    if min(n_syn, n_hold) < thresholds.min_rows:
        return CheckResult(
            name,
            INSUFFICIENT,
            f"{min(n_syn, n_hold)} rows in the smaller table, fewer than {thresholds.min_rows}",
            details,
        )
    if copies > real_ties + thresholds.exact_copy_excess:
        return CheckResult(name, FAIL, f"exact copies of training rows: {measured}", details)
    test = f"one-sided permutation p = {p_value:.3f}"
    if p_value < alpha:
        return CheckResult(
            name,
            FAIL,
            f"synthetic rows closer to training rows than real rows are ({test}): {measured}",
            details,
        )
    if synthetic_p >= holdout_p:
        return CheckResult(name, PASS, measured, details)
    if thresholds.dcr_rule == "one-sided":
        return CheckResult(
            name,
            PASS,
            f"synthetic p{q:g} below the hold-out's by {holdout_p - synthetic_p:.3f}, within "
            f"sampling error ({test}): {measured}",
            details,
        )
    return CheckResult(
        name,
        INSUFFICIENT,
        f"synthetic p{q:g} below the hold-out's within sampling error ({test}; the point "
        f"rule asks for none below): {measured}",
        details,
    )


def _permutation_p(
    synthetic: np.ndarray, holdout: np.ndarray, q: float, draws: int, rng: np.random.Generator
) -> float:
    """One-sided p-value of "the synthetic ``q``-th percentile is below the hold-out's":
    the share of random relabellings of the pooled distances whose difference is at most
    the observed one (the observed labelling counted, so p > 0)."""
    pooled = np.concatenate([synthetic, holdout])
    observed = np.percentile(synthetic, q) - np.percentile(holdout, q)
    k = len(synthetic)
    at_most = 0
    for chunk in _chunks(draws, len(pooled)):  # draws x rows in blocks of bounded memory
        order = np.argsort(rng.random((chunk, len(pooled))), axis=1)
        relabelled = pooled[order]
        differences = np.percentile(relabelled[:, :k], q, axis=1) - np.percentile(
            relabelled[:, k:], q, axis=1
        )
        at_most += int(np.sum(differences <= observed + 1e-12))
    return float((1 + at_most) / (1 + draws))


def _chunks(draws: int, width: int, cells: int = 4_000_000) -> list[int]:
    """``draws`` split into blocks of at most ``cells`` values of ``width`` each."""
    size = max(1, cells // max(width, 1))
    return [min(size, draws - start) for start in range(0, draws, size)]


def _bootstrap_percentile(
    values: np.ndarray, q: float, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """``q``-th percentile of ``draws`` bootstrap resamples of ``values``."""
    return np.concatenate(
        [
            np.percentile(values[rng.integers(0, len(values), (chunk, len(values)))], q, axis=1)
            for chunk in _chunks(draws, len(values))
        ]
    )


# -- membership inference ----------------------------------------------------------------
def membership_inference(
    space: GowerSpace,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    thresholds: PrivacyThresholds,
    seed: int,
) -> CheckResult:
    """Every training row a member, every hold-out row a non-member: DeLong's interval
    holds for unequal classes, and no row left out widens it for nothing."""
    m, n = len(train), len(holdout)
    member_scores = -space.nearest(train, synthetic)[0]
    non_member_scores = -space.nearest(holdout, synthetic)[0]
    auc, low, high = delong_auc(member_scores, non_member_scores, thresholds.confidence_level)
    bound = thresholds.membership_auc_upper
    details = {
        "members": m,
        "non_members": n,
        "auc": auc,
        "ci": [low, high],
        "ci_method": "DeLong",
        "bound": bound,
        "attack": "score = minus the distance to the nearest synthetic row",
    }
    measured = f"AUC {auc:.3f}, 95% CI {low:.3f}-{high:.3f}, bound {bound:.2f} ({m} vs {n} rows)"
    if min(m, n) < thresholds.min_rows or not np.isfinite(high):
        return CheckResult(
            "membership inference",
            INSUFFICIENT,
            f"{m} members and {n} non-members, fewer than {thresholds.min_rows} in one",
            details,
        )
    return CheckResult("membership inference", _verdict(auc, high, bound), measured, details)


def delong_auc(
    positives: np.ndarray, negatives: np.ndarray, confidence_level: float = 0.95
) -> tuple[float, float, float]:
    """AUC of ``positives`` over ``negatives`` with DeLong's interval, clipped to [0, 1]
    (:func:`~insightome.synthetic.fidelity_measures.auc_delong`, the one DeLong of the
    synthetic checks)."""
    labels = np.r_[np.ones(len(positives), dtype=bool), np.zeros(len(negatives), dtype=bool)]
    auc, se = auc_delong(labels, np.concatenate([positives, negatives]))
    if not np.isfinite(auc):
        return float("nan"), float("nan"), float("nan")
    low, high = auc_interval(auc, se, confidence_level)
    return auc, low, high


# -- shared ------------------------------------------------------------------------------
def _risk_check(risk: DisclosureRisk, bound: float, min_rows: int) -> CheckResult:
    details = risk.to_dict() | {"bound": bound}
    name = f"{risk.attack} risk"
    if risk.n_attacks == 0:
        return CheckResult(
            name,
            INSUFFICIENT,
            "no attack could be made from the synthetic "
            "table (no query singles out one of its rows)",
            details,
        )
    if risk.rows_attacked < min_rows:
        return CheckResult(
            name,
            INSUFFICIENT,
            f"{risk.rows_attacked} rows attacked, fewer than {min_rows}",
            details,
        )
    if not risk.computable:
        return CheckResult(
            name,
            INSUFFICIENT,
            "the hold-out rows were singled out as often "
            "as an attack can reach a training row: the residual risk is "
            "undefined",
            details,
        )
    measured = (
        f"risk {risk.risk:.3f}, 95% CI {risk.ci_low:.3f}-{risk.ci_high:.3f}, bound {bound:.2f} "
        f"({_count(risk.n_main)} training vs {_count(risk.n_control)} hold-out successes of "
        f"{risk.n_attacks} attacks)"
    )
    return CheckResult(name, _verdict(risk.risk, risk.ci_high, bound), measured, details)


def _verdict(point: float, upper: float, bound: float) -> str:
    """Pass when the upper bound is within ``bound``; fail when the estimate is beyond it;
    otherwise the interval straddles the bound: insufficient evidence."""
    if upper <= bound:
        return PASS
    return FAIL if point > bound else INSUFFICIENT


def _count(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
