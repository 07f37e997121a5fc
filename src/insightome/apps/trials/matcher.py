"""The matcher: BM25 recall over the corpus, the criteria judged, one score per pair.

**Vocabulary.** One concept lexicon serves both sides, so a criterion and a note that name
the same thing meet on the same concept id: the notes engine's English starter lexicon, the
packaged eligibility lexicon (``resources/eligibility_lexicon.csv``: pregnancy, HIV,
performance status, common labs ...; read first, so its terms win) and every condition, MeSH
term and intervention name of the trials read (free-form keywords, generic words such as
"Disease" and one-word terms common in the corpus's criteria are left out). A term already
claimed by an earlier concept stays with it. A trial's criteria use only its own terms
besides the packaged lexicons, so it reads the same whatever else was read; the patients'
notes are read with the whole vocabulary.

**Score.** For patient *p* and trial *t*::

    score = bm25(p, t) / max_t' bm25(p, t')          topical relevance, 0–1
          + W_TOPIC × share of t's conditions affirmed in p's notes
          + W_MET × share of t's inclusion criteria met
          − W_FAIL × min(failed criteria, 2)

where a failed criterion is an inclusion not met or an exclusion met. Unknowns add nothing
and take nothing away: they are counted and shown. The weights (0.5, 0.3, 0.6) were set
before any benchmark run; benchmarks/trials.py ``--grid`` shows how NDCG@10 moves with
them, and that the weights best on TREC 2021 do worse on TREC 2022 than these.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import numpy as np

from insightome.apps.trials.criteria import (
    Criterion,
    Item,
    parse_items,
    registry_criteria,
    split_items,
)
from insightome.apps.trials.judge import PatientFacts, TrialJudgement, judge_trial
from insightome.apps.trials.patients import Patient
from insightome.apps.trials.records import Trial
from insightome.featurize.notes.extractor import NoteExtractor
from insightome.featurize.notes.lexicon import Concept, Lexicon, read_lexicon, starter_lexicon
from insightome.featurize.notes.normalization import fold
from insightome.featurize.notes.values import ValueFinder, read_units

__all__ = ["Matcher", "ScoredPair", "Weights", "trial_lexicon"]

_GENERIC = frozenset(
    "disease diseases syndrome syndromes disorder disorders infection infections pain healthy "
    "neoplasms neoplasm tumor tumors carcinoma inflammation hyperplasia pathologic processes "
    "pathological conditions signs and symptoms symptoms chronic disease acute disease "
    "disease progression recurrence necrosis fibrosis ischemia emergencies wounds and injuries "
    "syndrome pharmaceutical solutions placebo other behavioral procedure drug device "
    "healthy volunteers normal volunteers control quality of life".split()
) | {
    "healthy volunteers",
    "quality of life",
    "signs and symptoms",
    "wounds and injuries",
    "pathologic processes",
    "pathological conditions, anatomical",
    "disease progression",
}


@dataclass(frozen=True)
class Weights:
    """The score's weights (module docstring); ``cap``: failed criteria counted at most."""

    topic: float = 0.5
    met: float = 0.3
    fail: float = 0.6
    cap: int = 2

    def score(self, relevance: float, topic: float, judged: TrialJudgement | None) -> float:
        """relevance + topic part, and the criteria part when ``judged`` is given."""
        score = relevance + self.topic * topic
        if judged is not None:
            n_incl = len(judged.inclusions)
            share = judged.n_inclusion_met / n_incl if n_incl else 0.0
            score += self.met * share - self.fail * min(len(judged.failed), self.cap)
        return score


@dataclass
class ScoredPair:
    """One patient × trial: the parts of the score and the judgements behind them."""

    patient_id: str
    trial_id: str
    bm25: float
    relevance: float  # bm25 / the patient's best bm25
    topic: float
    judgement: TrialJudgement | None
    score: float = 0.0

    @property
    def n_failed(self) -> int:
        return len(self.judgement.failed) if self.judgement else 0


def _eligibility_lexicon() -> Lexicon:
    path = files("insightome.apps.trials") / "resources" / "eligibility_lexicon.csv"
    return read_lexicon(str(path))


