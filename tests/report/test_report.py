"""The HTML report: content, self-containedness, privacy and robustness to partial results."""

from __future__ import annotations

import base64
import copy
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from insightome.errors import UserError
from insightome.report import render_html, write_report
from insightome.report.formatting import fmt, fmt_p, fmt_raw

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DATA_URI = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
Run = tuple[dict[str, Any], pd.DataFrame]

# expected figure ids per task: task plots, candidates, permutation null (when run)
EXPECTED = {
    "binary_run": ["roc", "calibration", "candidates", "permutation"],
    "multiclass_run": ["roc", "confusion", "candidates", "permutation"],
    "regression_run": ["scatter", "residuals", "candidates", "permutation"],
    "survival_run": ["km", "candidates"],
}


@pytest.fixture(scope="module", params=list(EXPECTED))
def rendered(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], pd.DataFrame, str]:
    results, predictions = request.getfixturevalue(request.param)
    return request.param, results, predictions, render_html(results, predictions)


def _pngs(html: str) -> list[bytes]:
    return [base64.b64decode(uri, validate=True) for uri in DATA_URI.findall(html)]


def _text(html: str) -> str:
    """The HTML without its data URIs, for searching text."""
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)


def test_headline_and_optimism(rendered: tuple[str, dict, pd.DataFrame, str]) -> None:
    _, results, _, html = rendered
    est = results["estimate"]
    label = {
        "auc": "AUC",
        "auc_macro_ovr": "AUC (macro, one-vs-rest)",
        "r2": "R²",
        "c_index": "C-index",
    }[est["metric"]]
    lo, hi = est["ci95"]
    assert (
        f'Estimated {label}: <span class="value">{est["value"]:.3f}</span> '
        f"(95% CI {lo:.3f}–{hi:.3f}), selection-corrected estimate (BBC-CV)"
    ) in html
    n = len(results["configurations"])
    # issue 17: the winner's own score is quoted under its label, with why it differs
    assert (
        f"The winner&#39;s own CV score was {est['plain_cv_value']:.3f} — optimistic: the best "
        f"of {n} configurations scored on the same folds; the difference "
        f"({est['optimism']:.3f}) is removed by the selection-corrected estimate."
    ) in html
    assert (
        "All estimates are from resampling on this dataset; they are not external validation."
    ) in html


def test_permutation_sentence(rendered: tuple[str, dict, pd.DataFrame, str]) -> None:
    name, _, _, html = rendered
    if name == "survival_run":  # fixture: permutations not run
        assert "not run (use --permutations N)" in html
    else:
        assert (
            "p = 0.010, from 99 label permutations: the whole selection was rerun on "
            "shuffled outcomes"
        ) in html


def test_one_png_per_expected_plot(rendered: tuple[str, dict, pd.DataFrame, str]) -> None:
    name, _, _, html = rendered
    pngs = _pngs(html)
    assert len(pngs) == len(EXPECTED[name])
    assert all(png.startswith(PNG_MAGIC) for png in pngs)
    assert "Figure not available" not in html
    ids = re.findall(r'<figure id="fig-([a-z]+)"', html)
    assert ids == EXPECTED[name]


def test_self_contained(rendered: tuple[str, dict, pd.DataFrame, str]) -> None:
    html = rendered[3].lower()
    for forbidden in (
        'src="http',
        "<link",
        "<script",
        "@import",
        "url(",
        "@font-face",
        'href="http',
    ):
        assert forbidden not in html
    assert re.findall(r'\ssrc="([^"]*)"', html) and all(
        s.startswith("data:image/png;base64,") for s in re.findall(r'\ssrc="([^"]*)"', html)
    )


def test_no_sample_ids(rendered: tuple[str, dict, pd.DataFrame, str]) -> None:
    _, _, predictions, html = rendered
    text = _text(html)
    leaked = [sid for sid in predictions.index if sid in text]
    assert leaked == []
    assert text.count("<tr") < 60  # aggregate tables only, nothing near one row per sample


def test_warnings_notes_and_escaping(rendered: tuple[str, dict, pd.DataFrame, str]) -> None:
    _, results, _, html = rendered
    assert 'class="warnings"' in html
    # the warning's '<check>' is escaped, never interpreted as markup
    warning = f"Only {results['n_samples']} samples: estimates have wide intervals"
    assert f"{warning} &lt;check&gt;." in html
    assert "<check>" not in html
    for note in results["notes"]:
        assert note in html


def test_configuration_table(rendered: tuple[str, dict, pd.DataFrame, str]) -> None:
    _, results, _, html = rendered
    rows = re.findall(
        r"<tr( class=\"winner\")?><td class=\"num\">\d+</td><td title=\"[^\"]*\">"
        r"([^<]+)",
        html,
    )
    names = [name for _, name in rows]
    valued = [c for c in results["configurations"] if c["cv_value"] is not None]
    expected = [c["name"] for c in sorted(valued, key=lambda c: -c["cv_value"])]
    assert names[: len(expected)] == expected  # sorted, best first; unscored last
    winners = [name for marked, name in rows if marked]
    assert winners == [results["winner"]["name"]]
    assert "★ winner" in html


