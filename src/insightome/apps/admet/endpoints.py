"""The 22 endpoints of the TDC ADMET Benchmark Group.

Therapeutics Data Commons (Huang et al., "Therapeutics Data Commons: Machine Learning
Datasets and Tasks for Drug Discovery and Development", NeurIPS Datasets and Benchmarks
2021; https://tdcommons.ai/benchmark/admet_group/overview/) groups 22 ADMET datasets into
one leaderboard. For each endpoint this registry records TDC's dataset name, the local file
stem, the task, TDC's evaluation metric, what ``Y`` measures and on which scale TDC
distributes it, and the physically valid range used to clip predictions.

Metrics and split types are those of TDC's ``tdc/metadata.py`` (``admet_metrics`` and
``admet_splits``, mims-harvard/TDC @ 0858120b): MAE for Caco2, lipophilicity, solubility,
PPBR and LD50; Spearman for VDss, half-life and both clearances; AUPRC for the three CYP
inhibition sets and the CYP2C9/CYP2D6 substrate sets; AUROC for every other binary
endpoint; a scaffold split for all 22.

Scales were checked against the distributed data (``../shared/data/tdc_admet_full``):
Caco2 Y lies in [-7.76, -3.51] (log10 of Papp in cm/s), solubility in [-13.2, 2.1]
(log10 mol/L), LD50 in [-0.34, 10.2] (-log10 mol/kg), PPBR in [11.2, 99.95] (% bound),
VDss in [0.01, 700] L/kg, half-life in [0.065, 1200] h, and both AstraZeneca clearances in
[3, 150] (the assay's reporting limits). Binary endpoints are coded 0/1.

Clipping ranges are physical bounds, not the observed range: a fraction bound lies in
[0, 100] %, a probability in [0, 1], a volume, half-life or clearance is non-negative;
logarithmic quantities (log Papp, logD, logS, -log LD50) are left unbounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from insightome.errors import UserError, closest_names_hint

Task = Literal["regression", "binary"]
Metric = Literal["MAE", "Spearman", "AUROC", "AUPRC"]
Category = Literal["absorption", "distribution", "metabolism", "excretion", "toxicity"]

ENDPOINT_UNKNOWN = (
    "'{name}' is not one of the 22 TDC ADMET Benchmark Group endpoints.{hint} "
    "List them with insightome.apps.admet.endpoints.ENDPOINTS."
)

#: TDC's evaluator names for our metric labels (``tdc.Evaluator(name=...)``).
TDC_METRIC_NAMES: dict[str, str] = {
    "MAE": "mae",
    "Spearman": "spearman",
    "AUROC": "roc-auc",
    "AUPRC": "pr-auc",
}

_INF = math.inf
_PROBABILITY = (0.0, 1.0)
_UNBOUNDED = (-_INF, _INF)
_NON_NEGATIVE = (0.0, _INF)


@dataclass(frozen=True)
class Endpoint:
    """One ADMET benchmark endpoint.

    ``unit`` is what one unit of ``Y`` means as TDC distributes it; for binary endpoints it
    says what ``Y = 1`` means. ``valid_range`` is the closed interval predictions are
    clipped to (probabilities for binary endpoints).
    """

    name: str
    stem: str
    task: Task
    metric: Metric
    category: Category
    unit: str
    valid_range: tuple[float, float]
    description: str
    reference: str

    @property
    def tdc_metric(self) -> str:
        """The metric's name in TDC's ``Evaluator`` (``mae``, ``spearman``, ...)."""
        return TDC_METRIC_NAMES[self.metric]

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger metric value is better (all but MAE)."""
        return self.metric != "MAE"

    @property
    def is_binary(self) -> bool:
        return self.task == "binary"

    def clip(self, values: np.ndarray | list[float] | float) -> np.ndarray:
        """Predictions clipped to :attr:`valid_range` (NaN stays NaN)."""
        low, high = self.valid_range
        return np.clip(np.asarray(values, dtype=float), low, high)


def _e(
    name: str,
    task: Task,
    metric: Metric,
    category: Category,
    unit: str,
    valid_range: tuple[float, float],
    description: str,
    reference: str,
) -> Endpoint:
    return Endpoint(
        name=name,
        stem=name.lower(),
        task=task,
        metric=metric,
        category=category,
        unit=unit,
        valid_range=valid_range,
        description=description,
        reference=reference,
    )


