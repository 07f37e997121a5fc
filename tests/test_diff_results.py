"""benchmarks/diff_results.py and result_trees.py: the "identical numbers" check of issue 16.

Small result trees are written here, changed in one place, and compared: identical trees
give exit 0, every change gives exit 1 naming where, and the ignore rules hide only what
they say and are counted.
"""

from __future__ import annotations

import copy
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import diff_results  # noqa: E402
import result_trees  # noqa: E402

RESULTS: dict[str, Any] = {
    "name": "demo",
    "created": "2026-12-05T21:28:21+00:00",
    "estimate": {"metric": "auc", "value": 0.6812, "ci95": [0.645, 0.716]},
    "audit": {
        "model": {
            "groups": [
                {"group": "female", "n": 368, "ci95": [0.633, 0.771], "verdict": "flag"},
                {"group": "male", "n": 1771, "ci95": [0.651, 0.709], "verdict": "reference"},
            ]
        },
        "seconds": {"model": 2.0},
    },
    "timings": {"load": 0.04, "total": 44.9},
    "compute": {"total": {"wall_s": 44.1, "energy_kwh": 3.2e-4}, "method": "estimated"},
    "versions": {"numpy": "2.4.6"},
    "data": {"files": [{"path": "/data/a.csv", "display_path": "a.csv", "sha256": "ab12"}]},
}
PREDICTIONS = "sample,y,prob_1\nP1,0,0.25\nP2,1,0.75\nP3,1,0.5\n"
DOCUMENT = "# Model card\n- Date: 2026-12-05T21:28:21+00:00\n| 1 | AUC | 0.681 |\n"


def write_tree(root: Path, results: dict[str, Any] | None = None, **files: str) -> Path:
    run = root / "actg175"
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps(results or RESULTS, indent=2))
    (run / "predictions.csv").write_text(PREDICTIONS)
    (run / "MODEL_CARD.md").write_text(DOCUMENT)
    for name, text in files.items():
        (run / name.replace("__", ".")).write_text(text)
    return root


def diff(old: Path, new: Path, **options: Any) -> tuple[int, str]:
    out = io.StringIO()
    code = diff_results.diff_trees(old, new, out=out, **options)
    return code, out.getvalue()


def rule_line(report: str, rule: str) -> str:
    return next(ln for ln in report.splitlines() if ln.startswith(f"  {rule}: "))


def test_identical_trees_exit_0(tmp_path: Path) -> None:
    old, new = write_tree(tmp_path / "old"), write_tree(tmp_path / "new")
    code, report = diff(old, new)
    assert code == 0
    assert "compared 3 file(s): 3 identical, 0 differing" in report
    assert report.rstrip().endswith("IDENTICAL")


def test_a_changed_float_in_a_nested_list_is_named_by_its_path(tmp_path: Path) -> None:
    changed = copy.deepcopy(RESULTS)
    changed["audit"]["model"]["groups"][1]["ci95"][0] = 0.6510000000000001
    code, report = diff(write_tree(tmp_path / "old"), write_tree(tmp_path / "new", changed))
    assert code == 1
    assert "actg175/results.json: 1 difference(s)" in report
    assert "$.audit.model.groups[1].ci95[0]: 0.651 -> 0.6510000000000001" in report
    assert "DIFFERENT: 1 difference(s) in 1 file(s)" in report
    # within a relative tolerance it is the same number
    assert diff(tmp_path / "old", tmp_path / "new", rtol=1e-12)[0] == 0


def test_a_file_missing_on_either_side_is_a_difference(tmp_path: Path) -> None:
    old = write_tree(tmp_path / "old")
    new = write_tree(tmp_path / "new", hypotheses__tsv="kind\tcandidate\nfeature\tcd40\n")
    code, report = diff(old, new)
    assert code == 1
    assert "only in NEW (1): actg175/hypotheses.tsv" in report
    code, report = diff(new, old)
    assert code == 1
    assert "only in OLD (1): actg175/hypotheses.tsv" in report


def test_keys_present_on_one_side_and_changed_strings_are_differences(tmp_path: Path) -> None:
    changed = copy.deepcopy(RESULTS)
    del changed["estimate"]["metric"]
    changed["estimate"]["stage"] = "estimate"
    changed["audit"]["model"]["groups"][0]["verdict"] = "no disparity detected"
    changed["audit"]["model"]["groups"][0]["n"] = None
    _, report = diff(write_tree(tmp_path / "old"), write_tree(tmp_path / "new", changed))
    assert '$.estimate.metric: only in OLD ("auc")' in report
    assert '$.estimate.stage: only in NEW ("estimate")' in report
    assert '$.audit.model.groups[0].verdict: "flag" -> "no disparity detected"' in report
    assert "$.audit.model.groups[0].n: 368 -> null" in report


