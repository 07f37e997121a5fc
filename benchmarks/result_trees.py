"""A run's results as a folder of plain files, so that two versions of the code can be diffed.

The benchmarks run ``insightome.run`` with ``out_dir=None`` and keep only summary rows. With
``--results-dir DIR`` they also call :func:`save_run` for every run, which writes what the
:class:`insightome.Run` holds as data (not the pickled models, not the log, whose lines
carry wall-clock times) into ``DIR/<dataset>/<split or cohort>/``:

- ``results.json``: ``run.results`` converted for JSON as ``insightome.io.json_values.json_ready``
  does it (numpy scalars and arrays to Python, NaN and infinities to ``null``);
- ``model_card.json``: ``run.model_card`` (what ``model.json`` holds, before the run
  directory's sha256 of the model file is added);
- ``predictions.csv``: the out-of-fold predictions, written as the run directory writes them;
- ``hypotheses.tsv``: discovery's table, when the run has one;
- the generated documents (``MODEL_CARD.md``, ...), when the run has them;
- any extra tables the benchmark adds (``extra_tables``, e.g. hold-out predictions).

The folder is written beside its destination under a hidden name and renamed into place
when complete, so an interrupted benchmark never leaves a half-written folder (an existing
folder of the same name is replaced). ``benchmarks/diff_results.py`` compares two such trees.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from insightome.io.json_values import json_ready


def as_plain_data(value: Any) -> Any:
    """A run's results or model card: a dict (anything else is refused rather than written
    in some other shape)."""
    if isinstance(value, dict):
        return value
    raise TypeError(f"cannot save {type(value).__name__} as JSON: expected a dict")


def save_run(
    run: Any, directory: Path, extra_tables: dict[str, pd.DataFrame] | None = None
) -> Path:
    """Write ``run``'s data files into ``directory`` atomically; return ``directory``."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        _write_json(tmp / "results.json", as_plain_data(run.results))
        _write_json(tmp / "model_card.json", as_plain_data(run.model_card))
        run.predictions.to_csv(tmp / "predictions.csv")
        if getattr(run, "hypotheses", None) is not None:
            run.hypotheses.to_csv(tmp / "hypotheses.tsv", sep="\t", index=False)
        for name, text in (getattr(run, "documents", None) or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        for name, table in (extra_tables or {}).items():
            table.to_csv(tmp / name)
        _replace_directory(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(json_ready(data), indent=2) + "\n", encoding="utf-8")


def _replace_directory(complete: Path, final: Path) -> None:
    """Rename ``complete`` to ``final``; an existing ``final`` is moved aside, then removed."""
    if not final.exists():
        os.replace(complete, final)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", dir=final.parent))
    os.replace(final, old / final.name)
    try:
        os.replace(complete, final)
    except BaseException:
        os.replace(old / final.name, final)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
