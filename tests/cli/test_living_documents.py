"""Issue 17, points 3 and 4: one performance story, and documents that follow the evidence.

One real project (heart failure, ``--exclude time``, sex as the sensitive attribute), held
out in two: ``run`` on the first part, then ``validate`` and ``monitor`` on the second, an
``audit`` rerun and a second ``validate``. After each step the four documents, report.html
and results.json are read back as a user would find them.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from insightome.audit.performance_figures import LABELS, performance_figures
from insightome.results import validate_results
from tests.cli.conftest import invoke, run_once
from tests.conftest import shared_data

HEART_FAILURE = ("cohorts", "heart_failure", "heart_failure_clinical_records_dataset.csv")
DOCUMENTS = ("MODEL_CARD.md", "FUTURE_AI.md", "TRIPOD_AI.md", "AI_ACT_ANNEX_IV.md")
STEPS = ("run", "validate", "monitor", "audit", "validate_again")


def _insightome(*args: object) -> None:
    invoke(*args)


def report_text(path: Path) -> str:
    """report.html as a reader sees it: figures, tags and entities gone, spaces collapsed."""
    raw = re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", path.read_text("utf-8"))
    raw = re.sub(r"<style.*?</style>", " ", raw, flags=re.S)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", raw)))


def snapshot(run_dir: Path) -> dict[str, Any]:
    texts = {name: (run_dir / name).read_text("utf-8") for name in DOCUMENTS}
    texts["report.html"] = report_text(run_dir / "report.html")
    return {"texts": texts, "results": json.loads((run_dir / "results.json").read_text())}


def records(run_dir: Path, folder: str, name: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((run_dir / folder).glob(f"*/{name}"))]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> dict[str, Any]:
    source = shared_data(*HEART_FAILURE)
    folder = tmp_path_factory.mktemp("living")
    df = pd.read_csv(source).sample(frac=1, random_state=1)
    dev, new = folder / "hf_dev.csv", folder / "hf_new.csv"
    df.iloc[:220].to_csv(dev, index=False)
    df.iloc[220:].to_csv(new, index=False)
    run_dir = run_once(
        folder / "runs", dev, "--target", "DEATH_EVENT", "--exclude", "time",
        "--sensitive", "sex", "--preset", "fast", "--folds", "3", "--repeats", "1",
        "--bootstrap", "200", "--quiet",
    )  # fmt: skip
    steps = {"run": snapshot(run_dir)}
    _insightome("validate", run_dir, new)
    steps["validate"] = snapshot(run_dir)
    _insightome("monitor", run_dir, new, "--labels", "DEATH_EVENT")
    steps["monitor"] = snapshot(run_dir)
    _insightome("audit", run_dir, "--justify", "sex=sex-specific reference ranges")
    steps["audit"] = snapshot(run_dir)
    _insightome("validate", run_dir, new, "--seed", "1")
    steps["validate_again"] = snapshot(run_dir)
    return {"root": folder, "run_dir": run_dir, "steps": steps}


def item(markdown: str, item_id: str) -> str:
    """One checklist item's row of a document."""
    rows = [r for r in markdown.splitlines() if r.startswith(f"| {item_id} |")]
    assert len(rows) == 1, f"item {item_id}: {len(rows)} rows"
    return rows[0]


def test_documents_and_report_say_none_recorded_before_follow_up(project) -> None:
    texts = project["steps"]["run"]["texts"]
    assert "to be completed by the authors (no external validation" in item(
        texts["MODEL_CARD.md"], "9.4"
    )
    assert "No monitoring check recorded yet." in item(texts["AI_ACT_ANNEX_IV.md"], "9")
    assert "Validation No external validation recorded yet." in texts["report.html"]
    assert "Monitoring No monitoring check recorded yet." in texts["report.html"]
    assert "they are not external validation" in texts["report.html"]


