"""Molecular optimization: objective validation, scoring penalties, the GA, report and CLI."""

from __future__ import annotations

import json
import math
import sys
import types

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("rdkit")

import typer
from rdkit import Chem
from rdkit.Chem import Crippen, Descriptors
from typer.testing import CliRunner

from insightome import errors
from insightome.apps.admet import objective as obj
from insightome.apps.admet import optimize_report
from insightome.apps.admet.molecule_scoring import ENDPOINT_NOT_PREDICTED, NEEDS_PREDICTOR
from insightome.apps.admet.mutations import acceptable
from insightome.apps.admet.objective import objective_from_dict, read_objective
from insightome.apps.admet.optimize import (
    OptimizationResult,
    optimize,
    pareto_mask,
    score_molecules,
    similarity_to_seeds,
)
from insightome.apps.admet.optimize_report import OUT_NOT_OURS, write_optimization
from insightome.cli.optimize import NO_VALID_SEEDS, optimize_command
from insightome.errors import UserError

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
PARACETAMOL = "CC(=O)Nc1ccc(O)cc1"
IMATINIB = "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1"  # MW 493.6
SEEDS = [ASPIRIN, PARACETAMOL]
MAX_HEAVY = 30

QED_CLOGP = {
    "objectives": [
        {"property": "QED", "goal": "maximize", "low": 0.3, "high": 0.95},
        {"property": "cLogP", "goal": "target", "low": 1, "high": 5, "target": [2.5, 3.5]},
    ],
    "search": {
        "generations": 8,
        "population": 30,
        "offspring": 60,
        "seed": 0,
        "max_heavy_atoms": MAX_HEAVY,
    },
}


class FakeBundle:
    """A deterministic stand-in for an ADMET bundle (the PropertyPredictor protocol).

    Solubility is a linear function of cLogP and MW with a ±1 log unit interval; hERG is a
    logistic function of cLogP. Molecules heavier than ``ood_mw`` are out of domain.
    """

    def __init__(self, ood_mw: float = 400.0) -> None:
        self.endpoints = ["solubility_aqsoldb", "herg"]
        self.level = 0.9
        self.y_scale = {"solubility_aqsoldb": 2.0}
        self.ood_mw = ood_mw
        self.calls: list[int] = []

    def predict(self, smiles: list[str]) -> pd.DataFrame:
        self.calls.append(len(smiles))
        rows = []
        for smi in smiles:
            mol = Chem.MolFromSmiles(smi)
            logp, mw = Crippen.MolLogP(mol), Descriptors.MolWt(mol)
            sol = 0.5 - 0.8 * logp - 0.005 * mw
            herg = 1 / (1 + math.exp(-(logp - 3)))
            herg_set = "1" if herg > 0.7 else "0" if herg < 0.3 else "0,1"
            domain = mw <= self.ood_mw
            rows.append(
                {
                    "valid": True,
                    "solubility_aqsoldb": sol,
                    "solubility_aqsoldb_lower": sol - 1,
                    "solubility_aqsoldb_upper": sol + 1,
                    "solubility_aqsoldb_set": "",
                    "solubility_aqsoldb_similarity": 0.5,
                    "solubility_aqsoldb_in_domain": domain,
                    "solubility_aqsoldb_clipped": False,
                    "herg": herg,
                    "herg_lower": np.nan,
                    "herg_upper": np.nan,
                    "herg_set": herg_set,
                    "herg_similarity": 0.5,
                    "herg_in_domain": domain,
                    "herg_clipped": False,
                }
            )
        return pd.DataFrame(rows)


ADMET_OBJECTIVE = {
    "objectives": [
        {"property": "solubility_aqsoldb", "goal": "maximize", "low": -8, "high": -1},
        {"property": "hERG", "goal": "minimize", "low": 0.1, "high": 0.9},
    ],
    "penalties": {"out_of_domain": 0.5, "uncertainty": 0.5, "sa_max": None},
}


