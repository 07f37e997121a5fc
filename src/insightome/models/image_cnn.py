"""A small CNN trained inside each resampling fold (``--image-features cnn``).

:class:`CNNScore` wraps a candidate configuration the way
:class:`~insightome.models.note_terms.NoteTerms` does. Its ``fit(X, y)`` looks up the images
of the samples it is given (by ``X``'s index, the sample IDs) in an :class:`ImageBank`,
trains :class:`SmallCNN` on them and appends the CNN's score as a column (``cnn:score``: the
logit of the positive class; ``cnn:score:<class>``: each class's log-probability) before
fitting the candidate's pipeline on the result. The score of a *training* row comes from a
CNN that did not see it (cross-fitting over ``inner_folds`` inner folds, group-aware), so the
candidate learns how far to trust the CNN from honest scores; a final CNN trained on all the
training rows scores the rows met at predict time. Everything the CNN learns is learnt from
the training rows only: under any resampling no test image reaches its model.

The same CNN fits serve every candidate of a fold: they are cached by (image table, training
rows, outcome, CNN parameters, seed, inner folds) in this process and, when the environment
variable ``INSIGHTOME_CNN_CACHE`` names a directory, on disk (so joblib workers share them).

A fitted :class:`SmallCNN` keeps its weights as NumPy arrays: a pickled model needs no torch
objects to be unpickled (torch is needed to predict, and is imported inside the functions
that use it). :func:`without_images` gives the model to save (no image table; the CNN is
kept); :func:`with_images` gives it the images of new samples.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import pickle
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from insightome import __version__, errors
from insightome.errors import UserError
from insightome.models.fit_features import AddsFeaturesInFit

SCORE_PREFIX = "cnn:"
SCORE_COLUMN = "cnn:score"
DEFAULT_SIZE = 28
TASKS = ("binary", "multiclass")
CACHE_ENV = "INSIGHTOME_CNN_CACHE"
_MEMORY_CACHE_SIZE = 128  # fitted CNN sets kept in this process (each a few hundred kB)


def _torch() -> Any:
    """torch, or the one-line hint to install the images extra."""
    try:
        import torch
    except ImportError as exc:
        raise UserError(errors.IMAGES_EXTRA_MISSING) from exc
    return torch


def require_torch() -> None:
    """Fail early, in one line, when the CNN's extra is absent (the plan stage calls it
    before anything is fitted: a fit that fails is otherwise a failed fold)."""
    _torch()


# -- the image table --------------------------------------------------------------------------

# The image tables of this process's runs, by digest (the read stage registers them): an
# ImageBank written to a checkpoint holds only its digest (reduce_by_reference,
# stages.checkpoints) and finds its pixels here once a resumed run's study stage has
# rebuilt it.
_REGISTRY: dict[str, tuple[pd.Index, np.ndarray, pd.Series | None]] = {}
_FOLDERS: dict[str, str | None] = {}  # digest → the bank's cache_dir


class ImageBank:
    """Each sample's image, resized to a common square size and scaled to [0, 1], looked up
    by sample ID: the CNN's input table (``float16`` array ``(N, C, S, S)``).

    Immutable and compared by digest (SHA-256 of the IDs, the pixels and the groups), so a
    candidate holding it stays cheap to copy, compare and name; its repr never shows pixels.
    ``groups`` (sample ID → group, e.g. patient) keeps a group's images on one side of the
    CNN's inner splits."""

    __slots__ = ("_groups", "_ids", "_images", "_n", "cache_dir", "channels", "digest", "size")

    def __init__(
        self,
        ids: Sequence[Any] | pd.Index,
        images: np.ndarray,
        groups: pd.Series | None = None,
        cache_dir: str | None = None,
    ) -> None:
        index = pd.Index([str(i) for i in ids])
        # where CNNScore keeps its fitted CNNs on disk, shared by worker processes (the run's
        # .partial directory or a temporary one; not part of the digest)
        self.cache_dir = cache_dir
        if index.has_duplicates:
            dup = index[index.duplicated()].unique()[:3].tolist()
            raise ValueError(f"ImageBank: duplicate sample ID(s) {dup}")
        arr = np.asarray(images)
        if arr.ndim != 4 or arr.shape[2] != arr.shape[3] or arr.shape[0] != len(index):
            raise ValueError(
                f"ImageBank needs images of shape (N, C, S, S) for {len(index)} IDs, "
                f"got {arr.shape}"
            )
        arr = np.ascontiguousarray(arr, dtype=np.float16)
        arr.setflags(write=False)
        if groups is not None:
            groups = pd.Series(groups)
            groups.index = groups.index.astype(str)
            missing = index.difference(groups.index)
            if len(missing):
                raise ValueError(f"ImageBank: {len(missing)} sample(s) have no group")
            groups = groups.reindex(index)
        self._ids, self._images, self._groups = index, arr, groups
        self._n, self.channels, self.size = len(index), int(arr.shape[1]), int(arr.shape[2])
        self.digest = _bank_digest(index, arr, groups)

    # -- checkpoints: by digest, like NoteTexts ------------------------------------------
    def register(self) -> ImageBank:
        """Make these images findable by digest in this process (for a resumed run's
        checkpoints, which refer to them); the read stage registers a run's images."""
        _REGISTRY[self.digest] = self._data()
        _FOLDERS[self.digest] = self.cache_dir
        return self

    @classmethod
    def _reference(cls, digest: str, n: int, channels: int, size: int) -> ImageBank:
        made = cls.__new__(cls)
        data = _REGISTRY.get(digest)
        made._ids, made._images, made._groups = data if data is not None else (None, None, None)
        made._n, made.channels, made.size, made.digest = n, channels, size, digest
        made.cache_dir = _FOLDERS.get(digest)
        return made

    def __reduce__(self) -> tuple[Any, ...]:
        ids, images, groups = self._data()
        return (ImageBank, (ids, images, groups, self.cache_dir))

    def _data(self) -> tuple[pd.Index, np.ndarray, pd.Series | None]:
        if self._images is None:  # restored from a checkpoint before the images were read
            data = _REGISTRY.get(self.digest)
            if data is None:
                raise UserError(errors.IMAGES_NOT_READ)
            self._ids, self._images, self._groups = data
        return self._ids, self._images, self._groups

    # -- access ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def ids(self) -> pd.Index:
        return self._data()[0]

    def _positions(self, ids: Iterable[Any]) -> np.ndarray:
        index = self._data()[0]
        keys = pd.Index([str(i) for i in ids])
        pos = index.get_indexer(keys)
        if (pos < 0).any():
            missing = keys[pos < 0]
            raise UserError(
                errors.IMAGES_UNKNOWN_SAMPLES,
                n=len(missing),
                examples=", ".join(missing[:3].tolist()),
            )
        return pos

    def lookup(self, ids: Iterable[Any]) -> np.ndarray:
        """The images of these sample IDs, in their order: ``float16`` ``(n, C, S, S)``."""
        return self._data()[1][self._positions(ids)]

    def groups_for(self, ids: Iterable[Any]) -> np.ndarray | None:
        """The groups of these sample IDs (None when the table has none)."""
        groups = self._data()[2]
        if groups is None:
            return None
        return groups.to_numpy()[self._positions(ids)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImageBank) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:  # never the pixels
        return (
            f"ImageBank({self._n} samples, {self.channels}x{self.size}x{self.size}, "
            f"sha256 {self.digest[:12]})"
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> ImageBank:
        return self  # immutable: sklearn's clone need not copy the images


def _bank_digest(ids: pd.Index, images: np.ndarray, groups: pd.Series | None) -> str:
    h = hashlib.sha256()
    h.update(f"{images.shape}\x1e".encode())
    for key in ids:
        h.update(f"{key}\x1f".encode())
    h.update(b"\x1e")
    h.update(images.tobytes())
    if groups is not None:
        h.update(b"\x1egroups\x1e")
        for g in groups.tolist():
            h.update(f"{g}\x1f".encode())
    return h.hexdigest()


class _WithoutImages(pickle.Pickler):
    """A pickler that writes every :class:`ImageBank` by reference (its digest)."""

    def reducer_override(self, obj: Any) -> Any:
        return reduce_by_reference(obj)


def reduce_by_reference(obj: Any) -> Any:
    """For a pickler's ``reducer_override``: an :class:`ImageBank` as its digest (found
    again through :meth:`ImageBank.register`); ``NotImplemented`` for anything else."""
    if isinstance(obj, ImageBank):
        return (ImageBank._reference, (obj.digest, len(obj), obj.channels, obj.size))
    return NotImplemented


def dump_without_images(obj: Any, stream: BinaryIO) -> None:
    """Pickle ``obj`` to ``stream`` with every :class:`ImageBank` in it written as its digest
    (a run's checkpoints). Elsewhere (fits sent to joblib workers) the images travel with it."""
    _WithoutImages(stream, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)


def prepare_image(image: np.ndarray, size: int = DEFAULT_SIZE) -> np.ndarray:
    """One 2D image as the CNN sees it: ``float32`` ``(C, size, size)`` in [0, 1].

    Grey ``(H, W)`` (or ``(H, W, 1)``) gives one channel, colour ``(H, W, 3)`` three (RGBA:
    the alpha channel is dropped). The image is resized with anti-aliasing (a non-square
    image is stretched to the square) and scaled to [0, 1] by its own minimum and maximum
    (a constant image is all zeros). A 3D volume raises ValueError: the CNN is 2D."""
    from skimage.transform import resize

    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] in (1, 3, 4):
        arr = arr[..., 0] if arr.shape[-1] == 1 else arr[..., :3]
    elif arr.ndim != 2:
        raise ValueError(
            f"the CNN takes 2D images (H, W) or (H, W, 3); got an array of shape {arr.shape}"
            + (" (a 3D volume)" if arr.ndim == 3 else "")
        )
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError("the image has missing or infinite pixel values")
    if arr.shape[:2] != (size, size):
        arr = resize(arr, (size, size), anti_aliasing=True, preserve_range=True, order=1)
    lo, hi = float(arr.min()), float(arr.max())
    arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    arr = arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)
    return np.ascontiguousarray(arr, dtype=np.float32)


