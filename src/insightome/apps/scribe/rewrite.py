"""A transcript sentence as a note line: light, rule-based rewriting that adds no content.

:func:`rewrite` drops fillers and stutters, writes contractions and spelled numbers out and
changes the person (the patient's "I"/"my" and the doctor's "you"/"your" → "the patient" and
the possessive :func:`pronoun` decides: "her", "his" or "their"); :func:`term` writes a
concept as said for a findings line ("Denies chest pain."). The word lists are
``resources/rules.json``'s (``spelling``, ``drop_words``, ``fillers``, ``person``).
"""

from __future__ import annotations

import re
from functools import cache

from insightome.apps.scribe.dialogue import patterns, phrase, rules
from insightome.apps.scribe.transcript import Transcript

__all__ = ["pronoun", "rewrite", "term"]

_SHE = {"she", "her", "hers", "herself", "female", "woman", "mrs", "ms", "ma'am", "miss", "lady"}
_HE = {"he", "him", "his", "himself", "male", "man", "mr", "gentleman", "sir", "mister"}
_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_NUMBER = re.compile(
    rf"(?<![\w'])(?:({'|'.join(_TENS)})(?:[- ]({'|'.join(_UNITS[1:10])}))?"
    rf"|({'|'.join(_UNITS)})(?= (?:mg|milligrams?|times|days?|weeks?|months?|years?|percent|"
    rf"pounds|hours?|minutes?|units?)\b))(?![\w'])",
    re.I,
)
_STUTTER = re.compile(r"(?<![\w'])([\w']+(?: [\w']+)?)(?:\s*,?\s+\1(?![\w']))+", re.I)


def pronoun(transcript: Transcript) -> tuple[str, dict[str, int]]:
    """The possessive for the patient: the doctor's third-person words about the patient
    ("she", "his", "female", "ma'am", ...) when one side has at least one and more than twice
    the other's, else "their"; with the counts (Draft.method says how it was decided)."""
    text = " ".join(t.text.lower() for t in transcript.turns if t.role == "doctor")
    words = re.findall(r"[a-z']+", text)
    she, he = sum(w in _SHE for w in words), sum(w in _HE for w in words)
    counts = {"female_words": she, "male_words": he}
    if she >= 1 and she > 2 * he:
        return "her", counts
    if he >= 1 and he > 2 * she:
        return "his", counts
    return "their", counts


def _digits(match: re.Match[str]) -> str:
    tens, unit, alone = match.groups()
    if alone:
        return str(_UNITS.index(alone.lower()))
    value = 10 * (_TENS.index(tens.lower()) + 2)
    return str(value + (_UNITS.index(unit.lower()) if unit else 0))


@cache
def _person(doctor: bool, possessive: str) -> tuple[dict[str, str], re.Pattern[str]]:
    """The person changes of a speaker: the doctor's "you"/"your", the patient's "I"/"my"."""
    table, _ = rules()
    person = {k: v for k, v in table["person"].items() if k.split()[0].startswith("you") == doctor}
    swaps = {**person, ("your" if doctor else "my"): possessive}
    return swaps, phrase(list(swaps))


def rewrite(text: str, role: str, possessive: str) -> str:
    """A sentence as a note line: fillers out, contractions and spelled numbers written out,
    stutters collapsed, the person changed ("I"/"my" of the patient, "you"/"your" of the
    doctor → "the patient"/the possessive; after the first "the patient", "she"/"he" when
    the possessive is "her"/"his"). "" when fewer than 3 words are left."""
    table, _ = rules()
    p = patterns()
    out = p["lead"].sub("", text.strip()).strip(" ,")
    out = p["spelling"].sub(lambda m: table["spelling"][m.group().lower()], out)
    out = p["drop"].sub(" ", out)
    for _ in range(2):
        out = _STUTTER.sub(r"\1", out)
    swaps, pattern = _person(role == "doctor", possessive)
    out = pattern.sub(lambda m: swaps[m.group().lower()], out)
    subject = {"her": "she", "his": "he"}.get(possessive)
    first = out.lower().find("the patient")
    if subject and first >= 0:
        cut = first + len("the patient")
        out = out[:cut] + re.sub(r"(?<![\w'])the patient(?![\w'])", subject, out[cut:], flags=re.I)
    out = _NUMBER.sub(_digits, out)
    out = re.sub(r"(?<![\w'])i(?![\w'])", "I", out)
    out = re.sub(r"\s+([,.?!;:])", r"\1", out)
    out = re.sub(r"([,.?!;:])(?:\s*[,.;:])+", r"\1", out)
    out = re.sub(r"\s+", " ", out).strip(" ,")
    if len(out.split()) < 3:
        return ""
    out = out[0].upper() + out[1:]
    return out if out[-1] in ".?!" else out + "."


def term(said: str, possessive: str) -> str:
    """A concept as said, for a findings line: lower case, "my"/"your" → the possessive."""
    return phrase(["my", "your"]).sub(possessive, " ".join(said.lower().split()))
