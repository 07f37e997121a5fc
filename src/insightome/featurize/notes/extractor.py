"""The notes engine: normalized text → tokens → sentences and sections → concepts →
ConText assertion → values, one row per mention (:data:`MENTION_COLUMNS`).

:class:`NoteExtractor` holds one lexicon, one language's blank spaCy pipeline and the rules
(the packaged ``resources/<language>/`` files unless given); :func:`extract_mentions` runs it
over a table of notes (tokenizing in batches, optionally in joblib processes). Offsets in
every output are into the ORIGINAL note text. Note text never appears in an exception.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from insightome import errors
from insightome.errors import UserError
from insightome.featurize.notes.context import (
    FLAGS,
    Assertion,
    ContextMatcher,
    ContextRule,
    Cue,
    TokenCue,
    assert_tokens,
    read_context_rules,
)
from insightome.featurize.notes.lexicon import Lexicon
from insightome.featurize.notes.matching import ConceptMatcher
from insightome.featurize.notes.normalization import NormalizedText, fold, normalize
from insightome.featurize.notes.resources import LANGUAGES, blank_pipeline, resource
from insightome.featurize.notes.sections import (
    Heading,
    Section,
    SectionFinder,
    read_sections,
    section_spans,
)
from insightome.featurize.notes.sentences import sentence_starts
from insightome.featurize.notes.tokens import Tokens, tokens_of
from insightome.featurize.notes.values import ValueFinder, read_units

__all__ = ["MENTION_COLUMNS", "NoteExtractor", "extract_mentions"]

MENTION_COLUMNS = (
    "note_id", "kind", "concept_id", "concept_name", "category", "text", "start", "end",
    "section", "sentence", "negated", "possible", "historical", "hypothetical", "family",
    "negated_by", "possible_by", "historical_by", "hypothetical_by", "family_by", "value",
    "unit", "value_normalized", "unit_normalized",
)  # fmt: skip
_BATCH = 256


@dataclass
class _Analysis:
    """One note, analysed: everything the outputs are read from."""

    norm: NormalizedText
    tokens: Tokens
    starts: np.ndarray  # token start, normalized offsets
    ends: np.ndarray  # token end, normalized offsets
    sentence_of: np.ndarray  # token → sentence (0-based, consecutive)
    first_token: np.ndarray  # sentence → its first token; the token count at the end
    excluded: np.ndarray  # token in a heading
    spans: list[tuple[int, int, Heading | None]]  # the note's sections
    cues: list[TokenCue]
    cues_in: dict[int, list[TokenCue]] = field(default_factory=dict)  # by sentence

    def __post_init__(self) -> None:
        for cue in self.cues:
            self.cues_in.setdefault(cue.sentence, []).append(cue)

    def original(self, start_token: int, end_token: int) -> tuple[int, int]:
        """The original character span of tokens [start_token, end_token)."""
        return (
            self.norm.start(int(self.starts[start_token])),
            self.norm.end(int(self.ends[end_token - 1])),
        )

    def written(self, cue: TokenCue) -> str:
        start, end = self.original(cue.start, cue.end)
        return self.norm.original[start:end]

    def heading_at(self, position: int) -> Heading | None:
        # the spans are sorted and do not overlap: the last one starting at or before it
        index = bisect.bisect_right(self.spans, position, key=lambda span: span[0]) - 1
        if index >= 0 and self.spans[index][0] <= position < self.spans[index][1]:
            return self.spans[index][2]
        return None


class NoteExtractor:
    """Concept mentions with ConText assertion and values, for one lexicon and language.

    ``rules`` and ``sections`` are a path to a ``context.tsv``/``sections.tsv``, the rules
    themselves, or None for the packaged files of ``language``.
    """

    def __init__(
        self,
        lexicon: Lexicon,
        language: str = "en",
        rules: str | Path | Sequence[ContextRule] | None = None,
        sections: str | Path | Sequence[Section] | None = None,
        values: bool = True,
    ) -> None:
        if language not in LANGUAGES:
            raise UserError(errors.NOTES_LANGUAGE_INVALID, value=language)
        self.lexicon = lexicon
        self.language = language
        if rules is None or isinstance(rules, str | Path):
            rules = read_context_rules(rules or resource(language, "context.tsv"))
        if sections is None or isinstance(sections, str | Path):
            sections = read_sections(sections or resource(language, "sections.tsv"))
        self.rules = tuple(rules)
        self.sections = tuple(sections)
        self.values = values
        self._build()

    def _build(self) -> None:
        self.nlp = blank_pipeline(self.language)
        self.concept_matcher = ConceptMatcher(self.lexicon, self.nlp)
        self.context_matcher = ContextMatcher(self.rules, self.nlp)
        self.section_finder = SectionFinder(self.sections)
        # each concept's name as a trigger would read it (for ``self`` triggers)
        self._names = [" ".join(fold(c.name).split()) for c in self.lexicon.concepts]
        self.value_finder = ValueFinder(read_units(), self.language) if self.values else None

    def __getstate__(self) -> dict[str, Any]:
        keep = ("lexicon", "language", "rules", "sections", "values")
        return {k: self.__dict__[k] for k in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._build()

    # -- analysis -------------------------------------------------------------------------
    def _analyse(self, text: str, norm: NormalizedText | None = None, doc: Any = None) -> _Analysis:
        norm = norm or normalize(text)
        tokens = tokens_of(self.nlp, norm.text, doc)
        starts, ends = tokens.starts, tokens.ends
        headings = self.section_finder.headings(norm)
        boundaries = sentence_starts(norm.text, [(h.start, h.end) for h in headings])
        raw = np.searchsorted(boundaries, starts, side="right") - 1
        _, sentence_of = np.unique(raw, return_inverse=True)
        sentence_of = sentence_of.astype(np.int64)
        n_sentences = int(sentence_of[-1]) + 1 if len(sentence_of) else 0
        first_token = np.searchsorted(sentence_of, np.arange(n_sentences + 1), side="left")
        # tokens starting inside a heading; headings do not overlap and are sorted
        inside = np.zeros(len(starts) + 1, dtype=np.int64)
        spans = np.array([(h.start, h.end) for h in headings], dtype=np.int64).reshape(-1, 2)
        np.add.at(inside, np.searchsorted(starts, spans[:, 0], side="left"), 1)
        np.add.at(inside, np.searchsorted(starts, spans[:, 1], side="left"), -1)
        excluded = np.cumsum(inside[:-1]) > 0
        cues = self.context_matcher.find(tokens, sentence_of, first_token, excluded)
        spans = section_spans(headings, len(norm.text))
        return _Analysis(
            norm, tokens, starts, ends, sentence_of, first_token, excluded, spans, cues
        )

    def _assertion(
        self, analysis: _Analysis, start: int, end: int, names: str = ""
    ) -> dict[str, Any]:
        cues = analysis.cues_in.get(int(analysis.sentence_of[start]), [])
        flags = assert_tokens(cues, start, end, analysis.written, names)
        heading = analysis.heading_at(int(analysis.starts[start]))
        if heading is not None and heading.sets and not flags[FLAGS[heading.sets]]:
            flag = FLAGS[heading.sets]
            h_start, h_end = analysis.norm.start(heading.start), analysis.norm.end(heading.end)
            flags[flag] = True
            flags[f"{flag}_by"] = analysis.norm.original[h_start:h_end].strip().rstrip(":").strip()
        return flags

    def _rows(self, note_id: Any, analysis: _Analysis) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        concepts = self.lexicon.concepts
        text = analysis.norm.text
        for match in self.concept_matcher.find(analysis.tokens, analysis.norm, analysis.excluded):
            concept = concepts[match.concept]
            start, end = analysis.original(match.start, match.end)
            heading = analysis.heading_at(int(analysis.starts[match.start]))
            sentence = int(analysis.sentence_of[match.start])
            row = {
                "note_id": note_id,
                "kind": "concept",
                "concept_id": concept.concept_id,
                "concept_name": concept.name,
                "category": concept.category,
                "text": analysis.norm.original[start:end],
                "start": start,
                "end": end,
                "section": heading.section if heading is not None else "",
                "sentence": sentence,
                **self._assertion(analysis, match.start, match.end, self._names[match.concept]),
                "value": np.nan,
                "unit": "",
                "value_normalized": np.nan,
                "unit_normalized": "",
            }
            rows.append(row)
            if self.value_finder is None:
                continue
            next_sentence = int(analysis.first_token[sentence + 1])
            limit = (
                int(analysis.starts[next_sentence])
                if next_sentence < len(analysis.starts)
                else len(text)
            )
            found = self.value_finder.find(text, int(analysis.ends[match.end - 1]), limit, concept)
            if found is None:
                continue
            norm = analysis.norm
            v_start, v_end = norm.start(found.start), norm.end(found.end)
            unit = (
                norm.original[norm.start(found.unit_start) : norm.end(found.unit_end)]
                if found.unit_end > found.unit_start
                else ""
            )
            rows.append({
                **row,
                "kind": "value",
                "text": norm.original[v_start:v_end],
                "start": v_start,
                "end": v_end,
                "value": found.value,
                "unit": unit,
                "value_normalized": found.value_normalized,
                "unit_normalized": found.unit_normalized,
            })  # fmt: skip
        return rows

    # -- the API --------------------------------------------------------------------------
    def mentions(self, note_id: Any, text: str) -> list[dict[str, Any]]:
        """The mention rows (:data:`MENTION_COLUMNS`) of one note."""
        if not isinstance(text, str) or not text.strip():
            return []
        return self._rows(note_id, self._analyse(text))

    def assert_span(self, text: str, start: int, end: int) -> Assertion:
        """The ConText flags of the target at original characters [start, end) of ``text``."""
        if not 0 <= start < end <= len(text):
            raise ValueError(
                f"span [{start}, {end}) is not inside the text ({len(text)} characters)"
            )
        analysis = self._analyse(text)
        norm_start, norm_end = (
            _to_normalized(analysis.norm, start),
            _to_normalized(analysis.norm, end),
        )
        first = int(np.searchsorted(analysis.ends, norm_start, side="right"))
        last = int(np.searchsorted(analysis.starts, norm_end, side="left"))
        if last <= first:
            return Assertion()
        return Assertion(**self._assertion(analysis, first, last))

    def cues(self, text: str) -> list[Cue]:
        """Every trigger found in ``text`` with its scope (original offsets), in text order."""
        if not isinstance(text, str) or not text.strip():
            return []
        analysis = self._analyse(text)
        out: list[Cue] = []
        for cue in analysis.cues:
            start, end = analysis.original(cue.start, cue.end)
            scope_start, scope_end = _trimmed(analysis.tokens.doc, cue.scope_start, cue.scope_end)
            if scope_end > scope_start:
                s_start, s_end = analysis.original(scope_start, scope_end)
            else:
                s_start = s_end = start if cue.rule.direction == "backward" else end
            out.append(
                Cue(
                    cue.rule.category,
                    cue.rule.literal,
                    start,
                    end,
                    s_start,
                    s_end,
                    cue.rule.direction,
                )
            )
        return out

    def extract(self, note_ids: Sequence[Any], texts: Sequence[str]) -> list[dict[str, Any]]:
        """The mention rows of many notes (tokenized in batches)."""
        pairs = [
            (i, t) for i, t in zip(note_ids, texts, strict=True) if isinstance(t, str) and t.strip()
        ]
        norms = [normalize(t) for _, t in pairs]
        docs = self.nlp.tokenizer.pipe((n.text for n in norms), batch_size=_BATCH)
        rows: list[dict[str, Any]] = []
        for (note_id, text), norm, doc in zip(pairs, norms, docs, strict=True):
            rows.extend(self._rows(note_id, self._analyse(text, norm, doc)))
        return rows


def _to_normalized(norm: NormalizedText, position: int) -> int:
    if norm.to_original is None:
        return position
    return int(np.searchsorted(norm.to_original, position, side="left"))


def _trimmed(doc: Any, start: int, end: int) -> tuple[int, int]:
    """The token range without white space and punctuation at its ends."""
    while start < end and (doc[start].is_space or doc[start].is_punct):
        start += 1
    while end > start and (doc[end - 1].is_space or doc[end - 1].is_punct):
        end -= 1
    return start, end


_CACHE: dict[tuple[str, str, str], NoteExtractor] = {}


def _extractor(lexicon: Lexicon, language: str, values: bool) -> NoteExtractor:
    """One extractor per (lexicon, language, values) with the packaged rules, per process."""
    key = (lexicon.sha256 + lexicon.source, language, str(values))
    if key not in _CACHE or _CACHE[key].lexicon != lexicon:
        _CACHE.clear()
        _CACHE[key] = NoteExtractor(lexicon, language, values=values)
    return _CACHE[key]


def _extract_chunk(
    extractor: NoteExtractor, ids: list[Any], texts: list[str]
) -> list[dict[str, Any]]:
    return extractor.extract(ids, texts)


def extract_mentions(
    notes: pd.DataFrame,
    lexicon: Lexicon,
    language: str = "en",
    n_jobs: int = 1,
    *,
    rules: str | Path | Sequence[ContextRule] | None = None,
    sections: str | Path | Sequence[Section] | None = None,
    values: bool = True,
) -> pd.DataFrame:
    """One row per mention (:data:`MENTION_COLUMNS`) of the notes (columns note_id, text).

    Notes with an empty text give no rows. ``n_jobs`` > 1 splits the notes over joblib
    processes (each builds its own pipeline once).
    """
    for column in ("note_id", "text"):
        if column not in notes.columns:
            raise ValueError(
                f"extract_mentions needs a '{column}' column (got {list(notes.columns)})"
            )
    if rules is None and sections is None:
        extractor = _extractor(lexicon, language, values)
    else:
        extractor = NoteExtractor(lexicon, language, rules=rules, sections=sections, values=values)
    ids, texts = notes["note_id"].tolist(), notes["text"].tolist()
    if n_jobs == 1 or len(texts) < 2 * _BATCH:
        rows = extractor.extract(ids, texts)
    else:
        n_chunks = max(1, min(len(texts) // _BATCH, 4 * abs(n_jobs)))
        bounds = np.linspace(0, len(texts), n_chunks + 1).astype(int)
        chunks = Parallel(n_jobs=n_jobs)(
            delayed(_extract_chunk)(extractor, ids[a:b], texts[a:b])
            for a, b in itertools.pairwise(bounds.tolist())
        )
        rows = [row for chunk in chunks for row in chunk]
    return mention_frame(rows)


def mention_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Mention rows as a DataFrame with :data:`MENTION_COLUMNS` and their types."""
    frame = pd.DataFrame(rows, columns=list(MENTION_COLUMNS))
    for flag in FLAGS.values():
        frame[flag] = frame[flag].astype(bool)
    for column in ("start", "end", "sentence"):
        frame[column] = frame[column].astype(np.int64)
    for column in ("value", "value_normalized"):
        frame[column] = frame[column].astype(float)
    return frame
