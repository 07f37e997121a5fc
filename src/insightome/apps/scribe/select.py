"""Which transcript sentences become lines: a small logistic model over sentence features.

Every sentence of the visit (a run of non-question pieces of one punctuated sentence,
:mod:`.draft`) is a candidate line. :func:`features` describes it by who says it, the
visit's phase, where it is, its length, the concepts the notes engine found in it and the
cue words of ``rules.json``; :class:`Selector` (weights in ``resources/selector.json``,
trained by ``benchmarks/scribe_selector.py`` on ACI-BENCH train+valid — see PROVENANCE.md)
gives the probability that the sentence's content is in a clinician's note, and the line is
kept when it reaches the selector's threshold (one for sentences with findings, one for
sentences without).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from insightome.apps.scribe.dialogue import Mention, patterns

__all__ = ["DEFAULT_SELECTOR", "FEATURES", "Selector", "features", "read_selector"]

DEFAULT_SELECTOR = Path(__file__).with_name("resources") / "selector.json"
SELECTOR_FORMAT = "insightome-scribe-selector/1"
_CATEGORIES = ("symptom", "condition", "medication", "test", "procedure", "finding", "measurement")
_STATES = ("absent", "historical", "family", "uncertain")
_CUES = (
    "plan",
    "exam",
    "results",
    "assessment",
    "problem",
    "chief_complaint",
    "history",
    "small_talk",
)
_FIRST = re.compile(r"(?<![\w'])(?:i|i'm|i've|i'd|i'll|my|me|myself)(?![\w'])")
_SECOND = re.compile(r"(?<![\w'])(?:you|you're|you've|your|yourself)(?![\w'])")
_THIRD = re.compile(r"(?<![\w'])(?:she|he|her|his|him|patient|mr|mrs|ms)(?![\w'])")
_NUMBERISH = re.compile(r"\d")
_TOKEN = re.compile(r"\b\w\w+\b")
FEATURES: tuple[str, ...] = (
    "bias",
    "doctor",
    "patient",
    *(f"{role}_{phase}" for role in ("doctor", "patient") for phase in ("exam", "plan")),
    "position",
    "position_squared",
    "log_words",
    "kept_share",
    "whole_turn",
    "first_in_turn",
    "after_question",
    "mentions",
    *(f"category_{c}" for c in _CATEGORIES),
    *(f"state_{s}" for s in _STATES),
    "number",
    "opens_question",
    *(f"cue_{c}" for c in _CUES),
    "first_person",
    "second_person",
    "third_person",
)


def features(
    *,
    raw: str,
    line: str,
    role: str,
    phase: str,
    position: float,
    mentions: Sequence[Mention],
    whole_turn: bool,
    first_in_turn: bool,
    after_question: bool,
) -> dict[str, float]:
    """A candidate sentence's features (names: :data:`FEATURES`). ``raw``: its transcript
    text; ``line``: its rewritten form; ``position``: its turn's place in the visit (0–1)."""
    p = patterns()
    low = raw.lower()
    words = max(1, len(raw.split()))
    out = dict.fromkeys(FEATURES, 0.0)
    out["bias"] = 1.0
    if role in ("doctor", "patient"):
        out[role] = 1.0
        if phase != "history":
            out[f"{role}_{phase}"] = 1.0
    out["position"] = position
    out["position_squared"] = position * position
    out["log_words"] = math.log(words)
    out["kept_share"] = len(line.split()) / words
    out["whole_turn"] = float(whole_turn)
    out["first_in_turn"] = float(first_in_turn)
    out["after_question"] = float(after_question)
    out["mentions"] = min(len(mentions), 4) / 4
    for m in mentions:
        if m.category in _CATEGORIES:
            out[f"category_{m.category}"] = 1.0
        if m.state in _STATES:
            out[f"state_{m.state}"] = 1.0
    out["number"] = float(bool(_NUMBERISH.search(line)))
    out["opens_question"] = float(bool(p["asks"].match(p["lead"].sub("", low).lstrip(" ,."))))
    for cue in _CUES:
        out[f"cue_{cue}"] = float(bool(p[cue].search(low)))
    out["first_person"] = min(len(_FIRST.findall(low)) / words * 5, 1.0)
    out["second_person"] = min(len(_SECOND.findall(low)) / words * 5, 1.0)
    out["third_person"] = min(len(_THIRD.findall(low)) / words * 5, 1.0)
    for token in _TOKEN.findall(line.lower()):
        out["w:" + token] = 1.0
    return out


@dataclass(frozen=True)
class Selector:
    """The logistic model: a weight per feature (``w:<word>`` for the words it knows), the
    thresholds for sentences with and without findings, and where it came from."""

    weights: Mapping[str, float]
    threshold_findings: float
    threshold_plain: float
    sha256: str = ""
    source: str = "given"

    def probability(self, values: Mapping[str, float]) -> float:
        z = sum(self.weights.get(name, 0.0) * value for name, value in values.items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def keeps(self, values: Mapping[str, float], has_findings: bool) -> bool:
        threshold = self.threshold_findings if has_findings else self.threshold_plain
        return self.probability(values) >= threshold

    def describe(self) -> dict[str, Any]:
        return {
            "file": self.source,
            "sha256": self.sha256,
            "threshold_findings": self.threshold_findings,
            "threshold_plain": self.threshold_plain,
            "weights": len(self.weights),
        }


@cache
def read_selector() -> Selector:
    """The packaged selector (``resources/selector.json``, written by
    ``benchmarks/scribe_selector.py``)."""
    raw = DEFAULT_SELECTOR.read_bytes()
    data = json.loads(raw)
    if data.get("format") != SELECTOR_FORMAT:  # a packaged file: a broken install, not input
        raise RuntimeError(f"{DEFAULT_SELECTOR.name} is not an {SELECTOR_FORMAT} file")
    return Selector(
        {str(k): float(v) for k, v in data["weights"].items()},
        float(data["threshold_findings"]),
        float(data["threshold_plain"]),
        hashlib.sha256(raw).hexdigest(),
        "packaged selector.json",
    )
