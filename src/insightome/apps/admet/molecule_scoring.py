"""Scoring molecules on an :class:`~insightome.apps.admet.objective.Objective`.

:class:`MoleculeScorer` computes, per molecule, each objective's value (RDKit for built-in
properties, a :class:`PropertyPredictor` for ADMET endpoints), its Derringer desirability,
the out-of-domain and uncertainty penalties and the SA factor, and the score (the formulas
are in :mod:`insightome.apps.admet.optimize`'s docstring); it calls the predictor once per
batch and caches rows by canonical SMILES. :func:`score_molecules` scores a list once.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist
from typing import Any, Protocol

import numpy as np
import pandas as pd
from rdkit import Chem

from insightome.apps.admet.context import physchem_properties, sa_score
from insightome.apps.admet.objective import Objective, ObjectiveTerm
from insightome.errors import UserError

NEEDS_PREDICTOR = (
    "{path}: the objectives use ADMET endpoint(s) {names}, which need a fitted ADMET bundle. "
    "Fit one first, or pass its directory with --bundle."
)
ENDPOINT_NOT_PREDICTED = (
    "{path}: {where}.property '{name}' is not predicted by the ADMET bundle (it predicts "
    "{available}). Use a bundle fitted on that endpoint, or drop the objective."
)


class PropertyPredictor(Protocol):
    """What :func:`optimize` needs from a predictor (an ADMET bundle satisfies it).

    ``predict`` returns one row per SMILES, in order, with a ``valid`` column and per endpoint
    ``ep``: ``ep`` (value, or P(Y=1) for a binary endpoint), ``ep_lower``/``ep_upper``
    (regression conformal interval), ``ep_set`` (binary conformal set: ``"0"``, ``"1"``,
    ``"0,1"`` or ``""``), ``ep_similarity`` and ``ep_in_domain``.
    """

    endpoints: list[str]
    level: float
    y_scale: dict[str, float]

    def predict(self, smiles: list[str]) -> pd.DataFrame: ...


class MoleculeScorer:
    """Scores molecules against an objective, one predictor call per batch, cached by SMILES."""

    def __init__(self, objective: Objective, predictor: PropertyPredictor | None) -> None:
        self.objective = objective
        self.predictor = predictor
        self.columns = _predictor_columns(objective, predictor)
        self.cache: dict[str, dict[str, Any]] = {}
        self.n_predict_calls = 0

    def evaluate(self, smiles: Sequence[str], mols: Sequence[Chem.Mol]) -> None:
        """Score the molecules not yet in the cache (canonical SMILES with their Mols)."""
        todo = [(s, m) for s, m in zip(smiles, mols, strict=True) if s not in self.cache]
        if not todo:
            return
        table = self._score([s for s, _ in todo], [m for _, m in todo])
        for smi, row in zip(table["smiles"], table.to_dict("records"), strict=True):
            self.cache[smi] = row

    def table(self, smiles: Sequence[str]) -> pd.DataFrame:
        return pd.DataFrame([self.cache[s] for s in smiles])

    def _score(self, smiles: list[str], mols: list[Chem.Mol]) -> pd.DataFrame:
        objective, n = self.objective, len(smiles)
        builtins = [t.property for t in objective.terms if t.is_builtin and t.property != "SA"]
        physchem = physchem_properties(mols, builtins) if builtins else pd.DataFrame()
        sa = sa_score(mols) if mols else np.zeros(0)
        predicted = pd.DataFrame(index=range(n))
        if self.columns:
            assert self.predictor is not None
            predicted = self.predictor.predict(list(smiles)).reset_index(drop=True)
            self.n_predict_calls += 1
            if len(predicted) != n:
                raise ValueError(f"predictor returned {len(predicted)} rows for {n} molecules")
        valid = _bool(predicted["valid"]) if "valid" in predicted else np.ones(n, bool)
        sa_factor = objective.penalties.sa_factor(sa)
        out: dict[str, Any] = {"smiles": list(smiles)}
        log_sum, weight_sum = np.zeros(n), 0.0
        penalty = sa_factor.copy()
        n_ood = np.zeros(n, dtype=int)
        for term in objective.terms:
            p = term.property
            if term.is_builtin:
                values = sa if p == "SA" else physchem[p].to_numpy(float)
                factor = np.ones(n)
            else:
                values, factor, in_domain = self._predicted(term, predicted, valid, out)
                n_ood += ~in_domain
            d = term.desirability(values)
            out[p] = values
            out[f"{p}_desirability"] = d
            out[f"{p}_penalty"] = factor
            out[f"{p}_score"] = d * factor * sa_factor
            with np.errstate(divide="ignore"):
                log_sum += term.weight * np.log(d)
            weight_sum += term.weight
            penalty *= factor
        out["SA"] = sa
        out["sa_factor"] = sa_factor
        out["n_out_of_domain"] = n_ood
        out["penalty"] = penalty
        out["score"] = np.exp(log_sum / weight_sum) * penalty
        out["predicted_valid"] = valid
        return pd.DataFrame(out)

    def _predicted(
        self, term: ObjectiveTerm, predicted: pd.DataFrame, valid: np.ndarray, out: dict
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Value, penalty factor and in-domain flag of a predicted term (fills ``out``)."""
        assert self.predictor is not None and term.endpoint is not None
        p, column = term.property, self.columns[term.property]
        n = len(predicted)
        values = _column(predicted, column, n)
        values = np.where(valid, values, np.nan)
        in_domain = _bool(predicted[f"{column}_in_domain"]) & valid
        lower = _column(predicted, f"{column}_lower", n)
        upper = _column(predicted, f"{column}_upper", n)
        sets = predicted[f"{column}_set"].tolist() if f"{column}_set" in predicted else [""] * n
        if term.endpoint.is_binary:
            u = np.array([0.0 if str(s).strip() in ("0", "1") else 1.0 for s in sets])
        else:
            scale = _lookup(self.predictor.y_scale, column)
            z = NormalDist().inv_cdf((1 + float(self.predictor.level)) / 2)
            with np.errstate(invalid="ignore", divide="ignore"):
                u = (upper - lower) / (2 * z * scale)
            u = np.clip(np.nan_to_num(u, nan=1.0, posinf=1.0), 0.0, 1.0)
        penalties = self.objective.penalties
        factor = (1 - penalties.uncertainty * u) * np.where(
            in_domain, 1.0, 1 - penalties.out_of_domain
        )
        out[f"{p}_lower"], out[f"{p}_upper"] = lower, upper
        out[f"{p}_set"] = ["" if pd.isna(s) else str(s) for s in sets]
        out[f"{p}_in_domain"] = in_domain
        out[f"{p}_train_similarity"] = _column(predicted, f"{column}_similarity", n)
        out[f"{p}_uncertainty"] = u
        return values, factor, in_domain