@pytest.fixture(scope="module")
def qed_run() -> OptimizationResult:
    return optimize(SEEDS, objective_from_dict(QED_CLOGP))


# -- the genetic algorithm ---------------------------------------------------------------


def test_optimization_improves_on_the_seeds_and_is_reproducible(qed_run) -> None:
    assert qed_run.best_score > qed_run.best_seed_score + 0.2
    history = qed_run.history
    assert list(history["generation"]) == list(range(9))
    assert history["best_score"].is_monotonic_increasing
    assert history["population_mean"].iloc[-1] > history["population_mean"].iloc[0]
    again = optimize(SEEDS, objective_from_dict(QED_CLOGP))
    assert again.pareto["smiles"].tolist() == qed_run.pareto["smiles"].tolist()
    assert again.evaluated["smiles"].tolist() == qed_run.evaluated["smiles"].tolist()
    other = objective_from_dict({**QED_CLOGP, "search": {**QED_CLOGP["search"], "seed": 1}})
    assert optimize(SEEDS, other).evaluated["smiles"].tolist() != again.evaluated["smiles"].tolist()


def test_every_generated_molecule_is_valid_new_and_small_enough(qed_run) -> None:
    generated = qed_run.evaluated[~qed_run.evaluated["is_seed"]]
    assert len(generated) > 300
    assert generated["smiles"].is_unique
    assert not set(generated["smiles"]) & set(qed_run.seeds["smiles"])
    for smiles in generated["smiles"]:
        mol = Chem.MolFromSmiles(smiles)
        assert mol is not None, smiles
        assert Chem.MolToSmiles(mol) == smiles  # canonical
        assert mol.GetNumHeavyAtoms() <= MAX_HEAVY
        assert acceptable(mol, MAX_HEAVY)
    assert qed_run.counts["evaluated"] == len(qed_run.evaluated)
    assert ((qed_run.evaluated["score"] >= 0) & (qed_run.evaluated["score"] <= 1)).all()


def test_pareto_set_is_non_dominated_with_similarity_to_seeds() -> None:
    conflicting = objective_from_dict(
        {
            "objectives": [
                {"property": "QED", "goal": "maximize", "low": 0.2, "high": 0.95},
                {"property": "TPSA", "goal": "maximize", "low": 20, "high": 140},
                {"property": "cLogP", "goal": "maximize", "low": 0, "high": 5},
            ],
            "search": {"generations": 4, "population": 20, "offspring": 40, "seed": 3},
        }
    )
    result = optimize(SEEDS, conflicting, seed_names=["aspirin", "paracetamol"])
    columns = ["QED_score", "TPSA_score", "cLogP_score"]
    front = result.pareto[columns].to_numpy()
    assert len(front) >= 2
    for a in front:
        for b in front:
            assert not (np.all(b >= a) and np.any(b > a)), (a, b)
    # every acceptable (score > 0) molecule outside the front is dominated by a front member
    assert (result.pareto["score"] > 0).all()
    evaluated = result.evaluated[result.evaluated["score"] > 0]
    outside = evaluated[~evaluated["smiles"].isin(result.pareto["smiles"])]
    for row in outside[columns].to_numpy()[:200]:
        assert np.any(np.all(front >= row, axis=1) & np.any(front > row, axis=1))
    assert result.pareto["score"].is_monotonic_decreasing
    similarity = result.pareto["similarity_to_seeds"]
    assert ((similarity >= 0) & (similarity <= 1)).all()
    assert set(result.pareto["nearest_seed_name"]) <= {"aspirin", "paracetamol"}
    assert result.seeds["similarity_to_seeds"].tolist() == [1.0, 1.0]
    assert result.seeds["name"].tolist() == ["aspirin", "paracetamol"]
    sims, nearest = similarity_to_seeds([PARACETAMOL, "CCCCCCCC"], SEEDS)
    assert sims[0] == 1.0 and nearest[0] == 1 and 0 <= sims[1] < 0.2