def trial_lexicon(trials: Iterable[Trial]) -> Lexicon:
    """Starter + eligibility lexicon + the trials' own terms (module docstring)."""
    concepts: list[Concept] = []
    claimed: set[str] = set()

    def add(concept: Concept) -> None:
        terms = tuple(t for t in concept.terms if _key(t) not in claimed)
        if not terms:
            return
        claimed.update(_key(t) for t in terms)
        concepts.append(Concept(concept.concept_id, terms[0], terms[1:], None, concept.category))

    # the eligibility lexicon first: its terms are the ones criteria use ("metastatic" is
    # metastases there, cancer in the starter lexicon)
    for concept in (*_eligibility_lexicon().concepts, *starter_lexicon("en").concepts):
        add(concept)
    trials = list(trials)
    common = _common_words(trials)
    for trial in trials:
        for term, category in _trial_terms(trial):
            key = _key(term)
            if key in claimed or key in _GENERIC or len(key) < 3 or not re.search("[a-z]", key):
                continue
            if " " not in key and key in common:
                continue
            add(Concept(f"term:{key}", term, (), None, category))
    digest = hashlib.sha256(
        "\n".join(f"{c.concept_id}\t{'|'.join(c.terms)}" for c in concepts).encode()
    ).hexdigest()
    return Lexicon(tuple(concepts), "trials", digest)


def _key(term: str) -> str:
    return " ".join(fold(term).split())


def _trial_terms(trial: Trial) -> Iterable[tuple[str, str]]:
    """Conditions, MeSH terms and interventions; free-form keywords are left out (they name
    body parts and methods as often as conditions: "Knee", "Evaluation")."""
    for term in (*trial.conditions, *trial.condition_mesh):
        yield term, "condition"
    for intervention in trial.interventions:
        yield intervention.split(": ", 1)[-1], "treatment"


