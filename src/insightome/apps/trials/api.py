"""``match`` (patients → trials) and ``screen`` (one trial → a cohort): what the CLI calls.

Both write one output folder, atomically (built beside it, then renamed; refused by
:func:`check_output` when that would replace an input or a folder that is not an earlier
output):

* ``README.txt`` — the disclaimer and what each file holds;
* ``matches.csv`` — one row per suggested patient × trial: rank, score and its parts, the
  status ("excluded" when a criterion failed, else "no criterion failed") and the counts of
  met, failed and unknown criteria;
* ``criteria.csv`` — one row per criterion of each suggested pair: inclusion/exclusion, the
  criterion's text, what was parsed from it, the verdict (met / not met / unknown) and its
  effect (the patient out, in, or unknown), the reason and the evidence (the words of the
  patient's record with their context, or the structured field);
* ``report.html`` — the same, self-contained, for the coordinator: per patient, per trial,
  per criterion;
* ``summary.json`` — inputs (paths, sha256), versions, weights, counts, skipped records,
  notes (patient-table columns not used);
* ``prediction_log.jsonl`` — one ``prediction`` line per suggestion (the pair's ID is
  ``PATIENT|NCT``). ``insightome trials review`` appends the coordinator's decisions to it
  (:func:`insightome.audit.prediction_log.log_override`: who, accept/reject, why).

**A screening aid, not a decision.** Every table and the report say so. The folder holds
words from the patients' notes (the evidence): keep it where the notes are kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from insightome import errors
from insightome.apps.trials.matcher import Matcher, ScoredPair, Weights
from insightome.apps.trials.patients import PatientSet, read_patients
from insightome.apps.trials.records import Trial, TrialSet, read_trials
from insightome.apps.trials.report import context, effect, write_report
from insightome.apps.trials.retrieval import TextIndex, TrialIndex, require_extra
from insightome.audit.prediction_log import log_override, log_predictions, read_log, was_predicted
from insightome.errors import UserError
from insightome.io.atomic import replacing_directory

__all__ = ["DISCLAIMER", "TrialsResult", "check_output", "match", "review", "screen"]

DISCLAIMER = (
    "Screening aid, not an eligibility decision: every suggestion must be checked against "
    "the full record and the protocol by the study team. 'unknown' means the record does not "
    "say; it is not 'met'."
)
PAIR_SEPARATOR = "|"
Progress = Callable[[str], None]


@dataclass
class TrialsResult:
    """What a match or screen produced (and wrote to ``out_dir``)."""

    mode: str  # match | screen
    out_dir: Path
    pairs: list[ScoredPair]
    trials: TrialSet
    patients: PatientSet
    summary: dict[str, Any] = field(default_factory=dict)


def _versions() -> dict[str, str]:
    names = ("insightome", "bm25s", "PyStemmer", "spacy", "numpy", "pandas")
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out


def _fingerprint(matcher: Matcher, trials: TrialSet) -> str:
    assert matcher.lexicon is not None
    text = json.dumps(
        {
            "trials": trials.sha256,
            "lexicon": matcher.lexicon.sha256,
            "weights": asdict(matcher.weights),
            "insightome": _versions()["insightome"],
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def check_output(out_dir: str | Path, inputs: Sequence[str | Path | None]) -> Path:
    """The output folder, refused (one line) when writing it would replace something else:
    a file, the current folder or one above it, an input or a folder holding one, or a
    folder with other content than an earlier output of these commands."""
    out = Path(out_dir)
    reason = _replaced_input(out, inputs) or _unsafe_place(out, str(out_dir))
    if reason:
        raise UserError(errors.TRIALS_OUTPUT_UNSAFE, path=out_dir, reason=reason)
    return out


def _replaced_input(out: Path, inputs: Sequence[str | Path | None]) -> str:
    """Why writing ``out`` would replace an input (the clearest reason), or ""."""
    where = out.resolve()
    for given in inputs:
        if given is not None:
            path = Path(given).resolve()
            if path == where or where in path.parents:
                return f"would replace the input {given}"
    return ""


def _unsafe_place(out: Path, written: str) -> str:
    """Why ``out`` is no place for an output folder, or ""."""
    where, here = out.resolve(), Path.cwd().resolve()
    if not written.strip() or where == here or where in here.parents:
        return "is the current folder or one above it"
    if out.exists() and not out.is_dir():
        return "is a file"
    if out.is_dir() and not (out / "summary.json").is_file() and any(out.iterdir()):
        return "is a folder with other content (not an earlier output of insightome trials)"
    return ""


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def match(
    patients_path: str | Path,
    trials_path: str | Path,
    out_dir: str | Path,
    *,
    top: int = 10,
    recall: int = 100,
    id_column: str | None = None,
    text_column: str | None = None,
    patient_table: str | Path | None = None,
    weights: Weights | None = None,
    user: str | None = None,
    progress: Progress | None = None,
) -> TrialsResult:
    """Each patient's best ``top`` trials: BM25 recall of ``recall`` trials, then re-ranked."""
    if top < 1 or recall < top:
        raise UserError(errors.TRIALS_TOP_RANGE, top=top, recall=recall)
    require_extra()
    check_output(out_dir, [patients_path, trials_path, patient_table])
    patients = read_patients(
        patients_path, id_column=id_column, text_column=text_column, table=patient_table
    )
    trials = read_trials(trials_path)
    _say(progress, f"{len(trials)} trials read ({len(trials.skipped)} skipped); indexing")
    index = TrialIndex(trials.trials)
    matcher = Matcher(trials.trials, weights or Weights())
    _say(progress, f"reading the notes of {len(patients.patients)} patients")
    facts = matcher.read_notes(patients.patients)
    pairs: list[ScoredPair] = []
    for number, fact in enumerate(facts, start=1):
        ids, scores = index.top(fact.patient.text, recall)
        keep = scores > 0  # a trial sharing no word with the notes is not a suggestion
        ids, scores = [i for i, k in zip(ids, keep, strict=True) if k], scores[keep]
        pairs.extend(matcher.score(fact, ids, scores)[:top] if ids else [])
        _say(progress, f"patient {number} of {len(facts)} ranked")
    return _finish("match", out_dir, pairs, trials, patients, matcher, user, top=top, recall=recall)


