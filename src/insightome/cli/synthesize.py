"""``insightome synthesize``: a synthetic cohort to share, judged on fidelity, utility and
privacy (:mod:`insightome.synthetic.cohort`; docs/synthetic.md)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from insightome import errors
from insightome.cli.options import schema_options
from insightome.cli.root_command import app, err, out
from insightome.errors import UserError
from insightome.number_format import fmt_number
from insightome.synthetic.settings import DEFAULT_HOLDOUT, PrivacyThresholds

DEFAULTS = PrivacyThresholds()


class DcrRule(StrEnum):
    one_sided = "one-sided"
    point = "point"


DEFAULT_DCR_RULE = DcrRule(DEFAULTS.dcr_rule)


class Method(StrEnum):
    auto = "auto"
    cart = "cart"
    copula = "copula"


@app.command("synthesize")
@schema_options("synthesize")
def synthesize_command(
    ctx: typer.Context,
    data: Annotated[
        Path,
        typer.Argument(
            help="The real cohort: a data file (.csv .tsv .parquet .xlsx .h5ad), or a run "
            "directory (its data and options)."
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="The synthetic table to write (.csv); its report (.report.html) and "
            "evidence (.evidence.json) are written beside it.",
        ),
    ],
    method: Annotated[
        Method,
        typer.Option(
            help="Generator: sequential CART, Gaussian copula, or auto (both judged, the "
            "better one released)."
        ),
    ] = Method.auto,
    rows: Annotated[
        int | None, typer.Option(help="Synthetic rows (default: as many as the real cohort).")
    ] = None,
    holdout: Annotated[
        float,
        typer.Option(help="Share of real rows kept aside as the privacy and fidelity yardstick."),
    ] = DEFAULT_HOLDOUT,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write the table even if it fails a privacy check (every row is labelled).",
        ),
    ] = False,
    max_membership_auc: Annotated[
        float,
        typer.Option(help="Upper 95% bound allowed for the membership-inference AUC."),
    ] = DEFAULTS.membership_auc_upper,
    max_singling_out: Annotated[
        float, typer.Option(help="Upper 95% bound allowed for the singling-out risks.")
    ] = DEFAULTS.singling_out_upper,
    max_linkability: Annotated[
        float, typer.Option(help="Upper 95% bound allowed for the linkability risk.")
    ] = DEFAULTS.linkability_upper,
    dcr_rule: Annotated[
        DcrRule,
        typer.Option(
            help="Distance to closest record: one-sided (fail when the synthetic 5th "
            "percentile is below the hold-out's by more than sampling error) or point (below "
            "it at all)."
        ),
    ] = DEFAULT_DCR_RULE,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
    **options: Any,
) -> None:
    """Write a synthetic cohort and its fidelity / utility / privacy evidence."""
    from insightome.synthetic.cohort import synthesize  # heavy: only when the command runs

    try:
        thresholds = PrivacyThresholds(
            membership_auc_upper=max_membership_auc,
            singling_out_upper=max_singling_out,
            linkability_upper=max_linkability,
            dcr_rule=dcr_rule.value,
        )
    except ValueError as exc:
        raise UserError(errors.OPTION_INVALID, option="--max-*", reason=str(exc)) from None
    # only the options given (a run directory's recorded options are not overridden by
    # this command's defaults; a data file gets the API's defaults, the same values)
    given = {
        name: value
        for name, value in options.items()
        if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") != "DEFAULT"
    }
    result = synthesize(
        data, output, method=method.value, rows=rows, holdout=holdout, force=force,
        thresholds=thresholds, progress=None if quiet else _say, **given,
    )  # fmt: skip
    chosen = result.evidence["methods"][result.chosen]
    utility = chosen.get("utility") or {}
    if utility:
        real, synth = utility["real"], utility["synthetic"]
        out.print(
            f"utility ({escape(utility['metric'])}, BBC-CV): trained on synthetic "
            f"{_estimate(synth)} vs on real {_estimate(real)}",
            soft_wrap=True,
        )
    for check in chosen["privacy"]["checks"]:
        out.print(
            f"privacy {escape(check['name'])}: {check['verdict']} ({escape(check['reason'])})",
            soft_wrap=True,
        )
    out.print(
        f"generator: {result.chosen} ({escape(result.evidence['choice_rule'])})", soft_wrap=True
    )
    out.print(f"report: {result.report}", soft_wrap=True)
    if result.output is None:
        judged = list(result.evidence["methods"])
        advice = (
            "try --method " + next(m for m in ("cart", "copula") if m not in judged)
            if len(judged) == 1
            else "both generators were judged and neither passed"
        )
        removed = (
            f" The older {result.evidence['design']['output_name']} there was removed."
            if result.evidence.get("replaced_older_table")
            else ""
        )
        raise UserError(
            errors.SYNTHETIC_REFUSED,
            reasons="; ".join(result.evidence["gate"]["reasons"]),
            report=str(result.report),
            advice=advice,
            removed=removed,
        )
    if result.forced:
        err.print(f"warning: {escape(str(result.output))} FAILED the privacy gate (--force); "
                  "every row is labelled, do not share it", soft_wrap=True)  # fmt: skip
    out.print(
        f"wrote {result.evidence['design']['synthetic_rows']} synthetic rows to {result.output}",
        soft_wrap=True,
    )


def _estimate(e: dict[str, Any]) -> str:
    lo, hi = e["ci95"]
    return f"{fmt_number(e['value'])} (95% CI {fmt_number(lo)} to {fmt_number(hi)})"


def _say(message: str) -> None:
    err.print(f"[dim]{escape(message)}[/]", soft_wrap=True)
