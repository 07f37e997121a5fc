"""Synthetic consultations for the scribe's speech tests: espeak-ng, one voice per role.

:func:`espeak` (a session fixture) returns :func:`synthesize`, which speaks a list of
``(role, text)`` turns, one after the other with a pause between them, into a WAV file:
mono (both voices mixed) or two-channel (the doctor on the left, the patient on the right,
each also heard at -20 dB on the other channel, as with two lapel microphones in one room).
The voices are the pair that PocketSphinx recognized best among 38 espeak-ng voice variants
at several rates (word error rate on 40 sentences of ACI-BENCH train dialogues): the doctor
``en-us+benjamin`` at 190 words per minute (0.39; 0.50 at 140 wpm; plain ``en-us`` 0.70 to
0.75), the patient ``en-us+f5`` at 160 (0.47; ``en-us+f3`` did 0.73 on 24 other sentences).
Their pitches differ (about 100 Hz and 200 Hz).

espeak-ng is a Debian package: without it the tests that need it skip, unless
``INSIGHTOME_REQUIRE_ESPEAK=1`` (CI, after .ci/run installs it), where they fail.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from insightome.apps.scribe.audio import write_wav

VOICES = {"doctor": ("en-us+benjamin", 190), "patient": ("en-us+f5", 160)}
RATE = 22050  # espeak-ng's output rate


@dataclass(frozen=True)
class Spoken:
    """A synthesized consultation: the WAV, and each turn's role, text and time span (s)."""

    path: Path
    turns: tuple[tuple[str, str, float, float], ...]
    duration: float

    def role_at(self, t: float) -> str:
        """The role of the turn nearest to time ``t`` (the one containing it, if any)."""

        def distance(turn: tuple[str, str, float, float]) -> float:
            return max(turn[2] - t, t - turn[3], 0.0)

        return min(self.turns, key=distance)[0]

    @property
    def script(self) -> str:
        return " ".join(text for _, text, _, _ in self.turns)


def speakable(text: str) -> str:
    """ACI-BENCH's tokenized text as it is said: ``i do n't , i 'm gon na .`` → ``i don't, i'm
    gonna.``"""
    text = re.sub(r"\s+([,.?!;:])", r"\1", text)
    text = re.sub(r"(\w) (n't|'s|'re|'m|'ll|'ve|'d)\b", r"\1\2", text)
    text = re.sub(r"\b(gon|wan|got) (na|ta)\b", r"\1\2", text)
    return re.sub(r"\s+", " ", text).strip()


def speak(text: str, role: str) -> np.ndarray:
    """``text`` in ``role``'s voice: float32 samples at 22.05 kHz (text on stdin, never argv:
    a line starting with '-' would be read as an option)."""
    voice, rate = VOICES[role]
    out = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate), "--stdout", "--stdin"],
        input=text.encode(),
        capture_output=True,
        check=True,
    ).stdout
    with wave.open(io.BytesIO(out)) as w:
        assert w.getframerate() == RATE and w.getsampwidth() == 2
        frames = w.readframes(w.getnframes())
    return np.frombuffer(frames, "<i2").astype(np.float32) / 32768.0


def synthesize(
    turns: Sequence[tuple[str, str]],
    path: Path,
    *,
    stereo: bool = False,
    gap: float = 0.7,
    crosstalk: float = 0.1,
) -> Spoken:
    """Speak ``(role, text)`` turns into the WAV at ``path`` (see the module's doc)."""
    clips = [(role, speakable(text), speak(speakable(text), role)) for role, text in turns]
    pause = round(gap * RATE)
    n = sum(len(x) for _, _, x in clips) + pause * (len(clips) + 1)
    channels = np.zeros((2, n), np.float32)
    spans, at = [], pause
    for role, text, x in clips:
        own = 0 if role == "doctor" else 1
        channels[own, at : at + len(x)] += x
        channels[1 - own, at : at + len(x)] += crosstalk * x
        spans.append((role, text, at / RATE, (at + len(x)) / RATE))
        at += len(x) + pause
    samples = channels if stereo else channels.sum(axis=0) / (1.0 + crosstalk)
    write_wav(path, samples, RATE)
    return Spoken(path, tuple(spans), n / RATE)


@pytest.fixture(scope="session")
def espeak() -> Callable[..., Spoken]:
    """:func:`synthesize`, or a skip (a failure under INSIGHTOME_REQUIRE_ESPEAK=1) when
    espeak-ng is not installed."""
    if shutil.which("espeak-ng") is None:
        message = "espeak-ng is not installed (Debian: apt-get install espeak-ng)"
        if os.environ.get("INSIGHTOME_REQUIRE_ESPEAK") == "1":
            pytest.fail(message + " (INSIGHTOME_REQUIRE_ESPEAK=1)", pytrace=False)
        pytest.skip(message)
    return synthesize
