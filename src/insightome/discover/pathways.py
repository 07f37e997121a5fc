"""Pathway enrichment of a discovered gene signature: over-representation and pre-ranked GSEA.

Two complementary questions are asked of a set of gene sets (:class:`GeneSets`):

* **Over-representation (ORA)** — are the signature genes (a short list, e.g. the stable
  selected features) concentrated in a pathway? One-sided hypergeometric test
  (``scipy.stats.hypergeom``): with ``N`` background genes, ``K`` of them in the set and
  ``n`` signature genes, ``p = P(X >= k)`` for the observed overlap ``k``. The background is
  the *measured* features that appear in at least one gene set (not the genome: only
  measured genes could have been selected, and unannotated genes carry no information
  about any set). Sets are restricted to the background before the size filter, every set
  passing the filter is tested (overlap 0 included) and the FDR is Benjamini–Hochberg
  (``scipy.stats.false_discovery_control``) over all tested sets. ``gseapy.enrich`` is not
  used: it tests only sets with at least one hit (so BH runs over a selected family), does
  not filter set sizes after restriction to the background and matches case by heuristic.
* **Pre-ranked GSEA** (Subramanian et al., PNAS 2005) — do the members of a set sit
  towards either end of the full signed ranking of the measured genes? ES, NES, nominal p,
  FDR q and FWER p as GSEA computes them (:mod:`insightome.discover.gsea`), with the null
  from the caller's statistic recomputed for permuted outcome labels (``null_rankings``,
  GSEA's phenotype permutation), which keeps the correlation between genes and is
  calibrated: 0 sets at FDR 0.05 in 5 runs on TCGA-STAD with permuted sex labels.

  gseapy, the maintained Python GSEA we would otherwise use, is not used in the product:
  its pre-ranked test permutes gene sets, which ignores the correlation between genes and
  is anti-conservative on expression data (Wu & Smyth, NAR 2012; Tamayo et al., Stat
  Methods Med Res 2016). On TCGA-STAD with permuted sex labels it called 0-46 of ~220
  Hallmark/WikiPathways sets (mean 17) and up to 294 of 532 Reactome sets significant at
  FDR 0.05. Its ES is identical to ours (within 1e-12, same leading edges); the tests use
  it as that cross-check and to document its miscalibration.

Gene matching is case-insensitive on gene symbols. ``TP53|7157`` (TCGA style) matches as
``TP53``; Ensembl IDs and ``?`` are never mapped. Output names the features as given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from insightome.discover.gsea import phenotype_permutation_gsea
from insightome.io.genesets import GeneSets

ORA_COLUMNS = [
    "pathway", "source", "set_size", "overlap", "expected", "fold_enrichment",
    "p_value", "fdr", "genes",
]  # fmt: skip
PRERANK_COLUMNS = [
    "pathway", "source", "set_size", "es", "nes", "p_value", "fdr", "fwer_p_value",
    "leading_edge_size", "leading_edge",
]  # fmt: skip
MIN_MAPPED_FRACTION = 0.2  # below this share of mapped features, warn
MIN_MAPPED = 50  # ... or below this many mapped features
MIN_SIGNATURE_GENES = 3  # ORA needs at least this many mapped signature genes
TIED_SHARE_WARNING = 0.1  # warn when this share of ranking values are ties
ADVISED_PERMUTATIONS = 1000  # fewer label permutations: warn that the FDR is coarse

_ENSEMBL = re.compile(r"^ENS[A-Z]*[GTP]\d{6,}", re.IGNORECASE)


def gene_symbol(feature: object) -> str | None:
    """The upper-case gene symbol of a feature name, or None when it cannot be one."""
    name = str(feature).strip().split("|", 1)[0].strip()
    if not name or name == "?" or _ENSEMBL.match(name):
        return None
    return name.upper()


def _universe(gene_sets: GeneSets) -> frozenset[str]:
    return frozenset(g.upper() for g in gene_sets.genes)


def _symbols(features: Sequence[object], keep: frozenset[str]) -> dict[str, str]:
    """Upper-case symbol → first feature name carrying it, for symbols in ``keep``."""
    out: dict[str, str] = {}
    for feature in features:
        symbol = gene_symbol(feature)
        if symbol is not None and symbol in keep:
            out.setdefault(symbol, str(feature))
    return out


def _check_sizes(min_size: int, max_size: int) -> None:
    if not 1 <= min_size <= max_size:
        raise ValueError(f"need 1 <= min_size <= max_size, got {min_size} and {max_size}")


def mapping_report(features: Sequence[str], gene_sets: GeneSets) -> dict[str, Any]:
    """How many features name a gene of the gene sets; a ``warning`` when too few do."""
    universe = _universe(gene_sets)
    names = [str(f) for f in features]
    unmapped = [f for f in names if gene_symbol(f) not in universe]
    n, m = len(names), len(names) - len(unmapped)
    fraction = m / n if n else 0.0
    report: dict[str, Any] = {
        "n_features": n,
        "n_mapped": m,
        "fraction_mapped": fraction,
        "n_gene_set_genes": len(universe),
        "unmapped_examples": unmapped[:5],
    }
    if fraction < MIN_MAPPED_FRACTION or m < MIN_MAPPED:
        report["warning"] = (
            f"Only {m} of {n} features ({fraction:.0%}) match a gene in the gene sets, so "
            "pathway results are unreliable; name the features by gene symbols (e.g. TP53) "
            "that match the GMT files."
        )
    return report


def over_representation(
    signature: Sequence[str],
    universe: Sequence[str],
    gene_sets: GeneSets,
    *,
    min_size: int = 5,
    max_size: int = 500,
) -> pd.DataFrame:
    """Hypergeometric over-representation of ``signature`` among the measured ``universe``."""
    _check_sizes(min_size, max_size)
    background = _symbols(universe, _universe(gene_sets))
    hits = {s for f in signature if (s := gene_symbol(f)) in background}
    big_n, n = len(background), len(hits)
    rows = []
    for name, genes in gene_sets.sets.items() if n else []:
        members = {g.upper() for g in genes} & background.keys()
        if not min_size <= len(members) <= max_size:
            continue
        overlap = sorted(background[s] for s in members & hits)
        expected = n * len(members) / big_n
        row = (name, gene_sets.source[name], len(members), len(overlap), expected)
        rows.append((*row, len(overlap) / expected, ";".join(overlap)))
    table = pd.DataFrame(rows, columns=[c for c in ORA_COLUMNS if c not in ("p_value", "fdr")])
    k, size = table["overlap"].to_numpy(int), table["set_size"].to_numpy(int)
    table["p_value"] = stats.hypergeom.sf(k - 1, big_n, size, n) if len(table) else []
    table["fdr"] = stats.false_discovery_control(table["p_value"]) if len(table) else []
    table = table.sort_values(
        ["p_value", "fold_enrichment", "pathway"], ascending=[True, False, True]
    )
    return table[ORA_COLUMNS].reset_index(drop=True)


def _clean_ranking(ranking: pd.Series) -> tuple[pd.Series, dict[str, str]]:
    """Finite values keyed by upper-case symbol (strongest |value| per symbol), sorted."""
    values = pd.to_numeric(pd.Series(ranking), errors="coerce").astype(float)
    values = values[np.isfinite(values.to_numpy())]
    keys = [gene_symbol(f) or f"_UNMAPPED_{i}" for i, f in enumerate(values.index)]
    frame = pd.DataFrame({"key": keys, "name": values.index.astype(str), "value": values.values})
    frame = frame.assign(strength=frame["value"].abs()).sort_values(
        ["strength", "key"], ascending=[False, True], kind="stable"
    )
    frame = frame.drop_duplicates("key").sort_values(
        ["value", "key"], ascending=[False, True], kind="stable"
    )
    names = dict(zip(frame["key"], frame["name"], strict=True))
    return pd.Series(frame["value"].to_numpy(), index=frame["key"].to_numpy(), name="score"), names


def _tested_sets(
    keys: frozenset[str], gene_sets: GeneSets, min_size: int, max_size: int
) -> list[tuple[str, list[str]]]:
    """(name, sorted member keys) of the sets with ``min_size``-``max_size`` ranked genes."""
    out = []
    for name, genes in gene_sets.sets.items():
        members = sorted({g.upper() for g in genes} & keys)
        if min_size <= len(members) <= max_size and len(members) < len(keys):
            out.append((name, members))
    return out


def preranked_enrichment(
    ranking: pd.Series,
    gene_sets: GeneSets,
    *,
    null_rankings: pd.DataFrame,
    min_size: int = 15,
    max_size: int = 500,
) -> pd.DataFrame:
    """GSEA pre-ranked enrichment of a signed ranking (index = feature names).

    ``null_rankings`` (rows = the ranked features, one column per permutation of the
    outcome labels, the same statistic as ``ranking``) is the GSEA phenotype-permutation
    null (:mod:`insightome.discover.gsea`). Nominal p, FDR and FWER of 0 are reported as
    the resolution floor 1 / number of permutations. Duplicate symbols keep their strongest
    value; ties are broken by symbol, so input order does not matter.
    """
    _check_sizes(min_size, max_size)
    if null_rankings is None or null_rankings.shape[1] < 1:
        raise ValueError("null_rankings has no columns (permutations)")
    n_perm = null_rankings.shape[1]
    scores, names = _clean_ranking(ranking)
    tested = _tested_sets(frozenset(scores.index), gene_sets, min_size, max_size)
    if not tested:
        return pd.DataFrame(columns=PRERANK_COLUMNS)
    stat = phenotype_permutation_gsea(scores, names, tested, null_rankings)
    floor = 1.0 / n_perm
    table = pd.DataFrame(
        {
            "pathway": [name for name, _ in tested],
            "source": [gene_sets.source[name] for name, _ in tested],
            "set_size": [len(members) for _, members in tested],
            "es": stat["es"],
            "nes": stat["nes"],
            "p_value": np.clip(stat["p"], floor, 1.0),
            "fdr": np.clip(stat["fdr"], floor, 1.0),
            "fwer_p_value": np.clip(stat["fwer"], floor, 1.0),
            "leading_edge_size": [len(lead) for lead in stat["lead"]],
            "leading_edge": [";".join(names.get(g, g) for g in lead) for lead in stat["lead"]],
        }
    )
    table = table.assign(_abs=-table["nes"].abs()).sort_values(
        ["fdr", "p_value", "_abs", "pathway"], na_position="last"
    )
    return table[PRERANK_COLUMNS].reset_index(drop=True)


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


@dataclass(frozen=True)
class PathwayResult:
    """ORA and pre-ranked results, the feature-mapping report and the warnings raised."""

    ora: pd.DataFrame
    prerank: pd.DataFrame
    mapping: dict[str, Any]
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content: tables as lists of row dicts, NaN and ±inf as None."""
        return {
            "ora": _json_value(self.ora.to_dict(orient="records")),
            "prerank": _json_value(self.prerank.to_dict(orient="records")),
            "mapping": _json_value(self.mapping),
            "warnings": list(self.warnings),
        }


