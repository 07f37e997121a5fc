"""The ambient scribe's speech half: word error rate, speed, diarization and roles on
synthetic speech (espeak-ng) of ACI-BENCH consultations.

For each of the first ``n_encounters`` encounters of a split (test1 by default:
``../shared/data/scribe/aci_bench/challenge_data/clinicalnlp_taskB_test1.csv``), its first
``max_turns`` turns are spoken by espeak-ng with the tests' synthesis
(tests/apps/scribe/conftest.py: the doctor ``en-us+benjamin`` at 190 words per minute, the
patient ``en-us+f5`` at 160 — the pair PocketSphinx recognized best among espeak-ng's US
voices —, 0.7 s between turns), once mono and once two-channel (doctor left, patient right,
each at -20 dB on the other channel). ``[patient_guest]`` turns take the patient's voice
and count as the patient's. Each file goes through
:func:`insightome.apps.scribe.asr.transcribe` with its defaults (``auto`` diarization: voices
for mono, channels for two channels), in this one process pinned to one CPU core.

Measures, for mono and two-channel apart:

* **WER** (jiwer) of all the recognized words against the spoken script, both lower-cased
  with punctuation stripped (apostrophes kept): over the corpus (errors / reference
  words), and per encounter with its mean; each with a bootstrap 95% CI over encounters
  (2,000 resamples, seed 0);
* **RTF**: total transcription time (reading, resampling, segmentation, decoding,
  diarization, roles) / total audio duration, wall-clock and CPU;
* **speaker attribution**: the share of recognized words whose speaker is the true one
  (speakers mapped one-to-one to the true roles for the best agreement), the truth being
  the turn the word's middle falls in;
* **roles**: the share of speakers whose inferred role is the true role of most of their
  words, and the share of encounters whose doctor was found; and the share of words given
  the right role end to end (diarization and roles together).

Everything here is *synthetic speech (espeak-ng)*: a formant synthesizer's clean, evenly
paced voices, no noise, no overlap, no hesitation. It says how the pipeline behaves, not how
well it transcribes a real consultation.

    python benchmarks/scribe_speech.py                 # 40 test1 encounters, 12 turns each
    python benchmarks/scribe_speech.py --smoke         # 2 encounters, 4 turns, not saved

Writes ``benchmarks/results/scribe_speech.json``; ``benchmarks/scribe.py`` puts
:func:`render_speech` of it into ``benchmarks/results/scribe.md``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "scribe" / "aci_bench" / "challenge_data"
RESULTS = ROOT / "benchmarks" / "results" / "scribe_speech.json"
FILES = {"train": "train.csv", "valid": "valid.csv", "test1": "clinicalnlp_taskB_test1.csv"}
N_BOOTSTRAP = 2000
LABEL = "synthetic speech (espeak-ng)"
PACKAGES = ("insightome", "pocketsphinx", "numpy", "scipy", "scikit-learn", "jiwer")
KINDS = ("mono", "stereo")
# encounters whose [doctor]/[patient] tags are swapped in ACI-BENCH (read: the [patient]
# lines greet the patient by name, ask the questions and examine): inferring the doctor
# from what is said disagrees with the tags there, and counts as an error
TAGS_SWAPPED = {"D2N114"}


def normalize(text: str) -> str:
    """Lower-cased, punctuation stripped (apostrophes inside words kept), spaces collapsed."""
    text = re.sub(r"[^a-z0-9']+", " ", text.lower())
    return " ".join(w.strip("'") for w in text.split() if w.strip("'"))


def encounters(split: str, n: int, max_turns: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """(encounter id, its first ``max_turns`` (role, text) turns) for the first ``n``
    encounters of ``split``; roles from the [doctor]/[patient] tags (any other tag, e.g.
    [patient_guest], → patient)."""
    import pandas as pd

    path = DATA / FILES[split]
    if not path.exists():
        raise SystemExit(f"{path}: not found (ACI-BENCH belongs in ../shared/data/scribe)")
    out = []
    for row in pd.read_csv(path).head(n).itertuples():
        turns = []
        for line in str(row.dialogue).splitlines():
            match = re.match(r"^\s*\[(\w+)\]\s*(.*)$", line)
            if match and normalize(match.group(2)):
                turns.append(("doctor" if match.group(1) == "doctor" else "patient", match[2]))
        out.append((str(row.encounter_id), turns[:max_turns]))
    return out


def word_truth(spoken: Any, transcript: Any) -> list[tuple[str, str, str]]:
    """(speaker, inferred role, true role) of each recognized word."""
    return [
        (turn.speaker, turn.role, spoken.role_at((w.start + w.end) / 2))
        for turn in transcript.turns
        for w in turn.words
    ]


def attribution(words: list[tuple[str, str, str]]) -> int:
    """Words on the right speaker, speakers mapped one-to-one to roles for the best match."""
    from scipy.optimize import linear_sum_assignment

    speakers = sorted({s for s, _, _ in words})
    roles = sorted({r for _, _, r in words})
    table = np.zeros((len(speakers), len(roles)))
    for s, _, r in words:
        table[speakers.index(s), roles.index(r)] += 1
    rows, cols = linear_sum_assignment(-table)
    return int(table[rows, cols].sum())


def speaker_roles(words: list[tuple[str, str, str]]) -> tuple[int, int, bool]:
    """(speakers whose role is the true role of most of their words, speakers, whether the
    speaker inferred as doctor is the doctor)."""
    by_speaker: dict[str, Counter[str]] = {}
    inferred: dict[str, str] = {}
    for s, role, truth in words:
        by_speaker.setdefault(s, Counter())[truth] += 1
        inferred[s] = role
    right = sum(inferred[s] == c.most_common(1)[0][0] for s, c in by_speaker.items())
    doctors = [s for s in by_speaker if inferred[s] == "doctor"]
    found = bool(doctors) and all(by_speaker[s].most_common(1)[0][0] == "doctor" for s in doctors)
    return right, len(by_speaker), found


def one_file(spoken: Any) -> dict[str, Any]:
    """Transcribe one synthesized file and measure it."""
    import jiwer

    from insightome.apps.scribe.asr import transcribe

    wall, cpu = time.perf_counter(), time.process_time()
    transcript = transcribe(spoken.path)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    reference = normalize(spoken.script)
    hypothesis = normalize(" ".join(w.text for t in transcript.turns for w in t.words))
    out = jiwer.process_words(reference, hypothesis or "<empty>")
    words = word_truth(spoken, transcript)
    roles_right, n_speakers, doctor_found = speaker_roles(words)
    return {
        "audio_s": round(spoken.duration, 3),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "reference_words": len(reference.split()),
        "recognized_words": len(hypothesis.split()),
        "substitutions": out.substitutions,
        "deletions": out.deletions,
        "insertions": out.insertions if hypothesis else 0,
        "wer": round(
            (out.substitutions + out.deletions + out.insertions) / len(reference.split()), 4
        ),
        "diarization": transcript.engine["diarization"]["method"],
        "diarization_reason": transcript.engine["diarization"]["reason"],
        "words_on_right_speaker": attribution(words),
        "words_with_right_role": sum(role == truth for _, role, truth in words),
        "speakers": n_speakers,
        "speakers_with_right_role": roles_right,
        "doctor_found": doctor_found,
    }


def _bootstrap(per: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """Means and ratios over encounters with their bootstrap 95% CIs (resampled encounters)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(per), size=(N_BOOTSTRAP, len(per)))

    def ci(values: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
        if weights is None:
            point, boots = values.mean(), values[idx].mean(axis=1)
        else:
            point = values.sum() / weights.sum()
            boots = values[idx].sum(axis=1) / weights[idx].sum(axis=1)
        low, high = np.percentile(boots, [2.5, 97.5])
        return {
            "value": round(float(point), 4),
            "ci95": [round(float(low), 4), round(float(high), 4)],
        }

    errors = np.array([p["substitutions"] + p["deletions"] + p["insertions"] for p in per], float)
    ref = np.array([p["reference_words"] for p in per], float)
    recognized = np.array([p["recognized_words"] for p in per], float)
    return {
        "wer_corpus": ci(errors, ref),
        "wer_per_encounter_mean": ci(np.array([p["wer"] for p in per])),
        "speaker_attribution_words": ci(
            np.array([p["words_on_right_speaker"] for p in per], float), recognized
        ),
        "role_attribution_words": ci(
            np.array([p["words_with_right_role"] for p in per], float), recognized
        ),
    }


def summarize(per: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    audio = sum(p["audio_s"] for p in per)
    speakers = sum(p["speakers"] for p in per)
    return {
        **_bootstrap(per, seed),
        "rtf_wall": round(sum(p["wall_s"] for p in per) / audio, 4),
        "rtf_cpu": round(sum(p["cpu_s"] for p in per) / audio, 4),
        "audio_s": round(audio, 1),
        "reference_words": sum(p["reference_words"] for p in per),
        "recognized_words": sum(p["recognized_words"] for p in per),
        "substitutions": sum(p["substitutions"] for p in per),
        "deletions": sum(p["deletions"] for p in per),
        "insertions": sum(p["insertions"] for p in per),
        "diarization": dict(Counter(p["diarization"] for p in per)),
        "speakers_found": speakers,
        "speaker_roles_right": round(sum(p["speakers_with_right_role"] for p in per) / speakers, 4),
        "encounters_doctor_found": sum(p["doctor_found"] for p in per),
    }


def _espeak_version() -> str:
    done = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"text-to-speech:\s*(\S+)", done.stdout)
    return match.group(1) if match else done.stdout.strip()


def _pin_one_core() -> tuple[str, set[int] | None]:
    """Run on one CPU core (the RTF is one core's): in words, and the cores to restore."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity on this system)", None
    before = os.sched_getaffinity(0)
    core = min(before)
    os.sched_setaffinity(0, {core})
    return f"pinned to core {core}", before


def _meta(seconds: float, pinning: str, load: tuple[float, ...]) -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
        return done.stdout.strip()

    versions = {"python": platform.python_version(), "espeak-ng": _espeak_version()}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "command": " ".join(["python", "benchmarks/scribe_speech.py", *sys.argv[1:]]),
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "uncommitted_changes": bool(git("status", "--porcelain", "--", "src", "benchmarks")),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_seconds": round(seconds, 1),
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "cpu": pinning,
        "load_average_at_start": [round(x, 2) for x in load],
        "versions": versions,
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _run(chosen: list, per: dict[str, list[dict[str, Any]]], synthesize: Any) -> None:
    """Speak and transcribe each encounter, mono then two-channel; console: counts only."""
    with tempfile.TemporaryDirectory(prefix="scribe-speech-") as tmp:
        for i, (encounter, turns) in enumerate(chosen, start=1):
            for kind in KINDS:
                path = Path(tmp) / f"{encounter}-{kind}.wav"
                spoken = synthesize(turns, path, stereo=kind == "stereo")
                per[kind].append({"encounter": encounter, "turns": len(turns), **one_file(spoken)})
                path.unlink()
            seconds = per["mono"][-1]["wall_s"] + per["stereo"][-1]["wall_s"]
            print(
                f"encounter {i}/{len(chosen)}: {len(turns)} turns, "
                f"{per['mono'][-1]['audio_s']:.0f} s of audio, transcribed twice in "
                f"{seconds:.0f} s",
                flush=True,
            )


def speech_benchmark(
    split: str = "test1", n_encounters: int = 40, max_turns: int = 12, seed: int = 0
) -> dict:
    """Synthesize, transcribe and measure (see the module's doc); plain JSON-ready numbers.
    The process runs on one CPU core meanwhile (its affinity is restored after)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.apps.scribe.conftest import VOICES, synthesize

    from insightome.apps.scribe.asr import engine_info

    started, load = time.perf_counter(), os.getloadavg()
    per: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    chosen = encounters(split, n_encounters, max_turns)
    pinning, cores = _pin_one_core()
    try:
        _run(chosen, per, synthesize)
    finally:
        if cores is not None:
            os.sched_setaffinity(0, cores)
    meta = _meta(time.perf_counter() - started, pinning, load)
    engine = engine_info()
    return {
        "label": LABEL,
        "split": split,
        "n_encounters": len(chosen),
        "max_turns": max_turns,
        "seed": seed,
        "bootstrap_resamples": N_BOOTSTRAP,
        "voices": {
            role: {"voice": v, "words_per_minute": wpm} for role, (v, wpm) in VOICES.items()
        },
        "synthesis": "turns spoken one after the other, 0.7 s apart; stereo: doctor left, "
        "patient right, each at -20 dB on the other channel; [patient_guest] in the "
        "patient's voice",
        "normalization": "lower-cased, punctuation stripped (apostrophes inside words kept)",
        "engine": {k: engine[k] for k in ("name", "version", "model", "settings")},
        "summary": {kind: summarize(per[kind], seed) for kind in KINDS},
        "encounters": per,
        "meta": meta,
    }


def _ci(entry: dict[str, Any], percent: bool = False) -> str:
    scale, unit = (100.0, "%") if percent else (1.0, "")
    low, high = entry["ci95"]
    value, low, high = (
        f"{x * scale:.1f}" if percent else f"{x:.3f}" for x in (entry["value"], low, high)
    )
    return f"{value}{unit} [{low}, {high}]"


def _missed(result: dict) -> str:
    """The encounters whose doctor was not found, per kind, swapped tags marked."""
    parts, swapped = [], False
    for kind, name in (("mono", "mono"), ("stereo", "two-channel")):
        ids = [e["encounter"] for e in result["encounters"][kind] if not e["doctor_found"]]
        swapped = swapped or bool(TAGS_SWAPPED.intersection(ids))
        marked = [f"{i}*" if i in TAGS_SWAPPED else i for i in ids]
        parts.append(f"{name} {', '.join(marked) or 'none'}")
    note = (
        " (* its [doctor]/[patient] tags are swapped in ACI-BENCH: the [patient] lines greet "
        "the patient by name and ask the questions, so the inferred role is right)"
    )
    return "; ".join(parts) + (note if swapped else "")


def render_speech(result: dict) -> str:
    """The speech section of benchmarks/results/scribe.md (markdown, no heading of its own)."""
    s, m, v = result["summary"], result["meta"], result["meta"]["versions"]
    voices = ", ".join(
        f"{role} `{x['voice']}` at {x['words_per_minute']} wpm"
        for role, x in result["voices"].items()
    )
    lines = [
        f"**{LABEL[0].upper()}{LABEL[1:]}**, not recordings of people: the first "
        f"{result['max_turns']} turns of {result['n_encounters']} ACI-BENCH {result['split']} "
        f"encounters spoken by espeak-ng {v['espeak-ng']} ({voices}; {result['synthesis']}), "
        "transcribed by `insightome scribe transcribe`'s engine (PocketSphinx "
        f"{v['pocketsphinx']}, its packaged en-us model; defaults: `auto` diarization). WER "
        f"on text {result['normalization']}; 95% CIs: bootstrap over encounters "
        f"({result['bootstrap_resamples']:,} resamples, seed {result['seed']}).",
        "",
        "| audio | diarization | audio (min) | reference words | WER (corpus) | WER per "
        "encounter, mean | RTF (1 core) | words on the right speaker | words with the right "
        "role | speakers' roles right | doctor found |",
        "|---|---|---:|---:|---|---|---:|---|---|---:|---:|",
    ]
    for kind, name in (("mono", "mono"), ("stereo", "two-channel")):
        x = s[kind]
        method = ", ".join(f"{k} ({n})" for k, n in x["diarization"].items())
        lines.append(
            f"| {name} | {method} | {x['audio_s'] / 60:.1f} | {x['reference_words']:,} | "
            f"{_ci(x['wer_corpus'])} | {_ci(x['wer_per_encounter_mean'])} | "
            f"{x['rtf_wall']:.3f} | {_ci(x['speaker_attribution_words'], True)} | "
            f"{_ci(x['role_attribution_words'], True)} | {100 * x['speaker_roles_right']:.1f}% | "
            f"{x['encounters_doctor_found']}/{result['n_encounters']} |"
        )
    mono = s["mono"]
    lines += [
        "",
        f"Errors (mono): {mono['substitutions']:,} substitutions, {mono['deletions']:,} "
        f"deletions, {mono['insertions']:,} insertions over {mono['reference_words']:,} words. "
        "RTF is the transcription's wall-clock time (reading, resampling, segmentation, "
        "decoding, diarization, roles) over the audio's duration, in one process "
        f"{m['cpu']} (CPU-time RTF {mono['rtf_cpu']:.3f} mono, {s['stereo']['rtf_cpu']:.3f} "
        "two-channel); the issue's target is ≤ 1.0 on 2 cores. Speaker attribution maps "
        "speakers to the true roles one-to-one for the best agreement; a word's true speaker "
        "is the turn its middle falls in. Roles are inferred from what each speaker says, "
        "the truth being the voice (the tag) that spoke most of the speaker's words. Doctor "
        f"not found: {_missed(result)}.",
        "",
        "What this does not say: how PocketSphinx does on real consultations (people "
        "hesitate, overlap, mumble, and rooms are noisy); espeak-ng's voices are clean, evenly "
        "paced and far apart in pitch, which flatters the voice diarization.",
        "",
        f"Run: `{m['command']}` on {m['date']}, commit {m['commit']}"
        f"{' (uncommitted changes)' if m['uncommitted_changes'] else ''}; {m['platform']}, "
        f"{m['processor']}, {m['cpu_count']} CPUs (load average at start "
        f"{', '.join(map(str, m['load_average_at_start']))}); {m['wall_seconds'] / 60:.1f} min "
        "in all; " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
    ]
    return "\n".join(lines) + "\n"


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test1", choices=sorted(FILES))
    parser.add_argument("--encounters", type=int, default=40)
    parser.add_argument("--max-turns", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="2 encounters, 4 turns, not saved")
    parser.add_argument("--out", type=Path, default=None, help=f"JSON (default {RESULTS})")
    args = parser.parse_args(argv)
    if args.smoke:
        args.encounters, args.max_turns = 2, 4
    result = speech_benchmark(args.split, args.encounters, args.max_turns, args.seed)
    out = args.out or (None if args.smoke else RESULTS)
    if out is not None:
        _write_json(out, result)
        print(f"wrote {out}")
    print(render_speech(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
