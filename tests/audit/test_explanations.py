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
