"""Where the workbench keeps things, per user, and the checks on every path a request names.

::

    DATA_DIR/
      .secret  audit.jsonl
      runs/                         the owner's runs: ``insightome run … --out DATA_DIR/runs``
      users/<name>/runs/            every other user's runs
      users/<name>/uploads/<id>/    one uploaded dataset: its files and dataset.json
      users/<name>/jobs/<id>/       one job: job.json, outcome.json, worker.log, outputs

No path from a request reaches the file system unchecked: a name from a URL or a form must
match :data:`SAFE_NAME` (no separators, no leading dot, no ``..``) and the joined path must
resolve inside the user's own folder (:func:`inside`). Uploads are streamed to a hidden
temporary folder, size-limited while they arrive, checked by suffix and by their first bytes,
and renamed into place only once the data file has been read successfully.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import h5py

from insightome import errors
from insightome.compute.checkpoint import PARTIAL_SUFFIX, is_held
from insightome.errors import UserError
from insightome.io.images import resolve_ref
from insightome.stages.progress import read_progress

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._()+ -]{0,126}$")
CHUNK = 1 << 20

#: What each kind of upload may be, by suffix (the data readers' formats).
DATA_SUFFIXES = (
    ".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz", ".tab", ".tab.gz",
    ".parquet", ".pq", ".xlsx", ".h5ad", ".mat",
)  # fmt: skip
ROLE_SUFFIXES = {
    "data": DATA_SUFFIXES,
    "annotations": (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz", ".tab", ".xlsx"),
    "notes": (".csv", ".tsv", ".txt", ".jsonl"),
    "genesets": (".gmt",),
    "images": (".zip",),
}
ROLE_LABELS = {
    "data": "data table",
    "annotations": "sample sheet",
    "notes": "clinical notes",
    "genesets": "gene sets",
    "images": "images (a zip of the files the manifest names)",
}
#: The first bytes a file of each binary suffix starts with.
MAGIC = {
    ".xlsx": b"PK\x03\x04", ".zip": b"PK\x03\x04", ".parquet": b"PAR1", ".pq": b"PAR1",
    ".h5ad": b"\x89HDF",
}  # fmt: skip
MAX_ZIP_FILES = 100_000


class Refused(Exception):
    """A request the workbench will not serve: ``status`` (400, 403, 404, 413) and one line."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def safe_name(name: str, what: str, field: str | None = None) -> str:
    """``name`` if it is a plain file or folder name, else :class:`Refused` (400)."""
    if not SAFE_NAME.match(name or "") or ".." in name:
        raise Refused(
            400,
            f"{what} {name!r} is refused: give a plain name (letters, digits, '.', '_', '-', "
            "spaces), not a path",
            field,
        )
    return name


def inside(base: Path, *names: str) -> Path:
    """``base/names…``, each name checked, and the result resolving inside ``base``."""
    path = base
    for name in names:
        path = path / safe_name(name, "name")
    resolved, root = path.resolve(), base.resolve()
    if resolved != root and not resolved.is_relative_to(root):
        raise Refused(403, "that path lies outside your folder")
    return path


def suffix_of(name: str, allowed: tuple[str, ...]) -> str | None:
    lower = name.lower()
    return next((s for s in sorted(allowed, key=len, reverse=True) if lower.endswith(s)), None)


@dataclass(frozen=True)
class Space:
    """One user's folders under the data directory."""

    data_dir: Path
    user: str
    owner: bool

    @property
    def home(self) -> Path:
        return self.data_dir / "users" / self.user

    @property
    def runs(self) -> Path:
        return self.data_dir / "runs" if self.owner else self.home / "runs"

    @property
    def uploads(self) -> Path:
        return self.home / "uploads"

    @property
    def jobs(self) -> Path:
        return self.home / "jobs"

    def make(self) -> Space:
        for folder in (self.runs, self.uploads, self.jobs):
            folder.mkdir(parents=True, exist_ok=True)
        return self


# -- uploads --------------------------------------------------------------------------------


