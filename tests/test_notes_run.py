"""``insightome run --notes``: concept-mention features from clinical notes in a run.

A small self-written cohort (80 patients, 1-3 notes each) whose outcome is heart failure:
positive patients' notes affirm it, negative patients' notes negate it or speak of a
relative's. The run must count mentions by assertion state, keep notes written after the
index time out, say how many, keep note text out of results.json, the report and the log
(unless --show-evidence), and refuse bad combinations with one line.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import insightome
from insightome.errors import UserError
from insightome.models import note_terms
from insightome.notes_features import NotesSettings, notes_features
from insightome.results import validate_results
from insightome.stages import Stage
from tests.cli.conftest import FAST, run_dirs

pytest.importorskip("spacy")

API_FAST = {"preset": "fast", "folds": 3, "repeats": 1, "n_bootstrap": 200, "seed": 0}
SECRET = "Zebulon Quixote"  # a name written in every note: must never leave the notes
LEXICON = (
    "concept_id,name,synonyms,category\n"
    "heart_failure,heart failure,CHF|cardiac failure,condition\n"
    "dyspnea,dyspnea,shortness of breath|breathlessness,symptom\n"
    "ejection_fraction,ejection fraction,EF|LVEF,measurement\n"
)


def _cohort(tmp_path, n: int = 80, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n)]
    y = np.array([i % 2 for i in range(n)])
    cohort = pd.DataFrame(
        {
            "patient": ids,
            "age": rng.normal(65, 10, n).round(),
            "bmi": rng.normal(27, 4, n).round(1),
            "admitted": pd.Timestamp("2020-06-01")
            + pd.to_timedelta(rng.integers(0, 30, n), unit="D"),
            "hf": y,
        }
    )
    rows = []
    for pid, label, admitted in zip(ids, y, cohort["admitted"], strict=True):
        before = admitted - pd.Timedelta(days=5)
        if label:
            text = (
                f"Seen by {SECRET}. HISTORY: The patient has heart failure with shortness of "
                "breath on exertion. EF 30%."
            )
        else:
            text = (
                f"Seen by {SECRET}. The patient denies shortness of breath. No heart failure. "
                "Mother had heart failure. EF 60%."
            )
        rows.append((pid, before.date().isoformat(), text))
        # after the index time: the outcome written down, must be left out
        rows.append(
            (pid, (admitted + pd.Timedelta(days=2)).date().isoformat(), "Discharge: CHF confirmed.")
        )
    notes = pd.DataFrame(rows, columns=["patient", "written", "text"])
    cohort_path, notes_path, lexicon_path = (
        tmp_path / "cohort.csv",
        tmp_path / "notes.csv",
        tmp_path / "lexicon.csv",
    )
    cohort.assign(admitted=cohort["admitted"].dt.date.astype(str)).to_csv(cohort_path, index=False)
    notes.to_csv(notes_path, index=False)
    lexicon_path.write_text(LEXICON)
    return cohort_path, notes_path, lexicon_path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return _cohort(tmp_path_factory.mktemp("notes"))


@pytest.fixture(scope="module")
def notes_run(files, tmp_path_factory):
    cohort, notes, lexicon = files
    out = tmp_path_factory.mktemp("runs")
    run = insightome.run(
        cohort, target="hf", id_column="patient", notes=notes, notes_id="patient",
        lexicon=lexicon, notes_time="written", index_time="admitted", out_dir=out,
        **API_FAST,
    )  # fmt: skip
    return run, out


def test_concept_counts_by_state_become_features(notes_run):
    run, _ = notes_run
    results = run.results
    validate_results(results)
    notes = results["clinical_notes"]
    features = set(notes["features"])
    assert {
        "notes:count",
        "note:heart_failure:affirmed",
        "note:heart_failure:negated",
        "note:heart_failure:family",
        "note:dyspnea:affirmed",
        "note:dyspnea:negated",
        "note:ejection_fraction:value",
    } <= features
    hf = next(c for c in notes["concepts"] if c["concept_id"] == "heart_failure")
    # 40 positives: one affirmed each; 40 negatives: one negated + one family each
    assert (hf["affirmed"], hf["negated"], hf["family"], hf["mentions"]) == (40, 40, 40, 120)
    assert notes["language"] == "en" and "detected" in notes["language_reason"]
    assert notes["lexicon"]["n_concepts"] == 3
    # the affirmed count separates the classes perfectly: the estimate is far above chance
    assert results["estimate"]["value"] > 0.9


def test_notes_after_the_index_time_are_left_out_and_counted(notes_run):
    notes = notes_run[0].results["clinical_notes"]
    assert notes["notes_read"] == 160
    assert notes["notes_at_or_after_index"] == 80 and notes["notes_used"] == 80
    assert notes["time_filter"]["index_time"] == "admitted"
    # "CHF confirmed" is only in the left-out notes: no affirmed mention comes from them
    hf = next(c for c in notes["concepts"] if c["concept_id"] == "heart_failure")
    assert hf["affirmed"] == 40


def test_values_are_averaged_per_sample(files):
    cohort, notes, lexicon = files
    data = pd.read_csv(cohort)
    made = notes_features(
        NotesSettings(notes, id_column="patient", lexicon=lexicon), data["patient"].tolist()
    )
    values = made.columns["note:ejection_fraction:value"].to_numpy()
    y = data["hf"].to_numpy()
    assert set(values[y == 1]) == {30.0} and set(values[y == 0]) == {60.0}
    assert list(made.columns.index) == data["patient"].tolist()
    assert (made.columns["notes:count"] == 2).all()  # no time filter: both notes


def test_no_note_text_leaves_the_notes(notes_run):
    _, out = notes_run
    (run_dir,) = run_dirs(out)
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert {"run.log", "model.joblib", "results.json", "report.html"} <= {p.name for p in files}
    for path in files:  # every file, the log and the pickled models included, any case
        assert b"zebulon" not in path.read_bytes().lower(), path.name
    html = (run_dir / "report.html").read_text()
    assert 'id="clinical-notes"' in html and "No note text is shown" in html


def test_show_evidence_puts_snippets_in_the_report(files, tmp_path):
    cohort, notes, lexicon = files
    run = insightome.run(
        cohort, target="hf", id_column="patient", notes=notes, notes_id="patient",
        lexicon=lexicon, show_evidence=True, out_dir=tmp_path, discover=False, audit=False,
        **API_FAST,
    )  # fmt: skip
    evidence = run.results["clinical_notes"]["evidence"]
    assert evidence and all(e["mention"] for e in evidence)
    assert any(e["state"] == "negated" and e["trigger"] for e in evidence)
    (run_dir,) = run_dirs(tmp_path)
    assert "<mark>" in (run_dir / "report.html").read_text()
    # without a time filter every note is used, and the report says what that risks
    assert run.results["clinical_notes"]["notes_used"] == 160
    assert "Notes written after the moment of prediction" in (run_dir / "report.html").read_text()


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"notes_time": "written"}, "--notes-time/--index-time"),
        ({"index_time": "admitted"}, "--notes-time/--index-time"),
        ({"notes_id": "x", "notes": None}, "--notes-id"),
        ({"show_evidence": True, "notes": None}, "--show-evidence"),
    ],
)
def test_contradictory_notes_options_are_refused(files, tmp_path, kwargs, fragment):
    cohort, notes, _ = files
    args = {"notes": notes, **kwargs}
    with pytest.raises(UserError) as err:
        insightome.run(cohort, target="hf", id_column="patient", out_dir=tmp_path, **args)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_notes_of_no_sample_are_refused_with_one_line(files, tmp_path, cli):
    cohort, notes, lexicon = files
    other = tmp_path / "other.csv"
    pd.read_csv(notes).assign(patient=lambda d: "X" + d["patient"]).to_csv(other, index=False)
    done = cli(
        "run", cohort, "--target", "hf", "--id-column", "patient", "--notes", other,
        "--notes-id", "patient", "--lexicon", lexicon, *FAST, "--out", tmp_path / "runs",
    )  # fmt: skip
    assert done.code == 2
    assert "none of the 160 notes' sample IDs" in done.err and "--notes-id" in done.err
    assert SECRET not in done.err and "Traceback" not in done.err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_index_time_column_is_not_a_feature(notes_run):
    run = notes_run[0]
    features = set(run.model_card["dtypes"])
    assert "admitted" not in features and {"age", "bmi"} <= features
    assert features - {"age", "bmi"} <= set(run.results["clinical_notes"]["features"])


def test_the_report_section_shows_the_assertion_mix(notes_run):
    _, out = notes_run
    (run_dir,) = run_dirs(out)
    html = (run_dir / "report.html").read_text()
    section = html[html.index('id="clinical-notes"') :]
    section = section[: section.index("</section>")]
    assert "affirmed 40 · negated 40 · family 40" in section
    assert "80 written at or after the index time" in section
    assert "built-in method" not in section and "· </span>" not in section


# -- --notes-tfidf: terms learned inside the folds ---------------------------------------
def test_note_terms_never_see_the_test_folds_words(monkeypatch):
    """Each sample's notes carry a word of its own ('wordNNN'); a fold's vocabulary and the
    terms it selects may hold only words of its training samples."""
    from insightome.evaluate.splitters import make_plan
    from insightome.models.candidates import Candidate
    from insightome.models.note_terms import NoteTerms, NoteTexts

    n = 60
    ids = [f"S{i}" for i in range(n)]
    y = np.array([i % 2 for i in range(n)])
    texts = {
        s: f"{'fever cough' if label else 'no fever'} word{i:03d} shared words here"
        for i, (s, label) in enumerate(zip(ids, y, strict=True))
    }
    features = pd.DataFrame({"age": np.arange(n, dtype=float)}, index=ids)
    plan = make_plan(y, "binary", folds=3, repeats=1, seed=0)
    seen: list[list[str]] = []

    class Recording(note_terms.TfidfVectorizer):
        def fit_transform(self, raw_documents, y=None):
            seen.append(list(raw_documents))
            return super().fit_transform(raw_documents, y)

    monkeypatch.setattr(note_terms, "TfidfVectorizer", Recording)
    for train, test in plan.splits[0]:
        seen.clear()
        model = NoteTerms(
            Candidate("ridge_logistic", {"C": 1.0}), NoteTexts(texts), k=5, min_df=1
        ).fit(features.iloc[train], y[train])
        (documents,) = seen  # the vectorizer was fitted on the training samples' notes only
        assert documents == [texts[ids[i]] for i in train]
        assert not any(f"word{i:03d}" in " ".join(documents) for i in test)
        vocabulary = set(model.vectorizer_.vocabulary_)
        assert vocabulary == {t.removeprefix("term:") for t in model.terms_}
        assert not vocabulary & {f"word{i:03d}" for i in test}
        assert "fever cough" in vocabulary and "neg_fever" not in vocabulary  # k=5 of them
        assert not hasattr(model.vectorizer_, "stop_words_")
        assert len(model.predict_proba(features.iloc[test])) == len(test)


def test_a_run_with_note_terms_saves_no_note_text(files, tmp_path):
    cohort, notes, lexicon = files
    run = insightome.run(
        cohort, target="hf", id_column="patient", notes=notes, notes_id="patient",
        lexicon=lexicon, notes_tfidf=20, min_cell=5, out_dir=tmp_path, **API_FAST,
    )  # fmt: skip
    names = [c["name"] for c in run.results["configurations"]]
    assert names and all(n.endswith("+terms(k=20)") for n in names)
    assert run.results["invocation"]["notes_tfidf"] == 20
    (run_dir,) = run_dirs(tmp_path)
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path.name
            assert b"denies shortness" not in path.read_bytes(), path.name
    model = run.model
    assert model.texts is None and 0 < len(model.terms_) <= 20
    assert set(model.vectorizer_.vocabulary_) == {t[5:] for t in model.terms_}
    # every kept term is in at least --min-cell (5) patients' notes
    used = pd.read_csv(notes).groupby("patient")["text"].agg(" ".join).str.lower()
    for term in model.vectorizer_.vocabulary_:
        words = term.removeprefix("neg_").split()[0].removeprefix("neg_")
        assert used.str.contains(words, regex=False).sum() >= 5, term
    with pytest.raises(UserError, match="give the samples' notes with insightome predict"):
        model.predict_proba(pd.DataFrame({"age": [60.0]}, index=["P000"]))


def test_the_average_of_note_term_models_wins_and_saves_no_note_text(files, tmp_path):
    """--ensemble top3 with --notes-tfidf on a noisy outcome (a quarter of the labels
    flipped), where the average of the top 3 wins: nothing the run writes holds a note,
    each saved member keeps its terms only, and predict gives the notes back to every member
    (the members' stripping itself: tests/evaluate/test_ensemble.py)."""
    from insightome.models.ensemble import AveragedClassifier
    from insightome.models.note_terms import NoteTerms

    cohort, notes, lexicon = files
    noisy = pd.read_csv(cohort)
    flip = np.random.default_rng(5).random(len(noisy)) < 0.25
    noisy.loc[flip, "hf"] = 1 - noisy.loc[flip, "hf"]
    noisy_path = tmp_path / "cohort_noisy.csv"
    noisy.to_csv(noisy_path, index=False)
    run = insightome.run(
        noisy_path, target="hf", id_column="patient", notes=notes, notes_id="patient",
        lexicon=lexicon, notes_tfidf=20, min_cell=5, ensemble="top3", out_dir=tmp_path / "o",
        **API_FAST,
    )  # fmt: skip
    assert run.results["winner"]["family"] == "average", run.results["winner"]["name"]
    assert isinstance(run.model, AveragedClassifier) and len(run.model.members_) == 3
    assert all(isinstance(m, NoteTerms) and m.texts is None for m in run.model.members_)
    (run_dir,) = run_dirs(tmp_path / "o")
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path.name
            assert b"denies shortness" not in path.read_bytes(), path.name
    pred = insightome.predict(run.path, noisy_path, id_column="patient", notes=notes,
                              notes_id="patient")  # fmt: skip
    assert len(pred) == 80 and pred.filter(like="prob_").notna().all().all()


def test_note_terms_are_refused_with_augment_and_survival(files, tmp_path):
    cohort, notes, _ = files
    with pytest.raises(UserError, match="--notes-tfidf: synthetic rows have no notes"):
        insightome.run(
            cohort, target="hf", id_column="patient", notes=notes, notes_tfidf=5,
            augment="cart", out_dir=tmp_path,
        )  # fmt: skip


# -- review fixes: IDs never guessed, checkpoints without notes, ISO times, small cells ----
def test_the_sample_id_column_of_the_notes_is_never_guessed(files, tmp_path, cli):
    """A note_id column is a note's ID, not the patient's: without --notes-id (or the data's
    --id-column name in the notes) the run stops instead of joining notes to wrong patients."""
    cohort, notes, lexicon = files
    renamed = tmp_path / "notes_ids.csv"
    table = pd.read_csv(notes)
    table.insert(0, "note_id", range(len(table)))
    table.rename(columns={"patient": "pid"}).to_csv(renamed, index=False)
    data = pd.read_csv(cohort).rename(columns={"patient": "id"})
    data["id"] = range(len(data))  # sample IDs 0..79 collide with note IDs 0..159
    numbered = tmp_path / "cohort_numbered.csv"
    data.to_csv(numbered, index=False)
    done = cli("run", numbered, "--target", "hf", "--notes", renamed, "--lexicon", lexicon, *FAST,
               "--out", tmp_path / "runs")  # fmt: skip
    assert done.code == 2 and "--notes-id" in done.err and "Traceback" not in done.err
    done = cli("run", cohort, "--target", "hf", "--id-column", "patient", "--notes", renamed,
               "--lexicon", lexicon, *FAST, "--out", tmp_path / "runs")  # fmt: skip
    assert done.code == 2 and "sample-ID column 'patient' not found" in done.err
    assert "--notes-id" in done.err and SECRET not in done.err


class Interrupted(Exception):
    pass


def test_an_interrupted_run_keeps_no_note_text_in_its_checkpoints(files, tmp_path):
    cohort, notes, lexicon = files

    def interrupt(state):
        raise Interrupted

    with pytest.raises(Interrupted):
        insightome.run(
            cohort, target="hf", id_column="patient", notes=notes, notes_id="patient",
            lexicon=lexicon, notes_tfidf=20, min_cell=5, out_dir=tmp_path / "runs",
            stages=[Stage("crash", interrupt, after="refit")], discover=False, audit=False,
            **API_FAST,
        )  # fmt: skip
    (partial,) = (tmp_path / "runs").iterdir()
    saved = list((partial / "stages").iterdir())
    assert {p.stem for p in saved} >= {"plan", "select", "refit"}
    for path in partial.rglob("*"):
        if path.is_file():
            assert b"Zebulon" not in path.read_bytes(), path.name
    # the resumed run reads the notes again and finishes from the saved stages (a new
    # process would know no notes: forget them here too)
    note_terms._REGISTRY.clear()
    resumed = insightome.resume(partial)
    assert resumed.results["clinical_notes"]["notes_used"] == 160
    assert all(c["name"].endswith("+terms(k=20)") for c in resumed.results["configurations"])


@pytest.mark.parametrize("written", ["01/06/2020", "2020-06-01T10:00+02:00"])
def test_times_that_are_not_iso_dates_are_refused_not_guessed(files, tmp_path, written):
    cohort, notes, lexicon = files
    odd = tmp_path / "odd_times.csv"
    table = pd.read_csv(notes)
    table.loc[3, "written"] = written  # day-first, or an offset where the others have none
    table.to_csv(odd, index=False)
    with pytest.raises(UserError) as err:
        insightome.run(
            cohort, target="hf", id_column="patient", notes=odd, notes_id="patient",
            lexicon=lexicon, notes_time="written", index_time="admitted", out_dir=tmp_path,
        )  # fmt: skip
    message = str(err.value)
    assert "row 5" in message and "YYYY-MM-DD" in message and written not in message


def test_a_misspelled_index_time_column_is_one_line(files, tmp_path, cli):
    cohort, notes, lexicon = files
    done = cli("run", cohort, "--target", "hf", "--id-column", "patient", "--notes", notes,
               "--notes-id", "patient", "--lexicon", lexicon, "--notes-time", "written",
               "--index-time", "admited", *FAST, "--out", tmp_path / "runs")  # fmt: skip
    assert done.code == 2 and "--index-time 'admited'" in done.err and "admitted" in done.err
    assert "Traceback" not in done.err


def test_a_date_only_note_of_the_index_day_is_left_out():
    from insightome.notes_features import _before_index

    notes = pd.DataFrame({"written": ["2020-06-01", "2020-05-31"]})
    owner = pd.Series(["A", "A"])
    index = pd.Series(["2020-06-01T12:00"], index=["A"])
    settings = NotesSettings("x.csv", time_column="written", index_time="admitted")
    kept, counts = _before_index(notes, owner, settings, index, "data.csv")
    assert kept.tolist() == [False, True] and counts["notes_at_or_after_index"] == 1


def test_rare_concepts_show_no_counts_and_get_no_column(files, tmp_path):
    """One patient's rare diagnosis: no column, and none of its counts in the summary."""
    cohort, notes, _ = files
    rare = tmp_path / "rare.csv"
    table = pd.read_csv(notes)
    table.loc[0, "text"] += " Known HIV infection."
    table.to_csv(rare, index=False)
    lex = tmp_path / "lexicon_rare.csv"
    lex.write_text(LEXICON + "hiv,HIV infection,HIV,condition\n")
    ids = pd.read_csv(cohort)["patient"].tolist()
    made = notes_features(NotesSettings(rare, id_column="patient", lexicon=lex), ids)
    assert not [c for c in made.columns.columns if "hiv" in c]
    assert made.summary["rare_columns_left_out"] >= 1
    assert "hiv" not in json.dumps(made.summary) and made.summary["concepts_not_listed"] == 1
    json.dumps(made.summary)  # serializable as results.json will hold it


def test_typed_date_columns_and_utc_offsets_in_the_time_filter():
    """A datetime column (Parquet, h5ad) is a date, never a number of nanoseconds; offsets
    must be on both sides or neither."""
    from insightome.notes_features import _before_index

    owner = pd.Series(["A", "A"])
    settings = NotesSettings("x.csv", time_column="written", index_time="admitted")
    index = pd.Series(pd.to_datetime(["2020-06-01 12:00"]), index=["A"])
    notes = pd.DataFrame({"written": ["2020-06-02T08:00", "2020-05-30T08:00"]})
    kept, _ = _before_index(notes, owner, settings, index, "data.parquet")
    assert kept.tolist() == [False, True]
    days = pd.DataFrame({"written": [1, 30]})  # numbers against dates: refused, not compared
    with pytest.raises(UserError, match="both be dates or both"):
        _before_index(days, owner, settings, index, "data.parquet")
    zoned = pd.DataFrame({"written": ["2020-06-01T01:30+02:00", "2020-05-01T00:00+02:00"]})
    with pytest.raises(UserError, match="UTC offset"):
        _before_index(zoned, owner, settings, index, "data.parquet")


def test_a_rare_concept_is_not_named_anywhere_in_the_summary(files, tmp_path):
    cohort, notes, _ = files
    rare = tmp_path / "rare_values.csv"
    table = pd.read_csv(notes)
    table.loc[0, "text"] += " Viral load 200 copies. Viral load 3."
    table.to_csv(rare, index=False)
    lex = tmp_path / "lexicon_vl.csv"
    lex.write_text(LEXICON + "hiv_viral_load,viral load,,measurement\n")
    ids = pd.read_csv(cohort)["patient"].tolist()
    made = notes_features(NotesSettings(rare, id_column="patient", lexicon=lex), ids)
    assert "viral" not in json.dumps(made.summary).lower()
