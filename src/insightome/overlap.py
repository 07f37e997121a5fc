"""Is a "new" cohort really new? Keyed hashes of the training rows.

``validate`` and ``monitor`` are only external checks when the data they are given played
no part in training. To check that without keeping the training data, a run stores one
keyed hash per training row:

* a random 32-byte key made for the run (``training_rows.key``, hex);
* per training row, HMAC-SHA256 under that key of the row's canonical bytes, truncated to
  16 bytes (``training_rows.hmac``: the digests sorted, so the row order is not kept).

A plain hash of a row could be checked against guessed rows (clinical values have few
plausible combinations); a keyed one cannot without the key. The key is stored in the run
directory beside the hashes, so this protects the rows from a reader of ``model.json`` or of
the hash file alone, not from whoever holds the whole run directory: with the key, guessed
rows can be tested one at a time, as against a salted hash. Share a run directory only as
you would share its training data (it also holds the fitted model). The rows themselves
are never stored.

**Canonical row.** The model's features in the sorted order of their names (so a cohort's
column order does not matter). Numeric features as little-endian float32, after rounding
to float32 (so float32 and float64 copies of the same values, and CSVs written from either,
give the same bytes; -0 is 0 and every missing value one NaN); then categorical features
as their labels (as :func:`insightome.study.label_string` writes them; missing and levels
the model does not know as one marker), joined by a separator.

:func:`training_overlap` hashes a cohort's rows with the run's key and counts those equal
to a training row. Only exact copies (after float32 rounding) are found: a patient
measured again, or values with noise added, are not.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from insightome import errors
from insightome.compute.blocks import blocks
from insightome.errors import UserError
from insightome.images_features import PIXELS_KEY
from insightome.study import label_string

SCHEME = "insightome.row_hmac/1"
KEY_FILE = "training_rows.key"
HASH_FILE = "training_rows.hmac"
DIGEST_BYTES = 16
REFUSE_SHARE = 0.5  # this share of rows or more equal to training rows: refused unless forced
MISSING_LABEL = b"\x00"
SEPARATOR = b"\x1f"

OVERLAP_REFUSED = (
    "{path}: {n} of {n_rows} rows ({share:.0%}) are identical to rows the model was trained "
    "on, so this is not {what}: it would report how the model fits its own training data. "
    "Give data the model has not seen, or pass --allow-training-overlap to {command} them "
    "anyway (recorded in the report)."
)


@dataclass(frozen=True)
class RowHashes:
    """The keyed digests of a run's training rows (module doc)."""

    key: bytes
    digests: np.ndarray  # sorted, dtype S16

    def card_entry(self) -> dict[str, Any]:
        """What ``model.json`` records of them (no key, no digest)."""
        return {
            "scheme": SCHEME,
            "n_rows": len(self.digests),
            "digest_bytes": DIGEST_BYTES,
            "files": [KEY_FILE, HASH_FILE],
            "sha256": hashlib.sha256(self.digests.tobytes()).hexdigest(),
        }


def row_digests(table: pd.DataFrame, dtypes: dict[str, str], key: bytes) -> np.ndarray:
    """HMAC-SHA256 (truncated) of each row's canonical bytes, in the table's row order.

    ``dtypes`` is ``model.json``'s feature → ``"numeric"`` / ``"categorical"``.
    """
    names = sorted(map(str, table.columns))
    numeric = [n for n in names if dtypes.get(n) != "categorical"]
    labelled = [n for n in names if dtypes.get(n) == "categorical"]
    if not all(isinstance(c, str) for c in table.columns):  # (no copy when they are)
        table = table.set_axis(list(map(str, table.columns)), axis=1)
    out = np.empty(len(table), dtype=f"S{DIGEST_BYTES}")
    for rows in blocks(len(table), max(len(names), 1)):
        part = table.iloc[rows]
        with np.errstate(over="ignore", invalid="ignore"):
            values = part[numeric].to_numpy(dtype=np.float64).astype(np.float32)
        values += np.float32(0)  # -0 becomes 0
        values[np.isnan(values)] = np.nan  # one NaN
        values = values.astype("<f4", copy=False)
        labels = [
            SEPARATOR.join(
                MISSING_LABEL if pd.isna(v) else label_string(v).encode() for v in row
            )
            for row in part[labelled].itertuples(index=False, name=None)
        ] if labelled else [b""] * len(part)  # fmt: skip
        for i, (row, text) in enumerate(zip(values, labels, strict=True)):
            digest = hmac.new(key, row.tobytes() + SEPARATOR + text, hashlib.sha256).digest()
            out[rows.start + i] = digest[:DIGEST_BYTES]
    return out


