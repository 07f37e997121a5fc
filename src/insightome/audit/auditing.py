"""The audit of one study: data, model, uncertainty and explanations (``results["audit"]``).

:func:`audit_data` runs before modelling (representation, missingness, proxies, site
confounding); :func:`audit_model` after estimation, on the winner's out-of-fold
predictions (group metrics with CIs and verdicts, conformal coverage per group, global
explanations). Both are part of every ``insightome run``; ``insightome audit RUN_DIR``
repeats them on a saved run with other settings (e.g. ``--justify``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from insightome import errors
from insightome.audit.conformal import conformal_audit
from insightome.audit.data_audit import data_audit
from insightome.audit.explanations import explain
from insightome.audit.model_audit import AuditThresholds, model_audit
from insightome.discover.rank_statistics import association_statistics
from insightome.errors import UserError
from insightome.evaluate.metrics import fold_thresholds
from insightome.evaluate.splitters import ResamplingPlan
from insightome.groups.coding import code_text
from insightome.groups.disclosure import MIN_CELL
from insightome.groups.labels import Grouping, grouping, is_age
from insightome.io.json_values import json_ready
from insightome.models.candidates import Candidate
from insightome.study import Study

MIN_GROUP_SIZE = 30
CONFORMAL_LEVEL = 0.9
CONFORMAL_MAX_N = 5000


@dataclass
class AuditSettings:
    min_group_size: int = MIN_GROUP_SIZE
    min_cell: int = MIN_CELL
    conformal_level: float = CONFORMAL_LEVEL
    justify: dict[str, str] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)  # AuditThresholds overrides
    age_bands: tuple[float, ...] | None = None  # --age-bands cut points; None: fit the cohort
    value_labels: dict[str, dict[str, str]] | None = None  # --value-labels; None: not given

    def __post_init__(self) -> None:  # codes as the groups write them (API keys may be 0, 1.0)
        if self.value_labels is not None:
            self.value_labels = {
                str(a): {code_text(c): str(v) for c, v in m.items()}
                for a, m in self.value_labels.items()
            }

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_group_size": self.min_group_size,
            "min_cell": self.min_cell,
            "conformal_level": self.conformal_level,
            "justify": dict(self.justify),
            "thresholds": dict(self.thresholds),
            "age_bands": None if self.age_bands is None else list(self.age_bands),
            "value_labels": {k: dict(v) for k, v in (self.value_labels or {}).items()},
        }

    def inherit(self, invocation: Mapping[str, Any]) -> AuditSettings:
        """Age bands and value labels not given again (``insightome audit``) are the run's
        own (``invocation``, its recorded options)."""
        bands = invocation.get("age_bands") if self.age_bands is None else self.age_bands
        labels = invocation.get("value_labels") if self.value_labels is None else self.value_labels
        return replace(
            self,
            age_bands=None if bands is None else tuple(bands),
            value_labels=dict(labels or {}),
        )

    def check(self, sensitive: Sequence[str]) -> None:
        """One clear line for a bad threshold, or a ``--justify`` or ``--value-labels`` of a
        non-sensitive column, or ``--age-bands`` without an age among them."""
        self.audit_thresholds()
        for option, named in (("--justify", self.justify), ("--value-labels", self.value_labels)):
            unknown = [j for j in named or {} if j not in sensitive]
            if unknown:
                raise UserError(
                    errors.OPTION_INVALID,
                    option=option,
                    reason=f"{', '.join(unknown)} is not a sensitive attribute of this run "
                    f"(sensitive: {', '.join(sensitive) or 'none'})",
                )
        if self.age_bands and not any(is_age(s) for s in sensitive):
            raise UserError(
                errors.OPTION_INVALID,
                option="--age-bands",
                reason=f"no sensitive attribute is an age (sensitive: "
                f"{', '.join(sensitive) or 'none'}); name the age column in --sensitive",
            )

    def audit_thresholds(self) -> AuditThresholds:
        """The verdict bands, with the user's overrides (recorded as "set by the user")."""
        names = {f.name for f in fields(AuditThresholds)}
        unknown = sorted(set(self.thresholds) - names)
        if unknown:
            raise UserError(
                errors.OPTION_INVALID,
                option="--audit-threshold",
                reason=f"unknown threshold {', '.join(unknown)} "
                f"(known: {', '.join(sorted(names))})",
            )
        return AuditThresholds(**self.thresholds)


