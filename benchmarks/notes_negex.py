"""ConText assertion accuracy on the NegEx/ConText test set (issue 21), English.

Data: ``../shared/data/clinical_text/negex/rsAnnotations-1-120-random.txt`` (2,376 sentences
from 120 de-identified reports, each with one condition and its negation, temporality and
experiencer), whose rows are shuffled and carry no report number. The report number comes
from ``Annotations-1-120.txt`` (same rows, in report order): a row is matched on its
condition and sentence (whitespace collapsed, case-insensitive); where the same pair occurs
in several reports (a sentence like "HYPERTENSION." recurs), the rows are dealt out to those
reports in file order, a report whose negation label agrees first. The counts are printed.

Split: reports with an ODD report number are the tuning half (the rules were edited while
looking at them), reports with an EVEN number the reported half; every figure in the table
is from the reported half. Identical sentences in both halves are counted and stated.

Target span: the condition's first occurrence in the sentence, case-insensitive, words
separated by any whitespace; rows where it cannot be found are counted and left out.

Classes, each scored as a binary decision about the target (P, R and F1 of the positive
class): negated (gold "Negated"), historical (gold temporality "Historical"), hypothetical
(gold "Not particular") and other experiencer (gold "Other" or "Family member"; predicted:
the ``family`` flag). 95% CIs: percentile bootstrap resampling REPORTS (2,000 draws, seed 0).

Systems through the same harness:
1. ``insightome`` — the packaged English rules and sections;
2. ``negex-original`` — the original NegEx triggers plus the ConText history, hypothetical and
   experiencer lists, converted at run time into context rules, through insightome's engine,
   with no sections;
3. ``medspacy`` — medspaCy 1.3.1's ConText with its default rules, run as a subprocess by the
   Python of a separate environment (``--medspacy-python PATH``; never a dependency of
   insightome); without it the row says "not measured".

    python benchmarks/notes_negex.py
    python benchmarks/notes_negex.py --medspacy-python /tmp/medspacy-venv/bin/python
    python benchmarks/notes_negex.py --part tune     # the tuning half only (for editing rules)

The results block shows the reported half first and the tuning half after it, labelled.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import re
import subprocess
import sys
from collections import defaultdict, deque
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from insightome.featurize.notes import (
    ContextRule,
    NoteExtractor,
    read_context_rules,
    starter_lexicon,
)

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "clinical_text" / "negex"
RESULTS = REPO / "benchmarks" / "results" / "notes.md"
CLASSES = ("negated", "historical", "hypothetical", "experiencer")
FLAG = {
    "negated": "negated",
    "historical": "historical",
    "hypothetical": "hypothetical",
    "experiencer": "family",
}
TARGETS = {"negated": 0.95, "historical": 0.80}
N_BOOT = 2000
NEGEX_MAP = {
    "PREN": ("NEGATED", "forward"),
    "POST": ("NEGATED", "backward"),
    "PREP": ("POSSIBLE", "forward"),
    "POSP": ("POSSIBLE", "backward"),
    "PSEU": ("PSEUDO", "none"),
    "CONJ": ("TERMINATE", "all"),
}
CONTEXT_FILES = {
    "history_triggers.txt": "HISTORICAL",
    "hypothetical_triggers.txt": "HYPOTHETICAL",
    "experiencer_triggers.txt": "FAMILY",
}


# --------------------------------------------------------------------------------------
# the data
# --------------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().strip('"')).lower()


def match_reports(rows: pd.DataFrame, annotated: pd.DataFrame) -> tuple[list[int], dict[str, int]]:
    """The report number of every row of ``rows`` (condition, sentence, negation), from
    ``annotated`` (report, concept, sentence, negation) in report order.

    Rows are matched on (condition, sentence) after collapsing whitespace and case; a pair
    found in several reports is dealt out to them in file order, a report whose negation
    label agrees with the row's first. Returns the numbers and the counts: ``unique``
    (one candidate report), ``shared`` (several), ``unmatched`` (a ValueError)."""
    pool: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for report, concept, sentence, negation in annotated.itertuples(index=False):
        pool[(_norm(concept), _norm(sentence))].append((int(report), negation))
    reports_of = {k: {r for r, _ in v} for k, v in pool.items()}
    queues = {k: deque(v) for k, v in pool.items()}
    out: list[int] = []
    counts = {"unique": 0, "shared": 0}
    for condition, sentence, negation in rows.itertuples(index=False):
        key = (_norm(condition), _norm(sentence))
        queue = queues.get(key)
        if not queue:
            raise ValueError(f"row {len(out) + 1}: no unused row of the report file matches it")
        pick = next((i for i, (_, neg) in enumerate(queue) if neg == negation), 0)
        report, _ = queue[pick]
        del queue[pick]
        out.append(report)
        counts["unique" if len(reports_of[key]) == 1 else "shared"] += 1
    return out, counts


def find_target(sentence: str, condition: str) -> tuple[int, int] | None:
    """The first case-insensitive occurrence of ``condition`` in ``sentence``, its words
    separated by any whitespace; None when absent."""
    words = condition.split()
    if not words:
        return None
    m = re.search(r"\s+".join(map(re.escape, words)), sentence, flags=re.IGNORECASE)
    return (m.start(), m.end()) if m else None


def load(data: Path = DATA) -> tuple[pd.DataFrame, dict[str, int]]:
    """One row per annotated sentence: report, condition, sentence, start, end and the gold
    booleans of CLASSES; rows whose condition is not in the sentence are dropped (counted)."""
    rs = pd.read_csv(
        data / "rsAnnotations-1-120-random.txt", sep="\t", dtype=str, keep_default_na=False
    )
    rs.columns = ["line", "condition", "sentence", "negation", "temporality", "experiencer"]
    ann = pd.read_csv(data / "Annotations-1-120.txt", sep="\t", dtype=str, keep_default_na=False)
    reports, counts = match_reports(rs[["condition", "sentence", "negation"]], ann.iloc[:, :4])
    rs["report"] = reports
    spans = [find_target(s, c) for s, c in zip(rs["sentence"], rs["condition"], strict=True)]
    counts["rows"] = len(rs)
    counts["target_not_found"] = sum(s is None for s in spans)
    rs["start"] = [s[0] if s else -1 for s in spans]
    rs["end"] = [s[1] if s else -1 for s in spans]
    rs = rs[rs["start"] >= 0].reset_index(drop=True)
    rs["negated"] = rs["negation"].str.lower().eq("negated")
    rs["historical"] = rs["temporality"].str.lower().eq("historical")
    rs["hypothetical"] = rs["temporality"].str.lower().eq("not particular")
    rs["experiencer"] = ~rs["experiencer"].str.lower().eq("patient")
    return rs, counts


def split(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tuning half: odd report numbers, reported half: even report numbers)."""
    odd = rows["report"] % 2 == 1
    return rows[odd].reset_index(drop=True), rows[~odd].reset_index(drop=True)


