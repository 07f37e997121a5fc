"""Trial recruitment (issue 23): each topic's judged trials re-ranked, on TREC Clinical Trials
2021 and 2022 and SIGIR 2016.

Data (``../shared/data/trials/``, see PROVENANCE.md section 8): the corpus
``corpus/ctgov_20230203_nct0000_0046_0049.jsonl.gz`` (6,786 ClinicalTrials.gov records of
February 2023, read with :func:`records.read_trials`; BM25's IDF comes from all of them) and,
per cohort, ``queries.jsonl`` (the patients: only ``text`` is read; ``id2queries.json``, which
holds GPT summaries, is never opened) and ``qrels/test.tsv`` (query-id, corpus-id, score; TREC:
2 eligible, 1 excluded, 0 not relevant; SIGIR: 2 highly likely to refer, 1 would consider, 0
would not refer). The corpus holds only about 3% of the judged trials, so each topic's judged
trials that are in the corpus are **re-ranked**; nothing outside them is retrieved.

Systems, on the same patients and the same trials:

* ``bm25``: :meth:`TrialIndex.scores` of the patient's note, ordered by score then NCT ID;
* ``ranker``: :meth:`Matcher.score` with ``use_criteria=True`` and the default weights;
* ``ranker without criteria``: the same with ``use_criteria=False`` (the ablation).

Measures per cohort: NDCG@10 with eligible (2) as the only relevant grade and P@10 (relevant =
2, divided by 10 as trec_eval does) over the topics with at least one eligible judged trial in
the corpus; TREC's graded NDCG@10 (gains 0/1/2) over the topics with at least one trial judged
1 or 2. Means with percentile 95% bootstrap CIs over topics (2,000 resamples, seed 0), and the
paired differences ranker − bm25 and ranker − ranker without criteria on the same resamples.
Eligible vs excluded: among the pairs judged 1 or 2, the AUC (sklearn ``roc_auc_score``) of the
ranker's score for 2 vs 1, pooled over topics, with a topic-clustered bootstrap CI; beside it
the AUC of BM25 alone (bm25 / the patient's best, the score's first part), of the score
without criteria and of the criteria part alone (``W_MET × inclusion share − W_FAIL ×
min(failed, 2)``). Criterion parsing coverage over every judged trial in the corpus.
Throughput: :func:`judge.judge_trial` over every (topic, judged trial) pair of the three
cohorts once notes and criteria are parsed, one process, best of 3; and the note and criteria
parsing rates. ``--grid``: NDCG@10 (eligible only) over a grid of the score's weights, the
parts computed once (judgements do not depend on the weights).

Writes ``benchmarks/results/trials.md`` and ``trials.json``::

    python benchmarks/trials.py --grid     # everything (a few minutes on 2 cores)
    python benchmarks/trials.py            # without the weights grid
    python benchmarks/trials.py --render   # trials.md again from trials.json
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from insightome.apps.trials.matcher import Weights

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "trials"
CORPUS = "corpus/ctgov_20230203_nct0000_0046_0049.jsonl.gz"
RESULTS = REPO / "benchmarks" / "results"
COHORTS = {"trec_2021": "TREC 2021", "trec_2022": "TREC 2022", "sigir": "SIGIR 2016"}
SYSTEMS = ("bm25", "ranker", "ranker without criteria")
LABELS = {"bm25": "BM25", "ranker": "ranker", "ranker without criteria": "ranker without criteria"}
MEASURES = {
    "ndcg_eligible": "NDCG@10, eligible only",
    "p10": "P@10 (eligible)",
    "ndcg_graded": "NDCG@10, graded (TREC)",
}
DIFFERENCES = {
    "ranker - bm25": ("ranker", "bm25"),
    "ranker - without criteria": ("ranker", "ranker without criteria"),
}
AUC_SCORES = {
    "ranker": "ranker",
    "bm25": "BM25 alone",
    "without criteria": "without criteria",
    "criteria part": "criteria part alone",
}
K = 10
N_BOOTSTRAP = 2000
SEED = 0
FAIL_CAP = Weights().cap  # Matcher.score counts at most this many failed criteria
GRID = {
    "topic": (0.0, 0.25, 0.5, 1.0, 2.0),
    "met": (0.0, 0.25, 0.5, 1.0, 2.0),
    "fail": (0.0, 0.3, 0.6, 1.0, 2.0),
}
TARGET_GAIN, TARGET_AUC, TARGET_RATE = 0.10, 0.65, 1000.0
FORMS = ("age", "sex", "measure", "condition", "text")
PACKAGES = ("bm25s", "PyStemmer", "numpy", "scikit-learn", "spacy")
REFERENCES = (
    "Published figures (quoted in issue 23; full-corpus retrieval, not this re-ranking of a "
    "few judged trials, so not comparable): BM25 NDCG@10 about 0.29–0.35 on TREC Clinical "
    "Trials; the best TREC 2021 runs about 0.71; TrialGPT (GPT-4, cloud) 87.3% criterion-level "
    "accuracy."
)


# -- data ---------------------------------------------------------------------------------
@dataclass
class Cohort:
    """A cohort's patients (note text by topic) and its judgements of trials in the corpus."""

    name: str
    texts: dict[str, str]
    qrels: dict[str, dict[str, int]]  # topic -> {NCT ID: grade}, corpus trials only, file order
    n_topics: int  # topics judged in qrels/test.tsv
    n_judgements: int
    n_judgements_in_corpus: int
    topics_without_text: int = 0


