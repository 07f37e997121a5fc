"""A consultation goes through the three commands, as a user runs them: a synthesized WAV
(espeak-ng, two voices) → ``scribe transcribe`` → ``scribe draft`` → ``scribe approve``; the
console shows counts and paths, never the consultation's words; bad input is one line, exit 2.
"""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

from insightome import errors
from tests.conftest import without_module

SCRIPT = [
    ("doctor", "Good morning. What brings you in today?"),
    ("patient", "I have had chest pain and a bad cough for three days."),
    ("doctor", "Do you have any fever?"),
    ("patient", "No, I have not had any fever."),
    ("doctor", "I am going to order a chest x-ray."),
]


def test_transcribe_draft_approve_from_a_synthesized_consultation(cli, tmp_path, espeak):
    audio = espeak(SCRIPT, tmp_path / "visit.wav").path
    audio_sha = __import__("hashlib").sha256(audio.read_bytes()).hexdigest()
    done = cli("scribe", "transcribe", audio, "-o", tmp_path / "t", "--delete-audio", "-q")
    assert done.code == 0, done.err
    assert not audio.exists()  # deleted once the transcript was in place
    transcript = json.loads((tmp_path / "t" / "transcript.json").read_text())
    assert transcript["source"]["sha256"] == audio_sha and transcript["source"]["audio_deleted"]
    assert transcript["engine"]["name"] == "pocketsphinx"
    roles = {t["speaker"]: t["role"] for t in transcript["turns"]}
    assert sorted(set(roles.values())) == ["doctor", "patient"]
    assert "real-time factor" in done.out and "speakers:" in done.out

    # the speaker the recogniser called patient is corrected to be the patient, explicitly
    patient = next(s for s, r in roles.items() if r == "patient")
    doctor = next(s for s, r in roles.items() if r == "doctor")
    drafted = cli(
        "scribe", "draft", tmp_path / "t" / "transcript.json", "-o", tmp_path / "d",
        "--roles", f"{patient}=patient,{doctor}=doctor",
    )  # fmt: skip
    assert drafted.code == 0, drafted.err
    assert "DRAFT — not approved" in drafted.out and "draft.html" in drafted.out
    draft = json.loads((tmp_path / "d" / "draft.json").read_text())
    lines = [line["id"] for line in draft["lines"]]
    assert lines, "the recogniser's words gave no draft line"
    turns = draft["transcript"]["turns"]
    for line in draft["lines"]:  # every line cites real words of the transcript
        for span in line["evidence"]:
            assert turns[span["turn"]]["text"][span["start"] : span["end"]].strip()

    first = cli("scribe", "approve", tmp_path / "d", "--clinician", "dr.k", "--reject", lines[0])
    assert first.code == 0, first.err
    assert not (tmp_path / "d" / "note_final.txt").exists() or len(lines) == 1
    rest = cli("scribe", "approve", tmp_path / "d", "--clinician", "dr.k", "--accept", "all")
    assert rest.code == 0, rest.err
    assert "the note is final" in rest.out
    final = json.loads((tmp_path / "d" / "note_final.json").read_text())
    assert final["approved_by"] == "dr.k"
    kept = [line["id"] for section in final["sections"] for line in section["lines"]]
    assert sorted(kept) == sorted(lines[1:])  # the rejected line is out, the accepted ones in
    log = [
        json.loads(x)
        for x in (tmp_path / "d" / "prediction_log.jsonl").read_text().split("\n")
        if x
    ]
    overrides = [e for e in log if e["event"] == "override"]
    assert sorted(e["sample_id"] for e in overrides) == sorted(lines)
    assert all(e["reviewer"] == "dr.k" for e in overrides)
    again = cli("scribe", "approve", tmp_path / "d", "--clinician", "dr.k", "--accept", lines[0])
    assert again.code == 2 and again.err.count("\n") == 1  # a signed note does not change
    assert again.err.startswith("error: ") and "final" in again.err
    leaky = cli("scribe", "approve", tmp_path / "d", "--clinician", "dr.k", "--edit", "denies it")
    assert leaky.code == 2 and "denies" not in leaky.err  # a bad --edit never echoes its text

    # the console shows counts, roles and paths: no word the recogniser heard or the draft says
    said = [t["text"] for t in transcript["turns"]] + [line["text"] for line in draft["lines"]]
    content = {w.strip(".,?!") for w in " ".join(said).lower().split() if len(w) >= 5}
    content -= {"doctor", "patient", "present", "absent", "history", "illness", "review"}
    assert content, "nothing recognized to check against"
    for result in (done, drafted, first, rest, again, leaky):
        printed = set((result.out + result.err).lower().replace("/", " ").split())
        assert not content & {w.strip(".,?!;:()") for w in printed}


def test_bad_input_is_one_line_and_exit_2(cli, tmp_path):
    fake = tmp_path / "visit.wav"
    fake.write_text("not audio")
    for args in (
        ("scribe", "transcribe", fake, "-o", tmp_path / "t"),
        ("scribe", "draft", tmp_path / "missing.txt", "-o", tmp_path / "d"),
        ("scribe", "approve", tmp_path, "--clinician", "x", "--accept", "all"),
        ("scribe", "draft", fake, "-o", tmp_path / "d", "--roles", "S1"),
    ):
        result = cli(*args)
        assert result.code == 2, args
        assert result.err.count("\n") == 1 and "Traceback" not in result.err, result.err
    assert not (tmp_path / "t").exists() and not (tmp_path / "d").exists()


def test_without_pocketsphinx_transcribe_says_which_extra(tmp_path):
    code = without_module("pocketsphinx") + (
        "import sys\n"
        "from insightome.cli.app import main\n"
        f"sys.argv = ['insightome', 'scribe', 'transcribe', {str(tmp_path / 'a.wav')!r}, "
        f"'-o', {str(tmp_path / 'out')!r}]\n"
        "main()\n"
    )
    wav = tmp_path / "a.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.zeros(16000, dtype=np.int16).tobytes())
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {errors.SCRIBE_EXTRA_MISSING}"]
