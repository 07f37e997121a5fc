"""Notes engine speed: notes and words per second on the MTSamples transcriptions.

The issue's target: at least 200 notes of ~500 words per second on 2 cores, i.e. 100,000
words per second. The distinct MTSamples transcriptions (../shared/data/clinical_text/
mtsamples.csv: 4,999 rows, 2,358 distinct texts, ~465 words each) go through
:func:`insightome.featurize.notes.extract_mentions` with the English starter lexicon and
the packaged rules, values on, with ``n_jobs=1`` and ``n_jobs=2`` (joblib processes; their
start-up is counted), then once more with a large synthetic lexicon (5,000 concepts,
20,000 terms of 1-3 words drawn from the notes' own vocabulary, so that they do match:
thousands of synonyms must stay fast). Each setting runs ``--repeats`` times after one
warm-up; the best time is reported (the machine may be shared), with the load average
before the run.

    python benchmarks/notes_speed.py            # < 1 minute on 2 cores

Rewrites its own block (``speed``) of benchmarks/results/notes.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from notes_negex import write_block

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "clinical_text" / "mtsamples.csv"
RESULTS = ROOT / "benchmarks" / "results" / "notes.md"
BLOCK = "speed"
TARGET_WORDS_PER_SECOND = 200 * 500


def synthetic_lexicon(texts: list[str], n_concepts: int = 5000, seed: int = 0):
    """``n_concepts`` concepts of 4 terms each, from words of the notes (length > 4)."""
    from insightome.featurize.notes import Concept, Lexicon

    words = sorted(
        {w.lower().strip(".,:;()") for t in texts[:300] for w in t.split() if w.isalpha()} - {""}
    )
    words = [w for w in words if len(w) > 4]
    rng = random.Random(seed)

    def term() -> str:
        return " ".join(rng.sample(words, rng.choice([1, 2, 3])))

    concepts = tuple(
        Concept(f"c{i}", term(), tuple(term() for _ in range(3)), None, "finding")
        for i in range(n_concepts)
    )
    return Lexicon(concepts, "synthetic", "0" * 64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"MTSamples not found: {args.data} (see ../shared/data/PROVENANCE.md)")

    from insightome.featurize.notes import NoteExtractor, extract_mentions, starter_lexicon

    texts = pd.read_csv(args.data)["transcription"].dropna()
    texts = texts[texts.str.strip() != ""].drop_duplicates().tolist()
    notes = pd.DataFrame({"note_id": range(len(texts)), "text": texts})
    n_words = sum(len(t.split()) for t in texts)
    lexicon = starter_lexicon("en")
    started = time.perf_counter()
    NoteExtractor(lexicon, "en")
    setup = time.perf_counter() - started

    large = synthetic_lexicon(texts)
    settings = [("starter", lexicon, n_jobs) for n_jobs in args.jobs] + [("synthetic", large, 1)]
    rows = []
    for name, concepts, n_jobs in settings:
        load = os.getloadavg()[0]
        extract_mentions(notes.head(200), concepts, "en", n_jobs=1)  # warm-up (and build)
        best = float("inf")
        for _ in range(args.repeats):
            started = time.perf_counter()
            mentions = extract_mentions(notes, concepts, "en", n_jobs=n_jobs)
            best = min(best, time.perf_counter() - started)
        kinds = mentions["kind"].value_counts()
        counts = (int(kinds.get("concept", 0)), int(kinds.get("value", 0)))
        rows.append((name, n_jobs, best, load, *counts))
        print(
            f"{name} n_jobs={n_jobs}: {len(notes) / best:.0f} notes/s, "
            f"{n_words / best:,.0f} words/s"
        )

    lines = [
        "## Speed (`benchmarks/notes_speed.py`)",
        "",
        f"{len(notes):,} distinct MTSamples transcriptions, {n_words:,} words "
        f"({n_words / len(notes):.0f} per note); packaged English rules, values on. "
        f"Best of {args.repeats} after a warm-up; "
        f"building the extractor (blank pipeline, matchers): {setup:.2f} s, once per process. "
        f"Target: {TARGET_WORDS_PER_SECOND:,} words/s (200 notes of 500 words) on 2 cores.",
        "",
        "| lexicon | n_jobs | seconds | notes/s | words/s | 500-word notes/s | target met | "
        "concept / value mentions | mentions per note | load average before |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    n_terms = sum(len(c.terms) for c in large.concepts)
    names = {
        "starter": f"starter ({len(lexicon)} concepts)",
        "synthetic": f"synthetic ({len(large):,} concepts, {n_terms:,} terms)",
    }
    for name, n_jobs, seconds, load, n_concepts, n_values in rows:
        words_per_second = n_words / seconds
        lines.append(
            f"| {names[name]} | {n_jobs} | {seconds:.2f} | {len(notes) / seconds:,.0f} "
            f"| {words_per_second:,.0f} "
            f"| {words_per_second / 500:,.0f} | "
            f"{'yes' if words_per_second >= TARGET_WORDS_PER_SECOND else 'no'} | "
            f"{n_concepts:,} / {n_values:,} | {(n_concepts + n_values) / len(notes):.0f} "
            f"| {load:.2f} |"
        )
    lines += [
        "",
        "The synthetic lexicon's terms are drawn from the notes' own words, so it finds far "
        "more mentions per note than a clinical lexicon would: the time then goes into the "
        "rows (one Python dict per mention), not into matching.",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}. The machine was "
        "shared with other work (load average column): the figures are lower bounds.",
    ]
    write_block(RESULTS, BLOCK, "\n".join(lines))
    print(f"wrote the '{BLOCK}' block of {RESULTS}")


if __name__ == "__main__":
    main()