def read_cohort(name: str, corpus_ids: set[str], data: Path = DATA) -> Cohort:
    """``queries.jsonl`` (``_id`` and ``text`` only) and ``qrels/test.tsv`` of one cohort."""
    texts: dict[str, str] = {}
    for line in (data / name / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            texts[str(row["_id"])] = str(row["text"])
    qrels: dict[str, dict[str, int]] = {}
    topics: set[str] = set()
    n_judgements = n_in_corpus = 0
    lines = (data / name / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    for line in lines[1:]:  # header: query-id, corpus-id, score
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        topic, trial, grade = parts[0].strip(), parts[1].strip(), int(parts[2])
        topics.add(topic)
        n_judgements += 1
        if trial in corpus_ids and topic in texts:
            qrels.setdefault(topic, {})[trial] = grade
            n_in_corpus += 1
    missing = len(topics - set(texts))
    return Cohort(name, texts, qrels, len(topics), n_judgements, n_in_corpus, missing)


# -- measures -----------------------------------------------------------------------------
def ndcg(ranked_gains: Sequence[float], k: int = K) -> float:
    """NDCG@k with linear gains and log2 discounts; the ideal order is of the same pool."""
    gains = np.asarray(ranked_gains, dtype=float)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    top = gains[:k]
    ideal = np.sort(gains)[::-1][:k]
    idcg = float((ideal * discounts[: len(ideal)]).sum())
    if idcg == 0:
        return float("nan")
    return float((top * discounts[: len(top)]).sum()) / idcg


def precision(ranked_relevant: Sequence[bool], k: int = K) -> float:
    """Relevant trials among the first k, divided by k (trec_eval's P@k)."""
    return float(np.sum(np.asarray(ranked_relevant[:k], dtype=float))) / k


def resamples(n: int, n_boot: int = N_BOOTSTRAP, seed: int = SEED) -> np.ndarray:
    """Bootstrap indices over ``n`` topics: the same draws for every system of a measure."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def mean_ci(values: Sequence[float], draws: np.ndarray | None = None) -> dict[str, Any]:
    """Mean and percentile 95% bootstrap CI over topics (seed 0 unless ``draws`` given)."""
    values = np.asarray(values, dtype=float)
    draws = resamples(len(values)) if draws is None else draws
    means = values[draws].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"mean": float(values.mean()), "ci95": [float(low), float(high)], "n": len(values)}


def clustered_auc(
    topics: Sequence[str],
    labels: Sequence[bool],
    scores: dict[str, np.ndarray],
    n_boot: int = N_BOOTSTRAP,
) -> dict[str, Any]:
    """Pooled AUC of each score for ``labels`` with a topic-clustered percentile bootstrap
    (topics drawn with replacement, their pairs pooled; the same draws for every score)."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels, dtype=bool)
    names = list(dict.fromkeys(topics))
    members = [np.flatnonzero(np.asarray(topics) == t) for t in names]
    draws = resamples(len(names), n_boot)
    boot: dict[str, list[float]] = {name: [] for name in scores}
    skipped = 0
    for draw in draws:
        rows = np.concatenate([members[i] for i in draw])
        y = labels[rows]
        if y.all() or not y.any():
            skipped += 1
            continue
        for name, values in scores.items():
            boot[name].append(float(roc_auc_score(y, values[rows])))
    out: dict[str, Any] = {"resamples_with_one_class": skipped}
    for name, values in scores.items():
        auc = float(roc_auc_score(labels, values))
        low, high = np.percentile(boot[name], [2.5, 97.5])
        out[name] = {"auc": auc, "ci95": [float(low), float(high)]}
    if "ranker" in scores and "without criteria" in scores:
        diff = np.asarray(boot["ranker"]) - np.asarray(boot["without criteria"])
        low, high = np.percentile(diff, [2.5, 97.5])
        out["ranker - without criteria"] = {
            "auc": out["ranker"]["auc"] - out["without criteria"]["auc"],
            "ci95": [float(low), float(high)],
        }
    return out


# -- ranking ------------------------------------------------------------------------------
@dataclass
class TopicRun:
    """One topic's judged trials (sorted by NCT ID), the score's parts and each order."""

    topic: str
    trials: list[str]
    grades: np.ndarray
    bm25: np.ndarray
    relevance: np.ndarray  # bm25 / the patient's best among these trials
    topic_share: np.ndarray
    met_share: np.ndarray
    failed: np.ndarray  # failed criteria, uncapped
    score: np.ndarray  # the ranker's
    orders: dict[str, list[str]] = field(default_factory=dict)

    def gains(self, system: str, graded: bool = False) -> np.ndarray:
        grade = dict(zip(self.trials, self.grades, strict=True))
        ranked = np.array([grade[t] for t in self.orders[system]])
        return ranked.astype(float) if graded else (ranked == 2).astype(float)


def rank_topic(
    topic: str, text: str, judged: dict[str, int], index: Any, matcher: Any, facts: Any
) -> TopicRun:
    """BM25, the ranker and the ranker without criteria on one topic's judged trials."""
    trials = sorted(judged)
    bm25 = index.scores(text)[[index.position[t] for t in trials]]
    ranked = matcher.score(facts, trials, bm25, use_criteria=True)
    plain = matcher.score(facts, trials, bm25, use_criteria=False)
    by_id = {p.trial_id: p for p in ranked}
    parts = [by_id[t] for t in trials]
    shares = []
    for p in parts:
        n = len(p.judgement.inclusions)
        shares.append(p.judgement.n_inclusion_met / n if n else 0.0)
    run = TopicRun(
        topic,
        trials,
        np.array([judged[t] for t in trials]),
        np.asarray(bm25, dtype=float),
        np.array([p.relevance for p in parts]),
        np.array([p.topic for p in parts]),
        np.array(shares),
        np.array([p.n_failed for p in parts]),
        np.array([p.score for p in parts]),
    )
    run.orders = {
        "bm25": [trials[i] for i in np.lexsort((np.array(trials), -run.bm25))],
        "ranker": [p.trial_id for p in ranked],
        "ranker without criteria": [p.trial_id for p in plain],
    }
    return run


def weighted(run: TopicRun, topic: np.ndarray, met: np.ndarray, fail: np.ndarray) -> np.ndarray:
    """Scores under weight vectors (one row per setting), summed in Matcher.score's order."""
    base = run.relevance[None, :] + topic[:, None] * run.topic_share[None, :]
    capped = np.minimum(run.failed, FAIL_CAP)
    return base + (met[:, None] * run.met_share[None, :] - fail[:, None] * capped[None, :])


def grid_ndcg(runs: Sequence[TopicRun], settings: np.ndarray) -> np.ndarray:
    """NDCG@10 (eligible only) of every weight setting (rows) on every topic (columns).
    Trials are sorted by NCT ID, so a stable sort of −score breaks ties as Matcher does."""
    out = np.empty((len(settings), len(runs)))
    for j, run in enumerate(runs):
        scores = weighted(run, settings[:, 0], settings[:, 1], settings[:, 2])
        order = np.argsort(-scores, axis=1, kind="stable")
        gains = (run.grades == 2).astype(float)[order][:, :K]
        discounts = 1.0 / np.log2(np.arange(2, gains.shape[1] + 2))
        ideal = np.sort((run.grades == 2).astype(float))[::-1][:K]
        out[:, j] = (gains * discounts).sum(axis=1) / (ideal * discounts[: len(ideal)]).sum()
    return out


# -- per cohort ---------------------------------------------------------------------------
def evaluate(cohort: Cohort, runs: list[TopicRun], weights: Any) -> dict[str, Any]:
    """Topic counts, the three measures with CIs and differences, and the AUCs."""
    eligible = [r for r in runs if (r.grades == 2).any()]
    graded = [r for r in runs if (r.grades >= 1).any()]
    sizes = np.array([len(r.trials) for r in runs])
    per_topic = {
        "ndcg_eligible": {s: [ndcg(r.gains(s)) for r in eligible] for s in SYSTEMS},
        "p10": {s: [precision(r.gains(s) > 0) for r in eligible] for s in SYSTEMS},
        "ndcg_graded": {s: [ndcg(r.gains(s, graded=True)) for r in graded] for s in SYSTEMS},
    }
    measures: dict[str, Any] = {}
    for measure, values in per_topic.items():
        draws = resamples(len(next(iter(values.values()))))
        measures[measure] = {s: mean_ci(values[s], draws) for s in SYSTEMS}
        for name, (a, b) in DIFFERENCES.items():
            diff = np.asarray(values[a]) - np.asarray(values[b])
            measures[measure][name] = mean_ci(diff, draws)
        measures[measure]["random order"] = _random_order(
            eligible if measure != "ndcg_graded" else graded, measure
        )
    judged = [(r, i) for r in runs for i in np.flatnonzero(r.grades >= 1)]
    topics = [r.topic for r, _ in judged]
    labels = np.array([r.grades[i] == 2 for r, i in judged])
    criteria_part = [
        weights.met * r.met_share[i] - weights.fail * min(int(r.failed[i]), FAIL_CAP)
        for r, i in judged
    ]
    scores = {
        "ranker": np.array([r.score[i] for r, i in judged]),
        "bm25": np.array([r.relevance[i] for r, i in judged]),
        "without criteria": np.array(
            [r.relevance[i] + weights.topic * r.topic_share[i] for r, i in judged]
        ),
        "criteria part": np.array(criteria_part),
    }
    return {
        "label": COHORTS[cohort.name],
        "topics_total": cohort.n_topics,
        "topics_without_text": cohort.topics_without_text,
        "topics_with_judged_trials": len(runs),
        "topics_eligible": len(eligible),
        "topics_graded": len(graded),
        "judgements": cohort.n_judgements,
        "judgements_in_corpus": cohort.n_judgements_in_corpus,
        "pool": {
            "median": float(np.median(sizes)),
            "min": int(sizes.min()),
            "max": int(sizes.max()),
        },
        "grades_in_corpus": {
            str(g): int(sum((r.grades == g).sum() for r in runs)) for g in (0, 1, 2)
        },
        "measures": measures,
        "per_topic": {
            "eligible_topics": [r.topic for r in eligible],
            "graded_topics": [r.topic for r in graded],
            **per_topic,
        },
        "auc": {
            "pairs_eligible": int(labels.sum()),
            "pairs_excluded": int((~labels).sum()),
            "topics": len(set(topics)),
            **clustered_auc(topics, labels, scores),
        },
    }


def _random_order(runs: Sequence[TopicRun], measure: str, shuffles: int = 200) -> dict:
    """The expected value of a random order of each pool (``shuffles`` per topic, seed 0):
    the floor the pools' sizes set (a pool of two trials scores at least 0.63 NDCG)."""
    rng = np.random.default_rng(SEED)
    values = []
    for run in runs:
        gains = run.grades.astype(float) if measure == "ndcg_graded" else (run.grades == 2) * 1.0
        draws = []
        for _ in range(shuffles):
            shuffled = gains[rng.permutation(len(gains))]
            draws.append(precision(shuffled > 0) if measure == "p10" else ndcg(shuffled))
        values.append(float(np.mean(draws)))
    return {"mean": float(np.mean(values)), "n": len(values)}


# -- coverage and speed -------------------------------------------------------------------
def coverage(criteria: dict[str, list[Any]], trials: dict[str, Any]) -> dict[str, Any]:
    """Items parsed into a checkable form, by form and kind; the registry's fields apart."""
    items = [c for cs in criteria.values() for c in cs if c.source == "criteria"]
    registry = [c for cs in criteria.values() for c in cs if c.source == "registry"]
    checked = [c for c in items if c.form != "text"]
    by_form = {f: sum(f in c.form.split("+") for c in items) for f in FORMS}
    by_kind = {}
    for kind in ("inclusion", "exclusion"):
        of_kind = [c for c in items if c.kind == kind]
        by_kind[kind] = {"items": len(of_kind), "checkable": sum(c.form != "text" for c in of_kind)}
    combos: dict[str, int] = {}
    for c in items:
        combos[c.form] = combos.get(c.form, 0) + 1
    return {
        "trials": len(criteria),
        "trials_without_criteria_text": sum(not trials[t].criteria.strip() for t in criteria),
        "trials_without_items": sum(
            not any(c.source == "criteria" for c in cs) for cs in criteria.values()
        ),
        "items": len(items),
        "checkable": len(checked),
        "by_form": by_form,
        "by_kind": by_kind,
        "forms": dict(sorted(combos.items(), key=lambda kv: -kv[1])),
        "registry": {
            "criteria": len(registry),
            "age": sum(c.form == "age" for c in registry),
            "sex": sum(c.form == "sex" for c in registry),
            "trials_with_any": sum(
                any(c.source == "registry" for c in cs) for cs in criteria.values()
            ),
        },
    }


def judge_rate(pairs: Sequence[tuple[str, list[Any], Any]], repeats: int = 3) -> dict[str, Any]:
    """Criterion evaluations per second of judge_trial over ``pairs``; best of ``repeats``."""
    from insightome.apps.trials.judge import judge_trial

    best, evaluations = float("inf"), 0
    checkable = sum(1 for _, criteria, _ in pairs for c in criteria if c.checks)
    for _ in range(repeats):
        started, evaluations = time.perf_counter(), 0
        for trial_id, criteria, facts in pairs:
            evaluations += len(judge_trial(trial_id, criteria, facts).judgements)
        best = min(best, time.perf_counter() - started)
    return {
        "pairs": len(pairs),
        "evaluations": evaluations,
        "evaluations_with_a_check": checkable,
        "seconds": best,
        "per_second": evaluations / best,
        "pairs_per_second": len(pairs) / best,
        "repeats": repeats,
    }


# -- the run ------------------------------------------------------------------------------
def run(grid: bool, command: str) -> dict[str, Any]:
    """Everything the table shows (module docstring)."""
    from insightome.apps.trials.matcher import Matcher
    from insightome.apps.trials.patients import patient_from_text
    from insightome.apps.trials.records import read_trials
    from insightome.apps.trials.retrieval import TrialIndex
    from insightome.run_content import versions

    started = time.perf_counter()
    commit, dirty = _commit()
    code = _code_digest()  # the code imported above
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    corpus = read_trials(DATA / CORPUS)
    timings["read_corpus"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = TrialIndex(corpus.trials)
    timings["bm25_index"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    matcher = Matcher(corpus.trials)
    timings["matcher_lexicon"] = time.perf_counter() - t0
    matcher.extractor.extract([0], ["A 50-year-old woman with no fever."])  # load the engine
    cohorts = {name: read_cohort(name, set(index.position)) for name in COHORTS}

    judged_ids = sorted({t for c in cohorts.values() for j in c.qrels.values() for t in j})
    t0 = time.perf_counter()
    criteria = matcher.criteria(judged_ids)
    criteria_s = time.perf_counter() - t0
    n_items = sum(len(cs) for cs in criteria.values())

    patients = [patient_from_text(t, c.texts[t]) for c in cohorts.values() for t in c.qrels]
    t0 = time.perf_counter()
    facts = {f.patient.patient_id: f for f in matcher.read_notes(patients)}
    notes_s = time.perf_counter() - t0
    words = sum(len(p.text.split()) for p in patients)

    results: dict[str, Any] = {}
    runs: dict[str, list[TopicRun]] = {}
    t0 = time.perf_counter()
    for name, cohort in cohorts.items():
        runs[name] = [
            rank_topic(t, cohort.texts[t], judged, index, matcher, facts[t])
            for t, judged in cohort.qrels.items()
        ]
    timings["ranking"] = time.perf_counter() - t0
    for name, cohort in cohorts.items():
        results[name] = evaluate(cohort, runs[name], matcher.weights)
        _check_default(runs[name], results[name], matcher.weights)
        print(f"{name}: {_headline(results[name])}", flush=True)

    pairs = [
        (t, criteria[t], facts[topic])
        for c in cohorts.values()
        for topic, judged in c.qrels.items()
        for t in judged
    ]
    speed = {
        "cores": os.cpu_count(),
        "judge": judge_rate(pairs),
        "notes": {
            "patients": len(patients),
            "words": words,
            "seconds": notes_s,
            "patients_per_second": len(patients) / notes_s,
            "words_per_second": words / notes_s,
        },
        "criteria": {
            "trials": len(judged_ids),
            "criteria": n_items,
            "seconds": criteria_s,
            "trials_per_second": len(judged_ids) / criteria_s,
            "criteria_per_second": n_items / criteria_s,
        },
        "timings": timings,
    }
    print(f"judge_trial: {speed['judge']['per_second']:,.0f} evaluations/s", flush=True)
    payload: dict[str, Any] = {
        "meta": {
            "command": command,
            "commit": commit,
            "uncommitted_changes": dirty,
            "trials_code_sha256": code,
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "cpu": _cpu(),
            "cores": os.cpu_count(),
            "machine": f"{platform.machine()}, {platform.python_version()}",
            "versions": versions(PACKAGES),
            "corpus": CORPUS,
            "corpus_sha256": hashlib.sha256((DATA / CORPUS).read_bytes()).hexdigest(),
            "corpus_trials": len(corpus),
            "corpus_skipped": len(corpus.skipped),
            "judged_trials_in_corpus": len(judged_ids),
            "weights": {
                "topic": matcher.weights.topic,
                "met": matcher.weights.met,
                "fail": matcher.weights.fail,
            },
            "bootstrap": {"resamples": N_BOOTSTRAP, "seed": SEED, "interval": "percentile 95%"},
        },
        "cohorts": results,
        "coverage": coverage(criteria, matcher.by_id),
        "speed": speed,
    }
    if grid:
        payload["grid"] = weights_grid(runs, matcher.weights)
    payload["targets"] = targets(payload)
    payload["meta"]["wall_seconds"] = round(time.perf_counter() - started, 1)
    return payload


def _check_default(runs: list[TopicRun], result: dict[str, Any], weights: Any) -> None:
    """The vectorised score at the default weights gives the ranker's NDCG on every topic."""
    eligible = [r for r in runs if (r.grades == 2).any()]
    setting = np.array([[weights.topic, weights.met, weights.fail]])
    mine = grid_ndcg(eligible, setting)[0]
    theirs = np.asarray(result["per_topic"]["ndcg_eligible"]["ranker"])
    if not np.allclose(mine, theirs, rtol=0, atol=1e-12):
        raise AssertionError("the grid's score does not reproduce Matcher.score's order")


def weights_grid(runs: dict[str, list[TopicRun]], default: Any) -> dict[str, Any]:
    """Mean NDCG@10 (eligible only) of every weight setting on every cohort; the setting best
    on TREC 2021 and what it gives elsewhere, against the default (paired bootstrap CI)."""
    wanted = {"topic": default.topic, "met": default.met, "fail": default.fail}
    axes = {k: sorted({*v, wanted[k]}) for k, v in GRID.items()}  # the default is a row
    settings = np.array(list(itertools.product(axes["topic"], axes["met"], axes["fail"])))
    eligible = {n: [r for r in rs if (r.grades == 2).any()] for n, rs in runs.items()}
    per_topic = {n: grid_ndcg(rs, settings) for n, rs in eligible.items()}
    means = {n: v.mean(axis=1) for n, v in per_topic.items()}
    d = int(np.flatnonzero((settings == [default.topic, default.met, default.fail]).all(1))[0])
    best = int(np.argmax(means["trec_2021"]))  # the first of equals, in grid order
    transfer = {}
    for name, values in per_topic.items():
        transfer[name] = mean_ci(values[best] - values[d], resamples(values.shape[1]))
    rows = [
        {
            "topic": float(s[0]),
            "met": float(s[1]),
            "fail": float(s[2]),
            **{n: float(means[n][i]) for n in runs},
        }
        for i, s in enumerate(settings)
    ]
    return {
        "axes": axes,
        "axes_asked": {k: list(v) for k, v in GRID.items()},
        "default": d,
        "best_trec_2021": best,
        "ties_at_best_trec_2021": int(
            np.sum(np.isclose(means["trec_2021"], means["trec_2021"][best]))
        ),
        "best_each": {n: int(np.argmax(m)) for n, m in means.items()},
        "best_2021_minus_default": transfer,
        "range": {n: [float(m.min()), float(m.max())] for n, m in means.items()},
        "rows": rows,
    }


def targets(p: dict[str, Any]) -> list[dict[str, Any]]:
    gain = p["cohorts"]["trec_2022"]["measures"]["ndcg_eligible"]["ranker - bm25"]
    out = [
        {
            "target": "NDCG@10 (eligible only), ranker − BM25 on TREC 2022 ≥ 0.10, CI excluding 0",
            "value": gain,
            "met": gain["mean"] >= TARGET_GAIN and gain["ci95"][0] > 0,
        },
    ]
    for name, result in p["cohorts"].items():
        auc = result["auc"]["ranker"]
        out.append(
            {
                "target": f"eligible vs excluded AUC ≥ 0.65 ({COHORTS[name]})",
                "value": auc,
                "met": auc["auc"] >= TARGET_AUC,
            }
        )
    rate = p["speed"]["judge"]["per_second"]
    out.append(
        {
            "target": f"≥ 1,000 criterion evaluations/s ({p['speed']['cores']} cores, one process)",
            "value": rate,
            "met": rate >= TARGET_RATE,
        }
    )
    return out


def _headline(r: dict[str, Any]) -> str:
    m = r["measures"]["ndcg_eligible"]
    return (
        f"{r['topics_eligible']}/{r['topics_total']} topics, NDCG@10 bm25 {m['bm25']['mean']:.3f} "
        f"ranker {m['ranker']['mean']:.3f} without criteria "
        f"{m['ranker without criteria']['mean']:.3f}; AUC {r['auc']['ranker']['auc']:.3f}"
    )


def _commit() -> tuple[str, bool]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
        return done.stdout.strip()

    dirty = bool(git("status", "--porcelain", "--", "src", "benchmarks/trials.py"))
    return git("rev-parse", "--short", "HEAD") or "unknown", dirty


def _code_digest() -> str:
    """The sha256 of src/insightome/apps/trials (names and bytes): which code ran, when the
    commit alone does not say (uncommitted changes)."""
    folder = REPO / "src" / "insightome" / "apps" / "trials"
    digest = hashlib.sha256()
    for path in sorted(
        p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# -- the table ----------------------------------------------------------------------------
def _ci(ci: Sequence[float], signed: bool = False) -> str:
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"[{f.format(ci[0])}, {f.format(ci[1])}]"


def _value(v: dict[str, Any], signed: bool = False) -> str:
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(v['mean'])} {_ci(v['ci95'], signed)}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def render(p: dict[str, Any]) -> str:
    """trials.md from the saved numbers (``--render`` rebuilds it from trials.json)."""
    m = p["meta"]
    lines = [
        "# Trial recruitment: re-ranking each topic's judged trials (benchmarks/trials.py)",
        "",
        f"How it was run: `{m['command']}` at commit {m['commit']}"
        + (
            f" (with uncommitted changes under src/; src/insightome/apps/trials sha256 "
            f"`{m['trials_code_sha256'][:12]}…`)"
            if m["uncommitted_changes"]
            else ""
        )
        + f", {m['date']}; wall time {m['wall_seconds']:.0f} s; {m['cpu']}, {m['cores']} cores, "
        f"one process; {m['machine']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if k != "python")
        + ".",
        "",
        f"Data: `{m['corpus']}` ({m['corpus_trials']:,} trials, sha256 "
        f"`{m['corpus_sha256'][:16]}…`; BM25's IDF over all of them), of which "
        f"{m['judged_trials_in_corpus']:,} are judged in a cohort. Patients: each cohort's "
        "`queries.jsonl` text only (never `id2queries.json`, which holds GPT summaries). The "
        "corpus holds about 3% of the judged trials, so each topic's judged trials in the corpus "
        "are **re-ranked** (the pool sizes are given: a small pool lifts every system, the "
        "*random order* row shows by how much). Systems: BM25 (the matcher's own index, same "
        "fields), the ranker (BM25 share + conditions + criteria, weights "
        f"topic {m['weights']['topic']:g}, met {m['weights']['met']:g}, "
        f"fail {m['weights']['fail']:g}, set before any run), the ranker without criteria. "
        f"Means with percentile 95% bootstrap CIs over topics ({m['bootstrap']['resamples']:,} "
        f"resamples, seed {m['bootstrap']['seed']}); differences paired on the same resamples.",
        "",
        REFERENCES,
        *(["", m["note"]] if m.get("note") else []),
        "",
        "## Targets (issue 23)",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for t in p["targets"]:
        v = t["value"]
        if isinstance(v, dict) and "auc" in v:
            shown = f"{v['auc']:.3f} {_ci(v['ci95'])}"
        elif isinstance(v, dict):
            shown = _value(v, signed=True)
        else:
            shown = f"{v:,.0f} evaluations/s"
        lines.append(f"| {t['target']} | {shown} | {'met' if t['met'] else 'not met'} |")
    for r in p["cohorts"].values():
        lines += _cohort_lines(r)
    lines += _auc_lines(p["cohorts"])
    lines += _coverage_lines(p["coverage"])
    lines += _speed_lines(p["speed"])
    if "grid" in p:
        lines += _grid_lines(p["grid"], p["cohorts"])
    else:
        lines += ["", "## Weights grid", "", "Not run (`--grid`)."]
    return "\n".join(lines) + "\n"


def _cohort_lines(r: dict[str, Any]) -> list[str]:
    total = r["topics_total"]
    pool = r["pool"]
    grades = r["grades_in_corpus"]
    lines = [
        "",
        f"## {r['label']}",
        "",
        f"Topics: **{r['topics_eligible']} of {total}** with at least one eligible (2) judged "
        f"trial in the corpus (NDCG@10 eligible only, P@10); {r['topics_graded']} of {total} "
        f"with at least one judged 1 or 2 (graded NDCG@10); {r['topics_with_judged_trials']} "
        f"with any judged trial in the corpus. Judgements in the corpus: "
        f"{r['judgements_in_corpus']:,} of {r['judgements']:,} (grade 2: {grades['2']:,}, "
        f"1: {grades['1']:,}, 0: {grades['0']:,}); judged trials per topic: median "
        f"{pool['median']:g} ({pool['min']}–{pool['max']}).",
        "",
        "| system | " + " | ".join(MEASURES.values()) + " |",
        "|---|---|---|---|",
    ]
    ms = r["measures"]
    for s in SYSTEMS:
        lines.append(f"| {LABELS[s]} | " + " | ".join(_value(ms[k][s]) for k in MEASURES) + " |")
    lines.append(
        "| random order (expected) | "
        + " | ".join(f"{ms[k]['random order']['mean']:.3f}" for k in MEASURES)
        + " |"
    )
    for name in DIFFERENCES:
        label = name.replace(" - ", " − ").replace("bm25", "BM25")
        lines.append(
            f"| {label} | " + " | ".join(_value(ms[k][name], signed=True) for k in MEASURES) + " |"
        )
    return lines


def _auc_lines(cohorts: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Eligible vs excluded",
        "",
        "Among the pairs judged 1 or 2, the AUC of each score for 2 (eligible) vs 1 (excluded; "
        "SIGIR: *highly likely to refer* vs *would consider referring*), pooled over topics; "
        "95% CI from a topic-clustered bootstrap. *BM25 alone*: bm25 / the patient's best among "
        "the topic's judged trials (the score's first part; pooled over topics, so raw BM25, "
        "whose scale differs between notes, would not do); *criteria part alone*: W_MET × "
        "inclusion share − W_FAIL × min(failed, 2), which ties often (most pairs have no "
        "failed criterion and few met inclusions).",
        "",
        "| cohort | pairs 2 / 1 | topics | "
        + " | ".join(AUC_SCORES.values())
        + " | ranker − without criteria |",
        "|---|---|---:|---|---|---|---|---|",
    ]
    for r in cohorts.values():
        a = r["auc"]
        cells = [f"{a[k]['auc']:.3f} {_ci(a[k]['ci95'])}" for k in AUC_SCORES]
        d = a["ranker - without criteria"]
        lines.append(
            f"| {r['label']} | {a['pairs_eligible']} / {a['pairs_excluded']} | {a['topics']} | "
            + " | ".join(cells)
            + f" | {d['auc']:+.3f} {_ci(d['ci95'], signed=True)} |"
        )
    return lines


def _coverage_lines(c: dict[str, Any]) -> list[str]:
    items = c["items"]
    lines = [
        "",
        "## Criterion parsing coverage",
        "",
        f"Every judged trial in the corpus ({c['trials']:,}; {c['trials_without_criteria_text']} "
        f"without eligibility text, {c['trials_without_items']} without any item): "
        f"**{items:,} items** from the eligibility text, **{c['checkable']:,} "
        f"({_pct(c['checkable'], items)}) with at least one check**; the rest stay text and are "
        "judged unknown. An item with several kinds of check counts under each.",
        "",
        "| form | items | share |",
        "|---|---:|---:|",
    ]
    for form, n in c["by_form"].items():
        label = "text (no check: unknown)" if form == "text" else form
        lines.append(f"| {label} | {n:,} | {_pct(n, items)} |")
    for kind, k in c["by_kind"].items():
        lines.append(
            f"| {kind} items checkable | {k['checkable']:,} of {k['items']:,} | "
            f"{_pct(k['checkable'], k['items'])} |"
        )
    reg = c["registry"]
    lines += [
        "",
        f"Registry fields (apart from the items above): {reg['criteria']:,} criteria "
        f"({reg['age']:,} age limits, {reg['sex']:,} sex) on {reg['trials_with_any']:,} trials.",
    ]
    return lines


def _speed_lines(s: dict[str, Any]) -> list[str]:
    j, n, c = s["judge"], s["notes"], s["criteria"]
    return [
        "",
        "## Throughput",
        "",
        f"On this machine ({s['cores']} cores), one process. Criterion evaluations: "
        f"`judge.judge_trial` over every (topic, judged trial) pair of the three cohorts "
        f"({j['pairs']:,} pairs, {j['evaluations']:,} criteria, "
        f"{j['evaluations_with_a_check']:,} of them with a check; the rest are unknown at once), "
        f"notes and criteria parsed beforehand, best of {j['repeats']}.",
        "",
        "| step | rate | work | seconds |",
        "|---|---:|---:|---:|",
        f"| criterion evaluations | **{j['per_second']:,.0f} /s** "
        f"({j['pairs_per_second']:,.0f} pairs/s) | {j['evaluations']:,} | {j['seconds']:.2f} |",
        f"| patients' notes parsed | {n['patients_per_second']:,.1f} patients/s "
        f"({n['words_per_second']:,.0f} words/s) | {n['patients']:,} patients | "
        f"{n['seconds']:.2f} |",
        f"| criteria parsed | {c['trials_per_second']:,.1f} trials/s "
        f"({c['criteria_per_second']:,.0f} criteria/s) | {c['trials']:,} trials | "
        f"{c['seconds']:.2f} |",
        f"| BM25 index of the corpus | | | {s['timings']['bm25_index']:.2f} |",
        f"| lexicon and notes engine (once) | | | {s['timings']['matcher_lexicon']:.2f} |",
    ]


def _grid_lines(g: dict[str, Any], cohorts: dict[str, Any]) -> list[str]:
    rows = g["rows"]
    names = list(cohorts)
    axes = g["axes"]

    def row(label: str, i: int) -> str:
        r = rows[i]
        return (
            f"| {label} | {r['topic']:g} | {r['met']:g} | {r['fail']:g} | "
            + " | ".join(f"{r[n]:.3f}" for n in names)
            + " |"
        )

    lines = [
        "",
        "## Weights grid (NDCG@10, eligible only)",
        "",
        f"Topic {', '.join(f'{v:g}' for v in axes['topic'])} × met "
        f"{', '.join(f'{v:g}' for v in axes['met'])} × fail "
        f"{', '.join(f'{v:g}' for v in axes['fail'])} ({len(rows)} settings: the grid asked "
        "for, with the default's values added to its axes; failed criteria capped at 2 as in "
        "the matcher). The parts of the score are computed once; the default row reproduces "
        "the ranker above exactly.",
        "",
        "| setting | topic | met | fail | " + " | ".join(cohorts[n]["label"] for n in names) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(names),
        row("default (set before any run)", g["default"]),
        row("best on TREC 2021" + _ties(g["ties_at_best_trec_2021"]), g["best_trec_2021"]),
    ]
    for n in (n for n in names if n != "trec_2021"):
        lines.append(row(f"best on {cohorts[n]['label']} (in hindsight)", g["best_each"][n]))
    lines.append(
        "| grid range (worst – best) | | | | "
        + " | ".join(f"{g['range'][n][0]:.3f}–{g['range'][n][1]:.3f}" for n in names)
        + " |"
    )
    t = g["best_2021_minus_default"]
    lines += [
        "",
        "Best on TREC 2021 − default, paired over topics: "
        + "; ".join(f"{cohorts[n]['label']} {_value(t[n], signed=True)}" for n in names)
        + ". "
        + " ".join(_transfer(cohorts[n]["label"], t[n]) for n in names if n != "trec_2021"),
    ]
    return lines


def _transfer(label: str, diff: dict[str, Any]) -> str:
    low, high = diff["ci95"]
    if high < 0:
        return f"Tuned on TREC 2021, the weights do worse than the default on {label}."
    if low > 0:
        return f"Tuned on TREC 2021, the weights do better than the default on {label}."
    return f"On {label} the tuned weights are not clearly better or worse (the CI holds 0)."


def _ties(n: int) -> str:
    return f" (the first of {n} equal settings)" if n > 1 else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", action="store_true", help="the weights grid too")
    parser.add_argument("--render", action="store_true", help="rewrite trials.md from .json")
    parser.add_argument("--note", default=None, help="a line under the header (kept in .json)")
    args = parser.parse_args(argv)
    if args.render:
        saved = json.loads((RESULTS / "trials.json").read_text(encoding="utf-8"))
        if args.note is not None:
            saved["meta"]["note"] = args.note
            _write_json(saved)
        (RESULTS / "trials.md").write_text(render(saved), encoding="utf-8")
        return 0
    if not (DATA / CORPUS).exists():
        print(
            f"{DATA / CORPUS} not found: the benchmark needs ../shared/data/trials", file=sys.stderr
        )
        return 1
    words = ["python", "benchmarks/trials.py", *(argv if argv is not None else sys.argv[1:])]
    payload = run(args.grid, " ".join(words))
    if args.note:
        payload["meta"]["note"] = args.note
    _write_json(payload)
    (RESULTS / "trials.md").write_text(render(payload), encoding="utf-8")
    return 0


def _write_json(payload: dict[str, Any]) -> None:
    text = json.dumps(payload, indent=1, default=_plain)
    (RESULTS / "trials.json").write_text(text + "\n", encoding="utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"not JSON: {type(value)}")


if __name__ == "__main__":
    raise SystemExit(main())
