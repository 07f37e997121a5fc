"""``insightome samplesize``: the worked examples on the console and as JSON; inputs that
do not apply or are missing are refused in one line (exit 2)."""

from __future__ import annotations

import json

import pytest


def test_the_bmj_binary_example_on_the_console(cli):
    result = cli("samplesize", "binary", "--parameters", 24, "--prevalence", 0.174, "--r2", 0.288)
    assert result.code == 0, result.err
    assert "Minimum: 662 participants, 115 events (4.8 per predictor parameter); set by " \
        "criterion 2 (optimism)." in result.out  # fmt: skip
    for n in ("623", "662", "221"):
        assert n in result.out


def test_json_output(cli):
    result = cli(
        "samplesize", "survival", "--parameters", 30, "--rate", 0.065, "--timepoint", 2,
        "--follow-up", 2.07, "--r2", 0.051, "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["n"] == 5143 and round(data["events"]) == 692
    assert [c["n"] for c in data["criteria"]] == [5143, 1039, 5143]
    assert data["binding_criterion"] == "shrinkage" and data["purpose"] == "development"


def test_validation_and_continuous(cli):
    result = cli("samplesize", "continuous", "--parameters", 25, "--r2", 0.2, "--mean", 1.9,
                 "--sd", 0.6, "--json")  # fmt: skip
    assert [c["n"] for c in json.loads(result.out)["criteria"]] == [918, 401, 259, 918]
    result = cli(
        "samplesize", "binary", "--validation", "--prevalence", 0.018, "--c-statistic", 0.8,
        "--lp-mean", -5, "--lp-sd", 2.5, "--oe-ci-width", 1,
    )  # fmt: skip
    assert result.code == 0 and "4,252" in result.out and "calibration slope" in result.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("binary", "--parameters", 24, "--prevalence", 0.2),
         "error: --r2: give exactly one of --r2, --nagelkerke, --c-statistic"),
        (("binary", "--parameters", 24, "--prevalence", 0.2, "--r2", 0.1, "--rate", 0.1),
         "error: --rate: does not apply to the development of a binary-outcome model"),
        (("survival", "--parameters", 24, "--rate", 0.1, "--r2", 0.1),
         "error: --timepoint: the development of a survival-outcome model needs the time point"),
        (("binary", "--parameters", 24, "--prevalence", 0.2, "--r2", 0.9),
         "error: insightome samplesize: the anticipated Cox-Snell R² (0.9) must be below"),
        (("survival", "--validation", "--rate", 0.1),
         "error: --validation: external validation of survival models is not implemented"),
    ],
)  # fmt: skip
def test_bad_inputs_are_one_line_exit_2(cli, args, message):
    result = cli("samplesize", *args)
    assert result.code == 2
    assert result.err.startswith(message), result.err
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
