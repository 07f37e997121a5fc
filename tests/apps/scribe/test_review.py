"""The scribe's folders and the clinician's approval (issue 25, part 3): draft_to_folder
writes the draft, its page and the audit log atomically; approve logs every decision and
writes the final note only when every line is decided; transcribe_to_folder deletes the
audio only once the transcript is safely written.

The drafts are real (the notes engine over a small labelled consultation); the page is
driven in Debian's Chromium when it is installed (INSIGHTOME_REQUIRE_BROWSER=1 fails
instead of skipping); the audio is synthesized with espeak-ng (INSIGHTOME_REQUIRE_ESPEAK=1
fails instead of skipping).
"""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

# api.py imports asr.py (issue 25, part 1: speech → transcript) at module level
pytest.importorskip(
    "insightome.apps.scribe.asr", reason="insightome.apps.scribe.asr not written yet"
)

from insightome import errors
from insightome.apps.scribe import api, review
from insightome.apps.scribe.api import (
    Decision,
    approve,
    draft_to_folder,
    pending_lines,
    read_decisions,
    transcribe_to_folder,
)
from insightome.apps.scribe.note import Draft
from insightome.apps.scribe.review import DECISIONS_FORMAT, method_sha256
from insightome.audit.prediction_log import read_log
from insightome.errors import UserError

CONSULTATION = """\
[doctor] Hi, what brings you in today?
[patient] I've had chest pain for three days <script>alert("x")</script> and some cough.
[doctor] Any shortness of breath?
[patient] No.
[doctor] Do you take any medications?
[patient] I take lisinopril 20 mg daily. My mother had diabetes.
[doctor] Your blood pressure is 140 over 90. I'm going to order a chest x-ray and an ECG.
"""


@pytest.fixture
def transcript(tmp_path) -> Path:
    path = tmp_path / "inputs" / "consultation.txt"
    path.parent.mkdir()
    path.write_text(CONSULTATION, encoding="utf-8")
    return path


@pytest.fixture
def drafted(tmp_path, transcript) -> tuple[Path, Draft]:
    return draft_to_folder(transcript, tmp_path / "draft", user="scribe-run")


def _log(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / "prediction_log.jsonl").read_text().splitlines()]


def _overrides(folder: Path) -> list[dict]:
    return [e for e in _log(folder) if e["event"] == "override"]


def test_draft_folder_holds_the_draft_its_page_and_one_prediction_per_line(drafted, transcript):
    folder, draft = drafted
    names = {p.name for p in folder.iterdir()}
    assert names == {
        "draft.json",
        "draft.html",
        "draft.txt",
        "README.txt",
        "approval.json",
        "prediction_log.jsonl",
    }
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".draft.")]
    assert len(draft.lines) >= 5
    assert Draft.from_json(json.loads((folder / "draft.json").read_text())) == draft
    approval = json.loads((folder / "approval.json").read_text())
    assert approval["status"] == "draft" and approval["pending"] == len(draft.lines)
    assert not (folder / "note_final.txt").exists()
    log = read_log(folder)
    assert list(log["event"]) == ["prediction"] * len(draft.lines)
    assert list(log["sample_id"]) == [line.id for line in draft.lines]
    assert set(log["model_sha256"]) == {method_sha256(draft.method)}
    assert set(log["input_sha256"]) == {hashlib.sha256(transcript.read_bytes()).hexdigest()}
    assert set(log["user"]) == {"scribe-run"}
    first = _log(folder)[0]["output"]
    line = draft.lines[0]
    assert first["section"] == line.section and first["text"] == line.text
    assert first["evidence"] == [[e.turn, e.start, e.end] for e in line.evidence]
    assert [c["concept_id"] for c in first["concepts"]] == [f.concept_id for f in line.findings]
    assert {c["assertion"] for e in _log(folder) for c in e["output"]["concepts"]} >= {
        "present",
        "absent",
        "family",
    }
    text = (folder / "draft.txt").read_text()
    assert all(f"{x.id}  {x.text}" in text for x in draft.lines) and "not approved" in text
    assert pending_lines(folder) == [x.id for x in draft.lines]


