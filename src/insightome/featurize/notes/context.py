"""ConText assertion (Harkema et al. 2009), with the rules as data (``context.tsv``).

A *trigger* ("no", "denies", "history of", "mother") gives its category (NEGATED, POSSIBLE,
HISTORICAL, HYPOTHETICAL, FAMILY) to the targets in its *scope*:

* triggers are matched on the normalized tokens (lower case, no accents) of each sentence;
  a literal ``re:PATTERN`` is a regex over the normalized text that must start and end at
  word boundaries where it starts or ends with a word character (so ``re:[(]-[)]`` or
  ``re:; no`` can match);
* overlapping triggers: the longest wins (then the earliest, then the first rule); so a
  PSEUDO trigger ("no increase", "gram negative") suppresses the trigger it contains, and
  identical spans of different categories are all kept;
* the scope runs ``forward`` (after the trigger), ``backward`` (before it) or both, to the
  end of the sentence, and stops earlier at a TERMINATE cue of its category ("but",
  "however", "pero"), at the next trigger of the same category and direction (which takes
  over), or after ``max_scope`` tokens;
* a target gets a flag when any of its tokens lies in the scope of a trigger of that
  category; the nearest such trigger (in tokens) is named in ``*_by``, as written. A
  trigger inside the target is a word of it, not about it, except a HISTORICAL one that
  opens it ("status post CABG", "history of falls"): the rest of the target is its scope;
* direction ``self``: a word that carries its own negation ("afebrile", "asintomático").
  Its scope is the trigger itself: it flags no neighbour, only a concept mention lying
  inside it (a lexicon that lists "afebrile" under fever gets a negated fever mention,
  "afebrile" as the trigger). A target that *is* the word as written (``assert_span`` on
  "afebrile", or a concept whose own name is that word) is the finding "afebrile" and is
  not flagged by it — as the ConText annotations have it.

Scopes are kept as token ranges of the spaCy Doc of the normalized text; :class:`Cue`
reports them as character spans of the original note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from insightome import errors
from insightome.errors import UserError
from insightome.featurize.notes.normalization import fold
from insightome.featurize.notes.resources import read_tsv
from insightome.featurize.notes.tokens import Tokens

__all__ = [
    "CATEGORIES",
    "FLAGS",
    "Assertion",
    "ContextMatcher",
    "ContextRule",
    "Cue",
    "TokenCue",
    "read_context_rules",
]

#: category → the flag (column) it sets.
FLAGS = {
    "NEGATED": "negated",
    "POSSIBLE": "possible",
    "HISTORICAL": "historical",
    "HYPOTHETICAL": "hypothetical",
    "FAMILY": "family",
}
CATEGORIES = (*FLAGS, "PSEUDO", "TERMINATE")
DIRECTIONS = ("forward", "backward", "bidirectional", "self")


@dataclass(frozen=True)
class ContextRule:
    """A row of ``context.tsv``."""

    literal: str
    category: str
    direction: str
    max_scope: int | None = None
    source: str = ""

    @property
    def terminates(self) -> frozenset[str]:
        """For a TERMINATE rule: the categories whose scopes it ends."""
        if self.category != "TERMINATE":
            return frozenset()
        if self.direction.strip().lower() == "all":
            return frozenset(FLAGS)
        return frozenset(c.strip().upper() for c in self.direction.split(","))


@dataclass(frozen=True)
class Assertion:
    """The ConText flags of one target, and the trigger (as written) that set each."""

    negated: bool = False
    possible: bool = False
    historical: bool = False
    hypothetical: bool = False
    family: bool = False
    negated_by: str = ""
    possible_by: str = ""
    historical_by: str = ""
    hypothetical_by: str = ""
    family_by: str = ""


@dataclass(frozen=True)
class Cue:
    """A trigger found in a text: its rule, its span and its scope (original offsets)."""

    category: str
    literal: str
    start: int
    end: int
    scope_start: int
    scope_end: int
    direction: str


@dataclass
class TokenCue:
    """A trigger as token ranges of the normalized Doc (the engine's working form)."""

    rule: ContextRule
    start: int  # token range of the trigger
    end: int
    sentence: int
    scope_start: int = 0  # token range of its scope
    scope_end: int = 0


def read_context_rules(path: str | Path) -> tuple[ContextRule, ...]:
    """The rules of a ``context.tsv``; :class:`UserError` naming the file and line."""
    rules: list[ContextRule] = []
    required = ("literal", "category", "direction", "max_scope")
    for line, row in read_tsv(path, required):

        def bad(reason: str, line: int = line) -> UserError:
            return UserError(errors.RULES_BAD_ROW, path=path, line=line, reason=reason)

        literal, category = row["literal"], row["category"].upper()
        direction = row["direction"].strip().lower()
        if not literal or literal == "re:":
            raise bad("empty literal")
        if category not in CATEGORIES:
            raise bad(f"category '{row['category']}' must be one of {', '.join(CATEGORIES)}")
        if category == "PSEUDO":
            direction = direction or "none"
            if direction != "none":
                raise bad(f"a PSEUDO rule's direction is 'none', not '{direction}'")
        elif category == "TERMINATE":
            named = {c.strip().upper() for c in direction.split(",")} if direction else set()
            if direction != "all" and (not named or not named <= set(FLAGS)):
                raise bad(
                    "a TERMINATE rule's direction lists the categories it ends "
                    f"({', '.join(FLAGS)}) or says 'all', not '{row['direction']}'"
                )
        elif direction not in DIRECTIONS:
            raise bad(f"direction '{row['direction']}' must be one of {', '.join(DIRECTIONS)}")
        max_scope: int | None = None
        if row["max_scope"]:
            try:
                max_scope = int(row["max_scope"])
            except ValueError:
                max_scope = 0
            if max_scope < 1:
                raise bad(f"max_scope '{row['max_scope']}' must be a whole number ≥ 1, or empty")
        if literal.startswith("re:"):
            try:
                re.compile(literal[3:])
            except re.error as exc:
                raise bad(f"invalid regex ({exc})") from None
        rules.append(ContextRule(literal, category, direction, max_scope, row.get("source", "")))
    return tuple(rules)


class ContextMatcher:
    """Finds the triggers of a set of rules in normalized Docs and gives them scopes."""

    def __init__(self, rules: Sequence[ContextRule], nlp: Any) -> None:
        from spacy.matcher import PhraseMatcher

        self.rules = tuple(rules)
        self.matcher = PhraseMatcher(nlp.vocab, attr="ORTH")
        self.regexes: list[tuple[int, re.Pattern[str]]] = []
        self._rule_of: dict[int, list[int]] = {}
        phrases: dict[str, list[int]] = {}
        for index, rule in enumerate(self.rules):
            if rule.literal.startswith("re:"):
                pattern = re.compile(rf"{_EDGE}(?:{rule.literal[3:]}){_EDGE}")
                self.regexes.append((index, pattern))
            else:
                phrases.setdefault(" ".join(fold(rule.literal).split()), []).append(index)
        for phrase, indices in phrases.items():
            key = nlp.vocab.strings.add(f"ctx:{phrase}")
            self._rule_of[key] = indices
            self.matcher.add(f"ctx:{phrase}", [nlp.make_doc(phrase)])

    def find(
        self,
        tokens: Tokens,
        sentence_of: np.ndarray,
        first_token: np.ndarray,
        excluded: np.ndarray,
    ) -> list[TokenCue]:
        """The triggers of a note's tokens after overlap resolution, with their scopes.

        ``sentence_of[i]`` is token i's sentence, ``first_token[s]`` sentence s's first
        token (and the token count at the end); tokens with ``excluded[i]`` (headings) hold
        no trigger.
        """
        found: list[TokenCue] = []
        for key, start, end in self.matcher(tokens.doc):
            for index in self._rule_of[key]:
                found.append(TokenCue(self.rules[index], start, end, int(sentence_of[start])))
        for index, pattern in self.regexes:
            for match in pattern.finditer(tokens.text):
                span = tokens.span(match.start(), match.end())
                if span is not None:
                    first, last = span
                    rule = self.rules[index]
                    found.append(TokenCue(rule, first, last, int(sentence_of[first])))
        found = [
            c
            for c in found
            if sentence_of[c.end - 1] == c.sentence and not excluded[c.start : c.end].any()
        ]
        cues = _resolve(found, {rule: i for i, rule in enumerate(self.rules)})
        _set_scopes(cues, first_token)
        return cues


#: A word boundary where the match has a word character on its side: "(" or ";" may start
#: or end a rule, while "no" still never matches inside "know".
_EDGE = r"(?:(?<!\w)|(?!\w))"


def _resolve(found: list[TokenCue], order: dict[ContextRule, int]) -> list[TokenCue]:
    """Longest first, then earliest, then first rule; identical spans all kept."""
    found.sort(key=lambda c: (-(c.end - c.start), c.start, order[c.rule]))
    kept: list[TokenCue] = []
    taken: set[int] = set()
    spans: set[tuple[int, int]] = set()
    seen: set[tuple[int, int, str]] = set()
    for cue in found:
        tokens = range(cue.start, cue.end)
        same = (cue.start, cue.end)
        if same in spans:
            if (cue.start, cue.end, cue.rule.category) not in seen:
                seen.add((cue.start, cue.end, cue.rule.category))
                kept.append(cue)
            continue
        if any(t in taken for t in tokens):
            continue
        taken.update(tokens)
        spans.add(same)
        seen.add((cue.start, cue.end, cue.rule.category))
        kept.append(cue)
    kept.sort(key=lambda c: (c.start, c.end, order[c.rule]))
    return kept


def _set_scopes(cues: list[TokenCue], first_token: Sequence[int]) -> None:
    in_sentence: dict[int, list[TokenCue]] = {}
    for cue in cues:
        in_sentence.setdefault(cue.sentence, []).append(cue)
    for cue in cues:
        category, direction = cue.rule.category, cue.rule.direction
        if category in ("PSEUDO", "TERMINATE") or direction == "self":
            cue.scope_start, cue.scope_end = cue.start, cue.end
            continue
        first, last = int(first_token[cue.sentence]), int(first_token[cue.sentence + 1])
        same_sentence = [c for c in in_sentence[cue.sentence] if c is not cue]
        before, after = first, last
        for other in same_sentence:
            ends_here = category in other.rule.terminates or (
                other.rule.category == category and other.rule.direction == direction
            )
            if not ends_here:
                continue
            if other.start >= cue.end:
                after = min(after, other.start)
            elif other.end <= cue.start:
                before = max(before, other.end)
        if cue.rule.max_scope is not None:
            after = min(after, cue.end + cue.rule.max_scope)
            before = max(before, cue.start - cue.rule.max_scope)
        if direction == "forward":
            cue.scope_start, cue.scope_end = cue.end, max(after, cue.end)
        elif direction == "backward":
            cue.scope_start, cue.scope_end = min(before, cue.start), cue.start
        else:
            cue.scope_start, cue.scope_end = min(before, cue.start), max(after, cue.end)


def assert_tokens(
    cues: Sequence[TokenCue], start: int, end: int, written: Any, names: str = ""
) -> dict[str, Any]:
    """The flags (and ``*_by``) of the target tokens [start, end) given the note's cues.

    ``written(cue)`` gives a cue's trigger text as written in the note. A trigger that
    overlaps the target flags it only if its direction is ``self``, the target lies inside
    it and is not the whole trigger unless ``names`` (the mention's concept name, folded,
    "" for a bare span) differs from the trigger: "afebrile" found as a term of fever; or
    if it is a HISTORICAL trigger (not backward) that opens a longer target: "status post
    CABG". Any other trigger inside the target is a word of the target, not about it.
    """
    best: dict[str, tuple[int, TokenCue]] = {}
    for cue in cues:
        flag = FLAGS.get(cue.rule.category)
        if flag is None:
            continue
        if cue.rule.direction == "self":
            if not (cue.start <= start and end <= cue.end):
                continue
            if (start, end) == (cue.start, cue.end) and (
                not names or names == " ".join(fold(written(cue)).split())
            ):
                continue
        elif cue.start < end and start < cue.end:
            opens = cue.start == start and cue.end < end and cue.rule.direction != "backward"
            if not (opens and flag == "historical"):
                continue  # a trigger inside the target is not about it ...
            # ... except a history trigger opening it: "status post CABG", "history of falls"
        if not (cue.scope_start < end and start < cue.scope_end):
            continue
        distance = cue.start - end if cue.start >= end else start - cue.end
        if flag not in best or distance < best[flag][0]:
            best[flag] = (distance, cue)
    out: dict[str, Any] = {}
    for flag in FLAGS.values():
        hit = best.get(flag)
        out[flag] = hit is not None
        out[f"{flag}_by"] = written(hit[1]) if hit is not None else ""
    return out
