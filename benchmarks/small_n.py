"""Small-n coverage study: do insightome's 95% intervals hold at n = 20, 30, 50, 100?

From four cohorts that leave at least 1,000 samples to score (ACTG 175, TCGA pan-cancer
clinical data, diabetes 130-US hospitals: weak signal, few predictors; METABRIC ER status
from 173 mutation indicators and age: strong signal, p = 174 > n), many small training
subsamples are drawn at each n; insightome runs on each one in-process (``insightome.run``,
preset ``fast``, otherwise its defaults at that n: folds, repeats, bootstraps), and its
refitted winner is scored on ALL the remaining samples with the run's own primary metric
(AUC; C-index for survival). A run's 95% BBC-CV interval "covers" when it contains that
held-out score. Measured per cohort x n and pooled per n: coverage with its Wilson 95%
interval, how many intervals were [0, 1] or included chance and the coverage among those
that excluded it, coverage of the cell-mean held-out score, interval width, bias (estimate
minus held-out) and plain-CV optimism. Target (issue 19): coverage >= 90% at every n >= 30.

Every finished run is appended at once as one JSON line to the runs file (default
``~/.cache/insightome/small_n.jsonl``); a rerun skips the runs already there or among the
compact runs of ``benchmarks/results/small_n.json``, so the study resumes where it stopped
even when the runs file is lost. The plan is interleaved (replicate-major over the cohort x
n cells), so a partial study is balanced. ``--summarize`` writes
``benchmarks/results/small_n.md`` and ``.json`` and, from the full default plan only, the
package's coverage table (``src/insightome/evaluate/small_n_coverage.json``, read by the
estimate stage's small-n note); it refuses to replace either by one with fewer runs::

    python benchmarks/small_n.py                          # the full plan, 2 workers
    python benchmarks/small_n.py --runs /tmp/small_n.jsonl
    python benchmarks/small_n.py --summarize --runs /tmp/small_n.jsonl
    python benchmarks/small_n.py --quick                  # smoke test: 2 runs per cell
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import math
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import omics_suite

REPO = Path(__file__).resolve().parents[1]
COHORTS_DIR = REPO.parent / "shared" / "data" / "cohorts"
RESULTS_DIR = REPO / "benchmarks" / "results"
PACKAGE_TABLE = REPO / "src" / "insightome" / "evaluate" / "small_n_coverage.json"
#: the runs file: outside /tmp (which a reboot may wipe) and outside the repository (it
#: holds every run's training IDs); the compact runs in RESULTS_DIR/small_n.json are read
#: too, so a lost runs file costs only the training IDs, never a finished run
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
DEFAULT_RUNS = CACHE_DIR / "insightome" / "small_n.jsonl"
SIZES = (20, 30, 50, 100)
PER_CELL = 68  # x 4 cohorts = 272 subsamples per n
PER_CELL_BY_COHORT: dict[str, int] = {}  # a cohort's own count, where the budget asks
QUICK_PER_CELL = 2
TARGET_COVERAGE = 0.90
TARGET_FROM_N = 30
BUDGET_HOURS = 2.0
BUDGET_CORES = 2
MIN_PER_STRATUM = 3  # each class (event / no event) at least this often in a subsample
Z95 = 1.959964
CHANCE = 0.5  # AUC and C-index of a model that knows nothing
MIN_JUDGE = 20  # fewer runs than this in a subset (e.g. intervals excluding chance): no verdict
HELDOUT_BOOTSTRAPS = 200  # the held-out score's own SE, by bootstrap of the scored patients


# --------------------------------------------------------------------------------------
# cohorts: a modelling table (index = patient ID) and the run's outcome options
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cohort:
    name: str
    title: str
    task: str  # "binary" (outcome 0/1, positive 1) or "survival"
    options: dict[str, Any]  # the run's outcome options: target, or time_col + event
    source: Path
    load: Callable[[], pd.DataFrame]
    description: str

    @property
    def stratum_column(self) -> str:
        return str(self.options.get("target") or self.options["event"])


def _actg175() -> pd.DataFrame:
    from insightome.cli.app import DEMO_EXCLUDE, demo_data_path

    df = pd.read_csv(demo_data_path(), index_col=0)  # the first column is the CSV's row number
    return df.drop(columns=list(DEMO_EXCLUDE)).set_index("pidnum")


def _stage(value: object) -> str:
    """AJCC pathologic stage collapsed to I-IV ('not staged' for every other entry)."""
    text = str(value)
    if not text.startswith("Stage "):
        return "not staged"
    roman = text.removeprefix("Stage ").rstrip("ABC")
    return f"stage {roman}" if roman in ("I", "II", "III", "IV") else "not staged"


def _tcga_pancan() -> pd.DataFrame:
    df = pd.read_csv(COHORTS_DIR / "tcga_pancan_cdr" / "TCGA-CDR_clinical.csv")
    df = df[df["OS"].notna() & (df["OS.time"] > 0)]
    race = df["race"].where(~df["race"].astype(str).str.startswith("["))  # [Not Available] ...
    out = pd.DataFrame(
        {
            "cancer_type": df["type"],
            "age": df["age_at_initial_pathologic_diagnosis"],
            "gender": df["gender"].str.lower(),
            "race": race.str.lower(),
            "stage": df["ajcc_pathologic_tumor_stage"].map(_stage),
            "OS": df["OS"].astype(int),
            "OS.time": df["OS.time"],
        }
    )
    return out.set_axis(df["bcr_patient_barcode"].to_numpy())


#: discharge to hospice or death: such a patient cannot be readmitted (Strack et al. 2014
#: removed these encounters too)
_NOT_AT_RISK = (11, 13, 14, 19, 20, 21)


def _diabetes130() -> pd.DataFrame:
    df = pd.read_csv(
        COHORTS_DIR / "diabetes_130" / "diabetic_data.csv.gz", na_values="?", low_memory=False
    )
    df = df[~df["discharge_disposition_id"].isin(_NOT_AT_RISK)]
    df = df.sort_values("encounter_id").drop_duplicates("patient_nbr")  # the first encounter
    low = df["age"].str.extract(r"\[(\d+)-", expand=False).astype(float)
    out = pd.DataFrame(
        {
            "age": low + 5,  # the 10-year band's midpoint
            "gender": df["gender"].where(df["gender"] != "Unknown/Invalid"),
            "race": df["race"],
            "admission_type": "type " + df["admission_type_id"].astype(str),
            "admission_source": "source " + df["admission_source_id"].astype(str),
            "payer": df["payer_code"],
            "outpatient_visits_prior_year": df["number_outpatient"],
            "emergency_visits_prior_year": df["number_emergency"],
            "inpatient_visits_prior_year": df["number_inpatient"],
            "readmitted": (df["readmitted"] != "NO").astype(int),
        }
    )
    return out.set_axis(df["patient_nbr"].astype(str).to_numpy())


def _metabric() -> pd.DataFrame:
    """ER status (IHC) from the 173-gene mutation indicators and age: p = 174 > n.

    Patients with at least one mutation row (the sequenced ones; a patient absent from the
    long table has no call to read as "no mutation") and a recorded ER status. Treatments,
    PAM50/claudin subtype, HER2, NPI, three-gene class and follow-up are not features: they
    are post-diagnosis or derived from the same tumour's expression/IHC."""
    folder = COHORTS_DIR / "metabric"
    clinical = pd.read_csv(folder / "metabric_clinical.tsv", sep="\t", index_col="patientId")
    mutations = pd.read_csv(folder / "metabric_mutations.tsv", sep="\t")
    calls = pd.crosstab(mutations["patientId"], mutations["hugoGeneSymbol"]).clip(upper=1)
    calls.columns = [f"mut_{g}" for g in calls.columns]
    er = clinical["ER_IHC"].map({"Positve": 1, "Positive": 1, "Negative": 0})  # 'Positve' sic
    keep = calls.index.intersection(er.dropna().index)
    out = calls.loc[keep].astype(int)
    out.insert(0, "age", clinical.loc[keep, "AGE_AT_DIAGNOSIS"].astype(float))
    out["er_positive"] = er.loc[keep].astype(int)
    return out.sort_index()


