"""The run's candidate sets (``--candidates``): the preset's classical candidates
(``default``) and/or the quantum set, built in the plan stage; with the quantum set, after
the estimate, the families side by side (results.json ``quantum``).

The quantum configurations are ordinary candidates: the same folds, fit engine, BBC-CV
selection and estimate as the classical ones (:mod:`insightome.models.quantum`). What this
module adds is the record a reader needs to judge them: the circuits, the qubit count, the
simulator and its mode; each family's own BBC-CV estimate
(:func:`insightome.evaluate.families.family_estimates`) beside the classical control (the RBF
SVM on the same reduced features) and the default candidates; and what the simulation cost
in time, energy and carbon, with the run's energy constants.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from insightome import errors
from insightome.errors import UserError
from insightome.evaluate.bbc import estimator_arguments
from insightome.evaluate.families import family_estimates
from insightome.models.candidates import (
    QUANTUM_TASKS,
    Candidate,
    candidate_sets,
    candidates,
    quantum_candidates,
)
from insightome.models.ensemble import FAMILY as ENSEMBLE_FAMILY
from insightome.models.quantum import (
    CONTROL_FAMILY,
    QUANTUM_FAMILIES,
    QUBITS,
    SIMULATION,
    SIMULATOR,
    QubitReduction,
    circuit_description,
    require_pennylane,
)
from insightome.stages.state import RunState

__all__ = ["QUESTION", "add_quantum", "chosen_sets", "fitted_qubits", "quantum_summary"]

QUESTION = (
    "Each family's BBC-CV estimate is the estimate of selecting among its own configurations "
    "(the same out-of-fold predictions and bootstraps as the run's winner); the RBF SVM sees "
    "the same PCA-reduced features as the quantum models, so it answers whether the quantum "
    "kernel adds anything a classical kernel on the same inputs does not."
)


def chosen_sets(state: RunState, n_numeric: int) -> list[Candidate]:
    """The candidates of the sets ``--candidates`` names: the preset's classical ones
    (``default``) and/or the quantum set."""
    o, made = state.options, state.require("study")
    sets = candidate_sets(o.candidates)
    cands = (
        candidates(made.spec.task, n_numeric, o.preset, n_samples=made.n_samples)
        if "default" in sets
        else []
    )
    return add_quantum(state, cands) if "quantum" in sets else cands


def add_quantum(state: RunState, cands: list[Candidate]) -> list[Candidate]:
    """The run's candidates plus the quantum set (the extra and the task checked first, in
    one line each)."""
    made = state.require("study")
    task = made.spec.task
    if task not in QUANTUM_TASKS:
        raise UserError(
            errors.OPTION_INVALID,
            option="--candidates",
            reason=f"the quantum candidates are classifiers, and this outcome is a {task} "
            "outcome; drop quantum from --candidates",
        )
    version = require_pennylane()
    n_columns = int(made.features.shape[1])
    quantum = quantum_candidates(task, n_columns)
    q = int(quantum[0].params["qubits"])
    state.log(
        f"--candidates quantum: {len(quantum)} configurations (quantum-kernel SVM, variational "
        f"classifier, RBF-SVM control) on {q} qubits after PCA inside each training fold; "
        f"PennyLane {version} {SIMULATOR}, {SIMULATION}"
    )
    if q < QUBITS:
        made.notes.append(
            f"quantum candidates: {q} qubit(s), one per feature (the table has {n_columns} "
            f"feature(s); {QUBITS} otherwise)"
        )
    return [*cands, *quantum]


def quantum_summary(state: RunState) -> dict[str, Any]:
    """results.json ``quantum``: circuits, simulator, families side by side, cost."""
    o, made, cv = state.options, state.require("study"), state.require("cv")
    cands, bbc, ledger = state.require("candidates"), state.require("bbc"), state.ledger
    names = [c.name for c in cands]
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(cands):
        if c.family == ENSEMBLE_FAMILY:  # not a family of its own (--ensemble)
            continue
        family = c.family if c.family in (*QUANTUM_FAMILIES, CONTROL_FAMILY) else "default"
        groups.setdefault(family, []).append(i)
    families = family_estimates(
        cv.oof, made.y, made.spec.task, names, groups, bbc,
        fit_seconds=cv.fit_seconds, n_fits=cv.n_fits, n_bootstrap=o.n_bootstrap,
        seed=o.seed, groups=made.groups, thresholds=state.thresholds,
        estimator=estimator_arguments(
            o.bbc_pooling, o.bbc_interval, state.require("plan").splits, len(made.y)
        ),
    )  # fmt: skip
    circuits = {}
    for c in cands:
        if c.family in QUANTUM_FAMILIES and c.name not in circuits:
            circuits[c.name] = circuit_description(c.family, c.params)
    # every quantum configuration's CV fits, estimated or not (one that failed on a fold
    # still cost its fits); refits, permutations and discovery are in the ledger's stages
    quantum = [i for i, c in enumerate(cands) if c.family in QUANTUM_FAMILIES]
    seconds = float(cv.fit_seconds[quantum].sum()) if quantum else 0.0
    kwh = (
        None
        if ledger is None
        else seconds * ledger.core_power_w * ledger.pue / 3.6e6  # one core per fit
    )
    estimated = {f.family for f in families}
    skipped = " ".join(map(str, (state.budget_info or {}).get("skipped", ())))
    not_estimated = [
        {
            "family": family,
            "reason": (
                "no configuration of it was fitted on every fold (the run's warnings say why)"
                if family in groups
                else f"skipped by the compute budget ({o.budget})"
                if f"candidate {family}(" in skipped
                else "not among the run's candidates"
            ),
        }
        for family in ("default", *QUANTUM_FAMILIES, CONTROL_FAMILY)
        if family not in estimated and (family != "default" or "default" in groups)
    ]
    winner = state.require("winner")
    return {
        "library": f"pennylane {require_pennylane()}",
        "simulator": SIMULATOR,
        "mode": SIMULATION,
        "shots": None,
        "circuits": circuits,
        "families": [f.to_dict() for f in families],
        "families_not_estimated": not_estimated,
        "winner_family": winner.family,
        # an average of the top configurations (--ensemble) with a quantum one among them
        "winner_is_quantum": any(
            c.family in QUANTUM_FAMILIES for c in getattr(winner, "members", ()) or (winner,)
        ),
        "quantum_estimated": any(f.family in QUANTUM_FAMILIES for f in families),
        "simulation_cost": {
            "fit_seconds": seconds,
            "energy_kwh": kwh,
            "carbon_g": None if kwh is None else kwh * ledger.carbon_intensity,
            "method": "wall-clock time of the quantum configurations' cross-validation fits "
            "(one core each) x the run's power per core x PUE; the final refit, permutations "
            "and discovery refits are in the energy ledger's stages",
        },
        "question": QUESTION,
    }


def fitted_qubits(model: Any) -> int | None:
    """The qubits the refitted winner's circuit got (its :class:`QubitReduction`'s
    ``n_components_``: fewer than asked for when the data allow fewer), or None."""
    seen: set[int] = set()
    todo = [model]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, QubitReduction):
            return int(obj.n_components_)
        if isinstance(obj, Pipeline):
            todo.extend(step for _, step in obj.steps)
        elif isinstance(obj, BaseEstimator):
            for k, v in vars(obj).items():
                if k.endswith("_") or k == "estimator":  # an average's members_: a list
                    todo.extend(v if isinstance(v, list) else [v])
    return None