# --------------------------------------------------------------------------------------
# the systems
# --------------------------------------------------------------------------------------
def negex_rules(data: Path = DATA) -> tuple[ContextRule, ...]:
    """The original NegEx triggers and the ConText history/hypothetical/experiencer lists
    as context rules (a literal listed twice in one category is kept once; a terminator in
    several ConText files terminates all of their categories)."""
    rules: dict[tuple[str, str], list[str]] = {}
    sources: dict[tuple[str, str], str] = {}

    def add(literal: str, category: str, direction: str, source: str) -> None:
        key = (re.sub(r"\s+", " ", literal.strip()).lower(), category)
        if key in rules and category == "TERMINATE":
            rules[key] = sorted(set(rules[key]) | {direction})
        elif key not in rules:
            rules[key], sources[key] = [direction], source

    for line in (data / "negex_triggers.txt").read_text().splitlines():
        literal, tag = line.split("\t\t")
        add(literal, *NEGEX_MAP[tag.strip("[]")], "negex")
    for name, category in CONTEXT_FILES.items():
        for line in (data / name).read_text().splitlines():
            literal, tag = line.split("\t\t")
            tag = tag.strip("[]")
            if tag in ("PREN", "ONEW"):
                add(literal, category, "forward", "context")
            elif tag == "PSEU":
                add(literal, "PSEUDO", "none", "context")
            elif tag == "CONJ":
                add(literal, "TERMINATE", category, "context")
    out = []
    for (literal, category), directions in rules.items():
        direction = "all" if "all" in directions else ",".join(directions)
        out.append(ContextRule(literal, category, direction, None, sources[(literal, category)]))
    return tuple(out)


