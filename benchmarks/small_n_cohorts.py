"""The small-n study's cohorts and its draw (benchmarks/small_n.py runs the study).

Each cohort is a modelling table (index = patient ID, one row per patient) with the run's
outcome options, read once through insightome's own reader; a subsample is drawn by
patient, stratified by outcome class, from a seed fixed by cohort, n and replicate.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
COHORTS_DIR = REPO.parent / "shared" / "data" / "cohorts"
MIN_PER_STRATUM = 3  # each class (event / no event) at least this often in a subsample


# --------------------------------------------------------------------------------------
# cohorts: a modelling table (index = patient ID) and the run's outcome options
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cohort:
    name: str
    title: str
    task: str  # "binary" (outcome 0/1, positive 1) or "survival"
    options: dict[str, Any]  # the run's outcome options: target, or time_col + event
    source: Path
    load: Callable[[], pd.DataFrame]
    description: str

    @property
    def stratum_column(self) -> str:
        return str(self.options.get("target") or self.options["event"])


def _actg175() -> pd.DataFrame:
    from insightome.cli.app import DEMO_EXCLUDE, demo_data_path

    df = pd.read_csv(demo_data_path(), index_col=0)  # the first column is the CSV's row number
    return df.drop(columns=list(DEMO_EXCLUDE)).set_index("pidnum")


def _stage(value: object) -> str:
    """AJCC pathologic stage collapsed to I-IV ('not staged' for every other entry)."""
    text = str(value)
    if not text.startswith("Stage "):
        return "not staged"
    roman = text.removeprefix("Stage ").rstrip("ABC")
    return f"stage {roman}" if roman in ("I", "II", "III", "IV") else "not staged"


def tcga_cdr(endpoint: str = "OS") -> pd.DataFrame:
    """The TCGA pan-cancer clinical table as a survival study of ``endpoint`` (OS, PFI, DSS,
    DFI: its event and ``<endpoint>.time``) from cancer type, age, sex, race and stage."""
    df = pd.read_csv(COHORTS_DIR / "tcga_pancan_cdr" / "TCGA-CDR_clinical.csv")
    df = df[df[endpoint].notna() & (df[f"{endpoint}.time"] > 0)]
    race = df["race"].where(~df["race"].astype(str).str.startswith("["))  # [Not Available] ...
    out = pd.DataFrame(
        {
            "cancer_type": df["type"],
            "age": df["age_at_initial_pathologic_diagnosis"],
            "gender": df["gender"].str.lower(),
            "race": race.str.lower(),
            "stage": df["ajcc_pathologic_tumor_stage"].map(_stage),
            endpoint: df[endpoint].astype(int),
            f"{endpoint}.time": df[f"{endpoint}.time"],
        }
    )
    return out.set_axis(df["bcr_patient_barcode"].to_numpy())


def _tcga_pancan() -> pd.DataFrame:
    return tcga_cdr("OS")


#: discharge to hospice or death: such a patient cannot be readmitted (Strack et al. 2014
#: removed these encounters too)
_NOT_AT_RISK = (11, 13, 14, 19, 20, 21)


def _diabetes130() -> pd.DataFrame:
    df = pd.read_csv(
        COHORTS_DIR / "diabetes_130" / "diabetic_data.csv.gz", na_values="?", low_memory=False
    )
    df = df[~df["discharge_disposition_id"].isin(_NOT_AT_RISK)]
    df = df.sort_values("encounter_id").drop_duplicates("patient_nbr")  # the first encounter
    low = df["age"].str.extract(r"\[(\d+)-", expand=False).astype(float)
    out = pd.DataFrame(
        {
            "age": low + 5,  # the 10-year band's midpoint
            "gender": df["gender"].where(df["gender"] != "Unknown/Invalid"),
            "race": df["race"],
            "admission_type": "type " + df["admission_type_id"].astype(str),
            "admission_source": "source " + df["admission_source_id"].astype(str),
            "payer": df["payer_code"],
            "outpatient_visits_prior_year": df["number_outpatient"],
            "emergency_visits_prior_year": df["number_emergency"],
            "inpatient_visits_prior_year": df["number_inpatient"],
            "readmitted": (df["readmitted"] != "NO").astype(int),
        }
    )
    return out.set_axis(df["patient_nbr"].astype(str).to_numpy())


def _metabric() -> pd.DataFrame:
    """ER status (IHC) from the 173-gene mutation indicators and age: p = 174 > n.

    Patients with at least one mutation row (the sequenced ones; a patient absent from the
    long table has no call to read as "no mutation") and a recorded ER status. Treatments,
    PAM50/claudin subtype, HER2, NPI, three-gene class and follow-up are not features: they
    are post-diagnosis or derived from the same tumour's expression/IHC."""
    folder = COHORTS_DIR / "metabric"
    clinical = pd.read_csv(folder / "metabric_clinical.tsv", sep="\t", index_col="patientId")
    mutations = pd.read_csv(folder / "metabric_mutations.tsv", sep="\t")
    calls = pd.crosstab(mutations["patientId"], mutations["hugoGeneSymbol"]).clip(upper=1)
    calls.columns = [f"mut_{g}" for g in calls.columns]
    er = clinical["ER_IHC"].map({"Positve": 1, "Positive": 1, "Negative": 0})  # 'Positve' sic
    keep = calls.index.intersection(er.dropna().index)
    out = calls.loc[keep].astype(int)
    out.insert(0, "age", clinical.loc[keep, "AGE_AT_DIAGNOSIS"].astype(float))
    out["er_positive"] = er.loc[keep].astype(int)
    return out.sort_index()


