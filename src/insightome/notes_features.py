"""Clinical notes into a run (``insightome run --notes``; docs/notes.md).

The notes table (one row per note, several per sample allowed) is joined to the run's
samples on ``--notes-id``; with ``--notes-time`` and ``--index-time`` only the notes written
before each sample's prediction moment are kept (a note written after it can carry the
outcome). Every kept note goes through the concept extractor
(:mod:`insightome.featurize.notes`), and each mention gets one **state**, by precedence:

``family`` (about someone else) › ``negated`` › ``uncertain`` (possible or hypothetical) ›
``historical`` › ``affirmed`` (present, current, the patient's).

The features, per sample: ``note:<concept>:<state>`` the number of mentions of the concept
in that state, ``note:<concept>:value`` the mean of the concept's numeric values (in the
concept's most frequent normalized unit; other units are counted and left out), and
``notes:count`` the number of notes used. Each row is computed from that sample's own notes
with a fixed lexicon — nothing is learned across samples — so the columns are built once,
before resampling (a :class:`~insightome.stages.Featurizer`); only concepts and states that
occur in some note get a column (an all-zero column would be dropped as constant anyway).

What leaves the notes: counts and the settings (results.json ``clinical_notes``), never note text;
with ``show_evidence`` a few snippets per concept for the report, which the user asked for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from insightome import errors
from insightome.errors import UserError
from insightome.featurize.notes import (
    Lexicon,
    NoteExtractor,
    detect_language,
    extract_mentions,
    read_lexicon,
    rules_sha256,
    starter_lexicon,
)
from insightome.groups.disclosure import MIN_CELL, SUPPRESSED, small_marker
from insightome.io.notes import read_notes

STATES = ("affirmed", "negated", "uncertain", "historical", "family")
COUNT_COLUMN = "notes:count"
_WORD = re.compile(r"\w+")
ISO_DATE = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")
EVIDENCE_PER_CONCEPT = 3
EVIDENCE_CONTEXT = 60  # characters either side of a mention in an evidence snippet


@dataclass(frozen=True)
class NotesSettings:
    """The ``--notes*`` options of a run."""

    path: str | Path
    id_column: str | None = None
    text_column: str | None = None
    lexicon: str | Path | None = None
    language: str = "auto"
    time_column: str | None = None
    index_time: str | None = None
    show_evidence: bool = False
    n_jobs: int = 1
    min_cell: int = MIN_CELL
    texts: bool = False  # also each sample's notes as one negation-marked text (--notes-tfidf)

    @property
    def index_is_date(self) -> bool:
        """``--index-time 2020-01-31``: one date for every sample (else a column name)."""
        return self.index_time is not None and bool(DATE_LIKE.match(self.index_time.strip()))


@dataclass
class NotesFeatures:
    """What the notes give a run: feature columns per sample, the summary for results.json
    (counts and settings only) and, with ``show_evidence``, snippets for the report."""

    columns: pd.DataFrame
    summary: dict[str, Any]
    evidence: list[dict[str, Any]] = field(default_factory=list)
    texts: pd.Series | None = None  # sample ID → its notes, negation-marked (--notes-tfidf)


#: Why a note was not used: the summary's count key and its words (console, report).
LEFT_OUT = (
    ("notes_empty", "empty"),
    ("notes_without_sample", "without a sample of the data"),
    ("notes_at_or_after_index", "written at or after the index time"),
    ("notes_without_time", "without a time"),
    ("notes_without_index_time", "of samples without an index time"),
)


def left_out(summary: Mapping[str, Any]) -> list[str]:
    """``["80 written at or after the index time", …]``: the notes not used, by reason."""
    return [f"{summary[k]} {what}" for k, what in LEFT_OUT if summary.get(k)]


def mention_states(mentions: pd.DataFrame) -> pd.Series:
    """Each mention's one state, by the precedence of the module docstring."""
    state = np.full(len(mentions), "affirmed", dtype=object)
    flags = [
        ("historical", mentions["historical"].to_numpy(bool)),
        (
            "uncertain",
            mentions["possible"].to_numpy(bool) | mentions["hypothetical"].to_numpy(bool),
        ),
        ("negated", mentions["negated"].to_numpy(bool)),
        ("family", mentions["family"].to_numpy(bool)),
    ]
    for name, flag in flags:  # later ones take precedence
        state[flag] = name
    return pd.Series(state, index=mentions.index, name="state")


