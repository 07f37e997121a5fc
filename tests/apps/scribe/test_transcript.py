"""Transcripts in: labelled text in the forms clinicians and ACI-BENCH write, our JSON, and the
user's role corrections; bad files are one clear error naming the file."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from insightome import errors
from insightome.apps.scribe.transcript import (
    Transcript,
    Turn,
    Word,
    parse_roles,
    read_transcript,
    role_of_label,
)
from insightome.errors import UserError
from tests.conftest import shared_data


def test_labelled_text_in_three_forms(tmp_path):
    path = tmp_path / "visit.txt"
    path.write_text(
        "[doctor] hi , how are you ?\n"
        "[patient] my chest hurts .\n"
        "it started yesterday .\n"  # no label: continues the patient's turn
        "\n"
        "Dr: any fever ?\n"
        "PATIENT: no .\n"
        "Nurse: blood pressure is 140 over 90 .\n",
        encoding="utf-8",
    )
    transcript = read_transcript(path)
    assert [(t.speaker, t.role) for t in transcript.turns] == [
        ("doctor", "doctor"),
        ("patient", "patient"),
        ("Dr", "doctor"),
        ("PATIENT", "patient"),
        ("Nurse", "other"),
    ]
    assert transcript.turns[1].text == "my chest hurts . it started yesterday ."
    assert transcript.source["file"] == "visit.txt" and len(transcript.source["sha256"]) == 64
    assert transcript.speakers["doctor"] == {"role": "doctor", "decided_by": "label"}
    assert transcript.text.splitlines()[2] == "[doctor] any fever ?"


def test_role_labels_and_role_specs():
    assert [role_of_label(x) for x in ("Doctor", "dr.", "Physician", "pt", "S1", "guest")] == [
        "doctor", "doctor", "doctor", "patient", "other", "other",
    ]  # fmt: skip
    assert parse_roles("S1=patient, S2=Doctor") == {"S1": "patient", "S2": "doctor"}
    for bad in ("S1", "S1=nurse", "=doctor"):
        with pytest.raises(UserError, match="--roles"):
            parse_roles(bad)


def test_role_correction_is_recorded_and_json_round_trips(tmp_path):
    words = (Word("chest", 1.0, 1.4, 0.9), Word("pain", 1.4, 1.8, 0.8))
    transcript = Transcript(
        (Turn("S1", "doctor", "chest pain", 1.0, 1.8, words), Turn("S2", "patient", "yes")),
        {"file": "a.wav", "sha256": "0" * 64, "duration_s": 3.0},
        {"name": "pocketsphinx"},
        {"S1": {"role": "doctor", "decided_by": "inferred"}, "S2": {"role": "patient"}},
    )
    corrected = transcript.with_roles({"S1": "patient", "S2": "doctor"})
    assert [t.role for t in corrected.turns] == ["patient", "doctor"]
    assert corrected.speakers["S1"] == {
        "role": "patient", "decided_by": "corrected", "inferred_role": "doctor",
    }  # fmt: skip
    assert transcript.turns[0].role == "doctor"  # the original is unchanged
    with pytest.raises(UserError, match=r"no speaker .S3.*S1, S2"):
        transcript.with_roles({"S3": "doctor"})

    path = tmp_path / "transcript.json"
    path.write_text(json.dumps(corrected.to_json()), encoding="utf-8")
    again = read_transcript(path)
    assert again.turns == corrected.turns and again.speakers == corrected.speakers
    assert again.source["file"] == "a.wav" and again.source["transcript_file"] == path.name


@pytest.mark.parametrize(
    ("content", "suffix", "template"),
    [
        (b"\xff\xfe[doctor] hi", ".txt", errors.SCRIBE_TRANSCRIPT_ENCODING),
        (b"\n  \n", ".txt", errors.SCRIBE_TRANSCRIPT_EMPTY),
        (b'{"turns": []}', ".json", errors.SCRIBE_TRANSCRIPT_JSON),
        (b"not json", ".json", errors.SCRIBE_TRANSCRIPT_JSON),
    ],
)
def test_bad_transcripts_are_one_clear_error(tmp_path, content, suffix, template):
    path = tmp_path / f"visit{suffix}"
    path.write_bytes(content)
    with pytest.raises(UserError) as caught:
        read_transcript(path)
    assert caught.value.template == template and str(path) in str(caught.value)
    with pytest.raises(UserError, match="no such transcript"):
        read_transcript(tmp_path / "missing.txt")


def test_aci_bench_dialogues_read_turn_for_turn(tmp_path):
    table = pd.read_csv(shared_data("scribe", "aci_bench", "challenge_data", "valid.csv"))
    for i, dialogue in enumerate(table["dialogue"]):
        path = tmp_path / f"{i}.txt"
        path.write_text(dialogue, encoding="utf-8")
        transcript = read_transcript(path)
        # one turn per tag that says something (an empty "[doctor]" interruption is dropped)
        tags = [line for line in dialogue.splitlines() if re.match(r"\[\w+\]\s*\S", line)]
        assert len(transcript.turns) == len(tags)
        assert {t.role for t in transcript.turns} <= {"doctor", "patient", "other"}
        assert "doctor" in {t.role for t in transcript.turns}


def test_only_role_words_and_speaker_codes_are_colon_labels(tmp_path):
    path = tmp_path / "visit.txt"
    path.write_text(
        "Doctor: what medicines do you take?\n"
        "Patient: a few.\n"
        "Medications: I take lisinopril.\n"  # not a speaker: continues the patient's turn
        "Pain: none today.\n"
        "speaker 1: ok.\n"
        "SPEAKER_2: thanks.\n"
        "ch1: fine.\n"
        "s2: bye.\n"
        "Interpreter: she says yes.\n"
        "[Dr Smith] done.\n",
        encoding="utf-8",
    )
    turns = read_transcript(path).turns
    assert [t.speaker for t in turns] == [
        "Doctor", "Patient", "speaker 1", "SPEAKER_2", "ch1", "s2", "Interpreter", "Dr Smith",
    ]  # fmt: skip
    assert turns[1].text == "a few. Medications: I take lisinopril. Pain: none today."
    assert turns[1].role == "patient" and turns[-1].role == "doctor"


def _written(**turn) -> bytes:
    good = {"speaker": "S1", "role": "doctor", "text": "hi", "start": 0.0, "end": 1.0,
            "words": [["hi", 0.0, 1.0, 0.9]]}  # fmt: skip
    data = {"format": "insightome-scribe-transcript/1", "turns": [{**good, **turn}]}
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    "content",
    [
        _written(start="0.5"),
        _written(end=[1]),
        _written(text=5),
        _written(speaker=None),
        _written(words="hi"),
        _written(words=[["hi", "0", 1.0, 0.9]]),
        _written(words=[["hi", 0.0, 1.0]]),
        _written(words=[[1, 0.0, 1.0, 0.9]]),
        _written(start=True),
        b'{"format": "insightome-scribe-transcript/1", "turns": ["hi"]}',
        b'{"format": "insightome-scribe-transcript/1", "turns": [], "speakers": []}',
        b'["not", "an", "object"]',
    ],
)
def test_a_hand_edited_transcript_json_of_wrong_types_is_one_clear_error(tmp_path, content):
    path = tmp_path / "transcript.json"
    path.write_bytes(content)
    with pytest.raises(UserError) as caught:
        read_transcript(path)
    message = str(caught.value)
    assert caught.value.template == errors.SCRIBE_TRANSCRIPT_JSON and "\n" not in message
    assert str(path) in message and "hi" not in message.replace(str(path), "")


def test_a_valid_transcript_json_still_reads(tmp_path):
    path = tmp_path / "transcript.json"
    path.write_bytes(_written(start=1, end=None))
    turn = read_transcript(path).turns[0]
    assert turn.start == 1.0 and turn.end is None and turn.words == (Word("hi", 0.0, 1.0, 0.9),)
