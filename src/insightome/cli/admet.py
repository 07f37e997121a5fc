"""``insightome admet``: fit the ADMET model bundle, predict molecules, list saved bundles.

* ``insightome admet fit --data-dir DIR`` fits one model per TDC ADMET endpoint
  (:func:`~insightome.apps.admet.bundle.fit_bundle`) and saves the bundle, versioned, as the
  new default (:func:`~insightome.apps.admet.bundle.save_bundle`).
* ``insightome admet predict MOLECULES`` reads any file that
  :func:`~insightome.featurize.molecules.read_molecules` reads, profiles every molecule with
  the bundle (:meth:`~insightome.apps.admet.bundle.AdmetBundle.profile`) and writes
  ``predictions.csv``, ``summary.json`` and ``report.html``
  (:func:`~insightome.apps.admet.report.write_admet_predictions`). Molecules that cannot be
  read are reported by row with their reason and kept in the table, never dropped.
* ``insightome admet list`` lists the saved bundles and marks the default.

The sub-app registers itself on the one Typer ``app`` of :mod:`insightome.cli.root_command`
(:mod:`insightome.cli.app` imports this module), so a :class:`~insightome.errors.UserError`
becomes one line on stderr and exit code 2 there. Domain code is imported inside each command.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from insightome import errors
from insightome.cli.options import ConformalLevel, Seed
from insightome.cli.root_command import app, err, out
from insightome.errors import UserError

__all__ = ["NO_VALID_MOLECULES", "admet"]

NO_VALID_MOLECULES = (
    "{path}: no molecule in the file could be parsed ({n} rows; e.g. {examples}). Check the "
    "SMILES column (choose it with --smiles-column)."
)
JOBS_INVALID = "must be a positive number of workers, or -1 for all cores (got {value})"
LEVEL_INVALID = "must lie strictly between 0 and 1, e.g. 0.9 (got {value})"
PRESET_INVALID = "must be one of {choices} (got '{value}')"
MAX_MOLECULES_INVALID = "must be 0 or more (got {value})"

admet = typer.Typer(
    help="ADMET property prediction: fit the 22 TDC endpoint models, predict molecules.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: readable at 80 columns (cli/root_command.py)
)

Jobs = Annotated[
    int,
    typer.Option(
        "--jobs",
        "--n-jobs",
        "-j",
        help="Parallel workers (-1 = all cores).",
        envvar="INSIGHTOME_N_JOBS",
    ),
]
BundleRoot = Annotated[
    Path | None,
    typer.Option(
        "--root",
        help="Folder of the saved bundles (default: $INSIGHTOME_DATA_DIR/admet, else the "
        "user data directory's insightome/admet).",
    ),
]


def _jobs(value: int) -> int:
    """``--jobs`` as a worker count: -1 = all cores, -2 = all but one, ..."""
    if value > 0:
        return value
    if value < 0:
        return max(1, (os.cpu_count() or 1) + 1 + value)
    raise UserError(errors.OPTION_INVALID, option="--jobs", reason=JOBS_INVALID.format(value=value))


def _listed(items: list[str], k: int = 5) -> str:
    """The first ``k`` items, comma-separated, with '…' when there are more."""
    return ", ".join(items[:k]) + (", …" if len(items) > k else "")


def _estimate(summary: dict[str, Any]) -> str:
    est = summary.get("scaffold_cv_estimate") or {}
    lo, hi = (est.get("ci95") or [float("nan"), float("nan")])[:2]
    return f"{est.get('value', float('nan')):.3f} ({lo:.3f}–{hi:.3f})"


# -- fit -------------------------------------------------------------------------------


@admet.command("fit")
def fit_command(
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir",
            help="Folder with TDC's ADMET files: admet_group/<name>/train_val.csv + test.csv, "
            "or <name>.csv with Drug_ID, Drug, Y.",
        ),
    ],
    endpoints: Annotated[
        str | None,
        typer.Option(
            help="Endpoints to fit, comma-separated (TDC names or file stems; default: all 22)."
        ),
    ] = None,
    seed: Seed = 0,
    level: ConformalLevel = 0.9,
    n_jobs: Jobs = 1,
    preset: Annotated[
        str,
        typer.Option(help="default (two LightGBM configurations) or fast (one, for a quick look)."),
    ] = "default",
    root: BundleRoot = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar; print only the bundle path.")
    ] = False,
) -> None:
    """Fit one model per ADMET endpoint on all of its data; save the bundle as the default."""
    from insightome.apps.admet.bundle import fit_bundle, save_bundle
    from insightome.apps.admet.endpoints import ENDPOINTS, endpoint
    from insightome.apps.admet.model import PRESETS
    from insightome.apps.admet.tdc_data import load_endpoint
    from insightome.options import check_options

    if preset not in PRESETS:
        reason = PRESET_INVALID.format(choices=", ".join(PRESETS), value=preset)
        raise UserError(errors.OPTION_INVALID, option="--preset", reason=reason)
    if not 0.0 < level < 1.0:
        raise UserError(
            errors.OPTION_INVALID, option="--level", reason=LEVEL_INVALID.format(value=level)
        )
    check_options({"seed": seed})
    jobs = _jobs(n_jobs)
    given = [e.strip() for e in (endpoints or "").split(",") if e.strip()]
    names = list(dict.fromkeys(endpoint(e).stem for e in given)) or [
        e.stem for e in ENDPOINTS.values()
    ]
    # check every file first: a missing one should not surface after hours of fitting
    for name in names:
        load_endpoint(name, data_dir)

    if quiet:
        bundle = fit_bundle(
            data_dir, endpoints=names, seed=seed, level=level, n_jobs=jobs, preset=preset
        )
    else:
        bundle = _fit_with_progress(names, data_dir, seed, level, jobs, preset)
    path = save_bundle(bundle, root)
    if quiet:
        out.print(str(path.resolve()), markup=False, highlight=False, soft_wrap=True)
        return
    table = Table(title=f"ADMET bundle {escape(bundle.bundle_id)}", title_justify="left")
    table.add_column("endpoint", no_wrap=True)
    table.add_column("metric")
    table.add_column("scaffold-CV estimate (95% CI)", justify="right")
    table.add_column("n train", justify="right")
    for summary in bundle.summary():
        metric = summary["metric"] + (" ↓" if summary["metric"] == "MAE" else "")
        table.add_row(summary["endpoint"], metric, _estimate(summary), str(summary["n_train"]))
    out.print(table)
    out.print(
        f"Saved [bold]{escape(str(path.resolve()))}[/] (now the default bundle; "
        f"fitted in {bundle.manifest.get('fit_seconds', 0):.0f} s).",
        soft_wrap=True,
    )


def _fit_with_progress(
    names: list[str], data_dir: Path, seed: int, level: float, n_jobs: int, preset: str
) -> Any:
    """:func:`fit_bundle` with a progress bar: one step per endpoint."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from insightome.apps.admet.bundle import fit_bundle

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(f"fitting {names[0]}", total=len(names))
        done: list[str] = []

        def advance(name: str) -> None:
            done.append(name)
            following = names[len(done)] if len(done) < len(names) else None
            label = f"fitting {following}" if following else "predicting the approved drugs"
            progress.update(task, advance=1, description=label)

        return fit_bundle(
            data_dir,
            endpoints=names,
            seed=seed,
            level=level,
            n_jobs=n_jobs,
            preset=preset,
            progress=advance,
        )


