"""``insightome trials match / screen / review`` end to end, and their bad-input lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("spacy")
pytest.importorskip("bm25s")

from insightome import errors
from insightome.audit.prediction_log import read_log
from tests.conftest import shared_data

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[3]
DISCLAIMER_START = "Screening aid, not an eligibility decision"


@pytest.fixture(scope="module")
def trec(tmp_path_factory) -> tuple[Path, Path]:
    """Four TREC 2022 topics and the shared judged corpus (with a broken line appended)."""
    queries = shared_data("trials", "trec_2022", "queries.jsonl")
    corpus = shared_data("trials", "corpus", "ctgov_20230203_judged_in_qrels.jsonl")
    folder = tmp_path_factory.mktemp("trec")
    patients = folder / "patients.jsonl"
    patients.write_text("".join(queries.read_text().splitlines(keepends=True)[:4]))
    broken = folder / "corpus.jsonl"
    broken.write_text(corpus.read_text() + '{"nct_id": "NCT0BROKEN", \n')
    return patients, broken


@pytest.fixture(scope="module")
def matched(trec, tmp_path_factory):
    from insightome.apps.trials.api import match

    patients, corpus = trec
    out = tmp_path_factory.mktemp("match") / "out"
    return match(patients, corpus, out, top=40, recall=40)  # every recalled trial listed


def test_match_writes_tables_report_and_log(cli, trec, tmp_path):
    patients, corpus = trec
    out = tmp_path / "matched"
    result = cli("trials", "match", patients, "--trials", corpus, "-o", out, "--top", "3", "-q")
    assert result.code == 0, result.err
    assert "4 patient(s), 1668 trial(s) (1 record(s) skipped: see summary.json)" in result.out
    assert DISCLAIMER_START in result.out
    matches = pd.read_csv(out / "matches.csv")
    assert len(matches) == 12 and matches.groupby("patient_id")["rank"].max().eq(3).all()
    assert (matches.groupby("patient_id")["score"].apply(lambda s: s.is_monotonic_decreasing)).all()
    criteria = pd.read_csv(out / "criteria.csv", keep_default_na=False)
    assert set(criteria["verdict"]) <= {"met", "not met", "unknown"}
    assert set(criteria["kind"]) == {"inclusion", "exclusion"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"]["skipped"][0]["where"].endswith("corpus.jsonl:1669")
    assert summary["trials"]["skipped"][0]["reason"].startswith("not JSON")
    html = (out / "report.html").read_text()
    assert DISCLAIMER_START in html and "<script" not in html
    assert DISCLAIMER_START in (out / "README.txt").read_text()
    log = read_log(out)
    assert (log["event"] == "prediction").sum() == 12
    # the console never shows note text
    first_note = json.loads(patients.read_text().splitlines()[0])["text"]
    assert first_note[:40] not in result.out + result.err


def test_excluded_suggestions_carry_their_failed_criterion(matched):
    failed = [p for p in matched.pairs if p.n_failed]
    assert failed, "some suggestions of four TREC topics fail a criterion"
    for pair in failed:
        assert pair.judgement.status == "excluded"
        for judgement in pair.judgement.failed:
            # a failure is never a guess: it names the words or field that decided it
            assert judgement.evidence is not None and judgement.evidence.text
            if judgement.evidence.source == "note":
                text = next(
                    p.text for p in matched.patients.patients if p.patient_id == pair.patient_id
                )
                span = text[judgement.evidence.start : judgement.evidence.end]
                assert span == judgement.evidence.text


def test_review_records_who_decided_what_and_why(cli, matched):
    out = matched.out_dir
    row = pd.read_csv(out / "matches.csv").iloc[0]
    args = ["trials", "review", out, "--patient", row["patient_id"], "--trial", row["trial_id"]]
    result = cli(*args, "--decision", "reject", "--reviewer", "RN 042",
                 "--reason", "exclusion confirmed in the chart")  # fmt: skip
    assert result.code == 0, result.err
    suggestions = len(pd.read_csv(out / "matches.csv"))
    assert f"decisions so far: 0 accepted, 1 rejected, of {suggestions} suggestion(s)" in result.out
    log = read_log(out)
    override = log[log["event"] == "override"].iloc[-1]
    assert (override["reviewer"], override["override"]) == ("RN 042", "reject")
    assert override["sample_id"] == f"{row['patient_id']}|{row['trial_id']}"
    bad = cli("trials", "review", out, "--patient", "nobody", "--trial", row["trial_id"],
              "--decision", "accept", "--reviewer", "x", "--reason", "y")  # fmt: skip
    assert bad.code == 2 and "'nobody' × trial" in bad.err and "Traceback" not in bad.err
    empty = cli(*args, "--decision", "accept", "--reviewer", "x", "--reason", " ")
    assert empty.code == 2 and "the reason is empty" in empty.err


def test_review_of_a_folder_with_a_broken_summary(cli, tmp_path):
    (tmp_path / "summary.json").write_text("{not json")
    result = cli("trials", "review", tmp_path, "--patient", "a", "--trial", "b",
                 "--decision", "accept", "--reviewer", "r", "--reason", "why")  # fmt: skip
    assert result.code == 2 and "not the output of 'insightome trials" in result.err
    assert "Traceback" not in result.err


def test_screen_ranks_a_cohort_for_one_trial(cli, tmp_path):
    cohort = tmp_path / "cohort.csv"
    pd.DataFrame({
        "patient_id": ["A", "B", "C"],
        "note": [
            "A 20-year-old man diagnosed with congenital adrenal hyperplasia.",
            "A 20-year-old man diagnosed with congenital adrenal hyperplasia and a history of "
            "liver disease.",
            "A 70-year-old woman with cardiovascular disease.",
        ],
    }).to_csv(cohort, index=False)  # fmt: skip
    out = tmp_path / "screened"
    result = cli("trials", "screen", DATA / "NCT00000102.xml", "--patients", cohort, "-o", out)
    assert result.code == 0, result.err
    matches = pd.read_csv(out / "matches.csv")
    assert matches["patient_id"].tolist() == ["A", "B", "C"]
    assert matches["rank"].tolist() == [1, 2, 3]
    assert matches["failed"].tolist() == [0, 1, 2]  # B: liver disease; C: age and heart
    html = (out / "report.html").read_text()
    assert "NCT00000102" in html and "liver disease" in html
    assert "Age: 20 (note: “20-year-old”)" in html  # each patient's age and where it came from
    assert html.count('class="fails"') >= 3  # B: liver disease; C: age and heart (cell + row)


def _lines(result) -> list[str]:
    return [line for line in result.err.splitlines() if line.strip()]


def test_bad_inputs_give_one_line(cli, tmp_path):
    no_id = tmp_path / "no_id.csv"
    no_id.write_text("note\nA 20-year-old man.\n")
    trial = DATA / "NCT00000102.xml"
    cases = [
        (("trials", "screen", trial, "--patients", no_id, "-o", tmp_path / "o1"),
         "no patient ID column"),
        (("trials", "screen", "NCT00000102", "--patients", no_id, "-o", tmp_path / "o2"),
         "give the corpus with --trials"),
        (("trials", "match", no_id, "--trials", tmp_path / "missing.jsonl", "-o", tmp_path / "o3"),
         "no patient ID column"),
        (("trials", "match", DATA / "NCT00000102.xml", "--trials", trial, "-o", tmp_path / "o4"),
         "unknown notes file type '.xml'"),
        (("trials", "review", tmp_path, "--patient", "a", "--trial", "b", "--decision", "accept",
          "--reviewer", "r", "--reason", "why"), "not the output of 'insightome trials"),
    ]  # fmt: skip
    for args, expected in cases:
        result = cli(*args)
        assert result.code == 2, (args, result.err)
        assert len(_lines(result)) == 1 and expected in result.err, result.err
        assert "Traceback" not in result.err
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o3").exists()


def test_a_trials_file_with_no_readable_record(cli, tmp_path):
    corpus = tmp_path / "bad.jsonl"
    corpus.write_text('not json\n{"brief_title": "no id"}\n')
    patients = tmp_path / "p.jsonl"
    patients.write_text(json.dumps({"_id": "P1", "text": "A 40-year-old man."}) + "\n")
    result = cli("trials", "match", patients, "--trials", corpus, "-o", tmp_path / "out")
    assert result.code == 2 and len(_lines(result)) == 1
    assert "no trial record could be read (first: " in result.err
    assert f"{corpus}:1: not JSON" in result.err


def test_without_the_trials_extra_one_line_says_what_to_install(tmp_path):
    patients = tmp_path / "p.jsonl"
    patients.write_text(json.dumps({"_id": "P1", "text": "A 40-year-old man."}) + "\n")
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('bm25s', 'Stemmer'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from insightome.cli.app import main\n"
        "sys.argv = ['insightome', *sys.argv[1:]]\n"
        "main()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", blocker, "trials", "screen", str(DATA / "NCT00000102.xml"),
         "--patients", str(patients), "-o", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and errors.TRIALS_EXTRA_MISSING in lines[0]


def test_the_output_never_replaces_an_input_or_a_foreign_folder(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cohort = tmp_path / "cohort.csv"
    cohort.write_text("patient_id,text\nP1,A 20-year-old man.\n")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "NCT00000102.xml").write_bytes((DATA / "NCT00000102.xml").read_bytes())
    other = tmp_path / "results"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    for output, reason in [
        (cohort, "would replace the input"),
        (other / "keep.txt", "is a file"),
        (".", "would replace the input"),  # the cohort is in it
        (tmp_path.parent, "would replace the input"),
        (corpus, "would replace the input"),
        (other, "is a folder with other content"),
    ]:
        result = cli("trials", "screen", "NCT00000102", "--trials", corpus, "--patients", cohort,
                     "-o", output)  # fmt: skip
        assert result.code == 2 and reason in result.err and "Traceback" not in result.err
    assert cohort.read_text().startswith("patient_id") and (other / "keep.txt").exists()
    assert (corpus / "NCT00000102.xml").exists()
    first = cli("trials", "screen", "NCT00000102", "--trials", corpus, "--patients", cohort,
                "-o", "out", "-q")  # fmt: skip
    again = cli("trials", "screen", "NCT00000102", "--trials", corpus, "--patients", cohort,
                "-o", "out", "-q")  # an earlier output is replaced  # fmt: skip
    assert first.code == 0 and again.code == 0, again.err