def sensitive_grouping(study: Study, settings: AuditSettings) -> Grouping | None:
    """Group labels per sensitive attribute (and intersections) for the modelled samples,
    with each attribute's coding; None without sensitive attributes."""
    columns = [c for c in study.spec.sensitive if c in study.obs.columns]
    if not columns:
        return None
    return grouping(
        study.obs[columns],
        columns,
        min_group_size=settings.min_group_size,
        age_bands=settings.age_bands,
        value_labels=settings.value_labels,
    )


def sensitive_groups(study: Study, settings: AuditSettings) -> dict[str, pd.Series]:
    """Group labels per sensitive attribute (and intersections) for the modelled samples."""
    found = sensitive_grouping(study, settings)
    return {} if found is None else found.labels


def audit_data(study: Study, settings: AuditSettings, seed: int = 0) -> dict[str, Any]:
    """The data audit (before modelling); with ``--groups`` it counts patients."""
    start = time.perf_counter()
    groups = sensitive_groups(study, settings)
    site = study.obs[study.spec.site] if study.spec.site in study.obs.columns else None
    # proxies are sought among the other features: with --use-sensitive the attributes
    # themselves are features, and would "predict" themselves perfectly
    own = [c for c in study.spec.sensitive if c in study.features.columns]
    result = data_audit(
        study.features.drop(columns=own) if own else study.features,
        study.y,
        study.spec.task,
        groups,
        classes=study.classes,
        site=site,
        min_cell=settings.min_cell,
        seed=seed,
        sample_groups=study.groups,
        min_group_size=settings.min_group_size,
    )
    out = result.to_dict()
    out["seconds"] = time.perf_counter() - start
    return json_ready(out)