# -- predict ---------------------------------------------------------------------------


def _default_out(molecules: Path) -> Path:
    """``admet_<stem>`` in the working directory (``mols.sdf.gz`` → ``admet_mols``)."""
    name = molecules.name
    if name.lower().endswith(".gz"):
        name = name[: -len(".gz")]
    return Path(f"admet_{Path(name).stem}")


@admet.command("predict")
def predict_command(
    molecules: Annotated[
        Path,
        typer.Argument(help="Molecules: .csv, .tsv, .smi or .sdf (optionally .gz)."),
    ],
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="Bundle folder (default: the current default bundle)."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Output folder (default: admet_<file stem>; replaced if it is an earlier one).",
        ),
    ] = None,
    smiles_column: Annotated[
        str | None, typer.Option(help="SMILES column (default: detected).")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option(help="Molecule-ID column (default: detected, if any).")
    ] = None,
    n_jobs: Jobs = 1,
    max_molecules: Annotated[
        int, typer.Option(help="Molecule cards in report.html (all rows are in the CSV).")
    ] = 200,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the report path.")
    ] = False,
) -> None:
    """Predict every ADMET endpoint of the bundle for each molecule; write CSV, JSON, report."""
    from insightome.apps.admet.bundle import load_bundle
    from insightome.apps.admet.report import check_out_dir, write_admet_predictions
    from insightome.featurize.molecules import read_molecules
    from insightome.io.provenance import file_sha256

    if max_molecules < 0:
        reason = MAX_MOLECULES_INVALID.format(value=max_molecules)
        raise UserError(errors.OPTION_INVALID, option="--max-molecules", reason=reason)
    jobs = _jobs(n_jobs)
    molecule_table = read_molecules(molecules, smiles_column=smiles_column, id_column=id_column)
    target = check_out_dir(out_dir if out_dir is not None else _default_out(molecules))
    model = load_bundle(bundle)
    profile = model.profile(molecule_table.smiles, n_jobs=jobs)

    rows = [int(r) for r in molecule_table.rows]
    ids = molecule_table.ids or [""] * len(rows)
    if molecule_table.read_errors is not None:  # SD records RDKit could not read
        for i, reason in enumerate(molecule_table.read_errors):
            if reason:
                profile.loc[i, "reason"] = reason
    ids = [i or f"row {r}" for i, r in zip(ids, rows, strict=True)]
    profile.insert(0, "row", rows)
    profile.insert(0, "id", ids)
    bad = profile.loc[~profile["valid"].astype(bool)]
    invalid = [
        {"row": int(r.row), "id": str(r.id), "input": str(r.input), "reason": str(r.reason)}
        for r in bad.itertuples(index=False)
    ]
    if len(invalid) == len(profile):
        shown = [f"row {i['row']} ({i['input']!r}: {i['reason']})" for i in invalid]
        raise UserError(
            NO_VALID_MOLECULES, path=molecules, n=len(invalid), examples=_listed(shown, 3)
        )

    report = write_admet_predictions(
        profile,
        model,
        target,
        source=molecules,
        input_sha256=file_sha256(molecules),
        invalid=invalid,
        max_molecules=max_molecules,
    )
    if quiet:
        out.print(str(report.resolve()), markup=False, highlight=False, soft_wrap=True)
        return
    _print_prediction_summary(profile, model.endpoints, invalid, model.bundle_id, model.level)
    out.print(f"Report: [bold]{escape(str(report.resolve()))}[/]", soft_wrap=True)


