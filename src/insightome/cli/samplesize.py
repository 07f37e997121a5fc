"""``insightome samplesize``: how many participants a prediction model needs, before
the data exist (Riley et al.'s criteria; :mod:`insightome.evaluate.samplesize`)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from insightome import errors
from insightome.cli.root_command import app, out
from insightome.errors import UserError
from insightome.evaluate import samplesize as ss
from insightome.number_format import fmt_number


class Outcome(StrEnum):
    binary = "binary"
    survival = "survival"
    continuous = "continuous"


#: Which options each calculation reads (anything else given is refused, not ignored).
USES: dict[tuple[str, bool], set[str]] = {
    ("binary", False): {"parameters", "prevalence", "r2", "nagelkerke", "c_statistic",
                        "shrinkage", "optimism", "margin"},
    ("survival", False): {"parameters", "rate", "timepoint", "follow_up", "r2", "nagelkerke",
                          "shrinkage", "optimism", "margin"},
    ("continuous", False): {"parameters", "r2", "mean", "sd", "shrinkage", "optimism", "mmoe"},
    ("binary", True): {"prevalence", "c_statistic", "lp_mean", "lp_sd", "oe", "oe_ci_width",
                       "slope_ci_width", "c_ci_width"},
    ("continuous", True): {"r2", "sd", "r2_ci_width", "citl_ci_width", "slope_ci_width", "mmoe"},
}  # fmt: skip
#: What a calculation cannot do without.
NEEDS: dict[tuple[str, bool], tuple[str, ...]] = {
    ("binary", False): ("parameters", "prevalence"),
    ("survival", False): ("parameters", "rate", "timepoint", "follow_up"),
    ("continuous", False): ("parameters", "r2", "mean", "sd"),
    ("binary", True): ("prevalence", "c_statistic"),
    ("continuous", True): ("r2", "sd"),
}
WHAT = {
    "parameters": "the number of candidate predictor parameters (each dummy variable, "
    "spline term or interaction counts)",
    "prevalence": "the anticipated outcome proportion (e.g. 0.17)",
    "rate": "the anticipated event rate per unit of person-time (e.g. 0.065 per year)",
    "timepoint": "the time point of the risk to predict, in the rate's time unit",
    "follow_up": "the anticipated mean follow-up, in the rate's time unit",
    "r2": "the anticipated R² (adjusted R² for a continuous outcome)",
    "mean": "the outcome's anticipated mean",
    "sd": "the outcome's anticipated standard deviation",
    "c_statistic": "the model's anticipated C statistic (AUC) in the validation population",
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


Float = float | None


@app.command("samplesize")
def samplesize_command(
    outcome: Annotated[Outcome, typer.Argument(help="binary, survival or continuous.")],
    validation: Annotated[
        bool,
        typer.Option(
            "--validation",
            help="Size an external validation of an existing model (binary: Riley et al. "
            "2021; continuous: Archer et al. 2021) instead of a new model's development.",
        ),
    ] = False,
    parameters: Annotated[
        int | None, typer.Option(help="Candidate predictor parameters (development).")
    ] = None,
    prevalence: Annotated[
        Float, typer.Option(help="Anticipated outcome proportion (binary).")
    ] = None,
    r2: Annotated[
        Float,
        typer.Option(
            "--r2",
            help="Anticipated R²: Cox-Snell for binary and survival, adjusted R² for "
            "continuous development, R² for continuous validation.",
        ),
    ] = None,
    nagelkerke: Annotated[
        Float,
        typer.Option(
            help="Anticipated Nagelkerke R², instead of --r2 (binary, survival); 0.15 is "
            "Riley's conservative default when nothing better is known.",
        ),
    ] = None,
    c_statistic: Annotated[
        Float,
        typer.Option(
            help="Anticipated C statistic (AUC): for binary development instead of --r2; "
            "required for binary validation.",
        ),
    ] = None,
    rate: Annotated[Float, typer.Option(help="Events per person-time unit (survival).")] = None,
    timepoint: Annotated[
        Float, typer.Option(help="Time point of the predicted risk (survival).")
    ] = None,
    follow_up: Annotated[Float, typer.Option(help="Mean follow-up (survival).")] = None,
    mean: Annotated[Float, typer.Option(help="Outcome's anticipated mean (continuous).")] = None,
    sd: Annotated[Float, typer.Option(help="Outcome's anticipated SD (continuous).")] = None,
    shrinkage: Annotated[
        float, typer.Option(help="Target expected shrinkage (development).")
    ] = 0.9,
    optimism: Annotated[
        float, typer.Option(help="Largest optimism of the apparent R² (development).")
    ] = 0.05,
    margin: Annotated[
        float, typer.Option(help="Margin of error of the overall risk (development).")
    ] = 0.05,
    mmoe: Annotated[float, typer.Option(help="Multiplicative margin of error (continuous).")] = 1.1,
    oe: Annotated[float, typer.Option(help="Anticipated O/E (binary validation).")] = 1.0,
    oe_ci_width: Annotated[float, typer.Option(help="Target 95% CI width of O/E.")] = 0.2,
    slope_ci_width: Annotated[
        float, typer.Option(help="Target 95% CI width of the calibration slope.")
    ] = 0.2,
    c_ci_width: Annotated[
        float, typer.Option(help="Target 95% CI width of the C statistic.")
    ] = 0.1,
    lp_mean: Annotated[
        Float, typer.Option(help="Linear predictor's mean in the validation population.")
    ] = None,
    lp_sd: Annotated[Float, typer.Option(help="Linear predictor's SD (with --lp-mean).")] = None,
    r2_ci_width: Annotated[
        float, typer.Option(help="Target 95% CI width of R² (continuous validation).")
    ] = 0.1,
    citl_ci_width: Annotated[
        Float,
        typer.Option(
            help="Target 95% CI width of calibration-in-the-large, in the outcome's units "
            "(continuous validation; default 0.2 × --sd)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON instead of a table.")
    ] = False,
) -> None:
    """Minimum sample size for a prediction model, before the data exist (Riley's criteria).

    Development (Riley et al., BMJ 2020): binary, survival and continuous outcomes. With
    --validation: an external validation of an existing binary or continuous model.
    Example: insightome samplesize binary --parameters 24 --prevalence 0.174 --r2 0.288
    """
    given = {
        name: value
        for name, value in locals().items()
        if name not in {"outcome", "validation", "as_json"}
    }
    defaults = {"shrinkage": 0.9, "optimism": 0.05, "margin": 0.05, "mmoe": 1.1, "oe": 1.0,
                "oe_ci_width": 0.2, "slope_ci_width": 0.2, "c_ci_width": 0.1,
                "r2_ci_width": 0.1}  # fmt: skip
    kind = (outcome.value, validation)
    if kind not in USES:
        raise UserError(
            errors.OPTION_INVALID,
            option="--validation",
            reason="external validation of survival models is not implemented yet (Riley et "
            "al. 2022's criteria); size a binary outcome at the time point instead",
        )
    for name, value in given.items():
        changed = value is not None and defaults.get(name, None) != value
        if changed and name not in USES[kind]:
            raise UserError(
                errors.OPTION_INVALID,
                option=_flag(name),
                reason=f"does not apply to {_describe(kind)}; leave it out",
            )
    for name in NEEDS[kind]:
        if given[name] is None:
            raise UserError(
                errors.OPTION_INVALID,
                option=_flag(name),
                reason=f"{_describe(kind)} needs {WHAT[name]}",
            )
    r2_options = [n for n in ("r2", "nagelkerke", "c_statistic") if n in USES[kind] and
                  given[n] is not None and n not in NEEDS[kind]]  # fmt: skip
    if not validation and outcome is not Outcome.continuous and len(r2_options) != 1:
        choices = ", ".join(_flag(n) for n in ("r2", "nagelkerke", "c_statistic")
                              if n in USES[kind])  # fmt: skip
        raise UserError(
            errors.OPTION_INVALID,
            option=" ".join(_flag(n) for n in r2_options) or "--r2",
            reason=f"give exactly one of {choices} (the anticipated model's fit; "
            "--nagelkerke 0.15 is Riley's conservative choice when nothing is known)",
        )
    try:
        result = _calculate(kind, given)
    except ss.SampleSizeError as exc:
        raise UserError(
            errors.OPTION_INVALID, option="insightome samplesize", reason=str(exc)
        ) from None
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    _print(result)


def _describe(kind: tuple[str, bool]) -> str:
    outcome, validation = kind
    return f"the {'validation' if validation else 'development'} of a {outcome}-outcome model"


def _calculate(kind: tuple[str, bool], g: dict[str, float | None]) -> ss.SampleSize:
    outcome, validation = kind
    v = {k: val for k, val in g.items() if val is not None}
    if validation and outcome == "binary":
        return ss.validation_binary(
            v["prevalence"], v["c_statistic"], lp_mean=g["lp_mean"], lp_sd=g["lp_sd"],
            oe=v["oe"], oe_ci_width=v["oe_ci_width"], slope_ci_width=v["slope_ci_width"],
            c_ci_width=v["c_ci_width"],
        )  # fmt: skip
    if validation:
        return ss.validation_continuous(
            v["r2"], v["sd"], r2_ci_width=v["r2_ci_width"], citl_ci_width=g["citl_ci_width"],
            slope_ci_width=v["slope_ci_width"], mmoe=v["mmoe"],
        )  # fmt: skip
    p = int(v["parameters"])
    targets = {"shrinkage": v["shrinkage"], "optimism": v["optimism"]}
    if outcome == "binary":
        return ss.development_binary(
            p, v["prevalence"], r2_cs=g["r2"], nagelkerke=g["nagelkerke"],
            c_statistic=g["c_statistic"], margin=v["margin"], **targets,
        )  # fmt: skip
    if outcome == "survival":
        return ss.development_survival(
            p, v["rate"], v["timepoint"], v["follow_up"], r2_cs=g["r2"],
            nagelkerke=g["nagelkerke"], margin=v["margin"], **targets,
        )  # fmt: skip
    return ss.development_continuous(p, v["r2"], v["mean"], v["sd"], mmoe=v["mmoe"], **targets)


def _print(result: ss.SampleSize) -> None:
    title = f"Minimum sample size: {result.outcome} outcome, {result.purpose}"
    table = Table(title=title, title_justify="left")
    table.add_column("Criterion")
    table.add_column("Ensures")
    table.add_column("n", justify="right")
    development = result.purpose == "development"
    if development:
        table.add_column("Shrinkage", justify="right")
    with_events = result.events is not None
    if with_events:
        table.add_column("Events", justify="right")
    for i, c in enumerate(result.criteria, 1):
        row = [f"{i}. {c.name}", escape(c.aim), f"{c.n:,}"]
        if development:
            row.append("–" if c.shrinkage is None else f"{c.shrinkage:.3f}")
        if with_events:
            row.append("–" if c.events is None else f"{c.events:,.0f}")
        table.add_row(*row, style="bold" if c is result.binding else None)
    out.print(table)
    line = f"[bold]Minimum: {result.n:,} participants[/]"
    if result.events is not None:
        line += f", {result.events:,.0f} events"
        epp = result.events_per_parameter
        if epp is not None:
            line += f" ({fmt_number(epp, '.1f')} per predictor parameter)"
    number = result.criteria.index(result.binding) + 1
    line += f"; set by criterion {number} ({result.binding.name})."
    out.print(line, soft_wrap=True)
    for c in result.criteria:
        if c.detail:
            out.print(f"{c.name}: {escape(c.detail)}", soft_wrap=True)
    for note in result.notes:
        out.print(f"note: {escape(note)}", soft_wrap=True)
