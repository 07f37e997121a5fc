"""The notes accuracy benchmarks' harness (benchmarks/notes_negex.py, notes_spanish.py):
brat reading, span matching, scope tokens, the report-number matching, the bootstrap over
units, the NegEx conversion and the shared results file, on small inline examples; and
the readers on the real data (skipped when absent)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import notes_negex as nn  # noqa: E402
import notes_spanish as ns  # noqa: E402
from tests.conftest import shared_data  # noqa: E402

TEXT = "No fiebre.\r\nSin masas ni megalias, probable quiste.\r\n"
#       0123456789   12345678901234567890123456789012345678
ANN = (
    "T1\tNegSynMarker 0 2\tNo\n"
    "T2\tDISO 3 9\tfiebre\n"
    "T3\tNegSynMarker 12 15\tSin\n"
    "T4\tDISO 16 21;25 33\tmasas megalias\n"
    "T5\tCoordItem 22 24\tni\n"
    "T6\tUncertLexMarker 35 43\tprobable\n"
    "T7\tDISO 44 50\tquiste\n"
    "R1\tScope Arg1:T1 Arg2:T2\t\n"
    "R2\tScope Arg1:T3 Arg2:T4\t\n"
    "R3\tScope Arg1:T6 Arg2:T7\t\n"
)


# --------------------------------------------------------------------------------------
# brat
# --------------------------------------------------------------------------------------
def test_brat_annotations_with_discontinuous_spans_and_relations():
    entities, relations = ns.parse_ann(ANN)
    assert entities["T4"] == ("DISO", ((16, 21), (25, 33)))
    assert entities["T1"] == ("NegSynMarker", ((0, 2),))
    assert ("Scope", "T3", "T4") in relations and len(relations) == 3


def test_sentences_are_lines_with_offsets_counting_crlf_and_negation_scopes_only():
    assert TEXT[16:21] == "masas" and TEXT[44:50] == "quiste"  # CRLF counts 2 characters
    first, second = ns.sentences(TEXT, ANN, "x.txt")
    assert first.text == "No fiebre." and second.text.startswith("Sin masas")
    assert first.neg_cues == ((0, 2),) and first.scopes == ((3, 9),)
    assert first.neg_cue_types == ("NegSynMarker",)
    assert second.neg_cues == ((0, 3),)
    # both parts of the discontinuous scope, relative to the line; not the uncertain one
    assert [second.text[a:b] for a, b in second.scopes] == ["masas", "megalias"]
    assert [second.text[a:b] for a, b in second.uncertain_cues] == ["probable"]


# --------------------------------------------------------------------------------------
# span and token measures
# --------------------------------------------------------------------------------------
def test_span_matching_exact_and_overlap_one_to_one():
    gold = [(0, 3), (10, 14)]
    assert ns.match_spans([(0, 3), (10, 12)], gold, exact=True) == 1
    assert ns.match_spans([(0, 3), (10, 12)], gold, exact=False) == 2
    # two predictions overlapping one gold cue: only one of them matches
    assert ns.match_spans([(0, 2), (1, 3)], [(0, 3)], exact=False) == 1
    assert ns.match_spans([(3, 5)], [(0, 3)], exact=False) == 0  # touching is not overlap


def test_scope_tokens_are_words_less_the_cues():
    text = "sin masas ni megalias, abdomen blando"
    tokens = ns.word_tokens(text, [(0, 21)], minus=[(0, 3)])
    assert tokens == {1, 2, 3}  # masas ni megalias; not "sin", not the comma


def test_sentence_counts_of_a_hand_scored_sentence():
    s = ns.Sentence(
        "f", 0, "No fiebre ni tos, dolor leve.", ((0, 2),), (), ((3, 16),), ("NegSynMarker",)
    )
    p = ns.Predicted(neg_cues=((0, 2), (24, 28)), uncertain_cues=(), scopes=((3, 23),))
    counts = ns.sentence_counts(s, p)
    assert counts["cues (exact)"] == (1, 1, 0)  # "leve" is a false cue
    # gold scope words: fiebre ni tos; predicted: fiebre ni tos dolor
    assert counts["scope tokens"] == (3, 1, 0)
    assert counts["recall of NegSynMarker"] == (1, 0, 0)
    assert counts["recall of NegMorMarker"] == (0, 0, 0)


# --------------------------------------------------------------------------------------
# metrics and the bootstrap
# --------------------------------------------------------------------------------------
def test_prf_of_counts_and_undefined_cases():
    p, r, f = nn.prf(np.array([8, 0]), np.array([2, 0]), np.array([2, 0]))
    assert (p[0], r[0], f[0]) == (0.8, 0.8, pytest.approx(0.8))
    assert np.isnan(p[1]) and np.isnan(r[1]) and np.isnan(f[1])


def test_bootstrap_resamples_units_and_brackets_the_pooled_point():
    rng = np.random.default_rng(1)
    tp = rng.integers(0, 10, 40)
    fp = rng.integers(0, 4, 40)
    fn = rng.integers(0, 4, 40)
    out = nn.bootstrap_prf(tp, fp, fn, n_boot=500, seed=3)
    point = nn.prf(tp.sum(), fp.sum(), fn.sum())
    for name, value in zip(("precision", "recall", "f1"), point, strict=True):
        est, low, high = out[name]
        assert est == pytest.approx(float(value)) and low < est < high
    assert out == nn.bootstrap_prf(tp, fp, fn, n_boot=500, seed=3)  # seeded
    # identical units: every resample gives the same pooled ratio, a zero-width interval
    same = nn.bootstrap_prf(np.full(10, 3), np.full(10, 1), np.full(10, 2), n_boot=200)
    assert same["precision"] == pytest.approx((0.75, 0.75, 0.75))


def test_bootstrap_is_over_units_not_rows():
    """Rows grouped into reports: the interval of report-level resampling is wider than
    when each row is its own unit, since a report's rows agree with each other."""
    gold = np.array([True] * 60 + [False] * 40)
    pred = gold.copy()
    pred[:20] = False  # report 0 (rows 0-19) is all missed
    reports = np.repeat(np.arange(5), 20)
    by_report = nn.bootstrap_prf(*nn.per_unit_counts(gold, pred, reports), n_boot=1000)
    by_row = nn.bootstrap_prf(*nn.per_unit_counts(gold, pred, np.arange(100)), n_boot=1000)
    assert by_report["recall"][0] == by_row["recall"][0] == pytest.approx(40 / 60)
    width = {
        k: v["recall"][2] - v["recall"][1] for k, v in (("report", by_report), ("row", by_row))
    }
    assert width["report"] > 1.5 * width["row"]


