"""``insightome run --candidates default,quantum`` end to end on scikit-learn's shipped
breast-cancer table: the quantum set in the same CV and BBC-CV as the classical candidates,
its record (results.json, report, model card), a saved run predicting, the refusals, and the
one line when the extra is absent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from insightome import errors
from insightome.results.run import RunResults
from tests.cli.conftest import FAST
from tests.conftest import without_module

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cohort(tmp_path: Path) -> Path:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.sample(160, random_state=0)
    frame["diagnosis"] = frame.pop("target").map({0: "malignant", 1: "benign"})
    frame["tumour_size"] = frame["mean radius"] * 2.0  # a numeric outcome for the refusal
    path = tmp_path / "wdbc.csv"
    frame.to_csv(path, index_label="sample")
    return path


@pytest.mark.slow
def test_quantum_candidates_run_beside_the_classical_ones(cli, cohort, tmp_path):
    pytest.importorskip("pennylane", reason="the quantum extra is not installed")
    out = tmp_path / "runs"
    result = cli(
        "run", cohort, "--target", "diagnosis", "--exclude", "tumour_size", *FAST,
        "--candidates", "default,quantum", "--out", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    (run_dir,) = out.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    RunResults.from_dict(results)  # the quantum record is typed
    names = [c["name"] for c in results["configurations"]]
    assert any(n.startswith("quantum_kernel_svm(") for n in names)
    assert any(n.startswith("variational_quantum(") for n in names)
    assert any(n.startswith("rbf_svm(") for n in names)
    assert any(n.startswith("random_forest(") for n in names)  # beside the classical set
    q = results["quantum"]
    families = {f["family"]: f for f in q["families"]}
    assert set(families) == {"default", "quantum_kernel_svm", "variational_quantum", "rbf_svm"}
    shares = sum(f["run_selection_frequency"] for f in families.values())
    assert shares == pytest.approx(1.0)
    for f in families.values():
        assert f["ci95"][0] <= f["value"] <= f["ci95"][1]
        assert f["n_fits"] == 3 * len(f["configurations"])  # 3 folds x 1 repeat
    assert families["quantum_kernel_svm"]["value"] > 0.9  # it separates these tumours
    (circuit,) = [c for n, c in q["circuits"].items() if n.startswith("quantum_kernel_svm")]
    assert circuit["qubits"] == 8 and circuit["shots"] is None
    assert "IQP" in circuit["circuit"] and q["simulator"] == "default.qubit"
    cost = q["simulation_cost"]
    quantum_seconds = sum(
        families[f]["fit_seconds"] for f in ("quantum_kernel_svm", "variational_quantum")
    )
    assert cost["fit_seconds"] == pytest.approx(quantum_seconds) and cost["energy_kwh"] > 0
    assert results["invocation"]["candidates"] == "default,quantum"
    report = (run_dir / "report.html").read_text()
    assert 'id="quantum"' in report and "RBF SVM on the same reduced features" in report
    assert "Of this, the quantum candidates&#39; cross-validation fits took" in report  # ledger
    card = (run_dir / "MODEL_CARD.md").read_text()
    assert "pennylane" in card and "default.qubit" in card
    assert "PennyLane" in (run_dir / "run.log").read_text()


@pytest.mark.slow
def test_a_saved_quantum_model_predicts_like_any_other(cli, cohort, tmp_path, monkeypatch):
    pytest.importorskip("pennylane", reason="the quantum extra is not installed")
    from insightome.stages import candidate_sets

    # the quantum set without its classical control: whichever wins, the saved model is a
    # quantum one (the kernel SVM and the RBF SVM are within 0.01 AUC on these tumours)
    quantum_only = candidate_sets.quantum_candidates
    monkeypatch.setattr(
        candidate_sets,
        "quantum_candidates",
        lambda task, n: [c for c in quantum_only(task, n) if c.family != "rbf_svm"],
    )
    out = tmp_path / "runs"
    result = cli(
        "run", cohort, "--target", "diagnosis", "--exclude", "tumour_size", *FAST,
        "--candidates", "quantum", "--out", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    (run_dir,) = out.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    families = [c["family"] for c in results["configurations"]]
    assert families == ["quantum_kernel_svm", "variational_quantum"]
    assert results["quantum"]["winner_is_quantum"] and results["quantum"]["quantum_estimated"]
    assert results["quantum"]["winner_qubits"] == 8  # what the refitted winner's PCA kept
    card = (run_dir / "MODEL_CARD.md").read_text()
    assert "A quantum model: " in card and "not run on quantum hardware" in card
    assert "8 qubit(s) in the saved model" in card
    new = pd.read_csv(cohort).head(5).drop(columns=["diagnosis", "tumour_size"])
    new.to_csv(tmp_path / "new.csv", index=False)
    predicted = cli("predict", run_dir, tmp_path / "new.csv", "--output", tmp_path / "pred.csv")
    assert predicted.code == 0, predicted.err
    table = pd.read_csv(tmp_path / "pred.csv")
    assert len(table) == 5 and set(table["predicted_class"]) <= {"benign", "malignant"}
    truth = pd.read_csv(cohort).head(5)["diagnosis"]
    assert (table["predicted_class"].to_numpy() == truth.to_numpy()).mean() >= 0.8


def test_a_numeric_outcome_is_refused_before_any_fit(cli, cohort, tmp_path):
    pytest.importorskip("pennylane", reason="the quantum extra is not installed")
    out = tmp_path / "runs"
    result = cli(
        "run", cohort, "--target", "tumour_size", "--exclude", "diagnosis", *FAST,
        "--candidates", "quantum", "--out", out,
    )  # fmt: skip
    assert result.code == errors.EXIT_USER_ERROR
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "--candidates" in lines[0] and "regression outcome" in lines[0]
    assert not out.exists() or not any(out.iterdir())


def test_without_the_extra_one_line_and_nothing_written(cohort, tmp_path):
    out = tmp_path / "runs"
    code = without_module("pennylane") + (
        "from insightome.cli.app import main\n"
        f"sys.argv = ['insightome', 'run', {str(cohort)!r}, '--target', 'diagnosis', "
        f"'--exclude', 'tumour_size', '--candidates', 'default,quantum', '--out', "
        f"{str(out)!r}, '--quiet', '--preset', 'fast']\nmain()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == errors.EXIT_USER_ERROR, done.stderr
    assert done.stderr.strip() == f"error: {errors.QUANTUM_EXTRA_MISSING}"
    assert not out.exists() or not any(out.iterdir())


class Interrupted(Exception):
    """Raised by a plugged-in stage: the run stops there, its .partial directory kept."""


def interrupt(state) -> None:
    raise Interrupted


@pytest.mark.slow
def test_a_run_resumed_after_the_estimate_keeps_the_quantum_record(cohort, tmp_path, monkeypatch):
    pytest.importorskip("pennylane", reason="the quantum extra is not installed")
    import insightome
    from insightome.evaluate import search
    from insightome.stages import Stage

    # two samples per patient, kept together (--groups): the kernel SVMs' internal Platt
    # split does not see the groups, and the run says so for them too
    frame = pd.read_csv(cohort)
    frame["patient"] = [f"P{i // 2}" for i in range(len(frame))]
    frame.to_csv(tmp_path / "paired.csv", index=False)
    cohort = tmp_path / "paired.csv"
    options = {
        "preset": "fast", "folds": 3, "repeats": 1, "n_bootstrap": 200, "exclude": ["tumour_size"],
        "candidates": "default,quantum", "discover": False, "audit": False, "groups": "patient",
    }  # fmt: skip
    reference = insightome.run(cohort, "diagnosis", out_dir=tmp_path / "ref", **options)
    (note,) = [n for n in reference.results["notes"] if "Platt calibration split" in n]
    assert note.startswith("linear_svm, quantum_kernel_svm, rbf_svm with --groups")
    crash = Stage("crash", interrupt, after="refit")
    with pytest.raises(Interrupted):
        insightome.run(cohort, "diagnosis", out_dir=tmp_path / "runs", stages=[crash], **options)
    (partial,) = (tmp_path / "runs").iterdir()

    def no_fits(*args, **kwargs):
        raise AssertionError("a stage before the document stage ran again")

    monkeypatch.setattr(search, "cross_validated_predictions", no_fits)
    resumed = insightome.resume(partial, from_stage="document")
    quantum, expected = resumed.results["quantum"], reference.results["quantum"]

    def timeless(families):  # fit times differ between two runs; nothing else may
        return [{k: v for k, v in f.items() if k != "fit_seconds"} for f in families]

    assert timeless(quantum["families"]) == timeless(expected["families"])
    assert quantum["circuits"] == expected["circuits"]


def test_the_model_card_says_what_took_part():
    from insightome.audit.run_facts import quantum_model

    record = {
        "library": "pennylane 0.45.1", "simulator": "default.qubit", "mode": "analytic",
        "circuits": {}, "families": [{"family": "default"}], "winner_is_quantum": False,
    }  # fmt: skip
    classical = {"winner": {"name": "random_forest()", "family": "random_forest", "params": {}}}
    control = {"winner": {"name": "rbf", "family": "rbf_svm", "params": {"components": 8}}}
    # no quantum configuration estimated (failed on a fold, or skipped by the budget)
    nothing = {**record, "quantum_estimated": False}
    assert "none was fitted on every fold" in quantum_model({**classical, "quantum": nothing})
    text = quantum_model({**control, "quantum": nothing})
    assert "no quantum candidate was estimated" in text and "patient-level data" in text
    # quantum configurations estimated, a classical winner
    some = {
        **record, "quantum_estimated": True,
        "circuits": {"q(...)": {"family": "quantum_kernel_svm", "qubits": 8, "circuit": "IQP"}},
    }  # fmt: skip
    text = quantum_model({**classical, "quantum": some})
    assert "took part in the selection (quantum_kernel_svm on 8 qubit(s)" in text
    assert "PCA to at most 8" in quantum_model({**control, "quantum": some})
    assert quantum_model(classical) is None
