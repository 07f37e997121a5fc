"""Read gene-set collections from GMT files (MSigDB, Reactome, WikiPathways, Enrichr).

A GMT file holds one gene set per line: the set name, a description (often a URL or a
pathway ID) and then the member genes, all separated by tabs. The reader is lenient
about what real exports contain and strict about what would silently change a result:

* CRLF or LF line endings, a UTF-8 byte-order mark, blank lines, stray whitespace around
  fields, empty trailing fields and repeated genes within a set are all accepted (genes
  are de-duplicated). Enrichr's weighted ``GENE,1.0`` entries keep only the gene; other
  commas are kept (Reactome has members such as ``SARS coronavirus, complete genome``).
* ``.gmt.gz`` files are read through gzip.
* A line with fewer than three fields (or no genes), an empty set name, a set name given
  twice in one file, an empty file or a file without any set raises a one-line
  :class:`insightome.errors.UserError` naming the file (and line).
* When two files define the same set name, the sets are kept apart by prefixing their
  names with the file stem (``h.all.v7.0.symbols:HALLMARK_HYPOXIA``).

Gene names are kept exactly as written; case-insensitive matching against measured
features is the job of :mod:`insightome.discover.pathways`.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.errors import UserError
from insightome.io.provenance import file_sha256

GMT_KIND = "a GMT gene-set file"
_WEIGHT = re.compile(r",\s*[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?$")  # Enrichr's 'GENE,1.0'


@dataclass(frozen=True)
class GeneSets:
    """Named gene sets with the file each came from.

    ``sets`` maps set name → member genes; ``source`` maps set name → the file name it
    was read from; ``descriptions`` maps set name → the GMT description field; ``files``
    records, per file read, its path as given, absolute path, SHA-256, and numbers of sets
    and distinct genes.
    """

    sets: dict[str, frozenset[str]]
    source: dict[str, str]
    files: list[dict[str, Any]] = field(default_factory=list)
    descriptions: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sets)

    @property
    def genes(self) -> frozenset[str]:
        """Every gene in at least one set (as written in the files)."""
        return frozenset().union(*self.sets.values()) if self.sets else frozenset()


@dataclass
class _ParsedFile:
    display: str
    sets: dict[str, frozenset[str]]
    descriptions: dict[str, str]


def _plural(n: int) -> str:
    return "" if n == 1 else "s"


def _read_text(path: Path, display: str) -> str:
    if not path.exists():
        raise UserError(errors.FILE_MISSING, path=display)
    if path.is_dir():
        raise UserError(errors.FILE_IS_DIRECTORY, path=display)
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                raw = handle.read()
        else:
            raw = path.read_bytes()
    except PermissionError as exc:
        raise UserError(errors.FILE_UNREADABLE, path=display, reason=exc.strerror) from exc
    except (OSError, EOFError) as exc:
        raise UserError(errors.FILE_CORRUPT, path=display, kind=GMT_KIND, reason=exc) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text at byte {exc.start}"
        raise UserError(errors.FILE_CORRUPT, path=display, kind=GMT_KIND, reason=reason) from exc


def _parse(path: Path, display: str) -> _ParsedFile:
    text = _read_text(path, display)
    if not text:
        raise UserError(errors.GMT_EMPTY, path=display)
    sets: dict[str, frozenset[str]] = {}
    descriptions: dict[str, str] = {}
    first_line: dict[str, int] = {}
    # splitlines() handles \n, \r\n and lone \r alike.
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        while fields and not fields[-1]:
            fields.pop()
        genes = dict.fromkeys(g for f in fields[2:] if (g := _WEIGHT.sub("", f).strip()))
        if len(fields) < 3 or not genes:
            n = len(fields) if genes else min(len(fields), 2)
            raise UserError(errors.GMT_SHORT_LINE, path=display, line=number, n=n, s=_plural(n))
        name = fields[0]
        if not name:
            raise UserError(errors.GMT_NO_NAME, path=display, line=number)
        if name in sets:
            raise UserError(
                errors.GMT_DUPLICATE_SET,
                path=display,
                line=number,
                name=name,
                first=first_line[name],
            )
        sets[name] = frozenset(genes)
        descriptions[name] = fields[1]
        first_line[name] = number
    if not sets:
        raise UserError(errors.GMT_NO_SETS, path=display)
    return _ParsedFile(display, sets, descriptions)


def _stems(paths: list[Path]) -> list[str]:
    """File stems (``.gmt`` / ``.gmt.gz`` removed), made unique with ``_2``, ``_3`` …"""
    stems: list[str] = []
    for path in paths:
        name = path.name
        for suffix in (".gz", ".gmt", ".txt"):
            if name.lower().endswith(suffix):
                name = name[: -len(suffix)]
        stem, k = name, 2
        while stem in stems:
            stem, k = f"{name}_{k}", k + 1
        stems.append(stem)
    return stems


def read_gmt(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> GeneSets:
    """Read one or more GMT files into :class:`GeneSets`.

    A file given twice (same absolute path) is read once. Set names defined in more than
    one file are prefixed with the file stem and a colon in every file that defines them.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    unique: dict[Path, str] = {}
    for p in paths:
        unique.setdefault(Path(p).expanduser().absolute(), str(p))
    if not unique:
        raise UserError(errors.GMT_NO_FILES)

    parsed = [_parse(path, display) for path, display in unique.items()]
    counts: dict[str, int] = {}
    for one in parsed:
        for name in one.sets:
            counts[name] = counts.get(name, 0) + 1

    sets: dict[str, frozenset[str]] = {}
    source: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    files: list[dict[str, Any]] = []
    stems = _stems(list(unique))
    for (path, display), one, stem in zip(unique.items(), parsed, stems, strict=True):
        for name, genes in one.sets.items():
            key = f"{stem}:{name}" if counts[name] > 1 else name
            sets[key] = genes
            source[key] = path.name
            descriptions[key] = one.descriptions[name]
        files.append(
            {
                "path": display,
                "absolute_path": str(path),
                "sha256": file_sha256(path),
                "n_sets": len(one.sets),
                "n_genes": len(frozenset().union(*one.sets.values())),
            }
        )
    return GeneSets(sets=sets, source=source, files=files, descriptions=descriptions)
