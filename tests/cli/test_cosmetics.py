"""The numbers and names a clinician reads first (issue 17, point 8), on real runs: the
console and report.html of a multiclass run (wine), heart failure (binary, audited by sex)
and TCGA-STAD survival with the Hallmark gene sets.

* every metric by its readable name, never its key (``auc_macro_ovr``);
* configured thresholds at people's precision (not 0.22314355131420976);
* a median time in plain digits under its column ("median OS.time 1,686 (units of
  OS.time)"), never in exponent notation;
* the ORA table lists only gene sets holding a signature gene, with a line that counts the
  tested ones and those left out;
* an importance of zero has no sign ("—"), never "stable sign: yes";
* every verdict in a coloured cell is also a symbol and a word.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_wine

from insightome.report.formatting import VERDICT_MARKS
from tests.cli.conftest import invoke, run_dirs
from tests.conftest import shared_data

QUICK = ("--preset", "fast", "--folds", "3", "--repeats", "1", "--bootstrap", "200")
TOO_MANY_DIGITS = re.compile(r"\d\.0*[1-9]\d{5,}")  # 6+ significant digits: 0.22314355131420976
EXPONENT = re.compile(r"\d(\.\d+)?e[+-]\d")


def run_printing(out: Path, *args: object) -> tuple[Path, str]:
    """``insightome run ARGS --out OUT`` (not quiet): the run directory and the console
    text, whitespace collapsed (rich wraps the lines at the terminal width)."""
    printed = invoke("run", *args, "--out", out)
    (found,) = run_dirs(out)
    return found, " ".join(printed.split())


def visible_text(run_dir: Path) -> str:
    """What a reader of report.html sees: no tags, styles or figures; whitespace collapsed."""
    page = (run_dir / "report.html").read_text()
    page = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    page = re.sub(r"<[^>]+>", " ", page)
    return " ".join(html_lib.unescape(page).split())


@pytest.fixture(scope="module")
def wine(tmp_path_factory) -> tuple[Path, str]:
    """scikit-learn's wine data (178 wines, 3 cultivars): a multiclass run."""
    frame = load_wine(as_frame=True).frame
    frame["cultivar"] = frame.pop("target").map({0: "A", 1: "B", 2: "C"})
    path = tmp_path_factory.mktemp("data") / "wine.csv"
    frame.to_csv(path, index=False)
    out = tmp_path_factory.mktemp("runs")
    return run_printing(out, path, "--target", "cultivar", *QUICK)


@pytest.fixture(scope="module")
def heart_failure(tmp_path_factory) -> tuple[Path, str]:
    data = shared_data("cohorts", "heart_failure", "heart_failure_clinical_records_dataset.csv")
    out = tmp_path_factory.mktemp("runs")
    return run_printing(out, data, "--target", "DEATH_EVENT", "--exclude", "time",
                        "--sensitive", "sex", *QUICK)  # fmt: skip


@pytest.fixture(scope="module")
def stad(tmp_path_factory) -> tuple[Path, str]:
    """TCGA-STAD expression + sample sheet, overall survival, Hallmark gene sets."""
    folder = shared_data("cohorts", "tcga_stad")
    hallmark = shared_data("genesets", "h.all.v7.0.symbols.gmt")
    expression = pd.read_csv(folder / "expression_xena_stad_1577genes.csv", index_col=0)
    expression.index.name = "case_id"  # the sample sheet's ID column
    data = tmp_path_factory.mktemp("data") / "stad_expression.csv"
    expression.to_csv(data)
    out = tmp_path_factory.mktemp("runs")
    return run_printing(out, data, "--annotations", folder / "cohort_stad_patients.csv",
                        "--id-column", "case_id", "--time", "OS.time", "--event", "OS",
                        "--genesets", hallmark, *QUICK)  # fmt: skip


def test_multiclass_metric_is_named_not_keyed(wine) -> None:
    run_dir, console = wine
    assert "Estimated AUC (macro, one-vs-rest) (BBC-CV):" in console, console
    assert "Minimal signature" in console
    assert "— its own BBC-CV estimate, AUC (macro, one-vs-rest) 0." in console
    text = visible_text(run_dir)
    assert "Estimated AUC (macro, one-vs-rest):" in text
    for shown in (console, text):
        assert "auc_macro_ovr" not in shown and "balanced_accuracy" not in shown
    assert json.loads((run_dir / "results.json").read_text())["estimate"]["metric"] == (
        "auc_macro_ovr"
    )  # results.json keeps the key


