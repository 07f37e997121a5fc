"""Text to prediction (issue 21): does a note's concept profile predict what kind of note it
is, how does it compare with TF-IDF n-grams, and does assertion help?

Data: MTSamples (``../shared/data/clinical_text/mtsamples.csv``, CC0): 4,999 rows, but the
same transcription appears under several specialties (a surgical note filed under both
"Surgery" and "Orthopedic"). Rows are merged by the SHA-256 of their stripped text, so no
text can sit in both a training and a test fold; a merged text is positive for a specialty
when any of its rows is filed there. The counts (rows, empty, distinct texts, texts filed
under several specialties) are in the table.

Tasks (binary, one per specialty): the specialty's notes against all others, for the
largest specialty (Surgery) and the largest organ specialty (Cardiovascular / Pulmonary;
the second largest filing, "Consult - History and Phy.", is a kind of note, not a specialty).

Arms, all on ONE resampling plan (stratified 5-fold CV x 3 repeats, seed 0) and estimated by
BBC-CV over their own candidates (``insightome.BBCSearchCV``):

- ``concepts``: the features ``insightome run --notes`` builds (mentions per concept and
  assertion state of the English starter lexicon, mean values, ``notes:count`` is constant
  here), with insightome's default candidates;
- ``concepts, no assertion``: the same mentions, every state counted together (the
  assertion ablation), same candidates;
- ``concepts + note terms``: what ``insightome run --notes --notes-tfidf 500`` fits: each of
  insightome's default candidates with the 500 TF-IDF terms of the (negation-marked) notes
  most associated with the outcome, learned inside each training fold
  (``models.note_terms.NoteTerms``; terms in at least 10 texts);
- ``tf-idf``: word 1-2-grams of the text, TF-IDF fitted inside each training fold (the
  vocabulary, the document frequencies and chi-squared selection of 5,000 terms are fitted on
  the training fold only: they are steps of the candidate pipeline), L2 logistic regression
  at three C values;
- ``tf-idf + negation marks``: the same, with every token inside a negation cue's scope
  (insightome's ConText rules) prefixed ``neg_`` before vectorizing (a per-note rewrite, no
  fitting), so "no fever" and "fever" are different terms;
- ``both``: TF-IDF terms and the concept features side by side (each part's fitting inside
  the fold), same logistic models.

Writes the ``mtsamples`` block of ``benchmarks/results/notes.md`` (and the raw numbers to
``benchmarks/results/notes_mtsamples.json``)::

    python benchmarks/notes_mtsamples.py                 # the full plan
    python benchmarks/notes_mtsamples.py --tasks 1 --repeats 1   # a smoke run (PARTIAL)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.feature_selection import SelectKBest, chi2
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import insightome
from insightome.evaluate import make_plan
from insightome.models.candidates import candidates, with_note_terms
from insightome.models.note_terms import NoteTexts
from insightome.notes_features import STATES, NotesSettings, negation_marked, notes_features
from notes_negex import write_block

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "clinical_text" / "mtsamples.csv"
RESULTS = REPO / "benchmarks" / "results"
BLOCK = "mtsamples"
ARMS = (
    "concepts",
    "concepts, no assertion",
    "concepts + note terms",
    "tf-idf",
    "tf-idf + negation marks",
    "both",
)
TASKS = ("Surgery", "Cardiovascular / Pulmonary")
N_JOBS = 2  # parallel fits (BBCSearchCV's joblib workers)
NOTE_TERMS = 500  # --notes-tfidf's K in the "concepts + note terms" arm
C_VALUES = (0.3, 1.0, 3.0)
K_TERMS = 5000


def load(path: Path = DATA) -> tuple[pd.DataFrame, dict[str, int]]:
    """One row per distinct text: its text, the set of specialties it is filed under."""
    raw = pd.read_csv(path)
    text = raw["transcription"].fillna("").astype(str).str.strip()
    kept = raw[text != ""].assign(text=text[text != ""])
    kept = kept.assign(key=kept["text"].map(lambda t: hashlib.sha256(t.encode()).hexdigest()))
    specialty = kept["medical_specialty"].astype(str).str.strip()
    merged = (
        kept.assign(specialty=specialty)
        .groupby("key", sort=True)
        .agg(text=("text", "first"), specialties=("specialty", lambda s: frozenset(s)))
    )
    counts = {
        "rows": len(raw),
        "empty": int((text == "").sum()),
        "distinct_texts": len(merged),
        "texts_under_several_specialties": int((merged["specialties"].map(len) > 1).sum()),
    }
    return merged, counts


def largest_specialties(merged: pd.DataFrame, n: int) -> list[str]:
    counts = pd.Series([s for group in merged["specialties"] for s in group]).value_counts()
    return [str(s) for s in counts.index[:n]]


def concept_features(merged: pd.DataFrame, tmp: Path) -> pd.DataFrame:
    """The run's notes features (notes_features, the --notes path) for every text."""
    notes = tmp / "mtsamples_notes.csv"
    pd.DataFrame({"sample": merged.index, "text": merged["text"].to_numpy()}).to_csv(
        notes, index=False
    )
    made = notes_features(
        NotesSettings(notes, id_column="sample", text_column="text", language="en"),
        list(merged.index),
    )
    return made.columns


