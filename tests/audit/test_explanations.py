"""Explanations: a sensitive attribute the model relies on is flagged, unless justified."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from insightome.audit.explanations import explain
from insightome.errors import UserError
from insightome.evaluate.splitters import make_plan
from insightome.models.candidates import Candidate
from insightome.options.key_values import parse_justifications

LOGISTIC = Candidate("l1_logistic", {"C": 0.5, "l1_ratio": 1.0}, None, "binary")


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    bunch = load_breast_cancer(as_frame=True)
    X = bunch.data[["mean texture", "mean smoothness", "worst concave points"]].copy()
    # a "sensitive" attribute that carries real signal: tumour size above the median
    X["large tumour"] = (bunch.data["worst radius"] > bunch.data["worst radius"].median()) * 1.0
    return X, (bunch.target.to_numpy() == 0).astype(int)


def test_sensitive_attribute_relied_on_is_flagged_then_justified(data) -> None:
    X, y = data
    plan = make_plan(y, "binary", folds=5, repeats=1, seed=0)
    out = explain(LOGISTIC, X, y, plan, ranking=["worst concave points", "mean texture"],
                  sensitive_features=["large tumour"], n_classes=2)  # fmt: skip
    rows = {r["feature"]: r for r in out["features"]}
    assert rows["large tumour"]["sensitive"] and rows["large tumour"]["importance"] > 0
    assert rows["worst concave points"]["stable"]
    (flag,) = out["flags"]
    assert flag["feature"] == "large tumour" and flag["status"] == "flagged"
    reason = "tumour size is a staging criterion"
    out = explain(LOGISTIC, X, y, plan, ranking=["worst concave points"],
                  sensitive_features=["large tumour"],
                  justify={"large tumour": reason}, n_classes=2)  # fmt: skip
    (flag,) = out["flags"]
    assert flag["status"] == "justified" and flag["reason"] == reason
    assert out["justifications"] == {"large tumour": reason}


def test_justification_parsing() -> None:
    assert parse_justifications(['sex="reference ranges differ"']) == {
        "sex": "reference ranges differ"
    }
    for bad in ("sex", "sex=", "=reason"):
        with pytest.raises(UserError, match="--justify"):
            parse_justifications([bad])


def test_a_feature_that_never_moves_the_metric_has_no_sign(data) -> None:
    """Issue 17: importances of 0.0000 were marked "stable sign: yes". A feature the model
    never selects (univariate top-2 of 4 in every fold) changes no held-out fold: it has no
    sign (``stable`` None); the sign of the others is judged over their non-zero folds."""
    from insightome.audit.explanations import sign_stable

    X, y = data
    plan = make_plan(y, "binary", folds=5, repeats=1, seed=0)
    top2 = Candidate("l1_logistic", {"C": 0.5, "l1_ratio": 1.0}, 2, "binary")
    out = explain(top2, X, y, plan, ranking=list(X.columns), n_classes=2)
    rows = {r["feature"]: r for r in out["features"]}
    never = [f for f, r in rows.items() if r["importance"] == 0 and r["sd"] == 0]
    assert never, rows  # 2 of the 4 features are never selected in some fold
    for f in never:
        assert rows[f]["positive_fraction"] == rows[f]["negative_fraction"] == 0
        assert rows[f]["stable"] is None, rows[f]
    assert rows["worst concave points"]["stable"] is True
    for r in rows.values():
        moved = r["positive_fraction"] + r["negative_fraction"]
        assert (r["stable"] is None) == (moved == 0)
    # the definition: over the folds that moved the metric only
    assert sign_stable(0.4, 0.0) is True  # +, +, 0, 0, 0 (was "unstable": 0.4 ∉ {0, 1})
    assert sign_stable(0.0, 0.2) is True and sign_stable(0.6, 0.2) is False
    assert sign_stable(0.0, 0.0) is None  # 0, 0, 0, 0, 0 (was "stable")
