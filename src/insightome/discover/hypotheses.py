"""The ranked hypotheses table (``hypotheses.tsv``): one row per candidate finding.

Every row is a *data-driven, unvalidated* hypothesis with its evidence and what would test
it. Kinds and the evidence each carries:

* ``feature`` — a minimal-signature member, a stable feature, or one of the 20 features
  with the smallest univariate FDR (q < 0.05): selection frequency, univariate effect with
  95% CI and BH q-value, held-out permutation importance (signature members);
* ``equivalent_group`` — a signature member and the features that could replace it;
* ``pathway`` — a gene set enriched at FDR < 0.05 (over-representation of the signature,
  or pre-ranked enrichment of the full ranking);
* ``subgroup`` — a patient subgroup from outcome-blind clustering, with its stability and
  the test of its association with the outcome.

Ranking score, in [0, 1] (documented in docs/hypotheses.md), with
``s(q) = min(1, −log10 q / 4)`` (q = 1e-4 or smaller gives 1):

* feature: ``0.4 · frequency + 0.3 · s(q) + 0.3 · importance / max importance``;
* equivalent group: its member's score;
* pathway: ``s(q)`` with the smaller of its ORA and pre-ranked FDRs;
* subgroup: ``max(0, stability ARI) · s(p)`` with the outcome-association p-value.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from insightome.evaluate.group_level import NOT_RESPECTED
from insightome.groups.disclosure import MIN_CELL, count_text, is_hidden
from insightome.number_format import fmt_number, fmt_time

STATUS = "data-driven, unvalidated"
FDR_LEVEL = 0.05
TOP_UNIVARIATE = 20
_g3 = partial(fmt_number, spec=".3g", missing="NA")  # numbers in the text: 3 digits, NA if missing
COLUMNS = [
    "rank",
    "kind",
    "candidate",
    "statement",
    "score",
    "stability",
    "effect_name",
    "effect",
    "effect_ci_low",
    "effect_ci_high",
    "fdr",
    "enrichment",
    "attribution",
    "in_signature",
    "equivalents",
    "status",
    "how_to_test",
]


def evidence_strength(q: float | None) -> float:
    """s(q) = min(1, −log10 q / 4); 0 when q is missing."""
    if q is None or not np.isfinite(q):
        return 0.0
    return float(min(1.0, -math.log10(max(q, 1e-300)) / 4))


def feature_rows(
    effects: pd.DataFrame | None,
    frequency: pd.Series | None,
    signature: list[str],
    stable: list[str],
    attribution: pd.DataFrame | None,
    equivalents: pd.DataFrame,
    outcome: str,
) -> list[dict[str, Any]]:
    chosen = list(dict.fromkeys([*signature, *stable]))
    if effects is not None and len(effects):
        significant = effects[effects["q_value"] < FDR_LEVEL].sort_values("q_value")
        chosen += [f for f in significant.index[:TOP_UNIVARIATE] if f not in set(chosen)]
    max_imp = 0.0
    if attribution is not None and len(attribution):
        max_imp = float(np.nanmax(np.r_[attribution["importance"].to_numpy(float), 0.0]))
    rows = []
    for f in chosen:
        e = effects.loc[f] if effects is not None and f in effects.index else None
        freq = float(frequency[f]) if frequency is not None and f in frequency.index else np.nan
        imp = (
            float(attribution.loc[f, "importance"])
            if attribution is not None and f in attribution.index
            else np.nan
        )
        q = float(e["q_value"]) if e is not None else np.nan
        share = max(0.0, imp) / max_imp if max_imp > 0 and np.isfinite(imp) else 0.0
        score = 0.4 * (freq if np.isfinite(freq) else 0.0) + 0.3 * evidence_strength(q)
        score += 0.3 * share
        alts = equivalents.loc[equivalents["member"] == f, "equivalent"].tolist()
        effect_text = ""
        if e is not None and np.isfinite(e["effect"]):
            effect_text = (
                f" ({e['effect_name']} {_g3(e['effect'])} "
                f"[{_g3(e['ci_low'])}, {_g3(e['ci_high'])}], q = {_g3(q)})"
            )
        if e is not None and NOT_RESPECTED in str(e["test"]):
            effect_text += f" [samples counted as independent: {NOT_RESPECTED}]"
        direction = str(e["direction"]) if e is not None and e["direction"] else "associated"
        if not direction.startswith(("higher in", "lower in")):
            direction = f"{direction} with {outcome}"
        rows.append(
            {
                "kind": "feature",
                "candidate": f,
                "statement": f"{f}: {direction}{effect_text}",
                "score": score,
                "stability": freq,
                "effect_name": None if e is None else e["effect_name"],
                "effect": np.nan if e is None else float(e["effect"]),
                "effect_ci_low": np.nan if e is None else float(e["ci_low"]),
                "effect_ci_high": np.nan if e is None else float(e["ci_high"]),
                "fdr": q,
                "enrichment": np.nan,
                "attribution": imp,
                "in_signature": f in set(signature),
                "equivalents": ";".join(alts),
                "how_to_test": (
                    f"Measure {f} in an independent cohort and test its association with "
                    f"{outcome} (insightome validate); confirm with an orthogonal assay"
                ),
            }
        )
        if alts:
            rows.append(
                {
                    **rows[-1],
                    "kind": "equivalent_group",
                    "candidate": " ≈ ".join([f, *alts]),
                    "statement": (
                        f"{f} is interchangeable with {', '.join(alts)} (|Spearman ρ| ≥ 0.8 "
                        "and not less predictive beyond a 0.02 margin)"
                    ),
                    "how_to_test": (
                        "Swap the member for an alternative in the signature and validate both "
                        "on an independent cohort; choose the one easiest to measure"
                    ),
                }
            )
    return rows


def pathway_rows(pathways: Any) -> list[dict[str, Any]]:
    if pathways is None:
        return []
    found: dict[str, dict[str, Any]] = {}
    for method, table, enrichment_col in (
        ("over-representation of the signature", pathways.ora, "fold_enrichment"),
        ("pre-ranked enrichment of the full ranking", pathways.prerank, "nes"),
    ):
        if table is None or not len(table):
            continue
        for _, row in table[table["fdr"] < FDR_LEVEL].iterrows():
            entry = found.setdefault(
                row["pathway"],
                {"methods": [], "fdr": np.inf, "enrichment": np.nan, "genes": ""},
            )
            entry["methods"].append(f"{method} (FDR {_g3(row['fdr'])})")
            if row["fdr"] < entry["fdr"]:
                entry["fdr"] = float(row["fdr"])
                entry["enrichment"] = float(row[enrichment_col])
            genes = row.get("genes", row.get("leading_edge", ""))
            entry["genes"] = entry["genes"] or str(genes or "")
    rows = []
    for name, entry in found.items():
        shown = ";".join(entry["genes"].split(";")[:10])
        rows.append(
            {
                "kind": "pathway",
                "candidate": name,
                "statement": f"{name} is implicated: " + "; ".join(entry["methods"]),
                "score": evidence_strength(entry["fdr"]),
                "stability": np.nan,
                "effect_name": None,
                "effect": np.nan,
                "effect_ci_low": np.nan,
                "effect_ci_high": np.nan,
                "fdr": entry["fdr"],
                "enrichment": entry["enrichment"],
                "attribution": np.nan,
                "in_signature": False,
                "equivalents": shown,
                "how_to_test": (
                    "Score pathway activity (e.g. a gene-set score) in an independent cohort; "
                    "perturb its leading genes experimentally"
                ),
            }
        )
    return rows


def _outcome_value(key: str, value: float, time_column: str | None) -> str:
    """One number of a subgroup's outcome summary; a median time in plain digits, named by
    its column (whose unit it carries): 'median OS.time 1,686 (units of OS.time)'."""
    if key == "median_time":
        column = time_column or "time"
        return f"median {column} {fmt_time(value)} (units of {column})"
    return f"{key.replace('_', ' ')} {_g3(value)}"


def _subgroup_summary(subgroups: Any, g: int, time_column: str | None = None) -> str:
    """'n = 120 (35%); high X (SMD +1.2), low Y (SMD −0.8); <outcome summary>'.

    Sizes and counts are shown as the subgroup tables publish them (hidden ones by their
    marker, their rates not at all: a rate and its n give the count back).
    """
    size = subgroups.sizes.set_index("subgroup").loc[g]
    min_cell = int(subgroups.settings.get("min_cell", MIN_CELL))
    n = count_text(size, "n", min_cell)
    parts = [f"n = {n} ({size['fraction']:.0%})" if not is_hidden(size) else f"n = {n}"]
    prof = subgroups.profile
    if len(prof):
        top = prof[prof["subgroup"] == g].head(3)
        traits = [
            f"{'high' if r.smd > 0 else 'low'} {r.feature} (SMD {r.smd:+.2f})"
            for r in top.itertuples()
            if r.smd is not None and r.smd == r.smd
        ]
        if traits:
            parts.append(", ".join(traits))
        elif len(top):  # a hidden size hides the profile's numbers (they give it back)
            parts.append(f"stands out on {', '.join(map(str, top['feature']))}")
    out = subgroups.outcome
    if len(out) and "subgroup" in out.columns:
        row = out.set_index("subgroup").loc[g]
        shown = [
            _outcome_value(str(k), float(v), time_column)
            for k, v in row.items()
            if v is not None
            and v == v  # not NaN
            and (
                (k.startswith("rate_") and not k.endswith(("_lo", "_hi")))
                or k in ("median_time", "mean")
                or (k == "events" and not is_hidden(row, "events"))
            )
        ][:4]
        if shown:
            parts.append(", ".join(shown))
    return "; ".join(parts)


def subgroup_rows(
    subgroups: Any, outcome: str, time_column: str | None = None
) -> list[dict[str, Any]]:
    if subgroups is None or subgroups.k is None:
        return []
    test = subgroups.outcome_test or {}
    p = test.get("p_value")
    stab = subgroups.stability.set_index("k")
    ari = float(stab.loc[subgroups.k, "mean_ari"])
    score = max(0.0, ari) * evidence_strength(p)
    rows = []
    for g in subgroups.sizes["subgroup"]:
        rows.append(
            {
                "kind": "subgroup",
                "candidate": f"subgroup {g} of {subgroups.k}",
                "statement": (
                    f"Subgroup {g} ({_subgroup_summary(subgroups, g, time_column)}); "
                    f"{outcome} differs between the {subgroups.k} subgroups: "
                    f"{test.get('name')} p = {_g3(p if p is not None else np.nan)}"
                ),
                "score": score,
                "stability": ari,
                "effect_name": None,
                "effect": np.nan,
                "effect_ci_low": np.nan,
                "effect_ci_high": np.nan,
                "fdr": np.nan if p is None else float(p),
                "enrichment": np.nan,
                "attribution": np.nan,
                "in_signature": False,
                "equivalents": "",
                "how_to_test": (
                    "Reproduce the clustering on the same features in an independent cohort "
                    f"and test the difference in {outcome}; characterize the subgroup's biology"
                ),
            }
        )
    return rows


def hypotheses_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rank the rows by score (ties: kind order feature, group, pathway, subgroup)."""
    table = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "rank"])
    table["status"] = STATUS
    if len(table):
        table = table.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table