# --------------------------------------------------------------------------------------
# the NegEx set's harness
# --------------------------------------------------------------------------------------
def test_report_numbers_dealt_out_by_label_among_identical_rows():
    annotated = pd.DataFrame(
        [
            [1, "HTN", "HYPERTENSION.", "Affirmed"],
            [2, "htn", "Hypertension.", "Negated"],
            [3, "edema", "No  edema.", "Negated"],
        ],
        columns=["Report No.", "Concept", "Sentence", "Negation"],
    )
    rows = pd.DataFrame(
        [
            ["edema", "No EDEMA.", "Negated"],
            ["htn", "HYPERTENSION.", "Negated"],
            ["HTN", "hypertension.", "Affirmed"],
        ],
        columns=["condition", "sentence", "negation"],
    )
    reports, counts = nn.match_reports(rows, annotated)
    assert reports == [3, 2, 1]
    assert counts == {"unique": 1, "shared": 2}
    with pytest.raises(ValueError, match="row 4"):
        nn.match_reports(pd.concat([rows, rows.iloc[:1]]), annotated)


def test_target_found_case_insensitively_across_white_space():
    sentence = "Extremities reveal no peripheral cyanosis or   EDEMA of the legs."
    start, end = nn.find_target(sentence, "edema of the legs")
    assert sentence[start:end] == "EDEMA of the legs"
    assert nn.find_target("In no acute   distress.", "acute distress") == (6, 22)
    assert nn.find_target("No edema.", "cyanosis") is None