def test_binary_console_and_report_read_as_people_write(heart_failure) -> None:
    run_dir, console = heart_failure
    assert "Estimated AUC (BBC-CV):" in console and "Estimated auc" not in console
    text = visible_text(run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    thresholds = results["audit"]["model"]["thresholds"]
    assert thresholds["max_calibration_intercept_difference"]["value"] == pytest.approx(
        0.22314355131420976
    )  # the configured value is kept exactly; only its display is rounded
    assert "max_calibration_intercept_difference = 0.223 " in text
    assert "ratio_band = 0.8, 1.25 " in text
    for shown in (console, text):
        assert not TOO_MANY_DIGITS.findall(shown), TOO_MANY_DIGITS.findall(shown)[:3]


def test_every_coloured_verdict_is_also_a_symbol_and_a_word(heart_failure) -> None:
    run_dir, _ = heart_failure
    page = (run_dir / "report.html").read_text()
    cells = re.findall(r'<td class="verdict-[a-z]+"[^>]*>(.*?)</td>', page, flags=re.S)
    assert len(cells) >= 4, "the audit of sex has group cells with verdicts"
    words = [*VERDICT_MARKS, *VERDICT_MARKS.values()]
    for cell in cells:
        shown = html_lib.unescape(re.sub(r"<[^>]+>", " ", cell))
        assert any(w in shown for w in words), cell
    marks = set(re.findall(r'<span class="verdict-mark">(.*?)</span>', page))
    assert marks and marks <= set(VERDICT_MARKS.values()), marks
    assert "◆ reference" in marks  # the largest group of sex is the reference
    assert "Forest plot of AUC per sensitive group" in page  # drawn with its markers
    assert "Figure not available" not in page


def test_survival_times_are_plain_digits_under_their_column(stad) -> None:
    run_dir, console = stad
    assert "Estimated C-index (BBC-CV):" in console
    hypotheses = pd.read_csv(run_dir / "hypotheses.tsv", sep="\t")
    subgroup = hypotheses.loc[hypotheses["kind"] == "subgroup", "statement"].tolist()
    assert subgroup, "the STAD run found patient subgroups"
    outcome = json.loads((run_dir / "results.json").read_text())["discovery"]["subgroups"]
    medians = [r["median_time"] for r in outcome["outcome"]["table"]]
    for statement, median in zip(subgroup, medians, strict=False):
        if median is not None:
            assert f"median OS.time {median:,.0f} (units of OS.time)" in statement, statement
    text = visible_text(run_dir)
    assert "median OS.time (95% CI), units of OS.time" in text
    for shown in (console, text, " ".join(subgroup)):
        assert not EXPONENT.search(shown), EXPONENT.search(shown)
        assert "median time" not in shown


def test_ora_lists_only_sets_holding_a_signature_gene(stad) -> None:
    run_dir, _ = stad
    pathways = json.loads((run_dir / "results.json").read_text())["discovery"]["pathways"]
    ora = pathways["ora"]
    empty = [r["pathway"] for r in ora if r["overlap"] == 0]
    hit = [r["pathway"] for r in ora if r["overlap"] >= 1]
    assert empty and hit, "the signature meets some Hallmark sets and misses others"
    page = (run_dir / "report.html").read_text()
    section = page[page.index("Over-representation of the signature") :]
    section = section[: section.index("</table>")]
    listed = re.findall(r"<tr><td>(HALLMARK_[A-Z0-9_]+)</td>", section)
    assert listed == hit[: len(listed)] and listed, listed
    assert not set(listed) & set(empty)
    note = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", section)).split())
    assert f"{len(ora)} gene sets tested (the FDR is over all {len(ora)}); " in note
    assert f"the {len(hit)} that hold at least one signature gene" in note
    assert f"the {len(empty)} with none are left out." in note


def test_a_zero_importance_has_no_sign(stad) -> None:
    """The explained features of a sparse Cox model include genes it never uses: their
    importance is 0 and the report shows no sign, never "yes"."""
    run_dir, _ = stad
    features = json.loads((run_dir / "results.json").read_text())["audit"]["explanations"][
        "features"
    ]
    page = (run_dir / "report.html").read_text()
    section = page[page.index("What the model relies on") :]
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(
            r"<tr><td>([^<]+)</td><td class=\"num\">[^<]*</td><td class=\"num\">[^<]*</td>"
            r"<td>([^<]*)</td>",
            section[: section.index("</table>")],
        )
    }
    assert set(rows) == {f["feature"] for f in features}
    never = [f["feature"] for f in features if f["stable"] is None]
    assert never, "the sparse Cox winner leaves some explained genes unused"
    for f in features:
        if f["importance"] is not None and abs(f["importance"]) < 5e-5:  # 0.0000 as shown
            assert rows[f["feature"]].startswith("—"), (f, rows[f["feature"]])
        if f["stable"] is None:
            assert f["positive_fraction"] == f["negative_fraction"] == 0
            assert rows[f["feature"]] == "— (no effect in any fold)"
        else:
            assert f["positive_fraction"] + f["negative_fraction"] > 0


def test_hypotheses_write_a_median_time_under_its_column() -> None:
    """Without the shared data: the number of a subgroup statement (was '1.69e+03')."""
    from insightome.discover.hypotheses import _outcome_value

    assert _outcome_value("median_time", 1686.0, "OS.time") == (
        "median OS.time 1,686 (units of OS.time)"
    )
    assert _outcome_value("median_time", 12.25, None) == "median time 12.2 (units of time)"
    assert _outcome_value("rate_yes", 0.4567, "OS.time") == "rate yes 0.457"