def test_validate_rewrites_the_items_it_informs_and_the_report(project) -> None:
    run_dir, before = project["run_dir"], project["steps"]["run"]
    after = project["steps"]["validate"]
    v = records(run_dir, "validations", "validation.json")[0]
    auc = v["models"]["full"]["metrics"]["auc"]
    quoted = f"AUC {auc['value']:.3f} [{auc['ci95'][0]:.3f}, {auc['ci95'][1]:.3f}]"
    heading = f"External validation of {v['created'][:10]} on cohort 'hf_new.csv'"
    texts = after["texts"]
    for doc, item_id in (
        ("MODEL_CARD.md", "9.4"), ("FUTURE_AI.md", "U3"), ("TRIPOD_AI.md", "23a"),
        ("TRIPOD_AI.md", "16"), ("AI_ACT_ANNEX_IV.md", "2(g)"), ("AI_ACT_ANNEX_IV.md", "3(a)"),
    ):  # fmt: skip
        row = item(texts[doc], item_id)
        assert heading in row and quoted in row, (doc, item_id)
        assert f"{v['cohort']['n_samples']} samples with an outcome" in row
        assert "no cohort row equals a training row" in row  # the overlap status
        assert heading not in before["texts"][doc]
    assert "| filled |" in item(texts["MODEL_CARD.md"], "9.4")
    assert "external validation on 1 cohort(s)" in item(texts["TRIPOD_AI.md"], "4")
    # results.json counts the items as the documents now fill them
    counts, old = after["results"]["documents"], before["results"]["documents"]
    assert counts["model_card"]["n_to_complete"] < old["model_card"]["n_to_complete"]
    report = texts["report.html"]
    section = report[report.index("Validation Latest:") : report.index("Monitoring")]
    assert "hf_new.csv" in section and v["cohort"]["sha256"][:12] in section
    assert f"{auc['value']:.3f}" in section and f"{auc['ci95'][0]:.3f}" in section
    assert "external validations are in the Validation section" in report
    assert "No external validation recorded yet" not in report


def test_monitor_rewrites_the_items_it_informs_and_the_report(project) -> None:
    run_dir = project["run_dir"]
    texts = project["steps"]["monitor"]["texts"]
    m = records(run_dir, "monitoring", "monitor.json")[0]
    drift, perf = m["drift"]["summary"]["status"], m["performance"]
    heading = f"Monitoring check of {m['created'][:10]} on batch 'hf_new'"
    value = f"{LABELS['monitoring'][0]}: AUC {perf['value']:.3f}"
    for doc, item_id in (
        ("AI_ACT_ANNEX_IV.md", "9"), ("FUTURE_AI.md", "T4"), ("TRIPOD_AI.md", "20c"),
        ("MODEL_CARD.md", "9.4"),
    ):  # fmt: skip
        row = item(texts[doc], item_id)
        assert heading in row and drift in row and value in row, (doc, item_id)
        assert perf["status"] in row
        assert heading not in project["steps"]["validate"]["texts"][doc]
    report = texts["report.html"]
    section = report[report.index("Monitoring Latest:") :]
    assert drift in section and f"{perf['value']:.3f}" in section
    assert "sex = 0" in section  # per-group rows, sizes as monitor.json published them


def test_audit_rerun_and_later_validation_keep_the_evidence(project) -> None:
    audited = project["steps"]["audit"]["texts"]
    again = project["steps"]["validate_again"]["texts"]
    assert "Declared justifications: sex" in item(audited["MODEL_CARD.md"], "8.2")
    for texts in (audited, again):
        assert "External validation of" in item(texts["MODEL_CARD.md"], "9.4")
        assert "Monitoring check of" in item(texts["AI_ACT_ANNEX_IV.md"], "9")
    assert "1 earlier validation in validations/" in item(again["MODEL_CARD.md"], "9.4")
    assert "1 earlier validation" not in item(audited["MODEL_CARD.md"], "9.4")
    assert "Earlier validations (1)" in again["report.html"]


