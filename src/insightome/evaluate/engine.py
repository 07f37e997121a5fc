"""Out-of-fold predictions of every candidate over a resampling plan.

Every (repeat, fold, candidate) fit is an independent unit of work dispatched through
joblib, so the parallel backend is a setting (local processes by default). A fit that
fails is recorded (NaN predictions) and its candidate is excluded from selection; the
run never stops because one configuration could not be fitted.

Warnings raised during a fit (a solver that stopped at its iteration limit, ...) are not
shown in the middle of a progress bar, nor hidden: :func:`counted_warnings` counts them
per category in the worker, the counts travel back with the predictions (and into the
fit cache), and :func:`fit_warning_notes` summarises them per candidate for the run's
notes and ``run.log``.

Every fit is stored in the fit cache as soon as it comes back, in whatever order the
workers finish, and recorded in the plan's order once all are in (so a resumed run, part
of whose fits come from the cache, adds them up as an uninterrupted run does). When the
processes running the fits are lost (a Dask worker killed too often, the scheduler gone,
a loky worker killed), :class:`~insightome.errors.WorkersLost` says so in one line; the
fits stored until then are kept for ``--resume``.
"""

from __future__ import annotations

import re
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config
from threadpoolctl import threadpool_limits

from insightome.compute.cache import CacheEntry, FitCache
from insightome.errors import WorkersLost
from insightome.evaluate.splitters import ResamplingPlan
from insightome.models.candidates import Candidate

ProgressFn = Callable[[int], None]

# What the parallel backends raise when the processes running the fits are gone (by class
# name: dask.distributed is imported only when a cluster is asked for). A fit's own error
# never gets here: _fit_predict records it.
LOST_WORKER_ERRORS = {
    # distributed: a fit was running on each of three workers when they died; usually a fit
    # that needs more memory than a worker has
    "KilledWorker": "a fit's worker process died each time it was tried (out of memory?)",
    "FutureCancelledError": "the scheduler dropped the fits (it lost its workers or stopped)",
    "CancelledError": "the scheduler cancelled the fits",
    "CommClosedError": "the connection to the scheduler closed",
    # only where the user's Dask config sets distributed.scheduler.no-workers-timeout
    "NoValidWorkerError": "no worker was left to run the fits",
    "TerminatedWorkerError": "a local worker process was killed",  # joblib's loky pool
}


@dataclass
class CVPredictions:
    """Out-of-fold predictions, shape (repeats, candidates, n_samples, k)."""

    oof: np.ndarray
    fit_seconds: np.ndarray  # (candidates,) summed over folds
    failed_folds: np.ndarray  # (candidates,)
    errors: dict[int, str] = field(default_factory=dict)
    # per candidate: warning category -> number of its fits that raised it
    fit_warnings: list[dict[str, int]] = field(default_factory=list)
    n_fits: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # (candidates,)


# Warnings a fit raises in ordinary use, counted under what they mean for the run (the
# notes then say e.g. "constant feature(s) in a training fold ... in 3 of 15 fits");
# every other warning is counted under its category name.
KNOWN_WARNINGS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"Features .* are constant"),
        "constant feature(s) in a training fold (F = NaN, ranked last by the selection)",
    ),
    (
        re.compile(r"The least populated class"),
        "a class with one training sample (Platt map fitted on the SVM's training scores)",
    ),
    (
        re.compile(r"note terms: no term is in at least"),
        "no note term in enough training samples' notes (--notes-tfidf; fitted on the table alone)",
    ),
)


def warning_name(message: warnings.WarningMessage) -> str:
    """What a warning is counted as: its meaning if known (:data:`KNOWN_WARNINGS`), else
    its category name."""
    text = str(message.message)
    for pattern, name in KNOWN_WARNINGS:
        if pattern.search(text):
            return name
    return message.category.__name__


