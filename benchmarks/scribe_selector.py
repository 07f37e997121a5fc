"""Train the scribe's sentence selector: ``src/insightome/apps/scribe/resources/selector.json``.

The drafter (:mod:`insightome.apps.scribe.draft`) makes every non-question sentence of a
visit a candidate line; the selector (:mod:`insightome.apps.scribe.select`) is a logistic
regression over each candidate's features (speaker, phase, position, length, concepts, cue
words, the words of the line) that keeps the sentences whose content reaches notes. Label of
a candidate: the ROUGE-2 precision (Porter stemming) of its line against the encounter's
reference note is at least ``tau``. A sentence left out that holds findings becomes the list
of its findings, so the selector moves ROUGE, not the concepts.

Data: ACI-BENCH (Yim et al., *Sci Data* 2023; CC BY 4.0) train (67) and valid (20)
encounters; **test1 is never read here.** Protocol:

* ``--select``: every setting of :data:`GRID` (tau, C, vocabulary size, and the two
  thresholds) is scored by 5-fold cross-validation over the train encounters (each fold's
  drafts made with a selector fitted on the other folds; score: the mean of ROUGE-1/2/L/Lsum
  F of the drafts); the best setting is then fitted on train alone and judged on valid.
  Written to ``benchmarks/results/scribe_selector.json``.
* default: the chosen setting (:data:`CHOSEN`, from ``--select``) fitted on train+valid
  → ``selector.json`` (with its provenance).

    python benchmarks/scribe_selector.py --select   # choose (≈ 15 min on 2 cores)
    python benchmarks/scribe_selector.py            # write selector.json
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import itertools
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import scribe
from insightome.apps.scribe.dialogue import rules
from insightome.apps.scribe.draft import candidate_sentences, draft_note, scribe_lexicon
from insightome.apps.scribe.select import DEFAULT_SELECTOR, FEATURES, SELECTOR_FORMAT, Selector
from insightome.apps.scribe.transcript import Transcript

#: the settings tried by ``--select``: label threshold tau, inverse regularisation C,
#: vocabulary size (most frequent words of the candidate lines, in at least 5), thresholds
GRID = {
    "tau": (0.15, 0.25, 0.35),
    "C": (0.1, 0.3, 1.0),
    "words": (800,),
    "threshold_findings": (0.1, 0.2, 0.3, 0.4),
    "threshold_plain": (0.2, 0.3, 0.4, 0.5),
}
#: the setting ``--select`` chose (benchmarks/results/scribe_selector.json)
CHOSEN = {"tau": 0.35, "C": 0.1, "words": 800, "threshold_findings": 0.1, "threshold_plain": 0.2}
MIN_COUNT = 5
FOLDS = 5
SEED = 0
OUT = scribe.RESULTS / "scribe_selector.json"
PROVENANCE = (
    "Trained by benchmarks/scribe_selector.py on ACI-BENCH (Yim W, Fu Y, Ben Abacha A, "
    "Snider N, Lin T, Yetisgen M. Aci-bench: a novel ambient clinical intelligence dataset for "
    "benchmarking automatic visit note generation. Sci Data 10, 586 (2023); CC BY 4.0), "
    "wyim/aci-bench data/challenge_data @ 5d3cd4d8, train and valid encounters only (never "
    "test1)."
)


def labelled(encounters: Sequence[scribe.Encounter], items: Sequence[Transcript]) -> list:
    """(encounter index, features, ROUGE-2 precision of the line vs the note) per candidate."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge2"], use_stemmer=True)
    rows = []
    for index, (e, transcript) in enumerate(zip(encounters, items, strict=True)):
        for c in candidate_sentences(transcript):
            precision = scorer.score(e.note, c.line.text)["rouge2"].precision
            rows.append((index, c.features, precision))
    return rows