def test_ignored_keys_are_not_compared_but_counted(tmp_path: Path) -> None:
    changed = copy.deepcopy(RESULTS)
    changed["created"] = "2027-01-01T00:00:00+00:00"
    changed["timings"] = {"load": 0.05, "total": 50.0, "refit": 1.0}
    changed["audit"]["seconds"] = {"model": 2.5}
    changed["compute"]["total"] = {"wall_s": 50.0, "energy_kwh": 4e-4}
    changed["versions"] = {"numpy": "2.5.0"}
    changed["data"]["files"][0]["path"] = "/elsewhere/a.csv"
    code, report = diff(write_tree(tmp_path / "old"), write_tree(tmp_path / "new", changed))
    assert code == 0, report
    assert rule_line(report, "timings").startswith("  timings: matched 1 in 1 file(s), 1 differed")
    assert "matched 1 in 1 file(s), 1 differed" in rule_line(report, "step seconds")
    assert "matched 2 in 1 file(s), 2 differed" in rule_line(report, "compute ledger")
    assert "matched 1 in 1 file(s), 1 differed" in rule_line(report, "timestamps")
    assert "matched 1 in 1 file(s), 1 differed" in rule_line(report, "software versions")
    assert "matched 1 in 1 file(s), 1 differed" in rule_line(report, "absolute paths")
    assert rule_line(report, "hostnames").startswith("  hostnames: not matched")
    # the compute ledger's method is not a measurement: a change there is reported
    changed["compute"]["method"] = "measured (RAPL)"
    (tmp_path / "new" / "actg175" / "results.json").write_text(json.dumps(changed))
    code, report = diff(tmp_path / "old", tmp_path / "new")
    assert code == 1
    assert '$.compute.method: "estimated" -> "measured (RAPL)"' in report


def test_a_relative_path_is_compared_even_under_a_path_key(tmp_path: Path) -> None:
    changed = copy.deepcopy(RESULTS)
    changed["data"]["files"][0]["display_path"] = "b.csv"
    code, report = diff(write_tree(tmp_path / "old"), write_tree(tmp_path / "new", changed))
    assert code == 1
    assert '$.data.files[0].display_path: "a.csv" -> "b.csv"' in report


def test_a_changed_table_cell_is_named_by_row_and_column(tmp_path: Path) -> None:
    old = write_tree(tmp_path / "old")
    new = write_tree(tmp_path / "new")
    (new / "actg175" / "predictions.csv").write_text(PREDICTIONS.replace("0.75", "0.7501"))
    code, report = diff(old, new)
    assert code == 1
    assert "row 2 ('P2'), column 'prob_1': '0.75' -> '0.7501'" in report
    # the same number written differently is the same number
    (new / "actg175" / "predictions.csv").write_text(PREDICTIONS.replace("0.75", "7.5e-1"))
    assert diff(old, new)[0] == 0
    # a missing row and a new column
    (new / "actg175" / "predictions.csv").write_text(
        "sample,y,prob_1,risk\nP1,0,0.25,1\nP2,1,0.75,2\n"
    )
    code, report = diff(old, new)
    assert code == 1
    assert "column 'risk': only in NEW" in report
    assert "3 rows in OLD, 2 in NEW" in report


def test_ignore_key_covers_a_table_column_and_is_reported(tmp_path: Path) -> None:
    old = write_tree(tmp_path / "old")
    new = write_tree(tmp_path / "new")
    (new / "actg175" / "predictions.csv").write_text(PREDICTIONS.replace("0.75", "0.7501"))
    code, report = diff(old, new, ignored=["prob_1"])
    assert code == 0
    assert "--ignore-key prob_1: matched 3 in 1 file(s), 1 differed" in report


def test_documents_are_compared_line_by_line_without_their_dates(tmp_path: Path) -> None:
    old = write_tree(tmp_path / "old")
    new = write_tree(tmp_path / "new")
    card = new / "actg175" / "MODEL_CARD.md"
    card.write_text(DOCUMENT.replace("2026-12-05T21:28:21", "2027-01-02T03:04:05"))
    code, report = diff(old, new)
    assert code == 0
    assert "timestamps in text: matched 1 in 1 file(s), 1 differed" in report
    card.write_text(DOCUMENT.replace("0.681", "0.682"))
    code, report = diff(old, new)
    assert code == 1
    assert "actg175/MODEL_CARD.md: 1 difference(s)" in report
    assert "line 3, from character" in report and "0.682" in report


def test_two_run_directories_pair_up_despite_their_timestamps(tmp_path: Path) -> None:
    for side, stamp in (("old", "20261205-212739"), ("new", "20261206-080001")):
        write_tree(tmp_path / side / "demo")
        (tmp_path / side / "demo" / "actg175").rename(tmp_path / side / f"{stamp}-demo-actg175")
        (tmp_path / side / "demo").rmdir()
        (tmp_path / side / f"{stamp}-demo-actg175" / "model.joblib").write_bytes(b"\x80" + bytes(8))
    code, report = diff(tmp_path / "old", tmp_path / "new")
    assert code == 0, report
    assert "compared 3 file(s): 3 identical" in report
    assert "1 x .joblib: pickled model" in report  # listed, not silently skipped
    run_old = next((tmp_path / "old").iterdir())
    run_new = next((tmp_path / "new").iterdir())
    assert diff(run_old, run_new)[0] == 0  # the run directories themselves


