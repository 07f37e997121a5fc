"""A run is a sequence of stages: skipped by name, resumed from a named stage, and a
featurizer and a stage plugged in from here without editing any other module."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets

import insightome
from insightome.errors import UserError
from insightome.stages import Featurizer, RunState, Stage
from insightome.workflow import STAGES
from tests.conftest import breast_cancer_adata

FAST = {"preset": "fast", "folds": 3, "repeats": 1, "n_bootstrap": 200, "seed": 2}
RUN_STAGES = ["read", "study", "screen", "plan", "select", "estimate", "learn", "refit", "discover",
              "audit", "document", "write"]  # fmt: skip
#: wall clock, not numbers of the run
VARYING = {"timings", "compute", "created", "seconds", "fit_seconds"}


@pytest.fixture(scope="module")
def adata():
    data = breast_cancer_adata(n_rows=240, n_cols=8)
    data.obs["sex"] = ["F", "M", "M"] * 80
    return data


def comparable(run: insightome.Run) -> dict:
    def numbers(value):
        if isinstance(value, dict):
            return {k: numbers(v) for k, v in value.items() if k not in VARYING}
        if isinstance(value, list):
            return [numbers(v) for v in value]
        return value

    return numbers(run.results)


def test_the_run_is_its_list_of_stages():
    assert [s.name for s in STAGES] == RUN_STAGES
    assert [s.name for s in STAGES if s.optional] == ["learn", "discover", "audit"]


def test_a_stage_skipped_by_name(adata):
    skipped = insightome.run(adata, "diagnosis", out_dir=None, skip=("discover",), **FAST)
    switched = insightome.run(adata, "diagnosis", out_dir=None, discover=False, **FAST)
    assert "discovery" not in skipped.results and skipped.hypotheses is None
    assert "audit" in skipped.results  # only the stage named
    assert "discover" not in skipped.results["timings"]
    assert skipped.results["invocation"]["discover"] is False
    # learn runs only with --learning-curve (tests/test_learning_curve.py)
    assert set(skipped.results["timings"]) == {*RUN_STAGES, "total"} - {"discover", "learn",
                                                                        "write"}  # fmt: skip
    assert set(skipped.results["compute"]["stages"]) == set(skipped.results["timings"]) - {"total"}
    assert comparable(skipped) == comparable(switched)


@pytest.mark.parametrize(
    ("skip", "fragment"),
    [
        (("estimate",), "--skip: the estimate stage cannot be skipped"),
        (("discovery",), "--skip: no stage is named 'discovery'"),
    ],
)
def test_skipping_a_stage_others_need_is_refused(adata, tmp_path, skip, fragment):
    with pytest.raises(UserError) as info:
        insightome.run(adata, "diagnosis", out_dir=tmp_path, skip=skip, **FAST)
    assert str(info.value).startswith(fragment) and "\n" not in str(info.value)
    assert not list(tmp_path.iterdir())


def test_skipping_a_stage_a_plugged_in_stage_needs_is_refused(adata, tmp_path):
    reads_signature = Stage("signature_size", lambda s: None, after="discover",
                            needs=("discover",))  # fmt: skip
    with pytest.raises(UserError, match="the signature_size stage needs the discover stage"):
        insightome.run(adata, "diagnosis", out_dir=tmp_path, stages=[reads_signature],
                       discover=False, **FAST)  # fmt: skip


class Interrupted(Exception):
    """Stands for a crash or Ctrl-C after a stage: the .partial directory is kept."""


def interrupt(state: RunState) -> None:
    raise Interrupted


def test_a_run_resumed_from_a_named_stage_equals_an_uninterrupted_run(adata, tmp_path, monkeypatch):
    data = tmp_path / "breast.h5ad"
    adata.write_h5ad(data)
    options = {**FAST, "sensitive": ["sex"]}
    reference = insightome.run(data, "diagnosis", out_dir=tmp_path / "ref", **options)

    crash = Stage("crash", interrupt, after="refit")
    with pytest.raises(Interrupted):
        insightome.run(data, "diagnosis", out_dir=tmp_path / "runs", stages=[crash], **options)
    (partial,) = (tmp_path / "runs").iterdir()
    saved = sorted(p.stem for p in (partial / "stages").iterdir())
    # the study (modelling table, sensitive attributes) is never written to a stage file
    assert saved == sorted(["plan", "select", "estimate", "refit"])

    # the stages before discover are not redone: no candidate is fitted again (the study is
    # rebuilt from the re-read data: it is deterministic and never saved)
    from insightome.evaluate import search
    from insightome.stages import budget_pilot

    def no_fits(*args, **kwargs):
        raise AssertionError("a stage before discover ran again")

    monkeypatch.setattr(search, "cross_validated_predictions", no_fits)  # select
    monkeypatch.setattr(budget_pilot, "cross_validated_predictions", no_fits)  # budget pilot
    monkeypatch.setattr(budget_pilot, "search_pilot", no_fits)  # its discovery part
    resumed = insightome.resume(partial, from_stage="discover")
    assert resumed.path == tmp_path / "runs" / partial.name.removesuffix(".partial")
    assert not partial.exists()
    assert comparable(resumed) == comparable(reference)
    pd.testing.assert_frame_equal(resumed.predictions, reference.predictions)
    pd.testing.assert_frame_equal(resumed.hypotheses, reference.hypotheses)
    assert set(resumed.results["timings"]) >= set(RUN_STAGES) - {"write", "learn"}
    # the ledger of the restored stages is the interrupted run's: the run is accounted whole
    restored = {"plan", "select", "estimate", "refit"}
    assert set(resumed.results["compute"]["stages"]) >= restored | {"read", "study", "discover"}
    assert resumed.results["compute"]["stages"]["select"]["cpu_s"] > 0
    assert resumed.results["timings"]["total"] >= sum(
        resumed.results["timings"][name] for name in restored
    )


def test_a_resumed_run_redoes_its_study_with_the_class_rule_it_began_with(tmp_path, monkeypatch):
    """The study is never saved: a run begun under the legacy class rule (2 samples of a
    class in every training fold), or before the rule was recorded, resumes with that rule,
    not today's, so the restored plan and fits still match its samples."""
    from insightome.compute.checkpoint import INVOCATION

    X = datasets.load_breast_cancer(as_frame=True).data.iloc[:62, :8]
    y = np.array(["a"] * 30 + ["b"] * 30 + ["c"] * 2)
    data = tmp_path / "three.csv"
    X.assign(kind=np.random.default_rng(0).permutation(y)).to_csv(data, index_label="sample")
    crash = Stage("crash", interrupt, after="select")
    options = {**FAST, "folds": None, "discover": False, "audit": False}  # folds: the data's
    with monkeypatch.context() as legacy, pytest.raises(Interrupted):
        legacy.setattr("insightome.stages.modelling.MIN_TRAINING_PER_CLASS", 2)
        insightome.run(data, "kind", out_dir=tmp_path / "runs", stages=[crash], **options)
    (partial,) = (tmp_path / "runs").iterdir()
    recorded = json.loads((partial / INVOCATION).read_text())
    assert recorded["min_training_per_class"] == 2
    del recorded["min_training_per_class"]  # as a run begun before the rule was recorded
    (partial / INVOCATION).write_text(json.dumps(recorded))
    resumed = insightome.resume(partial)
    outcome = resumed.results["outcome"]
    assert outcome["min_training_per_class"] == 2 and outcome["classes"] == ["a", "b"]
    assert outcome["classes_left_out"] == [{"label": "c", "n_samples": 2}]
    assert "min_training_per_class" not in resumed.results["invocation"]
    # today's rule learns 'c' with 2 folds
    today = insightome.run(data, "kind", out_dir=tmp_path / "today", **options)
    assert today.results["outcome"]["classes"] == ["a", "b", "c"]
    assert today.results["resampling"]["folds"] == 2


