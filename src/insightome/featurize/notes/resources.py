"""The packaged rule files and the one reader of their TSV format, and spaCy's blank
pipelines (imported here, inside functions, so the package imports without spaCy).

Resource files live in ``featurize/notes/resources/<language>/`` (``context.tsv``,
``sections.tsv``, ``lexicon.csv``) and ``resources/common/`` (``units.tsv``,
``stopwords.tsv``). A TSV has a header line; lines starting with ``#`` and blank lines are
comments.
"""

from __future__ import annotations

import hashlib
import sys
from functools import cache
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.errors import UserError

__all__ = [
    "LANGUAGES",
    "RESOURCES",
    "blank_pipeline",
    "os_reason",
    "read_tsv",
    "resource",
    "rules_sha256",
    "tokenizer",
]

#: The languages the engine has rules for.
LANGUAGES: tuple[str, ...] = ("en", "es")
RESOURCES = Path(__file__).with_name("resources")


def resource(language: str, name: str) -> Path:
    """The packaged file ``name`` of ``language`` (or of ``common``)."""
    return RESOURCES / language / name


def rules_sha256(language: str) -> str:
    """One digest of the packaged rules a language's mentions depend on (ConText rules,
    sections, units, stopwords): a saved run's features can be rebuilt only with the same."""
    h = hashlib.sha256()
    for path in (
        resource(language, "context.tsv"),
        resource(language, "sections.tsv"),
        RESOURCES / "common" / "units.tsv",
    ):
        h.update(path.name.encode() + b"\x1f" + path.read_bytes() + b"\x1e")
    return h.hexdigest()


def read_bytes(path: Path) -> bytes:
    """A rule or lexicon file's bytes; a missing, directory or unreadable path is one line."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UserError(errors.FILE_MISSING, path=path) from None
    except IsADirectoryError:
        raise UserError(errors.FILE_IS_DIRECTORY, path=path) from None
    except OSError as exc:  # permissions, a path through a file, an I/O error
        raise UserError(errors.FILE_UNREADABLE, path=path, reason=os_reason(exc)) from None


def read_tsv(path: str | Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of each data line of a commented TSV with a header line.

    Missing trailing fields read as ""; a missing ``required`` column is a :class:`UserError`.
    """
    path = Path(path)
    try:
        lines = read_bytes(path).decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise UserError(
            errors.FILE_CORRUPT, path=path, kind="UTF-8 text", reason=exc.reason
        ) from None
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if header is None:
            header = [f.lower() for f in fields]
            for column in required:
                if column not in header:
                    raise UserError(
                        errors.RULES_COLUMN_MISSING,
                        path=path,
                        column=column,
                        columns=", ".join(header),
                    )
            continue
        if len(fields) > len(header):
            raise UserError(
                errors.RULES_BAD_ROW,
                path=path,
                line=number,
                reason=f"{len(fields)} tab-separated fields, the header has {len(header)}",
            )
        fields += [""] * (len(header) - len(fields))
        rows.append((number, dict(zip(header, fields, strict=True))))
    return rows


def os_reason(exc: OSError) -> str:
    """The reason of an operating-system error, without the path ("Permission denied")."""
    return exc.strerror or type(exc).__name__


def _spacy() -> Any:
    try:
        import spacy
    except ImportError:
        raise UserError(errors.NOTES_EXTRA_MISSING) from None
    return spacy


@cache
def blank_pipeline(language: str) -> Any:
    """spaCy's blank pipeline of ``language`` (a tokenizer only; no model), one per process.

    spaCy refuses texts longer than ``nlp.max_length`` (1,000,000 characters, error E088)
    because its parser and named-entity models need about 1 GB per 100,000 characters; a
    blank pipeline has no model and its tokenizer's memory grows with the tokens only, so
    the limit is lifted: a note of any length is read whole, not cut into pieces whose
    sentences and sections would differ from the note's. The engine tokenizes with
    ``nlp.tokenizer`` (which never checks the limit) in any case.
    """
    nlp = _spacy().blank(language)
    nlp.max_length = sys.maxsize
    return nlp


def tokenizer(language: str) -> Any:
    """The tokenizer of :func:`blank_pipeline`."""
    return blank_pipeline(language).tokenizer
