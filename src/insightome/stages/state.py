"""The run state: what the stages of a run read and extend, field by field.

One :class:`RunState` travels through read → study → screen → plan → select → estimate →
(learn →) refit → discover → audit → document → write. The first block of fields is given
before the first stage (the options, the log, the ledger); every later block belongs to the
stage that sets it (its :attr:`insightome.stages.Stage.makes`), so a stage's output is a
named, typed set of fields, and what a stage needs is the fields of the stages before it. A
field is None until its stage has run (or when its stage was skipped).

Why one state rather than a separate output type per stage: a stage plugged in later
(``Stage("my_stage", fn, after="refit")``) reads whatever the stages before it made
without the stages between them having to pass it on, and checkpointing a stage is saving
the fields it made (:mod:`insightome.stages.checkpoints`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from insightome.compute.cache import data_fingerprint
from insightome.compute.checkpoint import Checkpoint
from insightome.compute.fit_backend import FitBackend
from insightome.compute.ledger import EnergyLedger
from insightome.evaluate.bbc import BBCResult
from insightome.evaluate.permutation import PermutationResult
from insightome.evaluate.splitters import ResamplingPlan
from insightome.models.candidates import Candidate
from insightome.options import RunOptions
from insightome.run_directory import Run
from insightome.stages.progress import RunLog, RunProgress
from insightome.study import Study


@dataclass
class RunState:
    """Everything a run knows so far (module docstring)."""

    # given before the first stage
    data: Any  # an AnnData, or the path of a data file
    options: RunOptions
    invocation: dict[str, Any]  # results.json["invocation"] (plus the data's sha256)
    log: RunLog = field(default_factory=RunLog)
    ledger: EnergyLedger | None = None
    timings: dict[str, float] = field(default_factory=dict)  # stage → seconds
    started: float = field(default_factory=time.perf_counter)
    checkpoint: Checkpoint | None = None  # the run's .partial directory, once it has one
    new_partial: tuple[Checkpoint, Path | None] | None = None  # made by this call (+ runs dir)
    featurizers: tuple[Any, ...] = ()  # insightome.stages.Featurizer, applied by "read"
    extras: dict[str, Any] = field(default_factory=dict)  # plugged-in stages' outputs
    # the .partial directory's progress.json (in no stage's makes: never checkpointed)
    progress: RunProgress = field(default_factory=RunProgress, repr=False)

    # read: the data as AnnData (featurizers applied) and the gene sets
    adata: ad.AnnData | None = None
    gene_sets: Any = None
    data_sha256: list[str] | None = None
    notes: dict[str, Any] | None = None  # --notes: results.json "clinical_notes" (notes_features)
    note_texts: pd.Series | None = None  # --notes-tfidf: each sample's notes, negation-marked
    images: dict[str, Any] | None = None  # --image-column: results.json "images" (images_features)
    image_input: Any = None  # --image-features cnn: (sample IDs, (N, C, S, S) float16 images)
    image_refs: Any = None  # --image-column: (sample ID → image path, the manifest's folder)

    # study: the modelling table, the audit settings, the data audit and the run's name
    study: Study | None = None
    audit_settings: Any = None
    data_audit: Any = None
    run_name: str | None = None
    image_bank: Any = None  # --image-features cnn: models.image_cnn.ImageBank (registered)

    # screen: columns that may leak the outcome (leakage_screen.LeakageScreen), warned of
    leakage_screen: Any = None

    # plan: candidates, resampling plan and budget decisions
    candidates: list[Candidate] | None = None
    plan: ResamplingPlan | None = None
    repeats: int | None = None
    permutations: int | None = None
    budget_info: dict[str, Any] | None = None

    # select: every candidate cross-validated
    search: Any = None  # evaluate.search.BBCSearchCV: select, estimate and refit are its steps
    cv: Any = None  # evaluate.engine.CVPredictions

    # estimate: the winner, its BBC-CV estimate and the permutation null
    thresholds: np.ndarray | None = None
    bbc: BBCResult | None = None
    winner: Candidate | None = None
    permutation: PermutationResult | None = None
    augmentation: dict[str, Any] | None = None  # --augment: results.json "augmentation"
    quantum: dict[str, Any] | None = None  # --candidates …,quantum: results.json "quantum"

    # learn (--learning-curve): results.json "learning_curve" (stages.learning)
    learning_curve: dict[str, Any] | None = None

    # refit: the winner fitted on all samples
    model: Any = None

    # discover: discover.discovery.Discovery
    found: Any = None

    # audit: the audit section of results.json, conformal thresholds for the model card
    audit_result: dict[str, Any] | None = None
    conformal_thresholds: Any = None

    # document: the run object (results, predictions, model card, documents) and its HTML
    result: Run | None = None
    html: str | None = None

    _fit_cache: Any = field(default=None, repr=False)
    _fit_backend: FitBackend | None = field(default=None, repr=False)

    def fit_backend(self) -> FitBackend:
        """Where the fits run (the options' backend), made on first use; a cluster it
        starts writes its certificates and worker logs in the run's .partial directory."""
        if self._fit_backend is None:
            o = self.options
            shared = self.checkpoint.directory if self.checkpoint is not None else None
            self._fit_backend = FitBackend(
                o.scheduler, o.slurm, n_jobs=o.n_jobs, shared_directory=shared, log=self.log,
                say=_to_stderr if o.progress else None,
            )  # fmt: skip
        return self._fit_backend

    def release_workers(self) -> None:
        """Close the fits' cluster, if one was started (SLURM jobs are cancelled)."""
        if self._fit_backend is not None:
            self._fit_backend.close()

    def fit_cache(self) -> Any:
        """The checkpoint's fit cache for this study (None without a checkpoint)."""
        if self._fit_cache is None and self.checkpoint is not None and self.study is not None:
            study = self.study
            fingerprint = data_fingerprint(study.features, study.y, study.spec.task)
            self._fit_cache = self.checkpoint.cache(fingerprint)
        return self._fit_cache

    @property
    def skipped(self) -> frozenset[str]:
        return self.options.skipped()

    def require(self, name: str) -> Any:
        """A field a stage cannot go on without (set by an earlier stage)."""
        value = getattr(self, name)
        if value is None:
            raise RuntimeError(f"run state has no {name!r}: the stage that makes it did not run")
        return value


def _to_stderr(message: str) -> None:
    """A cluster event, as it happens (it also goes to run.log and results.json)."""
    print(message, file=sys.stderr, flush=True)
