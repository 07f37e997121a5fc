"""Clinical notes as a modality (issue 21): concept mentions with ConText assertion.

The pipeline, in the order the engine runs it (one module each): normalization with an
offset map (:mod:`.normalization`), spaCy blank-pipeline tokens and the rule files
(:mod:`.resources`), sections (:mod:`.sections`), sentences (:mod:`.sentences`), lexicon
reading (:mod:`.lexicon`) and matching (:mod:`.matching`), ConText assertion
(:mod:`.context`), values with units (:mod:`.values`), the extractor (:mod:`.extractor`)
and language detection (:mod:`.language`). spaCy is imported only inside functions; without
it the entry points raise ``UserError(errors.NOTES_EXTRA_MISSING)``. docs/notes.md describes
the formats and the choices.
"""

from insightome.featurize.notes.context import (
    Assertion,
    ContextRule,
    Cue,
    read_context_rules,
)
from insightome.featurize.notes.extractor import (
    MENTION_COLUMNS,
    NoteExtractor,
    extract_mentions,
    mention_frame,
)
from insightome.featurize.notes.language import detect_language
from insightome.featurize.notes.lexicon import Concept, Lexicon, read_lexicon, starter_lexicon
from insightome.featurize.notes.normalization import NormalizedText, normalize
from insightome.featurize.notes.resources import LANGUAGES, rules_sha256
from insightome.featurize.notes.sections import Section, read_sections
from insightome.featurize.notes.values import read_units

__all__ = [
    "LANGUAGES",
    "MENTION_COLUMNS",
    "Assertion",
    "Concept",
    "ContextRule",
    "Cue",
    "Lexicon",
    "NormalizedText",
    "NoteExtractor",
    "Section",
    "detect_language",
    "extract_mentions",
    "mention_frame",
    "normalize",
    "read_context_rules",
    "read_lexicon",
    "read_sections",
    "read_units",
    "rules_sha256",
    "starter_lexicon",
]