def _common_words(trials: Sequence[Trial]) -> set[str]:
    """Words in more than 1% of the trials' eligibility texts ("history", "evaluation"):
    as a one-word term they would turn ordinary criteria words into conditions."""
    counts: dict[str, int] = {}
    for trial in trials:
        for word in set(re.findall(r"[a-z][a-z-]+", fold(trial.criteria))):
            counts[word] = counts.get(word, 0) + 1
    limit = max(5, len(trials) // 100)
    return {word for word, n in counts.items() if n > limit}


@dataclass
class Matcher:
    """Parses trials' criteria (cached) and patients' notes with one lexicon; scores pairs."""

    trials: Sequence[Trial]
    weights: Weights = field(default_factory=Weights)
    lexicon: Lexicon | None = None

    def __post_init__(self) -> None:
        self.lexicon = self.lexicon or trial_lexicon(self.trials)
        self.extractor = NoteExtractor(self.lexicon, "en", values=True)
        self.concepts = self.lexicon.by_id
        self.units = ValueFinder(read_units(), "en")
        self.by_id = {t.nct_id: t for t in self.trials}
        self._term_ids = {_key(t): c.concept_id for c in self.lexicon.concepts for t in c.terms}
        self.notes: list[str] = []  # said in the output's summary
        self._criteria: dict[str, list[Criterion]] = {}
        self._conditions: dict[str, set[str]] = {}

    # -- criteria ---------------------------------------------------------------------------
    def criteria(self, trial_ids: Iterable[str]) -> dict[str, list[Criterion]]:
        """The parsed criteria of these trials (parsed once, in one notes-engine batch)."""
        todo = [t for t in dict.fromkeys(trial_ids) if t not in self._criteria]
        if todo:
            self._parse(todo)
        return {t: self._criteria[t] for t in trial_ids}

    def _parse(self, trial_ids: Sequence[str]) -> None:
        items: dict[str, list[Item]] = {t: split_items(self.by_id[t].criteria) for t in trial_ids}
        keys = [(t, i) for t in trial_ids for i in range(len(items[t]))]
        texts = [items[t][i].text for t, i in keys]
        rows = self.extractor.extract(list(range(len(keys))), texts)
        by_item: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            by_item.setdefault(int(row["note_id"]), []).append(row)
        for trial_id in trial_ids:
            trial = self.by_id[trial_id]
            mentions = {i: by_item.get(k, []) for k, (t, i) in enumerate(keys) if t == trial_id}
            own = frozenset(self._condition_ids(trial))
            parsed = parse_items(
                trial_id,
                items[trial_id],
                mentions,
                self.concepts,
                self.units,
                own,
                (trial.minimum_age, trial.maximum_age),
                frozenset(f"term:{_key(term)}" for term, _ in _trial_terms(trial)),
            )
            structured = registry_criteria(
                trial_id,
                trial.sex,
                trial.minimum_age,
                trial.maximum_age,
                trial.minimum_age_text,
                trial.maximum_age_text,
            )
            self._criteria[trial_id] = structured + parsed
            self._conditions[trial_id] = set(own)

    def _condition_ids(self, trial: Trial) -> set[str]:
        rows = self.extractor.extract([0], [" ; ".join((*trial.conditions, trial.title))])
        return {r["concept_id"] for r in rows if r["kind"] == "concept"}

    # -- patients ---------------------------------------------------------------------------
    def read_notes(self, patients: Sequence[Patient]) -> list[PatientFacts]:
        """Extract every patient's mentions (the notes engine) and index them."""
        rows = self.extractor.extract([p.patient_id for p in patients], [p.text for p in patients])
        by_patient: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_patient.setdefault(str(row["note_id"]), []).append(row)
        facts = []
        unknown: set[str] = set()
        for patient in patients:
            patient.mentions = by_patient.get(patient.patient_id, [])
            fact = PatientFacts.of(patient)
            fact.fields = self._fields(patient, unknown)
            facts.append(fact)
        if unknown:
            self.notes.append(
                "patient-table columns not used (no concept of the lexicon, or a unit the "
                f"units table does not know): {', '.join(sorted(unknown))}"
            )
        return facts

    def _fields(self, patient: Patient, unknown: set[str]) -> dict[str, tuple[float, str, str]]:
        """The structured values by concept id: the value in the units table's normalised unit,
        that unit, and the cell as written (the evidence)."""
        out: dict[str, tuple[float, str, str]] = {}
        for name, (value, unit) in patient.fields.items():
            concept = self.concepts.get(name) or self.concepts.get(
                self._term_ids.get(_key(name), "")
            )
            written = f"{name}{f'[{unit}]' if unit else ''} = {value:g}"
            if concept is None:
                unknown.add(name)
                continue
            if not unit:
                out[concept.concept_id] = (value, "", written)
                continue
            found = self.units.normalize_unit(unit, concept, value)
            if found is None:
                unknown.add(f"{name}[{unit}]")
                continue
            out[concept.concept_id] = (*found, written)
        return out

    # -- scoring ----------------------------------------------------------------------------
    def topic(self, trial_id: str, facts: PatientFacts) -> float:
        """Share of the trial's condition concepts affirmed in the patient's notes."""
        wanted = self._conditions.get(trial_id, set())
        if not wanted:
            return 0.0
        return sum(c in facts.positive for c in wanted) / len(wanted)

    def score(
        self,
        facts: PatientFacts,
        trial_ids: Sequence[str],
        bm25: np.ndarray,
        *,
        use_criteria: bool = True,
    ) -> list[ScoredPair]:
        """Score these trials for one patient (``bm25`` in the same order), best first."""
        criteria = self.criteria(trial_ids)
        top = float(np.max(bm25)) if len(bm25) and np.max(bm25) > 0 else 1.0
        pairs = []
        w = self.weights
        for trial_id, raw in zip(trial_ids, bm25, strict=True):
            judged = judge_trial(trial_id, criteria[trial_id], facts)
            topic = self.topic(trial_id, facts)
            relevance = float(raw) / top
            score = w.score(relevance, topic, judged if use_criteria else None)
            pairs.append(
                ScoredPair(
                    facts.patient.patient_id, trial_id, float(raw), relevance, topic, judged, score
                )
            )
        pairs.sort(key=lambda p: (-p.score, p.trial_id))
        return pairs