IMAGE_KEY = PIXELS_KEY  # obs column of image runs: the SHA-256 of each sample's pixels


def with_image_keys(
    table: pd.DataFrame, obs: pd.DataFrame, dtypes: dict[str, str]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """An image run's rows (``obs`` has :data:`IMAGE_KEY`) with their pixels' SHA-256 as one
    more column of the canonical row: two samples with equal features but other images are
    different rows (a CNN-only run has no feature column at all); as is otherwise."""
    if IMAGE_KEY not in obs.columns:
        return table, dtypes
    keys = obs[IMAGE_KEY].reindex(table.index.astype(str).tolist())
    return table.assign(**{IMAGE_KEY: keys.to_numpy()}), {**dtypes, IMAGE_KEY: "categorical"}


def training_hashes(features: pd.DataFrame, dtypes: dict[str, str]) -> RowHashes:
    """Keyed digests of the training rows under a new random key."""
    key = secrets.token_bytes(32)
    return RowHashes(key, np.sort(row_digests(features, dtypes, key)))


def write_hashes(directory: Path, hashes: RowHashes) -> dict[str, Any]:
    """Write the key and digests into a run directory; returns the ``model.json`` entry."""
    (directory / KEY_FILE).write_text(hashes.key.hex() + "\n")
    (directory / HASH_FILE).write_bytes(hashes.digests.tobytes())
    return hashes.card_entry()


def read_hashes(directory: Path, entry: dict[str, Any] | None) -> RowHashes | None:
    """The run's training-row digests; None for a run that predates them (no entry)."""
    if not entry:
        return None
    for name in (KEY_FILE, HASH_FILE):
        if not (directory / name).is_file():
            raise UserError(errors.RUN_DIR_INVALID, path=str(directory), missing=name)
    key = bytes.fromhex((directory / KEY_FILE).read_text().strip())
    digests = np.frombuffer((directory / HASH_FILE).read_bytes(), dtype=f"S{DIGEST_BYTES}")
    if hashlib.sha256(digests.tobytes()).hexdigest() != entry.get("sha256"):
        missing = f"{HASH_FILE} matching model.json's sha256 (the file was changed)"
        raise UserError(errors.RUN_DIR_INVALID, path=str(directory), missing=missing)
    return RowHashes(key, digests)


def training_overlap(
    hashes: RowHashes | None,
    table: pd.DataFrame,
    dtypes: dict[str, str],
    *,
    absent: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """How many rows of ``table`` (the model's features of new data) are training rows.

    ``{"checked", "n_rows", "n_overlap", "fraction", "method", "forced"}``, or
    ``checked: False`` with the ``reason`` where the check is not possible (a run without
    digests; features absent from the new data, so no row can equal a training row).
    """
    out: dict[str, Any] = {"checked": False, "n_rows": len(table), "n_overlap": None}
    out |= {"fraction": None, "forced": False}
    if hashes is None:
        reason = "the run predates training-row hashes; rerun it with this version to check"
        return out | {"reason": reason}
    if absent:
        reason = f"{len(absent)} model feature(s) are absent from the data, so no row can match"
        return out | {"reason": reason}
    n = int(np.isin(row_digests(table, dtypes, hashes.key), hashes.digests).sum())
    return out | {
        "checked": True,
        "n_overlap": n,
        "fraction": n / max(len(table), 1),
        "method": f"keyed hashes ({SCHEME}) of exact rows, after float32 rounding",
    }


def check_overlap(
    overlap: dict[str, Any], *, path: str, what: str, command: str, allow: bool
) -> list[str]:
    """Refuse (one line) when ``REFUSE_SHARE`` or more of the rows are training rows and
    ``allow`` is false; otherwise the warnings to show and record. Sets ``forced``."""
    name = Path(path).name
    if not overlap["checked"]:
        return [f"overlap of {name} with the training data could not be checked: "
                f"{overlap['reason']}"]  # fmt: skip
    n, n_rows, share = overlap["n_overlap"], overlap["n_rows"], overlap["fraction"]
    if not n:
        return []
    if share >= REFUSE_SHARE and not allow:
        fields = {"n": n, "n_rows": n_rows, "share": share, "what": what, "command": command}
        raise UserError(OVERLAP_REFUSED, path=path, **fields)
    overlap["forced"] = share >= REFUSE_SHARE
    forced = " (--allow-training-overlap given)" if overlap["forced"] else ""
    return [
        f"{n} of {n_rows} rows ({share:.0%}) of {name} are identical to training rows"
        f"{forced}: this is not {what}, and its estimates are optimistic; remove those rows "
        "for an external estimate"
    ]