def _one_trial(trial: str, trials_path: str | Path | None) -> tuple[Trial, TrialSet]:
    path = Path(trial)
    if path.exists():
        found = read_trials(path)
        if len(found) != 1:
            raise UserError(errors.TRIALS_SCREEN_ONE, path=path, n=len(found))
        return found.trials[0], found
    if trials_path is None:
        raise UserError(errors.TRIALS_SCREEN_WHICH, trial=trial)
    corpus = read_trials(trials_path)
    wanted = corpus.by_id().get(trial.strip().upper())
    if wanted is None:
        raise UserError(errors.TRIALS_NOT_IN_CORPUS, trial=trial, path=trials_path)
    return wanted, TrialSet([wanted], [], corpus.sha256, corpus.path)


def screen(
    trial: str,
    patients_path: str | Path,
    out_dir: str | Path,
    *,
    trials_path: str | Path | None = None,
    top: int | None = None,
    id_column: str | None = None,
    text_column: str | None = None,
    patient_table: str | Path | None = None,
    weights: Weights | None = None,
    user: str | None = None,
    progress: Progress | None = None,
) -> TrialsResult:
    """A cohort ranked for one trial (an NCT ID in ``trials_path``, or a record file).

    Relevance is BM25 of the trial's text against each patient's notes, with IDF over the
    cohort; the criteria are judged for every patient.
    """
    require_extra()
    trial_file = trial if Path(trial).exists() else None
    check_output(out_dir, [patients_path, trials_path, patient_table, trial_file])
    chosen, trials = _one_trial(trial, trials_path)
    patients = read_patients(
        patients_path, id_column=id_column, text_column=text_column, table=patient_table
    )
    matcher = Matcher([chosen], weights or Weights())
    _say(progress, f"reading the notes of {len(patients.patients)} patients")
    facts = matcher.read_notes(patients.patients)
    index = TextIndex(
        [p.patient_id for p in patients.patients], [p.text for p in patients.patients]
    )
    relevance = index.scores(chosen.search_text)
    best = float(relevance.max()) if len(relevance) and relevance.max() > 0 else 1.0
    pairs = []
    for fact, raw in zip(facts, relevance, strict=True):
        pair = matcher.score(fact, [chosen.nct_id], np.array([raw]))[0]
        pair.relevance = float(raw) / best
        pairs.append(_rescored(pair, matcher.weights))
    pairs.sort(key=lambda p: (-p.score, p.patient_id))
    if top is not None:
        pairs = pairs[:top]
    return _finish("screen", out_dir, pairs, trials, patients, matcher, user, top=top, recall=None)


