"""The small-n study's summary and its Markdown (benchmarks/small_n.py runs the study).

Coverage of the runs' 95% intervals per cohort x n, pooled per n and per metric x n (the
package's table), with the counts that qualify it (intervals that were [0, 1] or included
chance, coverage among those that excluded it, coverage of the cell-mean held-out score),
the verdict against the issue's target with its Wilson bound, and the results page.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np

from small_n_cohorts import COHORT_METRIC, COHORTS, MIN_PER_STRATUM, PREDICTORS

QUICK_PER_CELL = 2
TARGET_COVERAGE = 0.90
TARGET_FROM_N = 30
BUDGET_HOURS = 2.0
BUDGET_CORES = 2
Z95 = 1.959964
CHANCE = 0.5  # AUC and C-index of a model that knows nothing
MIN_JUDGE = 20  # fewer runs than this in a subset (e.g. intervals excluding chance): no verdict
HELDOUT_BOOTSTRAPS = 200  # the held-out score's own SE, by bootstrap of the scored patients


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
        f"bootstraps{_estimator(meta)}), discovery and audit skipped, n_jobs=1, seed = "
        "replicate number"
    )


def _estimator(meta: dict[str, Any]) -> str:
    """The BBC-CV scoring and interval the runs used, as recorded (older results: none)."""
    est = meta.get("estimate")
    if not est:
        return ""
    return f", bootstraps scored `{est['pooling']}` with the `{est['interval']}` interval"


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
        f"{MIN_PER_STRATUM} of each class, stratified by outcome, varies the class balance "
        "less than plain random sampling would, so the estimates vary less than in "
        "unstratified cohorts of the same n: a researcher's own cohort may see somewhat "
        "larger errors than measured here."
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
        RULE + "|---|",
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