def run_engine(rows: pd.DataFrame, extractor: NoteExtractor) -> pd.DataFrame:
    """The predicted flags of every row's target span."""
    out = []
    for sentence, start, end in zip(rows["sentence"], rows["start"], rows["end"], strict=True):
        a = extractor.assert_span(sentence, int(start), int(end))
        out.append({c: bool(getattr(a, FLAG[c])) for c in CLASSES})
    return pd.DataFrame(out, columns=list(CLASSES))


MEDSPACY_SCRIPT = r"""
import json, sys
import medspacy, spacy
nlp = spacy.blank("en")
nlp.add_pipe("sentencizer")
context = nlp.add_pipe("medspacy_context")
for line in sys.stdin:
    sentence, start, end = json.loads(line)
    doc = nlp.make_doc(sentence)
    for name, proc in nlp.pipeline:
        if name != "medspacy_context":
            doc = proc(doc)
    doc.ents = [doc.char_span(start, end, label="TARGET", alignment_mode="expand")]
    doc = context(doc)
    e = doc.ents[0]
    print(json.dumps([bool(e._.is_negated), bool(e._.is_historical),
                      bool(e._.is_hypothetical), bool(e._.is_family)]))
print(json.dumps({"medspacy": medspacy.__version__, "spacy": spacy.__version__}))
"""


def run_medspacy(rows: pd.DataFrame, python: str) -> tuple[pd.DataFrame, str]:
    """medspaCy's ConText (default rules) on every row, in a subprocess of ``python``."""
    lines = "".join(
        json.dumps([s, int(a), int(b)]) + "\n"
        for s, a, b in zip(rows["sentence"], rows["start"], rows["end"], strict=True)
    )
    done = subprocess.run(
        [python, "-c", MEDSPACY_SCRIPT], input=lines, capture_output=True, text=True, check=True
    )
    out = [json.loads(x) for x in done.stdout.splitlines()]
    versions = out.pop()
    flags = pd.DataFrame(out, columns=list(CLASSES)).astype(bool)
    return flags, f"medspaCy {versions['medspacy']} on spaCy {versions['spacy']}"


# --------------------------------------------------------------------------------------
# the metrics
# --------------------------------------------------------------------------------------
def prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[np.ndarray, ...]:
    """Precision, recall, F1 (NaN where undefined) of counts, elementwise."""
    tp, fp, fn = (np.asarray(x, dtype=float) for x in (tp, fp, fn))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = tp / (tp + fp)
        r = tp / (tp + fn)
        f = 2 * tp / (2 * tp + fp + fn)
    return p, r, f


def bootstrap_prf(
    tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, n_boot: int = N_BOOT, seed: int = 0
) -> dict[str, tuple[float, float, float]]:
    """P, R and F1 with 95% percentile bootstrap intervals, resampling the UNITS (rows of the
    per-unit count arrays, e.g. reports or sentences) with replacement.

    Returns {"precision"|"recall"|"f1": (point, low, high)}; a draw where a measure is
    undefined (no predicted or no gold positive) is left out of its interval."""
    tp, fp, fn = (np.asarray(x, dtype=float) for x in (tp, fp, fn))
    point = prf(tp.sum(), fp.sum(), fn.sum())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(tp), np.full(len(tp), 1 / len(tp)), size=n_boot)
    boot = prf(draws @ tp, draws @ fp, draws @ fn)
    out = {}
    for name, pt, values in zip(("precision", "recall", "f1"), point, boot, strict=True):
        finite = values[np.isfinite(values)]
        low, high = np.percentile(finite, [2.5, 97.5]) if finite.size else (np.nan, np.nan)
        out[name] = (float(pt), float(low), float(high))
    return out


