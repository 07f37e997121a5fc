"""The fold count and the classes a study can learn: decided from the data, said aloud.

Stratified K-fold CV needs every class in every fold, so the smallest class bounds K. The
rule (issue 17):

* **A class is learned only when every training fold holds at least one of its samples**
  (``MIN_TRAINING_PER_CLASS``). Stratified K-fold puts ⌈n/K⌉ of a class's n samples in one
  test fold, so its training fold keeps n − ⌈n/K⌉: a class of 2 samples is learned with
  2-fold CV, a class of 1 cannot be and is left out of the study (its samples are not
  modelled), with a note naming it and its size. With ``--groups`` the unit is the group
  (patient): a class seen in 1 patient is left out however many samples they gave, since
  a patient never straddles folds. Until issue 27 a class needed 2 samples in every
  training fold (3 samples; ``LEGACY_MIN_TRAINING_PER_CLASS``, which a saved run without
  the rule recorded was made with): on lymphoma's training halves that left out a class of
  2 samples, whose hold-out samples the model then could not predict (the peers benchmark's
  lymphoma hold-out AUC 0.921 with the class left out, benchmarks/results/peers.md at git
  commit 1f3b57f; 0.988 with it learned by 2-fold CV, the table since).
* **The fold count**: without ``--folds``, the default (5) or, when the smallest class
  learned (or the number of groups) is smaller, the largest fold count it allows — never
  below 2. An explicit ``--folds`` is never changed: a value the data cannot support is
  refused with the largest one they can.
* **Nothing sensible left** — fewer than 2 classes learnable, fewer than 2 folds possible
  (1 group, 1 event) — is refused with one line.

Survival outcomes bound K by the events (every fold needs one), regression outcomes only
by the groups; neither leaves anything out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from insightome import errors
from insightome.errors import UserError

DEFAULT_FOLDS = 5
MIN_TRAINING_PER_CLASS = 1  # samples (groups) of a class every training fold must hold
LEGACY_MIN_TRAINING_PER_CLASS = 2  # the rule of runs that did not record theirs
# --image-features cnn: the CNN's own inner cross-fit splits each training fold again by
# class (models.image_cnn), so every training fold needs 2 of each class
CNN_MIN_TRAINING_PER_CLASS = 2
# where a run's checkpoint records the rule its study was made with (a resume redoes the
# study with it; results.json keeps it in outcome.min_training_per_class)
CLASS_RULE_KEY = "min_training_per_class"


@dataclass(frozen=True)
class LeftOutClass:
    """A class too small to be learned: left out of the study with its samples."""

    label: str
    n_samples: int
    n_groups: int | None = None  # with --groups: the patients it was seen in

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {"label": self.label, "n_samples": self.n_samples}
        if self.n_groups is not None:
            d["n_groups"] = self.n_groups
        return d

    def words(self) -> str:
        size = _plural(self.n_samples, "sample")
        if self.n_groups is not None:
            size += f" from {_plural(self.n_groups, 'group')}"
        return f"'{self.label}' ({size})"


@dataclass(frozen=True)
class FoldChoice:
    """The fold count of the run: what was asked (None: --folds not given), what is used
    and why."""

    requested: int | None
    chosen: int
    reason: str

    @property
    def changed(self) -> bool:
        return self.requested is None and self.chosen != DEFAULT_FOLDS

    def to_dict(self) -> dict[str, object]:
        return {"requested": self.requested, "chosen": self.chosen, "reason": self.reason}


@dataclass(frozen=True)
class ClassDesign:
    """What :func:`design_classes` decided: the samples kept, the classes left out, the
    fold count."""

    keep: np.ndarray  # bool, over the labels given
    left_out: tuple[LeftOutClass, ...]
    folds: FoldChoice


def training_share(units: int, folds: int) -> int:
    """The fewest of a class's ``units`` that a training fold of stratified ``folds``-fold
    CV keeps (the test fold that gets the most takes ⌈units/folds⌉)."""
    return units - math.ceil(units / folds)


def design_classes(
    labels: pd.Series,
    groups: pd.Series | None,
    requested: int | None,
    *,
    path: str,
    column: str,
    groups_column: str | None,
    min_training: int = MIN_TRAINING_PER_CLASS,
) -> ClassDesign:
    """The classes to learn and the fold count for a classification outcome (``labels``:
    the class label of each sample as text; ``groups``: their group, or None);
    ``min_training``: the samples (groups) of a class every training fold must hold."""
    labels = labels.astype(str).reset_index(drop=True)
    counts = labels.value_counts()
    if len(counts) < 2:  # a single class: encode_outcome refuses it with its own line
        k = requested or DEFAULT_FOLDS
        return ClassDesign(np.ones(len(labels), bool), (), FoldChoice(requested, k, ""))
    grouped = None if groups is None else pd.Series(groups.to_numpy()).astype(str)
    per_group = None if grouped is None else grouped.groupby(labels).nunique()
    units = counts if per_group is None else per_group.reindex(counts.index)

    def left(label: str) -> LeftOutClass:
        n_groups = None if per_group is None else int(per_group[label])
        return LeftOutClass(str(label), int(counts[label]), n_groups)

    out = [left(c) for c in counts.index if units[c] < min_training + 1]
    kept = [c for c in counts.index if units[c] >= min_training + 1]
    _refuse_unless_two(kept, out, counts, path, column, grouped is not None, min_training)
    smallest = min(kept, key=lambda c: (units[c], str(c)))
    unit = "groups" if grouped is not None else "samples"
    size = int(units[smallest])
    verb = "is in" if grouped is not None else "has"
    limit, why = size, f"class '{smallest}' {verb} {size} {_unit(size, unit)}"
    if grouped is not None:
        n_groups = int(grouped[labels.isin(kept)].nunique())
        if n_groups <= limit:
            limit, why = n_groups, f"--groups '{groups_column}' has {n_groups} groups"
    if requested is not None and requested > limit:
        if why.startswith("class"):
            raise UserError(
                errors.CLASS_TOO_SMALL, path=path, value=smallest, column=column,
                count=int(units[smallest]), unit=_unit(int(units[smallest]), unit),
                folds=requested, suggest=limit,
            )  # fmt: skip
        raise UserError(
            errors.GROUPS_TOO_FEW, path=path, column=groups_column, n_groups=limit,
            folds=requested, suggest=limit,
        )  # fmt: skip
    folds = _choose(requested, limit, why)
    # under the legacy rule (2 per training fold) a class of 3 keeps only 1 with 2 folds
    late = [c for c in kept if training_share(int(units[c]), folds.chosen) < min_training]
    out += [left(c) for c in late]
    kept = [c for c in kept if c not in late]
    _refuse_unless_two(kept, out, counts, path, column, grouped is not None, min_training)
    keep = labels.isin(kept).to_numpy()
    return ClassDesign(keep, tuple(sorted(out, key=lambda c: c.label)), folds)


def design_folds(
    units: int,
    what: str,
    n_groups: int | None,
    requested: int | None,
    *,
    path: str,
    column: str,
    groups_column: str | None,
) -> FoldChoice:
    """The fold count for a survival outcome (``units``: its events, or the groups with an
    event) or a regression outcome (``units``: its samples); ``what`` names them."""
    limit, why = units, f"'{column}' has {units} {_unit(units, what)}"
    if n_groups is not None and n_groups <= limit:
        limit, why = n_groups, f"--groups '{groups_column}' has {n_groups} groups"
    if limit < 2:
        raise UserError(errors.FOLDS_IMPOSSIBLE, path=path, why=why)
    if requested is not None and requested > limit:
        if n_groups is not None and limit == n_groups:
            raise UserError(
                errors.GROUPS_TOO_FEW, path=path, column=groups_column, n_groups=limit,
                folds=requested, suggest=limit,
            )  # fmt: skip
        raise UserError(
            errors.CLASS_TOO_SMALL, path=path, value="event", column=column, count=units,
            unit=_unit(units, what), folds=requested, suggest=limit,
        )  # fmt: skip
    return _choose(requested, limit, why)


def _choose(requested: int | None, limit: int, why: str) -> FoldChoice:
    if requested is not None:
        return FoldChoice(requested, requested, "given with --folds")
    if limit >= DEFAULT_FOLDS:
        return FoldChoice(None, DEFAULT_FOLDS, "the default")
    return FoldChoice(
        None,
        max(2, limit),
        f"the largest fold count the data allow ({why}; every test fold needs one of "
        f"each), instead of the default {DEFAULT_FOLDS}",
    )


def _refuse_unless_two(
    kept: list[str],
    out: list[LeftOutClass],
    counts: pd.Series,
    path: str,
    column: str,
    grouped: bool,
    min_training: int,
) -> None:
    if len(kept) >= 2:
        return
    remaining = (
        f"only '{kept[0]}' ({_plural(int(counts[kept[0]]), 'sample')}) remains"
        if kept
        else "no class remains"
    )
    raise UserError(
        errors.CLASSES_TOO_SMALL,
        path=path,
        column=column,
        left_out=", ".join(c.words() for c in sorted(out, key=lambda c: c.label)),
        remaining=remaining,
        rule=class_rule(min_training, grouped),
    )


def class_rule(min_training: int, grouped: bool = False) -> str:
    """The rule that left classes out, in words (notes, the report, the refusal);
    ``grouped``: counted in patients (--groups)."""
    units = "groups (patients, --groups)" if grouped else "samples"
    held = "one" if min_training == 1 else str(min_training)
    rule = (
        f"a class is learned only when every training fold holds at least {held} of its "
        f"{units}, so it needs at least {min_training + 1}"
    )
    return rule if min_training == 1 else f"{rule} ({2 * min_training} with 2 folds)"


def left_out_note(
    left_out: tuple[LeftOutClass, ...],
    column: str | None,
    grouped: bool,
    min_training: int = MIN_TRAINING_PER_CLASS,
) -> str:
    """The note of a study that left classes out (results.json notes, run log, console)."""
    n = sum(c.n_samples for c in left_out)
    one = len(left_out) == 1
    return (
        f"left out {'class' if one else 'classes'} "
        f"{', '.join(c.words() for c in left_out)} of '{column}': "
        f"{class_rule(min_training, grouped)}; {'its' if one else 'their'} "
        f"{_plural(n, 'sample')} {'is' if n == 1 else 'are'} not modelled, and the model "
        f"never predicts {'this class' if one else 'these classes'}"
    )


def folds_note(choice: FoldChoice) -> str:
    """The note of a fold count other than the default chosen for the user."""
    return (
        f"{choice.chosen}-fold cross-validation (stratified): {choice.reason}; "
        f"set --folds to choose (at most {choice.chosen})"
    )


def _unit(n: int, unit: str) -> str:
    """``unit`` ("samples", "groups with an event") for a count of ``n``."""
    first, _, rest = unit.partition(" ")
    if n == 1 and first.endswith("s"):
        first = first[:-1]
    return f"{first} {rest}" if rest else first


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
