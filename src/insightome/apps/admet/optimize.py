"""Multi-objective molecular optimization with a graph-based genetic algorithm.

Starting from seed molecules, :func:`optimize` evolves a population with the graph operators
of :mod:`~insightome.apps.admet.mutations` (after Jensen's GB-GA, Chem Sci 2019, 10:3567,
doi:10.1039/C8SC05372C) and keeps what scores best on an :class:`Objective` read from YAML
(:mod:`~insightome.apps.admet.objective`, ``docs/optimize.md``).

Scoring, per molecule (all factors in [0, 1]):

* each objective *i* maps its value to a Derringer desirability *d_i*. Built-in properties
  (QED, MW, cLogP, TPSA, HBD, HBA, RotB, SA) are computed with RDKit; ADMET endpoints come
  from a :class:`PropertyPredictor` (binary endpoints on the probability of Y = 1);
* a predicted objective out of the predictor's applicability domain gets the factor
  ``1 - out_of_domain``; its uncertainty *u_i* the factor ``1 - uncertainty · u_i``. For a
  regression endpoint *u* is the conformal interval width relative to that of a model that
  knows nothing beyond the training mean, ``(upper - lower) / (2 z σ_y)`` with
  ``z = Φ⁻¹((1 + level) / 2)`` and σ_y the training SD of Y, capped at 1 (1 when there is no
  interval); for a binary endpoint *u* is 1 when the conformal prediction set is ``0,1`` (both
  labels plausible) or empty (neither: an atypical molecule), else 0;
* the synthetic accessibility (SA) factor is 1 up to ``sa_max`` and falls linearly to 0 at
  ``sa_zero``;
* score = (∏ d_i^w_i)^(1/∑ w_i) × ∏ penalties_i × SA factor. A single unacceptable property
  (d_i = 0) makes the score 0.

Search: the initial population is the seeds plus mutants of them. Each generation, parents
are drawn with probability proportional to their score rank (ties share their rank), a child
is the crossover of two parents, mutated with probability ``mutation_rate`` (a failed
crossover falls back to a mutant of the first parent). Children must sanitize, pass the
chemistry filters and be new (canonical SMILES never seen before); all new children of a
generation are scored with one ``predict`` call. The ``elites`` best of parents and children
survive, and the rest of the next population is drawn by rank without replacement. All random
draws come from one ``numpy`` generator seeded with ``search.seed``: the same inputs give the
same molecules.

The Pareto set holds the molecules, among every one scored, that no other molecule beats on
every objective's *penalized* desirability (d_i × its penalties × the SA factor), restricted
to those with a score above 0 when there are any. Each comes with its similarity to the
nearest seed (Tanimoto on Morgan radius-2, 2048-bit fingerprints). The molecules are
computational hypotheses: predictions, unvalidated, and unreliable out of domain.

The scoring itself is in :mod:`~insightome.apps.admet.molecule_scoring`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator
from scipy.stats import rankdata

from insightome.apps.admet.context import standardize_smiles
from insightome.apps.admet.molecule_scoring import (
    MoleculeScorer,
    PropertyPredictor,
    parse_smiles,
    score_molecules,
)
from insightome.apps.admet.mutations import crossover, mutate
from insightome.apps.admet.objective import Objective, ObjectiveTerm, SearchSettings, read_objective
from insightome.errors import UserError

__all__ = [
    "OptimizationResult",
    "PropertyPredictor",
    "optimize",
    "pareto_mask",
    "read_objective",
    "score_molecules",
    "similarity_to_seeds",
]

# -- messages ---------------------------------------------------------------------------
NO_SEEDS = "no seed molecules given. Give at least one valid SMILES to start from."
SEED_INVALID = "seed {index} ({smiles!r}) is not a valid SMILES. Fix or remove it."

ProgressCallback = Callable[[int, int, float], None]
"""Called after each generation with (generation, generations, best score so far)."""

MORGAN_RADIUS = 2
MORGAN_BITS = 2048


@dataclass
class OptimizationResult:
    """What :func:`optimize` found.

    ``pareto``, ``seeds`` and ``evaluated`` share the columns of :func:`score_molecules`;
    ``pareto`` and ``seeds`` add ``similarity_to_seeds``, ``nearest_seed`` (SMILES) and
    ``nearest_seed_name``, and every table has ``is_seed`` and ``generation`` (when the
    molecule was first made; seeds are generation 0). ``history`` has one row per generation
    (0 = the initial population).
    """

    pareto: pd.DataFrame
    history: pd.DataFrame
    seeds: pd.DataFrame
    evaluated: pd.DataFrame
    settings: dict[str, Any]
    counts: dict[str, int]
    seconds: float
    terms: tuple[ObjectiveTerm, ...] = field(default=())

    @property
    def best_score(self) -> float:
        return float(self.evaluated["score"].max())

    @property
    def best_seed_score(self) -> float:
        return float(self.seeds["score"].max())


def similarity_to_seeds(
    smiles: Sequence[str], seeds: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Max Tanimoto similarity (Morgan r=2, 2048 bits) of each molecule to the seeds.

    Returns (similarity in [0, 1], index of the most similar seed).
    """
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=MORGAN_RADIUS, fpSize=MORGAN_BITS)
    seed_fps = [generator.GetFingerprint(parse_smiles(s, i)) for i, s in enumerate(seeds)]
    best = np.zeros(len(smiles))
    nearest = np.zeros(len(smiles), dtype=int)
    for i, smi in enumerate(smiles):
        sims = DataStructs.BulkTanimotoSimilarity(
            generator.GetFingerprint(parse_smiles(smi, i)), seed_fps
        )
        nearest[i] = int(np.argmax(sims))
        best[i] = float(sims[nearest[i]])
    return best, nearest


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """True for the rows no other row dominates (all columns maximized; equal rows are kept)."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(-values.sum(axis=1), kind="stable")
    keep = np.zeros(len(values), dtype=bool)
    front = np.empty((0, values.shape[1]))
    for i in order:  # a dominator has a larger sum, so it is seen (or dominated) first
        row = values[i]
        dominated = np.any(np.all(front >= row, axis=1) & np.any(front > row, axis=1))
        if not dominated:
            keep[i] = True
            front = np.vstack([front, row])
    return keep


# -- the genetic algorithm ----------------------------------------------------------------


def _rank_probabilities(scores: np.ndarray) -> np.ndarray:
    """Selection probability proportional to the ascending rank (ties share the mean rank)."""
    ranks = rankdata(scores, method="average")
    return ranks / ranks.sum()


def _standardized_seeds(seeds: Sequence[str], names: Sequence[str] | None) -> dict[str, str]:
    """Canonical SMILES of each distinct standardized seed → its name (the first one given)."""
    if not seeds:
        raise UserError(NO_SEEDS)
    if names is None or len(names) != len(seeds):
        names = [f"seed {i + 1}" for i in range(len(seeds))]
    unique: dict[str, str] = {}
    for i, (smi, name) in enumerate(zip(seeds, names, strict=True)):
        try:
            canonical = Chem.MolToSmiles(Chem.MolFromSmiles(standardize_smiles(smi)))
        except (TypeError, ValueError):
            raise UserError(SEED_INVALID, index=i + 1, smiles=smi) from None
        unique.setdefault(canonical, str(name))
    return unique


def _progress_reporter(
    progress: bool | ProgressCallback | None, generations: int
) -> tuple[ProgressCallback | None, Callable[[], None]]:
    if progress is None or progress is False:
        return None, lambda: None
    if callable(progress):
        return progress, lambda: None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn("[bold]optimize[/] best {task.fields[best]:.3f}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("optimize", total=generations, best=0.0)
    bar.start()

    def update(generation: int, total: int, best: float) -> None:
        bar.update(task, completed=generation, best=best)

    return update, bar.stop


def optimize(
    seeds: list[str],
    objective: Objective,
    predictor: PropertyPredictor | None = None,
    *,
    progress: bool | ProgressCallback | None = None,
    seed_names: list[str] | None = None,
) -> OptimizationResult:
    """Evolve molecules from ``seeds`` to maximize ``objective`` (see the module docstring).

    ``predictor`` is needed when the objective uses ADMET endpoints (UserError otherwise).
    ``progress``: True shows a rich progress bar on stderr; a callable is called after each
    generation. ``seed_names`` label the seeds in the output (default: ``seed 1``, …).
    """
    started = time.perf_counter()
    search = objective.search
    scorer = MoleculeScorer(objective, predictor)
    standardized = _standardized_seeds(seeds, seed_names)
    seed_smiles = list(standardized)
    rng = np.random.default_rng(search.seed)
    mols: dict[str, Chem.Mol] = {s: Chem.MolFromSmiles(s) for s in seed_smiles}
    born: dict[str, int] = dict.fromkeys(seed_smiles, 0)
    counts = {"proposed": 0, "failed": 0, "duplicates": 0}

    def propose(make: Callable[[], Chem.Mol | None], generation: int) -> str | None:
        counts["proposed"] += 1
        child = make()
        if child is None:
            counts["failed"] += 1
            return None
        smi = Chem.MolToSmiles(child)
        if smi in born:
            counts["duplicates"] += 1
            return None
        born[smi] = generation
        mols[smi] = child
        return smi

    population = list(seed_smiles)
    for _ in range(20 * search.population):
        if len(population) >= search.population:
            break
        parent = mols[population[int(rng.integers(len(population)))]]
        smi = propose(lambda p=parent: mutate(p, rng, search.max_heavy_atoms), 0)
        if smi is not None:
            population.append(smi)
    scorer.evaluate(population, [mols[s] for s in population])
    report, stop = _progress_reporter(progress, search.generations)
    history = [_history_row(0, scorer, population, len(population), started)]
    try:
        for generation in range(1, search.generations + 1):
            scores = np.array([scorer.cache[s]["score"] for s in population])
            weights = _rank_probabilities(scores)
            children: list[str] = []
            for _ in range(5 * search.offspring):
                if len(children) >= search.offspring:
                    break
                i, j = rng.choice(len(population), size=2, p=weights)
                first, second = mols[population[int(i)]], mols[population[int(j)]]
                smi = propose(lambda a=first, b=second: _child(a, b, rng, search), generation)
                if smi is not None:
                    children.append(smi)
            scorer.evaluate(children, [mols[s] for s in children])
            population = _survivors(population + children, scorer, search, rng)
            alive = set(population)
            for smi in [s for s in mols if s not in alive]:
                del mols[smi]  # keep only the Mols that may still become parents
            history.append(_history_row(generation, scorer, population, len(children), started))
            if report is not None:
                report(generation, search.generations, history[-1]["best_score"])
    finally:
        stop()
    evaluated = scorer.table(list(born))
    evaluated.insert(1, "generation", list(born.values()))
    evaluated.insert(1, "is_seed", [s in standardized for s in born])
    return _result(objective, predictor, scorer, evaluated, standardized, history, counts, started)


def _child(
    first: Chem.Mol, second: Chem.Mol, rng: np.random.Generator, search: SearchSettings
) -> Chem.Mol | None:
    child = crossover(first, second, rng, search.max_heavy_atoms)
    if child is None:
        return mutate(first, rng, search.max_heavy_atoms)
    if rng.random() < search.mutation_rate:
        return mutate(child, rng, search.max_heavy_atoms) or child
    return child


def _survivors(
    pool: list[str], scorer: MoleculeScorer, search: SearchSettings, rng: np.random.Generator
) -> list[str]:
    """The elites by score, then the rest of the population drawn by rank without replacement."""
    if len(pool) <= search.population:
        return pool
    scores = np.array([scorer.cache[s]["score"] for s in pool])
    order = np.argsort(-scores, kind="stable")
    elites = [pool[i] for i in order[: search.n_elites]]
    rest = order[search.n_elites :]
    weights = _rank_probabilities(scores[rest])
    drawn = rng.choice(len(rest), size=search.population - len(elites), replace=False, p=weights)
    return elites + [pool[rest[int(k)]] for k in sorted(drawn)]


def _history_row(
    generation: int, scorer: MoleculeScorer, population: list[str], n_new: int, started: float
) -> dict[str, Any]:
    scores = np.array([scorer.cache[s]["score"] for s in population])
    best = max(scorer.cache.values(), key=lambda row: row["score"])
    return {
        "generation": generation,
        "best_score": float(best["score"]),
        "population_best": float(scores.max()),
        "population_mean": float(scores.mean()),
        "n_new": n_new,
        "n_evaluated": len(scorer.cache),
        "seconds": round(time.perf_counter() - started, 3),
        "best_smiles": best["smiles"],
    }


def _with_similarity(table: pd.DataFrame, seeds: dict[str, str]) -> pd.DataFrame:
    seed_list = list(seeds)
    similarity, nearest = similarity_to_seeds(table["smiles"].tolist(), seed_list)
    table = table.copy()
    table["similarity_to_seeds"] = similarity
    table["nearest_seed"] = [seed_list[k] for k in nearest]
    table["nearest_seed_name"] = [seeds[seed_list[k]] for k in nearest]
    return table


def _result(
    objective: Objective,
    predictor: PropertyPredictor | None,
    scorer: MoleculeScorer,
    evaluated: pd.DataFrame,
    seeds: dict[str, str],
    history: list[dict[str, Any]],
    counts: dict[str, int],
    started: float,
) -> OptimizationResult:
    columns = [f"{t.property}_score" for t in objective.terms]
    candidates = evaluated[evaluated["score"] > 0] if (evaluated["score"] > 0).any() else evaluated
    front = candidates[pareto_mask(candidates[columns].to_numpy())]
    pareto = _with_similarity(front, seeds).sort_values(
        ["score", "similarity_to_seeds"], ascending=False, kind="stable"
    )
    seed_table = _with_similarity(evaluated[evaluated["is_seed"]], seeds)
    seed_table.insert(1, "name", [seeds[s] for s in seed_table["smiles"]])
    settings = {
        "objective": objective.to_dict(),
        "predictor": None
        if predictor is None
        else {
            "type": type(predictor).__name__,
            "endpoints": list(predictor.endpoints),
            "level": float(predictor.level),
        },
        "seeds": [{"smiles": s, "name": n} for s, n in seeds.items()],
        "algorithm": "graph-based genetic algorithm after Jensen, Chem Sci 2019, 10:3567",
    }
    counts = {
        "evaluated": len(evaluated),
        "generated": int((~evaluated["is_seed"]).sum()),
        "pareto": len(pareto),
        "predict_calls": scorer.n_predict_calls,
        **counts,
    }
    return OptimizationResult(
        pareto=pareto.reset_index(drop=True),
        history=pd.DataFrame(history),
        seeds=seed_table.reset_index(drop=True),
        evaluated=evaluated,
        settings=settings,
        counts=counts,
        seconds=time.perf_counter() - started,
        terms=objective.terms,
    )