def _lifelines_actg() -> Path:
    from insightome.cli.app import demo_data_path

    return demo_data_path()


COHORTS: dict[str, Cohort] = {
    "actg175": Cohort(
        "actg175", "ACTG 175", "binary", {"target": "cens", "task": "binary"},
        _lifelines_actg(), _actg175,
        "HIV trial (lifelines), 2,139 patients; outcome `cens` from baseline variables, "
        "excluding the demo's post-baseline columns",
    ),
    "tcga_pancan": Cohort(
        "tcga_pancan", "TCGA pan-cancer", "survival",
        {"time_col": "OS.time", "event": "OS", "task": "survival"},
        COHORTS_DIR / "tcga_pancan_cdr" / "TCGA-CDR_clinical.csv", _tcga_pancan,
        "TCGA-CDR clinical data (Liu et al. 2018); overall survival from age, gender, race, "
        "AJCC stage (I-IV) and cancer type; patients with OS time > 0",
    ),
    "diabetes130": Cohort(
        "diabetes130", "diabetes 130-US", "binary", {"target": "readmitted", "task": "binary"},
        COHORTS_DIR / "diabetes_130" / "diabetic_data.csv.gz", _diabetes130,
        "UCI diabetes 130-US hospitals; each patient's first encounter (not discharged to "
        "hospice or death); readmitted (any) from age, gender, race, admission type and "
        "source, payer and the prior year's visits",
    ),
    "metabric": Cohort(
        "metabric", "METABRIC", "binary", {"target": "er_positive", "task": "binary"},
        COHORTS_DIR / "metabric" / "metabric_mutations.tsv", _metabric,
        "METABRIC breast cancer (cBioPortal brca_metabric; Curtis et al. 2012, Pereira et al. "
        "2016); ER status by IHC from 173 gene mutation indicators and age at diagnosis "
        "(p = 174 > n: the omics-like regime with a strong signal); patients with mutation "
        "calls and a recorded ER status",
    ),
}  # fmt: skip


#: predictors per cohort: the modelling table's columns less the outcome's (pinned by
#: exact allowlists in tests/test_bench_small_n.py); the package's note compares a run's p
PREDICTORS = {"actg175": 18, "tcga_pancan": 5, "diabetes130": 9, "metabric": 174}


@dataclass(frozen=True)
class CohortData:
    adata: Any  # AnnData: every sample of the cohort, read as insightome reads a file
    strata: np.ndarray  # 0/1: the outcome class, or the event indicator
    groups: np.ndarray  # the patient of each row


@cache
def cohort_data(name: str) -> CohortData:
    """The cohort read through insightome's own reader (a table written once to a temp file)."""
    from insightome.io import read

    cohort = COHORTS[name]
    frame = cohort.load()
    frame.index.name = "patient_id"
    folder = Path(tempfile.gettempdir()) / "insightome_small_n"
    folder.mkdir(exist_ok=True)
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame).to_numpy().tobytes()).hexdigest()
    path = folder / f"{name}-{digest[:12]}.csv"  # a changed cohort definition: a new file
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        frame.to_csv(partial)
        partial.replace(path)
    roles = [str(v) for k, v in cohort.options.items() if k != "task"]
    adata = read(path, id_column="patient_id", keep_in_obs=roles)
    strata = adata.obs[cohort.stratum_column].to_numpy(int)
    return CohortData(adata, strata, np.asarray(adata.obs_names, dtype=str))


# --------------------------------------------------------------------------------------
# the pure pieces: the draw, the interval, the summary
# --------------------------------------------------------------------------------------
def draw_seed(cohort: str, n: int, rep: int) -> int:
    """A stable seed per cohort x n x replicate (independent of the plan's order)."""
    return zlib.crc32(f"{cohort}:{n}:{rep}".encode())