def test_pareto_mask_small_cases() -> None:
    values = np.array([[1, 0], [0, 1], [0.5, 0.5], [0.4, 0.4], [1, 0]])
    assert pareto_mask(values).tolist() == [True, True, True, False, True]


# -- scoring and penalties ---------------------------------------------------------------


def test_out_of_domain_predictions_cost_the_stated_factor() -> None:
    objective = objective_from_dict(ADMET_OBJECTIVE)
    molecules = [ASPIRIN, PARACETAMOL, IMATINIB]
    flagged = score_molecules(molecules, objective, FakeBundle(ood_mw=400))
    trusted = score_molecules(molecules, objective, FakeBundle(ood_mw=math.inf))
    heavy = flagged["smiles"].map(lambda s: Descriptors.MolWt(Chem.MolFromSmiles(s)) > 400)
    assert heavy.tolist() == [False, False, True]
    assert flagged["n_out_of_domain"].tolist() == [0, 0, 2]
    ratio = flagged["score"] / trusted["score"]
    # two predicted objectives out of domain: (1 - 0.5) each
    np.testing.assert_allclose(ratio, [1.0, 1.0, 0.25])
    for p in ("solubility_aqsoldb", "herg"):
        per_objective = flagged[f"{p}_penalty"] / trusted[f"{p}_penalty"]
        np.testing.assert_allclose(per_objective, [1.0, 1.0, 0.5])
        assert flagged[f"{p}_in_domain"].tolist() == [True, True, False]


def test_uncertainty_penalty_and_score_formula() -> None:
    objective = objective_from_dict(ADMET_OBJECTIVE)
    table = score_molecules([ASPIRIN], objective, FakeBundle())
    row = table.iloc[0]
    # regression: interval width 2 relative to 2 z sd_y with z = 1.645 (90%), sd_y = 2
    u = 2 / (2 * 1.6448536269514722 * 2.0)
    assert row["solubility_aqsoldb_uncertainty"] == pytest.approx(u)
    assert row["solubility_aqsoldb_penalty"] == pytest.approx(1 - 0.5 * u)
    expected_u = 0.0 if row["herg_set"] in ("0", "1") else 1.0
    assert row["herg_uncertainty"] == expected_u
    d = [row["solubility_aqsoldb_desirability"], row["herg_desirability"]]
    assert row["score"] == pytest.approx(math.sqrt(d[0] * d[1]) * row["penalty"])
    assert row["sa_factor"] == 1.0  # sa_max: null switches the SA penalty off


def test_sa_penalty_ramps_down() -> None:
    penalties = obj.Penalties(sa_max=4.5, sa_zero=6.5)
    np.testing.assert_allclose(penalties.sa_factor([2.0, 4.5, 5.5, 6.5, 9.0]), [1, 1, 0.5, 0, 0])


def test_desirability_ramps() -> None:
    up = obj.ObjectiveTerm("QED", "maximize", 0.2, 0.6)
    np.testing.assert_allclose(up.desirability([0.1, 0.4, 0.9, np.nan]), [0, 0.5, 1, 0])
    down = obj.ObjectiveTerm("MW", "minimize", 300, 500)
    np.testing.assert_allclose(down.desirability([250, 400, 600]), [1, 0.5, 0])
    window = obj.ObjectiveTerm("cLogP", "target", 0, 6, target=(2, 3))
    np.testing.assert_allclose(window.desirability([-1, 1, 2.5, 4.5, 7]), [0, 0.5, 1, 0.5, 0])


def test_optimize_with_a_predictor_calls_it_once_per_generation() -> None:
    bundle = FakeBundle()
    objective = objective_from_dict(
        {**ADMET_OBJECTIVE, "search": {"generations": 3, "population": 12, "offspring": 15}}
    )
    result = optimize(SEEDS, objective, bundle)
    assert len(bundle.calls) == result.counts["predict_calls"] == 4
    assert sum(bundle.calls) == result.counts["evaluated"]
    assert {"herg_in_domain", "herg_set", "solubility_aqsoldb_lower"} <= set(result.pareto)


