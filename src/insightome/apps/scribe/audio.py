"""Reading a consultation's recording: WAV in, float samples out, 16 kHz mono for the ASR.

:func:`read_wav` takes PCM WAV (8-, 16-, 24- or 32-bit integers, read with the standard
library's :mod:`wave`) and IEEE-float or WAVE_FORMAT_EXTENSIBLE WAV (read with
:func:`scipy.io.wavfile.read`), any number of channels, at 8 kHz or more. Anything else
(MP3, Ogg, FLAC, μ-law WAV, ...) is refused with a one-line :class:`UserError` that names the
file and says how to convert it. The speech recognizer's acoustic model is a 16 kHz model:
:func:`to_mono_16k` resamples with a polyphase filter (decoding 22.05 kHz audio as if it
were 16 kHz is much worse than resampling it).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tempfile
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly

from insightome import errors
from insightome.errors import UserError

__all__ = ["ASR_RATE", "Audio", "read_wav", "to_mono_16k", "write_wav"]

ASR_RATE = 16000  # the rate of PocketSphinx's en-us acoustic model
MIN_RATE = 8000
# what a file that is not WAV usually is, by its first bytes (for the refusal's reason)
_MAGIC = (
    (b"ID3", "MP3 data"),
    (b"\xff\xfb", "MP3 data"),
    (b"\xff\xf3", "MP3 data"),
    (b"OggS", "Ogg audio"),
    (b"fLaC", "FLAC audio"),
    (b"RIFF", "a RIFF file that is not WAVE"),
    (b"FORM", "AIFF audio"),
    (b"#!AMR", "AMR audio"),
)
_WAV_CODECS = {3: "IEEE float", 6: "A-law", 7: "μ-law", 17: "IMA ADPCM", 85: "MP3", 2: "ADPCM"}


@dataclass(frozen=True)
class Audio:
    """A recording: ``samples`` float32 in [-1, 1] of shape (channels, n) at ``rate`` Hz;
    ``file`` is the file's name (not its path) and ``sha256`` the hash of its bytes."""

    samples: np.ndarray
    rate: int
    file: str
    sha256: str

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.samples.shape[1] / self.rate

    def mono(self) -> np.ndarray:
        """The channels' mean (float32, shape (n,))."""
        return self.samples.mean(axis=0, dtype=np.float64).astype(np.float32)


def _not_wav_reason(raw: bytes) -> str | None:
    """Why ``raw`` is not a WAV file, or None when it starts like one."""
    if raw[:4] == b"RIFF" and raw[8:12] == b"WAVE":
        return None
    if raw[4:8] == b"ftyp":
        return "MP4/M4A audio"
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            return kind
    return "no RIFF/WAVE header"


def _format_tag(raw: bytes) -> int | None:
    """The WAV format tag of the ``fmt `` chunk (1 = PCM, 3 = float, ...), if found."""
    at = raw.find(b"fmt ", 12)
    if at < 0 or len(raw) < at + 10:
        return None
    return int.from_bytes(raw[at + 8 : at + 10], "little")


