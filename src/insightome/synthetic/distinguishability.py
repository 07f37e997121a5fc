"""Can a classifier tell synthetic rows from real ones? (docs/synthetic-fidelity.md)

The real training rows (label 0) and the synthetic rows (label 1) are stacked and a
classifier predicts the label in stratified cross-validation; its out-of-fold scores give
the area under the ROC curve with DeLong's 95% interval, and its out-of-fold propensities
the pMSE (Snoke et al. 2018), the mean squared distance of the propensity from the share of
synthetic rows c, scaled by its largest possible value c(1 − c) so that 0 is
indistinguishable and 1 perfectly separated. The same classifier on the real training rows
against the real hold-out gives the yardstick: what two samples of real patients score.

The classifier is scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingClassifier`
(shallow trees, seeded): trees find a difference in any column and in any combination of
columns, where a logistic model sees only shifts of the means, and they take missing values
and categories natively, so the table is judged as it is, without imputation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from insightome.number_format import fmt_number
from insightome.synthetic.fidelity_measures import (
    CATEGORICAL,
    NUMERIC,
    Encoded,
    auc_delong,
    auc_interval,
)

FOLDS = 5
MAX_CATEGORIES = 255  # HistGradientBoosting's categorical limit; more levels: codes as numbers
CLASSIFIER = (
    "gradient-boosted trees (scikit-learn HistGradientBoostingClassifier, 100 trees of depth "
    "3, learning rate 0.1), {folds}-fold stratified cross-validation"
)
WHY = (
    "trees find differences in any column and in combinations of columns, and take missing "
    "values and categories as they are"
)


@dataclass(frozen=True)
class Distinguishability:
    """How well a classifier separates synthetic from real rows, and real from real."""

    classifier: str
    why: str
    auc: float | None
    ci: tuple[float, float] | None
    pmse: float | None  # scaled: 0 indistinguishable, 1 separated
    yardstick_auc: float | None
    yardstick_ci: tuple[float, float] | None
    yardstick_pmse: float | None
    verdict: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["ci"] = list(self.ci) if self.ci else None
        out["yardstick_ci"] = list(self.yardstick_ci) if self.yardstick_ci else None
        out["notes"] = list(self.notes)
        return out


def distinguishability(
    data: Encoded, real: str, synthetic: str, holdout: str | None, seed: int
) -> Distinguishability:
    """Real-vs-synthetic (and real-vs-hold-out) discrimination over the tables ``real``,
    ``synthetic`` and ``holdout`` of ``data`` (their names in ``data.rows``)."""
    features, categorical = _features(data)
    notes = []
    if categorical is None:
        notes.append(
            f"a categorical column has more than {MAX_CATEGORIES} categories: the classifier "
            "reads every categorical column's codes as numbers"
        )
    auc, ci, pmse, note = _separate(features, categorical, data.rows, real, synthetic, seed)
    if note:
        notes.append(f"real vs synthetic: {note}")
    yard_auc = yard_ci = yard_pmse = None
    if holdout is not None:
        yard_auc, yard_ci, yard_pmse, note = _separate(
            features, categorical, data.rows, real, holdout, seed
        )
        if note:
            notes.append(f"real vs hold-out: {note}")
    return Distinguishability(
        CLASSIFIER.format(folds=FOLDS),
        WHY,
        auc,
        ci,
        pmse,
        yard_auc,
        yard_ci,
        yard_pmse,
        verdict(auc, ci),
        tuple(notes),
    )


def verdict(auc: float | None, ci: tuple[float, float] | None) -> str:
    """The classifier's result in words."""
    if auc is None or ci is None:
        return "not assessed"
    if ci[0] <= 0.5:
        return "not distinguishable from the real rows at this sample size"
    if auc < 0.6:
        return "slightly distinguishable from the real rows"
    if auc < 0.75:
        return "distinguishable from the real rows"
    return "easily distinguishable from the real rows"


def describe(result: Distinguishability) -> str:
    """One phrase: the AUC, its interval and the yardstick."""
    if result.auc is None or result.ci is None:
        return "real-vs-synthetic classifier: not assessed"
    text = (
        f"a classifier tells synthetic from real rows with AUC {fmt_number(result.auc)} "
        f"(95% CI {fmt_number(result.ci[0])}–{fmt_number(result.ci[1])}"
    )
    if result.yardstick_auc is not None:
        text += f"; real hold-out: {fmt_number(result.yardstick_auc)}"
    return text + ")"


def _features(data: Encoded) -> tuple[np.ndarray, np.ndarray | None]:
    """The stacked rows as a float matrix (categories as codes, missing as NaN) and the mask
    of categorical columns (None when one has too many categories to be read as such)."""
    columns = []
    for c in data.columns:
        values = data.values[c].astype(float)
        if data.kinds[c] != NUMERIC:
            values[values < 0] = np.nan
        columns.append(values)
    mask = np.array([data.kinds[c] == CATEGORICAL for c in data.columns])
    too_many = any(
        len(data.levels[c]) > MAX_CATEGORIES for c in data.columns if data.kinds[c] == CATEGORICAL
    )
    return np.column_stack(columns), (None if too_many else mask)


def _separate(
    features: np.ndarray,
    categorical: np.ndarray | None,
    rows: Mapping[str, np.ndarray],
    first: str,
    second: str,
    seed: int,
) -> tuple[float | None, tuple[float, float] | None, float | None, str | None]:
    """(AUC, its 95% CI, scaled pMSE, a note) of telling ``second`` from ``first``."""
    index = np.concatenate([rows[first], rows[second]])
    labels = np.r_[np.zeros(len(rows[first]), int), np.ones(len(rows[second]), int)]
    folds = min(FOLDS, len(rows[first]), len(rows[second]))
    if folds < 2:
        return None, None, None, "not assessed: fewer than 2 rows on one side"
    note = None if folds == FOLDS else f"{folds}-fold, not {FOLDS}-fold (a side has {folds} rows)"
    model = HistGradientBoostingClassifier(
        max_iter=100,
        max_depth=3,
        learning_rate=0.1,
        early_stopping=False,
        categorical_features=categorical if categorical is not None and categorical.any() else None,
        random_state=seed,
    )
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    with threadpool_limits(limits=1):  # small tables: threads cost more than they give
        oof = cross_val_predict(model, features[index], labels, cv=splitter, method="predict_proba")
    scores = oof[:, 1]
    auc, se = auc_delong(labels, scores)
    share = labels.mean()
    pmse = float(np.mean((scores - share) ** 2) / (share * (1 - share)))
    return auc, auc_interval(auc, se), pmse, note