def _labelled_before(text: str, start: int, window: int = 320) -> bool:
    """A figure's label (any case: a table heading starts with a capital) just before it."""
    before = text[max(0, start - window) : start].lower()
    return any(label.lower() in before for label, _ in LABELS.values())


#: tables whose numbers are not the model's performance: an equal value there is a
#: coincidence (the data audit's proxies are AUCs of predicting a sensitive attribute)
UNRELATED = ("strongest proxies",)


def _unrelated_before(text: str, start: int, window: int = 40) -> bool:
    before = text[max(0, start - window) : start].lower()
    return any(label in before for label in UNRELATED)


@pytest.mark.parametrize("step", STEPS)
def test_one_performance_story(project, step) -> None:
    """The estimate is quoted everywhere; every other figure only next to its label."""
    results, texts = project["steps"][step]["results"], project["steps"][step]["texts"]
    figures = performance_figures(results)
    estimate = f"{figures[0].value:.3f}"
    assert {f.key for f in figures} >= {"estimate", "winner_cv", "audit_overall", "signature"}
    others = {f"{f.value:.3f}" for f in figures[1:]} - {estimate}
    # the run: the winner's CV, the audit overall and the signature figures differ
    assert others
    for name, text in texts.items():
        assert f"AUC {estimate}" in text or f"AUC: {estimate}" in text, name
        assert "selection-corrected estimate" in text.lower(), name
        for value in others:  # each other figure of the run, wherever it is quoted
            for hit in re.finditer(rf"(?<![\d.]){re.escape(value)}(?!\d)", text):
                if _unrelated_before(text, hit.start()):
                    continue
                context = text[max(0, hit.start() - 120) : hit.end()]
                assert _labelled_before(text, hit.start()), f"{name}: bare {value}: {context}"
        if name.endswith(".md"):  # and any AUC quoted in a document
            for hit in re.finditer(r"\bAUC:? (\d\.\d{3})\b", text):
                if hit.group(1) != estimate and "multivariate AUC" not in text[hit.start() - 13 :]:
                    context = text[max(0, hit.start() - 120) : hit.end()]
                    assert _labelled_before(text, hit.start()), f"{name}: bare AUC: {context}"


@pytest.mark.parametrize("step", STEPS)
def test_documents_hold_no_local_path_and_round_numbers(project, step) -> None:
    root = str(project["root"])
    results, texts = project["steps"][step]["results"], project["steps"][step]["texts"]
    sha = results["data"]["files"][0]["sha256"]
    report = texts["report.html"]
    shared = {  # the documents, and the report's sections on later evidence
        **{name: texts[name] for name in DOCUMENTS},
        "report.html": report[report.index("Validation ") : report.index("Documentation ")],
    }
    for name, text in shared.items():
        assert root not in text and str(Path(root).resolve()) not in text, name
        assert not re.search(r"\d\.\d{7,}", text), name  # no raw floats
    for name in DOCUMENTS:
        assert "'hf_dev.csv' (csv, 220 rows" in texts[name] and sha in texts[name], name
    threshold = item(texts["TRIPOD_AI.md"], "15")
    assert re.search(r"≥ 0\.\d{3} \(", threshold), threshold
    validate_results(results)


def test_documents_say_what_the_leakage_screen_found(project) -> None:
    """The screen ran before fitting; with --exclude time nothing is flagged, and the
    documents' data items say so (TRIPOD 9a, model card 9.1, Annex IV 2(d))."""
    texts = project["steps"]["run"]["texts"]
    said = "A leakage screen ran before fitting on 11 column(s)"
    for name, item_id in (("TRIPOD_AI.md", "9a"), ("MODEL_CARD.md", "9.1"),
                          ("AI_ACT_ANNEX_IV.md", "2(d)")):  # fmt: skip
        row = item(texts[name], item_id)
        assert said in row and "no column was flagged" in row, (name, row)