def audit_model(
    study: Study,
    winner: Candidate,
    plan: ResamplingPlan,
    winner_oof: np.ndarray,
    settings: AuditSettings,
    *,
    ranking: Sequence[str] = (),
    n_bootstrap: int = 1000,
    seed: int = 0,
    n_jobs: int = 1,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Model audit, conformal coverage and explanations; also the conformal thresholds.

    ``winner_oof`` is (repeats, samples, k). The model audit uses the mean over repeats;
    conformal calibration uses the first repeat (see :func:`audit_conformal`). With ``--groups``
    (``study.groups``) both resample and split whole patients.
    """
    seconds: dict[str, float] = {}
    found = sensitive_grouping(study, settings)
    groups = {} if found is None else found.labels
    pred = np.nanmean(winner_oof, axis=0)
    task = study.spec.task
    start = time.perf_counter()
    model = model_audit(
        study.y,
        pred,
        task,
        groups,
        classes=study.classes,
        # each averaged out-of-fold prediction: its training folds' prevalence, averaged
        threshold=fold_thresholds(study.y, plan.splits).mean(axis=0) if task == "binary" else None,
        n_bootstrap=n_bootstrap,
        seed=seed,
        min_group_size=settings.min_group_size,
        thresholds=settings.audit_thresholds(),
        min_cell=settings.min_cell,
        sample_groups=study.groups,
    )
    seconds["model"] = time.perf_counter() - start
    start = time.perf_counter()
    conformal, thresholds = audit_conformal(study, winner_oof, groups, settings, seed)
    seconds["conformal"] = time.perf_counter() - start
    start = time.perf_counter()
    used = [s for s in study.spec.sensitive if s in study.features.columns]
    if not ranking:  # no discovery ranking: the strongest univariate associations
        strength, _ = association_statistics(study.features, study.y, task)
        ranking = list(strength.abs().sort_values(ascending=False, kind="stable").index)
    explanations = explain(
        winner,
        study.features,
        study.y,
        plan,
        ranking=ranking,
        sensitive_features=used,
        justify=settings.justify,
        n_classes=len(study.classes),
        seed=seed,
        n_jobs=n_jobs,
    )
    seconds["explanations"] = time.perf_counter() - start
    notes = []
    if not groups:
        notes.append(
            "no sensitive attributes were declared (--sensitive): the model audit reports "
            "overall performance only, with nothing to disaggregate"
        )
    out = {
        "model": model.to_dict(),
        "conformal": conformal,
        "explanations": explanations,
        "attributes": {name: sorted(map(str, s.unique())) for name, s in groups.items()},
        "codings": {} if found is None else {a: c.to_dict() for a, c in found.codings.items()},
        "settings": settings.to_dict(),
        "notes": notes,
        "seconds": seconds,
    }
    return json_ready(out), (json_ready(thresholds) if thresholds is not None else None)


def audit_conformal(
    study: Study,
    winner_oof: np.ndarray,
    groups: Mapping[str, pd.Series],
    settings: AuditSettings,
    seed: int = 0,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Conformal coverage per group and the thresholds ``insightome predict`` applies.

    Calibrated on the out-of-fold predictions of the first CV repeat, not on their mean
    over repeats: ``predict`` applies the thresholds to one fitted model, and the mean of
    R out-of-fold predictions varies less than one model's prediction, so its residuals are
    smaller and the sets or intervals too narrow for the deployed model (a fully grown tree
    on diabetes, 10 repeats: 81% hold-out coverage at a stated 90%;
    ``tests/audit/test_conformal_deployed.py``). Each prediction of one repeat comes from a
    model fitted on (k-1)/k of the samples: one fit's spread, if anything slightly wider
    than the final model's (conservative). CV+ would need the per-fold models at prediction
    time, which a run does not keep. With ``study.groups`` whole patients are kept on one
    side of each calibration/test halving.
    """
    if study.spec.task == "survival":
        return {"notes": ["conformal prediction is not available for survival outcomes"]}, None
    pred = winner_oof[0]
    # above CONFORMAL_MAX_N samples the coverage and the thresholds come from a random subset
    # of whole patients of that size (set when crepes' sets cost O(n²) per split)
    rows = _subset(len(study.y), study.groups, CONFORMAL_MAX_N, np.random.default_rng(seed))
    conf = conformal_audit(
        study.y[rows],
        pred[rows],
        study.spec.task,
        {name: labels.iloc[rows] for name, labels in groups.items()},
        classes=study.classes,
        level=settings.conformal_level,
        min_group_size=settings.min_group_size,
        seed=seed,
        min_cell=settings.min_cell,
        sample_groups=None if study.groups is None else study.groups[rows],
    )
    conformal = conf.to_dict()
    if len(winner_oof) > 1:
        conformal["notes"].append(
            f"Calibrated on the out-of-fold predictions of CV repeat 1 of {len(winner_oof)} "
            "(the spread of one fitted model, as at prediction time), not on their mean over "
            "repeats, which varies less and would make the sets or intervals too narrow."
        )
    if len(rows) < len(study.y):
        conformal["notes"].append(
            f"coverage and thresholds from a random subset of {len(rows)} of {len(study.y)} samples"
        )
    return conformal, conf.thresholds()


def _subset(n: int, groups: np.ndarray | None, max_n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted rows of a random subset of at most ``max_n`` samples (all when n ≤ max_n),
    taking whole groups (patients) when ``groups`` is given."""
    rows = np.arange(n)
    if n <= max_n:
        return rows
    if groups is None:
        return np.sort(rng.choice(rows, max_n, replace=False))
    _, codes, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    order = rng.permutation(len(sizes))
    taken = order[np.cumsum(sizes[order]) <= max_n]
    return rows[np.isin(codes.reshape(-1), taken)]


def audit_summary(audit: Mapping[str, Any]) -> dict[str, int]:
    """Counts of verdicts, for the log and the CLI summary."""
    rows = (audit.get("model") or {}).get("groups") or []
    verdicts = pd.Series([r.get("verdict") for r in rows], dtype=object)
    return {str(k): int(v) for k, v in verdicts.value_counts().items()}