def without_assertion(columns: pd.DataFrame) -> pd.DataFrame:
    """Every state of a concept counted together (the ablation)."""
    parts = {}
    for name in columns.columns:
        match = re.fullmatch(r"note:(.+):(" + "|".join(STATES) + ")", name)
        key = f"note:{match.group(1)}:any" if match else name
        parts[key] = parts.get(key, 0) + columns[name]
    return pd.DataFrame(parts, index=columns.index)


def tfidf() -> TfidfVectorizer:
    return TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=100_000, dtype=np.float32
    )


def text_candidates() -> list[Pipeline]:
    return [
        Pipeline(
            [
                ("tfidf", ColumnTransformer([("t", tfidf(), "text")])),
                ("select", SelectKBest(chi2, k=K_TERMS)),
                ("model", LogisticRegression(C=c, max_iter=2000)),
            ]
        )
        for c in C_VALUES
    ]


def both_candidates(concept_columns: list[str]) -> list[Pipeline]:
    return [
        Pipeline(
            [
                (
                    "features",
                    ColumnTransformer(
                        [
                            (
                                "t",
                                Pipeline([("v", tfidf()), ("k", SelectKBest(chi2, k=K_TERMS))]),
                                "text",
                            ),
                            (
                                "c",
                                Pipeline(
                                    [
                                        ("i", SimpleImputer(strategy="median")),
                                        ("s", StandardScaler()),
                                    ]
                                ),
                                concept_columns,
                            ),
                        ]
                    ),
                ),
                ("model", LogisticRegression(C=c, max_iter=2000)),
            ]
        )
        for c in C_VALUES
    ]


def arm_candidates(
    arm: str, concepts: pd.DataFrame, marked: list[str], index: pd.Index, n: int
) -> Any:
    """The candidates of an arm (None: insightome's default candidates)."""
    if arm in ("concepts", "concepts, no assertion"):
        return None
    if arm == "concepts + note terms":
        base = candidates("binary", concepts.shape[1], "default", n)
        return with_note_terms(base, NoteTexts(pd.Series(marked, index=index)), NOTE_TERMS, 10)
    if arm == "both":
        return both_candidates(list(concepts.columns))
    return text_candidates()


