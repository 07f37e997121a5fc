"""The clinical notes of samples scored by a saved run made with ``--notes``.

``predict``, ``validate`` and ``monitor`` take the new samples' notes (``--notes PATH``);
the reruns of ``discover`` and ``audit`` (:func:`insightome.followup.reload`) read the run's
own notes file again. Either way the note features are built by the same
:func:`insightome.notes_features.notes_features`, with the **run's** lexicon, language and
settings (results.json ``invocation`` and ``clinical_notes``), so they match the model's
features by name:

* the lexicon file must still have the sha256 recorded by the run, and a run made with the
  starter lexicon needs the packaged one of the same sha256 (a package upgrade that changed
  it is refused: the concepts would not mean what the model learned);
* the notes' ID, text and time columns and the index time default to the run's own;
* a concept or state absent from the new notes is a count of 0 (as for a training sample
  whose notes did not mention it), a value absent is missing (imputed as in training);
* with ``--notes-tfidf``, the model (:class:`~insightome.models.note_terms.NoteTerms`) gets
  the new samples' negation-marked notes for this prediction only: the saved model stays
  without note text.

No note text reaches a message, a log or a result here: counts only.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from insightome import errors
from insightome.errors import UserError
from insightome.featurize.notes import Lexicon, read_lexicon, rules_sha256, starter_lexicon
from insightome.models.note_terms import NoteTerms, NoteTexts
from insightome.notes_features import (
    NotesFeatures,
    NotesSettings,
    RunColumns,
    check_index_column,
    left_out,
    notes_features,
)
from insightome.options.checks import check_new_data_combinations
from insightome.run_directory import file_sha256

NOTES_NEEDED = (
    "{run}: the model was trained with clinical notes (insightome run --notes); give the "
    "new samples' notes with --notes PATH (one row per note; docs/notes.md, 'Saved runs')."
)
NOTES_NOT_USED = (
    "--notes: {run} was made without clinical notes, so its model takes none; drop --notes "
    "(and the other --notes-*/--index-time options)."
)
LEXICON_CHANGED = (
    "{path}: the run's lexicon changed since the run (sha256 differs), so its concepts may "
    "not be the ones the model learned; restore the file or make a new run."
)
LEXICON_GONE = (
    "{path}: the run's lexicon is not there any more; restore it (the same file: its sha256 "
    "is checked) to use the run on new notes."
)
STARTER_CHANGED = (
    "the packaged starter lexicon ({language}) differs from the one the run used (sha256 "
    "differs: insightome was upgraded since the run); use the insightome version that made "
    "the run, or make a new run."
)
NOTES_CHANGED = (
    "{option}: {path} changed since the run (sha256 differs); restore the run's notes or "
    "start a new run."
)
NOTES_GONE = (
    "{option}: the run's notes file {path} is not there any more; restore it (same sha256) "
    "to rerun this step."
)
RULES_CHANGED = (
    "the packaged note rules ({language}: ConText rules, sections, units) differ from the ones "
    "the run used (insightome was upgraded since the run), so new notes would not give the "
    "features its model learned; use the insightome version that made the run, or make a "
    "new run."
)
INDEX_DATE_NEEDED = (
    "--index-time: the run kept the notes written before one date ({date}) for every "
    "sample; give the new samples' own index time (--index-time COLUMN or YYYY-MM-DD)."
)
TEXTS_KEY = "note_texts"  # adata.uns: the samples' negation-marked notes (--notes-tfidf)


@dataclass(frozen=True)
class NotesReading:
    """The ``--notes*`` options of ``predict``, ``validate`` and ``monitor`` (None: the run's
    own, except ``notes``: the new samples' notes table)."""

    notes: str | Path | None = None
    notes_id: str | None = None
    notes_text: str | None = None
    notes_time: str | None = None
    index_time: str | None = None

    def check(self) -> None:
        """The notes options need the notes (one line, before the run is opened)."""
        check_new_data_combinations(dataclasses.asdict(self))


def run_made_with_notes(results: Mapping[str, Any]) -> bool:
    return bool(results.get("clinical_notes"))


def check_notes_reading(reading: NotesReading, results: Mapping[str, Any], run: str) -> None:
    """A notes run without notes, or notes for a run without them: one line each."""
    if run_made_with_notes(results) and reading.notes is None:
        raise UserError(NOTES_NEEDED, run=run)
    if not run_made_with_notes(results) and reading.notes is not None:
        raise UserError(NOTES_NOT_USED, run=run)


def recorded_lexicon(results: Mapping[str, Any]) -> Lexicon:
    """The lexicon the run used, checked against its recorded sha256."""
    summary = results["clinical_notes"]
    recorded = summary["lexicon"]["sha256"]
    path = (results.get("invocation") or {}).get("lexicon")
    if path is not None:
        if not Path(path).is_file():
            raise UserError(LEXICON_GONE, path=path)
        lexicon = read_lexicon(path)
        if lexicon.sha256 != recorded:
            raise UserError(LEXICON_CHANGED, path=path)
        return lexicon
    lexicon = starter_lexicon(summary["language"])
    if lexicon.sha256 != recorded:
        raise UserError(STARTER_CHANGED, language=summary["language"])
    return lexicon


def check_rules(results: Mapping[str, Any]) -> None:
    """The packaged rules are the run's (runs that recorded their digest)."""
    summary = results["clinical_notes"]
    recorded = summary.get("rules_sha256")
    if recorded is not None and recorded != rules_sha256(summary["language"]):
        raise UserError(RULES_CHANGED, language=summary["language"])


def index_column(results: Mapping[str, Any], reading: NotesReading | None = None) -> str | None:
    """The data column holding each sample's index time (None: none, or a fixed date), to
    be read with the data (and kept out of the features)."""
    if not run_made_with_notes(results):
        return None
    settings = _settings(results, reading or NotesReading(), "")
    return settings.index_time if settings.time_column and not settings.index_is_date else None


def _settings(results: Mapping[str, Any], reading: NotesReading, path: str | Path) -> NotesSettings:
    inv = results.get("invocation") or {}
    summary = results["clinical_notes"]

    def own(name: str, recorded: Any) -> Any:
        value = getattr(reading, name)
        return recorded if value is None else value

    return NotesSettings(
        path,
        id_column=own("notes_id", summary.get("id_column") or inv.get("notes_id")),
        text_column=own("notes_text", summary.get("text_column") or inv.get("notes_text")),
        language=str(summary["language"]),
        time_column=own("notes_time", inv.get("notes_time")),
        index_time=own("index_time", inv.get("index_time")),
        show_evidence=False,
        min_cell=int(inv.get("min_cell") or 10),
        texts=bool(inv.get("notes_tfidf")),
    )


def note_features_for(
    results: Mapping[str, Any],
    adata: ad.AnnData,
    reading: NotesReading,
    data_path: str | None,
    *,
    run_samples: bool = False,
) -> NotesFeatures:
    """The note features of ``adata``'s samples, built as the run built its own (with
    ``run_samples``, the run's own samples again: its fixed index date is theirs)."""
    settings = _settings(results, reading, reading.notes or "")
    if bool(settings.time_column) != bool(settings.index_time):
        given = "--notes-time" if reading.notes_time else "--index-time"
        reason = (
            "the run kept no notes by time, so the other of --notes-time and --index-time "
            "has no default; give both to keep only notes written before the index time"
        )
        raise UserError(errors.OPTION_INVALID, option=given, reason=reason)
    recorded = (results.get("invocation") or {}).get("index_time")
    fixed_date = settings.index_is_date and recorded == settings.index_time
    if reading.index_time is None and fixed_date and not run_samples:
        raise UserError(INDEX_DATE_NEEDED, date=recorded)
    lexicon = recorded_lexicon(results)
    check_rules(results)
    index = index_column(results, reading)
    times = check_index_column(adata, index, data_path) if index else None
    summary = results["clinical_notes"]
    run_columns = RunColumns(
        tuple(run_note_features(results)), dict(summary.get("value_units") or {})
    )
    return notes_features(
        settings, list(adata.obs_names), times, data_path, lexicon=lexicon, run_columns=run_columns
    )


def run_notes_file(results: Mapping[str, Any], option: str) -> str:
    """The run's own notes file, for a rerun: there, and with the recorded sha256."""
    record = results["clinical_notes"]["file"]
    path = str((results.get("invocation") or {}).get("notes") or record["path"])
    if not Path(path).is_file():
        raise UserError(NOTES_GONE, option=option, path=path)
    if file_sha256(path) != record["sha256"]:
        raise UserError(NOTES_CHANGED, option=option, path=path)
    return path


def with_note_columns(adata: ad.AnnData, made: NotesFeatures, expected: list[str]) -> ad.AnnData:
    """``adata`` with the run's note feature columns appended to ``X`` (in the run's order,
    ``expected``): counts the new notes lack are 0, values NaN; the new notes' concepts the
    run never saw are not features of its model and are left out. With note texts, they go
    to ``uns`` for :func:`model_with_texts` (never written anywhere)."""
    columns = made.columns
    new = pd.DataFrame(index=columns.index)
    for name in expected:
        if name in columns.columns:
            new[name] = columns[name].to_numpy(float)
        else:
            new[name] = np.nan if name.endswith(":value") else 0.0
    clash = sorted(set(expected) & set(map(str, adata.var_names)))
    if clash:
        raise UserError(
            errors.OPTION_INVALID,
            option="--notes",
            reason=f"the data already hold column(s) named like note features: "
            f"{errors.examples(clash)}; rename them",
        )
    values = new.loc[adata.obs_names].to_numpy(float)
    x = adata.X
    stacked = (
        sp.hstack([x, sp.csr_matrix(values)]).tocsr()
        if sp.issparse(x)
        else np.hstack([np.asarray(x, dtype=float), values])
    )
    var = pd.concat([adata.var, pd.DataFrame(index=pd.Index(expected, dtype=str))])
    out = ad.AnnData(stacked, obs=adata.obs.copy(), var=var, obsm=dict(adata.obsm))
    out.uns.update(adata.uns)
    if made.texts is not None:
        out.uns[TEXTS_KEY] = made.texts
    return out


def run_note_features(results: Mapping[str, Any]) -> list[str]:
    """The note feature columns the run made, in its order."""
    return [str(c) for c in results["clinical_notes"]["features"]]


def model_with_texts(model: Any, adata: ad.AnnData) -> Any:
    """A saved :class:`NoteTerms` model given ``adata``'s notes for this prediction (a copy:
    the saved model keeps none); any other model as it is."""
    if not isinstance(model, NoteTerms):
        return model
    texts = adata.uns.get(TEXTS_KEY)
    if texts is None:
        raise UserError(errors.NOTE_TERMS_NO_TEXTS)
    given = copy.copy(model)
    given.texts = NoteTexts(texts)
    return given


def notes_line(summary: Mapping[str, Any]) -> str:
    """What the notes gave, in counts (console, warnings of a validation or monitoring)."""
    left = left_out(summary)
    without = summary.get("samples_without_notes")
    return (
        f"notes: {summary['notes_used']} of {summary['notes_read']} notes used"
        + (f" ({'; '.join(left)} left out)" if left else "")
        + (f"; {without} sample(s) without notes (their note counts are 0)" if without else "")
        + f"; the run's lexicon ({summary['lexicon']['n_concepts']} concepts) and language "
        f"({summary['language']})"
    )