def test_study_and_reproducibility(rendered: tuple[str, dict, pd.DataFrame, str]) -> None:
    _, results, _, html = rendered
    sha = results["data"]["files"][0]["sha256"]
    assert f'title="{sha}">{sha[:12]}…' in html
    assert "samples-by-features" in html
    assert "detected from the outcome" in html
    assert "<td>sex</td>" in html  # sensitive attribute from the spec
    assert results["versions"]["numpy"] in html
    assert "5-fold cross-validation, repeated 2 times" in html
    assert "5.000 s" in html  # total time, three decimals
    # parameters are shown as configured, not rounded to three decimals
    for key, value in results["winner"]["params"].items():
        assert f'<th scope="row">{key}</th><td class="mono">{value!r}</td>' in html


def test_binary_specifics(binary_run: Run) -> None:
    results, predictions = binary_run
    html = render_html(results, predictions)
    assert "malignant: 212 · benign: 357" in html
    assert "Positive class" in html
    # secondary metrics: values, and missing ones as a dash, never 'nan'/'None'
    assert '<td>accuracy</td><td class="num">0.900</td><td class="num">0.870–0.930</td>' in html
    assert '<td>Brier score</td><td class="num">–</td><td class="num">–</td>' in html
    assert not re.search(r"\b(nan|NaN|None|inf)\b", _text(html))
    assert not re.search(r">\s*null\s*<", html)
    # the failed configuration is listed with dashes, last
    assert re.search(r"broken svm</td><td>svm</td><td class=\"num\">–</td>", html)


def test_survival_specifics(survival_run: Run) -> None:
    results, predictions = survival_run
    html = render_html(results, predictions)
    n_events = results["outcome"]["n_events"]
    assert f"{n_events} of 432 samples" in html
    assert re.search(r"Log-rank p (&lt; 0\.001|= 0\.\d{3}): descriptive only", html)


def test_minimal_results_do_not_crash(regression_run: Run) -> None:
    results, predictions = regression_run
    keep = ("schema", "name", "task", "estimate", "configurations", "winner")
    minimal = {k: copy.deepcopy(results[k]) for k in keep}
    minimal["estimate"] = {
        "metric": "r2",
        "value": None,
        "ci95": None,
        "plain_cv_value": float("nan"),
    }
    html = render_html(minimal, predictions)
    assert (
        'Estimated R²: <span class="value">–</span> (95% CI –), selection-corrected estimate '
        "(BBC-CV)"
    ) in html
    assert "not run (use --permutations N)" in html
    assert 'class="warnings"' not in html
    assert "Secondary metrics" not in html
    assert len(_pngs(html)) == 3  # scatter, residuals, candidates; no null distribution


def test_missing_columns_become_a_message(binary_run: Run) -> None:
    results, predictions = binary_run
    html = render_html(results, predictions.drop(columns=["prob_benign"]))
    assert html.count("Figure not available: KeyError") == 2
    assert len(_pngs(html)) == 2  # candidates and null still drawn
    html = render_html(results, None)
    assert "no out-of-fold predictions were given" in html


def test_unknown_schema_is_refused(binary_run: Run) -> None:
    results, predictions = binary_run
    with pytest.raises(UserError, match=r"insightome\.results/9"):
        render_html({**results, "schema": "insightome.results/9"}, predictions)


def test_write_report(tmp_path: Path, survival_run: Run) -> None:
    results, predictions = survival_run
    path = tmp_path / "report.html"
    write_report(path, results, predictions)
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in html
    assert "Kaplan–Meier" in html


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "–"),
        (float("nan"), "–"),
        (float("inf"), "–"),
        (np.float64(0.12345), "0.123"),
        (3, "3"),
        (np.int64(7), "7"),
        (True, "yes"),
        ("", "–"),
        ("abc", "abc"),
    ],
)
def test_fmt(value: object, text: str) -> None:
    assert fmt(value) == text


def test_fmt_raw() -> None:
    assert fmt_raw(1e-05) == "1e-05"
    assert fmt_raw(0.1) == "0.1"
    assert fmt_raw(np.float64(2.5)) == "2.5"
    assert fmt_raw({"a": [1, True]}) == '{"a": [1, true]}'
    assert fmt_raw(None) == fmt_raw(float("nan")) == "–"
    assert fmt_raw([]) == "none"


def test_fmt_p() -> None:
    assert fmt_p(0.0004) == "< 0.001"
    assert fmt_p(0.0123) == "0.012"
    assert fmt_p(None) == "–"