def allocate(n: int, counts: np.ndarray) -> np.ndarray:
    """Proportional allocation of ``n`` draws over strata of the given sizes (largest
    remainders), each stratum raised to ``MIN_PER_STRATUM`` where ``n`` allows it."""
    share = n * counts / counts.sum()
    take = np.floor(share).astype(int)
    for i in np.argsort(-(share - take), kind="stable")[: n - take.sum()]:
        take[i] += 1
    floor = np.minimum(counts, min(MIN_PER_STRATUM, n // len(counts)))
    while np.any(take < floor):
        short, rich = int(np.argmin(take - floor)), int(np.argmax(take - floor))
        take[short] += 1
        take[rich] -= 1
    return take


def draw_subsample(
    strata: np.ndarray, groups: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` patients drawn without replacement, stratified by outcome, and the rest.

    Patients (``groups``), not rows, are drawn: a patient's rows all go to training or all
    to scoring. A patient's stratum is 1 when any of its rows is 1. Returns the row indices
    (sorted) of the training subsample and of every remaining row.
    """
    patients, inverse = np.unique(groups, return_inverse=True)
    if n > len(patients):
        raise ValueError(f"cannot draw {n} patients out of {len(patients)}")
    stratum = np.zeros(len(patients), dtype=int)
    np.maximum.at(stratum, inverse, np.asarray(strata, dtype=int))
    levels, counts = np.unique(stratum, return_counts=True)
    take = allocate(n, counts)
    pools = [np.flatnonzero(stratum == level) for level in levels]
    chosen = np.concatenate(
        [rng.choice(pool, k, replace=False) for pool, k in zip(pools, take, strict=True)]
    )
    in_train = np.isin(inverse, chosen)
    return np.flatnonzero(in_train), np.flatnonzero(~in_train)


def wilson(k: int, m: int) -> tuple[float, float]:
    """Wilson 95% score interval of k successes in m (insightome's own implementation)."""
    from insightome.evaluate.intervals import wilson_interval

    return wilson_interval(k, m, Z95)


def _mean_se(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    sd = statistics.stdev(values) if len(values) > 1 else math.nan
    return statistics.fmean(values), sd / math.sqrt(len(values))


def _coverage(rows: list[dict[str, Any]], key: str = "covers") -> dict[str, Any]:
    k = sum(bool(r[key]) for r in rows)
    low, high = wilson(k, len(rows)) if rows else (math.nan, math.nan)
    return {
        "runs": len(rows),
        "covered": k,
        "coverage": k / len(rows) if rows else math.nan,
        "wilson95": [low, high],
        "enough": len(rows) >= MIN_JUDGE,
    }


def _whole_range(r: dict[str, Any]) -> bool:
    return bool(r["ci95"][0] <= 1e-9 and r["ci95"][1] >= 1 - 1e-9)


def _includes_chance(r: dict[str, Any]) -> bool:
    return bool(r["ci95"][0] <= CHANCE <= r["ci95"][1])


def cell_summary(rows: list[dict[str, Any]], planned: int) -> dict[str, Any]:
    """Coverage, width, bias and optimism of a set of runs (one cell, or pooled).

    Besides plain coverage: how many intervals said nothing (the whole range [0, 1]) or
    included chance, the coverage among the runs whose interval EXCLUDED chance (the
    intervals that make a claim), and the coverage of the cell's mean held-out score (the
    unconditional target) as well as of each run's own held-out score (the conditional
    one). ``rows`` from :func:`summarize` carry ``covers_mean``."""
    ok = [r for r in rows if "error" not in r]
    cov = _coverage(ok)
    widths = [r["ci95"][1] - r["ci95"][0] for r in ok]
    errors = [r["estimate"] - r["heldout"] for r in ok]
    bias, bias_se = _mean_se(errors)
    optimism, optimism_se = _mean_se([r["plain_cv"] - r["heldout"] for r in ok])
    excluding = [r for r in ok if not _includes_chance(r)]
    with_mean = [r for r in ok if "covers_mean" in r]
    heldout_se = [r["heldout_se"] for r in ok if r.get("heldout_se") is not None]
    return {
        "planned": planned,
        "done": len(rows),
        "runs": len(ok),
        "failed": len(rows) - len(ok),
        "covered": cov["covered"],
        "coverage": cov["coverage"],
        "wilson95": cov["wilson95"],
        # a miss above: the whole interval above the held-out score (too optimistic)
        "missed_above": sum(r["ci95"][0] > r["heldout"] for r in ok),
        "missed_below": sum(r["ci95"][1] < r["heldout"] for r in ok),
        "ci_whole_range": sum(_whole_range(r) for r in ok),
        "ci_includes_chance": sum(_includes_chance(r) for r in ok),
        "excluding_chance": _coverage(excluding),
        "coverage_of_mean": _coverage(with_mean, "covers_mean"),
        "mean_width": statistics.fmean(widths) if ok else math.nan,
        "median_width": statistics.median(widths) if ok else math.nan,
        "bias": bias,
        "bias_se": bias_se,
        "sd_error": statistics.stdev(errors) if len(ok) > 1 else math.nan,
        "q90_abs_error": float(np.quantile(np.abs(errors), 0.9)) if ok else math.nan,
        "q95_abs_error": float(np.quantile(np.abs(errors), 0.95)) if ok else math.nan,
        "plain_cv_optimism": optimism,
        "plain_cv_optimism_se": optimism_se,
        "mean_estimate": statistics.fmean(r["estimate"] for r in ok) if ok else math.nan,
        "mean_heldout": statistics.fmean(r["heldout"] for r in ok) if ok else math.nan,
        "heldout_se_median": statistics.median(heldout_se) if heldout_se else math.nan,
        "heldout_se_runs": len(heldout_se),
        "folds_changed": sum(r["folds"] != 5 for r in ok),
        "repeats": sorted({int(r["repeats"]) for r in ok if "repeats" in r}),
        "n_bootstrap": sorted({int(r["n_bootstrap"]) for r in ok if "n_bootstrap" in r}),
        "cpu_seconds": statistics.fmean(r["cpu_seconds"] for r in rows) if rows else math.nan,
        "wall_seconds": statistics.fmean(r["wall_seconds"] for r in rows) if rows else math.nan,
    }


def _with_cell_means(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each finished run with ``covers_mean``: does its interval contain the mean held-out
    score of its cohort x n cell (the expected performance of a model fitted on n)?"""
    means: dict[tuple[str, int], float] = {}
    for key in {(r["cohort"], r["n"]) for r in rows}:
        got = [r["heldout"] for r in rows if (r["cohort"], r["n"]) == key and "error" not in r]
        if got:
            means[key] = statistics.fmean(got)
    out = []
    for r in rows:
        if "error" not in r:
            m = means[(r["cohort"], r["n"])]
            r = {**r, "covers_mean": bool(r["ci95"][0] <= m <= r["ci95"][1])}
        out.append(r)
    return out


def summarize(rows: list[dict[str, Any]], plan: list[tuple[str, int, int]]) -> dict[str, Any]:
    """Per cohort x n, pooled per n, pooled per metric x n (the package's table), and the
    target verdict per n."""
    rows = _with_cell_means(rows)
    planned = {(c, n): sum(1 for p in plan if p[:2] == (c, n)) for c, n, _ in plan}
    cohorts = list(dict.fromkeys(c for c, _, _ in plan))
    sizes = sorted({n for _, n, _ in plan})
    cells = []
    for c in cohorts:
        for n in sizes:
            got = [r for r in rows if r["cohort"] == c and r["n"] == n]
            cells.append({"cohort": c, "n": n, **cell_summary(got, planned.get((c, n), 0))})
    pooled = []
    for n in sizes:
        got = [r for r in rows if r["n"] == n]
        s = cell_summary(got, sum(v for (_, m), v in planned.items() if m == n))
        s["target"] = verdict(n, s)
        pooled.append({"n": n, **s})
    table = []
    for metric in dict.fromkeys(COHORT_METRIC[c] for c in cohorts):
        members = [c for c in cohorts if COHORT_METRIC[c] == metric]
        for n in sizes:
            got = [r for r in rows if r["cohort"] in members and r["n"] == n]
            s = cell_summary(got, sum(planned.get((c, n), 0) for c in members))
            ran = [c for c in members if any(r["cohort"] == c and "error" not in r for r in got)]
            if s["runs"]:
                table.append(table_entry(metric, n, ran, s, cells))
    done = len(rows)
    return {
        "cells": cells,
        "pooled": pooled,
        "coverage_table": table,
        "planned": len(plan),
        "done": done,
        "partial": done < len(plan),
    }


def table_entry(
    metric: str, n: int, members: list[str], s: dict[str, Any], cells: list[dict[str, Any]]
) -> dict[str, Any]:
    """One entry of the package's table: the coverage, and the regime it was measured in
    (what the run's note needs to say where it applies)."""
    signal = [c["mean_heldout"] for c in cells if c["cohort"] in members and c["n"] == n
              and c["runs"]]  # fmt: skip
    excl = s["excluding_chance"]
    return {
        "task": COHORTS[members[0]].task,
        "metric": metric,
        "n": n,
        "runs": s["runs"],
        "planned": s["planned"],
        "covered": s["covered"],
        "coverage": round(s["coverage"], 4),
        "wilson95": [round(x, 4) for x in s["wilson95"]],
        "cohorts": [COHORTS[c].title for c in members],
        "ci_whole_range": s["ci_whole_range"],
        "ci_includes_chance": s["ci_includes_chance"],
        "excluding_chance_runs": excl["runs"],
        "excluding_chance_covered": excl["covered"],
        "median_width": round(s["median_width"], 4),
        "heldout_range": [round(min(signal), 4), round(max(signal), 4)],
        "predictors": [min(PREDICTORS[c] for c in members), max(PREDICTORS[c] for c in members)],
        "n_bootstrap": s["n_bootstrap"],
    }


COHORT_METRIC = {n: ("c_index" if c.task == "survival" else "auc") for n, c in COHORTS.items()}


def verdict(n: int, s: dict[str, Any]) -> str:
    """Met / NOT met on the point estimate, with the Wilson bound that qualifies it: a
    "met" whose lower bound is under the target reads as met on the point estimate only."""
    if n < TARGET_FROM_N:
        return "not a target (n < 30)"
    if not s["runs"]:
        return "no runs yet"
    so_far = " so far" if s["done"] < s["planned"] else ""
    lo, hi = s["wilson95"]
    if s["coverage"] < TARGET_COVERAGE:
        return f"NOT met{so_far} (Wilson upper bound {hi:.1%})"
    if lo >= TARGET_COVERAGE:
        return f"met{so_far} (Wilson lower bound {lo:.1%} ≥ {TARGET_COVERAGE:.0%})"
    return (
        f"met{so_far} on the point estimate only (Wilson lower bound {lo:.1%} < "
        f"{TARGET_COVERAGE:.0%})"
    )


def explain_gap(n: int, s: dict[str, Any]) -> str:
    """Why coverage fell short at this n, in the study's own numbers."""
    side = (
        "the interval lay wholly above the held-out score (optimistic)"
        if s["missed_above"] >= s["missed_below"]
        else "the interval lay wholly below the held-out score (pessimistic)"
    )
    return (
        f"n = {n}: coverage {s['coverage']:.1%} (Wilson 95% {s['wilson95'][0]:.1%}–"
        f"{s['wilson95'][1]:.1%}) over {s['runs']} runs. Of the {s['runs'] - s['covered']} "
        f"misses, {s['missed_above']} were above and {s['missed_below']} below, so mostly "
        f"{side}. Mean bias {s['bias']:+.3f} (SE {s['bias_se']:.3f}); the errors "
        f"(estimate − held-out) have SD {s['sd_error']:.3f} and 90% of them are within "
        f"±{s['q90_abs_error']:.3f}, while the median interval is {s['median_width']:.3f} wide "
        f"(half-width {s['median_width'] / 2:.3f}): to reach 90% the interval would need a "
        f"half-width near {s['q90_abs_error']:.3f} around an unbiased estimate."
    )


def width_line(s: dict[str, Any]) -> str:
    """The median half-width against the 95th percentile of |estimate − held-out|: above
    1, the intervals are wider than a 95% interval needs (they over-cover); below, narrower."""
    q95 = s["q95_abs_error"]
    head = (
        f"n = {s['n']}: median half-width {s['median_width'] / 2:.3f}; 95% of the errors "
        f"(estimate − held-out) are within ±{q95:.3f} (SD {s['sd_error']:.3f})"
    )
    if not q95 or math.isnan(q95) or math.isnan(s["median_width"]):
        return head + ", so no ratio can be formed"
    ratio = (s["median_width"] / 2) / q95
    reading = "wider than needed: it over-covers" if ratio > 1 else "too narrow"
    return (
        f"{head}, so the median interval is {ratio:.1f} times as wide as a 95% interval needs "
        f"to be ({reading})"
    )


# --------------------------------------------------------------------------------------
# one run
# --------------------------------------------------------------------------------------
def _cpu() -> float:
    """CPU seconds of this process and its finished children."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def heldout_score(
    run: Any, scoring: Any, cohort: Cohort, bootstraps: int = 0, seed: int = 0
) -> tuple[float, float | None]:
    """The refitted winner's primary metric on the scoring rows (insightome's own metric),
    and its bootstrap SE over the scored patients (None without ``bootstraps``)."""
    import insightome
    from insightome.evaluate.metrics import PRIMARY, plain

    pred = insightome.predict(run, scoring, log=False)
    pred = pred.loc[[str(s) for s in scoring.obs_names]]
    obs = scoring.obs
    if cohort.task == "survival":
        time_, event = obs[cohort.options["time_col"]].to_numpy(float), obs[cohort.options["event"]]
        y = np.where(event.to_numpy(int) == 1, time_, -time_)
        scores = pred[["risk"]].to_numpy(float)
    else:
        positive = run.results["outcome"]["positive_class"]
        y = (obs[cohort.options["target"]].astype(str).to_numpy() == str(positive)).astype(int)
        scores = pred[[f"prob_{positive}"]].to_numpy(float)
    fn = PRIMARY[cohort.task].fn
    value = plain(fn, y, scores)
    if not bootstraps:
        return value, None
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(y), np.full(len(y), 1 / len(y)), size=bootstraps)
    return value, float(np.nanstd(fn(y, scores, weights.astype(float)), ddof=1))


def run_one(cohort_name: str, n: int, rep: int, preset: str = "fast") -> dict[str, Any]:
    """Draw one subsample, run insightome on it, score the refitted winner on the rest."""
    import insightome

    cohort, data = COHORTS[cohort_name], cohort_data(cohort_name)
    seed = draw_seed(cohort_name, n, rep)
    train, score = draw_subsample(data.strata, data.groups, n, np.random.default_rng(seed))
    ids = sorted(str(s) for s in data.adata.obs_names[train])
    row: dict[str, Any] = {
        "cohort": cohort_name,
        "n": n,
        "rep": rep,
        "draw_seed": seed,
        "train_ids_sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16],
        "train_ids": ids,
        "n_train_rows": len(train),
        "n_scored": len(score),
        "train_events": int(data.strata[train].sum()),
        "preset": preset,
    }
    cpu0, wall0 = _cpu(), time.perf_counter()
    try:
        run = insightome.run(
            data.adata[train].copy(), **cohort.options, preset=preset, seed=rep, n_jobs=1,
            out_dir=None, discover=False, audit=False, progress=False,
        )  # fmt: skip
        run_cpu = _cpu() - cpu0
        heldout, heldout_se = heldout_score(
            run, data.adata[score].copy(), cohort, HELDOUT_BOOTSTRAPS, seed
        )
    except Exception as exc:  # a run that stops is a result of the study, not hidden
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        row.update(error=f"{type(exc).__name__}: {message}"[:500])
        row.update(cpu_seconds=_cpu() - cpu0, wall_seconds=time.perf_counter() - wall0)
        return row
    res, est = run.results, run.results["estimate"]
    lo, hi = (float(x) for x in est["ci95"])
    row.update(
        task=res["task"],
        metric=est["metric"],
        folds=int(res["resampling"]["folds"]),
        fold_reason=res["resampling"]["fold_choice"]["reason"],
        repeats=int(res["resampling"]["repeats"]),
        n_bootstrap=int(est["n_bootstrap"]),
        classes_left_out=[c["label"] for c in res["outcome"].get("classes_left_out") or []],
        winner=res["winner"]["name"],
        estimate=float(est["value"]),
        ci95=[lo, hi],
        plain_cv=float(est["plain_cv_value"]),
        heldout=heldout,
        heldout_se=heldout_se,
        covers=bool(lo <= heldout <= hi),
        n_features=int(res["n_features"]),
        notes=list(res["notes"]),
        warnings=list(res["warnings"]),
        run_cpu_seconds=run_cpu,
        cpu_seconds=_cpu() - cpu0,
        wall_seconds=time.perf_counter() - wall0,
    )
    return row


def _worker_init() -> None:
    import warnings

    warnings.filterwarnings("ignore")  # fits' warnings are counted in the run's notes


def _run_task(task: tuple[str, int, int, str]) -> dict[str, Any]:
    return run_one(*task)


# --------------------------------------------------------------------------------------
# the plan, the runs file
# --------------------------------------------------------------------------------------
def make_plan(
    cohorts: Iterable[str], sizes: Iterable[int], per_cell: int | dict[str, int]
) -> list[tuple[str, int, int]]:
    """Replicate-major: every cohort x n cell gets its k-th run before any gets its k+1-th
    (``per_cell`` may differ per cohort: a cohort with fewer stops earlier)."""
    cohorts, sizes = list(cohorts), list(sizes)
    count = per_cell if isinstance(per_cell, dict) else dict.fromkeys(cohorts, per_cell)
    reps = max(count.values(), default=0)
    return [(c, n, rep) for rep in range(reps) for n in sizes for c in cohorts if rep < count[c]]


def read_runs(path: Path) -> list[dict[str, Any]]:
    """The finished runs (a torn last line, from a killed writer, is ignored)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


#: what a compact run (benchmarks/results/small_n.json) must hold to be summarised and
#: skipped on resume: the run key and the numbers the summary reads
COMPACT_KEYS = ("cohort", "n", "rep", "cpu_seconds", "wall_seconds")
COMPACT_DONE_KEYS = ("estimate", "ci95", "plain_cv", "heldout", "covers", "folds")


def read_compact_runs(path: Path) -> list[dict[str, Any]]:
    """The compact runs stored in a results JSON (none when it is absent or unreadable)."""
    try:
        runs = json.loads(path.read_text()).get("runs", [])
    except (OSError, json.JSONDecodeError, AttributeError):
        return []
    need = [*COMPACT_KEYS]
    return [r for r in runs if all(k in r for k in need)
            and ("error" in r or all(k in r for k in COMPACT_DONE_KEYS))]  # fmt: skip


def gather_runs(runs: Path, results: Path | None) -> list[dict[str, Any]]:
    """Every finished run: the runs file's, then the results JSON's compact runs that the
    runs file lacks (a wiped /tmp loses the training IDs, not the runs)."""
    rows = read_runs(runs)
    seen = {(r["cohort"], r["n"], r["rep"]) for r in rows}
    for r in read_compact_runs(results) if results is not None else []:
        if (r["cohort"], r["n"], r["rep"]) not in seen:
            rows.append(r)
            seen.add((r["cohort"], r["n"], r["rep"]))
    return rows


def source_state() -> dict[str, Any]:
    """The commit and the uncommitted edits under src/, the package's coverage table (which
    this script writes) not counted as an edit."""
    state = omics_suite.source_state()
    modified = [f for f in state["src_modified"] if not f.endswith(PACKAGE_TABLE.name)]
    return {"commit": state["commit"], "src_modified": modified}


def append_run(path: Path, row: dict[str, Any]) -> None:
    with path.open("a") as fh:
        fh.write(json.dumps(row) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def available(cohorts: list[str]) -> list[str]:
    kept = []
    for c in cohorts:
        if COHORTS[c].source.exists():
            kept.append(c)
        else:
            print(f"skipped {c}: {COHORTS[c].source} not found", file=sys.stderr)
    return kept


def execute(
    plan: list[tuple[str, int, int]], runs: Path, workers: int, preset: str,
    results: Path | None = None,
) -> None:  # fmt: skip
    done = {(r["cohort"], r["n"], r["rep"]) for r in gather_runs(runs, results)}
    todo = [(c, n, rep, preset) for c, n, rep in plan if (c, n, rep) not in done]
    print(
        f"{len(done & set(plan))} of {len(plan)} runs already in {runs} or {results}; "
        f"{len(todo)} to go",
        flush=True,
    )
    if not todo:
        return
    source = source_state()  # recorded in every run: the code that made it
    runs.parent.mkdir(parents=True, exist_ok=True)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"  # one core per run: workers are the parallelism
    context = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    with cf.ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
        pending = {pool.submit(_run_task, t): t for t in todo[: workers * 2]}
        queue = todo[workers * 2 :]
        finished = 0
        while pending:
            ready, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for fut in ready:
                task = pending.pop(fut)
                row = {
                    **fut.result(),
                    "commit": source["commit"],
                    "src_dirty": bool(source["src_modified"]),
                }
                append_run(runs, row)
                finished += 1
                status = (
                    f"ERROR {row['error']}"
                    if "error" in row
                    else f"{row['estimate']:.3f} [{row['ci95'][0]:.3f}, {row['ci95'][1]:.3f}] "
                    f"held-out {row['heldout']:.3f}"
                )
                rate = (time.perf_counter() - start) / finished
                print(
                    f"[{finished}/{len(todo)}] {task[0]} n={task[1]} rep={task[2]}: {status} "
                    f"({row['cpu_seconds']:.0f} CPU-s; "
                    f"~{rate * (len(todo) - finished) / 3600:.1f} h left)",
                    flush=True,
                )
                if queue:
                    nxt = queue.pop(0)
                    pending[pool.submit(_run_task, nxt)] = nxt


# --------------------------------------------------------------------------------------
# the results files
# --------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return "–" if x is None or math.isnan(x) else f"{x:.1%}"


def _f(x: float, signed: bool = False) -> str:
    if x is None or math.isnan(x):
        return "–"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def _subset(c: dict[str, Any]) -> str:
    """A coverage of a subset of runs, or "too few to judge" under ``MIN_JUDGE`` runs."""
    if not c["runs"]:
        return "none"
    if not c["enough"]:
        return f"{c['covered']} / {c['runs']}: too few to judge (< {MIN_JUDGE})"
    lo, hi = c["wilson95"]
    return f"{_pct(c['coverage'])} of {c['runs']} ({_pct(lo)}–{_pct(hi)})"


def _row(label: list[str], s: dict[str, Any]) -> str:
    lo, hi = s["wilson95"]
    ok = s["runs"]
    cells = [
        *label,
        f"{s['runs']} / {s['planned']}" + (f" ({s['failed']} failed)" if s["failed"] else ""),
        f"{_pct(s['coverage'])} ({_pct(lo)}–{_pct(hi)})" if ok else "–",
        f"{s['ci_whole_range']} / {ok}" if ok else "–",
        f"{s['ci_includes_chance']} / {ok}" if ok else "–",
        _subset(s["excluding_chance"]),
        _subset(s["coverage_of_mean"]),
        f"{s['missed_above']} / {s['missed_below']}",
        f"{_f(s['mean_width'])} / {_f(s['median_width'])}",
        f"{_f(s['bias'], True)} ± {_f(s['bias_se'])}",
        f"{_f(s['plain_cv_optimism'], True)} ± {_f(s['plain_cv_optimism_se'])}",
        f"{_f(s['mean_estimate'])} / {_f(s['mean_heldout'])}",
        f"{s['cpu_seconds']:.1f}" if s["done"] else "–",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "runs ok / planned | coverage of the 95% CI (Wilson 95%) | CI = whole range [0, 1] "
    "| CI includes chance (0.5) | coverage where the CI excludes chance "
    "| coverage of the cell-mean held-out score | misses above / below "
    "| CI width mean / median | bias ± SE | plain-CV optimism ± SE "
    "| mean estimate / held-out | CPU s per run |"
)
RULE = "|---" * (HEADER.count("|") + 1)


def projected_hours(summary: dict[str, Any]) -> float:
    """The full plan's wall time on ``BUDGET_CORES`` cores, from the measured CPU per run."""
    done = [c for c in summary["cells"] if c["done"]]
    if not done:
        return math.nan
    per_run = sum(c["cpu_seconds"] * c["done"] for c in done) / sum(c["done"] for c in done)
    total = sum(  # a cell not started yet: the mean CPU of every run so far
        (c["cpu_seconds"] if c["done"] else per_run) * c["planned"] for c in summary["cells"]
    )
    return total / BUDGET_CORES / 3600


def _values(summary: dict[str, Any], key: str) -> str:
    got = sorted({v for p in summary["pooled"] for v in p[key]})
    return " or ".join(f"{v:,}" for v in got) if got else "–"


def settings_line(meta: dict[str, Any], summary: dict[str, Any]) -> str:
    """The settings the runs actually used (read from the runs, not assumed)."""
    return (
        f"- insightome settings: preset `{meta['preset']}`, everything else its defaults at "
        "that n (folds 5 or fewer when the smallest class asks; as recorded by the runs: "
        f"{_values(summary, 'repeats')} repeats, {_values(summary, 'n_bootstrap')} BBC-CV "
        "bootstraps), discovery and audit skipped, n_jobs=1, seed = replicate number"
    )


def heldout_line(summary: dict[str, Any]) -> str:
    """What the held-out score stands for, and its own SE as the runs measured it."""
    measured = [p for p in summary["pooled"] if p["heldout_se_runs"]]
    if measured:
        se = "; ".join(f"n = {p['n']}: {p['heldout_se_median']:.3f} (median of "
                       f"{p['heldout_se_runs']} runs)" for p in measured)  # fmt: skip
        se = f"Its own SE (bootstrap of the scored patients, {HELDOUT_BOOTSTRAPS} resamples): {se}."
    else:
        se = "Its own SE was not recorded by these runs (runs before the bootstrap SE)."
    return (
        "**What the held-out score stands for.** It is the refitted model's *conditional* "
        "performance: that one model, fitted on that subsample, scored on every remaining "
        f"patient (> 1,000). {se} Cross-validation estimates this conditional performance "
        "poorly: CV tracks the expected performance of a model fitted on n patients more "
        "than the one in hand (Bates, Hastie & Tibshirani, JASA 2023). So coverage is also "
        "reported against the **cell-mean held-out score** (the mean over the cell's runs: "
        "the unconditional target). The Wilson intervals describe runs on *these* cohorts "
        "and draws; another cohort's coverage may differ. Drawing at least "
        f"{MIN_PER_STRATUM} of each class (stratified) gives less varied subsamples than "
        "plain random sampling would, so these coverages are if anything tighter than a "
        "researcher's own unstratified cohort would see."
    )


def render(meta: dict[str, Any], summary: dict[str, Any]) -> str:
    m, v, src = meta["machine"], meta["versions"], meta["source"]
    lines = ["# Small-n coverage study: do 95% intervals hold at n = 20–100?", ""]
    if meta["quick"]:
        lines += [
            f"> **QUICK SMOKE TEST** (`--quick`: {QUICK_PER_CELL} runs per cell). These numbers "
            "are NOT the study; never quote them.",
            "",
        ]
    if summary["partial"]:
        lines += [
            f"> **PARTIAL**: {summary['done']} of {summary['planned']} planned runs are done "
            "(per cell below). Resume with the same command; summarise again with "
            "`--summarize`.",
            "",
        ]
    commits = meta.get("run_commits") or []
    made_by = ", ".join(
        f"{c['commit']}{' (src/ edited)' if c['src_dirty'] else ''}: {c['runs']}" for c in commits
    )
    if commits and meta.get("runs_without_commit"):
        made_by += f"; {meta['runs_without_commit']} runs before commits were recorded"
    lines += [
        f"- Command: `{meta['command']}`; runs file `{meta['runs']}`",
        f"- Summarised: {meta['date']}",
        f"- Machine: {m['cpu']}, {m['logical_cores']} logical cores ({m['usable_cores']} "
        f"usable), {m['ram_gib']} GiB RAM; {m['os']}",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- Source: git commit {src['commit']}"
        + (
            f" (uncommitted edits under src/: {', '.join(src['src_modified'])})"
            if src["src_modified"]
            else " (src/ clean)"
        ),
        f"- Runs made by commits: {made_by or 'not recorded'}",
        settings_line(meta, summary),
        "",
        "## Protocol",
        "",
        "Cohorts (each leaves > 1,000 patients to score):",
        "",
    ]
    for name in meta["cohorts"]:
        lines.append(f"- **{COHORTS[name].title}** (`{name}`, {COHORT_METRIC[name]}, "
                     f"{PREDICTORS[name]} predictors): {COHORTS[name].description}.")  # fmt: skip
    lines += [
        "",
        f"For each n in {', '.join(map(str, meta['sizes']))} and replicate k, n patients are "
        "drawn without replacement, stratified by outcome class (survival: by event) with "
        f"at least {MIN_PER_STRATUM} of each, from a seed fixed by cohort, n and k (the draw "
        "is recorded: its seed and the sorted patient IDs, in the runs file). A patient's rows "
        "go all to training or all to scoring. insightome runs in-process on the subsample "
        "(`insightome.run`, no tuning for the benchmark); its refitted winner predicts every "
        "remaining patient and is scored with the run's own primary metric "
        "(`insightome.evaluate.metrics.PRIMARY`: AUC; Harrell's C-index for survival). "
        "**Coverage**: the fraction of runs whose 95% BBC-CV interval contains that held-out "
        "score, with a Wilson 95% interval. **CI = whole range**: the interval was [0, 1] "
        "and said nothing; **CI includes chance**: it contained 0.5; **coverage where the "
        "CI excludes chance**: among the intervals that make a claim (too few to judge under "
        f"{MIN_JUDGE}). An interval that spans almost everything covers almost always, so "
        "read coverage with these columns. **Misses above / below**: the interval lay wholly "
        "above (optimistic) or below the held-out score. **Bias**: mean of estimate − held-out "
        "(± its standard error); **plain-CV optimism**: the winner's plain CV score − held-out. "
        "A run that stops is counted as failed and left out of coverage.",
        "",
        heldout_line(summary),
        "",
        f"## Pooled per n (target: coverage ≥ {TARGET_COVERAGE:.0%} at every n ≥ {TARGET_FROM_N})",
        "",
        f"| n | {HEADER} target |",
        RULE + "|---|---|",
    ]
    for p in summary["pooled"]:
        lines.append(_row([str(p["n"])], p)[:-1] + f"| {p['target']} |")
    short = [p for p in summary["pooled"] if p["target"].startswith("NOT met")]
    lines += [""]
    if short:
        lines += ["Where the target is not met:", ""]
        lines += [f"- {explain_gap(p['n'], p)}" for p in short]
    elif any(p["target"].startswith("met") for p in summary["pooled"]):
        lines.append(
            "The target is met at every n ≥ 30 with runs"
            + (" (so far: the study is partial)" if summary["partial"] else "")
            + "; see the verdict's Wilson bound and how many intervals excluded chance."
        )
    lines += ["", "Width against the errors it has to cover, per n:", ""]
    lines += [f"- {width_line(p)}" for p in summary["pooled"] if p["runs"] > 1]
    low = [p for p in summary["pooled"] if p["n"] < TARGET_FROM_N and p["runs"]]
    lines += [f"- below the target's range: {explain_gap(p['n'], p)}" for p in low
              if p["coverage"] < TARGET_COVERAGE]  # fmt: skip
    lines += [
        "",
        "## Per cohort and n",
        "",
        f"| cohort | n | {HEADER}",
        RULE + "|---|",
    ]
    for c in summary["cells"]:
        lines.append(_row([COHORTS[c["cohort"]].title, str(c["n"])], c))
    lines += [
        "",
        "## Coverage table shipped with the package",
        "",
        "`src/insightome/evaluate/small_n_coverage.json` (written by `--summarize` from the "
        "full default plan only) holds the pooled coverage per metric and n below, with the "
        "regime it was measured in (cohorts, held-out signal range, predictors, preset, "
        "bootstraps, median CI width). A run of n patients is given the entry at the nearest "
        "studied n at or below its own (`insightome.evaluate.small_n`): a warning when that "
        f"coverage is below {TARGET_COVERAGE:.0%} or n is below the smallest studied n, a "
        "note otherwise, with a caveat when the run lies outside the studied regime; an "
        f"entry of fewer than {MIN_JUDGE} subsamples says nothing yet.",
        "",
        "| metric | n | runs / planned | coverage (Wilson 95%) | CI = [0, 1] | CI excludes "
        "chance: covered / runs | median width | held-out range (cohort means) | "
        "predictors | cohorts |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in summary["coverage_table"]:
        lines.append(
            f"| {t['metric']} | {t['n']} | {t['runs']} / {t['planned']} | {_pct(t['coverage'])} "
            f"({_pct(t['wilson95'][0])}–{_pct(t['wilson95'][1])}) | {t['ci_whole_range']} | "
            f"{t['excluding_chance_covered']} / {t['excluding_chance_runs']} | "
            f"{t['median_width']:.3f} | {t['heldout_range'][0]:.3f}–{t['heldout_range'][1]:.3f} "
            f"| {t['predictors'][0]}–{t['predictors'][1]} | {', '.join(t['cohorts'])} |"
        )
    lines += ["", "## Cost", "", cost_line(summary), ""]
    return "\n".join(lines)


def cost_line(summary: dict[str, Any]) -> str:
    cells = [c for c in summary["cells"] if c["done"]]
    failed = [c for c in cells if c["failed"]]
    text = (
        "Measured CPU per run (the run and the scoring; mean per cell above). The full plan "
        f"({summary['planned']} runs) projects to **{projected_hours(summary):.2f} h** of wall "
        f"time on {BUDGET_CORES} cores (budget ≤ {BUDGET_HOURS:.0f} h), CPU time / "
        f"{BUDGET_CORES}."
    )
    if cells:
        wall = sum(c["wall_seconds"] * c["done"] for c in cells) / sum(c["done"] for c in cells)
        text += (
            f" Mean wall time per run {wall:.1f} s (one run per core; on a shared machine the "
            "wall time includes waiting for the CPU)."
        )
    text += (
        f" Runs with fewer folds than 5: {sum(c['folds_changed'] for c in cells)}; failed "
        f"runs: {sum(c['failed'] for c in cells)}"
    )
    if failed:
        listed = ", ".join(
            f"{COHORTS[c['cohort']].title} n={c['n']}: {c['failed']}" for c in failed
        )
        text += f" ({listed}; each error is in the JSON)"
    return text + "."


# --------------------------------------------------------------------------------------
# writing: never a smaller table over a larger one
# --------------------------------------------------------------------------------------
class Refused(Exception):
    """A write that would lose results; the message is the one line to print."""


def compact_runs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs as stored in the results JSON: everything but the training IDs and the
    message texts (their counts kept); enough to summarise and to resume."""
    out = []
    for full in rows:
        r = {k: v for k, v in full.items() if k not in ("train_ids", "notes", "warnings")}
        if "notes" in full:
            r["notes_count"], r["warnings_count"] = len(full["notes"]), len(full["warnings"])
        out.append(r)
    return out


def _run_commits(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts: dict[tuple[str, bool], int] = {}
    for r in rows:
        if "commit" in r:
            key = (str(r["commit"]), bool(r.get("src_dirty")))
            counts[key] = counts.get(key, 0) + 1
    return [{"commit": c, "src_dirty": d, "runs": k} for (c, d), k in counts.items()]


def full_default_plan(args: argparse.Namespace, cohorts: list[str]) -> str | None:
    """Why this invocation may not write the package's table (None: it may)."""
    if args.quick:
        return "a --quick smoke test"
    if cohorts != list(COHORTS):
        return f"not every cohort ({', '.join(cohorts)} of {', '.join(COHORTS)})"
    if args.size_list != list(SIZES):
        return f"not the default sizes ({args.sizes})"
    if args.per_cell_given is not None:
        return "--per-cell set"
    return None


def check_overwrite(path: Path, new_runs: int, new_entries: int | None, force: bool) -> None:
    """Refuse to replace ``path`` by one with fewer runs or entries, unless ``force``."""
    if force or not path.exists():
        return
    try:
        old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return
    entries = old.get("entries")
    if entries is not None:  # the package's table
        old_runs, old_entries = sum(int(e["runs"]) for e in entries), len(entries)
    else:
        old_runs, old_entries = len(old.get("runs", [])), None
    if new_runs < old_runs or (new_entries is not None and new_entries < (old_entries or 0)):
        what, had = f"{new_runs} runs", f"{old_runs} runs"
        if new_entries is not None:
            what, had = f"{what} in {new_entries} entries", f"{had} in {old_entries} entries"
        raise Refused(
            f"refusing to overwrite {path}: it holds {had}, this summary {what}; pass the "
            "runs file that made it with --runs, or --force to replace it"
        )


def write_outputs(
    rows: list[dict[str, Any]], plan: list[tuple[str, int, int]], args: argparse.Namespace,
    cohorts: list[str] | None = None,
) -> None:  # fmt: skip
    """The results Markdown and JSON, and (full default plan only) the package's table;
    every refusal is checked before anything is written."""
    summary = summarize(rows, plan)
    commits = _run_commits(rows)
    meta = {
        "command": "python benchmarks/small_n.py " + " ".join(args.argv),
        "runs": str(args.runs),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": omics_suite.machine_info(),
        "versions": omics_suite.versions(),
        "source": source_state(),
        "run_commits": commits,
        "runs_without_commit": sum(1 for r in rows if "commit" not in r),
        "quick": args.quick,
        "preset": args.preset,
        "cohorts": args.cohort_list if cohorts is None else cohorts,
        "sizes": args.size_list,
        "per_cell": args.per_cell,
        "per_cell_by_cohort": {c: per_cell_for(c, args) for c in args.cohort_list},
        "projected_hours_2_cores": projected_hours(summary),
    }
    out, results = args.output, args.output.with_suffix(".json")
    why_not = full_default_plan(args, meta["cohorts"])
    table = package_table(meta, summary) if why_not is None else None
    check_overwrite(results, len(rows), None, args.force)
    if table is not None and args.package_table is not None:
        n_runs = sum(e["runs"] for e in table["entries"])
        check_overwrite(args.package_table, n_runs, len(table["entries"]), args.force)
    out.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps({"meta": meta, "summary": summary}, indent=1).removesuffix("\n}")
    lines = ",\n".join("  " + json.dumps(r) for r in compact_runs(rows))  # one line per run
    results.write_text(f'{head},\n "runs": [\n{lines}\n ]\n}}\n')
    out.write_text(render(meta, summary))
    print(f"wrote {out} and {results}")
    if args.package_table is None:
        return
    if table is None:
        print(f"package table not written ({why_not}): it holds the full default plan only")
        return
    args.package_table.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {args.package_table}")


def package_table(meta: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """What the package reads: the pooled coverage per metric x n, the regime it was
    measured in, and where it came from."""
    return {
        "source": "benchmarks/results/small_n.md",
        "date": meta["date"],
        "commit": meta["source"]["commit"],
        "run_commits": sorted({c["commit"] for c in meta["run_commits"]}),
        "target": TARGET_COVERAGE,
        "partial": summary["partial"],
        "preset": meta["preset"],
        "one_sample_per_patient": True,
        "entries": summary["coverage_table"],
    }


def per_cell_for(cohort: str, args: argparse.Namespace) -> int:
    if args.per_cell_given is not None or args.quick:
        return int(args.per_cell)
    return PER_CELL_BY_COHORT.get(cohort, PER_CELL)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cohorts", default=",".join(COHORTS))
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument(
        "--per-cell", type=int, default=None,
        help=f"runs per cohort x n (default {PER_CELL}; {PER_CELL_BY_COHORT or 'no'} overrides)",
    )  # fmt: skip
    ap.add_argument("--workers", type=int, default=2, help="processes, one run (n_jobs=1) each")
    ap.add_argument(
        "--runs", type=Path, default=None,
        help=f"JSONL of runs, appended to as they finish (default {DEFAULT_RUNS}; --quick: "
        "/tmp/small_n_quick.jsonl); the results JSON's compact runs are read too",
    )  # fmt: skip
    ap.add_argument("--output", type=Path, default=None, help="Markdown results (JSON beside)")
    ap.add_argument("--summarize", action="store_true", help="only write the results files")
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 runs per cell")
    ap.add_argument("--preset", default="fast", choices=("fast", "default"))
    ap.add_argument(
        "--package-table", type=Path, default=PACKAGE_TABLE,
        help="the package's coverage table, written with the results (full default plan only)",
    )  # fmt: skip
    ap.add_argument(
        "--force", action="store_true",
        help="overwrite results or a package table holding more runs or entries than this one",
    )  # fmt: skip
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.cohort_list = [c.strip() for c in args.cohorts.split(",") if c.strip()]
    unknown = [c for c in args.cohort_list if c not in COHORTS]
    if unknown:
        ap.error(f"unknown cohort(s) {', '.join(unknown)}; choose from {', '.join(COHORTS)}")
    args.size_list = [int(s) for s in args.sizes.split(",")]
    args.per_cell_given = args.per_cell
    if args.per_cell is None:
        args.per_cell = QUICK_PER_CELL if args.quick else PER_CELL
    tmp = Path(tempfile.gettempdir())
    if args.runs is None:
        args.runs = tmp / "small_n_quick.jsonl" if args.quick else DEFAULT_RUNS
    if args.output is None:
        args.output = tmp / "small_n_quick.md" if args.quick else RESULTS_DIR / "small_n.md"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cohorts = available(args.cohort_list)
    plan = make_plan(cohorts, args.size_list, {c: per_cell_for(c, args) for c in cohorts})
    results = args.output.with_suffix(".json")
    if not args.summarize:
        execute(plan, args.runs, args.workers, args.preset, results)
    keys = set(plan)
    rows = [r for r in gather_runs(args.runs, results) if (r["cohort"], r["n"], r["rep"]) in keys]
    try:
        write_outputs(rows, plan, args, cohorts)
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