def estimate(candidates: Any, X: pd.DataFrame, y: np.ndarray, plan: Any, seed: int) -> dict:
    started = time.perf_counter()
    search = insightome.BBCSearchCV(
        candidates, task="binary", cv=plan, n_bootstrap=1000, seed=seed, refit=False, n_jobs=N_JOBS
    )
    search.fit(X, y)
    est = search.bbc_estimate_
    return {
        "auc": float(est.value),
        "ci95": [float(v) for v in est.ci95],
        "plain_cv": float(est.plain_cv_value),
        "winner": _short(str(search.cv_results_["name"][search.best_index_])),
        "n_candidates": len(search.cv_results_["name"]),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _short(name: str) -> str:
    """A candidate's name for the table: insightome's own as is; a text pipeline by its
    model's C (the only thing that differs between them)."""
    c = re.search(r"LogisticRegression\((?:C=([\d.]+))?", name)
    if name.startswith("Pipeline") and c:
        return f"tf-idf logistic C={c.group(1) or '1.0'}"
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=2, help="largest specialties to predict")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--render", action="store_true", help="rewrite the block from notes_mtsamples.json"
    )
    args = parser.parse_args(argv)
    if args.render:
        write_block(
            RESULTS / "notes.md",
            BLOCK,
            render(json.loads((RESULTS / "notes_mtsamples.json").read_text())),
        )
        return 0
    if not DATA.exists():
        print(f"{DATA} not found: the benchmark needs ../shared/data", file=sys.stderr)
        return 1
    commit = _commit()  # the code that runs: read before anything else
    merged, counts = load()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        concepts = concept_features(merged, Path(tmp))
        featurize_s = time.perf_counter() - t0
    concepts = concepts.loc[:, concepts.nunique() > 1]  # the run drops constant columns too
    plain = without_assertion(concepts)
    texts = merged["text"]
    marked = negation_marked(texts.tolist(), "en")
    frames = {
        "concepts": concepts,
        "concepts, no assertion": plain,
        "concepts + note terms": concepts,
        "tf-idf": pd.DataFrame({"text": texts.to_numpy()}, index=merged.index),
        "tf-idf + negation marks": pd.DataFrame({"text": marked}, index=merged.index),
        "both": pd.concat(
            [pd.DataFrame({"text": texts.to_numpy()}, index=merged.index), concepts], axis=1
        ),
    }
    rows = []
    for specialty in TASKS[: args.tasks]:
        y = merged["specialties"].map(lambda s, sp=specialty: sp in s).to_numpy(int)
        plan = make_plan(y, "binary", folds=args.folds, repeats=args.repeats, seed=args.seed)
        for arm in ARMS:
            cands = arm_candidates(arm, concepts, marked, merged.index, len(y))
            result = estimate(cands, frames[arm], y, plan, args.seed)
            rows.append(
                {"task": f"{specialty} vs rest", "positives": int(y.sum()), "arm": arm, **result}
            )
            print(rows[-1], flush=True)
    payload = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "data": str(DATA.relative_to(REPO.parent)),
        "data_sha256": hashlib.sha256(DATA.read_bytes()).hexdigest(),
        "counts": counts,
        "n_concept_features": int(concepts.shape[1]),
        "n_concept_features_no_assertion": int(plain.shape[1]),
        "featurize_seconds": round(featurize_s, 1),
        "plan": {"folds": args.folds, "repeats": args.repeats, "seed": args.seed},
        "partial": args.tasks < 2 or args.repeats < 3,
        "commit": commit,
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "rows": rows,
    }
    (RESULTS / "notes_mtsamples.json").write_text(json.dumps(payload, indent=1) + "\n")
    write_block(RESULTS / "notes.md", BLOCK, render(payload))
    return 0


def _commit() -> str:
    import subprocess

    done = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def render(p: dict[str, Any]) -> str:
    c = p["counts"]
    lines = [
        "## Text to prediction: MTSamples specialties (`benchmarks/notes_mtsamples.py`)",
        "",
        f"{'PARTIAL (smoke run). ' if p['partial'] else ''}Run {p['date']} on {p['machine']} "
        f"at commit {p.get('commit', 'unknown')}; "
        f"data `{p['data']}` (sha256 `{p['data_sha256'][:16]}…`). {c['rows']:,} rows, "
        f"{c['empty']} with no transcription, **{c['distinct_texts']:,} distinct texts** "
        f"(merged by the SHA-256 of the text: no text is in both a training and a test fold), "
        f"{c['texts_under_several_specialties']:,} of them filed under several specialties "
        "(positive when any of their rows is). One plan for every arm: stratified "
        f"{p['plan']['folds']}-fold CV × {p['plan']['repeats']} repeats, seed "
        f"{p['plan']['seed']}; BBC-CV estimate with its 95% CI (1,000 bootstraps). Concept "
        f"features: {p['n_concept_features']} columns with assertion, "
        f"{p['n_concept_features_no_assertion']} without (English starter lexicon; "
        f"featurizing every text took {p['featurize_seconds']} s).",
        "",
        "| task | positives | arm | BBC-CV AUC | 95% CI | winner's plain CV AUC | candidates "
        "| seconds |",
        "|---|---:|---|---:|---|---:|---:|---:|",
    ]
    if p.get("note"):
        lines[2:2] = [p["note"], ""]
    for r in p["rows"]:
        lo, hi = r["ci95"]
        lines.append(
            f"| {r['task']} | {r['positives']} | {r['arm']} | {r['auc']:.3f} | "
            f"{lo:.3f}–{hi:.3f} | {r['plain_cv']:.3f} | {r['n_candidates']} | {r['seconds']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