def notes_features(
    settings: NotesSettings,
    sample_ids: Sequence[str],
    index_times: pd.Series | None = None,
    data_path: str | None = None,
    *,
    lexicon: Lexicon | None = None,
    run_columns: RunColumns | None = None,
) -> NotesFeatures:
    """The notes' features for ``sample_ids`` (see the module docstring).

    ``index_times`` is the ``--index-time`` column of the data (indexed by sample ID) when
    that option names a column; ``data_path`` names the data file in messages. ``lexicon``,
    when given, is used instead of ``settings.lexicon`` (a saved run's, already checked).
    ``run_columns``: new samples of a saved run get exactly the run's columns, values in the
    run's units, whatever their number (no column is left out as rare).
    """
    notes, read_info = _read(settings)
    ids = pd.Index([str(s) for s in sample_ids])
    owner = notes["note_id"].astype(str)
    matched = owner.isin(ids)
    if not matched.any():
        raise UserError(
            errors.NOTES_NO_MATCH,
            path=settings.path,
            column=read_info["id_column"],
            n=len(notes),
            example_sample=ids[0] if len(ids) else "",
        )
    counts: dict[str, Any] = {
        "notes_read": int(read_info["n_read"]),
        "notes_empty": int(read_info["n_empty"]),
        "notes_without_sample": int((~matched).sum()),
    }
    notes, owner = notes[matched], owner[matched]
    kept, timing = _before_index(notes, owner, settings, index_times, data_path)
    counts |= timing
    notes, owner = notes[kept], owner[kept]
    counts["notes_used"] = len(notes)
    if not len(notes):
        reasons = "; ".join(left_out(counts)) or "none was read"
        raise UserError(errors.NOTES_NONE_USED, path=settings.path, reasons=reasons)

    texts = notes["text"].astype(str)
    language, reason = _language(settings.language, texts)
    if lexicon is None:
        lexicon = (
            read_lexicon(settings.lexicon)
            if settings.lexicon is not None
            else starter_lexicon(language)
        )
    frame = pd.DataFrame({"note_id": np.arange(len(notes)), "text": texts.to_numpy()})
    mentions = extract_mentions(frame, lexicon, language, n_jobs=settings.n_jobs)
    sample_of_note = owner.to_numpy()
    mentions = mentions.assign(sample=sample_of_note[mentions["note_id"].to_numpy(int)])
    columns, value_notes, rare, units = _columns(
        mentions, ids, owner, settings.min_cell, run_columns
    )
    summary = {
        "file": read_info["file"],
        "id_column": read_info["id_column"],
        "text_column": read_info["text_column"],
        **counts,
        "samples_with_notes": int(owner.nunique()),
        "samples_without_notes": int(len(ids) - owner.nunique()),
        "language": language,
        "language_reason": reason,
        "lexicon": {
            "source": str(lexicon.source),
            "sha256": lexicon.sha256,
            "n_concepts": len(lexicon.concepts),
        },
        "mentions": {
            "concept": int((mentions["kind"] == "concept").sum()),
            "value": int((mentions["kind"] == "value").sum()),
        },
        "features": [str(c) for c in columns.columns],
        "concepts": _concept_table(mentions),
        "value_units": units,
        "value_units_left_out": value_notes,
        "rules_sha256": rules_sha256(language),
        "rare_columns_left_out": rare,
        "time_filter": _time_settings(settings),
        "evidence_shown": bool(settings.show_evidence),
    }
    _suppress_small(summary, settings.min_cell, len(ids))
    evidence = _evidence(mentions, texts.to_numpy()) if settings.show_evidence else []
    joined = None
    if settings.texts:
        marked = pd.Series(negation_marked(texts.tolist(), language), index=owner.to_numpy())
        joined = marked.groupby(level=0, sort=False).agg("\n\n".join).reindex(ids, fill_value="")
    return NotesFeatures(columns, summary, evidence, joined)


def negation_marked(texts: Sequence[str], language: str) -> list[str]:
    """Each word inside a negation scope (ConText's NEGATED cues) prefixed ``neg_``: a
    per-note rewrite with fixed rules, so "no fever" and "fever" become different terms."""
    extractor = NoteExtractor(starter_lexicon(language), language=language)
    return [_marked(text, extractor) for text in texts]


def _marked(text: str, extractor: NoteExtractor) -> str:
    cues = [c for c in extractor.cues(text) if c.category == "NEGATED"]
    if not cues:
        return text
    inside = np.zeros(len(text) + 1, bool)
    for cue in cues:
        inside[cue.scope_start : cue.scope_end] = True
    return _WORD.sub(lambda m: "neg_" + m.group(0) if inside[m.start()] else m.group(0), text)


