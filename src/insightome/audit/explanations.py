"""Global explanations of the winning model, with a stability check and sensitive-attribute flags.

What the model relies on is measured by held-out permutation importance
(:func:`insightome.discover.attribution.held_out_importance`): the winner is refitted on the
training folds of one CV repeat and each explained feature is shuffled in the held-out
fold; the drop in the primary metric on that fold is its importance there, and the spread
over the folds is the stability check: the sign is stable when every fold with a non-zero
drop has the same sign, unstable when they differ, and there is no sign (``stable`` None)
when no fold moved the metric at all (a feature the model never selected).

Explained features: the top of the discovery ranking (stability selection) plus every
sensitive attribute that the model was allowed to use (``--use-sensitive``). A sensitive
attribute the model relies on (importance > 0 in every repeat) is **flagged**, unless the
user declared its use clinically justified (``--justify sex="reference ranges differ by
sex"``); the declaration and its reason are stored in the run and shown in the report and
the documentation. A sensitive attribute kept out of the features cannot be used directly
— but proxies can carry it: see the data audit's proxy check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from insightome.discover.attribution import held_out_importance
from insightome.evaluate.splitters import ResamplingPlan
from insightome.models.candidates import Candidate

TOP_FEATURES = 15


def sign_stable(positive_fraction: float, negative_fraction: float) -> bool | None:
    """Whether the folds that moved the metric agree on the sign of the drop: over the
    non-zero folds only, as a zero drop has no sign; None when no fold moved it."""
    if not positive_fraction and not negative_fraction:
        return None
    return bool(positive_fraction == 0 or negative_fraction == 0)


METHOD = "held-out permutation importance, per fold of one CV repeat"


def explain(
    winner: Candidate,
    features: pd.DataFrame,
    y: np.ndarray,
    plan: ResamplingPlan,
    *,
    ranking: Sequence[str] = (),
    sensitive_features: Sequence[str] = (),
    justify: Mapping[str, str] | None = None,
    n_classes: int = 0,
    seed: int = 0,
    n_jobs: int = 1,
) -> dict[str, Any]:
    """Importances of the top-ranked features and the sensitive attributes used as features."""
    justify = dict(justify or {})
    used_sensitive = [s for s in sensitive_features if s in features.columns]
    top = [f for f in ranking if f in features.columns][:TOP_FEATURES]
    columns = list(dict.fromkeys([*top, *used_sensitive]))
    if not columns:  # nothing ranked in the table (e.g. only the CNN's score, made in fit)
        return {
            "metric": None, "method": METHOD, "features": [], "flags": [],
            "justifications": justify, "notes": [],
        }  # fmt: skip
    # one CV repeat, importance per held-out fold: the spread over folds is the stability
    # check, at half the cost of two repeats (the audit must stay cheap next to modelling)
    table = held_out_importance(
        winner, features, y, plan, columns, n_classes=n_classes, seed=seed, n_jobs=n_jobs,
        max_repeats=1, per_fold=True,
    )  # fmt: skip
    rows, flags = [], []
    for name, r in table.iterrows():
        stable = sign_stable(r["positive_fraction"], r["negative_fraction"])
        sensitive = name in used_sensitive
        relied_on = bool(r["positive_fraction"] == 1.0 and r["importance"] > 0)
        rows.append(
            {
                "feature": name,
                "importance": r["importance"],
                "sd": r["sd"],
                "positive_fraction": r["positive_fraction"],
                "negative_fraction": r["negative_fraction"],
                "stable": stable,
                "sensitive": sensitive,
            }
        )
        if sensitive and relied_on:
            flags.append(
                {
                    "feature": name,
                    "importance": r["importance"],
                    "status": "justified" if name in justify else "flagged",
                    "reason": justify.get(
                        name,
                        "the model relies on a sensitive attribute; declare a clinical "
                        "justification with --justify if this use is intended",
                    ),
                }
            )
    notes = []
    unused = [j for j in justify if j not in used_sensitive]
    if unused:
        notes.append(
            f"--justify given for {', '.join(unused)}, which the model does not use as a "
            "feature (kept out of the features, or not a sensitive attribute)"
        )
    return {
        "metric": table.attrs.get("metric"),
        "method": METHOD,
        "features": rows,
        "flags": flags,
        "justifications": justify,
        "notes": notes,
    }
