"""The read stage: the data (a file or an AnnData) as AnnData with provenance, the
featurizers applied, and the gene-set files.

A :class:`Featurizer` is how a modality plugs in (DESIGN.md, "Modalities are
featurizers"): it turns inputs the AnnData carries (a text column of ``obs``, image paths,
SMILES) into numeric columns, which are appended to ``X`` of the same AnnData, so every
later stage sees them as features like any other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import pandas as pd

from insightome import errors
from insightome.errors import UserError
from insightome.featurize.columns import append_columns
from insightome.images_features import (
    META_PREFIX,
    ImagesSettings,
    images_features,
    paths_to_obs,
    with_image_columns,
)
from insightome.io import read as read_file
from insightome.io.genesets import read_gmt
from insightome.io.streaming import selected_columns
from insightome.models.note_terms import NoteTexts
from insightome.notes_features import (
    NotesSettings,
    check_index_column,
    left_out,
    notes_features,
)
from insightome.options import RunOptions
from insightome.run_content import with_provenance
from insightome.stages.state import RunState


@dataclass(frozen=True)
class Featurizer:
    """``columns(adata)`` → a DataFrame of new numeric feature columns, one row per sample
    (indexed by ``adata.obs_names``), named unlike any existing feature.

    The featurizer runs once, on all samples, before any resampling: each row must be
    computed from that sample alone (a descriptor, a count, a ratio). Anything learned
    across samples (a vocabulary, scaling, CNN weights) would leak into the CV estimate and
    belongs in a candidate's Pipeline instead. So ``columns`` is given the features and the
    sample IDs only — no outcome, sensitive attribute or group column."""

    name: str
    columns: Callable[[ad.AnnData], pd.DataFrame]

    def apply(self, adata: ad.AnnData) -> ad.AnnData:
        features_only = ad.AnnData(adata.X, obs=pd.DataFrame(index=adata.obs_names), var=adata.var)
        return append_columns(adata, self.columns(features_only), self.name)


def read(state: RunState) -> None:
    """Read the gene sets and the data (its max_features most variable columns when
    asked), apply the featurizers; on resume, the data must be the interrupted run's."""
    o = state.options
    if o.genesets:
        state.gene_sets = read_gmt(o.genesets)
    notes = _notes_settings(o)
    index_column = notes.index_time if notes and not notes.index_is_date else None
    keep = [
        c for c in (o.target, o.time_col, o.event, o.groups, o.site, *o.sensitive, *o.exclude) if c
    ]
    if o.image_column:  # image:<field> columns (--site image:manufacturer) come with the images
        keep = [c for c in keep if not c.startswith(META_PREFIX)]
    adata = _read_input(state.data, [*keep, *([index_column] if index_column else [])], o)
    if o.image_column:
        adata = paths_to_obs(adata, [c for c in (o.image_column, o.mask_column) if c])
    for featurizer in state.featurizers:
        adata = featurizer.apply(adata)
    state.data_sha256 = [f["sha256"] for f in adata.uns.get("provenance", {}).get("files", [])]
    if notes is not None:
        adata = _with_notes(adata, notes, index_column, state)
        # the notes and the lexicon: a resumed run must see the same
        state.data_sha256 += [state.notes["file"]["sha256"], state.notes["lexicon"]["sha256"]]
    if o.image_column:
        adata = _with_images(adata, state)
        # the pixels and masks read, and the encoder: a resumed run must see the same
        state.data_sha256 += [state.images["pixels_sha256"]]
        if "encoder" in state.images:
            state.data_sha256 += [state.images["encoder"]["sha256"]]
    state.adata = adata
    checkpoint = state.checkpoint
    if checkpoint is not None and checkpoint.invocation.get("data_sha256") != state.data_sha256:
        raise UserError(
            errors.OPTION_INVALID,
            option="--resume",
            reason=f"the data changed since the interrupted run in {checkpoint.directory} "
            "(sha256 differs); start a new run instead",
        )


def _notes_settings(o: RunOptions) -> NotesSettings | None:
    if o.notes is None:
        return None
    return NotesSettings(
        o.notes, id_column=o.notes_id, text_column=o.notes_text, lexicon=o.lexicon,
        language=o.notes_language, time_column=o.notes_time, index_time=o.index_time,
        show_evidence=o.show_evidence, n_jobs=o.n_jobs, min_cell=o.min_cell,
        texts=o.notes_tfidf > 0,
    )  # fmt: skip


