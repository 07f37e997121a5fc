"""The quantum candidates' record (results.json ``quantum``, ``--candidates …,quantum``;
docs/quantum.md): the simulator and its mode, each quantum configuration's circuit, every
family's own BBC-CV estimate side by side, and what the simulation cost
(:mod:`insightome.stages.candidate_sets`)."""

from __future__ import annotations

from insightome.results.fields import CI95, MaybeNumber, Number, Record, optional


class Circuit(Record):
    """One quantum configuration: the circuit in words, qubits, reduction, simulator."""

    family: str
    circuit: str
    qubits: int
    reduction: str
    simulator: str
    mode: str
    shots: int | None  # None: analytic (exact statevector)


class FamilyEstimate(Record):
    """One family's own selection, estimated by BBC-CV on the run's out-of-fold predictions
    (``default``: the preset's classical candidates; ``rbf_svm``: the classical control)."""

    family: str
    configurations: list[str]
    best: str
    plain_cv_value: MaybeNumber
    value: MaybeNumber
    ci95: CI95
    run_selection_frequency: Number  # share of the run's BBC-CV bootstraps it won
    fit_seconds: Number
    n_fits: int


class FamilyNotEstimated(Record):
    """A family of the run's candidates with no configuration fitted on every fold."""

    family: str
    reason: str


class SimulationCost(Record):
    """Time of the quantum configurations' CV fits (one core each) and its energy and
    carbon (null without a ledger)."""

    fit_seconds: Number
    energy_kwh: MaybeNumber
    carbon_g: MaybeNumber
    method: str


class QuantumCandidates(Record):
    """``--candidates …,quantum``: what was simulated, how, and how the families compare."""

    library: str
    simulator: str
    mode: str
    shots: int | None
    circuits: dict[str, Circuit]  # configuration name → its circuit
    families: list[FamilyEstimate]
    families_not_estimated: list[FamilyNotEstimated]
    winner_family: str
    winner_is_quantum: bool
    quantum_estimated: bool  # some quantum configuration was fitted on every fold
    winner_qubits: int = optional()  # the refitted quantum winner's qubits (after PCA)
    simulation_cost: SimulationCost
    question: str