def _lifelines_actg() -> Path:
    from insightome.cli.app import demo_data_path

    return demo_data_path()


COHORTS: dict[str, Cohort] = {
    "actg175": Cohort(
        "actg175", "ACTG 175", "binary", {"target": "cens", "task": "binary"},
        _lifelines_actg(), _actg175,
        "HIV trial (lifelines), 2,139 patients; outcome `cens` from baseline variables, "
        "excluding the demo's post-baseline columns",
    ),
    "tcga_pancan": Cohort(
        "tcga_pancan", "TCGA pan-cancer", "survival",
        {"time_col": "OS.time", "event": "OS", "task": "survival"},
        COHORTS_DIR / "tcga_pancan_cdr" / "TCGA-CDR_clinical.csv", _tcga_pancan,
        "TCGA-CDR clinical data (Liu et al. 2018); overall survival from age, gender, race, "
        "AJCC stage (I-IV) and cancer type; patients with OS time > 0",
    ),
    "diabetes130": Cohort(
        "diabetes130", "diabetes 130-US", "binary", {"target": "readmitted", "task": "binary"},
        COHORTS_DIR / "diabetes_130" / "diabetic_data.csv.gz", _diabetes130,
        "UCI diabetes 130-US hospitals; each patient's first encounter (not discharged to "
        "hospice or death); readmitted (any) from age, gender, race, admission type and "
        "source, payer and the prior year's visits",
    ),
    "metabric": Cohort(
        "metabric", "METABRIC", "binary", {"target": "er_positive", "task": "binary"},
        COHORTS_DIR / "metabric" / "metabric_mutations.tsv", _metabric,
        "METABRIC breast cancer (cBioPortal brca_metabric; Curtis et al. 2012, Pereira et al. "
        "2016); ER status by IHC from 173 gene mutation indicators and age at diagnosis "
        "(p = 174 > n: the omics-like regime with a strong signal); patients with mutation "
        "calls and a recorded ER status",
    ),
}  # fmt: skip


#: predictors per cohort: the modelling table's columns less the outcome's (pinned by
#: exact allowlists in tests/test_bench_small_n.py); the package's note compares a run's p
PREDICTORS = {"actg175": 18, "tcga_pancan": 5, "diabetes130": 9, "metabric": 174}


