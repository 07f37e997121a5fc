"""The average of the top configurations: a candidate made of candidates.

With ``--ensemble top3`` (the default preset's choice) the selection may end in the average
of the three configurations with the best cross-validated scores instead of the best one
(:func:`insightome.evaluate.bbc.bbc_cv`, ``average_top``): its out-of-fold predictions are
the mean of theirs, so choosing it costs no fit, and BBC-CV repeats the choice — the top
three and whether their average beats the best single one — inside every bootstrap, so the
estimate stays corrected for it. :class:`AveragedCandidate` is that choice as a
configuration (name, results entry, refit on all samples); :class:`AveragedClassifier` is
its fitted model, the mean of its members' class probabilities (scikit-learn's
``VotingClassifier(voting="soft")`` computes the same, but clones its members, which the
wrappers some candidates build — notes terms, CNN scores, synthetic rows — would lose
their unpicklable inputs in; the members here are built fresh for every fit instead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from insightome.models.candidates import Candidate
from insightome.models.image_cnn import without_images
from insightome.models.note_terms import without_texts

FAMILY = "average"
TASKS = ("binary", "multiclass")  # probabilities average; risks and values are not offered


class AveragedClassifier(ClassifierMixin, BaseEstimator):
    """The mean of ``members``' class probabilities (each fitted on the same data).

    A member that saw fewer classes (a training fold without some class) contributes 0
    for the classes it never saw, as the run's engine pads its out-of-fold predictions.
    """

    def __init__(self, members: list[Any]) -> None:
        self.members = members

    def fit(self, X: Any, y: Any) -> AveragedClassifier:
        self.members_ = [m.fit(X, y) for m in self.members]
        self.classes_ = np.unique(np.concatenate([np.asarray(m.classes_) for m in self.members_]))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        out = np.zeros((len(X), len(self.classes_)))
        for m in self.members_:
            columns = np.searchsorted(self.classes_, np.asarray(m.classes_))
            out[:, columns] += m.predict_proba(X)
        return out / len(self.members_)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def each_member(model: Any, change: Callable[[Any], Any]) -> Any:
    """``change(model)``, or for an :class:`AveragedClassifier` a copy of it with
    ``change`` applied to every member: how the saved model sheds the run's notes and images
    (``without_texts``, ``without_images``) and a prediction gives them back
    (``model_with_texts``, ``model_with_images``) inside an average too. The model given is
    not changed."""
    if not isinstance(model, AveragedClassifier):
        return change(model)
    fitted = hasattr(model, "members_")
    members = [change(m) for m in (model.members_ if fitted else model.members)]
    out = AveragedClassifier(members)
    if fitted:
        out.members_, out.classes_ = members, model.classes_
    return out


def saved_form(model: Any) -> Any:
    """The model to save: without the run's notes (``--notes-tfidf``) and images
    (``--image-features cnn``), in an average's members too."""
    return each_member(model, lambda m: without_images(without_texts(m)))


@dataclass(frozen=True)
class AveragedCandidate(Candidate):
    """The average of ``members`` (insightome candidates of one classification task)."""

    members: tuple[Candidate, ...] = ()

    @property
    def name(self) -> str:
        return f"average of top {len(self.members)}: " + " + ".join(m.name for m in self.members)

    @property
    def fits_on_arrays(self) -> bool:
        return all(m.fits_on_arrays for m in self.members)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": FAMILY,
            "params": {"members": [m.to_dict() for m in self.members]},
        }

    def build(self, features: pd.DataFrame, seed: int = 0) -> AveragedClassifier:  # type: ignore[override]
        return AveragedClassifier([m.build(features, seed) for m in self.members])


def searched_note(n_members: int, name: str) -> str:
    """Discovery's note when the winner is an average (run and ``insightome discover``)."""
    return (
        f"the winner averages {n_members} configurations; a signature is searched per "
        f"configuration, so discovery (signature, attributions) used the best of them by plain "
        f"CV, {name}"
    )


def averaged(members: list[Candidate]) -> AveragedCandidate:
    """The average of ``members`` as a configuration of their task."""
    task = members[0].task
    if task not in TASKS or any(m.task != task for m in members):
        raise ValueError(f"an average of configurations is offered for {TASKS}, not {task!r}")
    return AveragedCandidate(FAMILY, {}, None, task, members=tuple(members))
