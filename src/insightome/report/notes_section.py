"""The report's "Clinical notes" section, from ``results["clinical_notes"]`` (``--notes``): how many
notes were used and why the others were not, the language and lexicon, the feature columns,
and per concept its mentions with their assertion mix (affirmed, negated, uncertain,
historical, family). No note text, except the evidence snippets a run made with
``--show-evidence``. Absent without notes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from insightome.groups.disclosure import MIN_CELL, count_text
from insightome.notes_features import STATES, left_out
from insightome.report.formatting import as_float, as_mapping

__all__ = ["build_notes"]

MAX_CONCEPTS = 40  # the table's rows; the rest are counted


def build_notes(results: Mapping[str, Any]) -> dict[str, Any] | None:
    """Everything the section shows, or ``None`` for a run without notes."""
    notes = as_mapping(results.get("clinical_notes"))
    if not notes:
        return None
    min_cell = int(as_float(as_mapping(results.get("invocation")).get("min_cell")) or MIN_CELL)
    concepts = [as_mapping(c) for c in notes.get("concepts") or []]
    lexicon = as_mapping(notes.get("lexicon"))
    mentions = as_mapping(notes.get("mentions"))
    return {
        "used": f"{notes.get('notes_used')} of {notes.get('notes_read')} notes used",
        "left_out": left_out(notes),
        "samples": (
            f"{count_text(notes, 'samples_with_notes', min_cell)} samples with notes, "
            f"{count_text(notes, 'samples_without_notes', min_cell)} without"
        ),
        "language": f"{notes.get('language')} ({notes.get('language_reason')})",
        "lexicon": f"{lexicon.get('source')} ({lexicon.get('n_concepts')} concepts, sha256 "
        f"{str(lexicon.get('sha256', ''))[:12]}…)",
        "mentions": f"{mentions.get('concept', 0)} concept mentions, "
        f"{mentions.get('value', 0)} numeric values",
        "n_features": len(notes.get("features") or []),
        "time_filter": _time_filter(as_mapping(notes.get("time_filter"))),
        "rows": [_row(c, min_cell) for c in concepts[:MAX_CONCEPTS]],
        "more": max(0, len(concepts) - MAX_CONCEPTS),
        "rare_columns": int(as_float(notes.get("rare_columns_left_out")) or 0),
        "not_listed": int(as_float(notes.get("concepts_not_listed")) or 0),
        "units_left_out": [
            f"{c}: {n}" for c, n in as_mapping(notes.get("value_units_left_out")).items()
        ],
        "evidence": [as_mapping(e) for e in notes.get("evidence") or []],
        "evidence_shown": bool(notes.get("evidence_shown")),
        "min_cell": min_cell,
    }


def _time_filter(tf: Mapping[str, Any]) -> str:
    if not tf:
        return (
            "No time filter: every note was used. Notes written after the moment of "
            "prediction can carry the outcome; give --notes-time and --index-time to leave "
            "them out."
        )
    index = "the date " if tf.get("index_is_date") else "the data's column "
    return (
        f"Only notes whose time (column '{tf.get('notes_time')}') is before the index time "
        f"({index}'{tf.get('index_time')}') were used."
    )


def _row(c: Mapping[str, Any], min_cell: int) -> dict[str, Any]:
    total = int(as_float(c.get("mentions")) or 0)
    mix = [
        (s, int(as_float(c.get(s)) or 0), (int(as_float(c.get(s)) or 0) / total) if total else 0.0)
        for s in STATES
    ]
    return {
        "concept": str(c.get("name") or c.get("concept_id")),
        "concept_id": str(c.get("concept_id")),
        "category": str(c.get("category") or ""),
        "mentions": str(total),
        "n_values": str(int(as_float(c.get("values")) or 0)),
        "samples": count_text(c, "samples", min_cell),
        "mix_text": " · ".join(f"{s} {n}" for s, n, _ in mix if n),
        "mix": [
            {"state": s, "n": n, "share": f"{share:.0%}", "width": round(100 * share, 1)}
            for s, n, share in mix
        ],
    }