@dataclass(frozen=True)
class CohortData:
    adata: Any  # AnnData: every sample of the cohort, read as insightome reads a file
    strata: np.ndarray  # 0/1: the outcome class, or the event indicator
    groups: np.ndarray  # the patient of each row


@cache
def cohort_data(name: str) -> CohortData:
    """The cohort read through insightome's own reader (a table written once to a temp file)."""
    from insightome.io import read

    cohort = COHORTS[name]
    frame = cohort.load()
    frame.index.name = "patient_id"
    folder = Path(tempfile.gettempdir()) / "insightome_small_n"
    folder.mkdir(exist_ok=True)
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame).to_numpy().tobytes()).hexdigest()
    path = folder / f"{name}-{digest[:12]}.csv"  # a changed cohort definition: a new file
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        frame.to_csv(partial)
        partial.replace(path)
    roles = [str(v) for k, v in cohort.options.items() if k != "task"]
    adata = read(path, id_column="patient_id", keep_in_obs=roles)
    strata = adata.obs[cohort.stratum_column].to_numpy(int)
    return CohortData(adata, strata, np.asarray(adata.obs_names, dtype=str))


# --------------------------------------------------------------------------------------
# the pure pieces: the draw, the interval, the summary
# --------------------------------------------------------------------------------------
def draw_seed(cohort: str, n: int, rep: int) -> int:
    """A stable seed per cohort x n x replicate (independent of the plan's order)."""
    return zlib.crc32(f"{cohort}:{n}:{rep}".encode())


def allocate(n: int, counts: np.ndarray) -> np.ndarray:
    """Proportional allocation of ``n`` draws over strata of the given sizes (largest
    remainders), each stratum raised to ``MIN_PER_STRATUM`` where ``n`` allows it."""
    share = n * counts / counts.sum()
    take = np.floor(share).astype(int)
    for i in np.argsort(-(share - take), kind="stable")[: n - take.sum()]:
        take[i] += 1
    floor = np.minimum(counts, min(MIN_PER_STRATUM, n // len(counts)))
    while np.any(take < floor):
        short, rich = int(np.argmin(take - floor)), int(np.argmax(take - floor))
        take[short] += 1
        take[rich] -= 1
    return take


def draw(cohort_name: str, n: int, rep: int) -> tuple[Cohort, CohortData, int, Any, Any]:
    """The coverage study's draw ``rep`` of ``n`` patients from a cohort: the cohort, its
    data, the draw's seed and the training and scoring row indices."""
    cohort, data = COHORTS[cohort_name], cohort_data(cohort_name)
    seed = draw_seed(cohort_name, n, rep)
    train, score = draw_subsample(data.strata, data.groups, n, np.random.default_rng(seed))
    return cohort, data, seed, train, score


def draw_subsample(
    strata: np.ndarray, groups: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` patients drawn without replacement, stratified by outcome, and the rest.

    Patients (``groups``), not rows, are drawn: a patient's rows all go to training or all
    to scoring. A patient's stratum is 1 when any of its rows is 1. Returns the row indices
    (sorted) of the training subsample and of every remaining row.
    """
    patients, inverse = np.unique(groups, return_inverse=True)
    if n > len(patients):
        raise ValueError(f"cannot draw {n} patients out of {len(patients)}")
    stratum = np.zeros(len(patients), dtype=int)
    np.maximum.at(stratum, inverse, np.asarray(strata, dtype=int))
    levels, counts = np.unique(stratum, return_counts=True)
    take = allocate(n, counts)
    pools = [np.flatnonzero(stratum == level) for level in levels]
    chosen = np.concatenate(
        [rng.choice(pool, k, replace=False) for pool, k in zip(pools, take, strict=True)]
    )
    in_train = np.isin(inverse, chosen)
    return np.flatnonzero(in_train), np.flatnonzero(~in_train)


COHORT_METRIC = {n: ("c_index" if c.task == "survival" else "auc") for n, c in COHORTS.items()}
