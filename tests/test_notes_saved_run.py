"""A run made with ``--notes`` used on new samples: ``predict``, ``validate``, ``monitor``
take their notes (``--notes``) and build the same note features with the run's lexicon and
settings; ``audit``/``discover`` reruns re-read the run's own notes (sha256 checked).

The cohorts are those of tests/test_notes_run.py: heart failure affirmed in positive
patients' notes, negated or a relative's in negative ones; a note written after the index
time says "CHF confirmed" and must be left out.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import insightome
from insightome.errors import UserError
from insightome.featurize.notes import starter_lexicon
from insightome.followup import reload
from insightome.models.note_terms import NoteTerms, NoteTexts
from insightome.monitoring import monitor
from insightome.notes_features import negation_marked
from insightome.prediction import Reading, feature_table, read_new_data
from insightome.run_directory import Run
from insightome.saved_run_notes import (
    NotesReading,
    check_notes_reading,
    recorded_lexicon,
)
from insightome.validation import validate
from tests.cli.conftest import run_dirs
from tests.test_notes_run import API_FAST, SECRET, _cohort

pytest.importorskip("spacy")


def _new_patients(folder, n: int = 40, seed: int = 1):
    """Another cohort like the run's, of other patients (IDs N000…)."""
    folder.mkdir(parents=True, exist_ok=True)
    cohort, notes, _ = _cohort(folder, n=n, seed=seed)
    for path in (cohort, notes):
        table = pd.read_csv(path)
        table["patient"] = table["patient"].str.replace("P", "N", regex=False)
        table.to_csv(path, index=False)
    return cohort, notes


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A notes run (with a time filter) and new patients with their notes."""
    base = tmp_path_factory.mktemp("saved")
    cohort, notes, lexicon = _cohort(base)
    out = base / "runs"
    run = insightome.run(
        cohort, target="hf", id_column="patient", notes=notes, notes_id="patient",
        lexicon=lexicon, notes_time="written", index_time="admitted", out_dir=out,
        **API_FAST,
    )  # fmt: skip
    (run_dir,) = run_dirs(out)
    new_cohort, new_notes = _new_patients(base / "new")
    return {"run": run, "dir": run_dir, "lexicon": lexicon, "notes": notes,
            "cohort": new_cohort, "new_notes": new_notes}  # fmt: skip


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_predict_builds_the_run_s_note_features_for_new_patients(made, cli, tmp_path):
    run_dir, new_cohort, new_notes = made["dir"], made["cohort"], made["new_notes"]
    model_sha = _sha(run_dir / "model.joblib")
    output = tmp_path / "pred.csv"
    done = cli("predict", run_dir, new_cohort, "--notes", new_notes, "-o", output)
    assert done.code == 0, done.err
    table = pd.read_csv(output, index_col="sample_id")
    assert len(table) == 40 and table.index[0] == "N000"
    # the note line: counts only, with the time filter of the run (the "CHF confirmed" notes)
    assert "notes: 40 of 80 notes used (40 written at or after the index time left out)" in (
        done.err
    )
    assert SECRET not in done.err + done.out
    logged = (run_dir / "prediction_log.jsonl").read_text()
    assert SECRET not in logged
    assert json.loads(logged.splitlines()[-1])["notes_sha256"] == _sha(new_notes)
    # one case by hand: N001 (positive): one note before its index time, heart failure and
    # shortness of breath affirmed, EF 30; every other note feature 0
    run = Run.load(run_dir)
    features = run.model_card["features"]
    row = {f: 0.0 for f in features}
    new = pd.read_csv(new_cohort).set_index("patient")
    row |= {"age": new.loc["N001", "age"], "bmi": new.loc["N001", "bmi"], "notes:count": 1.0}
    row |= {"note:heart_failure:affirmed": 1.0, "note:dyspnea:affirmed": 1.0}
    row |= {"note:ejection_fraction:value": 30.0}
    by_hand = pd.DataFrame([row], index=["N001"])[features]
    expected = run.model.predict_proba(by_hand)[0, 1]
    assert table.loc["N001", "prob_1"] == pytest.approx(expected, abs=1e-12)
    # positives (odd) are told from negatives by their notes
    y = np.arange(40) % 2
    assert table["prob_1"].to_numpy()[y == 1].min() > table["prob_1"].to_numpy()[y == 0].max()
    assert _sha(run_dir / "model.joblib") == model_sha


def test_predict_api_matches_the_model_on_the_same_features(made, tmp_path):
    run, new_cohort, new_notes = made["run"], made["cohort"], made["new_notes"]
    table = insightome.predict(made["dir"], new_cohort, notes=new_notes, log=False)
    again = insightome.predict(made["dir"], new_cohort, notes=new_notes, log=False)
    pd.testing.assert_frame_equal(table, again)
    # the notes after the index time do not count: with them (no time filter, by giving
    # an index date after every note) the features change, so the predictions do
    later = insightome.predict(made["dir"], new_cohort, notes=new_notes, index_time="2021-01-01",
                               log=False)  # fmt: skip
    assert not np.allclose(later["prob_1"], table["prob_1"])
    assert run.results["clinical_notes"]["notes_used"] == 80
    # patients without notes are scored with note counts 0, and said (counts only)
    fewer = tmp_path / "fewer.csv"
    notes = pd.read_csv(new_notes)
    notes[~notes["patient"].isin([f"N{i:03d}" for i in range(10)])].to_csv(fewer, index=False)
    partial = insightome.predict(made["dir"], new_cohort, notes=fewer, log=False)
    assert "10 sample(s) without notes (their note counts are 0)" in partial.attrs["notes"][-1]
    X = _features(made["dir"], new_cohort, fewer)
    assert (
        (X.filter(like="note").iloc[:10].drop(columns="note:ejection_fraction:value") == 0)
        .all()
        .all()
    )
    assert X["note:ejection_fraction:value"].iloc[:10].isna().all()
    pd.testing.assert_frame_equal(partial.iloc[10:], table.iloc[10:])


def test_a_notes_run_without_notes_is_refused_in_one_line(made, cli, tmp_path):
    for command, extra in (("predict", []), ("validate", []), ("monitor", [])):
        done = cli(command, made["dir"], made["cohort"], *extra)
        assert done.code == 2, (command, done.err)
        line = done.err.strip()
        assert "trained with clinical notes" in line and "--notes PATH" in line, line
        assert "\n" not in line and "Traceback" not in done.err
    assert not (made["dir"] / "validations").exists()


def test_a_changed_lexicon_is_refused(made, cli):
    lexicon = made["lexicon"]
    before = lexicon.read_text()
    try:
        lexicon.write_text(before + "fever,fever,pyrexia,symptom\n")
        done = cli("predict", made["dir"], made["cohort"], "--notes", made["new_notes"])
        assert done.code == 2
        assert "lexicon changed since the run (sha256 differs)" in done.err
        assert str(lexicon) in done.err and "\n" not in done.err.strip()
        lexicon.unlink()
        done = cli("predict", made["dir"], made["cohort"], "--notes", made["new_notes"])
        assert done.code == 2 and "the run's lexicon is not there any more" in done.err
    finally:
        lexicon.write_text(before)


def test_the_starter_lexicon_must_be_the_run_s():
    en = starter_lexicon("en")
    results = {"invocation": {"lexicon": None},
               "clinical_notes": {"language": "en", "lexicon": {"sha256": en.sha256}}}  # fmt: skip
    assert recorded_lexicon(results).sha256 == en.sha256
    results["clinical_notes"]["lexicon"]["sha256"] = "0" * 64
    with pytest.raises(UserError, match=r"starter lexicon \(en\) differs .* upgraded"):
        recorded_lexicon(results)


def test_notes_for_a_run_without_notes_and_options_without_notes_are_refused():
    with pytest.raises(UserError, match="made without clinical notes"):
        check_notes_reading(NotesReading(notes="n.csv"), {"clinical_notes": None}, "run")
    with pytest.raises(UserError, match=r"--index-time: .*give them with --notes"):
        NotesReading(index_time="admitted").check()


def test_validate_on_a_cohort_with_notes_gives_an_auc(made, tmp_path):
    report = validate(made["dir"], made["cohort"], notes=made["new_notes"], out_dir=tmp_path)
    auc = report["models"]["full"]["metrics"]["auc"]
    assert auc["value"] > 0.95 and auc["ci95"][0] > 0.8
    assert report["models"]["full"]["features_missing"] == []
    record = report["cohort"]["notes"]
    assert record["file"]["sha256"] == _sha(made["new_notes"])
    assert "40 of 80 notes used" in record["line"]
    for path in Path(report["path"]).rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text() and "shortness" not in path.read_text()


def test_monitor_takes_the_new_notes(made, tmp_path):
    report = monitor(made["dir"], made["cohort"], notes=made["new_notes"], labels="hf")
    assert any(n.startswith("notes: 40 of 80 notes used") for n in report.notes)
    assert not report.to_dict()["drift"]["summary"]["absent"]
    assert report.performance["value"] > 0.95


def test_audit_rerun_re_reads_the_run_s_notes(made, cli, tmp_path):
    copied = tmp_path / "run"
    shutil.copytree(made["dir"], copied)
    before = json.loads((copied / "results.json").read_text())
    done = cli("audit", copied)
    assert done.code == 0, done.err
    after = json.loads((copied / "results.json").read_text())
    assert after["audit"]["model"] and after["clinical_notes"] == before["clinical_notes"]
    # the reference profile was rebuilt from the same features (notes' columns included)
    card = json.loads((copied / "model.json").read_text())
    assert "note:heart_failure:affirmed" in json.dumps(card["reference_profile"])
    # the notes changed since the run: refused in one line
    notes = made["notes"]
    text = notes.read_text()
    try:
        notes.write_text(text.replace("EF 30%", "EF 35%"))
        done = cli("audit", copied)
        assert done.code == 2 and "changed since the run (sha256 differs)" in done.err
        assert SECRET not in done.err and "\n" not in done.err.strip()
    finally:
        notes.write_text(text)


# -- --notes-tfidf: the terms take the new samples' notes ---------------------------------
@pytest.fixture(scope="module")
def tfidf(tmp_path_factory):
    base = tmp_path_factory.mktemp("tfidf")
    cohort, notes, lexicon = _cohort(base)
    out = base / "runs"
    insightome.run(
        cohort, target="hf", id_column="patient", notes=notes, notes_id="patient",
        lexicon=lexicon, notes_tfidf=20, min_cell=5, out_dir=out, **API_FAST,
    )  # fmt: skip
    (run_dir,) = run_dirs(out)
    new_cohort, new_notes = _new_patients(base / "new")
    return run_dir, new_cohort, new_notes, notes


def test_predict_with_note_terms_gives_the_model_the_new_notes(tfidf):
    run_dir, new_cohort, new_notes, _ = tfidf
    model_sha = _sha(run_dir / "model.joblib")
    table = insightome.predict(run_dir, new_cohort, notes=new_notes, log=False)
    run = Run.load(run_dir)
    assert isinstance(run.model, NoteTerms) and run.model.texts is None
    # by hand: each patient's notes (no time filter in this run), negation-marked, joined
    notes = pd.read_csv(new_notes)
    marked = notes.assign(text=negation_marked(notes["text"].tolist(), "en"))
    texts = marked.groupby("patient", sort=False)["text"].agg("\n\n".join)
    assert texts.str.contains("neg_heart neg_failure").any()
    model = copy.copy(run.model)
    model.texts = NoteTexts(texts)
    features = run.model_card["features"]
    data = pd.read_csv(new_cohort).set_index("patient")
    assert list(table.index) == list(data.index)
    expected = model.predict_proba(_features(run_dir, new_cohort, new_notes)[features])[:, 1]
    np.testing.assert_allclose(table["prob_1"].to_numpy(), expected, atol=1e-12)
    assert _sha(run_dir / "model.joblib") == model_sha  # never saved again


def _features(run_dir, cohort, notes) -> pd.DataFrame:
    run = Run.load(run_dir)
    adata = read_new_data(run, cohort, Reading(notes=NotesReading(notes)))
    return feature_table(adata, run, str(cohort))


def test_a_time_filter_needs_both_times_when_the_run_had_none(tfidf):
    run_dir, new_cohort, new_notes, _ = tfidf
    with pytest.raises(UserError, match=r"^--index-time: the run kept no notes by time"):
        insightome.predict(run_dir, new_cohort, notes=new_notes, index_time="2020-06-10")
    # every note after the index date: no note is left, and that is refused, not scored as
    # patients without notes
    with pytest.raises(UserError, match=r"no note is left to use \(80 written at or after"):
        insightome.predict(run_dir, new_cohort, notes=new_notes, notes_time="written",
                           index_time="2020-05-01", log=False)  # fmt: skip


def test_discover_rerun_of_a_note_terms_run(tfidf, cli, tmp_path):
    run_dir = tfidf[0]
    copied = tmp_path / "run"
    shutil.copytree(run_dir, copied)
    done = cli("discover", copied)
    assert done.code == 0, done.err
    for path in copied.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path.name


@pytest.mark.parametrize("which", ["made", "tfidf"])
def test_reload_rebuilds_the_run_s_features_and_predictions(which, request):
    """The study of a rerun is the run's (note columns included, the index time not a
    feature) and the winner's out-of-fold predictions are the run's own."""
    fixture = request.getfixturevalue(which)
    run_dir = fixture["dir"] if which == "made" else fixture[0]
    loaded = reload(run_dir, command="audit")
    features = list(map(str, loaded.study.features.columns))
    assert "note:heart_failure:affirmed" in features
    assert ("admitted" in features) == (which == "tfidf")  # an index time only in "made"
    assert set(loaded.run.model_card["features"]) <= set(features)
    assert (loaded.note_texts is not None) == (which == "tfidf")
    saved = pd.read_csv(run_dir / "predictions.csv", index_col="sample_id")
    oof = loaded.winner_oof.mean(axis=0)[:, 0]
    np.testing.assert_allclose(oof, saved["prob_1"].to_numpy(), atol=1e-9)


def test_a_few_new_patients_get_the_same_predictions_as_in_a_batch(made, tmp_path):
    """No column of the run is dropped as rare for a small batch: one patient predicted
    alone scores as in the batch of all."""
    run_dir, cohort, notes = made["dir"], made["cohort"], made["new_notes"]
    batch = insightome.predict(run_dir, cohort, notes=notes, log=False)
    one = tmp_path / "one.csv"
    pd.read_csv(cohort).head(1).to_csv(one, index=False)
    alone = insightome.predict(run_dir, one, notes=notes, log=False)
    column = [c for c in alone.columns if c.startswith("prob")][-1]
    assert alone[column].iloc[0] == pytest.approx(batch[column].iloc[0])
