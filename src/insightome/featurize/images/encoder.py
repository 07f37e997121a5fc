"""Embeddings from the user's own pretrained image encoder (``--image-encoder model.pt``).

A hospital can plug in its foundation model offline: a TorchScript (``.pt``, ``.pth``), a
``torch.export`` program (``.pt2``, TorchScript's successor) or an ONNX (``.onnx``) file,
plus a sidecar JSON next to it (``model.pt`` → ``model.pt.json`` or ``model.json``) that
states how the model expects its input::

    {"input_size": [224, 224], "channels": 3, "mean": [0.485, 0.456, 0.406],
     "std": [0.229, 0.224, 0.225], "scale": 255, "name": "my-encoder", "output": "emb"}

Each image is taken to ``channels`` (grey repeated to three channels; colour to grey by
luminance when the model takes one), resized to ``input_size`` with anti-aliasing, divided
by ``scale`` (or scaled to [0, 1] by its own minimum and maximum with ``"minmax"``) and
normalised by ``mean`` and ``std`` per channel. The model must return embeddings of shape
``(N, d)``; it is checked on a dummy batch when loaded. The encoder is fixed (not trained):
its embeddings are features like any other column, and everything learnt from them is
learnt inside the resampling by the candidates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from insightome import errors
from insightome.errors import UserError

# TorchScript (torch.jit.save) is deprecated from torch 2.9 on (torch.jit.load warns so);
# a torch.export archive (torch.export.save, .pt2) is its successor
FORMATS = {".pt": "torchscript", ".pth": "torchscript", ".pt2": "exported", ".onnx": "onnx"}


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _sidecar_for(path: Path) -> Path:
    """``model.pt.json`` when present, else ``model.json``."""
    full = path.with_name(path.name + ".json")
    return full if full.exists() else path.with_suffix(".json")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)


def _read_sidecar(path: Path, sidecar: Path) -> dict[str, Any]:
    """The sidecar's fields, checked; a UserError names the file and the field."""
    if not sidecar.is_file():
        raise UserError(errors.ENCODER_SIDECAR_MISSING, path=path, sidecar=sidecar)
    try:
        spec = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(
            errors.ENCODER_SIDECAR_INVALID,
            path=sidecar,
            field="(file)",
            problem=f"is not readable JSON ({_one_line(exc)})",
        ) from exc

    def bad(field: str, problem: str) -> UserError:
        return UserError(errors.ENCODER_SIDECAR_INVALID, path=sidecar, field=field, problem=problem)

    if not isinstance(spec, dict):
        raise bad("(file)", "is not a JSON object")
    size = spec.get("input_size")
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        raise bad("input_size", f"must be [H, W], two positive integers (got {size!r})")
    channels = spec.get("channels")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise bad("channels", f"must be 1 or 3 (got {channels!r})")
    stats = {}
    for field in ("mean", "std"):
        value = spec.get(field)
        value = [value] * channels if _number(value) else value
        if not isinstance(value, list) or len(value) != channels or not all(map(_number, value)):
            raise bad(field, f"must be {channels} number(s), one per channel (got {value!r})")
        stats[field] = [float(v) for v in value]
    if not all(v > 0 for v in stats["std"]):
        raise bad("std", f"must be positive (got {stats['std']!r})")
    scale = spec.get("scale")
    if not (scale == "minmax" or (_number(scale) and scale > 0)):
        raise bad("scale", f'must be a positive number (e.g. 255) or "minmax" (got {scale!r})')
    for field in ("name", "output"):
        if field in spec and not isinstance(spec[field], str):
            raise bad(field, f"must be a string (got {spec[field]!r})")
    return {
        "input_size": [int(v) for v in size],
        "channels": int(channels),
        **stats,
        "scale": scale if scale == "minmax" else float(scale),
        "name": spec.get("name"),
        "output": spec.get("output"),
    }


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ImageEncoder:
    """A user-supplied pretrained encoder: images in, embeddings ``(N, d)`` out.

    Made by :meth:`load`; ``encode`` embeds images, ``info()`` describes the encoder for the
    run's results (format, file name, SHA-256, input size, channels, output dimension)."""

    def __init__(
        self, path: Path, sidecar: Path, fmt: str, spec: dict[str, Any], runner: Any
    ) -> None:
        self.path, self.sidecar, self.format, self.spec = path, sidecar, fmt, spec
        self._runner = runner
        self.sha256 = _file_sha256(path)
        self.output_dim = 0

    @classmethod
    def load(
        cls, path: str | Path, sidecar: str | Path | None = None, threads: int | None = None
    ) -> ImageEncoder:
        """Load a TorchScript or ONNX encoder and its sidecar, and check it on a dummy batch
        of two images (the output must be ``(2, d)``). Every problem is a one-line
        UserError naming the file (and the sidecar's field)."""
        path = Path(path)
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise UserError(errors.ENCODER_FORMAT_UNKNOWN, path=path, suffix=path.suffix)
        if not path.is_file():
            raise UserError(errors.FILE_MISSING, path=path)
        sidecar = Path(sidecar) if sidecar is not None else _sidecar_for(path)
        spec = _read_sidecar(path, sidecar)
        runner = _Onnx(path, threads) if fmt == "onnx" else _Torch(path, fmt, threads)
        wanted = spec["output"]
        if wanted is not None:
            if wanted not in runner.outputs:
                raise UserError(
                    errors.ENCODER_SIDECAR_INVALID,
                    path=sidecar,
                    field="output",
                    problem=f"names '{wanted}', not an output of {path.name} {runner.outputs}",
                )
            runner.output_name = wanted
        encoder = cls(path, sidecar, fmt, spec, runner)
        h, w = spec["input_size"]
        dummy = np.zeros((2, spec["channels"], h, w), dtype=np.float32)
        try:
            out = runner(dummy)
        except UserError:
            raise
        except Exception as exc:  # the user's model failed: its own message, one line
            raise UserError(
                errors.ENCODER_FAILED,
                path=path,
                shape=tuple(dummy.shape),
                reason=_one_line(exc),
                sidecar=sidecar,
            ) from exc
        encoder._check_output(out, 2)
        encoder.output_dim = int(np.asarray(out).shape[1])
        return encoder

    def _check_output(self, out: Any, n: int) -> np.ndarray:
        arr = np.asarray(out)
        if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] < 1:
            raise UserError(
                errors.ENCODER_OUTPUT_SHAPE,
                path=self.path,
                output=self._runner.output_name,
                shape=tuple(arr.shape),
                n=n,
            )
        return arr.astype(np.float32, copy=False)

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """One 2D image (``(H, W)`` grey or ``(H, W, 3|4)`` colour) as the model takes it:
        ``float32`` ``(channels, H, W)`` of the sidecar, normalised."""
        from skimage.color import rgb2gray
        from skimage.transform import resize

        arr = np.asarray(image)
        if arr.ndim == 3 and arr.shape[-1] in (1, 3, 4):
            arr = arr[..., 0] if arr.shape[-1] == 1 else arr[..., :3]
        elif arr.ndim != 2:
            raise ValueError(
                f"the image encoder takes 2D images (H, W) or (H, W, 3); got an array of "
                f"shape {arr.shape}"
            )
        arr = arr.astype(np.float32, copy=False)
        channels = self.spec["channels"]
        if arr.ndim == 3 and channels == 1:
            arr = rgb2gray(arr).astype(np.float32)
        h, w = self.spec["input_size"]
        if arr.shape[:2] != (h, w):
            arr = resize(arr, (h, w), anti_aliasing=True, preserve_range=True, order=1)
        if self.spec["scale"] == "minmax":
            lo, hi = float(arr.min()), float(arr.max())
            arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
        else:
            arr = arr / self.spec["scale"]
        arr = arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)
        if arr.shape[0] != channels:  # grey for a three-channel model: repeated
            arr = np.repeat(arr, channels, axis=0)
        mean = np.asarray(self.spec["mean"], dtype=np.float32)[:, None, None]
        std = np.asarray(self.spec["std"], dtype=np.float32)[:, None, None]
        return np.ascontiguousarray((arr - mean) / std, dtype=np.float32)

    def encode(self, images: Iterable[np.ndarray], batch_size: int = 32) -> np.ndarray:
        """The embeddings of ``images`` (an iterable: they can stream from disk), ``(N, d)``
        ``float32``, computed ``batch_size`` images at a time."""
        out = [self._run(batch) for batch in _batches(images, max(1, int(batch_size)))]
        if not out:
            return np.empty((0, self.output_dim), dtype=np.float32)
        return np.concatenate(out)

    def _run(self, batch: list[np.ndarray]) -> np.ndarray:
        x = np.stack([self.preprocess(image) for image in batch])
        try:
            out = self._runner(x)
        except Exception as exc:
            raise UserError(
                errors.ENCODER_FAILED,
                path=self.path,
                shape=tuple(x.shape),
                reason=_one_line(exc),
                sidecar=self.sidecar,
            ) from exc
        return self._check_output(out, len(x))

    def info(self) -> dict[str, Any]:
        """The encoder as recorded in results.json."""
        return {
            "format": self.format,
            "file": self.path.name,
            "sha256": self.sha256,
            "name": self.spec["name"],
            "input_size": list(self.spec["input_size"]),
            "channels": self.spec["channels"],
            "mean": list(self.spec["mean"]),
            "std": list(self.spec["std"]),
            "scale": self.spec["scale"],
            "output": self._runner.output_name,
            "output_dim": self.output_dim,
        }

    def __repr__(self) -> str:
        return (
            f"ImageEncoder({self.format} {self.path.name}, sha256 {self.sha256[:12]}, "
            f"{self.spec['channels']}x{self.spec['input_size'][0]}x{self.spec['input_size'][1]}"
            f" -> {self.output_dim})"
        )