def test_endpoints_need_a_predictor_that_predicts_them() -> None:
    objective = objective_from_dict(ADMET_OBJECTIVE, source="obj.yaml")
    with pytest.raises(UserError) as caught:
        optimize(SEEDS, objective)
    assert caught.value.template == NEEDS_PREDICTOR
    assert str(caught.value).startswith("obj.yaml: ")
    partial = FakeBundle()
    partial.endpoints = ["herg"]
    with pytest.raises(UserError) as caught:
        optimize(SEEDS, objective, partial)
    assert caught.value.template == ENDPOINT_NOT_PREDICTED
    assert "objectives[0].property 'solubility_aqsoldb'" in str(caught.value)


# -- objective validation ----------------------------------------------------------------

GOOD_TERM = "  - {property: QED, goal: maximize, low: 0.3, high: 0.8}\n"


@pytest.mark.parametrize(
    ("text", "template", "fragment"),
    [
        (
            "objectives:\n  - {property: solubility_aqsol, goal: maximize, low: -6, high: -2}\n",
            obj.OBJECTIVE_UNKNOWN_PROPERTY,
            "Did you mean: 'solubility_aqsoldb'",
        ),
        (
            "objectives:\n  - {property: QED, goal: maximize, low: 0.8, high: 0.3}\n",
            obj.OBJECTIVE_LOW_HIGH,
            "objectives[0] has low = 0.8 >= high = 0.3",
        ),
        (
            "objectives:\n  - {property: QED, goal: maximise, low: 0.3, high: 0.8}\n",
            obj.OBJECTIVE_BAD_GOAL,
            "Did you mean: 'maximize'",
        ),
        (
            "objectives:\n" + GOOD_TERM + "search:\n  generation: 5\n",
            obj.OBJECTIVE_UNKNOWN_KEY,
            "unknown key 'generation' in search. Did you mean: 'generations'",
        ),
        (
            "objectives:\n  - {property: herg, goal: minimize, low: 20, high: 60}\n",
            obj.OBJECTIVE_PROBABILITY,
            "objectives[0]",
        ),
        (
            "objectives:\n  - {property: QED, goal: maximize, low: 0.3, high: 0.8, target: 1}\n",
            obj.OBJECTIVE_TARGET_ONLY,
            "objectives[0].target",
        ),
        (
            "objectives:\n  - {property: cLogP, goal: target, low: 0, high: 5, target: [4, 6]}\n",
            obj.OBJECTIVE_BAD_TARGET,
            "objectives[0].target",
        ),
        (
            "objectives:\n  - {property: QED, goal: maximize, high: 0.8}\n",
            obj.OBJECTIVE_KEY_MISSING,
            "objectives[0] has no 'low'",
        ),
        (
            "objectives:\n  - {property: QED, goal: maximize, low: abc, high: 0.8}\n",
            obj.OBJECTIVE_NOT_NUMBER,
            "objectives[0].low is 'abc'",
        ),
        ("objectives:\n" + GOOD_TERM + GOOD_TERM, obj.OBJECTIVE_DUPLICATE, "objectives[1]"),
        ("objectives: []\n", obj.OBJECTIVE_NO_OBJECTIVES, "'objectives' is missing"),
        (
            "objectives:\n" + GOOD_TERM + "penalties: {out_of_domain: 2}\n",
            obj.OBJECTIVE_OUT_OF_RANGE,
            "penalties.out_of_domain is 2.0",
        ),
        (
            "objectives:\n" + GOOD_TERM + "search: {population: 10.5}\n",
            obj.OBJECTIVE_NOT_INTEGER,
            "search.population",
        ),
        ("objectives: [\n", obj.OBJECTIVE_YAML_INVALID, "not valid YAML"),
        ("- just a list\n", obj.OBJECTIVE_NOT_MAPPING, "the file must be a mapping"),
    ],
)
def test_objective_errors_name_the_file_and_key(tmp_path, text, template, fragment) -> None:
    path = tmp_path / "objective.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        read_objective(path)
    message = str(caught.value)
    assert caught.value.template == template
    assert message.startswith(f"{path}: ")
    assert fragment in message
    assert "\n" not in message


