"""Discovery for one study: signature, effects, attributions, pathways, subgroups, hypotheses.

:func:`discover` runs after the main run's model selection and reuses its resampling
plan and every configuration's out-of-fold predictions; it is what ``insightome run`` does after
estimation and what ``insightome discover RUN_DIR`` repeats (e.g. with new gene sets).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from insightome.discover.attribution import held_out_importance
from insightome.discover.effects import univariate_effects
from insightome.discover.equivalents import equivalent_features
from insightome.discover.hypotheses import (
    feature_rows,
    hypotheses_table,
    pathway_rows,
    subgroup_rows,
)
from insightome.discover.pathways import pathway_enrichment
from insightome.discover.rank_statistics import association_statistics
from insightome.discover.signature import SignatureResult, minimal_signature, restricted
from insightome.discover.subgroups import find_subgroups
from insightome.evaluate.splitters import ResamplingPlan
from insightome.groups.disclosure import MIN_CELL
from insightome.io.json_values import json_ready
from insightome.models.candidates import Candidate
from insightome.study import Study

TOP_EFFECTS = 50  # rows of the univariate table kept in results.json


@dataclass
class Discovery:
    signature: SignatureResult | None
    effects: pd.DataFrame | None
    attribution: pd.DataFrame | None
    equivalents: pd.DataFrame
    pathways: Any  # discover.pathways.PathwayResult | None
    subgroups: Any  # discover.subgroups.SubgroupResult | None
    hypotheses: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        effects = None
        if self.effects is not None:
            top = self.effects.sort_values("p_value").head(TOP_EFFECTS)
            effects = {
                "n_tested": int(self.effects["p_value"].notna().sum()),
                "n_fdr_0_05": int((self.effects["q_value"] < 0.05).sum()),
                "top": top.reset_index(names="feature").to_dict(orient="records"),
            }
        return json_ready(
            {
                "status": "data-driven, unvalidated",
                "signature": None if self.signature is None else self.signature.to_dict(),
                "stability": (
                    None if self.signature is None else self.signature.stability.to_dict()
                ),
                "effects": effects,
                "attribution": (
                    None
                    if self.attribution is None
                    else {
                        "metric": self.attribution.attrs.get("metric"),
                        "method": "held-out permutation importance, per CV repeat",
                        "features": self.attribution.reset_index().to_dict(orient="records"),
                    }
                ),
                "equivalents": self.equivalents.to_dict(orient="records"),
                "pathways": None if self.pathways is None else self.pathways.to_dict(),
                "subgroups": None if self.subgroups is None else self.subgroups.to_dict(),
                "hypotheses": {
                    "n": len(self.hypotheses),
                    "by_kind": self.hypotheses["kind"].value_counts().to_dict(),
                    "top": self.hypotheses.head(30).to_dict(orient="records"),
                },
                "notes": self.notes,
                "seconds": self.seconds,
            }
        )


def outcome_label(study: Study) -> str:
    s = study.spec
    if s.task == "binary":
        return f"{s.target} = {study.classes[1]}"
    if s.task == "survival":
        return f"time to {s.event or 'event'}"
    return str(s.target)


def _learned_in_fit_note(chosen: Candidate) -> list[str]:
    """The note that discovery looks at the table's measured columns only, when the winner
    adds features of its own inside each fit (the CNN's score, note terms)."""
    learned = [
        what
        for what, used in (
            ("the CNN's image score (--image-features cnn)", getattr(chosen, "cnn", None)),
            ("the note terms (--notes-tfidf)", getattr(chosen, "note_terms", None)),
        )
        if used
    ]
    if not learned:
        return []
    return [
        f"the minimal signature, effects and subgroups use the table's columns only, not "
        f"{' or '.join(learned)}, which the winner adds inside each fit"
    ]


def discover(
    study: Study,
    configurations: Sequence[Candidate],
    winner: int,
    plan: ResamplingPlan,
    oof: np.ndarray,
    *,
    gene_sets: Any = None,
    tolerance: float = 0.02,
    n_bootstrap: int = 1000,
    estimator: Mapping[str, Any] | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    pathway_permutations: int = 1000,
    min_cell: int = MIN_CELL,
) -> Discovery:
    """Every discovery step for ``study`` (see the package docstring and docs/hypotheses.md).

    ``configurations`` are the run's candidates, ``winner`` the index of its choice and
    ``oof`` (R × C × n × k) their out-of-fold predictions (at least the first
    :data:`~insightome.discover.signature.SEARCH_REPEATS` repeats of ``plan``).
    ``min_cell`` is the run's ``--min-cell``: the subgroup tables hide counts by that rule.
    ``estimator`` is the run's :func:`~insightome.evaluate.bbc.estimator_arguments`: the
    signature's BBC-CV is made as the run's headline is.
    """
    seconds: dict[str, float] = {}
    notes: list[str] = []
    features, y, task = study.features, study.y, study.spec.task
    n_classes = len(study.classes)
    has_numeric = any(pd.api.types.is_numeric_dtype(t) for t in features.dtypes)
    if not has_numeric:
        notes.append(
            "no numeric features: the equivalents screen, pathway enrichment and the subgroup "
            "search use numeric features only and were skipped; the signature, effects and "
            "attributions use the categorical features"
        )

    def timed(name: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            seconds[name] = time.perf_counter() - start

    signature = timed(
        "signature",
        minimal_signature,
        configurations,
        winner,
        features,
        y,
        plan,
        oof,
        n_classes=n_classes,
        groups=study.groups,
        tolerance=tolerance,
        n_bootstrap=n_bootstrap,
        estimator=estimator,
        seed=seed,
        n_jobs=n_jobs,
    )
    members = [] if signature is None else signature.features
    stable = [] if signature is None else signature.stability.stable
    notes += _learned_in_fit_note(configurations[winner])
    if signature is None:
        notes.append(
            "no minimal signature: fewer than 2 features, or no signature size could be "
            "fitted on every fold"
        )
    else:
        notes += signature.notes
    effects = timed(
        "effects",
        univariate_effects,
        features,
        y,
        task,
        classes=study.classes,
        # per-feature model fits (survival: lifelines) only for the features reported
        detail=list(dict.fromkeys([*members, *stable]))[: 20 if len(y) > 20_000 else 100],
        groups=study.groups,
        seed=seed,
    )
    if effects.attrs.get("groups_note"):
        notes.append(effects.attrs["groups_note"])
    attribution = None
    if members:
        attribution = timed(
            "attribution",
            held_out_importance,
            restricted(configurations[winner], len(members)),
            features[members],
            y,
            plan,
            members,
            n_classes=n_classes,
            seed=seed,
            n_jobs=n_jobs,
        )
    equivalents = timed(
        "equivalents",
        equivalent_features,
        features,
        y,
        task,
        members,
        groups=study.groups,
        seed=seed,
    )
    pathways = None
    if gene_sets is not None and has_numeric:
        pathways = timed(
            "pathways", _pathways, study, members, gene_sets, pathway_permutations, seed, notes
        )

    sensitive = [c for c in study.spec.sensitive if c in study.obs.columns]
    subgroups = timed(
        "subgroups",
        find_subgroups,
        features,
        y,
        task,
        classes=study.classes,
        sensitive=study.obs[sensitive] if sensitive else None,
        groups=study.groups,
        seed=seed,
        min_cell=min_cell,
    )
    notes += list(subgroups.notes)
    return Discovery(
        signature=signature,
        effects=effects,
        attribution=attribution,
        equivalents=equivalents,
        pathways=pathways,
        subgroups=subgroups,
        hypotheses=_hypotheses(
            study,
            (signature, effects, attribution, equivalents),
            members,
            stable,
            pathways,
            subgroups,
        ),
        notes=notes,
        seconds=seconds,
    )


def _hypotheses(
    study: Study,
    features_found: tuple[Any, Any, Any, Any],
    members: list[str],
    stable: list[str],
    pathways: Any,
    subgroups: Any,
) -> pd.DataFrame:
    """The ranked hypotheses table from every finding: the features' (signature, effects,
    attribution, equivalents), the pathways' and the subgroups'."""
    signature, effects, attribution, equivalents = features_found
    outcome = outcome_label(study)
    rows = feature_rows(
        effects,
        None if signature is None else signature.stability.frequency,
        members,
        stable,
        attribution,
        equivalents,
        outcome,
    )
    rows += pathway_rows(pathways) + subgroup_rows(subgroups, outcome, study.spec.time)
    return hypotheses_table(rows)


def _pathways(
    study: Study,
    members: list[str],
    gene_sets: Any,
    n_permutations: int,
    seed: int,
    notes: list[str],
) -> Any:
    """ORA of the signature and pre-ranked enrichment of every feature, with the same rank
    statistic for the outcome and its permutations: a calibrated, correlation-preserving
    null for the pre-ranked test (docs/hypotheses.md). Its notes go to ``notes``."""
    ranking, null = association_statistics(
        study.features, study.y, study.spec.task, n_permutations=n_permutations,
        groups=study.groups, seed=seed,
    )  # fmt: skip
    if ranking.attrs.get("groups_note"):
        notes.append(ranking.attrs["groups_note"])
    pathways = pathway_enrichment(members, ranking, gene_sets, null_rankings=null)
    notes += list(pathways.warnings)
    return pathways
