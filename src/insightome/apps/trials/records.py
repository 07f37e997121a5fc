"""Trial records in: ClinicalTrials.gov studies → :class:`Trial`.

Formats (by suffix; ``.gz`` is read through gzip):

* ``.jsonl`` — one study per line in the flat layout of ``shared/data/trials/corpus``
  (``nct_id``, ``brief_title``, ``official_title``, ``conditions``, ``keywords``,
  ``condition_mesh``, ``interventions`` [{type, name}], ``study_type``, ``phase``,
  ``overall_status``, ``brief_summary``, ``criteria``, ``gender``, ``minimum_age``,
  ``maximum_age``, ``healthy_volunteers``); a line holding a ClinicalTrials.gov API v2 study
  (``protocolSection``) is read too;
* ``.json`` — the registry's API v2 export: one study, a list of studies, or a page
  ``{"studies": [...]}``;
* ``.xml`` — the registry's legacy ``<clinical_study>`` record; a directory is read as all
  its ``*.xml`` / ``*.json`` / ``*.jsonl`` files, sorted by name.

A record that cannot be read (a line that is not JSON, a study without an NCT ID) is a
:class:`Skip` with the file and line, never a traceback; a file with no readable study at
all is a :class:`~insightome.errors.UserError`. A study without eligibility text is kept:
it is judged on its structured fields (sex, ages) only, and says so.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.apps.trials import registry_formats
from insightome.errors import UserError

__all__ = ["Skip", "Trial", "TrialSet", "age_in_years", "read_trials", "trial_from_flat"]

_AGE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(?:(year|month|week|day|hour|minute)s?)?\s*$", re.IGNORECASE
)
_PER_YEAR = {
    "year": 1.0,
    "month": 12.0,
    "week": 52.1775,
    "day": 365.25,
    "hour": 8766.0,
    "minute": 525960.0,
}
_SEXES = {"all": "all", "both": "all", "female": "female", "male": "male"}


@dataclass(frozen=True)
class Trial:
    """One study: what the matcher reads. Ages in years (None: no limit)."""

    nct_id: str
    title: str
    official_title: str = ""
    conditions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    condition_mesh: tuple[str, ...] = ()
    interventions: tuple[str, ...] = ()  # "Drug: Nifedipine"
    phase: str = ""
    status: str = ""
    study_type: str = ""
    sex: str = "all"  # all | female | male
    minimum_age: float | None = None
    maximum_age: float | None = None
    minimum_age_text: str = ""  # as the registry wrote it ("18 Years")
    maximum_age_text: str = ""
    healthy_volunteers: bool | None = None
    summary: str = ""
    criteria: str = ""  # the eligibility text block, inclusion and exclusion
    source: str = ""  # file[:line]

    @property
    def search_text(self) -> str:
        """The fields BM25 indexes (the same for the baseline and the ranker)."""
        return "\n".join(
            part
            for part in (
                self.title,
                self.official_title,
                " ; ".join(self.conditions),
                " ; ".join(self.keywords),
                " ; ".join(self.condition_mesh),
                " ; ".join(self.interventions),
                self.summary,
                self.criteria,
            )
            if part
        )


@dataclass(frozen=True)
class Skip:
    """A record that was not read, and why (file and line named)."""

    where: str
    reason: str


@dataclass
class TrialSet:
    """The trials of a file or folder, the records skipped and the input's sha256."""

    trials: list[Trial]
    skipped: list[Skip] = field(default_factory=list)
    sha256: str = ""
    path: str = ""

    def __len__(self) -> int:
        return len(self.trials)

    def by_id(self) -> dict[str, Trial]:
        return {t.nct_id: t for t in self.trials}


def age_in_years(text: Any) -> float | None:
    """``"18 Years"`` → 18.0, ``"6 Months"`` → 0.5; ``"N/A"``, empty or None → None."""
    if text is None:
        return None
    match = _AGE.match(str(text))
    if not match:
        return None
    unit = (
        match.group(2) or "year"
    ).lower()  # the registry always writes a unit; a bare number is years
    return float(match.group(1)) / _PER_YEAR[unit]


def _age(value: Any, name: str) -> float | None:
    """An age field: None when absent or "N/A"; a wording that is no age skips the record."""
    text = _text(value)
    if not text or text.upper() in ("N/A", "NA", "NONE"):
        return None
    years = age_in_years(text)
    if years is None:
        raise ValueError(f"{name} '{text[:30]}' is not an age (write it as '18 Years')")
    return years


def _text(value: Any) -> str:
    """A scalar field as text; a list or an object where text belongs is a wrong type."""
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):
        raise TypeError("text was expected")
    return " ".join(str(value).split()) if not isinstance(value, str) else value.strip()


def _block(value: Any) -> str:
    """A text block (the eligibility criteria), line breaks kept."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError("text was expected")
    return value.strip()


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    if not isinstance(value, list | tuple):
        raise TypeError("a list of texts was expected")
    return tuple(str(v).strip() for v in value if v is not None and str(v).strip())


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise TypeError("a list was expected")
    return list(value)


def _intervention(item: Any) -> str:
    if isinstance(item, Mapping):
        kind, name = _text(item.get("type")), _text(item.get("name"))
        return f"{kind}: {name}" if kind and name else name or kind
    return _text(item)


def _healthy(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    return {
        "yes": True,
        "accepts healthy volunteers": True,
        "true": True,
        "no": False,
        "false": False,
    }.get(text)


def sex_of(value: Any) -> str:
    """The registry's sex/gender field → ``all``, ``female`` or ``male`` (unknown → all)."""
    return _SEXES.get(_text(value).lower(), "all")