def _suppress_small(summary: dict[str, Any], min_cell: int, n_samples: int) -> None:
    """The small-cell rule on what the notes publish (docs/audit.md). A concept mentioned for
    fewer than ``min_cell`` samples is not listed at all (its name and any count would tell
    that a few patients have it; how many such concepts there are is published); one
    mentioned for all but fewer than ``min_cell`` samples hides how many (the rest would be
    recomputed from n). The samples with and without notes add up to n: both are hidden
    when either is small."""
    listed = [row for row in summary["concepts"] if row["samples"] >= min_cell]
    summary["concepts_not_listed"] = len(summary["concepts"]) - len(listed)
    summary["concepts"] = listed
    for row in listed:
        if 0 < n_samples - row["samples"] < min_cell:
            row["suppressed"] = {"samples": SUPPRESSED}
            row["samples"] = None
    small = small_marker(min_cell)
    pair = ("samples_with_notes", "samples_without_notes")
    if any(0 < summary[k] < min_cell for k in pair):
        summary["suppressed"] = {
            k: (small if 0 < summary[k] < min_cell else SUPPRESSED) for k in pair
        }
        for k in pair:
            summary[k] = None


def _read(settings: NotesSettings) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The notes with their sample ID in ``note_id`` (several notes per sample allowed)."""
    if settings.id_column is None:  # never guessed: a note ID is not a sample ID
        raise UserError(errors.NOTES_NO_SAMPLE_ID, path=settings.path)
    keep = [settings.time_column] if settings.time_column else []
    try:
        table = read_notes(
            settings.path,
            id_column=settings.id_column,
            text_column=settings.text_column,
            keep=keep,
        )
    except UserError as exc:
        if exc.template is errors.NOTES_ID_COLUMN_MISSING:
            raise UserError(errors.NOTES_SAMPLE_ID_MISSING, **exc.fields) from None
        # the reader's messages name notes extract's options; a run's are --notes-*
        template = exc.template.replace("--text-column", "--notes-text")
        raise UserError(template.replace("--id-column", "--notes-id"), **exc.fields) from None
    return table.frame, {
        "id_column": table.id_column,
        "text_column": table.text_column,
        "n_read": table.n_rows,
        "n_empty": table.n_empty,
        "notes": list(table.notes),
        "file": {
            "path": str(Path(settings.path).resolve()),
            "sha256": table.sha256,
            "n_notes": table.n_rows,
        },
    }


def _language(choice: str, texts: pd.Series) -> tuple[str, str]:
    if choice != "auto":
        return choice, f"given (--notes-language {choice})"
    return detect_language(list(texts))


def _time_settings(settings: NotesSettings) -> dict[str, Any] | None:
    if settings.time_column is None:
        return None
    return {
        "notes_time": settings.time_column,
        "index_time": settings.index_time,
        "index_is_date": settings.index_is_date,
        "rule": "a note is used when its time is before the sample's index time",
    }


def _before_index(
    notes: pd.DataFrame,
    owner: pd.Series,
    settings: NotesSettings,
    index_times: pd.Series | None,
    data_path: str | None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Which notes were written before their sample's index time; the counts left out."""
    if settings.time_column is None:
        return np.ones(len(notes), bool), {}
    note_time, note_zoned = _times(
        notes[settings.time_column], f"{settings.path}", settings.time_column
    )
    if settings.index_is_date:
        stamp, index_zoned = _times(pd.Series([settings.index_time]), "--index-time", "the date")
        index = pd.Series(np.repeat(stamp.to_numpy(), len(notes)), index=notes.index)
    else:
        assert index_times is not None, "an --index-time column is read with the data"
        per_sample, index_zoned = _times(index_times, str(data_path), str(settings.index_time))
        per_sample.index = [str(i) for i in index_times.index]
        index = pd.Series(per_sample.reindex(owner.to_numpy()).to_numpy(), index=notes.index)
    if _is_datetime(note_time) != _is_datetime(index) or note_zoned != index_zoned:
        raise UserError(
            errors.NOTES_TIME_KINDS,
            notes_time=settings.time_column,
            index_time=settings.index_time,
        )
    if _is_datetime(note_time) and (note_time.dropna() == note_time.dropna().dt.normalize()).all():
        # notes dated by day only: a note of the index day may have been written after the
        # index moment, so it counts as written at the index time (left out)
        index = index.dt.normalize()
    no_time = note_time.isna().to_numpy()
    no_index = index.isna().to_numpy() & ~no_time
    known = ~no_time & ~no_index
    before = np.zeros(len(notes), bool)
    before[known] = note_time.to_numpy()[known] < index.to_numpy()[known]
    return before, {
        "notes_at_or_after_index": int((known & ~before).sum()),
        "notes_without_time": int(no_time.sum()),
        "notes_without_index_time": int(no_index.sum()),
    }