def bank_from_arrays(
    ids: Sequence[Any] | pd.Index,
    images: Iterable[np.ndarray],
    size: int = DEFAULT_SIZE,
    groups: pd.Series | None = None,
) -> ImageBank:
    """An :class:`ImageBank` from 2D images (an iterable: they can stream from disk), each
    prepared by :func:`prepare_image`. When some are colour, grey ones get their one
    channel repeated three times. A 3D image raises ValueError naming its sample ID."""
    ids = list(ids)
    prepared: list[np.ndarray] = []
    for i, image in enumerate(images):
        try:
            prepared.append(prepare_image(image, size).astype(np.float16))
        except ValueError as exc:
            sample = ids[i] if i < len(ids) else f"#{i}"
            raise ValueError(f"sample {sample}: {exc}") from exc
    if len(prepared) != len(ids):
        raise ValueError(f"{len(ids)} sample IDs but {len(prepared)} images")
    channels = max((p.shape[0] for p in prepared), default=1)
    stack = np.empty((len(prepared), channels, size, size), dtype=np.float16)
    for i, p in enumerate(prepared):
        stack[i] = p if p.shape[0] == channels else np.repeat(p, channels, axis=0)
    return ImageBank(ids, stack, groups)


# -- the CNN ---------------------------------------------------------------------------------


