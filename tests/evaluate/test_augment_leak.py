"""Synthetic rows are made inside each training fold only: every synthesizer an augmented
twin fits during cross-validation sees exactly the rows (and outcomes) of one training
fold of the plan, never a row of its test fold; and the twins leave the real-only
candidates' out-of-fold predictions exactly as they are without them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from insightome import synthesis
from insightome.evaluate.engine import cross_validated_predictions
from insightome.evaluate.splitters import make_plan
from insightome.models.candidates import augmented_twins, candidates

SEEN: list[pd.DataFrame] = []
FIT = synthesis.SequentialCART.fit


def recording_fit(self: synthesis.SequentialCART, frame: pd.DataFrame, seed: int):
    """The sequential CART synthesizer's fit, recording every table it is fitted on."""
    SEEN.append(frame.copy())
    return FIT(self, frame, seed)


@pytest.mark.parametrize("repeats", [2])
def test_no_test_fold_row_reaches_a_synthesizer(monkeypatch, repeats):
    bunch = load_breast_cancer(as_frame=True)
    X = bunch.data.iloc[:90, :5].copy()
    X.insert(0, "row_id", np.arange(90, dtype=float) + 0.5)  # marks each real row
    y = bunch.target.iloc[:90].to_numpy()
    real = candidates("binary", X.shape[1], "fast")[:2]
    twins = augmented_twins(real, "cart", 1.0)
    plan = make_plan(y, "binary", folds=3, repeats=repeats, seed=0)
    monkeypatch.setattr(synthesis.SequentialCART, "fit", recording_fit)
    SEEN.clear()
    cv = cross_validated_predictions(X, y, real + twins, plan, n_classes=2, seed=0)

    assert not cv.errors and np.isfinite(cv.oof).all()
    splits = [(train, test) for folds in plan.splits for train, test in folds]
    assert len(SEEN) == len(twins) * len(splits)  # one synthesizer per augmented fit
    fitted_on = [frozenset(np.round(f["row_id"].to_numpy() - 0.5).astype(int)) for f in SEEN]
    for rows, frame in zip(fitted_on, SEEN, strict=True):
        assert len(rows) == len(frame)  # real rows only, each once
        match = [(tr, te) for tr, te in splits if rows == frozenset(tr.tolist())]
        assert match, "a synthesizer saw rows that are not one training fold"
        train, test = match[0]
        assert rows.isdisjoint(test.tolist())
        outcome = [c for c in frame.columns if c not in X.columns]
        assert len(outcome) == 1  # the features plus the training rows' outcome
        by_row = dict(zip(frame["row_id"], frame[outcome[0]], strict=True))
        assert all(float(by_row[X["row_id"].iloc[i]]) == y[i] for i in train)
    for train, _ in splits:  # every training fold fed each twin's synthesizer
        assert fitted_on.count(frozenset(train.tolist())) == len(twins)

    alone = cross_validated_predictions(X, y, real, plan, n_classes=2, seed=0)
    assert np.array_equal(alone.oof, cv.oof[:, : len(real)])