def save_upload(stream: BinaryIO, filename: str, role: str, folder: Path, max_bytes: int) -> Path:
    """Stream one uploaded file into ``folder`` (a temporary folder), refusing a bad name,
    a type the role does not take, content that does not match the suffix, and more than
    ``max_bytes`` (413, stopped while it arrives)."""
    label = ROLE_LABELS[role]
    name = safe_name(filename or "", f"the {label}'s file name", role)  # a path is refused
    suffix = suffix_of(name, ROLE_SUFFIXES[role])
    if suffix is None:
        raise Refused(
            400,
            f"{name}: a {label} must be one of {', '.join(ROLE_SUFFIXES[role])}",
            role,
        )
    target = folder / name
    written = 0
    with open(target, "xb") as out:
        while chunk := stream.read(CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise Refused(
                    413,
                    f"{name}: larger than this server's upload limit of "
                    f"{max_bytes / 2**20:.0f} MB (ask the administrator for --max-upload-mb)",
                    role,
                )
            out.write(chunk)
    if written == 0:
        raise Refused(400, f"{name}: the file is empty", role)
    _check_content(target, suffix, label, role)
    return target


def _check_content(path: Path, suffix: str, label: str, role: str) -> None:
    head = path.open("rb").read(65536)
    magic = MAGIC.get(suffix)
    if magic is not None:
        ok = head.startswith(magic)
    elif suffix == ".mat":
        ok = head.startswith(b"MATLAB") or head.startswith(b"\x89HDF") or len(head) > 128
    elif suffix.endswith(".gz"):
        ok = head.startswith(b"\x1f\x8b")
        if ok:
            try:
                with gzip.open(path, "rb") as handle:
                    head = handle.read(65536)
            except (OSError, EOFError):  # a corrupt or truncated gzip
                head = b"\x00"
            ok = b"\x00" not in head
    else:
        ok = b"\x00" not in head  # a text table, notes or gene sets: no NUL bytes
    if not ok:
        raise Refused(
            400, f"{path.name}: its content is not a {suffix} file; export the {label} again", role
        )
    if head.startswith(b"\x89HDF") or head[512:516] == b"\x89HDF":  # .h5ad, .mat v7.3
        _check_hdf5(path, role)


def _check_hdf5(path: Path, role: str) -> None:
    """An HDF5 file must hold its own data: an external link, a virtual dataset or a dataset
    with external raw storage would make the reader open another file (another user's)."""
    try:
        with h5py.File(path, "r") as handle:
            found = _foreign(handle)
    except (OSError, RuntimeError, ValueError) as exc:
        raise Refused(400, f"{path.name}: not a readable HDF5 file ({exc})", role) from None
    if found is not None:
        raise Refused(400, f"{path.name}: {found!r} links to another file; save the data "
                      "inside this one", role)  # fmt: skip


def _foreign(handle: h5py.File) -> str | None:
    """The first member that reads another file, or None. HDF5's own visitors see every
    link once and every object once, whatever cycles the file's links make."""
    found: list[str] = []

    def link(name: bytes, info: h5py.h5l.LinkInfo) -> None:
        if info.type == h5py.h5l.TYPE_EXTERNAL:
            found.append(name.decode(errors="replace"))

    def item(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset) and (
            obj.is_virtual or obj.id.get_create_plist().get_external_count() > 0
        ):
            found.append(name)

    handle.id.links.visit(link, info=True)
    handle.visititems(item)
    return found[0] if found else None


def extract_images(archive: Path, folder: Path, max_bytes: int, reserved: set[str]) -> int:
    """Unpack an images zip into the dataset's folder (where the manifest's relative paths
    point), refusing members that are links, absolute, climb out (``..``), would replace
    the dataset's own files, or unpack to more than ``max_bytes`` (counted while writing,
    whatever the zip declares); returns the number of files. The zip itself is removed."""
    try:
        files = _unpack(archive, folder, max_bytes, reserved)
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        raise Refused(400, f"{archive.name}: two members have the same name, or a file and "
                      "a folder do; rename them", "images") from None  # fmt: skip
    except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, zlib.error) as exc:
        # corrupt, truncated, encrypted or compressed in a way Python cannot read
        raise Refused(400, f"{archive.name}: not a readable zip ({exc})", "images") from None
    archive.unlink()
    return files


def _unpack(archive: Path, folder: Path, max_bytes: int, reserved: set[str]) -> int:
    label = ROLE_LABELS["images"]
    written = files = 0
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            name = info.filename
            parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
            is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
            if name.startswith(("/", "\\")) or ".." in parts or ":" in name or is_link:
                raise Refused(400, f"{archive.name}: member {name!r} is refused (a link or a "
                              "path outside the zip's own folders)", "images")  # fmt: skip
            if info.is_dir() or not parts:
                continue
            if parts[0] in reserved:  # nor a folder of that name
                raise Refused(400, f"{archive.name}: member {name!r} would replace an uploaded "
                              "file; rename it", "images")  # fmt: skip
            files += 1
            if files > MAX_ZIP_FILES:
                raise Refused(413, f"{archive.name}: more than {MAX_ZIP_FILES} files", "images")
            target = folder.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(info) as source, open(target, "xb") as out:
                while chunk := source.read(CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        raise Refused(413, f"{archive.name}: the {label} unpack to more than "
                                      f"{max_bytes / 2**20:.0f} MB", "images")  # fmt: skip
                    out.write(chunk)
    return files


def check_inside(values: list[str], folder: Path, option: str) -> None:
    """Every path of a manifest column, resolved by the image readers' own rule
    (:func:`insightome.io.images.resolve_ref`), must lie inside the dataset's folder: a
    manifest must not name another user's files or the server's (:class:`UserError`, named
    by the option and row, one line)."""
    root = folder.resolve()
    for row, value in enumerate(values, start=1):
        try:
            resolved = resolve_ref(value, folder)[0].resolve()
        except (OSError, ValueError):  # a NUL byte, a loop of links: not a path here
            resolved = None
        if resolved is None or not (resolved == root or resolved.is_relative_to(root)):
            raise UserError(
                errors.OPTION_INVALID, option=option,
                reason=f"row {row}: {value!r} lies outside this dataset; in the browser, "
                "images are the files of the uploaded zip, named relative to the manifest",
            )  # fmt: skip


def remove_leftovers(data_dir: Path) -> int:
    """What a crash or an aborted download left behind (an upload being received, a zip
    being sent): removed when the server starts, as no request of this server uses them."""
    removed = 0
    for leftover in data_dir.glob("users/*/uploads/.upload-*"):
        shutil.rmtree(leftover, ignore_errors=True)
        removed += 1
    for leftover in data_dir.glob("users/*/.zip-*.zip"):
        leftover.unlink(missing_ok=True)
        removed += 1
    return removed


def new_dataset_folder(uploads: Path) -> Path:
    uploads.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".upload-", dir=uploads))


