"""``insightome synthesize``: a synthetic cohort to share, with its evidence.

The recipe (docs/synthetic.md):

1. The real cohort as one table (:mod:`insightome.synthetic.cohort_table`): the study the
   engine would model, identifiers left out.
2. A seeded, outcome-stratified split into the rows the generator learns from (``train``)
   and a real hold-out it never sees (``--holdout``, 50%): the hold-out is the yardstick of
   every check — "as close to the training patients as other real patients are".
3. Categories seen in fewer than ``--min-cell`` training rows merged (recorded).
4. Each generator (``--method``: sequential CART and the Gaussian copula, or one of them)
   fitted on ``train`` and sampled; the sample judged on fidelity
   (:mod:`~insightome.synthetic.fidelity`), privacy (:mod:`~insightome.synthetic.privacy`)
   and utility (:mod:`~insightome.synthetic.utility`: TSTR vs TRTR by BBC-CV on the whole
   real cohort, the generator refitted inside every training fold).
5. The choice, on that evidence: among the generators that pass the privacy gate, the one
   whose synthetic-trained models score best on real patients (TSTR); a tie within
   :data:`TIE` goes to the one harder to tell from real data.
6. The gate: a table that fails any privacy check is not written unless ``force``; a
   forced table carries the label in every row (``privacy_gate`` column) and in its report.

The table released is the very sample that was judged (from the generator fitted on
``train``), so the evidence is about it, not about a refit on all rows.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from insightome import errors
from insightome.compute.ledger import EnergyLedger
from insightome.errors import UserError
from insightome.evaluate.splitters import stratification_labels
from insightome.io import read
from insightome.io.json_values import json_ready
from insightome.options import RunOptions, check_combinations, check_options, declared
from insightome.report.synthetic_plots import associations_plot, marginals_plot
from insightome.report.synthetic_report import render_report
from insightome.run_content import versions
from insightome.study import make_study
from insightome.synthesis import SYNTHESIZERS, CategoryMerge, merge_rare_categories
from insightome.synthetic.cohort_table import SYNTHETIC_ID, CohortTable, cohort_table
from insightome.synthetic.fidelity import FidelityReport, fidelity_checks
from insightome.synthetic.privacy import privacy_checks
from insightome.synthetic.settings import DEFAULT_HOLDOUT, PrivacyThresholds
from insightome.synthetic.utility import UtilityResult, tstr

METHODS = tuple(SYNTHESIZERS)
#: The options of ``insightome run`` that synthesize takes (the schema's "synthesize" command)
SYNTHESIZE_OPTIONS = tuple(
    name for name, (_, o) in declared(RunOptions).items() if "synthesize" in o.commands
)
#: TSTR estimates closer than this count as a tie (then the less distinguishable wins)
TIE = 0.01
GATE_COLUMN = "privacy_gate"
GATE_LABEL = "FAILED privacy checks: written with --force, not for sharing"
SCHEMA = "insightome.synthetic/1"


@dataclass
class Synthesis:
    """What ``synthesize`` did: the files, the choice, the gate and the evidence."""

    output: Path | None  # the synthetic CSV; None when the gate refused it
    report: Path
    evidence_path: Path
    chosen: str
    passed: bool
    forced: bool
    evidence: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def synthesize(
    data: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    method: str = "auto",
    rows: int | None = None,
    holdout: float = DEFAULT_HOLDOUT,
    force: bool = False,
    thresholds: PrivacyThresholds | None = None,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> Synthesis:
    """Synthesize the cohort in ``data`` (a data file, or a run directory: its data and
    options) into ``output`` (.csv), with ``<output>.report.html`` and
    ``<output>.evidence.json`` beside it. ``options`` are ``insightome run``'s reading,
    study and resampling options (``target``, ``sensitive``, ``seed``, ...)."""
    say = progress or (lambda _message: None)
    out = _output_path(output)
    path, options = _input(Path(data), options)
    _check(method, rows, holdout, options)
    o = RunOptions(**options)
    thresholds = thresholds or PrivacyThresholds()
    ledger = EnergyLedger(o.carbon_intensity, o.pue)
    with ledger.stage("read"):
        table, made, sha256 = _read_cohort(path, o)
    say(f"cohort: {table.n_rows} rows x {len(table.frame.columns)} columns ({table.task})")
    train, hold, merges = _split(table, made.y, holdout, o)
    n_rows = rows or table.n_rows
    methods = list(METHODS) if method == "auto" else [method]
    judged: dict[str, dict[str, Any]] = {}
    samples: dict[str, pd.DataFrame] = {}
    reports: dict[str, FidelityReport] = {}
    for m in methods:
        say(f"{m}: fitting on {len(train)} rows, drawing {n_rows}")
        with ledger.stage("generate"):
            generator = SYNTHESIZERS[m]().fit(train, o.seed)
            samples[m] = generator.sample(n_rows, o.seed + 1)
        with ledger.stage("privacy"):
            privacy = privacy_checks(train, hold, samples[m], thresholds, o.seed)
        with ledger.stage("fidelity"):
            fidelity = fidelity_checks(
                train, hold, samples[m], groups=_group_columns(table, o),
                min_cell=o.min_cell, seed=o.seed,
            )  # fmt: skip
        reports[m] = fidelity
        judged[m] = {
            "notes": list(generator.notes),
            "privacy": privacy.to_dict(),
            "fidelity": fidelity.to_dict(),
            "passed": bool(privacy.passed),
            "reasons": list(privacy.reasons),
        }
    say("utility: models trained on synthetic vs real patients (BBC-CV)")
    with ledger.stage("utility"):
        utility = tstr(
            made, _model_features(table, made),
            methods, folds=made.folds.chosen, repeats=o.repeats or 3,
            n_bootstrap=o.n_bootstrap, preset=o.preset, seed=o.seed, n_jobs=o.n_jobs,
        )  # fmt: skip
    for m in methods:
        judged[m]["utility"] = utility[m].to_dict()
    chosen, rule = choose(judged, utility)
    passed, forced = judged[chosen]["passed"], bool(force and not judged[chosen]["passed"])
    evidence = {
        "schema": SCHEMA,
        "input": {"path": str(path), "sha256": sha256, **table.to_dict()},
        "design": {
            "train_rows": len(train),
            "holdout_rows": len(hold),
            "holdout": holdout,
            "synthetic_rows": n_rows,
            "output_name": out.name,
            "seed": o.seed,
            "min_cell": o.min_cell,
            "rare_categories": [_merge_record(m) for m in merges],
        },
        "methods": judged,
        "chosen": chosen,
        "choice_rule": rule,
        "gate": {
            "passed": passed,
            "forced": forced,
            "reasons": judged[chosen]["reasons"],
            "thresholds": thresholds.to_dict(),
        },
        "versions": versions(),
        "compute": ledger.to_dict(),
    }
    with ledger.stage("report"):
        figures = _figures(train, samples[chosen], reports[chosen], o.min_cell)
    evidence["compute"] = ledger.to_dict()
    return _write(out, samples[chosen], evidence, figures, passed, force)


def _figures(
    train: pd.DataFrame, sample: pd.DataFrame, fidelity: FidelityReport, min_cell: int
) -> list[dict[str, str]]:
    """The chosen table's marginals and association matrices (aggregates only: every bin
    of a numeric histogram holds at least ``min_cell`` real rows)."""
    pairs = fidelity.pairs
    return [
        {
            "title": "Marginals, real vs synthetic",
            "uri": marginals_plot(train, sample, fidelity.kinds, min_cell),
            "caption": "Each column's distribution in the real training rows and in the "
            f"synthetic table (histogram bins hold at least {min_cell} real rows; rare "
            "categories pooled).",
        },
        {
            "title": "Associations, real vs synthetic",
            "uri": associations_plot(
                pairs.columns,
                pairs.real,
                pairs.synthetic,
                flagged=[(p.a, p.b) for p in pairs.flagged],
            ),
            "caption": "Association of every pair of columns (Spearman, bias-corrected "
            "Cramér's V, correlation ratio) in the real training rows, in the synthetic "
            "table, and their difference (numbers: the pairs that differ beyond chance).",
        },
    ]


def choose(judged: dict[str, dict[str, Any]], utility: dict[str, UtilityResult]) -> tuple[str, str]:
    """The generator to release and the rule that chose it (see the module docstring).

    Among generators that pass the gate: the best TSTR score. When none passes (a table
    ``--force`` would write), the least risky first: the fewest failed privacy checks, then
    the fewest undecided ones, and only then the best TSTR score."""
    methods = list(judged)
    if len(methods) == 1:
        return methods[0], "the only generator asked for (--method)"
    passing = [m for m in methods if judged[m]["passed"]]
    if passing:
        pool, why = passing, "passes the privacy gate"
    else:
        risk = {m: _risk_rank(judged[m]) for m in methods}
        least = min(risk.values())
        pool = [m for m in methods if risk[m] == least]
        why = (
            f"none passes the privacy gate; the fewest privacy checks failed ({least[0]}) "
            f"and undecided ({least[1]})"
        )
    best = max(utility[m].synthetic["value"] for m in pool)
    tied = [m for m in pool if best - utility[m].synthetic["value"] <= TIE]
    chosen = min(tied, key=lambda m: _distinguishability(judged[m]))
    metric = utility[chosen].metric
    rule = (
        f"{why}; the highest {metric} of models trained on its synthetic rows and tested on "
        f"real patients, among {', '.join(pool)}"
    ) + (f" (tie within {TIE}: the one less distinguishable from real)" if len(tied) > 1 else "")
    return chosen, rule


def _risk_rank(judged: dict[str, Any]) -> tuple[int, int]:
    """(failed checks, undecided checks) of one generator's privacy report."""
    verdicts = [c["verdict"] for c in judged["privacy"]["checks"]]
    failed = sum(v == "fail" for v in verdicts)
    return failed, sum(v not in ("pass", "fail") for v in verdicts)