def _print_prediction_summary(
    profile: Any,
    endpoints: list[str],
    invalid: list[dict[str, Any]],
    bundle_id: str,
    level: float,
) -> None:
    valid = profile["valid"].astype(bool).to_numpy()
    n_valid = int(valid.sum())
    flags = profile.loc[valid, [f"{n}_in_domain" for n in endpoints]].astype(bool).to_numpy()
    n_ood = int((~flags).sum())
    n_mol_ood = int((~flags).any(axis=1).sum())
    out.print(
        f"[bold]ADMET predictions[/] for {len(profile)} molecule(s) with bundle "
        f"{escape(bundle_id)}: {n_valid} predicted, {len(invalid)} could not be read. "
        f"{n_ood} of {flags.size} predictions are out of domain ({n_mol_ood} molecule(s) with "
        f"at least one); intervals and sets at {level:.0%} coverage. Computational "
        "predictions, unvalidated.",
        soft_wrap=True,
    )
    if invalid:
        shown = [f"row {i['row']} ({i['input']!r}: {i['reason']})" for i in invalid]
        err.print(
            f"[yellow]{len(invalid)} molecule(s) could not be read[/] (kept in the CSV with "
            f"valid = False): {escape(_listed(shown))}",
            soft_wrap=True,
        )


# -- list ------------------------------------------------------------------------------


@admet.command("list")
def list_command(root: BundleRoot = None) -> None:
    """List the saved ADMET bundles; the default one is marked CURRENT."""
    from insightome.apps.admet.bundle import CURRENT_FILE, MANIFEST_FILE, bundles_dir

    base = bundles_dir(root)
    folders = (
        sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
        if base.is_dir()
        else []
    )
    current_file = base / CURRENT_FILE
    current = current_file.read_text().strip() if current_file.is_file() else None
    if not folders:
        out.print(
            f"No ADMET bundles in {escape(str(base))}. Build one with: insightome admet fit "
            "--data-dir DIR",
            soft_wrap=True,
        )
        return
    out.print(
        f"[bold]ADMET bundles[/] in {escape(str(base))} (CURRENT = the default):", soft_wrap=True
    )
    for folder in folders:
        try:
            manifest = json.loads((folder / MANIFEST_FILE).read_text())
        except (OSError, ValueError):
            manifest = None
        if not isinstance(manifest, dict):
            out.print(f"  {escape(folder.name)}  (no readable {MANIFEST_FILE})", soft_wrap=True)
            continue
        level = manifest.get("conformal_level")
        parts = [
            folder.name,
            f"created {manifest.get('created', '–')}",
            f"{len(manifest.get('endpoints') or [])} endpoint(s)",
            f"preset {manifest.get('preset', '–')}",
            f"seed {manifest.get('seed', '–')}",
            f"level {level:g}" if isinstance(level, int | float) else "level –",
        ]
        mark = "  [bold green]CURRENT[/]" if folder.name == current else ""
        out.print("  " + escape("  ".join(parts)) + mark, soft_wrap=True, highlight=False)


app.add_typer(admet, name="admet")