@contextmanager
def counted_warnings() -> Iterator[Counter[str]]:
    """Count the warnings raised inside the block (:func:`warning_name`), instead of
    showing them.

    The counter is filled when the block exits (also when it raises)::

        with counted_warnings() as raised:
            model.fit(X, y)
        raised  # e.g. Counter({"ConvergenceWarning": 1})
    """
    raised: Counter[str] = Counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every one, not the first per code location
        try:
            yield raised
        finally:
            raised.update(warning_name(w) for w in caught)


def describe_warnings(counts: Mapping[str, int], of: int | None = None) -> str:
    """``"ConvergenceWarning in 12 of 15 fits"`` (``of`` fits) or ``"ConvergenceWarning (2)"``.

    ConvergenceWarning first (a solver stopped before its tolerance), then by count.
    """
    order = sorted(counts, key=lambda c: (c != "ConvergenceWarning", -counts[c], c))
    if of is None:
        return ", ".join(f"{c} ({counts[c]})" for c in order)
    return ", ".join(f"{c} in {counts[c]} of {of} fits" for c in order)


def fit_warning_notes(names: Sequence[str], cv: CVPredictions) -> list[str]:
    """One note per candidate whose cross-validation fits raised warnings."""
    return [
        f"fit warnings: {name}: {describe_warnings(counts, int(cv.n_fits[c]))}"
        for c, (name, counts) in enumerate(zip(names, cv.fit_warnings, strict=True))
        if counts
    ]


def prediction_width(task: str, n_classes: int) -> int:
    return n_classes if task == "multiclass" else 1


def predict_matrix(
    model: object, X: pd.DataFrame | np.ndarray, task: str, n_classes: int
) -> np.ndarray:
    """Predictions as an (n, k) array in insightome's convention for the task."""
    if task in ("binary", "multiclass"):
        proba = model.predict_proba(X)  # type: ignore[attr-defined]
        full = np.zeros((len(X), n_classes))
        full[:, np.asarray(model.classes_, dtype=int)] = proba  # type: ignore[attr-defined]
        return full[:, 1:2] if task == "binary" else full
    return np.asarray(model.predict(X), dtype=float).reshape(-1, 1)  # type: ignore[attr-defined]


def fit_table(candidate: Candidate, features: pd.DataFrame) -> pd.DataFrame | np.ndarray:
    """The table a fold's fit sees: its values when the candidate fits on arrays and every
    column has one numpy number type (:attr:`Candidate.fits_on_arrays`; the same numbers,
    without scikit-learn checking each column's dtype in every step: on a 7,000-gene table
    a third of a fit), else the frame."""
    types = set(features.dtypes)
    if candidate.fits_on_arrays and len(types) == 1:
        (kind,) = types
        if isinstance(kind, np.dtype) and kind.kind in "iuf":
            return features.to_numpy()
    return features


def table_rows(data: pd.DataFrame | np.ndarray, index: np.ndarray) -> pd.DataFrame | np.ndarray:
    """The rows of :func:`fit_table`'s table at ``index`` (positions)."""
    return data.iloc[index] if isinstance(data, pd.DataFrame) else data[index]


def _fit_predict(
    candidate: Candidate,
    features: pd.DataFrame,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    n_classes: int,
    seed: int,
) -> CacheEntry:
    start = time.perf_counter()
    raised: Counter[str] = Counter()
    try:
        # one fit = one core on every backend: BLAS/OpenMP pools inside a fit would
        # oversubscribe the cores when several fits run at once, and joblib calls inside
        # scikit-learn (ColumnTransformer, forests) must not inherit the Dask backend,
        # which would send each of them back through the scheduler as nested tasks
        with (
            threadpool_limits(limits=1),
            parallel_config(backend="sequential"),
            counted_warnings() as raised,
        ):
            model = candidate.build(features, seed)
            data = fit_table(candidate, features)
            model.fit(table_rows(data, train), y[train])
            pred = predict_matrix(model, table_rows(data, test), candidate.task, n_classes)
        if not np.all(np.isfinite(pred)):
            return CacheEntry(
                None, time.perf_counter() - start, "non-finite predictions", dict(raised)
            )
        return CacheEntry(pred, time.perf_counter() - start, None, dict(raised))
    except Exception as exc:  # a failing configuration must not stop the run
        error = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return CacheEntry(None, time.perf_counter() - start, error, dict(raised))