def pathway_enrichment(
    signature: Sequence[str],
    ranking: pd.Series,
    gene_sets: GeneSets,
    *,
    null_rankings: pd.DataFrame,
) -> PathwayResult:
    """ORA of ``signature`` against the ranked features, plus pre-ranked GSEA of ``ranking``.

    The measured features (the ORA background) are the index of ``ranking``;
    ``null_rankings`` is the label-permutation null (see :func:`preranked_enrichment`).
    """
    warnings: list[str] = []
    features = [str(f) for f in ranking.index]
    mapping = mapping_report(features, gene_sets)
    if "warning" in mapping:
        warnings.append(mapping["warning"])

    background = _symbols(features, _universe(gene_sets))
    mapped = {s for f in signature if (s := gene_symbol(f)) in background}
    ora = pd.DataFrame(columns=ORA_COLUMNS)
    if len(mapped) < MIN_SIGNATURE_GENES:
        warnings.append(
            f"Over-representation skipped: only {len(mapped)} of the {len(signature)} "
            f"signature features are measured genes found in the gene sets (at least "
            f"{MIN_SIGNATURE_GENES} are needed)."
        )
    else:
        ora = over_representation(signature, features, gene_sets)
        if ora.empty:
            warnings.append("Over-representation skipped: no gene set has 5-500 measured genes.")

    values = pd.to_numeric(ranking, errors="coerce")
    tied = float(values.dropna().duplicated().mean()) if values.notna().any() else 0.0
    if tied > TIED_SHARE_WARNING:
        warnings.append(
            f"{tied:.0%} of the ranking values are ties; their order (broken by name) is "
            "arbitrary, which can shift the pre-ranked enrichment scores."
        )
    prerank = preranked_enrichment(ranking, gene_sets, null_rankings=null_rankings)
    n_perm = null_rankings.shape[1]
    if prerank.empty:
        warnings.append("Pre-ranked enrichment skipped: no gene set has 15-500 ranked genes.")
    elif n_perm < ADVISED_PERMUTATIONS:
        warnings.append(
            f"Only {n_perm} label permutations: pre-ranked p-values cannot go below "
            f"1/{n_perm} and the FDR is coarse; use at least {ADVISED_PERMUTATIONS}."
        )
    return PathwayResult(ora=ora, prerank=prerank, mapping=mapping, warnings=warnings)
