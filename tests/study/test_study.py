"""Study validation on real data: task detection, identifiers, role columns."""

from __future__ import annotations

import pytest

import insightome


@pytest.fixture(scope="module")
def actg(actg175_path):
    return insightome.read(actg175_path, keep_in_obs=["cens", "days", "gender"])


def test_identifier_like_feature_is_flagged(actg):
    study = insightome.make_study(actg, target="cens", exclude=["days"])
    flagged = [w for w in study.warnings if "looks like an identifier" in w]
    assert len(flagged) == 1 and "'pidnum'" in flagged[0]
    assert study.spec.task == "binary" and study.spec.task_detected
    assert any("task detected as binary" in n for n in study.notes)


def test_no_identifier_warning_once_the_id_is_named(actg175_path):
    adata = insightome.read(actg175_path, id_column="pidnum", keep_in_obs=["cens"])
    study = insightome.make_study(adata, target="cens")
    assert not [w for w in study.warnings if "identifier" in w]
    assert "pidnum" not in study.features.columns


def test_sensitive_attributes_stay_out_of_features_unless_asked(actg):
    kept_out = insightome.make_study(actg, target="cens", sensitive=["gender"], exclude=["days"])
    assert "gender" not in kept_out.features.columns
    used = insightome.make_study(
        actg, target="cens", sensitive=["gender"], use_sensitive=True, exclude=["days"]
    )
    assert "gender" in used.features.columns


def test_integer_outcome_with_few_levels_is_multiclass_and_overridable(actg):
    study = insightome.make_study(actg, target="karnof", exclude=["days", "cens"])
    assert study.spec.task == "multiclass"  # Karnofsky score: 70, 80, 90, 100
    study = insightome.make_study(
        actg, target="karnof", task="regression", exclude=["days", "cens"]
    )
    assert study.spec.task == "regression" and not study.spec.task_detected
