"""What the small-n coverage study measured, said to a run of the same size.

``benchmarks/small_n.py`` draws hundreds of small training subsamples (n = 20, 30, 50,
100) from cohorts that leave over 1,000 patients to score, runs insightome on each, and
counts how often the run's 95% BBC-CV interval contained the refitted winner's score on
the rest. ``--summarize`` writes the pooled coverage per metric and n, with the regime it
was measured in (the cohorts, their held-out signal range, the number of predictors, the
preset, the bootstraps, the median interval width), into ``small_n_coverage.json`` beside
this module (tests/test_bench_small_n.py checks that it equals
``benchmarks/results/small_n.json``).

A run of n patients (groups with ``--groups``, else samples) is given the entry at the
nearest studied n at or below its own, for its primary metric, as long as n is at most
:data:`REACH` times the largest studied n. The rule (decided here, stated in
benchmarks/README.md):

- n below the smallest studied n: a **warning** that coverage was not studied there (it
  gets worse as n shrinks), never a reassuring note;
- coverage below :data:`TARGET` (the issue's 90%): a **warning** that the interval is
  narrower than it should be;
- otherwise a **note** citing the measured coverage.

Each names the number of subsamples, the Wilson 95% interval of the coverage, the median
interval width and the studied regime, and says so when the study was partial. A run
outside that regime (many more predictors than studied, several samples per patient,
another preset) gets a caveat in the same line rather than the implication that the
number applies. No table, no entry for the metric, an n beyond reach, or an entry
resting on fewer than :data:`MIN_RUNS` subsamples (early in a partial study): nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from insightome.evaluate.metrics import metric_label
from insightome.options.checks import LEGACY_INTERVAL, LEGACY_POOLING

__all__ = [
    "MIN_RUNS",
    "P_FACTOR",
    "REACH",
    "TARGET",
    "CoverageEntry",
    "RunRegime",
    "SmallNFinding",
    "load_table",
    "small_n_finding",
]

#: coverage of a 95% interval the study aims for at n >= 30 (issue 19)
TARGET = 0.90
#: the table speaks to runs up to this multiple of the largest studied n
REACH = 1.5
#: an entry resting on fewer subsamples (early in a partial study) says nothing yet
MIN_RUNS = 20
#: a run with more than this multiple of the largest studied number of predictors is
#: outside the studied regime
P_FACTOR = 2.0
SOURCE = "small-n study, benchmarks/results/small_n.md"
TABLE_FILE = "small_n_coverage.json"


@dataclass(frozen=True)
class CoverageEntry:
    """The pooled coverage the study measured for one metric at one n, and its regime
    (the regime fields are None in a table written before they were recorded)."""

    metric: str
    n: int
    runs: int
    planned: int
    covered: int
    coverage: float
    wilson95: tuple[float, float]
    cohorts: tuple[str, ...]
    median_width: float | None = None
    heldout_range: tuple[float, float] | None = None
    predictors: tuple[int, int] | None = None
    n_bootstrap: tuple[int, ...] = ()
    ci_whole_range: int | None = None
    ci_includes_chance: int | None = None


@dataclass(frozen=True)
class RunRegime:
    """What the note compares with the studied regime: the run's samples (rows), its
    predictor columns (constant ones included, as the study counts its cohorts' columns),
    its preset and its BBC-CV estimator (``--bbc-pooling``, ``--bbc-interval``; None: not
    compared)."""

    samples: int | None = None
    predictors: int | None = None
    preset: str | None = None
    pooling: str | None = None
    interval: str | None = None


@dataclass(frozen=True)
class SmallNFinding:
    kind: Literal["warning", "note"]
    message: str
    entry: CoverageEntry


def load_table(path: str | Path | None = None) -> dict[str, Any] | None:
    """The shipped coverage table (or the one at ``path``); None when there is none."""
    if path is None:
        shipped = resources.files("insightome.evaluate").joinpath(TABLE_FILE)
        if not shipped.is_file():
            return None
        return dict(json.loads(shipped.read_text()))
    path = Path(path)
    return dict(json.loads(path.read_text())) if path.is_file() else None


def _pair(value: Any, cast: type) -> Any:
    return (cast(value[0]), cast(value[1])) if value else None


def _entries(table: dict[str, Any], metric: str) -> list[CoverageEntry]:
    out = [
        CoverageEntry(
            metric=e["metric"],
            n=int(e["n"]),
            runs=int(e["runs"]),
            planned=int(e.get("planned", e["runs"])),
            covered=int(e["covered"]),
            coverage=float(e["coverage"]),
            wilson95=(float(e["wilson95"][0]), float(e["wilson95"][1])),
            cohorts=tuple(e.get("cohorts", ())),
            median_width=float(e["median_width"]) if "median_width" in e else None,
            heldout_range=_pair(e.get("heldout_range"), float),
            predictors=_pair(e.get("predictors"), int),
            n_bootstrap=tuple(int(b) for b in e.get("n_bootstrap", ())),
            ci_whole_range=int(e["ci_whole_range"]) if "ci_whole_range" in e else None,
            ci_includes_chance=(
                int(e["ci_includes_chance"]) if "ci_includes_chance" in e else None
            ),
        )
        for e in table.get("entries", ())
        if e["metric"] == metric and int(e["runs"]) >= MIN_RUNS
    ]
    return sorted(out, key=lambda e: e.n)


def entry_for(n: int, metric: str, table: dict[str, Any]) -> CoverageEntry | None:
    """The entry at the nearest studied n at or below ``n`` (the smallest studied n below
    it); None beyond :data:`REACH` x the largest studied n or for an unstudied metric."""
    entries = _entries(table, metric)
    if not entries or n > REACH * entries[-1].n:
        return None
    at_or_below = [e for e in entries if e.n <= n]
    return at_or_below[-1] if at_or_below else entries[0]


def studied_regime(entry: CoverageEntry, metric: str, table: dict[str, Any]) -> str:
    """The regime the entry was measured in, in one clause."""
    parts = [f"cohorts {', '.join(entry.cohorts)}"] if entry.cohorts else []
    if entry.heldout_range:
        lo, hi = entry.heldout_range
        parts.append(f"mean held-out {metric_label(metric)} {lo:.2f}–{hi:.2f} per cohort")
    if entry.predictors:
        lo_p, hi_p = entry.predictors
        parts.append(f"{lo_p}–{hi_p} predictors" if lo_p != hi_p else f"{lo_p} predictors")
    if table.get("preset"):
        parts.append(f"preset {table['preset']}")
    if entry.n_bootstrap:
        parts.append(" or ".join(f"{b:,}" for b in entry.n_bootstrap) + " bootstraps")
    if table.get("one_sample_per_patient"):
        parts.append("one sample per patient")
    return "; ".join(parts)


def outside_regime(
    n: int, entry: CoverageEntry, regime: RunRegime, table: dict[str, Any]
) -> list[str]:
    """How the run lies outside the studied regime (empty: it does not, as far as known)."""
    out = []
    if regime.predictors is not None and entry.predictors:
        if regime.predictors > P_FACTOR * entry.predictors[1]:
            out.append(
                f"{regime.predictors} predictors, far more than the {entry.predictors[1]} studied"
            )
    if regime.samples is not None and regime.samples > n and table.get("one_sample_per_patient"):
        out.append(f"several samples per patient ({regime.samples} samples of {n} patients)")
    studied_preset = table.get("preset")
    if regime.preset is not None and studied_preset and regime.preset != studied_preset:
        out.append(f"preset {regime.preset}, the study used {studied_preset}")
    studied = studied_estimator(table)
    if regime.pooling is not None and regime.interval is not None:
        if (regime.pooling, regime.interval) != studied:
            out.append(
                f"--bbc-pooling {regime.pooling} --bbc-interval {regime.interval}, the study "
                f"measured {studied[0]} and {studied[1]}, compared in "
                "benchmarks/results/estimators.md"
            )
    return out


def studied_estimator(table: dict[str, Any]) -> tuple[str, str]:
    """The BBC-CV pooling and interval the study's runs used (a table that names none was
    measured before they were options: Tsamardinos et al.'s BBC-CV)."""
    estimate = table.get("estimate") or {}
    return (
        str(estimate.get("pooling") or LEGACY_POOLING),
        str(estimate.get("interval") or LEGACY_INTERVAL),
    )


def small_n_finding(
    n: int, metric: str, table: dict[str, Any] | None = None, regime: RunRegime | None = None
) -> SmallNFinding | None:
    """The warning or note for a run of ``n`` patients scored by ``metric``, or None."""
    table = load_table() if table is None else table
    if not table:
        return None
    entry = entry_for(n, metric, table)
    if entry is None:
        return None
    target = float(table.get("target", TARGET))
    lo, hi = entry.wilson95
    within = studied_regime(entry, metric, table)
    within = f"; studied regime: {within}" if within else ""
    width = (
        f"; median interval width {entry.median_width:.2f}"
        if entry.median_width is not None
        else ""
    )
    caveat = outside_regime(n, entry, regime or RunRegime(), table)
    caveat_text = (
        f" Caveat: this run is outside the studied regime ({'; '.join(caveat)}), so the "
        "measured coverage may not apply to it."
        if caveat
        else ""
    )
    partial = (
        f" The study was partial: {entry.runs} of {entry.planned} planned subsamples at this n."
        if entry.runs < entry.planned or table.get("partial")
        else ""
    )
    if n < entry.n:
        message = (
            f"small-n coverage: not studied below n = {entry.n} (this run has n = {n}); "
            "coverage of the 95% interval gets worse as n shrinks, so treat it as a rough "
            f"guide at best (at n = {entry.n}{width}{within}; {SOURCE}).{caveat_text}"
        )
        return SmallNFinding("warning", message, entry)
    where = f"at n = {entry.n}"
    if n > entry.n:
        where = f"this run has n = {n}; {where}, the nearest studied n at or below it"
    said = []
    if entry.ci_whole_range:
        said.append(f"{entry.ci_whole_range} the whole range [0, 1]")
    if entry.ci_includes_chance is not None:
        said.append(f"{entry.ci_includes_chance} including chance (0.5)")
    whole = f"; of the {entry.runs} intervals, {' and '.join(said)}" if said else ""
    measured = (
        f"small-n coverage: {where}, 95% intervals contained the held-out "
        f"{metric_label(metric)} in {entry.coverage:.0%} of {entry.runs} subsamples (Wilson "
        f"95% CI {lo:.0%}–{hi:.0%}{width}{whole}{within}; {SOURCE})"
    )
    if entry.coverage < target:
        message = (
            f"{measured}: treat the interval as narrower than it should be.{caveat_text}{partial}"
        )
        return SmallNFinding("warning", message, entry)
    message = f"{measured}, at or above the {target:.0%} target.{caveat_text}{partial}"
    return SmallNFinding("note", message, entry)