def _is_datetime(values: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(values)


def _times(values: pd.Series, where: str, column: str) -> tuple[pd.Series, bool]:
    """Numbers (days from admission, …) or ISO 8601 dates (``2020-01-31``, optionally with a
    time), and whether they carry a UTC offset (then compared in UTC). Day-first and
    month-first dates (``01/02/2020``) are refused, not guessed: read either way, a note
    could move to the other side of the index time. Date columns of a typed file (Parquet,
    h5ad, Excel) are dates as they are."""
    if _is_datetime(values):
        zoned = getattr(values.dt, "tz", None) is not None
        return (values.dt.tz_convert("UTC").dt.tz_localize(None) if zoned else values), zoned
    given = values.notna() & (values.astype(str).str.strip() != "")
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers[given].notna().all():
        return numbers.astype(float), False
    text = values.where(given).astype(str).str.strip()
    iso = text.str.fullmatch(ISO_DATE) & given
    zoned = iso & text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$")
    bad = given & ~iso
    if zoned.any() and (iso & ~zoned).any():  # some with an offset, some without: the fewer
        bad = bad | (zoned if zoned.sum() <= (iso & ~zoned).sum() else iso & ~zoned)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise UserError(errors.NOTES_BAD_TIME, where=where, column=column, row=row + 2)
    # with offsets: compared in UTC (an offset on every value, or on none)
    dates = pd.to_datetime(text.where(iso), errors="coerce", format="ISO8601", utc=zoned.any())
    if zoned.any():
        dates = dates.dt.tz_localize(None)
    bad = given & dates.isna()  # well-formed but impossible (2020-13-45)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise UserError(errors.NOTES_BAD_TIME, where=where, column=column, row=row + 2)
    return dates, bool(zoned.any())


def check_index_column(adata: Any, column: str, data: str | None) -> pd.Series:
    """The ``--index-time COLUMN`` of the data read with it (kept in ``obs``, not a
    feature); a name that is no column of the data is one line, with the closest names."""
    if column not in adata.obs:
        categorical = adata.obsm.get("categorical")
        names = [
            *map(str, adata.obs.columns),
            *map(str, adata.var_names),
            *(map(str, categorical.columns) if categorical is not None else ()),
        ]
        raise UserError(
            errors.NOTES_INDEX_TIME_MISSING,
            value=column,
            data=data or "the data",
            hint=errors.closest_names_hint(column, names),
        )
    return adata.obs[column]


@dataclass(frozen=True)
class RunColumns:
    """A saved run's note columns (results.json ``clinical_notes``): their names, in order,
    and the unit of each value column."""

    features: tuple[str, ...]
    value_units: Mapping[str, str]


def _columns(
    mentions: pd.DataFrame,
    ids: pd.Index,
    owner: pd.Series,
    min_cell: int,
    run: RunColumns | None = None,
) -> tuple[pd.DataFrame, dict[str, int], int, dict[str, str]]:
    """Counts per sample, concept and state; mean values; the number of notes used. Also
    the value units left out per concept, the number of rare columns, each value's unit.

    A concept-state or value column found in fewer than ``min_cell`` samples is left out
    (their number is returned): too rare to learn from, and its name alone would tell that a
    few patients have it. Decided without the outcome, like dropping a constant column. For
    a saved run's new samples (``run``) nothing is left out: its columns are the run's.
    """
    parts = [owner.value_counts().reindex(ids, fill_value=0).rename(COUNT_COLUMN).astype(float)]
    rare = 0
    concepts = mentions[mentions["kind"] == "concept"]
    if len(concepts):
        keyed = concepts.assign(state=mention_states(concepts))
        table = (
            keyed.groupby(["sample", "concept_id", "state"]).size().unstack(["concept_id", "state"])
        )
        table = table.reindex(ids).fillna(0.0)
        order = sorted(table.columns, key=lambda cs: (str(cs[0]), STATES.index(cs[1])))
        table = table[order]
        table.columns = [f"note:{c}:{s}" for c, s in order]
        common = ((table > 0).sum() >= min_cell) | (run is not None)
        rare += int((~common).sum())
        parts.append(table.loc[:, common].astype(float))
    left_out_units: dict[str, int] = {}
    units: dict[str, str] = {}
    # values of the patient's current findings only: not a relative's, not negated, possible,
    # hypothetical ("call if temperature above 38.5") or historical ("previous EF 25%")
    values = mentions[(mentions["kind"] == "value") & _present(mentions)]
    values = values[pd.to_numeric(values["value_normalized"], errors="coerce").notna()]
    for concept, rows in values.groupby("concept_id", sort=True):
        if run is not None:
            unit = run.value_units.get(str(concept))
            if unit is None:  # the run had no value column for it
                continue
        else:  # the concept's most frequent unit over all samples (no outcome involved)
            unit = rows["unit_normalized"].astype(str).value_counts().index[0]
        same = rows[rows["unit_normalized"].astype(str) == unit]
        mean = pd.to_numeric(same["value_normalized"]).groupby(same["sample"]).mean()
        if run is None and mean.size < min_cell:
            rare += 1
            continue
        if len(same) < len(rows):
            left_out_units[str(concept)] = int(len(rows) - len(same))
        units[str(concept)] = unit
        parts.append(mean.reindex(ids).rename(f"note:{concept}:value"))
    columns = pd.concat(parts, axis=1)
    columns.index = ids
    if run is not None:  # the run's columns: a count the new notes lack is 0, a value NaN
        columns = columns.reindex(columns=list(run.features))
        counts = [c for c in columns.columns if not c.endswith(":value")]
        columns[counts] = columns[counts].fillna(0.0)
    return columns, left_out_units, rare, units


def _present(mentions: pd.DataFrame) -> np.ndarray:
    flags = ("negated", "possible", "hypothetical", "family", "historical")
    return ~mentions[list(flags)].to_numpy(bool).any(axis=1)


def _concept_table(mentions: pd.DataFrame) -> list[dict[str, Any]]:
    """Per concept: mentions in each state, value mentions and samples mentioning it."""
    if not len(mentions):
        return []
    concepts = mentions[mentions["kind"] == "concept"]
    states = mention_states(concepts) if len(concepts) else pd.Series(dtype=object)
    rows = []
    for concept, group in mentions.groupby("concept_id", sort=True):
        own = group[group["kind"] == "concept"]
        by_state = states.loc[own.index].value_counts() if len(own) else pd.Series(dtype=int)
        rows.append(
            {
                "concept_id": str(concept),
                "name": str(group["concept_name"].iloc[0]),
                "category": str(group["category"].iloc[0] or ""),
                "mentions": len(own),
                **{s: int(by_state.get(s, 0)) for s in STATES},
                "values": int((group["kind"] == "value").sum()),
                "samples": int(group["sample"].nunique()),
            }
        )
    return sorted(rows, key=lambda r: (-r["mentions"], r["concept_id"]))


def _evidence(mentions: pd.DataFrame, texts: np.ndarray) -> list[dict[str, Any]]:
    """A few snippets per concept (``--show-evidence`` only): the text around a mention,
    with its state and the trigger that set it."""
    out: list[dict[str, Any]] = []
    concepts = mentions[mentions["kind"] == "concept"]
    if not len(concepts):
        return out
    concepts = concepts.assign(state=mention_states(concepts))
    for concept, group in concepts.groupby("concept_id", sort=True):
        for _, m in group.head(EVIDENCE_PER_CONCEPT).iterrows():
            text = str(texts[int(m["note_id"])])
            start, end = int(m["start"]), int(m["end"])
            lo, hi = max(0, start - EVIDENCE_CONTEXT), min(len(text), end + EVIDENCE_CONTEXT)
            trigger = next((str(m[f"{f}_by"]) for f in _FLAG_OF[m["state"]] if m[f"{f}_by"]), "")
            out.append(
                {
                    "concept_id": str(concept),
                    "state": str(m["state"]),
                    "trigger": trigger,
                    "before": ("…" if lo > 0 else "") + text[lo:start],
                    "mention": text[start:end],
                    "after": text[end:hi] + ("…" if hi < len(text) else ""),
                }
            )
    return out


_FLAG_OF = {
    "affirmed": (),
    "negated": ("negated",),
    "uncertain": ("possible", "hypothetical"),
    "historical": ("historical",),
    "family": ("family",),
}
