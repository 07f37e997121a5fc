"""The leakage screen as a user meets it: ``insightome run`` warns before fitting (stderr),
lists the findings after the run (stdout), and the run directory records them
(results.json ``leakage_screen``, run.log, the report's "Leakage screen" section)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from insightome.results import validate_results

FAST_LOUD = ("--id-column", "sample", "--preset", "fast", "--folds", "3", "--repeats", "1",
             "--bootstrap", "200", "--no-discover", "--no-audit")  # fmt: skip


@pytest.fixture(scope="module")
def leaky_csv(tmp_path_factory) -> Path:
    """Breast cancer (200 tumours, 6 measurements) plus a follow-up column that is shorter
    for malignant tumours, as a registry export would carry it."""
    bunch = load_breast_cancer(as_frame=True)
    df = bunch.data.iloc[:200, :6].copy()
    df.columns = [c.replace(" ", "_") for c in df.columns]
    df["diagnosis"] = bunch.target[:200].map({0: "malignant", 1: "benign"}).to_numpy()
    rng = np.random.default_rng(0)
    df["followup_days"] = np.where(df["diagnosis"] == "malignant", 300, 900) + rng.integers(
        0, 500, 200
    )
    path = tmp_path_factory.mktemp("leak") / "tumours.csv"
    df.to_csv(path, index_label="sample")
    return path


def _run_dir(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def test_run_warns_before_fitting_and_records_the_warning(cli, leaky_csv, tmp_path):
    r = cli("run", leaky_csv, "--target", "diagnosis", *FAST_LOUD, "--out", tmp_path)
    assert r.code == 0, r.err
    # before any model is fitted (stderr, ahead of the progress bars) ...
    assert "leakage screen: 1 column(s) may leak the outcome: followup_days" in r.err
    # ... and in the summary after the run, with what to do
    summary = " ".join(r.out.split())
    assert "Leakage screen: 1 column(s) may leak the outcome" in summary
    assert "followup_days: alone predicts the outcome almost perfectly (AUC 1.000)" in summary
    assert "named like follow-up or time-to-event data ('followup')" in summary
    assert "--exclude followup_days" in summary
    run_dir = _run_dir(tmp_path)
    results = json.loads((run_dir / "results.json").read_text())
    validate_results(results)
    screen = results["leakage_screen"]
    assert screen["warned"] is True and screen["checked"] == 7 and screen["rows"] == 200
    (finding,) = screen["findings"]
    assert finding["column"] == "followup_days" and finding["role"] == "feature"
    assert finding["reasons"] == ["near_perfect", "name"] and finding["statistic"] == 1.0
    assert results["n_features"] == 7  # warned, not removed
    assert "screen" in results["timings"]
    log = (run_dir / "run.log").read_text()
    assert "warning: leakage screen: followup_days:" in log
    report = (run_dir / "report.html").read_text()
    section = report[report.index('<section id="leakage">') :]
    section = section[: section.index("</section>")]
    assert "followup_days" in section and "--exclude followup_days" in section
    assert "only warns" in section


def test_excluding_the_column_leaves_no_finding(cli, leaky_csv, tmp_path):
    r = cli("run", leaky_csv, "--target", "diagnosis", "--exclude", "followup_days",
            *FAST_LOUD, "--out", tmp_path)  # fmt: skip
    assert r.code == 0, r.err
    assert "leakage" not in (r.out + r.err).lower()
    results = json.loads((_run_dir(tmp_path) / "results.json").read_text())
    screen = results["leakage_screen"]
    assert screen == {**screen, "findings": [], "n_findings": 0, "warned": False, "checked": 6}
    report = (_run_dir(tmp_path) / "report.html").read_text()
    assert "No column was flagged." in report


def test_the_api_records_the_screen_without_an_output_folder(leaky_csv):
    import insightome

    run = insightome.run(leaky_csv, "diagnosis", id_column="sample", preset="fast", folds=3,
                         repeats=1, n_bootstrap=200, discover=False, audit=False)  # fmt: skip
    assert [f["column"] for f in run.results["leakage_screen"]["findings"]] == ["followup_days"]
    assert pd.Series(run.results["notes"]).str.contains("leakage").sum() == 0  # its own field


def test_documents_quote_the_findings_and_the_warning(leaky_csv):
    """What the documents' data items say of a screen that flagged a column (the one
    story of run_facts.leakage_check): the column, why, that the user was warned and that
    nothing was removed."""
    import insightome
    from insightome.audit.run_facts import leakage_check

    run = insightome.run(leaky_csv, "diagnosis", id_column="sample", preset="fast", folds=3,
                         repeats=1, n_bootstrap=200, discover=False, audit=False)  # fmt: skip
    text = leakage_check(run.results)
    assert text is not None
    assert "on 7 column(s) and flagged 1 that may leak the outcome: followup_days (" in text
    assert "alone predicts the outcome almost perfectly (AUC 1.000)" in text
    assert "listed in the run log and the report" in text and "removes nothing" in text
