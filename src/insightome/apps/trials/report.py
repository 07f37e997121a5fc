"""The coordinator's report: per patient (match) or per trial (screen), per criterion.

One self-contained HTML file (inline CSS, no script, no external resource), rendered with
Jinja2 and autoescaping: the criterion's text, the verdict, the reason and the evidence
(words of the patient's record or the structured field). The disclaimer heads the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from insightome.apps.trials.matcher import ScoredPair
from insightome.apps.trials.patients import Evidence, PatientSet
from insightome.apps.trials.records import Trial

__all__ = ["CONTEXT", "context", "effect", "write_report"]


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("insightome.apps.trials", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


CONTEXT = 60  # characters of the note shown on each side of the evidence


def context(text: str, evidence: Evidence | None) -> tuple[str, str, str]:
    """The evidence with up to CONTEXT characters of its note on each side (before, words,
    after), so the coordinator sees the negation or the qualifier that decided it."""
    if evidence is None or evidence.source != "note" or evidence.start < 0:
        return "", evidence.text if evidence else "", ""
    start, end = evidence.start, evidence.end
    before = text[max(0, start - CONTEXT) : start]
    after = text[end : end + CONTEXT]
    return (
        ("…" if start > CONTEXT else "") + " ".join(before.split()) + " ",
        text[start:end],
        " " + " ".join(after.split()) + ("…" if end + CONTEXT < len(text) else ""),
    )


def effect(kind: str, verdict: str) -> str:
    """What a verdict does to the patient: ``fails`` (out), ``keeps`` (in) or ``unknown``."""
    if verdict == "unknown":
        return "unknown"
    out = (kind == "inclusion") == (verdict == "not met")
    return "fails" if out else "keeps"


def _pair_view(pair: ScoredPair, trial: Trial, note: str) -> dict[str, Any]:
    judged = pair.judgement
    assert judged is not None
    rows = [
        {
            "kind": j.criterion.kind,
            "source": j.criterion.source,
            "text": j.criterion.text,
            "form": j.criterion.form,
            "verdict": j.verdict,
            "reason": j.reason,
            "context": context(note, j.evidence),
            "evidence_from": j.evidence.source if j.evidence else "",
            "effect": effect(j.criterion.kind, j.verdict),
        }
        for j in judged.judgements
    ]
    return {
        "patient_id": pair.patient_id,
        "trial": trial,
        "score": pair.score,
        "relevance": pair.relevance,
        "status": judged.status,
        "failed": len(judged.failed),
        "met": judged.n_inclusion_met,
        "inclusions": len(judged.inclusions),
        "unknown": judged.n_unknown,
        "rows": rows,
    }


def write_report(
    path: Path,
    mode: str,
    pairs: Sequence[ScoredPair],
    trials: dict[str, Trial],
    patients: PatientSet,
    summary: dict[str, Any],
    disclaimer: str,
) -> None:
    """Render the report of a match or screen to ``path``."""
    groups: dict[str, list[dict[str, Any]]] = {}
    people = {p.patient_id: p for p in patients.patients}
    for pair in pairs:
        key = pair.patient_id if mode == "match" else pair.trial_id
        view = _pair_view(pair, trials[pair.trial_id], people[pair.patient_id].text)
        groups.setdefault(key, []).append(view)
    template = _environment().get_template("trials_report.html.j2")
    html = template.render(
        mode=mode,
        groups=groups,
        people=people,
        trials=trials,
        summary=summary,
        disclaimer=disclaimer,
    )
    path.write_text(html, encoding="utf-8")
