"""Candidate families side by side, each judged as the run judges its winner.

A run selects one winner among all its candidates, and BBC-CV estimates that selection.
When a user asks whether one kind of model helps (``--candidates default,quantum``: does a
quantum kernel beat a classical one?), the fair answer compares **each family's own
selection**, estimated the same way: BBC-CV over that family's configurations alone, on the
same out-of-fold predictions, bootstraps and decision thresholds. The best plain CV score of
a family would favour the family with more configurations; its BBC-CV estimate does not.

:func:`family_estimates` returns one :class:`FamilyEstimate` per named group of candidate
indices; the run's own BBC-CV result says how often each family won the in-bag selection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from insightome.evaluate.bbc import BBCResult, bbc_cv

__all__ = ["FamilyEstimate", "family_estimates"]


@dataclass(frozen=True)
class FamilyEstimate:
    """One family: its best configuration, plain CV score and BBC-CV estimate [95% CI] of
    selecting among its own configurations; how often the run's in-bag selection picked one
    of them; and the time of its fits (wall-clock, one core per fit)."""

    family: str
    configurations: tuple[str, ...]
    best: str
    plain_cv_value: float
    value: float
    ci95: tuple[float, float]
    run_selection_frequency: float
    fit_seconds: float
    n_fits: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "configurations": list(self.configurations),
            "best": self.best,
            "plain_cv_value": self.plain_cv_value,
            "value": self.value,
            "ci95": list(self.ci95),
            "run_selection_frequency": self.run_selection_frequency,
            "fit_seconds": self.fit_seconds,
            "n_fits": self.n_fits,
        }


def family_estimates(
    oof: np.ndarray,
    y: np.ndarray,
    task: str,
    names: Sequence[str],
    families: Mapping[str, Sequence[int]],
    run: BBCResult,
    *,
    fit_seconds: np.ndarray,
    n_fits: np.ndarray,
    n_bootstrap: int,
    seed: int,
    groups: np.ndarray | None = None,
    thresholds: np.ndarray | None = None,
    estimator: Mapping[str, Any] | None = None,
) -> list[FamilyEstimate]:
    """BBC-CV of each family's own selection (``families``: name → candidate indices into
    ``oof``'s second axis and ``names``), with the run's seed and bootstrap count, so every
    family is resampled exactly as the run's winner was (``estimator``: the run's
    :func:`~insightome.evaluate.bbc.estimator_arguments`). A family none of whose
    configurations could be fitted on every fold is left out."""
    out = []
    for family, idx in families.items():
        cols = [int(i) for i in idx]
        if not cols or np.isnan(oof[:, cols]).any(axis=(0, 2, 3)).all():
            continue
        result = bbc_cv(
            oof[:, cols], y, task, n_bootstrap=n_bootstrap, seed=seed, groups=groups,
            thresholds=thresholds, **(estimator or {}),
        )  # fmt: skip
        est = result.estimate
        out.append(
            FamilyEstimate(
                family=family,
                configurations=tuple(names[i] for i in cols),
                best=names[cols[result.winner]],
                plain_cv_value=float(est.plain_cv_value),
                value=float(est.value),
                ci95=(float(est.ci95[0]), float(est.ci95[1])),
                run_selection_frequency=float(run.selection_frequency[cols].sum()),
                fit_seconds=float(fit_seconds[cols].sum()),
                n_fits=int(n_fits[cols].sum()),
            )
        )
    return out