def crashed_run(adata, tmp_path, after: str):
    """The .partial directory of a run (no discovery, no audit) that crashed after ``after``."""
    data = tmp_path / "breast.h5ad"
    adata.write_h5ad(data)
    crash = Stage("crash", interrupt, after=after)
    with pytest.raises(Interrupted):
        insightome.run(data, "diagnosis", out_dir=tmp_path / "runs", stages=[crash],
                       discover=False, audit=False, **FAST)  # fmt: skip
    (partial,) = (tmp_path / "runs").iterdir()
    return partial


def test_stage_files_of_another_version_are_refused(adata, tmp_path, monkeypatch):
    partial = crashed_run(adata, tmp_path, after="refit")
    from insightome.stages import checkpoints

    monkeypatch.setattr(checkpoints, "__version__", "99.0")
    with pytest.raises(UserError, match=r"saved by insightome .*, this is 99\.0: resume with"):
        insightome.resume(partial)
    assert partial.exists()


@pytest.mark.parametrize("after", ["read", "document", "write"])
def test_a_stage_cannot_be_plugged_where_its_output_would_be_lost(adata, after):
    stage = Stage("late", lambda state: None, after=after)
    with pytest.raises(ValueError, match=f"after={after!r} is too"):
        insightome.run(adata, "diagnosis", out_dir=None, stages=[stage], **FAST)


def test_resuming_from_a_stage_the_run_never_reached_is_refused(adata, tmp_path):
    partial = crashed_run(adata, tmp_path, after="select")
    with pytest.raises(UserError) as info:
        insightome.resume(partial, from_stage="refit")
    assert str(info.value) == (
        "--from-stage: the interrupted run did not finish its estimate stage; resume from "
        "estimate or an earlier stage"
    )
    with pytest.raises(UserError, match="--from-stage: the run has no stage 'audit'"):
        insightome.resume(partial, from_stage="audit")  # the run was made with --no-audit
    assert partial.exists()


def test_a_featurizer_and_a_stage_plugged_in_from_a_test(adata):
    def radius_ratio(data) -> pd.DataFrame:
        assert list(data.obs.columns) == []  # no outcome, sensitive or group column to learn from
        x = data.to_df()
        return pd.DataFrame(
            {"radius_to_texture": x["mean radius"] / x["mean texture"]}, index=data.obs_names
        )

    def tally(state: RunState) -> None:
        state.extras["tally"] = {
            "winner": state.winner.name,
            "n_features": int(state.study.features.shape[1]),
        }

    run = insightome.run(
        adata, "diagnosis", out_dir=None, discover=False, audit=False,
        featurizers=[Featurizer("ratio", radius_ratio)],
        stages=[Stage("tally", tally, after="refit")], **FAST,
    )  # fmt: skip
    assert "radius_to_texture" in run.model_card["features"]
    assert run.results["n_features"] == adata.n_vars + 1
    assert any("featurizer ratio: 1 column(s)" in n for n in run.results["notes"])
    assert run.results["extras"]["tally"] == {
        "winner": run.results["winner"]["name"],
        "n_features": adata.n_vars + 1,
    }
    assert "tally" in run.results["timings"] and "tally" in run.results["compute"]["stages"]