def test_a_failing_draft_leaves_no_folder_and_keeps_the_earlier_one(
    tmp_path, transcript, monkeypatch
):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(api, "log_predictions", broken)
    with pytest.raises(OSError):
        draft_to_folder(transcript, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    monkeypatch.undo()
    folder, _ = draft_to_folder(transcript, tmp_path / "earlier")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    monkeypatch.setattr(api, "log_predictions", broken)
    with pytest.raises(OSError):
        draft_to_folder(transcript, folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier", "inputs"]


def test_approve_logs_each_decision_with_the_clinician_and_keeps_a_partial_note_a_draft(
    drafted,
):
    folder, draft = drafted
    ids = [line.id for line in draft.lines]
    status = approve(
        folder,
        clinician="dr.ada",
        decisions=[
            Decision(ids[0], "accepted"),
            Decision(ids[1], "edited", text="Chest pain for three days, with a cough."),
            Decision(ids[2], "rejected", reason="not said"),
        ],
    )
    assert (status.status, status.accepted, status.edited, status.rejected) == (
        "in review",
        1,
        1,
        1,
    )
    assert status.pending == len(ids) - 3 and status.final_note is None
    logged = _overrides(folder)
    assert [(e["sample_id"], e["reviewer"], e["override"]) for e in logged] == [
        (ids[0], "dr.ada", "accepted"),
        (ids[1], "dr.ada", "edited"),
        (ids[2], "dr.ada", "rejected"),
    ]
    assert logged[0]["reason"] == "accepted as drafted" and logged[2]["reason"] == "not said"
    assert logged[1]["details"] == {"text": "Chest pain for three days, with a cough."}
    assert "details" not in logged[0]
    assert not (folder / "note_final.txt").exists() and not (folder / "note_final.json").exists()
    approval = json.loads((folder / "approval.json").read_text())
    assert approval["status"] == "in review" and approval["clinicians"] == ["dr.ada"]
    page = (folder / "draft.html").read_text()
    assert f"DRAFT — not approved, {len(ids) - 3} of {len(ids)} lines pending" in page
    assert "Chest pain for three days, with a cough." in page
    assert pending_lines(folder) == ids[3:]


def test_every_line_decided_makes_the_final_note_of_accepted_and_edited_lines(drafted):
    folder, draft = drafted
    ids = [line.id for line in draft.lines]
    texts = {line.id: line.text for line in draft.lines}
    approve(
        folder,
        clinician="dr.ada",
        decisions=[Decision(ids[0], "accepted"), Decision(ids[1], "accepted")],
    )
    edited = "Reports chest pain (3 days) and cough."
    rest = [Decision(ids[1], "edited", text=edited)]  # a later call changes a decision
    rest += [Decision(i, "rejected") for i in ids[2:-1]] + [Decision(ids[-1], "accept")]
    status = approve(folder, clinician="dr.bo", decisions=rest)
    assert status.status == "final" and status.pending == 0
    assert (status.accepted, status.edited, status.rejected) == (2, 1, len(ids) - 3)
    assert status.final_note == folder / "note_final.txt"
    note = json.loads((folder / "note_final.json").read_text())
    kept = [line for section in note["sections"] for line in section["lines"]]
    assert [(x["id"], x["decision"]) for x in kept] == [
        (ids[0], "accepted"),
        (ids[1], "edited"),
        (ids[-1], "accepted"),
    ]
    assert kept[1]["text"] == edited and kept[1]["drafted_text"] == texts[ids[1]]
    assert all(x["evidence"] for x in kept) and note["rejected_lines"] == ids[2:-1]
    assert note["approved_by"] == "dr.bo" and note["clinicians"] == ["dr.ada", "dr.bo"]
    assert note["draft_sha256"] == hashlib.sha256((folder / "draft.json").read_bytes()).hexdigest()
    body = (folder / "note_final.txt").read_text().split("\n\n", 1)[1].splitlines()
    titles = {s.title for s in draft.sections}
    assert [x for x in body if x and x not in titles] == [texts[ids[0]], edited, texts[ids[-1]]]
    page = (folder / "draft.html").read_text()
    assert "APPROVED by dr.bo" in page and 'type="radio"' not in page
    assert json.loads((folder / "approval.json").read_text())["status"] == "final"


def test_decisions_after_the_note_is_final_are_refused(drafted):
    folder, draft = drafted
    approve(folder, clinician="dr.ada", decisions=[Decision(x.id, "accepted") for x in draft.lines])
    log = (folder / "prediction_log.jsonl").read_bytes()
    with pytest.raises(UserError) as refused:
        approve(folder, clinician="dr.ada", decisions=[Decision(draft.lines[0].id, "rejected")])
    assert refused.value.template == errors.SCRIBE_ALREADY_FINAL
    assert "draft again" in str(refused.value)
    assert (folder / "prediction_log.jsonl").read_bytes() == log


def _approve_in_process(folder, line, decision, start, results):  # pragma: no cover - child
    start.wait()
    try:
        approve(folder, clinician=f"dr.{decision}", decisions=[Decision(line, decision)])
        results.put("ok")
    except UserError as refused:
        results.put(refused.template)


def test_two_approvals_at_once_make_the_final_note_once(drafted, monkeypatch):
    folder, draft = drafted
    log_override = review.log_override

    def slow_log_override(*args, **kwargs):  # widen the gap between check and log
        time.sleep(0.5)
        log_override(*args, **kwargs)

    monkeypatch.setattr(review, "log_override", slow_log_override)
    last = draft.lines[-1].id
    approve(
        folder, clinician="dr.ada", decisions=[Decision(x.id, "accepted") for x in draft.lines[:-1]]
    )
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    workers = [
        context.Process(target=_approve_in_process, args=(folder, last, d, start, results))
        for d in ("accepted", "rejected")
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(30)
    outcomes = sorted([results.get(timeout=5), results.get(timeout=5)])
    assert outcomes == sorted(["ok", errors.SCRIBE_ALREADY_FINAL])
    decided = [e for e in _overrides(folder) if e["sample_id"] == last]
    assert len(decided) == 1
    note = json.loads((folder / "note_final.json").read_text())
    assert note["approved_by"] == decided[0]["reviewer"]
    assert (last in note["rejected_lines"]) == (decided[0]["override"] == "rejected")


def test_a_final_note_cut_short_is_written_by_the_next_call_which_then_refuses(drafted):
    folder, draft = drafted
    approve(folder, clinician="dr.ada", decisions=[Decision(x.id, "accepted") for x in draft.lines])
    text = (folder / "note_final.txt").read_text()
    note = (folder / "note_final.json").read_text()
    (folder / "note_final.txt").unlink()
    approval = json.loads((folder / "approval.json").read_text())
    (folder / "approval.json").write_text(json.dumps({**approval, "status": "in review"}))
    log = (folder / "prediction_log.jsonl").read_bytes()
    for _ in range(2):
        with pytest.raises(UserError) as refused:
            approve(folder, clinician="dr.bo", decisions=[Decision(draft.lines[0].id, "rejected")])
        assert refused.value.template == errors.SCRIBE_ALREADY_FINAL
        assert (folder / "note_final.txt").read_text() == text
        assert (folder / "note_final.json").read_text() == note
        assert json.loads((folder / "approval.json").read_text())["status"] == "final"
        assert (folder / "prediction_log.jsonl").read_bytes() == log


def test_the_approver_is_the_last_decision_in_the_log_not_the_latest_time(drafted):
    folder, draft = drafted
    approve(
        folder, clinician="dr.ada", decisions=[Decision(x.id, "accepted") for x in draft.lines[:-1]]
    )
    log = folder / "prediction_log.jsonl"
    entries = _log(folder)
    for e in entries:
        if e["event"] == "override":
            e["timestamp"] = "2200-01-01T00:00:00.000000+00:00"  # a clock set forward
    log.write_text("".join(json.dumps(e) + "\n" for e in entries))
    approve(folder, clinician="dr.bo", decisions=[Decision(draft.lines[-1].id, "accepted")])
    assert json.loads((folder / "note_final.json").read_text())["approved_by"] == "dr.bo"
    assert json.loads((folder / "approval.json").read_text())["approved_by"] == "dr.bo"


@pytest.mark.parametrize("tamper", ["span past its turn", "no such turn", "negative span"])
def test_a_draft_edited_by_hand_is_refused_before_any_decision_is_logged(drafted, tamper):
    folder, _ = drafted
    data = json.loads((folder / "draft.json").read_text())
    evidence = data["lines"][0]["evidence"][0]
    if tamper == "span past its turn":
        evidence["end"] = 10_000
    elif tamper == "no such turn":
        evidence["turn"] = len(data["transcript"]["turns"]) + 5
    else:
        evidence["start"] = -3
    (folder / "draft.json").write_text(json.dumps(data))
    log = (folder / "prediction_log.jsonl").read_bytes()
    with pytest.raises(UserError) as refused:
        approve(folder, clinician="dr.a", decisions=[Decision("L002", "accepted")])
    assert refused.value.template == errors.SCRIBE_NOT_DRAFT
    assert "outside the transcript" in str(refused.value) and "\n" not in str(refused.value)
    assert "chest" not in str(refused.value).lower()
    assert (folder / "prediction_log.jsonl").read_bytes() == log


def test_a_csv_with_a_draft_sha256_column_is_checked_against_the_draft(tmp_path, drafted):
    folder, _ = drafted
    log = (folder / "prediction_log.jsonl").read_bytes()
    (tmp_path / "old.csv").write_text(f"line,decision,draft_sha256\nL001,accept,{'ab' * 32}\n")
    with pytest.raises(UserError) as refused:
        approve(folder, clinician="dr.a", decisions=read_decisions(tmp_path / "old.csv"))
    assert refused.value.template == errors.SCRIBE_OTHER_DRAFT
    assert (folder / "prediction_log.jsonl").read_bytes() == log
    sha = hashlib.sha256((folder / "draft.json").read_bytes()).hexdigest()
    (tmp_path / "this.csv").write_text(f"line,decision,draft_sha256\nL001,accept,{sha}\n")
    assert (
        approve(folder, clinician="dr.a", decisions=read_decisions(tmp_path / "this.csv")).accepted
        == 1
    )


BAD = {
    "unknown line": ("dr.a", [Decision("L999", "accepted")], errors.SCRIBE_UNKNOWN_LINE),
    "edit without text": ("dr.a", [Decision("L001", "edited")], errors.SCRIBE_EDIT_NO_TEXT),
    "empty clinician": (" ", [Decision("L001", "accepted")], errors.SCRIBE_CLINICIAN_EMPTY),
    "twice in one call": (
        "dr.a",
        [Decision("L001", "accepted"), Decision("L001", "rejected")],
        errors.SCRIBE_DECIDED_TWICE,
    ),
    "unknown decision": ("dr.a", [Decision("L001", "maybe")], errors.SCRIBE_DECISION_VALUE),
    "text without edit": (
        "dr.a",
        [Decision("L001", "accepted", text="other words")],
        errors.SCRIBE_TEXT_NOT_EDIT,
    ),
    "another draft": (
        "dr.a",
        [Decision("L001", "accepted", draft_sha256="ab" * 32)],
        errors.SCRIBE_OTHER_DRAFT,
    ),
    "another clinician": (
        "dr.a",
        [Decision("L001", "accepted", clinician="dr.b")],
        errors.SCRIBE_OTHER_CLINICIAN,
    ),
    "no decision": ("dr.a", [], errors.SCRIBE_NO_DECISIONS),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_decisions_are_refused_in_one_line_and_log_nothing(drafted, case):
    folder, _ = drafted
    clinician, decisions, message = BAD[case]
    # a good decision first in the call: nothing of a refused call is logged
    decisions = [Decision("L002", "accepted"), *decisions] if case != "no decision" else []
    log = (folder / "prediction_log.jsonl").read_bytes()
    with pytest.raises(UserError) as refused:
        approve(folder, clinician=clinician, decisions=decisions)
    assert refused.value.template == message and "\n" not in str(refused.value)
    assert (folder / "prediction_log.jsonl").read_bytes() == log
    assert "chest" not in str(refused.value).lower()  # no note text in messages


def test_a_folder_that_is_not_a_draft_is_refused(tmp_path, drafted):
    folder, _ = drafted
    for path in (tmp_path / "missing", tmp_path / "inputs"):
        with pytest.raises(UserError) as refused:
            approve(path, clinician="dr.a", decisions=[Decision("L001", "accepted")])
        assert refused.value.template == errors.SCRIBE_NOT_DRAFT
    (folder / "draft.json").write_text('{"format": "something else"}')
    with pytest.raises(UserError, match="not a draft"):
        approve(folder, clinician="dr.a", decisions=[Decision("L001", "accepted")])


def _page_json(draft_sha256: str, clinician: str, decisions: list[dict]) -> dict:
    """decisions.json as the page's script builds it (its keys, in its order)."""
    return {
        "format": DECISIONS_FORMAT,
        "clinician": clinician,
        "draft_sha256": draft_sha256,
        "saved_at": "2025-01-01T10:00:00.000Z",
        "decisions": decisions,
    }


def test_read_decisions_reads_the_pages_json_and_a_csv(tmp_path, drafted):
    folder, _ = drafted
    sha = hashlib.sha256((folder / "draft.json").read_bytes()).hexdigest()
    made = [
        {"line": "L001", "decision": "accepted", "text": "", "reason": ""},
        {"line": "L002", "decision": "edited", "text": "New words.", "reason": "typo"},
    ]
    data = _page_json(sha, "dr.ada", made)
    (tmp_path / "decisions.json").write_text(json.dumps(data, indent=2))
    read = read_decisions(tmp_path / "decisions.json")
    assert read == [
        Decision("L001", "accepted", "", "", "dr.ada", sha),
        Decision("L002", "edited", "New words.", "typo", "dr.ada", sha),
    ]
    assert approve(folder, clinician="dr.ada", decisions=read).edited == 1
    with pytest.raises(UserError, match=re.escape("saved by clinician 'dr.ada'")):
        approve(folder, clinician="dr.bo", decisions=read)
    csv_text = 'line,decision,text,reason\nL003,reject,,wrong\nL004,,,\nL005,edit,"Says, no.",\n'
    (tmp_path / "decisions.csv").write_text(csv_text)
    assert read_decisions(tmp_path / "decisions.csv") == [
        Decision("L003", "reject", "", "wrong"),
        Decision("L005", "edit", "Says, no.", ""),
    ]
    for name, content, problem in [
        ("missing.json", None, "no such file"),
        ("d.txt", "line,decision\n", "unknown kind of file"),
        ("d.json", "{not json", "not JSON"),
        ("e.json", '{"decisions": [{"line": "L001"}]}', "no 'line' or no 'decision'"),
        ("d.csv", "line,verdict\nL001,accepted\n", "unknown column 'verdict'"),
        ("e.csv", "line\nL001\n", "no 'line' or no 'decision' column"),
    ]:
        if content is not None:
            (tmp_path / name).write_text(content)
        with pytest.raises(UserError, match=re.escape(problem)):
            read_decisions(tmp_path / name)


def test_the_page_escapes_the_transcript_and_allows_only_its_own_script(drafted):
    folder, _ = drafted
    page = (folder / "draft.html").read_text()
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert page.count("<script") == 1 and "alert(" not in page.split("<script>")[1]
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    script = page.split("<script>")[1].split("</script>")[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp and "default-src 'none'" in csp
    assert "unsafe" not in csp and "http" not in csp
    assert 'id="turn-1"' in page and 'href="#turn-1"' in page  # evidence links to its turn


def test_the_page_in_chromium_saves_decisions_that_approve_records(drafted, tmp_path):
    pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    from playwright.sync_api import sync_playwright

    from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, require_browser_or_skip

    require_browser_or_skip()
    folder, draft = drafted
    ids = [line.id for line in draft.lines]
    approve(folder, clinician="dr.ada", decisions=[Decision(ids[0], "accepted")])
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(accept_downloads=True).new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("dialog", lambda d: problems.append("dialog: " + d.message))
        page.goto((folder / "draft.html").resolve().as_uri())
        page.check(f"input[name='d-{ids[1]}'][value='rejected']")
        page.check(f"input[name='d-{ids[2]}'][value='edited']")
        assert page.is_visible(f"#line-{ids[2]} textarea.edit")
        page.fill(f"#line-{ids[2]} textarea.edit", "Edited <b>in</b> the page.")
        page.click("#save-decisions")  # no clinician yet: refused on the page
        assert "clinician ID" in page.text_content("#save-message")
        page.fill("#clinician", "dr o'brien")
        with page.expect_download() as download:
            page.click("#save-decisions")
        saved = tmp_path / "decisions.json"
        download.value.save_as(saved)
        assert download.value.suggested_filename == "decisions.json"
        command = page.text_content("#command")
        browser.close()
    assert problems == []
    assert command.startswith("insightome scribe approve ") and "'dr o'\\''brien'" in command
    decisions = read_decisions(saved)
    # the decision recorded before is not saved again in this clinician's name
    assert [(d.line, d.decision, d.text) for d in decisions] == [
        (ids[1], "rejected", ""),
        (ids[2], "edited", "Edited <b>in</b> the page."),
    ]
    status = approve(folder, clinician="dr o'brien", decisions=decisions)
    assert (status.accepted, status.edited, status.rejected) == (1, 1, 1)
    assert [e["reviewer"] for e in _overrides(folder)] == ["dr.ada", "dr o'brien", "dr o'brien"]


def test_output_folders_that_would_replace_something_else_are_refused(
    tmp_path, transcript, drafted
):
    folder, draft = drafted
    for out in (transcript.parent, transcript, tmp_path / "other"):
        if out.name == "other":
            out.mkdir()
            (out / "keep.txt").write_text("mine")
        with pytest.raises(UserError) as refused:
            draft_to_folder(transcript, out)
        assert refused.value.template == errors.SCRIBE_OUTPUT_UNSAFE
    assert transcript.is_file() and (tmp_path / "other" / "keep.txt").is_file()
    assert draft_to_folder(transcript, folder)[0] == folder  # an undecided draft: replaced
    approve(folder, clinician="dr.ada", decisions=[Decision(draft.lines[0].id, "rejected")])
    with pytest.raises(UserError, match="holds a clinician's decisions"):
        draft_to_folder(transcript, folder)
    with pytest.raises(UserError, match="is or holds the input"):
        transcribe_to_folder(transcript, transcript.parent, delete_audio=True)
    assert transcript.is_file()


def test_roles_are_corrected_before_drafting_and_an_empty_draft_writes_nothing(
    tmp_path, transcript
):
    folder, draft = draft_to_folder(transcript, tmp_path / "d", roles={"patient": "other"})
    written = json.loads((folder / "draft.json").read_text())["transcript"]
    assert written["speakers"]["patient"]["decided_by"] == "corrected"
    assert {t.role for t in draft.transcript.turns} == {"doctor", "other"}
    with pytest.raises(UserError) as refused:
        draft_to_folder(transcript, tmp_path / "e", roles={"nurse": "doctor"})
    assert refused.value.template == errors.SCRIBE_UNKNOWN_SPEAKER
    small_talk = tmp_path / "inputs" / "hello.txt"
    small_talk.write_text("[doctor] Hello there.\n[patient] Hi, nice to see you.\n")
    with pytest.raises(UserError) as refused:
        draft_to_folder(small_talk, tmp_path / "e")
    assert refused.value.template == errors.SCRIBE_DRAFT_EMPTY
    assert not (tmp_path / "e").exists()


def _speech(path: Path, text: str) -> Path:
    """A short synthetic utterance (espeak-ng), or skip without espeak-ng."""
    if shutil.which("espeak-ng") is None:
        if os.environ.get("INSIGHTOME_REQUIRE_ESPEAK") == "1":
            pytest.fail("espeak-ng is not installed (INSIGHTOME_REQUIRE_ESPEAK=1)")
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(path), text], check=True)
    return path


def test_delete_audio_removes_the_audio_only_after_the_transcript_is_written(tmp_path, monkeypatch):
    audio = _speech(tmp_path / "visit.wav", "Do you have any chest pain? No, I do not.")
    sha = hashlib.sha256(audio.read_bytes()).hexdigest()

    def broken(delete_audio: bool) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(api, "_transcript_readme", broken)
    with pytest.raises(OSError):
        transcribe_to_folder(audio, tmp_path / "out", delete_audio=True)
    assert audio.is_file() and not (tmp_path / "out").exists()
    monkeypatch.undo()
    folder, transcript = transcribe_to_folder(audio, tmp_path / "out", delete_audio=True)
    assert not audio.exists()
    assert {p.name for p in folder.iterdir()} == {"transcript.json", "transcript.txt", "README.txt"}
    written = json.loads((folder / "transcript.json").read_text())
    assert written["source"]["audio_deleted"] is True and written["source"]["sha256"] == sha
    assert transcript.source["audio_deleted"] is True
    assert (folder / "transcript.txt").read_text() == transcript.text + "\n"
    assert sum(len(t.words) for t in transcript.turns) >= 3


def test_an_output_folder_holding_other_entries_is_refused_not_deleted(
    tmp_path, transcript, monkeypatch
):
    visit = tmp_path / "visit"
    (visit / "draft").mkdir(parents=True)
    (visit / "transcript.json").write_text("{}")
    (visit / "draft" / "draft.json").write_text("{}")
    audio = tmp_path / "visit.wav"
    audio.write_bytes(b"RIFF")  # refused before the audio is read
    with pytest.raises(UserError) as refused:
        transcribe_to_folder(audio, visit)
    message = str(refused.value)
    assert refused.value.template == errors.SCRIBE_OUTPUT_UNSAFE and "\n" not in message
    assert "holds draft," in message and (visit / "draft" / "draft.json").is_file()
    folder, _ = draft_to_folder(transcript, tmp_path / "d")
    (folder / "notes.txt").write_text("the clinician's own notes")
    with pytest.raises(UserError, match=re.escape("holds notes.txt")):
        draft_to_folder(transcript, folder)
    assert (folder / "notes.txt").is_file()
    (folder / "notes.txt").unlink()
    (folder / ".draft.json.tmp123").write_text("")  # an interrupted atomic write
    assert draft_to_folder(transcript, folder)[0] == folder  # its own files: replaced
    # -o INSIDE_A_FILE/sub, and a folder that cannot be made: one line, no traceback
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    for call in (
        lambda: draft_to_folder(transcript, plain / "sub" / "deeper"),
        lambda: transcribe_to_folder(audio, plain / "sub"),
    ):
        with pytest.raises(UserError) as refused:
            call()
        assert refused.value.template == errors.SCRIBE_OUTPUT_UNSAFE
        assert "plain.txt, which is a file" in str(refused.value)

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(UserError) as refused:
        draft_to_folder(transcript, tmp_path / "new" / "draft")
    assert refused.value.template == errors.SCRIBE_OUTPUT_UNSAFE
    assert "cannot be made (Permission denied)" in str(refused.value)
