"""What the small-n coverage study measured, said to a run of the same size.

``benchmarks/small_n.py`` draws hundreds of small training subsamples (n = 20, 30, 50,
100) from cohorts that leave over 1,000 patients to score, runs insightome on each, and
counts how often the run's 95% BBC-CV interval contained the refitted winner's score on
the rest. ``--summarize`` writes the pooled coverage per metric and n into
``small_n_coverage.json`` beside this module (tests/test_bench_small_n.py checks that it
equals ``benchmarks/results/small_n.json``).

A run of n patients (groups with ``--groups``, else samples) is given the entry at the
nearest studied n at or below its own (the smallest studied n when it is smaller still),
for its primary metric, as long as n is at most :data:`REACH` times the largest studied
n. The rule (decided here, stated in benchmarks/README.md): coverage below
:data:`TARGET` (the issue's 90%) is a **warning** that the interval is narrower than it
should be; coverage at or above it is a **note** citing the measured coverage. Both name
the number of subsamples, the cohorts and the Wilson 95% interval of the coverage, and
say so when the study was still partial. No table, no entry for the metric, an n
beyond reach, or an entry resting on fewer than :data:`MIN_RUNS` subsamples (early in a
partial study): nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from insightome.evaluate.metrics import metric_label

__all__ = [
    "MIN_RUNS",
    "REACH",
    "TARGET",
    "CoverageEntry",
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
SOURCE = "small-n study, benchmarks/results/small_n.md"
TABLE_FILE = "small_n_coverage.json"


@dataclass(frozen=True)
class CoverageEntry:
    """The pooled coverage the study measured for one metric at one n."""

    metric: str
    n: int
    runs: int
    planned: int
    covered: int
    coverage: float
    wilson95: tuple[float, float]
    cohorts: tuple[str, ...]


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


def small_n_finding(
    n: int, metric: str, table: dict[str, Any] | None = None
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
    where = f"at n = {entry.n}"
    if n < entry.n:
        where = f"this run has n = {n}, below the smallest studied n; {where}"
    elif n > entry.n:
        where = f"this run has n = {n}; {where}, the nearest studied n at or below it"
    cohorts = f"; cohorts {', '.join(entry.cohorts)}" if entry.cohorts else ""
    partial = (
        f" The study was partial: {entry.runs} of {entry.planned} planned subsamples at this n."
        if entry.runs < entry.planned or table.get("partial")
        else ""
    )
    measured = (
        f"small-n coverage: {where}, 95% intervals like this one contained the held-out "
        f"{metric_label(metric)} in {entry.coverage:.0%} of {entry.runs} subsamples (Wilson "
        f"95% CI {lo:.0%}–{hi:.0%}{cohorts}; {SOURCE})"
    )
    if entry.coverage < target:
        message = f"{measured}: treat the interval as narrower than it should be.{partial}"
        return SmallNFinding("warning", message, entry)
    message = f"{measured}, at or above the {target:.0%} target.{partial}"
    return SmallNFinding("note", message, entry)