def test_negex_lists_become_context_rules(tmp_path):
    (tmp_path / "negex_triggers.txt").write_text(
        "no\t\t[PREN]\r\nunlikely\t\t[POST]\r\nrule out\t\t[PREP]\r\nno increase\t\t[PSEU]\r\n"
        "but\t\t[CONJ]\r\n"
    )
    (tmp_path / "history_triggers.txt").write_text(
        "history\t\t[PREN]\nprior\t\t[ONEW]\nwho\t\t[CONJ]\n"
    )
    (tmp_path / "hypothetical_triggers.txt").write_text("if\t\t[PREN]\nwho\t\t[CONJ]\n")
    (tmp_path / "experiencer_triggers.txt").write_text("mom\t\t[PREN]\nno\t\t[PREN]\n")
    rules = {(r.literal, r.category): r.direction for r in nn.negex_rules(tmp_path)}
    assert rules[("no", "NEGATED")] == "forward"
    assert rules[("unlikely", "NEGATED")] == "backward"
    assert rules[("rule out", "POSSIBLE")] == "forward"
    assert rules[("no increase", "PSEUDO")] == "none"
    assert rules[("but", "TERMINATE")] == "all"
    assert rules[("prior", "HISTORICAL")] == "forward"
    assert rules[("who", "TERMINATE")] == "HISTORICAL,HYPOTHETICAL"
    assert rules[("no", "FAMILY")] == "forward"  # same literal, another category: kept


def test_results_block_replaced_alone(tmp_path):
    path = tmp_path / "notes.md"
    nn.write_block(path, "negex", "first")
    nn.write_block(path, "spanish", "other")
    nn.write_block(path, "negex", "second\nrun")
    text = path.read_text()
    assert text.startswith("# Clinical notes benchmarks")
    assert "first" not in text and "<!-- BEGIN negex -->\nsecond\nrun\n<!-- END negex -->" in text
    assert text.count("<!-- BEGIN spanish -->\nother\n<!-- END spanish -->") == 1


# --------------------------------------------------------------------------------------
# the real data
# --------------------------------------------------------------------------------------
def test_negex_set_rows_matched_to_reports_and_split_by_parity():
    data = shared_data("clinical_text", "negex")
    rows, counts = nn.load(data)
    assert counts["rows"] == 2376 and counts["unique"] + counts["shared"] == 2376
    assert len(rows) == 2376 - counts["target_not_found"] and counts["target_not_found"] < 20
    assert rows["report"].nunique() >= 110
    assert (rows["negated"].sum(), rows["hypothetical"].sum()) == (491, 56)
    for s, a, b, c in zip(
        rows["sentence"], rows["start"], rows["end"], rows["condition"], strict=True
    ):
        assert " ".join(s[a:b].lower().split()) == " ".join(c.lower().split())
    tune, report = nn.split(rows)
    assert set(tune["report"] % 2) == {1} and set(report["report"] % 2) == {0}
    assert len(tune) + len(report) == len(rows)


def test_iula_gold_counts_match_the_corpus_description():
    data = shared_data("clinical_text", "spanish_iula", "IULA+")
    corpus = ns.read_corpus(data, ns.TUNE_FILES + ns.REPORT_FILES)
    assert len(corpus) == 3363
    # 989 NegSynMarker + 156 NegLexMarker + 84 NegMorMarker; 219 + 1 uncertainty markers
    assert sum(len(s.neg_cues) for s in corpus) == 1229
    assert sum(len(s.uncertain_cues) for s in corpus) == 220
    for s in corpus:
        assert all(0 <= a < b <= len(s.text) for a, b in s.neg_cues + s.scopes)