def _distinguishability(judged: dict[str, Any]) -> float:
    """The real-vs-synthetic AUC, where below 0.5 is chance (not "more real than real")."""
    value = judged["fidelity"].get("distinguishability", {}).get("auc")
    return max(float(value), 0.5) if value is not None and math.isfinite(value) else math.inf


def _output_path(output: str | os.PathLike[str]) -> Path:
    out = Path(output)
    if out.suffix.lower() != ".csv":
        raise UserError(
            errors.OPTION_INVALID, option="--output", reason=f"'{out}' must end in .csv"
        )
    if out.is_dir():
        raise UserError(
            errors.OPTION_INVALID,
            option="--output",
            reason=f"'{out}' is a folder; give the path of the .csv file to write",
        )
    if not out.parent.is_dir():
        raise UserError(
            errors.OPTION_INVALID,
            option="--output",
            reason=f"folder '{out.parent}' does not exist; create it first",
        )
    return out


def _input(data: Path, options: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """A data file as given, or a run directory's data file and recorded options (the
    options given now take precedence)."""
    if not data.is_dir():
        return data, options
    results = data / "results.json"
    if not results.is_file():
        raise UserError(errors.RUN_DIR_INVALID, path=str(data), missing="results.json")
    recorded = json.loads(results.read_text()).get("invocation", {})
    if not recorded.get("data"):
        raise UserError(
            errors.OPTION_INVALID,
            option="RUN",
            reason=f"{data} was made from data in memory; give the data file instead",
        )
    merged = {k: v for k, v in recorded.items() if k in SYNTHESIZE_OPTIONS}
    merged.update(options)  # what the caller gave (the CLI passes only options given)
    return Path(recorded["data"]), merged


def _check(method: str, rows: int | None, holdout: float, options: dict[str, Any]) -> None:
    if method not in ("auto", *METHODS):
        choices = ", ".join(("auto", *METHODS))
        raise UserError(
            errors.OPTION_INVALID, option="--method", reason=f"choose {choices}, not '{method}'"
        )
    if rows is not None and (not isinstance(rows, int) or rows < 20):
        raise UserError(
            errors.OPTION_INVALID, option="--rows", reason=f"must be at least 20, got {rows}"
        )
    if not 0.1 <= holdout <= 0.5:
        raise UserError(
            errors.OPTION_INVALID,
            option="--holdout",
            reason=f"must be between 0.1 and 0.5 (the real rows kept aside), got {holdout}",
        )
    unknown = sorted(set(options) - set(SYNTHESIZE_OPTIONS))
    if unknown:
        raise UserError(
            errors.OPTION_INVALID, option=unknown[0], reason="is not an option of synthesize"
        )
    check_options(options, command="synthesize")
    check_combinations({**RunOptions().__dict__, **options, "discover": False, "audit": False})


def _read_cohort(path: Path, o: RunOptions) -> tuple[CohortTable, Any, list[str]]:
    keep = [c for c in (o.target, o.time_col, o.event, o.groups, o.site, *o.sensitive,
                        *o.exclude) if c]  # fmt: skip
    adata = read(
        path, annotations=o.annotations, id_column=o.id_column, orient=o.orient,
        keep_in_obs=keep, decimal=o.decimal, annotations_id_column=o.annotations_id_column,
        drop_unmatched=o.drop_unmatched, annotation_features=o.annotation_features,
    )  # fmt: skip
    made = make_study(
        adata, target=o.target, task=o.task, time=o.time_col, event=o.event,
        sensitive=o.sensitive, use_sensitive=o.use_sensitive, groups=o.groups, site=o.site,
        exclude=o.exclude, positive_class=o.positive_class, folds=o.folds,
    )  # fmt: skip
    sha = [f["sha256"] for f in adata.uns.get("provenance", {}).get("files", [])]
    return cohort_table(made, adata, str(path)), made, sha


def _split(
    table: CohortTable, y: np.ndarray, holdout: float, o: RunOptions
) -> tuple[pd.DataFrame, pd.DataFrame, list[CategoryMerge]]:
    """The training rows (rare categories merged) and the real hold-out (the same merges)."""
    strata = stratification_labels(y, table.task)
    train_idx, hold_idx = train_test_split(
        np.arange(table.n_rows), test_size=holdout, random_state=o.seed, stratify=strata
    )
    train = table.frame.iloc[np.sort(train_idx)].reset_index(drop=True)
    hold = table.frame.iloc[np.sort(hold_idx)].reset_index(drop=True)
    _check_outcome_classes(table, train, o.min_cell)
    keep = train[list(table.outcome)]
    merged, merges = merge_rare_categories(train.drop(columns=list(table.outcome)), o.min_cell)
    train = pd.concat([merged, keep], axis=1)[list(train.columns)]
    return train, apply_merges(hold, merges), merges


def _check_outcome_classes(table: CohortTable, train: pd.DataFrame, min_cell: int) -> None:
    """A class (or, for survival, events or censored rows) seen in fewer than ``min_cell``
    training rows would single its patients out, and merging it would relabel them: refused."""
    if table.task == "regression":
        return
    column = table.outcome[0] if table.task != "survival" else table.outcome[1]
    counts = train[column].value_counts()
    rare = [str(c) for c, n in counts.items() if n < min_cell]
    if rare:
        raise UserError(
            errors.OPTION_INVALID,
            option="--min-cell",
            reason=(
                f"outcome '{column}' has {len(rare)} class(es) with fewer than {min_cell} "
                "patients among the rows the generator learns from; a synthetic table would "
                "single them out. Merge rare classes before synthesizing, or lower --min-cell "
                "knowingly"
            ),
        )


def apply_merges(frame: pd.DataFrame, merges: Sequence[CategoryMerge]) -> pd.DataFrame:
    """``frame`` with the training rows' category merges applied."""
    out = frame.copy()
    for m in merges:
        mapping = dict.fromkeys(m.categories, m.into)
        out[m.column] = out[m.column].map(
            lambda v, mp=mapping: mp.get(v, v) if isinstance(v, str) else v
        )
    return out


def _model_features(table: CohortTable, made: Any) -> pd.DataFrame:
    """The study's modelling features without the columns the cohort table left out."""
    keep = [c for c in made.features.columns if c not in table.left_out]
    return made.features[keep]


def _group_columns(table: CohortTable, o: RunOptions) -> dict[str, str]:
    """Sensitive attribute (and site) → its column, for fidelity per group."""
    return {c: c for c in (*table.sensitive, o.site) if c and c in table.frame.columns}


def _merge_record(merge: CategoryMerge) -> dict[str, Any]:
    """A merge as the evidence keeps it: how many categories, not which (a rare category's
    name says that a patient with it is in the cohort)."""
    return {
        "column": merge.column,
        "n_categories": len(merge.categories),
        "into": merge.into,
        "min_count": merge.min_count,
    }


def _write(
    out: Path,
    sample: pd.DataFrame,
    evidence: dict[str, Any],
    figures: list[dict[str, str]],
    passed: bool,
    force: bool,
) -> Synthesis:
    """The CSV (unless refused), the report and the evidence: each rendered into a
    temporary file beside its target, then all renamed into place (the table first). A
    refused table also removes an older table at ``out``: the report beside it says no
    table was written, and a stale one must not pass for the judged one."""
    report = out.with_suffix(".report.html")
    evidence_path = out.with_suffix(".evidence.json")
    written = passed or force
    evidence["output"] = str(out) if written else None
    evidence["replaced_older_table"] = out.exists()
    table = sample.copy()
    table.insert(0, SYNTHETIC_ID, [f"S{i + 1:05d}" for i in range(len(table))])
    if not passed and force:
        table[GATE_COLUMN] = GATE_LABEL
    staged: list[tuple[Path, Path]] = []
    try:
        if written:
            staged.append((_staged(out, lambda tmp: table.to_csv(tmp, index=False)), out))
        text = json.dumps(json_ready(evidence), indent=2)
        staged.append((_staged(evidence_path, lambda tmp: tmp.write_text(text)), evidence_path))
        html = render_report(evidence, figures)
        staged.append((_staged(report, lambda tmp: tmp.write_text(html, encoding="utf-8")), report))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    if not written:
        out.unlink(missing_ok=True)
    for tmp, final in staged:
        tmp.replace(final)
    return Synthesis(
        output=out if written else None,
        report=report,
        evidence_path=evidence_path,
        chosen=evidence["chosen"],
        passed=passed,
        forced=not passed and force,
        evidence=evidence,
    )


def _staged(final: Path, write: Callable[[Path], object]) -> Path:
    """``write`` into a temporary file beside ``final``; removed again if writing fails."""
    tmp = final.with_name(f".{final.name}.tmp")
    try:
        write(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp
