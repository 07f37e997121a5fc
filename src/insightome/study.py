"""The study specification: what is predicted, from what, and under which constraints.

:class:`StudySpec` is a small frozen object saved with every run. :func:`make_study`
validates the user's choices against the data (one clear :class:`UserError` per problem),
infers the task when it is not given, and returns the spec together with the modelling
table: the samples with a known outcome, the features offered to the models and the
outcome vector in insightome's internal encoding.

Internal outcome encoding (what the pipelines receive as ``y``):

* binary / multiclass — integer class codes ``0..k-1`` (``classes`` gives the labels);
* regression — float;
* survival — *signed time*: ``time`` for an event, ``-time`` for a censored sample, the
  convention of XGBoost's ``survival:cox`` objective, so a survival outcome is a plain
  float vector that scikit-learn's Pipeline, splitters and selectors pass through.

The encoding itself is in :mod:`insightome.outcome_encoding`, the feature table in
:mod:`insightome.modelling_table`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from insightome import errors
from insightome.errors import UserError, closest_names_hint
from insightome.fold_design import (
    CNN_MIN_TRAINING_PER_CLASS,
    DEFAULT_FOLDS,
    MIN_TRAINING_PER_CLASS,
    FoldChoice,
    LeftOutClass,
    design_classes,
    design_folds,
    folds_note,
    left_out_note,
)
from insightome.modelling_table import feature_table, identifier_warnings
from insightome.outcome_encoding import (
    TASKS,
    Task,
    TaskDecision,
    class_labels,
    encode_outcome,
    label_string,
    survival_outcome,
    task_decision,
)

SMALL_N = 50
MIN_EVENTS_PER_FEATURE = 10.0


@dataclass(frozen=True)
class StudySpec:
    """What a run studies. Immutable; saved as ``spec`` in results.json."""

    task: Task
    target: str | None = None
    time: str | None = None
    event: str | None = None
    sensitive: tuple[str, ...] = ()
    use_sensitive: bool = False
    groups: str | None = None
    site: str | None = None
    exclude: tuple[str, ...] = ()
    positive_class: str | None = None
    task_detected: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sensitive"] = list(self.sensitive)
        d["exclude"] = list(self.exclude)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StudySpec:
        d = dict(d)
        d["sensitive"] = tuple(d.get("sensitive", ()))
        d["exclude"] = tuple(d.get("exclude", ()))
        return cls(**d)

    @property
    def outcome_columns(self) -> tuple[str, ...]:
        cols = (self.target,) if self.task != "survival" else (self.time, self.event)
        return tuple(c for c in cols if c)

    @property
    def role_columns(self) -> tuple[str, ...]:
        """Columns that are never features (unless sensitive and ``use_sensitive``)."""
        roles = [*self.outcome_columns, self.groups, self.site, *self.exclude]
        if not self.use_sensitive:
            roles.extend(self.sensitive)
        return tuple(dict.fromkeys(c for c in roles if c))


@dataclass
class Study:
    """A validated study: the spec plus the modelling table."""

    spec: StudySpec
    features: pd.DataFrame  # samples × features; numeric float, categorical as 'category'
    y: np.ndarray  # internal encoding, see the module docstring
    obs: pd.DataFrame  # sample annotations of the modelled samples (roles included)
    classes: list[str] = field(default_factory=list)
    groups: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    n_features_dropped: int = 0
    # the design the data imposed (fold_design): the fold count, the classes left out, and
    # the rule that chose the task; printed before fitting (design_lines)
    folds: FoldChoice = field(
        default_factory=lambda: FoldChoice(None, DEFAULT_FOLDS, "the default")
    )
    classes_left_out: tuple[LeftOutClass, ...] = ()
    task_decision: TaskDecision | None = None
    # the class rule it was designed with (fold_design.MIN_TRAINING_PER_CLASS)
    min_training_per_class: int = MIN_TRAINING_PER_CLASS

    @property
    def n_samples(self) -> int:
        return len(self.y)

    @property
    def time_event(self) -> tuple[np.ndarray, np.ndarray]:
        """Survival time and event (0/1) from the signed-time encoding."""
        return np.abs(self.y), (self.y > 0).astype(int)

    def design_lines(self) -> list[str]:
        """What the data decided about the study, for the console before fitting: the task
        read from the outcome, the classes left out, the task modelled when leaving them out
        changed it, a fold count other than the default."""
        lines = []
        if self.task_decision is not None:
            lines.append(self.task_decision.sentence(self.spec.target))
        if self.classes_left_out:
            grouped = self.spec.groups is not None
            lines.append(
                left_out_note(
                    self.classes_left_out, self.spec.target, grouped, self.min_training_per_class
                )
            )
        if self.task_decision is not None and self.task_decision.final_task is not None:
            lines.append(str(self.task_decision.change_sentence()))
        if self.folds.changed:
            lines.append(folds_note(self.folds))
        return lines

    def outcome_summary(self) -> dict[str, Any]:
        s = self.spec
        out: dict[str, Any] = {"target": s.target, "time": s.time, "event": s.event}
        if self.task_decision is not None:
            out["task_detection"] = self.task_decision.to_dict()
        if self.classes_left_out:
            out["classes_left_out"] = [c.to_dict() for c in self.classes_left_out]
        if s.task in ("binary", "multiclass"):
            counts = np.bincount(self.y.astype(int), minlength=len(self.classes))
            out["min_training_per_class"] = self.min_training_per_class
            out["classes"] = list(self.classes)
            out["class_counts"] = {c: int(n) for c, n in zip(self.classes, counts, strict=True)}
            if s.task == "binary":
                out["positive_class"] = self.classes[1]
        elif s.task == "regression":
            out["summary"] = {
                "mean": float(np.mean(self.y)),
                "sd": float(np.std(self.y, ddof=1)),
                "min": float(np.min(self.y)),
                "max": float(np.max(self.y)),
            }
        else:
            t, e = self.time_event
            out["n_events"] = int(e.sum())
            out["median_time"] = float(np.median(t))
            # horizon of the secondary metric 'time_dependent_auc' (median event time)
            out["time_dependent_auc_horizon"] = float(np.median(t[e == 1]))
        return out


def _column(adata: ad.AnnData, name: str, role: str, option: str, path: str) -> pd.Series:
    if name in adata.obs.columns:
        return adata.obs[name]
    cat = adata.obsm.get("categorical")
    if isinstance(cat, pd.DataFrame) and name in cat.columns:
        return cat[name]
    if name in adata.var_names:
        return pd.Series(np.asarray(adata[:, name].X).ravel(), index=adata.obs_names, name=name)
    choices = [*adata.obs.columns, *adata.var_names[:5000]]
    if isinstance(cat, pd.DataFrame):
        choices.extend(cat.columns)
    hint = closest_names_hint(name, choices)
    if role == "target":
        raise UserError(errors.TARGET_MISSING, path=path, column=name, hint=hint)
    raise UserError(
        errors.COLUMN_MISSING, path=path, role=role, column=name, hint=hint, option=option
    )


def _checked_outcome(
    adata: ad.AnnData,
    path: str,
    target: str | None,
    task: str,
    time: str | None,
    event: str | None,
) -> str | None:
    """The task and outcome options checked; the target (``Y`` when none is named and the
    data has it)."""
    if task not in ("auto", *TASKS):
        raise UserError(errors.TASK_INVALID, value=task)
    if (time is None) != (event is None):
        raise UserError(errors.SURVIVAL_NEEDS_BOTH, given="time" if time else "event")
    if time is not None and task not in ("auto", "survival"):
        raise UserError(
            errors.OPTION_INVALID,
            option="--task",
            reason=f"--time/--event imply survival, not {task}",
        )
    if time is None and target is None:
        if "Y" not in adata.obs.columns:
            raise UserError(errors.TARGET_REQUIRED, path=path)
        target = "Y"
    return target


def make_study(
    adata: ad.AnnData,
    *,
    target: str | None = None,
    task: str = "auto",
    time: str | None = None,
    event: str | None = None,
    sensitive: tuple[str, ...] | list[str] = (),
    use_sensitive: bool = False,
    groups: str | None = None,
    site: str | None = None,
    exclude: tuple[str, ...] | list[str] = (),
    positive_class: str | None = None,
    folds: int | None = None,
    learned_features: bool = False,
    min_training_per_class: int = MIN_TRAINING_PER_CLASS,
) -> Study:
    """Validate the study against ``adata`` and build the modelling table.

    ``learned_features``: the candidates add features inside fit (``--image-features cnn``),
    so the table may have no column of its own.

    ``folds``: the fold count asked for; None lets the data choose it (the default, or as
    many as the smallest class allows). Classes too small to learn are left out either way
    (:mod:`insightome.fold_design` states the rule; ``min_training_per_class``: a saved
    run's own, when a follow-up rebuilds its study)."""
    path = _data_path(adata)
    if learned_features:  # the CNN's inner cross-fit needs 2 of a class in a training fold
        min_training_per_class = max(min_training_per_class, CNN_MIN_TRAINING_PER_CLASS)
    target = _checked_outcome(adata, path, target, task, time, event)
    sensitive, exclude = tuple(sensitive), tuple(exclude)
    _check_roles(target if time is None else None, time, event, sensitive, groups, site)

    notes: list[str] = list(adata.uns.get("notes", []))
    warnings: list[str] = []
    obs = pd.DataFrame(index=adata.obs_names)
    for col, role, option in _roles(
        target if time is None else None, time, event, sensitive, groups, site
    ):
        obs[col] = _column(adata, col, role, option, path).to_numpy()

    decision: TaskDecision | None = None
    left_out: tuple[LeftOutClass, ...] = ()
    if time is not None:
        spec_task: Task = "survival"
        detected = False
        y, keep = survival_outcome(obs, time, event, path)  # type: ignore[arg-type]
        classes: list[str] = []
        events = y > 0
        grouped = _group_column(obs, groups, keep, path)
        choice = design_folds(
            int(events.sum()) if grouped is None else int(grouped[events].nunique()),
            "events" if grouped is None else "groups with an event",
            None if grouped is None else int(grouped.nunique()),
            folds, path=path, column=event, groups_column=groups,
        )  # fmt: skip
    else:
        yser = obs[target]
        missing = yser.isna().to_numpy()
        if missing.all():
            raise UserError(errors.TARGET_ALL_MISSING, path=path, column=target)
        keep = ~missing
        if missing.any():
            notes.append(f"removed {int(missing.sum())} samples with a missing '{target}'")
        yser = yser[keep]
        detected = task == "auto"
        decision = task_decision(yser) if detected else None
        spec_task = decision.task if decision is not None else task  # type: ignore[assignment]
        if decision is not None:
            notes.append(decision.sentence(target))
        grouped = _group_column(obs, groups, keep, path)
        if spec_task in ("binary", "multiclass"):
            design = design_classes(
                yser.map(label_string), grouped, folds, path=path, column=target,
                groups_column=groups, min_training=min_training_per_class,
            )  # fmt: skip
            choice, left_out = design.folds, design.left_out
            if left_out:
                keep[np.flatnonzero(keep)[~design.keep]] = False
                yser = yser[design.keep]
                notes.append(
                    left_out_note(left_out, target, groups is not None, min_training_per_class)
                )
                if spec_task == "multiclass" and yser.nunique() == 2:
                    if decision is None:  # --task multiclass: never switched silently
                        _refuse_two_classes(left_out, yser, target, path)  # type: ignore[arg-type]
                    spec_task = "binary"
        else:
            choice = design_folds(
                len(yser), "samples", None if grouped is None else int(grouped.nunique()),
                folds, path=path, column=target, groups_column=groups,
            )  # fmt: skip
        _check_positive_class(positive_class, spec_task, left_out, yser, target, path)  # type: ignore[arg-type]
        y, classes = encode_outcome(yser, spec_task, positive_class, path, target)  # type: ignore[arg-type]
        if decision is not None and spec_task != decision.task:
            because = _binary_because(left_out, classes, target, positive_class)  # type: ignore[arg-type]
            decision = decision.settled(spec_task, because)
            notes.append(str(decision.change_sentence()))
    if choice.changed:
        notes.append(folds_note(choice))

    spec = StudySpec(
        task=spec_task,
        target=target if time is None else None,
        time=time,
        event=event,
        sensitive=sensitive,
        use_sensitive=use_sensitive,
        groups=groups,
        site=site,
        exclude=exclude,
        positive_class=classes[1] if spec_task == "binary" else None,
        task_detected=detected,
    )
    features, n_dropped, drop_notes = feature_table(
        adata,
        keep,
        path,
        role_columns=spec.role_columns,
        exclude=spec.exclude,
        sensitive=spec.sensitive,
        use_sensitive=spec.use_sensitive,
        learned_features=learned_features,
    )
    notes.extend(drop_notes)
    obs = obs.loc[keep].copy()

    group_codes = None
    if groups is not None:
        group_codes = pd.factorize(obs[groups].astype(str))[0]
    study = Study(
        spec=spec,
        features=features,
        y=y,
        obs=obs,
        classes=classes,
        groups=group_codes,
        notes=notes,
        warnings=warnings,
        n_features_dropped=n_dropped,
        folds=choice,
        classes_left_out=left_out,
        task_decision=decision,
        min_training_per_class=min_training_per_class,
    )
    warnings.extend(_sample_size_warnings(study))
    warnings.extend(identifier_warnings(study.features))
    return study


def _data_path(adata: ad.AnnData) -> str:
    files = adata.uns.get("provenance", {}).get("files", [])
    for f in files:
        if f.get("role") == "data":
            return str(f.get("display_path", f.get("path")))
    return "data"


def _group_column(
    obs: pd.DataFrame, groups: str | None, keep: np.ndarray, path: str
) -> pd.Series | None:
    """The group of each modelled sample as text (None without --groups); every modelled
    sample needs one."""
    if groups is None:
        return None
    gser = obs[groups][keep]
    if gser.isna().any():
        raise UserError(
            errors.OPTION_INVALID,
            option="--groups",
            reason=f"column '{groups}' in {path} has missing values; every sample needs a group",
        )
    return pd.Series(gser.astype(str).to_numpy())


def _left_out_words(left_out: tuple[LeftOutClass, ...]) -> str:
    word = "class" if len(left_out) == 1 else "classes"
    return f"{word} {', '.join(c.words() for c in left_out)}"


def _refuse_two_classes(
    left_out: tuple[LeftOutClass, ...], yser: pd.Series, target: str, path: str
) -> None:
    """--task multiclass when only 2 classes are left to learn: refused, not switched."""
    first, second = class_labels(yser)
    raise UserError(
        errors.OPTION_INVALID,
        option="--task multiclass",
        reason=f"only 2 classes of '{target}' in {path} can be learned, '{first}' and "
        f"'{second}', once {_left_out_words(left_out)} "
        f"{'is' if len(left_out) == 1 else 'are'} left out (too few samples to learn); use "
        "--task binary (or leave --task out), or add samples of the classes left out",
    )


def _check_positive_class(
    positive: str | None,
    task: Task,
    left_out: tuple[LeftOutClass, ...],
    yser: pd.Series,
    target: str,
    path: str,
) -> None:
    """--positive-class needs the task as modelled, after the classes too small to learn
    were left out, to be binary, and names one of the classes that remain."""
    if positive is None:
        return
    if task != "binary":
        raise UserError(
            errors.OPTION_INVALID,
            option="--positive-class",
            reason=f"applies to a binary outcome, but '{target}' in {path} is a "
            f"{task} outcome; drop --positive-class (or set --task)",
        )
    gone = {c.label: c for c in left_out}
    if positive in gone:
        raise UserError(
            errors.OPTION_INVALID,
            option="--positive-class",
            reason=f"class {gone[positive].words()} of '{target}' in {path} is left out "
            "(too few samples to learn); choose one of the classes that remain: "
            + ", ".join(f"'{c}'" for c in class_labels(yser)),
        )


def _binary_because(
    left_out: tuple[LeftOutClass, ...], classes: list[str], target: str, positive: str | None
) -> str:
    """Why a study detected as multiclass is modelled as binary (classes: positive last)."""
    chosen = "given with --positive-class" if positive else "set --positive-class to choose"
    return (
        f"{_left_out_words(left_out)} of '{target}' "
        f"{'was' if len(left_out) == 1 else 'were'} left out (too few samples to learn) and "
        f"only 2 classes remain, '{classes[0]}' and '{classes[1]}'; the positive class is "
        f"'{classes[1]}' ({chosen})"
    )


def _roles(target, time, event, sensitive, groups, site):  # type: ignore[no-untyped-def]
    if target:
        yield target, "target", "target"
    if time:
        yield time, "time", "time"
        yield event, "event", "event"
    for s in sensitive:
        yield s, "sensitive", "sensitive"
    if groups:
        yield groups, "groups", "groups"
    if site:
        yield site, "site", "site"


def _check_roles(target, time, event, sensitive, groups, site) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, str] = {}
    for col, role, _ in _roles(target, time, event, sensitive, groups, site):
        if col in seen and not (role == "sensitive" and seen[col] == "sensitive"):
            raise UserError(errors.ROLE_CONFLICT, column=col, first=seen[col], second=role)
        seen[col] = role


def _sample_size_warnings(study: Study) -> list[str]:
    out = []
    n, p = study.n_samples, study.features.shape[1]
    if n < SMALL_N:
        out.append(
            f"Small sample: n = {n} < {SMALL_N}. Estimates have wide uncertainty; read the CI, "
            "not the point value, and seek an independent cohort."
        )
    s = study.spec
    if s.task in ("binary", "multiclass", "survival"):
        if s.task == "survival":
            events = int(study.time_event[1].sum())
            label = "events"
        else:
            events = int(np.bincount(study.y).min())
            label = "samples in the smallest class"
        epv = events / max(p, 1)
        if epv < MIN_EVENTS_PER_FEATURE:
            out.append(
                f"Few events per feature: {events} {label} for {p} features "
                f"({epv:.2g} per feature; < {MIN_EVENTS_PER_FEATURE:g} is the usual rule of "
                "thumb). Models rely on penalization and selection inside CV; expect unstable "
                "feature lists."
            )
    return out
