"""Can a classifier tell synthetic rows from new real patients? (docs/synthetic-fidelity.md)

**Which rows.** The real side is the **hold-out**, real patients the generator never saw;
never the training rows. Synthetic rows are built from the training rows' values (CART
copies its leaf donors' values, the copula draws from their empirical marginals), so a
synthetic row has near-twins among the training rows. Scored against the training rows in
cross-validation, a synthetic test row's twins sit in the classifier's training folds
labelled "real", and a real test row's derived rows sit there labelled "synthetic": the
classifier learns backwards, and its AUC falls *below* 0.5 with a CI excluding it (on heart
failure 0.27–0.38 for both generators, and 0.32 for plain copies of the training rows,
while an independent real sample scored 0.50). That number reads "better than real", and
it is an artefact. Against the hold-out nothing is shared across folds: a synthetic table
that copies its training rows is told apart from new patients (it should be), one drawn
from the patients' distribution is not. Real rows and "their" synthetic rows cannot be
kept apart across folds instead: a synthetic row mixes values of several donors.

**Sizes.** The synthetic side is a seeded subsample of as many rows as the generator's
training rows (all of them when there are fewer), and the **yardstick** scores the same
hold-out against the real training rows of that size: both AUCs compare the same real
rows with the same number of others, one synthetic, one real.

**The estimate and its interval.** Repeated two-fold cross-fitting: the stacked rows are
split in two halves (stratified, :data:`REPEATS` seeded splits), a classifier fitted on one
half scores the other, and the AUC is the mean of the 2 × :data:`REPEATS` half AUCs. Each
half is scored by a classifier that never saw it, so its DeLong variance is valid (with no
difference between the tables, every fixed classifier has AUC 0.5); the standard error is
the root mean of these variances, an upper bound on the mean's whatever the correlation
between halves (Cauchy–Schwarz), so the 95% CI is conservative. The usual pooled
out-of-fold AUC with DeLong's interval is not: on heart failure, real against real, its
CI excluded 0.5 in about 1 split in 6 (60 splits), below 0.5 as often as above, because
fold models trained on overlapping rows err together. With this design: in none of 60, and
its spread over those splits (SD 0.035) is about a third under the interval's half-width
(0.10): the interval is honest, at the price of power at small n. An AUC under 0.5 is still
possible by chance; it is reported as "no difference found", never as better than real.

The pMSE (Snoke et al. 2018) is the mean squared distance of each row's propensity
(averaged over the repeats, always from a classifier that did not see the row) from the
share of synthetic rows c, scaled by its largest possible value c(1 − c): 0 is
indistinguishable, 1 perfectly separated.

The classifier is scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingClassifier`
(shallow trees, seeded): trees find a difference in any column and in any combination of
columns, where a logistic model sees only shifts of the means, and they take missing values
and categories natively, so the table is judged as it is, without imputation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from insightome.number_format import fmt_number
from insightome.synthetic.fidelity_measures import (
    CATEGORICAL,
    NUMERIC,
    Encoded,
    auc_delong,
    auc_interval,
)

REPEATS = 5  # seeded two-fold splits: 10 classifiers, each on half the rows
MIN_ROWS = 4  # per side: two of each in each half, DeLong's minimum
MAX_CATEGORIES = 255  # HistGradientBoosting's categorical limit; more levels: codes as numbers
CLASSIFIER = (
    "gradient-boosted trees (scikit-learn HistGradientBoostingClassifier, 100 trees of depth "
    f"3, learning rate 0.1), two-fold cross-fitting repeated {REPEATS} times"
)
WHY = (
    "trees find differences in any column and in combinations of columns, and take missing "
    "values and categories as they are"
)
NO_HOLDOUT = (
    "not assessed: no real hold-out of {min_rows} rows or more (scored against the training "
    "rows the synthetic ones were built from, the classifier learns backwards and its AUC "
    "falls below 0.5)"
)


@dataclass(frozen=True)
class Distinguishability:
    """How well a classifier separates synthetic rows from real hold-out rows, and real
    training rows from the same hold-out rows (the yardstick)."""

    classifier: str
    why: str
    design: str  # which rows were compared, in words
    n_real: int  # real hold-out rows (label "real")
    n_synthetic: int  # synthetic rows scored against them
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
    data: Encoded,
    *,
    train: str,
    synthetic: str,
    holdout: str | None,
    seed: int,
) -> Distinguishability:
    """Hold-out vs synthetic (and hold-out vs training) discrimination over the tables
    named ``train``, ``synthetic`` and ``holdout`` in ``data.rows`` (module docstring).
    ``holdout`` None, or under :data:`MIN_ROWS` rows: not assessed."""
    rows = data.rows
    if holdout is None or len(rows[holdout]) < MIN_ROWS or len(rows[synthetic]) < MIN_ROWS:
        reason = NO_HOLDOUT.format(min_rows=MIN_ROWS)
        if holdout is not None and len(rows[holdout]) >= MIN_ROWS:
            reason = f"not assessed: fewer than {MIN_ROWS} synthetic rows"
        return Distinguishability(
            CLASSIFIER, WHY, reason, 0, 0, None, None, None, None, None, None,
            "not assessed", (reason,),
        )  # fmt: skip
    features, categorical = _features(data)
    notes = []
    if categorical is None:
        notes.append(
            f"a categorical column has more than {MAX_CATEGORIES} categories: the classifier "
            "reads every categorical column's codes as numbers"
        )
    rng = np.random.default_rng(seed)
    size = min(len(rows[train]), len(rows[synthetic]))
    synth = _subsample(rows[synthetic], size, rng)
    real = _subsample(rows[train], size, rng)
    hold = rows[holdout]
    auc, ci, pmse = _separate(features, categorical, hold, synth, seed)
    yard_auc, yard_ci, yard_pmse = (None, None, None)
    if len(real) >= MIN_ROWS:
        yard_auc, yard_ci, yard_pmse = _separate(features, categorical, hold, real, seed)
    if yard_ci is not None and yard_ci[0] > 0.5:
        notes.append(
            "the real hold-out itself is told apart from the real training rows (an unlucky "
            "split, or patients that changed over the cohort): compare the synthetic AUC "
            "with this yardstick, not with 0.5"
        )
    design = (
        f"{len(hold)} real hold-out rows (never seen by the generator) against "
        f"{len(synth)} synthetic rows"
        + (
            f" (a seeded subsample of {len(rows[synthetic])})"
            if size < len(rows[synthetic])
            else ""
        )
        + f"; yardstick: the same hold-out rows against {len(real)} real training rows"
    )
    return Distinguishability(
        CLASSIFIER, WHY, design, len(hold), len(synth), auc, ci, pmse,
        yard_auc, yard_ci, yard_pmse, verdict(auc, ci), tuple(notes),
    )  # fmt: skip


def verdict(auc: float | None, ci: tuple[float, float] | None) -> str:
    """The classifier's result in words: an AUC under 0.5 is never "better than real"."""
    if auc is None or ci is None:
        return "not assessed"
    if ci[1] < 0.5:
        return (
            "not distinguishable from real patients (an AUC below 0.5 means no difference "
            "was found, not that the synthetic rows look more real than real ones)"
        )
    if ci[0] <= 0.5:
        return "not distinguishable from real patients at this sample size"
    if auc < 0.6:
        return "slightly distinguishable from real patients"
    if auc < 0.75:
        return "distinguishable from real patients"
    return "easily distinguishable from real patients"