def fit(rows: Sequence, tau: float, C: float, words: int) -> dict[str, float]:
    """The logistic regression (no separate intercept: ``bias`` is a feature) on the hand
    features and the ``words`` most frequent line words (in ≥ MIN_COUNT candidates)."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    counts = collections.Counter(k for _, f, _ in rows for k in f if k.startswith("w:"))
    vocabulary = {k for k, n in counts.most_common(words) if n >= MIN_COUNT}
    kept = [{k: v for k, v in f.items() if k in vocabulary or k in FEATURES} for _, f, _ in rows]
    vectorizer = DictVectorizer()
    X = vectorizer.fit_transform(kept)
    y = np.array([p >= tau for _, _, p in rows])
    model = LogisticRegression(C=C, fit_intercept=False, max_iter=5000).fit(X, y)
    return {k: float(w) for k, w in zip(vectorizer.feature_names_, model.coef_[0], strict=True)}


def draft_rouge(
    encounters: Sequence[scribe.Encounter],
    items: Sequence[Transcript],
    selector_of: Callable[[int], Selector],
) -> dict[str, float]:
    """Mean ROUGE F (stemmed) of the drafts made with each encounter's selector, and their
    mean over the four (the score ``--select`` maximises) and the mean length."""
    drafts = [draft_note(t, selector=selector_of(i)) for i, t in enumerate(items)]
    per = scribe.rouge_scores([e.note for e in encounters], [d.text for d in drafts])
    out = {k: float(np.mean(v)) for k, v in per.items()}
    out["mean"] = float(np.mean([out[k] for k in scribe.ROUGE_KEYS]))
    out["words"] = float(np.mean([len(d.text.split()) for d in drafts]))
    return out


def _folds(n: int) -> list[set[int]]:
    order = np.random.default_rng(SEED).permutation(n)
    return [{int(i) for i in order[k::FOLDS]} for k in range(FOLDS)]


def select() -> dict[str, Any]:
    """The grid scored by cross-validation on train, the best refitted on train and judged
    on valid (with the round-1 drafter's figures there beside it)."""
    train, valid = scribe.read_split("train"), scribe.read_split("valid")
    train_items, valid_items = scribe.transcripts(train), scribe.transcripts(valid)
    rows = labelled(train, train_items)
    folds = _folds(len(train))
    fold_of = {i: k for k, f in enumerate(folds) for i in f}
    tried = []
    for tau, C, words in itertools.product(GRID["tau"], GRID["C"], GRID["words"]):
        per_fold = [fit([r for r in rows if r[0] not in f], tau, C, words) for f in folds]
        for low, high in itertools.product(GRID["threshold_findings"], GRID["threshold_plain"]):
            models = [Selector(w, low, high) for w in per_fold]
            score = draft_rouge(train, train_items, lambda i, m=models: m[fold_of[i]])
            setting = {"tau": tau, "C": C, "words": words}
            setting |= {"threshold_findings": low, "threshold_plain": high}
            tried.append({"setting": setting, "train_cv": score})
            print(json.dumps(tried[-1]), flush=True)
    best = max(tried, key=lambda t: t["train_cv"]["mean"])["setting"]
    weights = fit(rows, best["tau"], best["C"], best["words"])
    chosen = Selector(weights, best["threshold_findings"], best["threshold_plain"])
    return {
        "protocol": "5-fold CV over the train encounters for every setting; the best setting "
        "fitted on train and judged on valid; test1 never read",
        "grid": GRID,
        "tried": tried,
        "chosen": best,
        "valid_with_train_fit": draft_rouge(valid, valid_items, lambda i: chosen),
        "positive_rate_train": float(np.mean([p >= best["tau"] for _, _, p in rows])),
        "lexicon_sha256": scribe_lexicon().sha256,
        "rules_sha256": rules()[1],
    }


def write(setting: dict[str, Any] = CHOSEN, path: Path = DEFAULT_SELECTOR) -> dict[str, Any]:
    """Fit the chosen setting on train+valid and write the selector file (temp + rename)."""
    encounters = scribe.read_split("train") + scribe.read_split("valid")
    rows = labelled(encounters, scribe.transcripts(encounters))
    weights = fit(rows, setting["tau"], setting["C"], setting["words"])
    data_sha = {
        split: hashlib.sha256((scribe.DATA / scribe.SPLITS[split]).read_bytes()).hexdigest()
        for split in ("train", "valid")
    }
    payload = {
        "format": SELECTOR_FORMAT,
        "about": "Logistic regression choosing which transcript sentences become note lines "
        "(insightome.apps.scribe.select); a feature's weight, 'w:<word>' for a word of the "
        "line; probability = 1/(1+exp(-sum(weight*value))); a sentence is kept when it reaches "
        "threshold_findings (it holds findings) or threshold_plain (it holds none).",
        "provenance": PROVENANCE,
        "data_sha256": data_sha,
        "label": f"ROUGE-2 precision (Porter stemming) of the line vs the reference note ≥ "
        f"{setting['tau']}",
        "setting": setting,
        "candidates": len(rows),
        "positive_rate": round(float(np.mean([p >= setting["tau"] for _, _, p in rows])), 4),
        "lexicon_sha256": scribe_lexicon().sha256,
        "rules_sha256": rules()[1],
        "threshold_findings": setting["threshold_findings"],
        "threshold_plain": setting["threshold_plain"],
        "weights": {k: round(v, 4) for k, v in sorted(weights.items()) if round(v, 4) != 0},
    }
    text = json.dumps(payload, indent=1, ensure_ascii=False) + "\n"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--select", action="store_true", help="choose the setting (CV on train)")
    args = parser.parse_args(argv)
    if not (scribe.DATA / scribe.SPLITS["train"]).exists():
        print(f"{scribe.DATA} not found: training needs ../shared/data/scribe", file=sys.stderr)
        return 1
    if args.select:
        result = select()
        temporary = OUT.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        os.replace(temporary, OUT)
        print("chosen", result["chosen"], "valid", result["valid_with_train_fit"])
        return 0
    payload = write()
    print(
        f"{DEFAULT_SELECTOR}: {len(payload['weights'])} weights, {payload['candidates']} "
        f"candidates, positive rate {payload['positive_rate']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
