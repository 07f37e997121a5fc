"""Spanish negation cues and scopes on IULA+ (issue 21).

Data: ``../shared/data/clinical_text/spanish_iula/IULA+/`` — seven brat files (``.txt`` one
sentence per line, CRLF, offsets counting both characters; ``.ann`` standoff), CC BY-SA 3.0
ES: read from there, never copied. Gold:

- negation cues: the text-bound annotations NegSynMarker, NegLexMarker, NegMorMarker;
  uncertainty cues (scored separately): UncertLexMarker, UncertSynMarker. CoordItem ("ni")
  and PolItem are not cues;
- negation scopes: the spans linked by a Scope or DiscScope relation FROM a negation cue.

Predicted: the engine's cues (``NoteExtractor.cues``) on each sentence alone — NEGATED cues
against the negation cues, POSSIBLE cues against the uncertainty cues; a NEGATED cue's scope
is its scope span less its trigger (IULA+ scopes exclude the cue).

Measures, per part:
- cue P/R/F1, **exact** (same character span) and **overlap** (spans share a character;
  one-to-one, greedy in text order);
- scope-token P/R/F1: word tokens (``\\w+``) of a sentence inside any predicted negation scope
  vs inside any gold negation scope, cue tokens excluded on both sides; punctuation is
  not counted.
95% CIs: percentile bootstrap over SENTENCES (2,000 draws, seed 0).

Split: files 1–3 are the tuning part (the Spanish rules were edited looking at them only);
files 4–7 are the reported part.

    python benchmarks/notes_spanish.py
    python benchmarks/notes_spanish.py --part tune        # files 1-3, for editing rules
    python benchmarks/notes_spanish.py --rules my/context.tsv --no-write
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from insightome.featurize.notes import NoteExtractor, read_context_rules, starter_lexicon
from notes_negex import N_BOOT, bootstrap_prf, fmt, write_block

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "clinical_text" / "spanish_iula" / "IULA+"
RESULTS = REPO / "benchmarks" / "results" / "notes.md"
NEG_CUES = ("NegSynMarker", "NegLexMarker", "NegMorMarker")
UNCERTAIN_CUES = ("UncertLexMarker", "UncertSynMarker")
SCOPE_RELATIONS = ("Scope", "DiscScope")
TUNE_FILES = (1, 2, 3)
REPORT_FILES = (4, 5, 6, 7)
TARGETS = {"cues": 0.90, "scope tokens": 0.85}
WORD = re.compile(r"\w+")

Span = tuple[int, int]


@dataclass(frozen=True)
class Sentence:
    """One line of a brat file with its gold annotations, offsets relative to the line."""

    file: str
    index: int
    text: str
    neg_cues: tuple[Span, ...]
    uncertain_cues: tuple[Span, ...]
    scopes: tuple[Span, ...]
    neg_cue_types: tuple[str, ...] = ()  # the marker type of each of ``neg_cues``


# --------------------------------------------------------------------------------------
# reading brat
# --------------------------------------------------------------------------------------
def parse_ann(
    text: str,
) -> tuple[dict[str, tuple[str, tuple[Span, ...]]], list[tuple[str, str, str]]]:
    """A brat ``.ann``: text-bound annotations {id: (type, spans)} (a discontinuous one has
    several spans, ``"s e;s e"``) and relations [(type, arg1 id, arg2 id)]."""
    entities: dict[str, tuple[str, tuple[Span, ...]]] = {}
    relations: list[tuple[str, str, str]] = []
    for line in text.splitlines():
        fields = line.rstrip("\r").split("\t")
        if fields[0].startswith("T"):
            kind, _, offsets = fields[1].partition(" ")
            spans = tuple(
                (int(a), int(b)) for a, b in (part.split() for part in offsets.split(";"))
            )
            entities[fields[0]] = (kind, spans)
        elif fields[0].startswith("R"):
            kind, arg1, arg2 = fields[1].split()[:3]
            relations.append((kind, arg1.split(":", 1)[1], arg2.split(":", 1)[1]))
    return entities, relations


def line_starts(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line of a text, offsets counting CR and LF as characters."""
    out, pos = [], 0
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        out.append((pos, pos + len(stripped)))
        pos += len(line)
    return out