def test_two_runs_pairing_with_one_file_are_refused(tmp_path: Path, capsys) -> None:
    write_tree(tmp_path / "old")
    for stamp in ("20261205-212739", "20261205-220000"):
        write_tree(tmp_path / "new" / stamp)
        (tmp_path / "new" / stamp / "actg175").rename(tmp_path / "new" / f"{stamp}-demo")
        (tmp_path / "new" / stamp).rmdir()
    assert diff_results.main([str(tmp_path / "old"), str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "pair with the same file (<time>-demo/" in err
    assert len(err.splitlines()) == 1


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    write_tree(tmp_path / "old")
    assert diff_results.main([str(tmp_path / "old"), str(tmp_path / "missing")]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"error: {tmp_path / 'missing'}: no such file or directory"
    )
    assert diff_results.main([str(tmp_path / "old"), str(tmp_path / "old"), "--rtol", "-1"]) == 2
    assert "--rtol must be 0 or more" in capsys.readouterr().err


def test_two_files_are_compared_whatever_their_names(tmp_path: Path) -> None:
    write_tree(tmp_path / "old")
    changed = copy.deepcopy(RESULTS)
    changed["estimate"]["value"] = 0.7
    (tmp_path / "other.json").write_text(json.dumps(changed))
    code, report = diff(tmp_path / "old" / "actg175" / "results.json", tmp_path / "other.json")
    assert code == 1
    assert "$.estimate.value: 0.6812 -> 0.7" in report
    assert diff_results.main([str(tmp_path / "old"), str(tmp_path / "other.json")]) == 2


def test_hidden_entries_are_skipped_and_counted(tmp_path: Path) -> None:
    old, new = write_tree(tmp_path / "old"), write_tree(tmp_path / "new")
    (new / ".actg175.x1y2").mkdir()  # an unfinished atomic write
    (new / ".actg175.x1y2" / "results.json").write_text("{")
    code, report = diff(old, new)
    assert code == 0
    assert "hidden entries skipped: 0 in OLD, 1 in NEW" in report


# --------------------------------------------------------------------------------------
# result_trees.save_run
# --------------------------------------------------------------------------------------
class _Run:
    """What save_run reads of an insightome Run."""

    def __init__(self, value: float) -> None:
        self.results = {"estimate": {"value": np.float64(value), "ci95": np.array([0.5, 0.9])},
                        "n": np.int64(3), "missing": float("nan")}  # fmt: skip
        self.model_card = {"winner": "lr", "threshold": np.float32(0.5)}
        self.predictions = pd.DataFrame({"y": [0, 1]}, index=pd.Index(["a", "b"], name="sample"))
        self.hypotheses = pd.DataFrame({"kind": ["feature"], "candidate": ["x1"]})
        self.documents = {"MODEL_CARD.md": "# card\n"}
        self.model = object()  # never written


def test_save_run_writes_the_runs_data_and_replaces_a_previous_folder(tmp_path: Path) -> None:
    target = tmp_path / "tree" / "colon" / "split0"
    extra = {"holdout_predictions.csv": pd.DataFrame({"p": [0.25]}, index=["c"])}
    result_trees.save_run(_Run(0.75), target, extra_tables=extra)
    assert sorted(p.name for p in target.iterdir()) == [
        "MODEL_CARD.md", "holdout_predictions.csv", "hypotheses.tsv", "model_card.json",
        "predictions.csv", "results.json",
    ]  # fmt: skip
    results = json.loads((target / "results.json").read_text())
    assert results == {"estimate": {"value": 0.75, "ci95": [0.5, 0.9]}, "n": 3, "missing": None}
    assert (target / "predictions.csv").read_text() == "sample,y\na,0\nb,1\n"
    result_trees.save_run(_Run(0.8), target)
    assert json.loads((target / "results.json").read_text())["estimate"]["value"] == 0.8
    assert not (target / "holdout_predictions.csv").exists()  # the folder was replaced whole
    assert [p.name for p in target.parent.iterdir()] == ["split0"]  # nothing left beside it


def test_save_run_leaves_nothing_when_writing_fails(tmp_path: Path) -> None:
    run = _Run(0.75)
    run.model_card = {"unserializable": object()}
    with pytest.raises(TypeError):
        result_trees.save_run(run, tmp_path / "colon" / "split0")
    assert list((tmp_path / "colon").iterdir()) == []


def test_save_run_refuses_results_it_cannot_write_as_json(tmp_path: Path) -> None:
    run = _Run(0.75)
    run.results = ["not", "a", "mapping"]
    with pytest.raises(TypeError, match="cannot save list as JSON"):
        result_trees.save_run(run, tmp_path / "x")