def _column(table: pd.DataFrame, name: str, n: int) -> np.ndarray:
    if name not in table:
        return np.full(n, np.nan)
    return pd.to_numeric(table[name], errors="coerce").to_numpy(float)


def _bool(column: pd.Series) -> np.ndarray:
    return np.array([bool(v) if not pd.isna(v) else False for v in column], dtype=bool)


def _lookup(mapping: dict[str, float], name: str) -> float:
    lowered = {str(k).lower(): v for k, v in (mapping or {}).items()}
    value = lowered.get(name.lower(), np.nan)
    return float(value) if value is not None and float(value) > 0 else np.nan


def _predictor_columns(objective: Objective, predictor: PropertyPredictor | None) -> dict:
    """Objective endpoint stem → the predictor's column name; UserError if one is missing."""
    needed = objective.endpoints
    if not needed:
        return {}
    if predictor is None:
        raise UserError(NEEDS_PREDICTOR, path=objective.source, names=", ".join(needed))
    available = {str(e).lower(): str(e) for e in predictor.endpoints}
    columns = {}
    for i, term in enumerate(objective.terms):
        if term.is_builtin:
            continue
        if term.property not in available:
            raise UserError(
                ENDPOINT_NOT_PREDICTED,
                path=objective.source,
                where=f"objectives[{i}]",
                name=term.property,
                available=", ".join(predictor.endpoints) or "nothing",
            )
        columns[term.property] = available[term.property]
    return columns


def score_molecules(
    smiles: Sequence[str], objective: Objective, predictor: PropertyPredictor | None = None
) -> pd.DataFrame:
    """Score molecules on ``objective``: one row per input, in order (see the module docstring).

    Columns: ``smiles`` (canonical), per objective ``p``: ``p``, ``p_desirability``,
    ``p_penalty``, ``p_score`` (penalized desirability) and, for predicted endpoints,
    ``p_lower``, ``p_upper``, ``p_set``, ``p_in_domain``, ``p_train_similarity``,
    ``p_uncertainty``; then ``SA``, ``sa_factor``, ``n_out_of_domain``, ``penalty``,
    ``score`` and ``predicted_valid``. ValueError for a SMILES that does not parse.
    """
    mols = [parse_smiles(s, i) for i, s in enumerate(smiles)]
    canonical = [Chem.MolToSmiles(m) for m in mols]
    scorer = MoleculeScorer(objective, predictor)
    scorer.evaluate(list(dict.fromkeys(canonical)), unique_mols(canonical, mols))
    return scorer.table(canonical)


def parse_smiles(smiles: str, index: int) -> Chem.Mol:
    from rdkit import rdBase

    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles) if isinstance(smiles, str) and smiles.strip() else None
    if mol is None:
        raise ValueError(f"cannot parse SMILES (molecule {index}): {smiles!r}")
    return mol


def unique_mols(canonical: list[str], mols: list[Chem.Mol]) -> list[Chem.Mol]:
    first: dict[str, Chem.Mol] = {}
    for smi, mol in zip(canonical, mols, strict=True):
        first.setdefault(smi, mol)
    return list(first.values())


# -- similarity and Pareto set ----------------------------------------------------------