class CNNConvergenceWarning(ConvergenceWarning):
    """The CNN stopped at its maximum number of epochs while its validation loss was still
    improving, or was trained without early stopping (too few rows for an inner split)."""


def _build_module(torch: Any, channels: int, width: int, dropout: float, n_out: int) -> Any:
    """Three conv blocks (3x3, batch norm, ReLU; 2x2 max-pool after the first two), global
    average pooling, dropout and a linear layer: ``module.features`` gives the embedding."""
    nn = torch.nn

    def block(c_in: int, c_out: int, pool: bool) -> list[Any]:
        layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out)]
        layers.append(nn.ReLU())
        return [*layers, nn.MaxPool2d(2)] if pool else layers

    w = int(width)
    features = nn.Sequential(
        *block(channels, w, True),
        *block(w, 2 * w, True),
        *block(2 * w, 4 * w, False),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    head = nn.Sequential(nn.Dropout(float(dropout)), nn.Linear(4 * w, n_out))
    return nn.Sequential(OrderedDict(features=features, head=head))


@contextlib.contextmanager
def _torch_settings(torch: Any, n_threads: int, seed: int | None = None) -> Iterator[None]:
    """Threads, deterministic algorithms and (for a fit) the seeded global RNG, restored after."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(max(1, int(n_threads)))
    torch.use_deterministic_algorithms(True)
    try:
        if seed is None:
            yield
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seed))
                yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def max_folds(y: np.ndarray, groups: np.ndarray | None) -> int:
    """The most stratified folds these rows allow: every class in every fold's training
    part needs the class in at least that many samples — with groups, that many distinct
    groups (a group's rows stay in one fold)."""
    classes = np.unique(y)
    if groups is None:
        return int(min((y == c).sum() for c in classes))
    groups = np.asarray(groups)
    return int(min(len(np.unique(groups[y == c])) for c in classes))


def _inner_split(
    y: np.ndarray, groups: np.ndarray | None, n_splits: int, seed: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The first fold of a stratified (group-aware) split: (train, validation) positions, or
    None when the data are too small for one (a class or the groups fewer than 2 splits)."""
    k = min(int(n_splits), max_folds(y, groups))
    if k < 2:
        return None
    if groups is None:
        splitter: Any = StratifiedKFold(k, shuffle=True, random_state=seed)
        return next(splitter.split(np.zeros(len(y)), y))
    # StratifiedGroupKFold balances classes as well as whole groups allow: a fold may miss a
    # class, and a validation part without every class has no AUC to stop on. Every fold of
    # a few shuffles is tried; none holding every class on both sides → no inner split
    classes = np.unique(y)
    for attempt in range(INNER_SPLIT_TRIES):
        splitter = StratifiedGroupKFold(k, shuffle=True, random_state=seed + attempt)
        for train, valid in splitter.split(np.zeros(len(y)), y, groups):
            if len(np.unique(y[valid])) == len(classes) == len(np.unique(y[train])):
                return train, valid
    return None


INNER_SPLIT_TRIES = 10


def _check_images(X: Any) -> np.ndarray:
    arr = np.asarray(X)
    if arr.ndim != 4 or arr.shape[2] != arr.shape[3]:
        raise ValueError(f"SmallCNN takes images of shape (N, C, S, S); got {arr.shape}")
    return arr


class SmallCNN(ClassifierMixin, BaseEstimator):
    """A small convolutional classifier on images ``(N, C, S, S)`` scaled to [0, 1].

    Trained with AdamW on the cross-entropy, with augmentation (``flips``: "horizontal",
    "both" or "none"; random shifts up to ``max_shift`` of the side, rotations up to
    ``max_rotation`` degrees, brightness/contrast jitter), early stopping on an inner
    stratified split (``val_fraction`` of the rows; group-aware when ``groups`` are given to
    ``fit``) after ``patience`` epochs without the validation loss improving by ``tol``, keeping
    the best epoch's weights; then (``refit_full``) retrained on all rows for that many
    epochs. Deterministic for a seed and a number of threads. The fitted state is NumPy
    arrays (``state_``); the torch module is rebuilt when first needed."""

    def __init__(
        self,
        epochs: int = 60,
        batch_size: int = 64,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        patience: int = 8,
        tol: float = 1e-3,
        monitor: str = "auc",
        val_fraction: float = 0.2,
        augment: bool = True,
        flips: str = "horizontal",
        max_shift: float = 0.08,
        max_rotation: float = 10.0,
        jitter: float = 0.1,
        width: int = 16,
        dropout: float = 0.2,
        refit_full: bool = True,
        seed: int = 0,
        n_threads: int = 1,
    ) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.tol = tol
        self.monitor = monitor
        self.val_fraction = val_fraction
        self.augment = augment
        self.flips = flips
        self.max_shift = max_shift
        self.max_rotation = max_rotation
        self.jitter = jitter
        self.width = width
        self.dropout = dropout
        self.refit_full = refit_full
        self.seed = seed
        self.n_threads = n_threads

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> Self:
        if self.flips not in ("horizontal", "both", "none"):
            raise ValueError(f"flips must be 'horizontal', 'both' or 'none', got {self.flips!r}")
        if self.monitor not in ("loss", "auc"):
            raise ValueError(f"monitor must be 'loss' or 'auc', got {self.monitor!r}")
        torch = _torch()
        X = _check_images(X)
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"{len(X)} images but {len(y)} labels")
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("SmallCNN needs at least two classes")
        self.channels_, self.size_ = int(X.shape[1]), int(X.shape[2])
        self.mean_ = X.astype(np.float32).mean(axis=(0, 2, 3))
        self.std_ = np.maximum(X.astype(np.float32).std(axis=(0, 2, 3)), 1e-3)
        self.warnings_: list[str] = []
        self._module_cache = None
        groups = None if groups is None else np.asarray(groups)
        n_splits = max(2, round(1 / self.val_fraction)) if 0 < self.val_fraction < 1 else 0
        split = _inner_split(codes, groups, n_splits, self.seed) if n_splits else None
        with _torch_settings(torch, self.n_threads, self.seed):
            if split is None:
                self._warn(
                    f"CNN trained without early stopping for {self.epochs} epochs: too few "
                    "rows (or groups) per class for an inner validation split"
                )
                run = self._train(torch, X, codes, None, [float(self.lr)] * int(self.epochs))
                self.stopped_early_ = False
                self.best_val_auc_, self.best_val_loss_ = float("nan"), float("nan")
            else:
                train, val = split
                run = self._train(torch, X[train], codes[train], (X[val], codes[val]), None)
                self.stopped_early_ = run.stopped
                self.best_val_auc_, self.best_val_loss_ = run.best_loss
                if not run.stopped:
                    self._warn(
                        f"CNN reached its maximum of {self.epochs} epochs while its validation "
                        f"{self.monitor} was still improving; more epochs may help"
                    )
                if self.refit_full:  # all rows, the best run's epochs and learning rates
                    torch.manual_seed(int(self.seed) + 1)
                    run = self._train(torch, X, codes, None, run.lrs)
        self.n_epochs_, self.lrs_ = len(run.lrs), run.lrs
        self.state_ = run.state
        return self

    def _warn(self, message: str) -> None:
        self.warnings_.append(message)
        warnings.warn(message, CNNConvergenceWarning, stacklevel=3)

    def _augment(self, torch: Any, xb: Any, gen: Any) -> Any:
        F = torch.nn.functional
        b = xb.shape[0]
        if self.flips in ("horizontal", "both"):
            flip = torch.rand(b, generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
        if self.flips == "both":
            flip = torch.rand(b, generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(-2), xb)
        if self.max_shift or self.max_rotation:
            angle = (torch.rand(b, generator=gen) * 2 - 1) * np.deg2rad(self.max_rotation)
            shift = (torch.rand(b, 2, generator=gen) * 2 - 1) * 2 * self.max_shift
            cos, sin = torch.cos(angle), torch.sin(angle)
            theta = torch.stack(
                [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)],
                1,
            )
            grid = F.affine_grid(theta, list(xb.shape), align_corners=False)
            xb = F.grid_sample(xb, grid, padding_mode="border", align_corners=False)
        if self.jitter:
            contrast = 1 + (torch.rand(b, 1, 1, 1, generator=gen) * 2 - 1) * self.jitter
            bright = (torch.rand(b, 1, 1, 1, generator=gen) * 2 - 1) * self.jitter
            mean = xb.mean(dim=(1, 2, 3), keepdim=True)
            xb = (xb - mean) * contrast + mean + bright
        return xb

    def _tensor(self, torch: Any, X: np.ndarray) -> Any:
        x = torch.from_numpy(np.asarray(X, dtype=np.float32))
        mean = torch.from_numpy(self.mean_.astype(np.float32))[None, :, None, None]
        std = torch.from_numpy(self.std_.astype(np.float32))[None, :, None, None]
        return (x - mean) / std

    def _train(
        self,
        torch: Any,
        X: np.ndarray,
        codes: np.ndarray,
        val: tuple[np.ndarray, np.ndarray] | None,
        lrs: list[float] | None,
    ) -> _Run:
        """Train a fresh module. With ``val``: up to ``epochs`` epochs, halving the learning
        rate after every ``patience // 2`` epochs without improvement and stopping after
        ``patience``; the best epoch's state and the learning rates up to it. Without:
        one epoch per learning rate in ``lrs``; the last state."""
        module = _build_module(torch, self.channels_, self.width, self.dropout, len(self.classes_))
        lr = float(self.lr) if lrs is None else float(lrs[0]) if lrs else float(self.lr)
        opt = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=self.weight_decay)
        loss_fn = torch.nn.CrossEntropyLoss()
        x_all, y_all = self._tensor(torch, X), torch.from_numpy(codes.astype(np.int64))
        gen = torch.Generator().manual_seed(int(self.seed))
        best = _Run(None, [], False, (-np.inf, np.inf))
        used: list[float] = []
        stale, n, bs = 0, len(x_all), max(1, int(self.batch_size))
        halve = max(1, int(self.patience) // 2)
        for epoch in range(int(self.epochs) if lrs is None else len(lrs)):
            lr = lr if lrs is None else float(lrs[epoch])
            for group in opt.param_groups:
                group["lr"] = lr
            used.append(lr)
            module.train()
            order = torch.randperm(n, generator=gen)
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                if len(idx) < 2 and n >= 2:  # a last batch of one image: batch norm needs more
                    continue
                xb = x_all[idx]
                if self.augment:
                    xb = self._augment(torch, xb, gen)
                opt.zero_grad()
                loss = loss_fn(module(xb), y_all[idx])
                loss.backward()
                opt.step()
            if val is None:
                continue
            score = self._val_score(torch, module, loss_fn, val)
            if self._better(score, best.best_loss):
                state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                best, stale = _Run(state, list(used), False, score), 0
                continue
            stale += 1
            if stale >= self.patience:
                best.stopped = True
                break
            if stale % halve == 0:
                lr /= 2
        if val is None or best.state is None:  # (no epoch at all: the untrained state)
            best.state, best.lrs = module.state_dict(), used
        module.load_state_dict(best.state)
        _recalibrate_batch_norm(torch, module, x_all, bs)
        best.state = _numpy_state(module.state_dict())
        return best

    def _better(self, score: tuple[float, float], best: tuple[float, float]) -> bool:
        """Loss: lower by ``tol``. AUC: higher by ``tol``, or as high with a loss lower by
        ``tol`` (an AUC of 1 reached early still lets the probabilities improve)."""
        auc, loss = score
        if self.monitor == "loss" or math.isnan(auc) or math.isnan(best[0]):
            return loss < best[1] - self.tol
        return auc > best[0] + self.tol or (auc >= best[0] - 1e-12 and loss < best[1] - self.tol)

    def _val_score(
        self, torch: Any, module: Any, loss_fn: Any, val: tuple[Any, Any]
    ) -> tuple[float, float]:
        """The validation AUC (NaN when not monitored) and loss."""
        module.eval()
        with torch.no_grad():
            logits = module(self._tensor(torch, val[0]))
            loss = float(loss_fn(logits, torch.from_numpy(val[1].astype(np.int64))))
        if self.monitor == "auc":
            return _auc(val[1], torch.softmax(logits, 1).numpy()), loss
        return float("nan"), loss

    # -- the fitted module -------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_module_cache", None)  # torch objects: rebuilt from state_ when needed
        return state

    def _module(self, torch: Any) -> Any:
        module = getattr(self, "_module_cache", None)
        if module is None:
            module = _build_module(
                torch, self.channels_, self.width, self.dropout, len(self.classes_)
            )
            module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in self.state_.items()})
            module.eval()
            self._module_cache = module
        return module

    def _forward(self, X: np.ndarray, part: str = "all", batch: int = 256) -> np.ndarray:
        if not hasattr(self, "state_"):
            raise AttributeError("this SmallCNN is not fitted yet")
        X = _check_images(X)
        if X.shape[1:] != (self.channels_, self.size_, self.size_):
            raise ValueError(
                f"SmallCNN was fitted on images {(self.channels_, self.size_, self.size_)}, "
                f"got {X.shape[1:]}"
            )
        torch = _torch()
        out = []
        with _torch_settings(torch, self.n_threads), torch.no_grad():
            module = self._module(torch)
            net = module.features if part == "features" else module
            for start in range(0, len(X), batch):
                out.append(net(self._tensor(torch, X[start : start + batch])).numpy())
        width = 4 * int(self.width) if part == "features" else len(self.classes_)
        return np.concatenate(out) if out else np.empty((0, width), dtype=np.float32)

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return self._forward(X).astype(np.float64)

    def predict_log_proba(self, X: np.ndarray) -> np.ndarray:
        z = self._logits(X)
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.exp(self.predict_log_proba(X))

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Binary: the logit of the second class (log p1 - log p0); otherwise the logits."""
        z = self._logits(X)
        return z[:, 1] - z[:, 0] if len(self.classes_) == 2 else z

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self._logits(X), axis=1)]

    def embed(self, X: np.ndarray) -> np.ndarray:
        """The penultimate features (after global average pooling): ``(N, 4 * width)``."""
        return self._forward(X, part="features")


class _Run:
    """One training: the (best) state, the learning rate of each of its epochs, whether
    early stopping ended it, and the best validation (AUC, loss)."""

    def __init__(
        self, state: Any, lrs: list[float], stopped: bool, best_loss: tuple[float, float]
    ) -> None:
        self.state, self.lrs, self.stopped, self.best_loss = state, lrs, stopped, best_loss


def _recalibrate_batch_norm(torch: Any, module: Any, x: Any, batch: int) -> None:
    """Recompute the batch-norm statistics of the final weights on the (unaugmented)
    training images: the running averages lag behind the weights, most after few epochs."""
    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms or len(x) < 2:
        return
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the pass
    module.train()
    with torch.no_grad():
        for start in range(0, len(x), batch):
            if len(x) - start >= 2:
                module(x[start : start + batch])
    for m in norms:
        m.momentum = 0.1
    module.eval()


def _auc(codes: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if proba.shape[1] == 2:
        return float(roc_auc_score(codes, proba[:, 1]))
    return float(roc_auc_score(codes, proba, multi_class="ovr", labels=range(proba.shape[1])))


def _numpy_state(state: Any) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in state.items()}


# -- the CNN's score inside a candidate -------------------------------------------------------


class _CNNFits:
    """The CNN fits of one training set: the final CNN, the training rows' cross-fitted
    scores and the warnings the fits raised."""

    def __init__(self, final: SmallCNN, oof: np.ndarray, warned: list[str]) -> None:
        self.final, self.oof, self.warned = final, oof, warned


_CACHE: OrderedDict[str, _CNNFits] = OrderedDict()
_STATS = {"trained": 0, "memory": 0, "disk": 0}


def cache_stats() -> dict[str, int]:
    """CNN fit sets trained and found in the memory or disk cache, in this process."""
    return dict(_STATS)


def clear_cache() -> None:
    """Forget this process's cached CNN fits (not the disk cache) and reset the counts."""
    _CACHE.clear()
    _STATS.update(trained=0, memory=0, disk=0)


def _fits_key(
    bank: ImageBank,
    ids: pd.Index,
    y: np.ndarray,
    params: dict[str, Any],
    seed: int,
    inner: int,
    task: str,
) -> str:
    h = hashlib.sha256()
    # a fit cached by another insightome or torch version is not reused
    h.update(f"{__version__}\x1f{_torch().__version__}\x1e".encode())
    h.update(bank.digest.encode())
    for key in ids:
        h.update(f"{key}\x1f".encode())
    h.update(b"\x1ey\x1e")
    for value in np.asarray(y).tolist():
        h.update(f"{value!r}\x1f".encode())
    clean = {k: params[k] for k in sorted(params)}
    h.update(json.dumps([clean, int(seed), int(inner), task], default=repr).encode())
    return h.hexdigest()


def _cache_folder(folder: str | None) -> str | None:
    """The disk cache: the bank's folder, else ``$INSIGHTOME_CNN_CACHE``, else none."""
    return folder or os.environ.get(CACHE_ENV) or None


def _cache_get(key: str, folder: str | None = None) -> _CNNFits | None:
    found = _CACHE.get(key)
    if found is not None:
        _CACHE.move_to_end(key)
        _STATS["memory"] += 1
        return found
    folder = _cache_folder(folder)
    if not folder:
        return None
    path = Path(folder) / f"{key}.pkl"
    try:
        with path.open("rb") as fh:
            found = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ValueError):
        return None  # absent or unreadable: fitted again (and written again)
    if not isinstance(found, _CNNFits):
        return None
    _STATS["disk"] += 1
    _cache_put(key, found, write=False)
    return found