def _batches(images: Iterable[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    batch: list[np.ndarray] = []
    for image in images:
        batch.append(image)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Torch:
    """A TorchScript module or a torch.export program, on the CPU, without gradients."""

    output_name = "(module output)"
    outputs: tuple[str, ...] = ()  # a TorchScript module's output has no name

    def __init__(self, path: Path, fmt: str, threads: int | None) -> None:
        try:
            import torch
        except ImportError as exc:
            raise UserError(errors.IMAGES_EXTRA_MISSING) from exc
        self._torch, self._threads = torch, threads
        try:
            if fmt == "torchscript":
                self._module = torch.jit.load(str(path), map_location="cpu")
                self._module.eval()
            else:  # a torch.export program (its mode, eval, fixed at export)
                self._module = torch.export.load(str(path)).module()
        except Exception as exc:  # not such an archive (e.g. a state_dict or a pickle)
            kind = "TorchScript" if fmt == "torchscript" else "a torch.export program (.pt2)"
            raise UserError(
                errors.ENCODER_UNREADABLE, path=path, kind=kind, reason=_one_line(exc)
            ) from exc

    def __call__(self, x: np.ndarray) -> np.ndarray:
        torch = self._torch
        before = torch.get_num_threads()
        if self._threads:
            torch.set_num_threads(int(self._threads))
        try:
            with torch.inference_mode():
                out = self._module(torch.from_numpy(x))
        finally:
            torch.set_num_threads(before)
        if isinstance(out, tuple | list) and len(out) == 1:
            out = out[0]
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"the module returned {type(out).__name__}, not a tensor")
        return out.detach().cpu().float().numpy()


class _Onnx:
    """An ONNX model under onnxruntime's CPU execution provider."""

    def __init__(self, path: Path, threads: int | None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise UserError(errors.IMAGES_EXTRA_MISSING) from exc
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise UserError(
                errors.ENCODER_UNREADABLE, path=path, kind="ONNX", reason=_one_line(exc)
            ) from exc
        inputs = self._session.get_inputs()
        self.outputs = [o.name for o in self._session.get_outputs()]
        if len(inputs) != 1:
            raise UserError(
                errors.ENCODER_UNREADABLE,
                path=path,
                kind="an image encoder",
                reason=f"it has {len(inputs)} inputs; it must take one batch of images",
            )
        self._input = inputs[0].name
        first = inputs[0].shape[0] if inputs[0].shape else None
        self.fixed_batch = first if isinstance(first, int) else None  # else a dynamic batch
        self.output_name = self.outputs[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.fixed_batch == 1 and len(x) > 1:
            return np.concatenate([self(x[i : i + 1]) for i in range(len(x))])
        (out,) = self._session.run([self.output_name], {self._input: x})
        return np.asarray(out, dtype=np.float32)
