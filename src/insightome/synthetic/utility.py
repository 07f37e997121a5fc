"""Utility: does a model trained on synthetic patients work on real ones?

Train on synthetic, test on real (TSTR) against train on real, test on real (TRTR), both
by the engine's own BBC-CV over the same candidates and the same resampling plan of the
REAL cohort. In every training fold the generator is fitted on that fold's real rows only
and the candidate is trained on the synthetic rows it draws
(:class:`insightome.synthesis.SyntheticTraining` with ``mode="replace"``, and the same
generator settings as the table ``synthesize`` releases: CART's density smoothing); the test fold
is real patients the generator never saw. So TSTR measures the whole recipe — generate
from n real patients, then model — with the same selection-bias correction and CI as a
run's estimate, and the two estimates differ only in what the models were trained on.

Two differences from the released table, stated in docs/synthetic.md: inside the folds the
generator learns the study's modelling columns (features and outcome; the sensitive
attributes only with ``--use-sensitive``), and rare categories are not merged there (the
pipelines' one-hot encoding ignores a category a fold never saw).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from insightome.evaluate.search import BBCSearchCV
from insightome.evaluate.splitters import make_plan
from insightome.models.candidates import candidates
from insightome.options.checks import DEFAULT_INTERVAL, DEFAULT_POOLING
from insightome.study import Study
from insightome.synthesis import SyntheticTraining
from insightome.synthesis.cart import DEFAULT_SMOOTHING


@dataclass(frozen=True)
class UtilityResult:
    """TRTR and TSTR estimates (BBC-CV, 95% CI) of the task's primary metric, and the
    secondary metrics' estimates."""

    metric: str
    chance: float | None
    real: dict[str, Any]  # value, ci95, plain_cv_value
    synthetic: dict[str, Any]
    secondary: dict[str, dict[str, Any]]  # metric → {"real": …, "synthetic": …}
    winner_real: str
    winner_synthetic: str
    design: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def retained(self) -> float | None:
        """How much of the real model's gain over chance the synthetic one keeps
        ((TSTR - chance) / (TRTR - chance)); None without a chance level or real gain."""
        if self.chance is None:
            return None
        gain = self.real["value"] - self.chance
        if not np.isfinite(gain) or gain <= 0:
            return None
        return float((self.synthetic["value"] - self.chance) / gain)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "chance": self.chance,
            "real": self.real,
            "synthetic": self.synthetic,
            "retained": self.retained,
            "secondary": self.secondary,
            "winner_real": self.winner_real,
            "winner_synthetic": self.winner_synthetic,
            "design": self.design,
            "notes": list(self.notes),
        }


def tstr(
    made: Study,
    features: pd.DataFrame,
    methods: list[str],
    *,
    folds: int,
    repeats: int,
    n_bootstrap: int,
    preset: str,
    seed: int,
    n_jobs: int = 1,
) -> dict[str, UtilityResult]:
    """TSTR of each generator in ``methods`` against TRTR, on the study ``made`` restricted
    to ``features`` (the cohort table's feature columns; the outcome is ``made.y``)."""
    task, y = made.spec.task, made.y
    n_numeric = int(sum(pd.api.types.is_numeric_dtype(t) for t in features.dtypes))
    cands = candidates(task, n_numeric, preset, n_samples=len(y))
    plan = make_plan(y, task, folds=folds, repeats=repeats, seed=seed, fold_choice=made.folds)
    design = {
        "candidates": [c.name for c in cands],
        "folds": folds,
        "repeats": repeats,
        "n_bootstrap": n_bootstrap,
        "pooling": DEFAULT_POOLING,  # BBC-CV's scoring and interval (absent: one_repeat)
        "interval": DEFAULT_INTERVAL,
        "seed": seed,
    }

    def search(estimators: list[Any]) -> BBCSearchCV:
        found = BBCSearchCV(
            estimators, task=task, cv=plan, n_bootstrap=n_bootstrap, seed=seed,
            n_jobs=n_jobs, refit=False, pooling=DEFAULT_POOLING, interval=DEFAULT_INTERVAL,
        )  # fmt: skip
        return found.fit(features, y)

    real = search([c.build(features, seed) for c in cands])
    out: dict[str, UtilityResult] = {}
    for method in methods:
        wrapped = [
            SyntheticTraining(c.build(features, seed), method=method, mode="replace",
                              task=task, seed=seed, smoothing=DEFAULT_SMOOTHING)
            for c in cands
        ]  # fmt: skip
        synthetic = search(wrapped)
        out[method] = _result(real, synthetic, cands, design)
    return out


def _result(
    real: BBCSearchCV, synthetic: BBCSearchCV, cands: list[Any], design: dict[str, Any]
) -> UtilityResult:
    r, s = real.bbc_, synthetic.bbc_
    secondary = {
        name: {"real": est.to_dict(), "synthetic": s.secondary[name].to_dict()}
        for name, est in r.secondary.items()
        if name in s.secondary
    }
    notes = []
    failed = int(np.sum(synthetic.cv_results_["failed_folds"]))
    if failed:
        notes.append(
            f"{failed} fold fit(s) of synthetic-trained candidates failed "
            "(left out of their selection; first error in the evidence)"
        )
    return UtilityResult(
        metric=r.metric,
        chance=r.chance,
        real=r.estimate.to_dict(),
        synthetic=s.estimate.to_dict(),
        secondary=secondary,
        winner_real=cands[r.winner].name,
        winner_synthetic=cands[s.winner].name,
        design=design,
        notes=notes,
    )
