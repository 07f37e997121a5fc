"""One workbench job in its own process: ``python -m insightome.web.worker JOB_DIR``.

The job folder's ``job.json`` says what to do (a run, a resume, or predict / validate /
monitor on a saved run); the worker calls the Python API (the same calls as the CLI's
commands, so a run started here is a CLI run: same run directory, same results), and writes
``outcome.json`` (temporary file, then rename) with ``finished``, ``failed`` (the one-line
message a CLI user would read) or ``interrupted`` (SIGTERM: the run keeps its ``.partial``
checkpoint and can be resumed from the browser or with ``insightome run --resume``).
A bug's traceback goes to the job's ``worker.log``, never to a page.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from insightome import errors
from insightome.compute.backends import slurm_from_options
from insightome.compute.checkpoint import INVOCATION
from insightome.errors import UserError
from insightome.io.images import IMAGE_ROOT
from insightome.monitoring import monitor, write_monitor_report
from insightome.prediction import predict
from insightome.validation import validate
from insightome.workflow import resume, run

#: What predict / validate / monitor take from the job besides the outcome: the dataset's
#: sample sheet (the run's own reading options are used for the rest).
READING = ("annotations",)


STOPS = {signal.SIGINT, signal.SIGTERM}


def _hold_stops() -> None:
    """From here on SIGINT/SIGTERM do nothing, process-wide (joblib's threads may be the
    ones the kernel hands a signal to, so blocking it in this thread would not do)."""
    for signum in STOPS:
        signal.signal(signum, signal.SIG_IGN)


def _interrupt(signum: int, frame: object) -> None:
    for repeated in (signal.SIGINT, signal.SIGTERM):
        signal.signal(repeated, signal.SIG_IGN)  # the clean-up on the way out runs to its end
    raise errors.Interrupted(signum)


def _compute(job: dict[str, Any]) -> dict[str, Any]:
    compute = job.get("compute") or {}
    slurm = None
    if compute.get("slurm_config"):
        slurm = slurm_from_options(Path(compute["slurm_config"]))
    return {
        "n_jobs": compute.get("n_jobs", 1),
        "scheduler": compute.get("scheduler"),
        "slurm": slurm,
    }


def _dataset_folder(job: dict[str, Any]) -> Path | None:
    """The uploaded dataset's folder the job reads (a resume: its run's data file's; None
    for a run given an in-memory AnnData, which ``resume`` refuses in one line)."""
    data = job.get("data")
    if job["kind"] == "resume":
        try:
            data = json.loads((Path(job["partial"]) / INVOCATION).read_text()).get("data")
        except (OSError, ValueError, AttributeError):
            return None  # resume() says what is wrong with the .partial, in one line
    return None if data is None else Path(data).resolve().parent


def do(job: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Carry out ``job``; returns the outcome's fields. Images a manifest names must lie in
    the dataset's own folder (``INSIGHTOME_IMAGE_ROOT``, enforced where images are read)."""
    dataset = _dataset_folder(job)
    if dataset is not None:
        os.environ[IMAGE_ROOT] = str(dataset)
    kind, compute = job["kind"], _compute(job)
    if kind == "run":
        options = {**job["options"], "out_dir": job["runs_dir"], "name": job["run_name"]}
        done = run(job["data"], **options, progress=False, **compute)
        return {"run_dir": str(done.path)}
    if kind == "resume":
        done = resume(job["partial"], progress=False, **compute)
        return {"run_dir": str(done.path)}
    reading = {k: v for k, v in job["options"].items() if k in READING}  # its sample sheet
    if kind == "predict":
        table = predict(job["run_dir"], job["data"], log=True, user=job["user"], **reading)
        output = folder / "predictions.csv"
        table.to_csv(output.with_suffix(".tmp"))
        output.with_suffix(".tmp").replace(output)
        return {"output": output.name, "n": len(table)}
    if kind == "validate":
        report = validate(job["run_dir"], job["data"], **reading, **_labels(job, "target"))
        return {"output": str(report["path"])}
    if kind == "monitor":
        report = monitor(job["run_dir"], job["data"], **reading, **_labels(job, "labels"))
        return {"output": str(write_monitor_report(report, None))}
    raise ValueError(f"unknown job kind {kind!r}")


def _labels(job: dict[str, Any], keyword: str) -> dict[str, Any]:
    target = job["options"].get("target")
    return {keyword: target} if target else {}


def write_outcome(folder: Path, outcome: dict[str, Any]) -> None:
    tmp = folder / ".outcome.json.tmp"
    tmp.write_text(json.dumps(outcome, indent=2, default=str))
    os.replace(tmp, folder / "outcome.json")


def main(folder: Path) -> int:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    job = json.loads((folder / "job.json").read_text())
    try:
        done = do(job, folder)
        _hold_stops()  # done: a late stop must not lose it
        outcome, code = {"status": "finished", **done}, 0
    except UserError as exc:
        outcome, code = {"status": "failed", "error": str(exc)}, errors.EXIT_USER_ERROR
    except errors.WorkersLost as exc:
        outcome = {"status": "interrupted", "error": str(exc), "partial": _partial(exc)}
        code = exc.exit_code
    except (errors.Interrupted, KeyboardInterrupt) as exc:
        message = errors.stopped_message(exc, errors.INTERRUPTED, errors.INTERRUPTED_NO_CHECKPOINT)
        outcome, code = {"status": "interrupted", "error": message, "partial": _partial(exc)}, 143
    except Exception as exc:  # a bug: the traceback in worker.log, one line on the page
        traceback.print_exc()
        outcome = {
            "status": "failed",
            "error": f"internal error ({type(exc).__name__}); the job's worker.log has the "
            "details for a bug report",
        }
        code = 1
    _hold_stops()  # the outcome is written whole
    write_outcome(folder, outcome)
    return code


def _partial(exc: BaseException) -> str | None:
    partial = getattr(exc, "partial", None)
    return None if partial is None else str(partial)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
