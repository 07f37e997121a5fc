"""Speech to text, offline: a WAV recording → words with times → speaker turns with roles.

The recognizer is PocketSphinx (BSD-2-Clause) with the US-English acoustic model, dictionary
and language model that its wheel carries: nothing is downloaded, and the model files'
sha256 are recorded (:func:`engine_info`). The recording is mixed to mono and resampled to
16 kHz (:func:`~insightome.apps.scribe.audio.to_mono_16k`), cut into utterances at pauses
(:func:`~insightome.apps.scribe.diarize.speech_segments`), and each utterance is decoded
on its own; words keep their times (10 ms frames plus the utterance's offset) and their
posterior probability as confidence; silences, noises and fillers of the decoder
(``<s>``, ``<sil>``, ``[NOISE]``, ...) are dropped and pronunciation variants (``word(2)``)
folded.

Decoder settings (:data:`DECODER_SETTINGS`) were chosen on espeak-ng speech of 40 sentences
of ACI-BENCH train dialogues in each test voice (word error rate, doctor / patient voice):
dither on (0.47 / 0.47 → 0.39 / 0.46: espeak-ng's digital silence otherwise upsets the
features), the flat-lexicon second pass off (→ 0.38 / 0.43, and about 30% faster). A
language weight of 5.5 moved the WER by 0.01 or less for 20% more time, 7.5 was worse
(0.40 / 0.47), and wider beams no better (0.40 / 0.46) than the defaults kept.

The decoder's log is set to FATAL: its INFO and WARN lines (search statistics, model
loading) would otherwise reach the console, where a scribe command prints counts only.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from insightome import errors
from insightome.apps.scribe import diarize
from insightome.apps.scribe.audio import ASR_RATE, Audio, read_wav, resample, to_mono_16k
from insightome.apps.scribe.roles import infer_roles
from insightome.apps.scribe.transcript import ROLES, Transcript, Turn, Word
from insightome.errors import UserError

__all__ = ["DECODER_SETTINGS", "DIARIZATION", "ENGINE", "engine_info", "transcribe"]

ENGINE = "pocketsphinx"
MODEL = "en-us"
DIARIZATION = ("auto", "channels", "voices", "none")
MAX_SPEAKERS = 8
DECODER_SETTINGS: dict[str, Any] = {"dither": True, "fwdflat": False}
_RECORDED = ("lw", "beam", "wbeam", "pbeam", "bestpath", "pip", "wip", "samprate", "frate")
_VARIANT = re.compile(r"\(\d+\)$")


def _pocketsphinx() -> Any:
    try:
        import pocketsphinx
    except ImportError:
        raise UserError(errors.SCRIBE_EXTRA_MISSING) from None
    return pocketsphinx


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _engine_info() -> dict[str, Any]:
    ps = _pocketsphinx()
    model = Path(ps.get_model_path(MODEL))
    config = ps.Config(**DECODER_SETTINGS, loglevel="FATAL")
    files = {
        "acoustic_model_mdef": model / MODEL / "mdef",
        "language_model": Path(str(config["lm"])),
        "dictionary": Path(str(config["dict"])),
    }
    return {
        "name": ENGINE,
        "version": metadata.version("pocketsphinx"),
        "model": f"{MODEL} (packaged with pocketsphinx: acoustic model, "
        f"{files['dictionary'].name}, {files['language_model'].name})",
        "model_sha256": {key: _sha256(path) for key, path in files.items()},
        "sample_rate": ASR_RATE,
        "settings": {
            **DECODER_SETTINGS,
            **{key: config[key] for key in _RECORDED},
            "segmentation": "energy-based utterances (apps.scribe.diarize.speech_segments): "
            f"pauses of {diarize.MIN_PAUSE_S} s split, {diarize.PAD_S} s padding, at most "
            f"{diarize.MAX_UTTERANCE_S:.0f} s",
            "resampling": "polyphase (scipy.signal.resample_poly) to 16 kHz mono",
        },
    }


def engine_info() -> dict[str, Any]:
    """The recognizer: name, version, model and its files' sha256, sample rate, settings.
    Raises ``UserError(SCRIBE_EXTRA_MISSING)`` without PocketSphinx."""
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in _engine_info().items()}


def _decode(
    pcm: np.ndarray,
    segments: list[tuple[int, int]],
    progress: Callable[[float], None] | None,
) -> list[tuple[int, Word]]:
    """(utterance index, word) for every word recognized in each segment of 16 kHz int16."""
    ps = _pocketsphinx()
    decoder = ps.Decoder(**DECODER_SETTINGS, loglevel="FATAL")
    frame_s = 1.0 / float(decoder.config["frate"])
    duration = len(pcm) / ASR_RATE
    words: list[tuple[int, Word]] = []
    for index, (start, end) in enumerate(segments):
        decoder.start_utt()
        decoder.process_raw(pcm[start:end].tobytes(), no_search=False, full_utt=True)
        decoder.end_utt()
        offset = start / ASR_RATE
        for seg in decoder.seg():
            text = _VARIANT.sub("", seg.word)
            if not text or text[0] in "<[+":
                continue
            w_start = round(offset + seg.start_frame * frame_s, 2)
            w_end = round(min(end / ASR_RATE, offset + (seg.end_frame + 1) * frame_s), 2)
            confidence = round(float(min(1.0, max(0.0, seg.prob))), 4)
            words.append((index, Word(text, w_start, max(w_start, w_end), confidence)))
        if progress is not None:
            progress(min(1.0, end / ASR_RATE / duration))
    if progress is not None:
        progress(1.0)
    return words


def _method(audio: Audio, requested: str, speakers: int, path: Path) -> tuple[str, str]:
    """The diarization method to use and why, in words."""
    if audio.channels == 2:
        distinct, why = diarize.channels_differ(audio.samples)
    else:
        distinct, why = False, f"it has {audio.channels} channel(s)"
    if requested == "channels":
        if not distinct:
            raise UserError(errors.SCRIBE_CHANNELS_NEEDED, path=path, why=why)
        return "channels", f"channels (asked): {why}"
    if requested != "auto":
        return requested, f"{requested} (asked)"
    if speakers == 1:
        return "none", "auto: one speaker asked for → none"
    if distinct and speakers == 2:
        return "channels", f"auto: {why} → channels"
    if audio.channels == 1:
        return "voices", "auto: mono → voices"
    return "voices", f"auto: {why} (with {speakers} speakers asked for) → voices"


def _speakers_of(
    method: str,
    audio: Audio,
    pcm: np.ndarray,
    segments: list[tuple[int, int]],
    words: list[tuple[int, Word]],
    speakers: int,
) -> list[str]:
    """The speaker of each word, by the diarization ``method``."""
    if method == "none":
        return ["S1"] * len(words)
    if method == "channels":
        stereo = resample(audio.samples, audio.rate)
        spans = [(round(w.start * ASR_RATE), round(w.end * ASR_RATE)) for _, w in words]
        return [f"ch{1 + diarize.louder_channel(stereo, a, b)}" for a, b in spans]
    labels = diarize.cluster_voices(diarize.utterance_features(pcm, segments), speakers)
    raw = [int(labels[index]) for index, _ in words]
    order = {label: n for n, label in enumerate(dict.fromkeys(raw), start=1)}
    return [f"S{order[label]}" for label in raw]


def _turns(words: list[tuple[int, Word]], who: list[str]) -> list[Turn]:
    """Consecutive words of one speaker as a turn."""
    groups: list[tuple[str, list[Word]]] = []
    for (_, word), speaker in zip(words, who, strict=True):
        if groups and groups[-1][0] == speaker:
            groups[-1][1].append(word)
        else:
            groups.append((speaker, [word]))
    return [
        Turn(
            speaker=speaker,
            role="other",
            text=" ".join(w.text for w in group),
            start=group[0].start,
            end=group[-1].end,
            words=tuple(group),
        )
        for speaker, group in groups
    ]


def _check_roles(roles: Mapping[str, str] | None) -> None:
    for speaker, role in (roles or {}).items():
        if role not in ROLES:
            raise UserError(
                errors.SCRIBE_ROLES_SPEC, part=f"{speaker}={role}", roles=", ".join(ROLES)
            )


def transcribe(
    path: str | Path,
    *,
    diarization: str = "auto",
    speakers: int = 2,
    roles: Mapping[str, str] | None = None,
    progress: Callable[[float], None] | None = None,
) -> Transcript:
    """The transcript of the WAV recording at ``path``.

    ``diarization``: ``channels`` (a two-channel recording, one speaker per channel:
    speakers ``ch1``/``ch2``), ``voices`` (utterances clustered by voice into ``speakers``
    speakers ``S1``, ``S2``, ... in order of first appearance), ``none`` (one speaker ``S1``)
    or ``auto`` (channels for two distinct channels and two speakers, else voices; none
    for one speaker); the method used and why are in ``engine["diarization"]``. Roles are
    inferred from what each speaker says (:func:`~insightome.apps.scribe.roles.infer_roles`);
    ``roles`` (speaker → doctor/patient/other) overrides them, recorded as ``corrected``.
    ``progress`` is called with the fraction of the audio decoded.
    """
    path = Path(path)
    _pocketsphinx()  # the extra first: its message before any reading of the file
    if (
        isinstance(speakers, bool)
        or not isinstance(speakers, int)
        or not 1 <= speakers <= MAX_SPEAKERS
    ):
        raise UserError(errors.SCRIBE_SPEAKERS, speakers=speakers, most=MAX_SPEAKERS)
    _check_roles(roles)
    if diarization not in DIARIZATION:
        raise UserError(
            errors.SCRIBE_DIARIZATION_METHOD, method=diarization, methods=", ".join(DIARIZATION)
        )
    audio = read_wav(path)
    method, reason = _method(audio, diarization, speakers, path)
    pcm = to_mono_16k(audio.mono(), audio.rate)
    segments = diarize.speech_segments(pcm)
    words = _decode(pcm, segments, progress)
    if not words:
        raise UserError(errors.SCRIBE_NO_SPEECH, path=path, duration=audio.duration)
    turns = _turns(words, _speakers_of(method, audio, pcm, segments, words, speakers))
    found = infer_roles(turns)
    turns = [replace(t, role=found[t.speaker]["role"]) for t in turns]
    engine = {
        **engine_info(),
        "diarization": {
            "requested": diarization,
            "method": method,
            "reason": reason,
            "speakers_requested": speakers,
            "speakers_found": len(found),
        },
        "utterances": len(segments),
    }
    source = {
        "file": audio.file,
        "sha256": audio.sha256,
        "duration_s": round(audio.duration, 3),
        "channels": audio.channels,
        "rate": audio.rate,
    }
    transcript = Transcript(tuple(turns), source, engine, found)
    return transcript.with_roles(roles) if roles else transcript