def _with_notes(
    adata: ad.AnnData, settings: NotesSettings, index_column: str | None, state: RunState
) -> ad.AnnData:
    """The notes' features appended (a Featurizer: one row per sample, from its own notes);
    results.json ``notes`` gets their counts and settings, never their text."""
    if settings.id_column is None and state.options.id_column:
        settings = dataclasses.replace(settings, id_column=state.options.id_column)
    source = None if isinstance(state.data, ad.AnnData) else str(state.data)
    index_times = check_index_column(adata, index_column, source) if index_column else None
    made = notes_features(settings, list(adata.obs_names), index_times, source)
    summary = dict(made.summary)
    if settings.show_evidence:
        summary["evidence"] = made.evidence
    state.notes = summary
    state.note_texts = made.texts
    if made.texts is not None:
        NoteTexts(made.texts).register()  # a resumed run's checkpoints refer to them
    state.log(_notes_line(summary))
    out = Featurizer("notes", lambda a: made.columns.loc[a.obs_names]).apply(adata)
    if summary["time_filter"] is None:
        out.uns["notes"] = [
            *out.uns.get("notes", []),
            "notes: no time filter, every note was used; a note written after the moment of "
            "prediction can carry the outcome (--notes-time and --index-time leave them out)",
        ]
    return out


def _with_images(adata: ad.AnnData, state: RunState) -> ad.AnnData:
    """The images' features appended (radiomics, encoder: a Featurizer, each row from its own
    image), their metadata as ``image:<field>`` obs columns (``--site image:manufacturer``),
    the CNN's input table kept for the candidates; results.json ``images`` gets counts and
    settings, never pixels."""
    o = state.options
    source = "data" if isinstance(state.data, ad.AnnData) else str(state.data)
    for column, code in (
        (o.image_column, errors.IMAGE_COLUMN_MISSING),
        (o.mask_column, errors.MASK_COLUMN_MISSING),
    ):
        if column and column not in adata.obs.columns:
            hint = errors.closest_names_hint(column, [*map(str, adata.var_names), *adata.obs])
            raise UserError(code, path=source, column=column, hint=hint)
    settings = ImagesSettings(
        column=str(o.image_column), mask_column=o.mask_column,
        features=tuple(o.image_features) or ("radiomics",), encoder=o.image_encoder,
        cnn_size=o.cnn_size, bins=o.radiomics_bins, bin_width=o.radiomics_bin_width,
        base=None if isinstance(state.data, ad.AnnData) else Path(state.data).resolve().parent,
        source=source, n_jobs=o.n_jobs, min_cell=o.min_cell, preset=o.preset,
    )  # fmt: skip
    made = images_features(
        settings,
        adata.obs[settings.column],
        adata.obs[settings.mask_column] if settings.mask_column else None,
    )
    state.images = made.summary
    state.image_refs = (adata.obs[settings.column].astype(str), settings.base)
    if made.cnn_input is not None:
        state.image_input = (list(map(str, adata.obs_names)), made.cnn_input)
    state.log(_images_line(made.summary))
    return with_image_columns(adata, made, settings)


def _images_line(s: dict) -> str:
    kinds = ", ".join(f"{k} {v}" for k, v in s["formats"].items())
    parts = [f"images: {s['n_images']} read ({kinds}; {s['ndim']}D)"]
    if "radiomics" in s:
        parts.append(f"{s['radiomics']['columns']} radiomics columns")
    if "encoder" in s:
        parts.append(
            f"encoder {s['encoder'].get('file', '')} → {s['encoder'].get('output_dim')} columns"
        )
    if "cnn" in s:
        parts.append(f"CNN input {s['cnn']['size']}×{s['cnn']['size']}")
    return "; ".join(parts) + f"; {s['seconds']} s"


def _notes_line(s: dict) -> str:
    left = left_out(s)
    return (
        f"notes: {s['notes_used']} of {s['notes_read']} notes used"
        + (f" ({'; '.join(left)} left out)" if left else "")
        + f"; language {s['language']} ({s['language_reason']}); "
        f"{s['mentions']['concept']} concept and {s['mentions']['value']} value mentions; "
        f"{len(s['features'])} feature columns"
    )


def _read_input(data: ad.AnnData | str | Path, keep: list[str], o: RunOptions) -> ad.AnnData:
    """The data as AnnData with provenance: a file read by :func:`insightome.io.read`, or
    the caller's AnnData (its ``max_features`` most variable columns, when asked)."""
    if not isinstance(data, ad.AnnData):
        adata = read_file(
            data,
            annotations=o.annotations,
            id_column=o.id_column,
            orient=o.orient,
            keep_in_obs=keep,
            max_features=o.max_features,
            decimal=o.decimal,
            annotations_id_column=o.annotations_id_column,
            drop_unmatched=o.drop_unmatched,
            annotation_features=o.sheet_features(),
        )
        joined = adata.uns["provenance"].get("annotations")
        by_sensitive = [c for c in o.annotation_features if c not in o.sheet_features()]
        if joined is not None and by_sensitive:  # features through --use-sensitive
            joined["features"] = [*joined["features"], *by_sensitive]
            joined["not_features"] = [c for c in joined["not_features"] if c not in by_sensitive]
        return adata
    adata = data if data.uns.get("provenance") else with_provenance(data)
    if o.max_features is not None and o.max_features < adata.n_vars:
        names = [str(v) for v in adata.var_names]
        columns, note = selected_columns(adata.X, names, o.max_features)
        adata = adata[:, columns].copy()
        adata.uns["notes"] = [*adata.uns.get("notes", []), note]
    return adata
