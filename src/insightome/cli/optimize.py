"""``insightome optimize SEEDS --objective FILE.yaml``: evolve molecules toward an objective.

Parses the options, reads the seeds (any file :func:`~insightome.featurize.molecules.
read_molecules` reads: .smi, .csv, .tsv, .sdf, optionally gzipped) and the objective, loads the
ADMET bundle only when the objective needs one, runs
:func:`~insightome.apps.admet.optimize.optimize` and writes the report. Seeds that do not parse
are listed and skipped. A :class:`~insightome.errors.UserError` is printed as one line on stderr
with exit code 2, also when the command is mounted on another Typer app.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from insightome.errors import EXIT_USER_ERROR, UserError

__all__ = ["BUNDLE_UNAVAILABLE", "NO_VALID_SEEDS", "optimize_command"]

NO_VALID_SEEDS = (
    "{path}: none of the {n} molecules parse as SMILES (e.g. {examples}). Check the file's "
    "SMILES column."
)

BUNDLE_UNAVAILABLE = (
    "{path}: the objectives use ADMET endpoints, but this insightome has no ADMET bundle "
    "support (insightome.apps.admet.bundle). Upgrade insightome, or use built-in properties only."
)

out = Console()
err = Console(stderr=True)


def optimize_command(
    seeds: Annotated[
        Path, typer.Argument(help="Seed molecules: .smi, .csv, .tsv or .sdf (optionally .gz).")
    ],
    objective: Annotated[
        Path, typer.Option("--objective", help="Objective YAML (see docs/optimize.md).")
    ],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Output directory (replaced if it is an earlier one).")
    ] = Path("optimize_out"),
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="ADMET bundle directory (default: the fitted default)."),
    ] = None,
    generations: Annotated[
        int | None, typer.Option(min=1, help="Override search.generations.")
    ] = None,
    population: Annotated[
        int | None, typer.Option(min=2, help="Override search.population.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Override search.seed.")] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar; print only the report path.")
    ] = False,
) -> None:
    """Evolve molecules from SEEDS toward the objective; write the Pareto set and a report."""
    try:
        _optimize(seeds, objective, out_dir, bundle, generations, population, seed, quiet)
    except UserError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        # SystemExit, not typer.Exit: the app runs click with standalone_mode=False, where a
        # typer.Exit's code is returned (and lost) instead of becoming the exit status
        raise SystemExit(EXIT_USER_ERROR) from None


def _optimize(
    seeds_path: Path,
    objective_path: Path,
    out_dir: Path,
    bundle: Path | None,
    generations: int | None,
    population: int | None,
    seed: int | None,
    quiet: bool,
) -> None:
    from insightome.apps.admet.context import to_mol
    from insightome.apps.admet.optimize import optimize, read_objective
    from insightome.apps.admet.optimize_report import write_optimization
    from insightome.featurize.molecules import read_molecules

    objective = read_objective(objective_path)
    overrides = {
        key: value
        for key, value in (("generations", generations), ("population", population), ("seed", seed))
        if value is not None
    }
    if overrides:
        search = replace(objective.search, **overrides)
        if search.elites is not None and search.elites > search.population:
            search = replace(search, elites=search.population)
        objective = replace(objective, search=search)

    table = read_molecules(seeds_path)
    ids = table.ids or [f"row {r}" for r in table.rows]
    valid, names, bad = [], [], []
    for smiles, name, row in zip(table.smiles, ids, table.rows, strict=True):
        try:
            to_mol(smiles)
        except (TypeError, ValueError):
            bad.append(f"row {row} ({smiles!r})")
            continue
        valid.append(smiles)
        names.append(name or f"row {row}")
    if not valid:
        raise UserError(NO_VALID_SEEDS, path=seeds_path, n=len(bad), examples=_listed(bad, 3))
    if bad and not quiet:
        err.print(
            f"[yellow]skipped {len(bad)} seed(s) that do not parse:[/] {escape(_listed(bad))}",
            soft_wrap=True,
        )

    predictor = None
    if objective.endpoints or bundle is not None:
        try:
            from insightome.apps.admet.bundle import load_bundle
        except ModuleNotFoundError as exc:  # an installation without the ADMET bundle code
            if exc.name != "insightome.apps.admet.bundle":
                raise
            raise UserError(BUNDLE_UNAVAILABLE, path=objective_path) from exc
        predictor = load_bundle(None if bundle is None else str(bundle))

    result = optimize(valid, objective, predictor, progress=not quiet, seed_names=names)
    report = write_optimization(result, out_dir)
    if quiet:
        out.print(str(report.resolve()), markup=False, highlight=False, soft_wrap=True)
        return
    rate = result.counts["evaluated"] / max(result.seconds, 1e-9)
    out.print(
        f"[bold]Optimized[/] {len(valid)} seed(s): best score {result.best_score:.3f} "
        f"(best seed {result.best_seed_score:.3f}); {result.counts['evaluated']} molecules "
        f"scored in {result.seconds:.1f} s ({rate:.0f}/s); {len(result.pareto)} on the "
        "Pareto set — computational hypotheses, unvalidated.",
        soft_wrap=True,
    )
    out.print(f"Report: [bold]{escape(str(report.resolve()))}[/]", soft_wrap=True)


def _listed(items: list[str], k: int = 5) -> str:
    """The first ``k`` items, comma-separated, with '…' when there are more."""
    return ", ".join(items[:k]) + (", …" if len(items) > k else "")