def sentences(text: str, ann: str, file: str) -> list[Sentence]:
    """The sentences (non-empty lines) of one brat document with their gold cues and
    negation scopes."""
    entities, relations = parse_ann(ann)
    neg = {s: kind for kind, spans in entities.values() if kind in NEG_CUES for s in spans}
    unc = [s for kind, spans in entities.values() if kind in UNCERTAIN_CUES for s in spans]
    scopes = [
        s
        for kind, arg1, arg2 in relations
        if kind in SCOPE_RELATIONS and entities[arg1][0] in NEG_CUES
        for s in entities[arg2][1]
    ]
    out = []
    for i, (start, end) in enumerate(line_starts(text)):
        if not text[start:end].strip():
            continue  # each file ends with an empty line

        def inside(spans: Iterable[Span], start: int = start, end: int = end) -> tuple[Span, ...]:
            return tuple(
                sorted({(a - start, b - start) for a, b in spans if start <= a and b <= end})
            )

        cues = inside(neg)
        types = tuple(neg[(a + start, b + start)] for a, b in cues)
        out.append(Sentence(file, i, text[start:end], cues, inside(unc), inside(scopes), types))
    return out


def read_corpus(data: Path, numbers: Sequence[int]) -> list[Sentence]:
    out: list[Sentence] = []
    for n in numbers:
        (txt,) = sorted(data.glob(f"negation_iac_{n}_*.txt"))
        ann = txt.with_suffix(".ann")
        with open(txt, encoding="utf-8", newline="") as f:
            text = f.read()
        out += sentences(text, ann.read_text(encoding="utf-8"), txt.name)
    return out


# --------------------------------------------------------------------------------------
# the metrics
# --------------------------------------------------------------------------------------
def match_spans(pred: Sequence[Span], gold: Sequence[Span], exact: bool) -> int:
    """How many predicted spans match a gold span one-to-one (exact: same span; else any
    shared character), greedily in text order."""
    used: set[int] = set()
    hits = 0
    for a, b in sorted(pred):
        for j, (c, d) in enumerate(sorted(gold)):
            if j in used:
                continue
            if (a, b) == (c, d) if exact else (a < d and c < b):
                used.add(j)
                hits += 1
                break
    return hits


def word_tokens(text: str, spans: Iterable[Span], minus: Iterable[Span] = ()) -> set[int]:
    """Indices of the word tokens of ``text`` that overlap ``spans`` and none of ``minus``."""
    spans, minus = list(spans), list(minus)
    out = set()
    for i, m in enumerate(WORD.finditer(text)):

        def hit(ss: list[Span], a: int = m.start(), b: int = m.end()) -> bool:
            return any(a < d and c < b for c, d in ss)

        if hit(spans) and not hit(minus):
            out.add(i)
    return out


@dataclass(frozen=True)
class Predicted:
    neg_cues: tuple[Span, ...]
    uncertain_cues: tuple[Span, ...]
    scopes: tuple[Span, ...]


def predict(extractor: NoteExtractor, sentence: str) -> Predicted:
    neg, unc, scopes = [], [], []
    for cue in extractor.cues(sentence):
        if cue.category == "NEGATED":
            neg.append((cue.start, cue.end))
            scopes.append((cue.scope_start, cue.scope_end))
        elif cue.category == "POSSIBLE":
            unc.append((cue.start, cue.end))
    return Predicted(tuple(neg), tuple(unc), tuple(scopes))


def sentence_counts(s: Sentence, p: Predicted) -> dict[str, tuple[int, int, int]]:
    """tp, fp, fn of one sentence for every measure."""
    out = {}
    for name, pred, gold in (
        ("cues", p.neg_cues, s.neg_cues),
        ("uncertainty cues", p.uncertain_cues, s.uncertain_cues),
    ):
        for mode, exact in (("exact", True), ("overlap", False)):
            hits_p = match_spans(pred, gold, exact)
            out[f"{name} ({mode})"] = (hits_p, len(pred) - hits_p, len(gold) - hits_p)
    for kind in NEG_CUES:
        gold = [c for c, t in zip(s.neg_cues, s.neg_cue_types, strict=True) if t == kind]
        found = match_spans(gold, p.neg_cues, exact=False)
        out[f"recall of {kind}"] = (found, 0, len(gold) - found)
    cues = list(s.neg_cues) + list(p.neg_cues)
    gold_tok = word_tokens(s.text, s.scopes, minus=cues)
    pred_tok = word_tokens(s.text, p.scopes, minus=cues)
    out["scope tokens"] = (
        len(gold_tok & pred_tok),
        len(pred_tok - gold_tok),
        len(gold_tok - pred_tok),
    )
    return out


