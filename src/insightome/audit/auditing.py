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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from insightome.audit.conformal import conformal_audit
from insightome.audit.data_audit import data_audit
from insightome.audit.explanations import explain
from insightome.audit.groups import group_labels
from insightome.audit.model_audit import model_audit
from insightome.evaluate.metrics import decision_threshold
from insightome.evaluate.splitters import ResamplingPlan
from insightome.models.candidates import Candidate
from insightome.runs import json_ready
from insightome.study import Study

MIN_GROUP_SIZE = 30
MIN_CELL = 10
CONFORMAL_LEVEL = 0.9
CONFORMAL_MAX_N = 5000


@dataclass
class AuditSettings:
    min_group_size: int = MIN_GROUP_SIZE
    min_cell: int = MIN_CELL
    conformal_level: float = CONFORMAL_LEVEL
    justify: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_group_size": self.min_group_size,
            "min_cell": self.min_cell,
            "conformal_level": self.conformal_level,
            "justify": dict(self.justify),
        }


def sensitive_groups(study: Study, settings: AuditSettings) -> dict[str, pd.Series]:
    """Group labels per sensitive attribute (and intersections) for the modelled samples."""
    columns = [c for c in study.spec.sensitive if c in study.obs.columns]
    if not columns:
        return {}
    return group_labels(study.obs[columns], columns, min_group_size=settings.min_group_size)


def audit_data(study: Study, settings: AuditSettings, seed: int = 0) -> dict[str, Any]:
    """The data audit (before modelling)."""
    start = time.perf_counter()
    groups = sensitive_groups(study, settings)
    site = study.obs[study.spec.site] if study.spec.site in study.obs.columns else None
    result = data_audit(
        study.features,
        study.y,
        study.spec.task,
        groups,
        classes=study.classes,
        site=site,
        min_cell=settings.min_cell,
        seed=seed,
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
    """Model audit, conformal coverage and explanations; also the conformal thresholds."""
    seconds: dict[str, float] = {}
    groups = sensitive_groups(study, settings)
    pred = np.nanmean(winner_oof, axis=0)
    task = study.spec.task
    start = time.perf_counter()
    model = model_audit(
        study.y,
        pred,
        task,
        groups,
        classes=study.classes,
        threshold=decision_threshold(study.y) if task == "binary" else None,
        n_bootstrap=n_bootstrap,
        seed=seed,
        min_group_size=settings.min_group_size,
    )
    seconds["model"] = time.perf_counter() - start
    start = time.perf_counter()
    conformal = None
    thresholds = None
    if task != "survival":
        # crepes' prediction sets cost O(n²) per split: above CONFORMAL_MAX_N samples the
        # coverage and the thresholds come from a random subset of that size
        rows = np.arange(len(study.y))
        if len(rows) > CONFORMAL_MAX_N:
            rows = np.sort(np.random.default_rng(seed).choice(rows, CONFORMAL_MAX_N, False))
        conf = conformal_audit(
            study.y[rows],
            pred[rows],
            task,
            {name: labels.iloc[rows] for name, labels in groups.items()},
            classes=study.classes,
            level=settings.conformal_level,
            min_group_size=settings.min_group_size,
            seed=seed,
        )
        conformal, thresholds = conf.to_dict(), conf.thresholds()
        if len(rows) < len(study.y):
            conformal.setdefault("notes", []).append(
                f"coverage and thresholds from a random subset of {len(rows)} of "
                f"{len(study.y)} samples"
            )
    seconds["conformal"] = time.perf_counter() - start
    start = time.perf_counter()
    used = [s for s in study.spec.sensitive if s in study.features.columns]
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
        "conformal": conformal
        if conformal is not None
        else {"notes": ["conformal prediction is not available for survival outcomes"]},
        "explanations": explanations,
        "attributes": {name: sorted(map(str, s.unique())) for name, s in groups.items()},
        "settings": settings.to_dict(),
        "notes": notes,
        "seconds": seconds,
    }
    return json_ready(out), (json_ready(thresholds) if thresholds is not None else None)


def parse_justifications(items: Sequence[str]) -> dict[str, str]:
    """``['sex=reference ranges differ', ...]`` → ``{'sex': 'reference ranges differ'}``."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, reason = item.partition("=")
        reason = reason.strip().strip('"').strip("'")
        if not sep or not name.strip() or not reason:
            from insightome import errors
            from insightome.errors import UserError

            raise UserError(
                errors.OPTION_INVALID,
                option="--justify",
                reason=f"expected ATTRIBUTE=\"clinical reason\", got {item!r}",
            )
        out[name.strip()] = reason
    return out


def audit_summary(audit: Mapping[str, Any]) -> dict[str, int]:
    """Counts of verdicts, for the log and the CLI summary."""
    rows = (audit.get("model") or {}).get("groups") or []
    verdicts = pd.Series([r.get("verdict") for r in rows], dtype=object)
    return {str(k): int(v) for k, v in verdicts.value_counts().items()}