def _cache_put(key: str, fits: _CNNFits, write: bool = True, folder: str | None = None) -> None:
    _CACHE[key] = fits
    _CACHE.move_to_end(key)
    while len(_CACHE) > _MEMORY_CACHE_SIZE:
        _CACHE.popitem(last=False)
    folder = _cache_folder(folder)
    if not (write and folder):
        return
    os.makedirs(folder, exist_ok=True)
    buffer = io.BytesIO()
    pickle.dump(fits, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{key[:16]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buffer.getvalue())
        os.replace(tmp, Path(folder) / f"{key}.pkl")  # atomic: readers see all or nothing
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _cross_fit_folds(
    codes: np.ndarray, groups: np.ndarray | None, k: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The inner folds that cross-fit the training rows' scores: stratified, a group's rows
    in one fold; fewer than ``k`` when a class (or the groups) has fewer members."""
    k = min(k, max_folds(codes, groups))
    if k < 2:
        raise ValueError(
            "CNNScore cannot cross-fit the CNN's training scores: a class has fewer than 2 "
            "training samples (or, with groups, fewer than 2 groups)"
        )
    rows = np.zeros(len(codes))
    if groups is None:
        return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(rows, codes))
    return list(StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(rows, codes, groups))


class CNNScore(AddsFeaturesInFit, MetaEstimatorMixin, BaseEstimator):
    """A candidate fitted on the feature table plus a CNN's score of each sample's image
    (see the module docstring).

    ``candidate`` is anything with ``build(features, seed)`` returning an unfitted estimator
    for a feature table with those columns (an insightome ``Candidate``); ``cnn_params`` are
    :class:`SmallCNN`'s parameters (its ``seed`` is set from ``seed``)."""

    def __init__(
        self,
        candidate: Any,
        images: ImageBank | None,
        cnn_params: dict[str, Any] | None = None,
        inner_folds: int = 3,
        task: str = "binary",
        seed: int = 0,
    ) -> None:
        self.candidate = candidate
        self.images = images
        self.cnn_params = cnn_params
        self.inner_folds = inner_folds
        self.task = task
        self.seed = seed

    def _bank(self, X: Any) -> ImageBank:
        if self.images is None:
            raise UserError(errors.IMAGES_NOT_GIVEN)
        if not isinstance(X, pd.DataFrame):
            raise TypeError("CNNScore needs the feature table as a DataFrame indexed by sample ID")
        return self.images

    def _cnn(self, seed: int) -> SmallCNN:
        params = {**(self.cnn_params or {}), "seed": int(seed)}
        return SmallCNN(**params)

    def _scores(self, cnn: SmallCNN, images: np.ndarray) -> np.ndarray:
        """The score columns for ``images``: the binary logit, or each class's
        log-probability in the order of ``classes_cnn_`` (a class the CNN never saw: -inf
        would be its value; it gets the log of a tiny probability instead)."""
        if self.task == "binary":
            return cnn.decision_function(images)[:, None]
        logp = cnn.predict_log_proba(images)
        out = np.full((len(images), len(self.classes_cnn_)), np.log(1e-12))
        cols = np.searchsorted(self.classes_cnn_, cnn.classes_)
        out[:, cols] = logp
        return out

    def _fit_cnns(self, bank: ImageBank, ids: pd.Index, y: np.ndarray) -> _CNNFits:
        key = _fits_key(bank, ids, y, self.cnn_params or {}, self.seed, self.inner_folds, self.task)
        found = _cache_get(key, bank.cache_dir)
        if found is not None:
            for message in found.warned:  # each fit that uses them reports them
                warnings.warn(message, CNNConvergenceWarning, stacklevel=3)
            return found
        images, groups = bank.lookup(ids), bank.groups_for(ids)
        codes = np.searchsorted(self.classes_cnn_, y)
        oof = np.empty((len(ids), len(self.score_columns_)))
        warned: list[str] = []
        folds = _cross_fit_folds(codes, groups, int(self.inner_folds), int(self.seed))
        for i, (train, test) in enumerate(folds):
            cnn = self._cnn(self.seed + 1 + i).fit(
                images[train], y[train], None if groups is None else groups[train]
            )
            warned += cnn.warnings_
            oof[test] = self._scores(cnn, images[test])
        final = self._cnn(self.seed).fit(images, y, groups)
        warned += final.warnings_
        _STATS["trained"] += 1
        fits = _CNNFits(final, oof, warned)
        _cache_put(key, fits, folder=bank.cache_dir)
        return fits

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> Self:
        if self.task not in TASKS:
            raise ValueError(f"CNNScore: task must be one of {TASKS}, got {self.task!r}")
        clash = [c for c in map(str, X.columns) if c.startswith(SCORE_PREFIX)]
        if clash:
            raise ValueError(
                f"feature column(s) {clash[:3]} use the CNN score's prefix {SCORE_PREFIX!r}"
            )
        bank = self._bank(X)
        y = np.asarray(y)
        self.classes_cnn_ = np.unique(y)
        if self.task == "binary" and len(self.classes_cnn_) != 2:
            raise ValueError(f"binary task with {len(self.classes_cnn_)} classes")
        self.score_columns_ = (
            [SCORE_COLUMN]
            if self.task == "binary"
            else [f"{SCORE_COLUMN}:{c}" for c in self.classes_cnn_]
        )
        fits = self._fit_cnns(bank, X.index, y)
        self.cnn_ = fits.final
        self.train_scores_ = fits.oof  # the training rows' cross-fitted scores, for checks
        frame = self._with_scores(X, fits.oof)
        self.estimator_ = self.candidate.build(frame, self.seed).fit(frame, y)
        return self

    def _with_scores(self, X: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
        block = pd.DataFrame(scores, columns=self.score_columns_, index=X.index)
        return pd.concat([X, block], axis=1)

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        bank = self._bank(X)
        return self._with_scores(X, self._scores(self.cnn_, bank.lookup(X.index)))


def _fitted_attributes(model: CNNScore) -> dict[str, Any]:
    return {k: v for k, v in model.__dict__.items() if k.endswith("_") and not k.startswith("_")}


def without_images(model: Any) -> Any:
    """The model to save: a fitted :class:`CNNScore` without the run's image table (any other
    model as is). It keeps its fitted CNN (weights as NumPy arrays), not the training rows'
    scores."""
    if not isinstance(model, CNNScore) or model.images is None:
        return model
    stripped = CNNScore(
        model.candidate, None, model.cnn_params, model.inner_folds, model.task, model.seed
    )
    kept = _fitted_attributes(model)
    kept.pop("train_scores_", None)
    stripped.__dict__.update(kept)
    return stripped


def with_images(model: Any, images: ImageBank) -> Any:
    """A saved :class:`CNNScore` given the images of the samples it is to predict (a copy;
    any other model as is)."""
    if not isinstance(model, CNNScore):
        return model
    given = CNNScore(
        model.candidate, images, model.cnn_params, model.inner_folds, model.task, model.seed
    )
    given.__dict__.update(_fitted_attributes(model))
    return given


# -- occlusion sensitivity ---------------------------------------------------------------------


def occlusion_map(
    model: SmallCNN,
    image: np.ndarray,
    patch: int | None = None,
    stride: int | None = None,
) -> np.ndarray:
    """How much the predicted class's probability drops when a square ``patch`` of the image
    is replaced by the image's mean (per channel), averaged over the patches covering each
    pixel: ``float32`` ``(S, S)``; high where the image holds the evidence for its class.

    ``image`` is ``(C, S, S)`` as in the :class:`ImageBank`; ``patch`` defaults to a seventh
    of the side (4 pixels at 28), ``stride`` to half the patch."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[1] != image.shape[2]:
        raise ValueError(f"occlusion_map takes one image (C, S, S); got {image.shape}")
    size = image.shape[1]
    patch = int(patch or max(2, size // 7))
    stride = int(stride or max(1, patch // 2))
    if not 1 <= patch <= size:
        raise ValueError(f"patch must be between 1 and {size}, got {patch}")
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    base = model.predict_proba(image[None])[0]
    target = int(np.argmax(base))
    fill = image.mean(axis=(1, 2))[:, None, None]
    spots = [(r, c) for r in starts for c in starts]
    occluded = np.repeat(image[None], len(spots), axis=0)
    for i, (r, c) in enumerate(spots):
        occluded[i, :, r : r + patch, c : c + patch] = fill
    drops = base[target] - model.predict_proba(occluded)[:, target]
    total = np.zeros((size, size))
    count = np.zeros((size, size))
    for (r, c), drop in zip(spots, drops, strict=True):
        total[r : r + patch, c : c + patch] += drop
        count[r : r + patch, c : c + patch] += 1
    return (total / np.maximum(count, 1)).astype(np.float32)