def _fit_predict_at(
    position: int,
    candidate: Candidate,
    features: pd.DataFrame,
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_classes: int,
    seed: int,
) -> tuple[int, CacheEntry]:
    """:func:`_fit_predict`, returned with its position in the plan (results come back
    in the order the workers finish). The outcome and the fold's indices come in a tuple,
    which goes with the task: joblib's Dask backend would otherwise scatter each array
    to one worker, and that worker's death would lose them beyond recovery (the run then
    stops, where it can go on on the other workers)."""
    y, train, test = arrays
    return position, _fit_predict(candidate, features, y, train, test, n_classes, seed)


def lost_workers(exc: BaseException) -> str | None:
    """What ``exc`` says, in words, when it says the processes running the fits were lost
    (else None): ``"the connection to the scheduler closed (CommClosedError)"``."""
    for cls in type(exc).__mro__:
        if cls.__name__ in LOST_WORKER_ERRORS:
            return f"{LOST_WORKER_ERRORS[cls.__name__]} ({type(exc).__name__})"
    return None


def cross_validated_predictions(
    features: pd.DataFrame,
    y: np.ndarray,
    candidates: list[Candidate],
    plan: ResamplingPlan,
    *,
    n_classes: int = 0,
    seed: int = 0,
    n_jobs: int = 1,
    progress: ProgressFn | None = None,
    cache: FitCache | None = None,
) -> CVPredictions:
    """Fit every candidate on every training fold; predict its test fold.

    With a ``cache``, fits found there are reused and every new fit is stored as soon as
    it finishes (so an interrupted run loses at most the fits in flight).
    """
    task = candidates[0].task
    k = prediction_width(task, n_classes)
    oof = np.full((plan.repeats, len(candidates), len(y), k), np.nan)
    seconds = np.zeros(len(candidates))
    failed = np.zeros(len(candidates), dtype=int)
    errors: dict[int, str] = {}
    warned: list[Counter[str]] = [Counter() for _ in candidates]
    n_fits = np.zeros(len(candidates), dtype=int)

    units = []  # (repeat, candidate, test indices) in the plan's order
    entries: dict[int, CacheEntry] = {}
    todo = []
    for r, folds in enumerate(plan.splits):
        for train, test in folds:
            for c, cand in enumerate(candidates):
                key = cache.key(cand, y, train, test, seed) if cache is not None else ""
                cached = cache.get(key) if cache is not None else None
                if cached is not None:
                    entries[len(units)] = cached
                    if progress is not None:
                        progress(1)
                else:
                    todo.append((len(units), c, train, test, key))
                units.append((r, c, test))
    keys = {position: key for position, _, _, _, key in todo}
    jobs = (
        delayed(_fit_predict_at)(
            position, candidates[c], features, (y, train, test), n_classes, seed
        )
        for position, c, train, test, _ in todo
    )
    results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs)
    try:
        for position, entry in results:
            if cache is not None:
                cache.put(keys[position], entry)
            entries[position] = entry
            if progress is not None:
                progress(1)
    except Exception as exc:
        reason = lost_workers(exc)
        if reason is not None:
            raise WorkersLost(reason) from exc
        raise

    for position, (r, c, test) in enumerate(units):
        pred, secs, err, raised = entries[position]
        seconds[c] += secs
        n_fits[c] += 1
        warned[c].update(raised.keys())  # fits that raised each category
        if pred is None:
            failed[c] += 1
            errors.setdefault(c, err or "failed")
        else:
            oof[r, c, test] = pred
    return CVPredictions(oof, seconds, failed, errors, [dict(w) for w in warned], n_fits)


def n_units(candidates: list[Candidate], plan: ResamplingPlan) -> int:
    """Number of fits :func:`cross_validated_predictions` will run."""
    return len(candidates) * plan.folds * plan.repeats