_ALL = (
    _e(
        "Caco2_Wang",
        "regression",
        "MAE",
        "absorption",
        "log10(Papp / (cm/s)), Caco-2 apparent permeability",
        _UNBOUNDED,
        "Rate of passage through a Caco-2 (human colorectal adenocarcinoma) cell monolayer, "
        "a model of intestinal absorption.",
        "Wang et al., J Chem Inf Model 2016, 56:763",
    ),
    _e(
        "HIA_Hou",
        "binary",
        "AUROC",
        "absorption",
        "1 = well absorbed from the human intestine (HIA+ in Hou et al.)",
        _PROBABILITY,
        "Human intestinal absorption of orally administered drugs.",
        "Hou et al., J Chem Inf Model 2007, 47:208",
    ),
    _e(
        "Pgp_Broccatelli",
        "binary",
        "AUROC",
        "absorption",
        "1 = P-glycoprotein inhibitor",
        _PROBABILITY,
        "Inhibition of the P-glycoprotein efflux transporter (affects absorption and "
        "drug-drug interactions).",
        "Broccatelli et al., J Med Chem 2011, 54:1740",
    ),
    _e(
        "Bioavailability_Ma",
        "binary",
        "AUROC",
        "absorption",
        "1 = high oral bioavailability (label of Ma et al.)",
        _PROBABILITY,
        "Fraction of an oral dose reaching the systemic circulation.",
        "Ma et al., J Pharm Biomed Anal 2008, 47:677",
    ),
    _e(
        "Lipophilicity_AstraZeneca",
        "regression",
        "MAE",
        "absorption",
        "logD7.4, log10 octanol/buffer distribution coefficient at pH 7.4",
        _UNBOUNDED,
        "Lipophilicity measured by AstraZeneca (shake-flask octanol/buffer, pH 7.4).",
        "AstraZeneca, in vitro DMPK and physicochemical data deposited in ChEMBL, 2016",
    ),
    _e(
        "Solubility_AqSolDB",
        "regression",
        "MAE",
        "absorption",
        "logS, log10(solubility / (mol/L))",
        _UNBOUNDED,
        "Aqueous solubility curated from nine public sets.",
        "Sorkun et al., Sci Data 2019, 6:143",
    ),
    _e(
        "BBB_Martins",
        "binary",
        "AUROC",
        "distribution",
        "1 = penetrates the blood-brain barrier",
        _PROBABILITY,
        "Blood-brain barrier penetration.",
        "Martins et al., J Chem Inf Model 2012, 52:1686",
    ),
    _e(
        "PPBR_AZ",
        "regression",
        "MAE",
        "distribution",
        "% of drug bound to plasma proteins",
        (0.0, 100.0),
        "Plasma protein binding rate measured by AstraZeneca.",
        "AstraZeneca, in vitro DMPK and physicochemical data deposited in ChEMBL, 2016",
    ),
    _e(
        "VDss_Lombardo",
        "regression",
        "Spearman",
        "distribution",
        "L/kg, volume of distribution at steady state",
        _NON_NEGATIVE,
        "Steady-state volume of distribution in humans after intravenous dosing.",
        "Lombardo & Jing, J Chem Inf Model 2016, 56:2042",
    ),
    _e(
        "CYP2C9_Veith",
        "binary",
        "AUPRC",
        "metabolism",
        "1 = inhibits CYP2C9",
        _PROBABILITY,
        "Inhibition of cytochrome P450 2C9 (PubChem AID 1851 qHTS).",
        "Veith et al., Nat Biotechnol 2009, 27:1050",
    ),
    _e(
        "CYP2D6_Veith",
        "binary",
        "AUPRC",
        "metabolism",
        "1 = inhibits CYP2D6",
        _PROBABILITY,
        "Inhibition of cytochrome P450 2D6 (PubChem AID 1851 qHTS).",
        "Veith et al., Nat Biotechnol 2009, 27:1050",
    ),
    _e(
        "CYP3A4_Veith",
        "binary",
        "AUPRC",
        "metabolism",
        "1 = inhibits CYP3A4",
        _PROBABILITY,
        "Inhibition of cytochrome P450 3A4 (PubChem AID 1851 qHTS).",
        "Veith et al., Nat Biotechnol 2009, 27:1050",
    ),
    _e(
        "CYP2C9_Substrate_CarbonMangels",
        "binary",
        "AUPRC",
        "metabolism",
        "1 = substrate of CYP2C9",
        _PROBABILITY,
        "Whether the drug is metabolized by cytochrome P450 2C9.",
        "Carbon-Mangels & Hutter, Mol Inform 2011, 30:885",
    ),
    _e(
        "CYP2D6_Substrate_CarbonMangels",
        "binary",
        "AUPRC",
        "metabolism",
        "1 = substrate of CYP2D6",
        _PROBABILITY,
        "Whether the drug is metabolized by cytochrome P450 2D6.",
        "Carbon-Mangels & Hutter, Mol Inform 2011, 30:885",
    ),
    _e(
        "CYP3A4_Substrate_CarbonMangels",
        "binary",
        "AUROC",
        "metabolism",
        "1 = substrate of CYP3A4",
        _PROBABILITY,
        "Whether the drug is metabolized by cytochrome P450 3A4.",
        "Carbon-Mangels & Hutter, Mol Inform 2011, 30:885",
    ),
    _e(
        "Half_Life_Obach",
        "regression",
        "Spearman",
        "excretion",
        "hours, terminal elimination half-life in humans",
        _NON_NEGATIVE,
        "Time for the plasma concentration to halve after intravenous dosing.",
        "Obach et al., Drug Metab Dispos 2008, 36:1385",
    ),
    _e(
        "Clearance_Hepatocyte_AZ",
        "regression",
        "Spearman",
        "excretion",
        "uL/min/10^6 cells, intrinsic clearance in human hepatocytes (reported range 3-150)",
        _NON_NEGATIVE,
        "Metabolic clearance by human hepatocytes measured by AstraZeneca.",
        "AstraZeneca, in vitro DMPK and physicochemical data deposited in ChEMBL, 2016",
    ),
    _e(
        "Clearance_Microsome_AZ",
        "regression",
        "Spearman",
        "excretion",
        "mL/min/g, intrinsic clearance in human liver microsomes (reported range 3-150)",
        _NON_NEGATIVE,
        "Metabolic clearance by human liver microsomes measured by AstraZeneca.",
        "AstraZeneca, in vitro DMPK and physicochemical data deposited in ChEMBL, 2016",
    ),
    _e(
        "LD50_Zhu",
        "regression",
        "MAE",
        "toxicity",
        "-log10(LD50 / (mol/kg)), rat acute oral toxicity",
        _UNBOUNDED,
        "Acute oral toxicity in rats: the dose lethal to half of the animals (higher = more "
        "toxic on this scale).",
        "Zhu et al., Chem Res Toxicol 2009, 22:1913",
    ),
    _e(
        "hERG",
        "binary",
        "AUROC",
        "toxicity",
        "1 = blocks the hERG potassium channel",
        _PROBABILITY,
        "hERG channel blockade, a cause of QT prolongation and cardiac arrhythmia.",
        "Wang et al., Mol Pharm 2016, 13:2855",
    ),
    _e(
        "AMES",
        "binary",
        "AUROC",
        "toxicity",
        "1 = mutagenic in the Ames test",
        _PROBABILITY,
        "Bacterial reverse-mutation (Ames) mutagenicity.",
        "Xu et al., J Chem Inf Model 2012, 52:2840",
    ),
    _e(
        "DILI",
        "binary",
        "AUROC",
        "toxicity",
        "1 = causes drug-induced liver injury",
        _PROBABILITY,
        "Drug-induced liver injury in humans.",
        "Xu et al., J Chem Inf Model 2015, 55:2085",
    ),
)

#: The registry, keyed by TDC's dataset name, in TDC's leaderboard order.
ENDPOINTS: dict[str, Endpoint] = {e.name: e for e in _ALL}

_LOOKUP: dict[str, Endpoint] = {e.stem: e for e in _ALL}


def endpoint(name: str) -> Endpoint:
    """The endpoint named ``name`` (TDC name or file stem, any case).

    Raises :class:`~insightome.errors.UserError` naming the closest endpoints on a typo.
    """
    key = str(name).strip().lower()
    if key.endswith(".csv"):
        key = key[: -len(".csv")]
    found = _LOOKUP.get(key)
    if found is None:
        hint = closest_names_hint(str(name), ENDPOINTS)
        raise UserError(ENDPOINT_UNKNOWN, name=name, hint=hint)
    return found