def per_unit_counts(
    gold: np.ndarray, pred: np.ndarray, units: Sequence[object]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tp, fp, fn of a binary decision summed within each unit (in sorted unit order)."""
    frame = pd.DataFrame(
        {"u": list(units), "tp": gold & pred, "fp": ~gold & pred, "fn": gold & ~pred}
    )
    sums = frame.groupby("u", sort=True)[["tp", "fp", "fn"]].sum()
    return sums["tp"].to_numpy(), sums["fp"].to_numpy(), sums["fn"].to_numpy()


def score(rows: pd.DataFrame, pred: pd.DataFrame) -> dict[str, dict[str, object]]:
    """Per class: gold positives, P/R/F1 with report-bootstrap CIs."""
    out: dict[str, dict[str, object]] = {}
    for c in CLASSES:
        gold = rows[c].to_numpy(bool)
        counts = per_unit_counts(gold, pred[c].to_numpy(bool), rows["report"])
        out[c] = {"positives": int(gold.sum()), **bootstrap_prf(*counts)}
    return out


# --------------------------------------------------------------------------------------
# the results file
# --------------------------------------------------------------------------------------
def write_block(path: Path, name: str, body: str) -> None:
    """Replace the block ``name`` of a shared results file (or add it at the end)."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = (
        path.read_text(encoding="utf-8")
        if path.exists()
        else (
            "# Clinical notes benchmarks (issue 21)\n\nEach block is written by its own script "
            "under `benchmarks/`; `docs/notes-accuracy.md` explains how to read them.\n"
        )
    )
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), flags=re.DOTALL)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else (text.rstrip("\n") + "\n\n" + block + "\n")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def fmt(triple: tuple[float, float, float]) -> str:
    point, low, high = triple
    if not np.isfinite(point):
        return "—"
    return f"{point:.3f} ({low:.3f}–{high:.3f})"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def table(results: dict[str, object], quoted: bool) -> list[str]:
    lines = [
        "| system | class | gold + | precision | recall | F1 | target |",
        "|---|---|---:|---|---|---|---|",
    ]
    for system, res in results.items():
        if isinstance(res, str):
            lines.append(f"| {system} | all | | {res} | | | |")
            continue
        for c in CLASSES:
            r = res[c]
            target = TARGETS.get(c)
            verdict = ""
            if target is not None and system == "insightome" and quoted:
                verdict = f"≥ {target:.2f}: {'met' if r['f1'][0] >= target else 'NOT met'}"
            elif target is not None:
                verdict = f"≥ {target:.2f}"
            lines.append(
                f"| {system} | {c} | {r['positives']} | {fmt(r['precision'])} | "
                f"{fmt(r['recall'])} | {fmt(r['f1'])} | {verdict} |"
            )
    return lines


def markdown(parts: dict[str, dict[str, object]], info: dict[str, object]) -> str:
    lines = [
        "## English: NegEx/ConText test set (`benchmarks/notes_negex.py`)",
        "",
        f"Run {info['date']}; data `rsAnnotations-1-120-random.txt` sha256 `{info['sha_rs']}`, "
        f"report numbers from `Annotations-1-120.txt` sha256 `{info['sha_ann']}`.",
        "",
        f"Rows: {info['rows']}; report number matched uniquely for {info['unique']}, dealt "
        f"out among identical rows of several reports for {info['shared']}; condition not "
        f"found in its sentence (left out): {info['target_not_found']}. "
        f"Split: tuning half = odd report numbers ({info['tune_reports']} reports, "
        f"{info['tune_rows']} rows); reported half = even report numbers "
        f"({info['report_reports']} reports, {info['report_rows']} rows; {info['shared_text']} "
        "of them have a sentence whose exact text is also in the tuning half). 95% CIs: "
        f"percentile bootstrap over reports, {N_BOOT} draws. Historical rows whose sentence "
        'has at most three words (a bare list item such as "HYPERTENSION.", historical '
        "only by a heading outside the sentence): "
        f"{info['bare_report']} of {info['hist_report']} in the reported half, "
        f"{info['bare_tune']} of {info['hist_tune']} in the tuning half.",
    ]
    labels = {
        "report": "### Reported half (even reports): the figures to quote",
        "tune": "### Tuning half (odd reports): the rules were edited looking at these rows; "
        "optimistic, shown for its larger counts",
    }
    for part, results in parts.items():
        lines += ["", labels[part], "", *table(results, quoted=part == "report")]
    lines += ["", f"Systems: {info['systems']}."]
    return "\n".join(lines)