def evaluate(corpus: Sequence[Sentence], extractor: NoteExtractor) -> dict[str, dict[str, object]]:
    per = [sentence_counts(s, predict(extractor, s.text)) for s in corpus]
    out: dict[str, dict[str, object]] = {}
    for measure in per[0]:
        tp, fp, fn = (np.array([c[measure][k] for c in per]) for k in range(3))
        out[measure] = {
            "gold": int(tp.sum() + fn.sum()),
            "predicted": int(tp.sum() + fp.sum()),
            **bootstrap_prf(tp, fp, fn),
        }
    return out


# --------------------------------------------------------------------------------------
# the results
# --------------------------------------------------------------------------------------
def table(results: dict[str, dict[str, object]], quoted: bool) -> list[str]:
    lines = [
        "| measure | gold | predicted | precision | recall | F1 | target |",
        "|---|---:|---:|---|---|---|---|",
    ]
    for measure, r in results.items():
        if measure.startswith("recall of"):
            continue
        target = TARGETS.get("cues" if measure.startswith("cues") else measure)
        verdict = f"≥ {target:.2f}" if target else ""
        if target and quoted and "exact" not in measure:
            verdict += f": {'met' if r['f1'][0] >= target else 'NOT met'}"
        lines.append(
            f"| {measure} | {r['gold']} | {r['predicted']} | {fmt(r['precision'])} | "
            f"{fmt(r['recall'])} | {fmt(r['f1'])} | {verdict} |"
        )
    recalls = [
        f"{m.removeprefix('recall of ')} {fmt(r['recall'])} of {r['gold']}"
        for m, r in results.items()
        if m.startswith("recall of")
    ]
    return [*lines, "", "Negation-cue recall (overlap) by marker type: " + "; ".join(recalls) + "."]


def markdown(parts: dict[str, dict[str, dict[str, object]]], info: dict[str, object]) -> str:
    lines = [
        "## Spanish: IULA+ negation cues and scopes (`benchmarks/notes_spanish.py`)",
        "",
        f"Run {info['date']}; data: the seven IULA+ brat files, sha256 of their "
        f"concatenation (sorted by name, .txt then .ann) `{info['sha']}`. Tuning part: files "
        f"{', '.join(map(str, TUNE_FILES))} ({info['tune_sentences']} sentences); reported "
        f"part: files {', '.join(map(str, REPORT_FILES))} ({info['report_sentences']} "
        f"sentences). Rules: {info['rules']}. 95% CIs: percentile bootstrap over sentences, "
        f"{N_BOOT} draws. Cue targets are judged on the overlap match, exact spans beside "
        "them; scope tokens are the word tokens inside a negation scope, cues excluded.",
    ]
    labels = {
        "report": "### Reported part (files 4-7): the figures to quote",
        "tune": "### Tuning part (files 1-3): the rules were edited looking at these "
        "sentences; optimistic",
    }
    for part, results in parts.items():
        lines += ["", labels[part], "", *table(results, quoted=part == "report")]
    return "\n".join(lines)


def corpus_sha(data: Path) -> str:
    h = hashlib.sha256()
    for txt in sorted(data.glob("negation_iac_*.txt")):
        h.update(txt.read_bytes())
        h.update(txt.with_suffix(".ann").read_bytes())
    return h.hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument(
        "--part",
        choices=["both", "tune"],
        default="both",
        help="both: the reported part (the figures to quote) and the tuning part; "
        "tune: the tuning part only, printed, for editing rules",
    )
    ap.add_argument(
        "--rules",
        type=Path,
        default=None,
        help="a context.tsv to evaluate instead of the packaged Spanish rules",
    )
    ap.add_argument("--output", type=Path, default=RESULTS)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"data not found: {args.data} (see ../shared/data/PROVENANCE.md)", file=sys.stderr)
        return 2
    rules = read_context_rules(args.rules) if args.rules else None
    extractor = NoteExtractor(starter_lexicon("es"), "es", rules=rules)
    chosen = (
        {"tune": TUNE_FILES}
        if args.part == "tune"
        else {
            "report": REPORT_FILES,
            "tune": TUNE_FILES,
        }
    )
    parts, sizes = {}, {}
    for name, numbers in chosen.items():
        corpus = read_corpus(args.data, numbers)
        parts[name], sizes[name] = evaluate(corpus, extractor), len(corpus)
    info = {
        "date": dt.date.today().isoformat(),
        "sha": corpus_sha(args.data),
        "tune_sentences": sizes["tune"],
        "report_sentences": sizes.get("report", "not run"),
        "rules": str(args.rules) if args.rules else "the packaged Spanish rules",
    }
    text = markdown(parts, info)
    print(text)
    if not args.no_write and args.part == "both":
        write_block(args.output, "spanish", text)
        print(f"\nwrote block 'spanish' of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
