"""Issue 17's walk-through: an expression + sample-sheet project, from ``run`` to
``audit --justify``, as a user types it (the installed ``insightome`` command, in a
subprocess, at 100 columns), checking the console, the documents and the report at each
step.

TCGA-STAD (../shared/data/cohorts/tcga_stad): expression of 1,577 genes (index column
unnamed: 12-character TCGA barcodes) and the sample sheet (``cohort_stad_patients.csv``),
survival on OS.time / OS. Development: every tissue-source site but two; validation: the
held-out site Barretos Cancer Hospital (59 patients, an independent split by site);
monitoring: the held-out site Greater Poland Cancer Center (40 patients). The sheets name
their ID column ``patient`` (development) and ``barcode`` (validation); one development
sample has no sheet row.

``benchmarks/walkthrough.sh`` runs this file and keeps every console transcript and the
run directory (``WALKTHROUGH_OUT``). Skipped when the shared data are absent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import shared_data

pytestmark = pytest.mark.slow

VALIDATION_SITE = "Barretos Cancer Hospital"
MONITORING_SITE = "Greater Poland Cancer Center"
NO_SHEET_ROW = "TCGA-IN-7808"  # a development sample whose sheet row is removed
HALLMARK = ("genesets", "h.all.v7.0.symbols.gmt")
DOCUMENTS = ("MODEL_CARD.md", "TRIPOD_AI.md", "FUTURE_AI.md", "AI_ACT_ANNEX_IV.md")
FAST = ("--preset", "fast", "--repeats", "1", "--bootstrap", "200", "--max-features", "400")
LONG_FLOAT = re.compile(r"\d\.\d{7,}")  # 0.22314355131420976: not a number people read


class Console:
    """The installed command in a subprocess; every call's transcript is kept."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.transcript: list[str] = []
        script = Path(sys.executable).with_name("insightome")
        self.command = [str(script)] if script.exists() else [sys.executable, "-c",
                        "from insightome.cli.app import main; main()"]  # fmt: skip

    def __call__(self, *args: object, code: int = 0) -> str:
        env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
        done = subprocess.run(
            [*self.command, *map(str, args)], cwd=self.folder, env=env, capture_output=True,
            text=True, timeout=900,
        )  # fmt: skip
        shown = " ".join(str(a) for a in args)
        self.transcript.append(
            f"$ insightome {shown}\n{done.stdout}{done.stderr}[exit {done.returncode}]\n"
        )
        assert done.returncode == code, f"insightome {shown}: exit {done.returncode}\n{done.stderr}"
        return " ".join((done.stdout + "\n" + done.stderr).split())  # soft-wrapped: one line


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> dict[str, Any]:
    folder = shared_data("cohorts", "tcga_stad")
    hallmark = shared_data(*HALLMARK)
    keep = os.environ.get("WALKTHROUGH_OUT")
    root = Path(keep) if keep else tmp_path_factory.mktemp("walkthrough")
    if keep:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
    expression = pd.read_csv(folder / "expression_xena_stad_1577genes.csv", index_col=0)
    sheet = pd.read_csv(folder / "cohort_stad_patients.csv")
    site = sheet.set_index("case_id")["tss_source_site"]
    parts = {
        "dev": ~site.isin([VALIDATION_SITE, MONITORING_SITE]),
        "val": site == VALIDATION_SITE,
        "mon": site == MONITORING_SITE,
    }
    id_names = {"dev": "patient", "val": "barcode", "mon": "patient"}
    for name, mask in parts.items():
        ids = site.index[mask]
        expression.loc[expression.index.isin(ids)].to_csv(root / f"expression_{name}.csv")
        rows = sheet[sheet["case_id"].isin(ids) & (sheet["case_id"] != NO_SHEET_ROW)]
        rows.rename(columns={"case_id": id_names[name]}).to_csv(
            root / f"sheet_{name}.csv", index=False
        )
    return {"root": root, "hallmark": hallmark, "console": Console(root), "n": {
        name: int(mask.sum()) for name, mask in parts.items()}}  # fmt: skip


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _report(run_dir: Path) -> str:
    """report.html's text, tags out, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", _text(run_dir / "report.html")).split())


def _section(run_dir: Path, section_id: str) -> str:
    html = _text(run_dir / "report.html")
    start = html.index(f'<section id="{section_id}"')
    body = html[start : html.index("</section>", start)]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def _no_sample_ids(run_dir: Path) -> None:
    """The left-out sample's ID is in results.json (for the author), never in the report or
    the documents (shared with reviewers)."""
    for name in ("report.html", *DOCUMENTS):
        assert NO_SHEET_ROW not in _text(run_dir / name), name


def _item(markdown: str, item_id: str) -> str:
    (row,) = [r for r in markdown.splitlines() if r.startswith(f"| {item_id} |")]
    return row


def test_walkthrough(project) -> None:
    try:
        _walk(project)
    finally:  # what the user saw, step by step (kept with WALKTHROUGH_OUT)
        transcript = "\n".join(project["console"].transcript)
        (project["root"] / "transcript.txt").write_text(transcript, encoding="utf-8")


def _walk(project: dict[str, Any]) -> None:
    root, insightome, n = project["root"], project["console"], project["n"]
    runs = root / "runs"
    run_args = (
        "expression_dev.csv", "--annotations", "sheet_dev.csv", "--annotations-id-column",
        "patient", "--time", "OS.time", "--event", "OS", "--sensitive", "is_female,age",
        "--site", "tss_code", "--out", runs, *FAST,
    )  # fmt: skip

    # 0. help is readable at 80 columns and the follow-ups take the reading options
    env80 = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}
    help_text = subprocess.run(
        [*insightome.command, "validate", "--help"], env=env80, capture_output=True, text=True
    ).stdout
    for flag in ("--annotations", "--annotations-id-column", "--orient", "--time", "--event"):
        assert flag in help_text, flag

    # 1. a sample without a sheet row: one clear line with the way forward, nothing written
    said = insightome("run", *run_args, code=2)
    assert NO_SHEET_ROW in said and "--drop-unmatched" in said and "Traceback" not in said
    assert not runs.exists() or not any(runs.iterdir())

    # 2. a follow-up time among the features: the leakage screen warns before fitting
    leaky = insightome(
        "run", *run_args, "--drop-unmatched", "--annotation-features", "PFI.time",
        "--no-discover", "--no-audit",
    )  # fmt: skip
    assert "leakage screen: 1 column(s) may leak the outcome: PFI.time" in leaky
    assert "--exclude PFI.time" in leaky
    (leaky_run,) = list(runs.iterdir())
    screen = json.loads(_text(leaky_run / "results.json"))["leakage_screen"]
    assert screen["warned"] and [f["column"] for f in screen["findings"]] == ["PFI.time"]
    assert "PFI.time" in _section(leaky_run, "leakage")
    shutil.rmtree(leaky_run)

    # 3. the run: sample sheet, stage as a feature, the dropped sample noted
    said = insightome(
        "run", *run_args, "--drop-unmatched", "--annotation-features",
        "ajcc_pathologic_tumor_stage", "--genesets", project["hallmark"],
    )  # fmt: skip
    (run_dir,) = list(runs.iterdir())
    results = json.loads(_text(run_dir / "results.json"))
    joined = results["data"]["annotations"]
    assert joined["data_without_annotations"] == [NO_SHEET_ROW]
    assert joined["features"] == ["ajcc_pathologic_tumor_stage"]
    assert "Left out (--drop-unmatched): 1 data sample(s)" in said
    assert "Annotation columns used as features: ajcc_pathologic_tumor_stage" in said
    _no_sample_ids(run_dir)
    assert results["n_samples"] == n["dev"] - 1
    assert "leakage" not in said.lower()  # nothing flagged without PFI.time
    assert results["leakage_screen"]["n_findings"] == 0
    # numbers people read the same way: the metric's name, no 17-digit floats
    assert "C-index" in said and "c_index" not in said
    assert not LONG_FLOAT.search(said)
    # age bands fit the cohort; a 0/1 coding is stated, not guessed
    codings = results["audit"]["codings"]
    assert len(codings["age"]["groups"]) >= 2
    assert "groups: is_female: 0, 1 (coding not given; set --value-labels" in said
    report = _report(run_dir)
    assert "Annotation table" in report and "ajcc_pathologic_tumor_stage" in report
    assert "No external validation recorded yet." in report
    assert "No monitoring check recorded yet." in report
    assert not re.search(r"\d\.\d+e[+-]\d", report)  # no scientific notation
    estimate = results["estimate"]
    value = f"{estimate['value']:.3f}"
    documents = {name: _text(run_dir / name) for name in DOCUMENTS}
    for name, text in documents.items():
        assert str(root) not in text, name  # no local path in a regulatory document
        assert value in text, name  # the selection-corrected estimate is the one quoted
        assert not LONG_FLOAT.search(text), name
    assert "selection-corrected estimate (BBC-CV, bootstraps scored on all repeats)" in report
    assert "to be completed by the authors (no external validation" in _item(
        documents["MODEL_CARD.md"], "9.4"
    )
    # pathways: only gene sets that hold a signature gene are listed
    pathways = (results.get("discovery") or {}).get("pathways") or {}
    if pathways:
        assert "gene sets tested" in report

    # 4. predict: the run's reading options are the default; risk per sample
    said = insightome(
        "predict", run_dir, "expression_val.csv", "--annotations", "sheet_val.csv",
        "--annotations-id-column", "barcode", "--output", "predictions_val.csv",
    )  # fmt: skip
    predicted = pd.read_csv(root / "predictions_val.csv")
    assert len(predicted) == n["val"] and "risk" in predicted.columns

    # 5. validate on the held-out site (survival: the run's OS.time / OS by default)
    said = insightome("validate", run_dir, "expression_val.csv", "--annotations",
                      "sheet_val.csv", "--annotations-id-column", "barcode")  # fmt: skip
    assert f"External validation on {n['val']} samples" in said
    assert "C-index" in said and "95% CI" in said
    assert "Updated with it: the run's report.html" in said
    card = _text(run_dir / "MODEL_CARD.md")
    assert "no external validation" not in _item(card, "9.4")
    assert "expression_val.csv" in _item(card, "9.4")
    assert "expression_val.csv" in _section(run_dir, "validation")
    _no_sample_ids(run_dir)

    # 6. monitor the other held-out site, with its outcome
    said = insightome("monitor", run_dir, "expression_mon.csv", "--annotations",
                      "sheet_mon.csv", "--time", "OS.time", "--event", "OS")  # fmt: skip
    assert re.search(r"Drift: (no|minor|moderate|major)", said), said
    assert "Drift: {}" not in said and "null" not in said
    assert "Performance (C-index; development BBC-CV" in said
    assert "No monitoring check recorded yet." not in _report(run_dir)
    assert "batch expression_mon" in _section(run_dir, "monitoring")
    _no_sample_ids(run_dir)

    # 7. audit rerun: a justification and the coding of is_female
    said = insightome("audit", run_dir, "--justify", "age=age-specific survival is expected",
                      "--value-labels", "is_female=0:male,1:female")  # fmt: skip
    assert "groups: is_female: 0 = male, 1 = female" in said
    results = json.loads(_text(run_dir / "results.json"))
    assert results["audit"]["settings"]["value_labels"] == {
        "is_female": {"0": "male", "1": "female"}
    }
    assert "female" in _section(run_dir, "audit")
    # the documents keep the later evidence (living), and still quote one estimate
    card = _text(run_dir / "MODEL_CARD.md")
    assert "expression_val.csv" in _item(card, "9.4")
    for name in DOCUMENTS:
        assert value in _text(run_dir / name), name
    assert "expression_val.csv" in _section(run_dir, "validation")
    assert "batch expression_mon" in _section(run_dir, "monitoring")
    _no_sample_ids(run_dir)

    # 8. integer subtype codes with a small class: classes by a stated rule, folds chosen
    codes = {"STAD": 1, "TSTAD": 2, "DSTAD": 3, "MSTAD": 4, "SSRCC": 5, "PSTAD": 6}
    sheet = pd.read_csv(root / "sheet_dev.csv")
    sheet["subtype"] = sheet["oncotree_code"].map(codes)
    sheet.to_csv(root / "sheet_subtype.csv", index=False)
    said = insightome(
        "run", "expression_dev.csv", "--annotations", "sheet_subtype.csv",
        "--annotations-id-column", "patient", "--drop-unmatched", "--target", "subtype",
        "--no-discover", "--no-audit", "--out", root / "subtype",
        *FAST,
    )  # fmt: skip
    assert "task detected as multiclass from 'subtype'" in said
    assert "Override with --task regression" in said
    (subtype_run,) = list((root / "subtype").iterdir())
    subtype = json.loads(_text(subtype_run / "results.json"))
    assert subtype["task"] == "multiclass"
    assert subtype["outcome"]["classes"] == ["1", "2", "3", "4", "5", "6"]
    # the smallest subtype (PSTAD, 4 development samples) sets the fold count, said so
    choice = subtype["resampling"]["fold_choice"]
    assert choice["requested"] is None and choice["chosen"] == 4
    assert subtype["resampling"]["folds"] == 4
    assert "4-fold cross-validation (stratified): the largest fold count the data allow" in said
    assert "set --folds to choose (at most 4)" in said
    assert "Study design decided by the data" in _report(subtype_run)