def describe(result: Distinguishability) -> str:
    """One phrase: the AUC, its interval and the yardstick."""
    if result.auc is None or result.ci is None:
        return "real-vs-synthetic classifier: not assessed (no real hold-out)"
    text = (
        f"a classifier tells synthetic rows from real hold-out patients with AUC "
        f"{fmt_number(result.auc)} (95% CI {fmt_number(result.ci[0])}–"
        f"{fmt_number(result.ci[1])}"
    )
    if result.yardstick_auc is not None:
        text += f"; real vs real: {fmt_number(result.yardstick_auc)}"
    text += "; 0.5 = indistinguishable)"
    if result.auc < 0.5:
        text += ", below 0.5 by chance: no difference found, not better than real"
    return text


def _subsample(index: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` of ``index`` without replacement, in their original order."""
    if size >= len(index):
        return index
    return np.sort(rng.choice(index, size, replace=False))


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
    real: np.ndarray,
    other: np.ndarray,
    seed: int,
) -> tuple[float | None, tuple[float, float] | None, float | None]:
    """(AUC, its conservative 95% CI, scaled pMSE) of telling ``other`` rows (label 1) from
    ``real`` rows (label 0) by repeated two-fold cross-fitting (module docstring)."""
    x = features[np.concatenate([real, other])]
    labels = np.r_[np.zeros(len(real), int), np.ones(len(other), int)]
    cats = categorical if categorical is not None and categorical.any() else None
    aucs, variances = [], []
    propensity = np.zeros(len(labels))
    for repeat in range(REPEATS):
        halves = StratifiedKFold(2, shuffle=True, random_state=seed + repeat)
        for fit_rows, score_rows in halves.split(x, labels):
            model = HistGradientBoostingClassifier(
                max_iter=100,
                max_depth=3,
                learning_rate=0.1,
                early_stopping=False,
                categorical_features=cats,
                random_state=seed + repeat,
            )
            with threadpool_limits(limits=1):  # small tables: threads cost more than they give
                model.fit(x[fit_rows], labels[fit_rows])
                scores = model.predict_proba(x[score_rows])[:, 1]
            propensity[score_rows] += scores / REPEATS
            auc, se = auc_delong(labels[score_rows], scores)
            aucs.append(auc)
            variances.append(se**2)
    if not np.all(np.isfinite(aucs)):
        return None, None, None
    auc = float(np.mean(aucs))
    share = labels.mean()
    pmse = float(np.mean((propensity - share) ** 2) / (share * (1 - share)))
    return auc, auc_interval(auc, float(np.sqrt(np.mean(variances)))), pmse