def systems_on(
    rows: pd.DataFrame, data: Path, rules: Path | None, medspacy: str | None
) -> tuple[dict[str, object], list[str]]:
    """Every system's scores on ``rows`` and the line describing each."""
    lexicon = starter_lexicon("en")
    custom = read_context_rules(rules) if rules else None
    out: dict[str, object] = {
        "insightome": score(rows, run_engine(rows, NoteExtractor(lexicon, "en", rules=custom))),
        "negex-original": score(
            rows,
            run_engine(rows, NoteExtractor(lexicon, "en", rules=negex_rules(data), sections=())),
        ),
    }
    described = [
        "insightome = the packaged English rules and sections"
        + (f" (here: {rules})" if rules else ""),
        "negex-original = NegEx triggers + ConText history/hypothetical/experiencer lists "
        "through insightome's engine, no sections",
    ]
    if medspacy:
        flags, version = run_medspacy(rows, medspacy)
        out["medspacy"] = score(rows, flags)
        described.append(f"medspacy = {version}, default ConText rules, sentencizer only")
    else:
        out["medspacy"] = "not measured (give --medspacy-python)"
    return out, described


def _bare(rows: pd.DataFrame) -> int:
    return int((rows["historical"] & (rows["sentence"].str.split().str.len() <= 3)).sum())


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument(
        "--part",
        choices=["both", "tune"],
        default="both",
        help="both: the reported half (the figures to quote) and the tuning half; "
        "tune: the tuning half only, printed, for editing rules",
    )
    ap.add_argument(
        "--rules",
        type=Path,
        default=None,
        help="a context.tsv to evaluate instead of the packaged English rules",
    )
    ap.add_argument(
        "--medspacy-python", default=None, help="the Python of an environment with medspaCy 1.3.1"
    )
    ap.add_argument("--output", type=Path, default=RESULTS)
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    if not (args.data / "rsAnnotations-1-120-random.txt").exists():
        print(f"data not found: {args.data} (see ../shared/data/PROVENANCE.md)", file=sys.stderr)
        return 2
    rows, counts = load(args.data)
    tune, report = split(rows)
    chosen = {"tune": tune} if args.part == "tune" else {"report": report, "tune": tune}
    parts, described = {}, []
    for name, part in chosen.items():
        parts[name], described = systems_on(part, args.data, args.rules, args.medspacy_python)
    tune_text = set(tune["sentence"].map(_norm))
    info = {
        "date": dt.date.today().isoformat(),
        "sha_rs": sha256(args.data / "rsAnnotations-1-120-random.txt"),
        "sha_ann": sha256(args.data / "Annotations-1-120.txt"),
        **counts,
        "tune_reports": tune["report"].nunique(),
        "tune_rows": len(tune),
        "report_reports": report["report"].nunique(),
        "report_rows": len(report),
        "shared_text": int(report["sentence"].map(_norm).isin(tune_text).sum()),
        "hist_report": int(report["historical"].sum()),
        "bare_report": _bare(report),
        "hist_tune": int(tune["historical"].sum()),
        "bare_tune": _bare(tune),
        "systems": "; ".join(described),
    }
    text = markdown(parts, info)
    print(text)
    if not args.no_write and args.part == "both":
        write_block(args.output, "negex", text)
        print(f"\nwrote block 'negex' of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