def test_missing_objective_file(tmp_path) -> None:
    with pytest.raises(UserError) as caught:
        read_objective(tmp_path / "nope.yaml")
    assert caught.value.template == errors.FILE_MISSING


def test_objective_defaults_and_round_trip(tmp_path) -> None:
    path = tmp_path / "o.yaml"
    path.write_text(
        "objectives:\n  - {property: Solubility_AqSolDB, goal: maximize, low: -6, high: -2}\n"
        "  - {property: clogp, goal: target, low: 0, high: 5}\n"
    )
    objective = read_objective(path)
    assert [t.property for t in objective.terms] == ["solubility_aqsoldb", "cLogP"]
    assert objective.terms[1].target == (2.5, 2.5)
    assert objective.endpoints == ["solubility_aqsoldb"]
    assert objective.search.n_elites == 10
    again = objective_from_dict(
        {k: v for k, v in objective.to_dict().items() if k != "source"}, source=str(path)
    )
    assert (again.terms, again.penalties) == (objective.terms, objective.penalties)
    assert again.search.n_elites == objective.search.n_elites  # written out as the value used


# -- report ------------------------------------------------------------------------------


def test_write_optimization_is_atomic_and_complete(qed_run, tmp_path, monkeypatch) -> None:
    out = tmp_path / "result"
    report = write_optimization(qed_run, out)
    assert report == out / "report.html"
    assert sorted(p.name for p in out.iterdir()) == [
        "history.csv",
        "pareto.csv",
        "report.html",
        "result.json",
        "seeds.csv",
    ]
    html = report.read_text()
    assert 'class="pareto-table"' in html and "Pareto set" in html
    assert qed_run.pareto["smiles"].iloc[0] in html
    assert "computational hypotheses" in html.lower() and "applicability domain" in html
    assert "data:image/png;base64," in html and "data:image/svg+xml;base64," in html
    data = json.loads((out / "result.json").read_text())
    assert data["schema"] == optimize_report.SCHEMA
    assert len(data["pareto"]) == len(pd.read_csv(out / "pareto.csv"))
    assert [p.name for p in tmp_path.iterdir()] == ["result"]  # no temp dir left

    # a failure while writing leaves the previous output untouched and no temp dir behind
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(optimize_report, "render_optimization_html", broken)
    with pytest.raises(RuntimeError):
        write_optimization(qed_run, out)
    assert (out / "report.html").read_text() == html
    assert [p.name for p in tmp_path.iterdir()] == ["result"]
    monkeypatch.undo()
    write_optimization(qed_run, out)  # an earlier output is replaced
    assert [p.name for p in tmp_path.iterdir()] == ["result"]


def test_write_optimization_refuses_a_foreign_directory(qed_run, tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError) as caught:
        write_optimization(qed_run, tmp_path)
    assert caught.value.template == OUT_NOT_OURS
    assert (tmp_path / "notes.txt").read_text() == "mine"


# -- CLI ---------------------------------------------------------------------------------

SMALL_YAML = """objectives:
  - {property: QED, goal: maximize, low: 0.3, high: 0.9}
search: {generations: 2, population: 10, offspring: 12, seed: 0}
"""


@pytest.fixture
def cli():
    app = typer.Typer()
    app.command("optimize")(optimize_command)
    app.command("noop")(lambda: None)  # two commands, so 'optimize' is a subcommand
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["optimize", *map(str, args)])