def _pcm_samples(frames: bytes, width: int, channels: int) -> np.ndarray:
    """Interleaved little-endian PCM of ``width`` bytes per sample → float32 (channels, n);
    a truncated last frame is dropped."""
    frame = width * channels
    frames = frames[: len(frames) // frame * frame]
    if width == 1:  # 8-bit WAV is unsigned
        data = (np.frombuffer(frames, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(frames, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(frames, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        data = ints.astype(np.float32) / float(1 << 23)
    else:
        data = (np.frombuffer(frames, "<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    n = len(data) // channels
    return data[: n * channels].reshape(n, channels).T


def _scipy_samples(raw: bytes, path: Path) -> tuple[np.ndarray, int]:
    """Float or WAVE_FORMAT_EXTENSIBLE WAV, which :mod:`wave` does not read."""
    tag = _format_tag(raw)
    try:
        rate, data = wavfile.read(io.BytesIO(raw))
    except Exception as exc:  # any decoding failure is the file's problem
        codec = _WAV_CODECS.get(tag) if tag not in (None, 1, 3, 0xFFFE) else None
        detail = " ".join(str(exc).split())[:120] or type(exc).__name__
        reason = f"{codec} encoding" if codec else f"cannot be decoded: {detail}"
        raise UserError(errors.SCRIBE_AUDIO_FORMAT, path=path, reason=reason) from None
    data = np.asarray(data)
    if data.size == 0:
        raise UserError(errors.SCRIBE_AUDIO_EMPTY, path=path)
    data = data.reshape(len(data), -1)
    if data.dtype.kind == "f":
        floats = data.astype(np.float32)
        if not np.all(np.isfinite(floats)):
            raise UserError(
                errors.SCRIBE_AUDIO_FORMAT, path=path, reason="float samples that are not finite"
            )
    elif data.dtype == np.uint8:
        floats = (data.astype(np.float32) - 128.0) / 128.0
    elif data.dtype.kind == "i":
        floats = (data.astype(np.float64) / float(np.iinfo(data.dtype).max + 1)).astype(np.float32)
    else:
        reason = f"samples of type {data.dtype}"
        raise UserError(errors.SCRIBE_AUDIO_FORMAT, path=path, reason=reason)
    return np.clip(floats, -1.0, 1.0).T, int(rate)


def read_wav(path: str | Path) -> Audio:
    """The recording at ``path`` (see the module's doc for the formats taken).

    Raises a :class:`UserError` naming the file when it is missing, is not WAV (the reason
    says what it looks like), uses a codec other than PCM or float, holds no sample, or is
    sampled below 8 kHz.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(errors.SCRIBE_AUDIO_MISSING, path=path)
    raw = path.read_bytes()
    if not raw:
        raise UserError(errors.SCRIBE_AUDIO_EMPTY, path=path)
    reason = _not_wav_reason(raw)
    if reason:
        raise UserError(errors.SCRIBE_AUDIO_FORMAT, path=path, reason=reason)
    try:
        with wave.open(io.BytesIO(raw)) as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError, struct.error, ValueError, OSError):
        samples, rate = _scipy_samples(raw, path)
    else:
        if not 1 <= width <= 4 or channels < 1:
            reason = f"{8 * width}-bit samples (PCM of 8, 16, 24 or 32 bits is read)"
            raise UserError(errors.SCRIBE_AUDIO_FORMAT, path=path, reason=reason)
        samples = _pcm_samples(frames, width, channels)
    if samples.size == 0:
        raise UserError(errors.SCRIBE_AUDIO_EMPTY, path=path)
    if rate < MIN_RATE:
        raise UserError(errors.SCRIBE_AUDIO_RATE, path=path, rate=rate)
    sha = hashlib.sha256(raw).hexdigest()
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), int(rate), path.name, sha)


def _ratio(rate: int) -> tuple[int, int]:
    """(up, down) for :func:`resample_poly` from ``rate`` to 16 kHz; an odd rate's exact
    ratio (e.g. 16000/44057) is approximated within 1e-6 to keep the filter small."""
    frac = Fraction(ASR_RATE, rate).limit_denominator(1000)
    return frac.numerator, frac.denominator


def resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """``samples`` (…, n) float at ``rate`` → float32 at 16 kHz (polyphase, along the last
    axis)."""
    if rate == ASR_RATE:
        return np.asarray(samples, dtype=np.float32)
    up, down = _ratio(rate)
    return resample_poly(samples, up, down, axis=-1).astype(np.float32)


def to_mono_16k(samples_1d: np.ndarray, rate: int) -> np.ndarray:
    """One channel (float in [-1, 1]) at ``rate`` Hz → int16 at 16 kHz, as the ASR reads."""
    y = resample(np.asarray(samples_1d, dtype=np.float32), rate)
    return np.round(np.clip(y, -1.0, 1.0) * 32767.0).astype(np.int16)


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> Path:
    """Write float samples in [-1, 1] (shape (n,) or (channels, n)) as 16-bit PCM WAV,
    atomically (a temporary file beside ``path`` renamed into place)."""
    path = Path(path)
    data = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    ints = np.round(np.clip(data, -1.0, 1.0) * 32767.0).astype("<i2")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh, wave.open(fh, "wb") as w:
            w.setnchannels(data.shape[0])
            w.setsampwidth(2)
            w.setframerate(int(rate))
            w.writeframes(ints.T.tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
