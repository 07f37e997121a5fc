"""The one conformal threshold, ``conformal_quantile`` (the ceil((n + 1) * level)-th smallest
score), against crepes, which the audit used to estimate coverage: the same threshold and
the same sets, except where (n + 1) * (1 - level) is a whole number: there crepes can take
one rank more, depending on how ``1 - confidence`` rounds (it does at the levels 0.8 and
0.9, whose ``1 - level`` rounds down; not at 0.95). The audit, ADMET and ``predict`` all use
``conformal_quantile``."""

from __future__ import annotations

import math
import warnings

import crepes  # the test extra installs it: this cross-check must not skip
import numpy as np
import pytest

from insightome.audit.conformal import conformal_quantile


def _crepes_threshold(scores: np.ndarray, level: float) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # crepes warns when the threshold is unbounded
        fitted = crepes.ConformalRegressor().fit(scores)
        return float(fitted.predict_int(np.zeros(1), confidence=level)[0, 1])


def _crepes_sets(scores: np.ndarray, test: np.ndarray, level: float) -> np.ndarray:
    fitted = crepes.ConformalClassifier().fit(scores)
    return fitted.predict_set(test[:, None], confidence=level, smoothing=False)[:, 0] == 1


def _edge(n: int, level: float) -> bool:
    x = (n + 1) * (1 - level)
    return abs(x - round(x)) < 1e-6


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95])
def test_same_threshold_and_sets_as_crepes_off_the_edge(level: float) -> None:
    rng = np.random.default_rng(7)
    checked = 0
    for n in range(1, 300):
        if _edge(n, level):
            continue
        scores = rng.exponential(size=n)
        q = conformal_quantile(scores, level)
        assert q == _crepes_threshold(scores, level)  # inf == inf when both are unbounded
        test = np.concatenate([scores, rng.exponential(size=30)])  # ties with the cut too
        assert np.array_equal(_crepes_sets(scores, test, level), test <= q)
        checked += 1
    assert checked >= 0.75 * 299  # at level 0.8 one n in five is on the edge


@pytest.mark.parametrize(("n", "level"), [(9, 0.9), (19, 0.9), (99, 0.9), (4, 0.8), (49, 0.8)])
def test_on_the_edge_crepes_takes_one_rank_more(n: int, level: float) -> None:
    scores = np.random.default_rng(n).permutation(np.arange(1.0, n + 1))  # ranks 1..n
    k = math.ceil((n + 1) * level - 1e-9)
    assert conformal_quantile(scores, level) == k  # the k-th smallest
    # the k-th smallest of n exchangeable scores covers a new one with probability
    # k / (n + 1) >= level: the finite-sample guarantee already holds at rank k
    assert k / (n + 1) >= level - 1e-12
    crepes_rank = _crepes_threshold(scores, level)
    assert crepes_rank == (k + 1 if k < n else math.inf)
    test = np.array([k + 0.5])  # between rank k and k + 1
    assert not (test <= conformal_quantile(scores, level))[0]
    assert _crepes_sets(scores, test, level)[0]