def trial_from_flat(record: Mapping[str, Any], source: str) -> Trial:
    """A study in the flat JSON-lines layout (module docstring) → :class:`Trial`."""
    raw_id = record.get("nct_id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ValueError("no nct_id (text) in the record")
    nct_id = raw_id.strip()
    return Trial(
        nct_id=nct_id,
        title=_text(record.get("brief_title")) or _text(record.get("official_title")),
        official_title=_text(record.get("official_title")),
        conditions=_strings(record.get("conditions")),
        keywords=_strings(record.get("keywords")),
        condition_mesh=_strings(record.get("condition_mesh")),
        interventions=tuple(filter(None, map(_intervention, _items(record.get("interventions"))))),
        phase=_text(record.get("phase")),
        status=_text(record.get("overall_status")),
        study_type=_text(record.get("study_type")),
        sex=sex_of(record.get("gender")),
        minimum_age=_age(record.get("minimum_age"), "minimum_age"),
        maximum_age=_age(record.get("maximum_age"), "maximum_age"),
        minimum_age_text=_text(record.get("minimum_age")),
        maximum_age_text=_text(record.get("maximum_age")),
        healthy_volunteers=_healthy(record.get("healthy_volunteers")),
        summary=_text(record.get("brief_summary")),
        criteria=_block(record.get("criteria")),
        source=source,
    )


def _from_json_object(obj: Any, where: str, trials: list[Trial], skipped: list[Skip]) -> None:
    """A flat record, or API v2 JSON read study by study (a bad study is one skip)."""
    if isinstance(obj, Mapping) and "nct_id" in obj:
        _add(lambda: trial_from_flat(obj, where), where, trials, skipped)
        return
    try:
        studies = registry_formats.api_studies(obj)
    except ValueError as exc:
        skipped.append(Skip(where, str(exc)))
        return
    for number, study in enumerate(studies, start=1):
        at = where if len(studies) == 1 else f"{where} (study {number})"
        _add(
            lambda s=study, n=number: trial_from_flat(
                registry_formats.flat_from_api_study(s, n), where
            ),
            at,
            trials,
            skipped,
        )


def _add(make: Any, where: str, trials: list[Trial], skipped: list[Skip]) -> None:
    """One record: a Trial, or a skip saying why (a missing ID, a field of the wrong type)."""
    try:
        trials.append(make())
    except ValueError as exc:
        skipped.append(Skip(where, str(exc)))
    except (TypeError, AttributeError):
        skipped.append(Skip(where, "a field has the wrong type (a list or text was expected)"))


def _open_text(path: Path) -> str:
    raw = path.read_bytes()
    if path.suffix.lower() == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise UserError(errors.FILE_CORRUPT, path=path, kind="gzip", reason=exc) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(
            errors.FILE_CORRUPT, path=path, kind="UTF-8 text", reason=exc.reason
        ) from None


def _kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _read_file(path: Path, trials: list[Trial], skipped: list[Skip]) -> None:
    kind = _kind(path)
    if kind not in (".jsonl", ".json", ".xml"):
        raise UserError(errors.TRIALS_FORMAT_UNKNOWN, path=path, suffix=kind or "(none)")
    text = _open_text(path)
    if kind == ".xml":
        try:
            trials.append(trial_from_flat(registry_formats.flat_from_xml(text), str(path)))
        except ValueError as exc:
            skipped.append(Skip(str(path), str(exc)))
        return
    if kind == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(errors.FILE_CORRUPT, path=path, kind="JSON", reason=exc) from None
        except RecursionError:
            raise UserError(
                errors.FILE_CORRUPT, path=path, kind="JSON", reason="nested too deeply"
            ) from None
        _from_json_object(obj, str(path), trials, skipped)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.append(Skip(where, f"not JSON ({exc.msg})"))
            continue
        except RecursionError:
            skipped.append(Skip(where, "JSON nested too deeply"))
            continue
        _from_json_object(obj, where, trials, skipped)


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from sorted(
            p for p in path.iterdir() if p.is_file() and _kind(p) in (".jsonl", ".json", ".xml")
        )
    else:
        yield path


def read_trials(path: str | Path) -> TrialSet:
    """Read trial records (module docstring); one-line :class:`UserError` on bad input."""
    path = Path(path)
    if not path.exists():
        raise UserError(errors.FILE_MISSING, path=path)
    trials: list[Trial] = []
    skipped: list[Skip] = []
    digest = hashlib.sha256()
    for file in _files(path):
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
        if not path.is_dir():
            _read_file(file, trials, skipped)
            continue
        try:  # in a folder, one unreadable file is a skip, not the end of the run
            _read_file(file, trials, skipped)
        except UserError as exc:
            skipped.append(Skip(str(file), str(exc).removeprefix(f"{file}: ")))
    seen: dict[str, str] = {}
    unique: list[Trial] = []
    for trial in trials:
        if trial.nct_id in seen:
            skipped.append(Skip(trial.source, f"{trial.nct_id} repeats {seen[trial.nct_id]}"))
            continue
        seen[trial.nct_id] = trial.source
        unique.append(trial)
    if not unique:
        first = f" (first: {skipped[0].where}: {skipped[0].reason})" if skipped else ""
        raise UserError(errors.TRIALS_NONE, path=path, first=first)
    return TrialSet(unique, skipped, digest.hexdigest(), str(path))