def _rescored(pair: ScoredPair, w: Weights) -> ScoredPair:
    """The score again after the relevance was normalised over the cohort."""
    pair.score = w.score(pair.relevance, pair.topic, pair.judgement)
    return pair


def _tables(
    mode: str, pairs: Sequence[ScoredPair], trials: dict[str, Trial], texts: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """matches.csv and criteria.csv; rank is within the patient (match) or the trial (screen)."""
    rows, crit_rows = [], []
    rank: dict[str, int] = {}
    for pair in pairs:
        judged = pair.judgement
        assert judged is not None
        group = pair.patient_id if mode == "match" else pair.trial_id
        rank[group] = rank.get(group, 0) + 1
        rows.append(
            {
                "patient_id": pair.patient_id,
                "rank": rank[group],
                "trial_id": pair.trial_id,
                "title": trials[pair.trial_id].title,
                "score": round(pair.score, 4),
                "bm25": round(pair.bm25, 4),
                "relevance": round(pair.relevance, 4),
                "topic": round(pair.topic, 4),
                "status": judged.status,
                "failed": len(judged.failed),
                "inclusions_met": judged.n_inclusion_met,
                "inclusions": len(judged.inclusions),
                "unknown": judged.n_unknown,
                "criteria": len(judged.judgements),
            }
        )
        for j in judged.judgements:
            c = j.criterion
            crit_rows.append(
                {
                    "patient_id": pair.patient_id,
                    "trial_id": pair.trial_id,
                    "kind": c.kind,
                    "number": c.number,
                    "source": c.source,
                    "criterion": c.text,
                    "form": c.form,
                    "verdict": j.verdict,
                    "effect": effect(c.kind, j.verdict),
                    "reason": j.reason,
                    "evidence": j.evidence.text if j.evidence else "",
                    "evidence_context": "".join(context(texts[pair.patient_id], j.evidence))
                    if j.evidence and j.evidence.source == "note"
                    else "",
                    "evidence_from": j.evidence.source if j.evidence else "",
                }
            )
    return pd.DataFrame(rows), pd.DataFrame(crit_rows)


def _coverage(matcher: Matcher, trial_ids: Sequence[str]) -> dict[str, Any]:
    criteria = [c for t in trial_ids for c in matcher.criteria([t])[t] if c.source == "criteria"]
    forms: dict[str, int] = {}
    for c in criteria:
        forms[c.form] = forms.get(c.form, 0) + 1
    checkable = sum(c.form != "text" for c in criteria)
    return {
        "items": len(criteria),
        "checkable": checkable,
        "share_checkable": round(checkable / len(criteria), 4) if criteria else None,
        "by_form": dict(sorted(forms.items())),
    }


def _readme(mode: str, summary: dict[str, Any]) -> str:
    """The folder's first page: the disclaimer with the list of files."""
    what = "each patient's suggested trials" if mode == "match" else "the cohort for one trial"
    return (
        f"insightome trials {mode}: {what}.\n\n{DISCLAIMER}\n\n"
        "matches.csv    one row per suggestion: rank, score and its parts, status, counts\n"
        "criteria.csv   one row per criterion of each suggestion: verdict, reason, evidence\n"
        "report.html    the same for the coordinator (open in a browser)\n"
        "summary.json   inputs (sha256), versions, weights, counts, skipped records\n"
        "prediction_log.jsonl  the suggestions and the decisions recorded with\n"
        "               insightome trials review OUT --patient P --trial NCT --decision ...\n\n"
        "criteria.csv and report.html hold words from the patients' notes (the evidence):\n"
        "keep this folder where the notes are kept.\n"
        f"\nCreated {summary['created']}; matcher {summary['model_sha256'][:12]}.\n"
    )


def _finish(
    mode: str,
    out_dir: str | Path,
    pairs: list[ScoredPair],
    trials: TrialSet,
    patients: PatientSet,
    matcher: Matcher,
    user: str | None,
    **settings: Any,
) -> TrialsResult:
    out_dir = Path(out_dir)
    by_id = {t.nct_id: t for t in matcher.trials}
    texts = {p.patient_id: p.text for p in patients.patients}
    matches, criteria = _tables(mode, pairs, by_id, texts)
    no_text = sorted({p.trial_id for p in pairs if not by_id[p.trial_id].criteria.strip()})
    summary = {
        "mode": mode,
        "disclaimer": DISCLAIMER,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "patients": {
            "path": patients.path,
            "sha256": patients.sha256,
            "n": len(patients.patients),
            "id_column": patients.id_column,
            "table": patients.table or None,
            "table_sha256": patients.table_sha256 or None,
            "notes": patients.notes + matcher.notes,
        },
        "trials": {
            "path": trials.path,
            "sha256": trials.sha256,
            "n": len(trials),
            "skipped": [asdict(s) for s in trials.skipped[:50]],
            "n_skipped": len(trials.skipped),
            "without_criteria_text": no_text,
        },
        "settings": {**settings, "weights": asdict(matcher.weights)},
        "suggestions": len(pairs),
        "excluded": int(sum(p.n_failed > 0 for p in pairs)),
        "criteria_parsed": _coverage(matcher, sorted({p.trial_id for p in pairs})),
        "model_sha256": _fingerprint(matcher, trials),
        "versions": _versions(),
    }
    with replacing_directory(out_dir) as tmp:
        (tmp / "README.txt").write_text(_readme(mode, summary))
        matches.to_csv(tmp / "matches.csv", index=False)
        criteria.to_csv(tmp / "criteria.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        write_report(tmp / "report.html", mode, pairs, by_id, patients, summary, DISCLAIMER)
        if len(matches):
            logged = matches.assign(
                sample_id=matches["patient_id"] + PAIR_SEPARATOR + matches["trial_id"]
            ).set_index("sample_id")
            log_predictions(
                tmp,
                logged[["rank", "score", "status", "failed", "unknown"]],
                input_path=patients.path,
                input_sha256=patients.sha256,
                model_sha256=summary["model_sha256"],
                user=user,
            )
    return TrialsResult(mode, out_dir, pairs, trials, patients, summary)


def review(
    out_dir: str | Path,
    patient_id: str,
    trial_id: str,
    *,
    decision: str,
    reviewer: str,
    reason: str,
) -> dict[str, int]:
    """Record a coordinator's decision on one suggestion; return the decisions so far."""
    if decision not in ("accept", "reject"):
        raise UserError(errors.TRIALS_DECISION, decision=decision)
    out_dir = Path(out_dir)
    summary_path = out_dir / "summary.json"
    if not summary_path.is_file():
        raise UserError(errors.TRIALS_NOT_OUTPUT, path=out_dir)
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        model_sha256 = str(summary["model_sha256"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise UserError(errors.TRIALS_NOT_OUTPUT, path=out_dir) from None
    if not was_predicted(out_dir, f"{patient_id}{PAIR_SEPARATOR}{trial_id}"):
        raise UserError(
            errors.TRIALS_NOT_SUGGESTED, patient=patient_id, trial=trial_id, path=out_dir
        )
    log_override(
        out_dir,
        f"{patient_id}{PAIR_SEPARATOR}{trial_id}",
        reviewer=reviewer,
        override=decision,
        reason=reason,
        model_sha256=model_sha256,
    )
    log = read_log(out_dir)
    decided = log[log["event"] == "override"]
    return {
        "accepted": int((decided["override"] == "accept").sum()),
        "rejected": int((decided["override"] == "reject").sum()),
        "suggestions": int((log["event"] == "prediction").sum()),
    }