def commit_dataset(tmp: Path, uploads: Path, files: dict[str, str]) -> str:
    """Write dataset.json and rename the temporary folder into place; returns its id."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", files["data"].split(".")[0]).strip("-") or "data"
    created = datetime.now(UTC)
    meta = {"created": created.isoformat(timespec="seconds"), "files": files}
    (tmp / "dataset.json").write_text(json.dumps(meta, indent=2))
    suffix = 1
    while True:
        dataset_id = f"{created.strftime('%Y%m%d-%H%M%S')}-{stem[:40]}"
        dataset_id += "" if suffix == 1 else f"-{suffix}"
        try:
            tmp.rename(uploads / dataset_id)
            return dataset_id
        except OSError:
            if not (uploads / dataset_id).exists():
                raise
            suffix += 1


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Dataset:
    id: str
    folder: Path
    created: str
    files: dict[str, str]

    def path(self, role: str) -> Path | None:
        name = self.files.get(role)
        return None if name is None else self.folder / name


def load_dataset(uploads: Path, dataset_id: str) -> Dataset:
    folder = inside(uploads, dataset_id)
    try:
        meta = json.loads((folder / "dataset.json").read_text())
    except (OSError, ValueError):
        raise Refused(404, f"no dataset {dataset_id!r}") from None
    return Dataset(dataset_id, folder, meta["created"], dict(meta["files"]))


def list_datasets(uploads: Path) -> list[Dataset]:
    found = []
    for folder in sorted(uploads.glob("[!.]*"), reverse=True):
        try:
            found.append(load_dataset(uploads, folder.name))
        except Refused:
            continue
    return found


# -- runs -----------------------------------------------------------------------------------


@dataclass
class RunEntry:
    """A run directory, or a ``.partial`` one (running or interrupted), in a runs folder."""

    name: str
    path: Path
    state: str  # finished, running, interrupted
    summary: dict[str, Any] = field(default_factory=dict)
    progress: dict[str, Any] | None = None


def list_runs(runs: Path) -> list[RunEntry]:
    entries = []
    if not runs.is_dir():
        return entries
    for path in sorted(runs.glob("[!.]*"), reverse=True):
        if not path.is_dir():
            continue
        if path.name.endswith(PARTIAL_SUFFIX):
            state = "running" if is_held(path) else "interrupted"
            entries.append(RunEntry(path.name, path, state, progress=read_progress(path)))
        elif (path / "results.json").is_file():
            entries.append(RunEntry(path.name, path, "finished", summary=run_summary(path)))
    return entries


def run_summary(path: Path) -> dict[str, Any]:
    """The few facts a list of runs shows (no patient data: names and numbers)."""
    try:
        results = json.loads((path / "results.json").read_text())
    except (OSError, ValueError):
        return {}
    estimate = results.get("estimate") or {}
    outcome = results.get("outcome") or {}
    return {
        "winner": (results.get("winner") or {}).get("name"),
        "metric": estimate.get("metric"),
        "value": estimate.get("value"),
        "ci95": estimate.get("ci95"),
        "task": results.get("task"),
        "target": outcome.get("target") or outcome.get("event"),
        "n_samples": results.get("n_samples"),
    }


def zip_run(run_dir: Path, tmp_dir: Path) -> Path:
    """The whole run directory as a zip in ``tmp_dir`` (links are left out)."""
    handle, name = tempfile.mkstemp(prefix=".zip-", suffix=".zip", dir=tmp_dir)
    path = Path(name)
    with open(handle, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(run_dir.rglob("*")):
            if item.is_symlink() or not item.is_file():
                continue
            archive.write(item, Path(run_dir.name) / item.relative_to(run_dir))
    return path