def test_cli_writes_the_report_and_skips_invalid_seeds(cli, tmp_path) -> None:
    seeds = tmp_path / "seeds.smi"
    seeds.write_text(f"{ASPIRIN} aspirin\nnot_a_smiles broken\n{PARACETAMOL} paracetamol\n")
    objective = tmp_path / "objective.yaml"
    objective.write_text(SMALL_YAML)
    out = tmp_path / "out"
    result = cli(seeds, "--objective", objective, "--out", out, "--generations", 1)
    assert result.exit_code == 0, result.output
    assert "skipped 1 seed" in result.stderr and "row 2" in result.stderr
    assert "Report:" in result.stdout
    assert (out / "report.html").is_file()
    data = json.loads((out / "result.json").read_text())
    assert data["settings"]["objective"]["search"]["generations"] == 1
    assert [s["name"] for s in data["settings"]["seeds"]] == ["aspirin", "paracetamol"]


def test_cli_loads_the_bundle_for_admet_objectives(cli, tmp_path, monkeypatch) -> None:
    loaded: list[str | None] = []

    def load_bundle(path: str | None) -> FakeBundle:
        loaded.append(path)
        return FakeBundle()

    module = types.ModuleType("insightome.apps.admet.bundle")
    module.load_bundle = load_bundle  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "insightome.apps.admet.bundle", module)
    seeds = tmp_path / "seeds.smi"
    seeds.write_text(f"{ASPIRIN}\n")
    objective = tmp_path / "objective.yaml"
    objective.write_text(
        "objectives:\n  - {property: herg, goal: minimize, low: 0.2, high: 0.6}\n"
        "search: {generations: 1, population: 6, offspring: 6}\n"
    )
    result = cli(seeds, "--objective", objective, "--out", tmp_path / "o", "--quiet")
    assert result.exit_code == 0, result.output
    assert loaded == [None]
    assert result.stdout.strip().endswith("report.html")


@pytest.mark.parametrize(
    "case", ["bad_objective", "missing_seeds", "no_valid_seeds", "no_bundle", "no_bundle_code"]
)
def test_cli_bad_input_exits_2_with_one_line(cli, tmp_path, monkeypatch, case) -> None:
    seeds = tmp_path / "seeds.smi"
    seeds.write_text(f"{ASPIRIN}\n")
    objective = tmp_path / "objective.yaml"
    objective.write_text(SMALL_YAML)
    expected = ""
    if case == "bad_objective":
        objective.write_text("objectives:\n  - {property: QED, goal: maximize, low: 1, high: 0}\n")
        expected = "objectives[0] has low = 1.0 >= high = 0.0"
    elif case == "missing_seeds":
        seeds = tmp_path / "absent.smi"
        expected = "file not found"
    elif case == "no_valid_seeds":
        seeds.write_text("xyz\nC1CC\n")
        expected = NO_VALID_SEEDS.split("{n}")[0].replace("{path}", str(seeds))
    elif case == "no_bundle_code":
        monkeypatch.setitem(sys.modules, "insightome.apps.admet.bundle", None)
        objective.write_text("objectives:\n  - {property: herg, goal: minimize, low: 0, high: 1}\n")
        expected = "no ADMET bundle support"
    else:

        def load_bundle(path: str | None) -> FakeBundle:
            raise UserError("no ADMET bundle is fitted yet. Fit one first.")

        module = types.ModuleType("insightome.apps.admet.bundle")
        module.load_bundle = load_bundle  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "insightome.apps.admet.bundle", module)
        objective.write_text("objectives:\n  - {property: herg, goal: minimize, low: 0, high: 1}\n")
        expected = "no ADMET bundle is fitted yet"
    result = cli(seeds, "--objective", objective, "--out", tmp_path / "o")
    assert result.exit_code == errors.EXIT_USER_ERROR, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert expected in lines[0]
    assert not (tmp_path / "o").exists()


def test_cli_rejects_bad_option_values(cli, tmp_path) -> None:
    objective = tmp_path / "objective.yaml"
    objective.write_text(SMALL_YAML)
    result = cli(tmp_path / "s.smi", "--objective", objective, "--generations", 0)
    assert result.exit_code == 2
