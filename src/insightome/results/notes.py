"""Clinical notes in a run (results.json ``clinical_notes``, ``--notes``; docs/notes.md): the notes
file and how many of its notes were used (and why the others were not), the language and
lexicon, the mentions per concept by state, and the feature columns they became. Counts
and settings only; evidence snippets (note text) only with ``--show-evidence``."""

from __future__ import annotations

from insightome.results.fields import Record, Suppressed, optional


class NotesFile(Record):
    path: str
    sha256: str
    n_notes: int


class NotesLexicon(Record):
    source: str  # a file path, or "starter:<language>"
    sha256: str
    n_concepts: int


class NotesMentions(Record):
    concept: int
    value: int


class NotesTimeFilter(Record):
    notes_time: str
    index_time: str
    index_is_date: bool
    rule: str


class ConceptCount(Record):
    """One concept: its mentions by state (the states are exclusive, by precedence), its
    value mentions and the number of samples mentioning it."""

    concept_id: str
    name: str
    category: str
    mentions: int
    affirmed: int
    negated: int
    uncertain: int
    historical: int
    family: int
    values: int
    # None when hidden by the small-cell rule (mentioned for all but fewer than --min-cell
    # samples; the marker in suppressed)
    samples: int | None
    suppressed: Suppressed = optional()


class Evidence(Record):
    """A snippet around one mention (``--show-evidence`` only)."""

    concept_id: str
    state: str
    trigger: str
    before: str
    mention: str
    after: str


class ClinicalNotes(Record):
    file: NotesFile
    id_column: str
    text_column: str
    notes_read: int
    notes_empty: int
    notes_without_sample: int
    notes_at_or_after_index: int = optional()  # with --notes-time / --index-time
    notes_without_time: int = optional()
    notes_without_index_time: int = optional()
    notes_used: int
    samples_with_notes: int | None  # None when either is under --min-cell
    samples_without_notes: int | None
    suppressed: Suppressed = optional()
    language: str
    language_reason: str
    lexicon: NotesLexicon
    mentions: NotesMentions
    features: list[str]
    concepts: list[ConceptCount]  # concepts mentioned for at least --min-cell samples
    concepts_not_listed: int  # mentioned for fewer: neither named nor counted
    value_units: dict[str, str]  # concept → the unit of its value column (new samples: the same)
    value_units_left_out: dict[str, int]  # concept → value mentions in another unit
    rules_sha256: str  # the packaged rules of the language (a saved run refuses other rules)
    rare_columns_left_out: int  # concept-state / value columns in fewer than --min-cell samples
    time_filter: NotesTimeFilter | None
    evidence_shown: bool
    evidence: list[Evidence] = optional()  # --show-evidence only
