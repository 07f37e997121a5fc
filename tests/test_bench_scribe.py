"""The scribe benchmark (benchmarks/scribe.py, scribe_table.py, scribe_selector.py): its
measures on tiny inline examples — concept scoring, the seeded bootstrap, the ROUGE wrapper,
the retrieval baseline, the selector's fit — the speech section (rendered from
scribe_speech.json, never run), and its table (scribe.md is what ``--render`` makes of
scribe.json). No benchmark run: fast."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from insightome.apps.scribe.note import Draft, DraftLine, Evidence, Finding, Section
from insightome.apps.scribe.transcript import Transcript, Turn

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import scribe  # noqa: E402
import scribe_selector  # noqa: E402
import scribe_table  # noqa: E402


def _draft(*findings: tuple[str, str]) -> Draft:
    turn = Turn("doctor", "doctor", "any chest pain?")
    lines = tuple(
        DraftLine(
            f"L{i:03d}",
            "s",
            "x",
            (Evidence(0, 0, 3, "doctor", "doctor"),),
            (Finding(cid, cid, "symptom", state, "patient"),),
        )
        for i, (cid, state) in enumerate(findings, start=1)
    )
    return Draft((Section("s", "S"),), lines, Transcript((turn,)))


def test_concepts_are_pairs_with_historical_counted_as_present():
    draft = _draft(("cough", "historical"), ("fever", "absent"), ("cough", "present"))
    assert scribe.draft_concepts(draft, "assertion") == {("cough", "present"), ("fever", "absent")}
    assert scribe.draft_concepts(draft, "strict") == {
        ("cough", "historical"),
        ("cough", "present"),
        ("fever", "absent"),
    }
    assert scribe.draft_concepts(draft, "concept") == {"cough", "fever"}
    assert scribe.state_for_scoring("family") == "family"


def test_concept_scores_micro_and_per_encounter():
    predicted = [{"a", "b"}, {"c"}, set()]
    gold = [{"a"}, {"c", "d"}, set()]
    out = scribe.concept_scores(predicted, gold)
    assert out["precision"]["value"] == pytest.approx(2 / 3)
    assert out["recall"]["value"] == pytest.approx(2 / 3)
    assert out["f1"]["value"] == pytest.approx(2 / 3)
    # per encounter: 2/3, 2/3 and 1 (nothing on either side)
    assert out["per_encounter_f1"]["mean"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert out["per_note"] == {"draft": 1.0, "reference": 1.0}
    low, high = out["f1"]["ci95"]
    assert 0 <= low <= 2 / 3 <= high <= 1


def test_bootstrap_is_seeded_and_paired():
    values = np.array([0.2, 0.4, 0.6, 0.8])
    first, second = scribe.mean_ci(values), scribe.mean_ci(values)
    assert first == second and first["mean"] == pytest.approx(0.5) and first["n"] == 4
    assert first["ci95"][0] < 0.5 < first["ci95"][1]
    draws = scribe.resamples(4)
    assert draws.shape == (scribe.N_BOOTSTRAP, 4)
    assert np.array_equal(draws, np.random.default_rng(0).integers(0, 4, size=(2000, 4)))
    assert scribe.mean_ci(values - values, draws)["ci95"] == [0.0, 0.0]


def test_rouge_wrapper_stems_and_splits_lsum_at_newlines():
    same = scribe.rouge_scores(["the patient denies fever"], ["the patient denies fever"])
    assert all(v == [1.0] for v in same.values())
    stemmed = scribe.rouge_scores(["she reports coughing"], ["she reported cough"], stem=True)
    plain = scribe.rouge_scores(["she reports coughing"], ["she reported cough"], stem=False)
    assert stemmed["rouge1"][0] == pytest.approx(1.0) and plain["rouge1"][0] == pytest.approx(1 / 3)
    # ROUGE-L is one sequence; Lsum takes each newline-split sentence's best match
    reference, prediction = "a b\nc d", "c d\na b"
    scores = scribe.rouge_scores([reference], [prediction])
    assert scores["rougeL"][0] == pytest.approx(0.5) and scores["rougeLsum"][0] == 1.0


def test_retrieval_returns_the_most_similar_train_note():
    dialogues = ["knee pain after running", "chest pain and shortness of breath", "rash itch"]
    notes = ["KNEE NOTE", "CHEST NOTE", "SKIN NOTE"]
    got = scribe.retrieve(dialogues, notes, ["my chest pain is worse", "itchy rash on arm"])
    assert got == ["CHEST NOTE", "SKIN NOTE"]
    # leave-one-out on the train set itself never returns the encounter's own note
    own = scribe.retrieve(dialogues, notes, dialogues, leave_one_out=True)
    assert all(mine != theirs for mine, theirs in zip(own, notes, strict=True))


def test_the_table_is_what_render_makes_of_the_saved_numbers():
    saved = RESULTS / "scribe.json"
    if not saved.exists():
        pytest.skip("benchmarks/results/scribe.json not written yet")
    payload = json.loads(saved.read_text(encoding="utf-8"))
    text = scribe.render(payload)
    assert text == (RESULTS / "scribe.md").read_text(encoding="utf-8")
    for heading in (
        "## Targets",
        "## Concepts",
        "## ROUGE",
        "## Beside the published",
        "## Speed",
        "## Speech",
    ):
        assert heading in text
    assert "extractive" in text and "abstractive" in text and "tables/test1.csv" in text
    assert payload["splits"]["test1"]["n"] == 40


def test_the_speech_section_is_rendered_from_its_json_and_never_run(tmp_path, monkeypatch):
    assert scribe_table.speech_section(tmp_path).startswith("Not run:")
    (tmp_path / "scribe_speech.json").write_text('{"wer": 0.25}', encoding="utf-8")
    monkeypatch.setitem(sys.modules, "scribe_speech", None)  # the renderer missing
    assert "is missing: not shown" in scribe_table.speech_section(tmp_path)
    fake = types.ModuleType("scribe_speech")
    fake.render_speech = lambda saved: f"WER {saved['wer']:.2f} (synthetic speech)\n"
    monkeypatch.setitem(sys.modules, "scribe_speech", fake)
    assert scribe_table.speech_section(tmp_path) == "WER 0.25 (synthetic speech)"
    # the text benchmark has no switch to run (or skip) the speech one
    with pytest.raises(SystemExit):
        scribe.main(["--no-speech"])
    assert "speech_benchmark" not in Path(scribe.__file__).read_text(encoding="utf-8")


def test_the_selector_fit_learns_which_sentences_reach_notes():
    # a word that marks the sentences whose content is in the note, one that marks small talk
    rows = []
    for i in range(40):
        note_like = {"bias": 1.0, "doctor": 1.0, "w:meloxicam": 1.0}
        chat = {"bias": 1.0, "patient": 1.0, "w:weekend": 1.0}
        rows += [(i % 5, note_like, 0.6), (i % 5, chat, 0.0)]
    weights = scribe_selector.fit(rows, tau=0.35, C=1.0, words=10)
    assert weights["w:meloxicam"] > 0 > weights["w:weekend"]
    # the vocabulary is the most frequent words only
    assert set(scribe_selector.fit(rows, 0.35, 1.0, words=1)) & {"w:meloxicam", "w:weekend"} in (
        {"w:meloxicam"},
        {"w:weekend"},
    )
    folds = scribe_selector._folds(67)
    assert len(folds) == 5 and set().union(*folds) == set(range(67))
    assert sum(len(f) for f in folds) == 67


def test_the_readme_and_docs_scribe_figures_come_from_the_results_table():
    """Every decimal figure of the README's "Ambient scribe" section and of docs/scribe.md's
    "How well it works" is a number of benchmarks/results/scribe.md (no figure typed by hand)."""
    figure = re.compile(r"(?<![\w.])\d+(?:,\d{3})*\.\d+")
    table = (RESULTS / "scribe.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Ambient scribe")
    end = readme.find("\n## ", start + 1)
    docs = (ROOT / "docs" / "scribe.md").read_text(encoding="utf-8")
    for name, text in (
        ("README", readme[start:end]),
        ("docs/scribe.md", docs[docs.index("## How well it works") :]),
    ):
        figures = set(figure.findall(text))
        assert len(figures) >= 8, f"{name} quotes too few figures"
        missing = [f for f in sorted(figures) if f not in table]
        assert not missing, f"{name} figures not in benchmarks/results/scribe.md: {missing}"