def test_a_zero_importance_shows_no_sign(binary_run: Run) -> None:
    """Issue 17: importances of 0.0000 were marked "stable sign: yes". A feature that moved
    no fold has no sign; one whose importance rounds to 0.0000 shows none either."""
    results, predictions = binary_run
    results = copy.deepcopy(results)
    row = {"sd": 0.01, "positive_fraction": 1.0, "negative_fraction": 0.0, "sensitive": False}
    features = [
        {**row, "feature": "used", "importance": 0.05, "stable": True},
        {**row, "feature": "flips", "importance": 0.01, "positive_fraction": 0.6,
         "negative_fraction": 0.4, "stable": False},
        {**row, "feature": "unused", "importance": 0.0, "sd": 0.0, "positive_fraction": 0.0,
         "stable": None},
        {**row, "feature": "tiny", "importance": -0.00004, "positive_fraction": 0.0,
         "negative_fraction": 0.2, "stable": True},
    ]  # fmt: skip
    explanations = {"metric": "auc", "method": "m", "features": features, "flags": [], "notes": []}
    results["audit"] = {"explanations": explanations}
    html = render_html(results, predictions)
    section = html[html.index("What the model relies on") :]
    shown = dict(re.findall(r"<tr><td>(\w+)</td>(?:<td[^>]*>[^<]*</td>){2}<td>([^<]*)</td>",
                            section))  # fmt: skip
    assert shown == {
        "used": "yes",
        "flips": "no",
        "unused": "— (no effect in any fold)",
        "tiny": "—",
    }
    assert "folds with no change have no sign" in section


def test_audit_thresholds_at_peoples_precision(binary_run: Run) -> None:
    results, predictions = binary_run
    results = copy.deepcopy(results)
    results["audit"] = {
        "model": {
            "thresholds": {
                "max_calibration_intercept_difference": {
                    "value": float(np.log(1.25)), "source": "log(1.25)"},
                "ratio_band": {"value": [0.8, 1.25], "source": "four-fifths"},
                "multiplicity": {"value": "holm", "source": "Holm 1979"},
            }
        }
    }  # fmt: skip
    html = render_html(results, predictions)
    assert "max_calibration_intercept_difference = 0.223<" in html
    assert "ratio_band = 0.8, 1.25<" in html and "multiplicity = holm<" in html
    assert "0.2231435" not in html


def test_ora_lists_only_gene_sets_with_a_signature_gene(binary_run: Run) -> None:
    """The ORA tests every set of 5-500 measured genes (the FDR is over all of them); the
    report lists the sets holding a signature gene and counts the others."""
    from insightome.report.discovery_section import _pathways

    ora = [
        {"pathway": f"SET_{i}", "set_size": 20, "overlap": overlap, "fold_enrichment": 2.0,
         "p_value": 0.01 * (i + 1), "fdr": 0.5, "genes": "A;B"[: 3 * overlap]}
        for i, overlap in enumerate([2, 1, 0, 0, 0])
    ]  # fmt: skip
    shown = _pathways({"ora": ora, "prerank": [], "mapping": {}, "warnings": []})
    assert [r["pathway"] for r in shown["ora"]] == ["SET_0", "SET_1"]
    assert shown["ora_note"] == (
        "5 gene sets tested (the FDR is over all 5); the 2 that hold at least one signature "
        "gene are listed; the 3 with none are left out."
    )
    assert shown["prerank"] == [] and shown["prerank_note"] == ""


def test_subgroup_median_time_in_plain_digits_under_its_column() -> None:
    from insightome.report.discovery_section import _outcome_row

    row = {"subgroup": 1, "n": 212, "events": 72, "median_time": 1686.0,
           "median_lo": 1043.0, "median_hi": None}  # fmt: skip
    shown = _outcome_row(row, 10, "OS.time")
    assert shown["median OS.time (95% CI), units of OS.time"] == "1,686 (1,043–not reached)"
    hidden = _outcome_row({**row, "n": None, "suppressed": {"n": "<10"}}, 10, "OS.time")
    assert hidden["median OS.time (95% CI), units of OS.time"].startswith("suppressed")


def test_the_estimate_names_a_non_default_scoring_and_interval():
    from insightome.report.context import _method

    assert _method({"method": "BBC-CV"}) == "BBC-CV"  # a run from before the options
    assert _method({"method": "BBC-CV", "pooling": "one_repeat", "interval": "percentile"}) == (
        "BBC-CV"
    )
    said = _method({"method": "BBC-CV", "pooling": "all_repeats", "interval": "calibrated"})
    assert said == "BBC-CV, bootstraps scored on all repeats, calibrated interval"
    # today's default is not the published BBC-CV: it is named
    said = _method({"method": "BBC-CV", "pooling": "all_repeats", "interval": "percentile"})
    assert said == "BBC-CV, bootstraps scored on all repeats"
    said = _method({"method": "BBC-CV", "pooling": "per_fold", "interval": "oob_scaled"})
    assert said == "BBC-CV, bootstraps scored on each fold, oob_scaled interval"
