"""The wording of a run's performance figures, and the records read back after the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from insightome.audit.checklist_items import metric_name
from insightome.audit.evidence import Evidence, monitoring_text, validation_text
from insightome.audit.performance_figures import (
    LABELS,
    estimate_text,
    labelled,
    performance_figures,
)
from insightome.errors import UserError
from insightome.living_documents import read_evidence
from tests.results_example import minimal_results


def results() -> dict:
    """The issue's four AUCs: BBC-CV 0.778, winner 0.786, audit 0.791, full model 0.797."""
    r = minimal_results()
    r["estimate"] |= {"value": 0.7781, "ci95": [0.70, 0.85], "plain_cv_value": 0.7862}
    r["configurations"] *= 6
    r["audit"] = {"model": {"overall": {"auc": {"value": 0.7912, "ci95": [0.73, 0.84]}}}}
    r["discovery"] = {
        "signature": {
            "size": 2,
            "full_model_cv_value": 0.7968,
            "estimate": {"metric": "auc", "value": 0.801, "ci95": [0.66, 0.91]},
        }
    }
    return r


def test_every_figure_is_listed_once_with_its_own_label() -> None:
    figures = performance_figures(results())
    assert [(f.key, round(f.value, 3)) for f in figures] == [
        ("estimate", 0.778),
        ("winner_cv", 0.786),
        ("audit_overall", 0.791),
        ("signature_full_cv", 0.797),
        ("signature", 0.801),
    ]
    assert "best of 6 configurations" in figures[1].why
    assert "(2 feature(s))" in figures[4].why


def test_a_second_figure_says_what_it_is_why_it_differs_and_the_estimate() -> None:
    r = results()
    assert estimate_text(r, metric_name) == (
        "AUC 0.778 (95% CI [0.700, 0.850]), the selection-corrected estimate (BBC-CV, 200 "
        "bootstrap samples)"
    )
    own = performance_figures(r)[1]
    assert labelled(own, r, metric_name, ci=False) == (
        "winner's own CV score: AUC 0.786 — optimistic: the best of 6 configurations scored "
        "on the same folds, not corrected for that choice. Selection-corrected estimate "
        "(BBC-CV): 0.778"
    )
    audit = performance_figures(r)[2]
    assert labelled(audit, r, metric_name).startswith(
        f"{LABELS['audit_overall'][0]}: AUC 0.791 [0.730, 0.840] — the audit's reference"
    )


def _record(folder: Path, name: str, created: str, body: dict) -> None:
    (folder / name).mkdir(parents=True)
    file = "validation.json" if folder.name == "validations" else "monitor.json"
    (folder / name / file).write_text(json.dumps({"created": created, **body}))


def test_records_are_read_oldest_first_and_quoted_latest_with_a_count(tmp_path) -> None:
    cohort = {"path": str(tmp_path / "site_b.csv"), "sha256": "ab" * 32, "n_samples": 40}
    metrics = {"auc": {"value": 0.74, "ci95": [0.6, 0.86]}}
    body = {
        "cohort": cohort,
        "status": "external validation",
        "models": {"full": {"metrics": metrics}},
    }
    _record(tmp_path / "validations", "b", "2026-03-02T00:00:00+00:00", body)
    _record(tmp_path / "validations", "a", "2026-01-05T00:00:00+00:00", body)
    _record(tmp_path / "validations", ".c.tmp", "2026-04-01T00:00:00+00:00", body)  # in flight
    evidence = read_evidence(tmp_path)
    assert [v["created"][:10] for v in evidence.validations] == ["2026-01-05", "2026-03-02"]
    text = validation_text(results(), evidence)
    assert text.startswith("External validation of 2026-03-02 on cohort 'site_b.csv'")
    assert str(tmp_path) not in text
    assert "external validation: AUC 0.740 [0.600, 0.860]" in text
    assert "Selection-corrected estimate (BBC-CV): 0.778" in text
    assert text.endswith("1 earlier validation in validations/ (2026-01-05).")
    assert monitoring_text(results(), evidence) is None
    assert validation_text(results(), Evidence()) is None


def test_an_unreadable_record_is_one_line_naming_it(tmp_path) -> None:
    (tmp_path / "monitoring" / "x").mkdir(parents=True)
    (tmp_path / "monitoring" / "x" / "monitor.json").write_text("{not json")
    with pytest.raises(UserError, match=r"monitor\.json: this record of the run cannot be read"):
        read_evidence(tmp_path)
