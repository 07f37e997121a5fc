"""The leakage screen (insightome.leakage_screen): what it flags, what it leaves alone, and
its statistics checked against scikit-learn, SciPy and lifelines."""

from __future__ import annotations

import re
import time
import tracemalloc

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from lifelines.utils import concordance_index
from scipy.stats import spearmanr
from sklearn.datasets import load_wine
from sklearn.metrics import roc_auc_score

from insightome.io import read
from insightome.leakage_screen import acronym, name_match, screen_study, tokens
from insightome.leakage_statistics import (
    MAX_PAIRS,
    binary_auc,
    comparable_pairs,
    concordance,
    pairwise_auc,
    spearman,
)
from insightome.study import make_study
from insightome.workflow import STAGES
from tests.conftest import breast_cancer_adata, shared_data


def heart_failure() -> ad.AnnData:
    return read(
        shared_data("cohorts", "heart_failure", "heart_failure_clinical_records_dataset.csv")
    )


def findings(screen) -> dict[str, list[str]]:
    return {f.column: f.reasons for f in screen.findings}


def test_heart_failure_follow_up_time_is_flagged_by_name_and_statistic():
    data = heart_failure()
    screen = screen_study(make_study(data, target="DEATH_EVENT"))
    assert findings(screen) == {"time": ["association", "name"]}
    (finding,) = screen.findings
    frame = pd.read_csv(data.uns["provenance"]["files"][0]["path"])
    auc = roc_auc_score(frame["DEATH_EVENT"], frame["time"])
    assert finding.statistic == pytest.approx(max(auc, 1 - auc))  # 0.836: the strongest
    assert "'time'" in finding.detail and "AUC 0.836" in finding.detail
    assert "--exclude time" in finding.suggestion
    assert screen.warned and screen.checked == 12 and screen.rows == 299
    # statistics only, never a row value: the one number in the text is the AUC
    assert re.findall(r"\d+(?:\.\d+)?", finding.detail + finding.suggestion) == ["0.836"]


def test_heart_failure_with_time_excluded_has_no_finding():
    screen = screen_study(make_study(heart_failure(), target="DEATH_EVENT", exclude=("time",)))
    assert screen.findings == [] and screen.n_findings == 0 and not screen.warned
    assert screen.checked == 11


def test_a_clean_dataset_has_no_finding():
    # breast cancer's strongest single measurement (worst perimeter, AUC 0.975) is biology
    screen = screen_study(make_study(breast_cancer_adata(), target="diagnosis"))
    assert screen.checked == 30 and screen.findings == []


def _with_columns(**columns) -> ad.AnnData:
    data = breast_cancer_adata(n_rows=300, n_cols=6)
    cat = pd.DataFrame(index=data.obs_names)
    for name, values in columns.items():
        values = np.asarray(values)
        if values.dtype.kind in "OU":
            cat[name] = values
        else:
            data = ad.concat([data, ad.AnnData(values.reshape(-1, 1).astype(float),
                                               obs=pd.DataFrame(index=data.obs_names),
                                               var=pd.DataFrame(index=[name]))],
                             axis=1, merge="first")  # fmt: skip
    if cat.shape[1]:
        data.obsm["categorical"] = cat
    return data


def test_a_copy_of_the_target_is_flagged_as_a_near_duplicate():
    y = breast_cancer_adata(n_rows=300).obs["diagnosis"].to_numpy()
    relabelled = np.where(y == "malignant", "M", "B")  # text, another coding
    coded = np.where(y == "malignant", 7.0, 3.0)
    data = _with_columns(relabelled=relabelled, coded=coded)
    screen = screen_study(make_study(data, target="diagnosis"))
    found = findings(screen)
    assert found["relabelled"][0] == "near_duplicate"
    assert found["coded"] == ["near_duplicate", "near_perfect"]
    assert set(found) == {"relabelled", "coded"}
    assert "--exclude coded" in screen.findings[0].suggestion + screen.findings[1].suggestion


def test_a_monotone_transform_of_a_numeric_outcome_is_a_near_duplicate():
    data = breast_cancer_adata(n_rows=300, n_cols=6)
    outcome = np.asarray(data.X[:, 0], dtype=float)
    data.obs["size"] = outcome
    data = data[:, 1:].copy()
    data = ad.concat([data, ad.AnnData(np.log(outcome).reshape(-1, 1),
                                       obs=pd.DataFrame(index=data.obs_names),
                                       var=pd.DataFrame(index=["log_size"]))],
                     axis=1, merge="first")  # fmt: skip
    screen = screen_study(make_study(data, target="size", task="regression"))
    assert findings(screen)["log_size"][0] == "near_duplicate"
    assert screen.statistic == "|Spearman rho|"


def test_identifier_columns_are_flagged():
    n = 300
    order = np.random.default_rng(0).permutation(n)
    data = _with_columns(
        record=order + 1000.0,  # consecutive whole numbers, shuffled
        barcode=np.array([f"TCGA-{i:04d}" for i in order]),  # text, unique per row
        row_count=np.arange(n) * 3.0,  # follows the row order
    )
    found = findings(screen_study(make_study(data, target="diagnosis")))
    assert found == {"record": ["identifier"], "barcode": ["identifier"],
                     "row_count": ["identifier"]}  # fmt: skip


def test_unique_measurements_are_not_identifiers():
    values = np.random.default_rng(1).permutation(300) * 17.0 + 5  # unique, gaps, no order
    found = findings(screen_study(make_study(_with_columns(counts=values), target="diagnosis")))
    assert found == {}


@pytest.mark.parametrize(
    ("name", "word"),
    [
        ("time", "time"), ("OS.time", "os"), ("followUpTime", "follow"),
        ("Follow-up (months)", "follow"), ("days_to_death", "days"), ("vital_status", "vital"),
        ("status", "status"), ("DischargeDate", "discharge"), ("LOS", "los"),
        ("PFS_months", "pfs"), ("censorship", "censorship"),
        # TCGA CDR: the status at last contact, the last contact
        ("tumor_status", "tumor status"), ("disease_status", "disease status"),
        ("last_contact_days_to", "days"), ("LastContact", "last contact"),
        # gene symbols and baseline names: never
        ("TIMELESS", None), ("DATE1", None), ("OS9", None), ("DSS1", None), ("FUT1", None),
        ("EVENTS1", None), ("ER_status", None), ("age_years", None), ("TIMM10", None),
        ("serum_sodium", None), ("margin_status", None), ("last_name", None),
        # a baseline word exempts the name: TCGA's birth_days_to is an age
        ("birth_days_to", None), ("days_to_birth", None), ("DOB", None),
        ("baseline_date", None),
    ],
)  # fmt: skip
def test_names_match_on_whole_words(name, word):
    assert name_match(name) == word


@pytest.mark.parametrize(
    ("name", "expected"),
    [("OS", True), ("EFS", True), ("LOS", True), ("OS.time", False), ("efs", False),
     ("Os", False), ("PFS_months", False), ("TIMELESS", True)],
)  # fmt: skip
def test_acronyms_are_one_capitalised_word(name, expected):
    assert acronym(name) is expected


def _gene_symbols() -> list[str]:
    symbols: set[str] = set()
    for path in sorted(shared_data("genesets").glob("*.gmt")):
        for line in path.read_text().splitlines():
            symbols.update(s for s in line.split("\t")[2:] if s.strip())
    return sorted(symbols)


def test_no_gene_symbol_is_flagged_by_its_name_alone():
    """Every symbol of the shared gene sets (EFS is one) as a column of an omics matrix,
    none associated with the outcome: the name rule flags none of them."""
    symbols = _gene_symbols()
    assert len(symbols) > 10_000 and "EFS" in symbols
    # the only symbols the name rule reads as follow-up words are acronyms (EFS)
    named = [s for s in symbols if name_match(s) is not None]
    assert named and all(acronym(s) for s in named)
    rng = np.random.default_rng(11)
    n = 40
    y = np.repeat(["a", "b"], n // 2)
    # in each class half zeros, half ones, shuffled per column: every AUC is exactly 0.5
    half = np.repeat([0.0, 1.0], n // 4)
    X = np.vstack([rng.permuted(np.tile(half, (len(symbols), 1)), axis=1).T for _ in "ab"])
    data = ad.AnnData(X, obs=pd.DataFrame({"y": y}, index=[f"s{i}" for i in range(n)]),
                      var=pd.DataFrame(index=symbols))  # fmt: skip
    screen = screen_study(make_study(data, target="y"))
    assert screen.checked == len(symbols) and screen.findings == []


def test_acronym_names_are_flagged_when_the_data_agree():
    data = breast_cancer_adata(n_rows=300, n_cols=6)
    malignant = data.obs["diagnosis"].to_numpy() == "malignant"
    rng = np.random.default_rng(12)
    data = _with_columns(
        EFS=np.where(malignant, 20.0, 60.0) + rng.normal(0, 25, 300),  # associated
        OS=np.where(malignant, 1.0, 0.0),  # the outcome again
        DFS=rng.normal(size=300),  # a gene-like column, not associated
    )
    found = findings(screen_study(make_study(data, target="diagnosis")))
    assert found["EFS"] == ["association", "name"]
    assert found["OS"] == ["near_duplicate", "near_perfect", "name"]
    assert "DFS" not in found


def test_tcga_cdr_follow_up_columns_are_flagged_and_birth_days_is_not(tmp_path):
    """TCGA's clinical data resource for STAD, vital status (OS) as the outcome: the
    status at last contact, the last contact and DSS are follow-up data; birth_days_to
    (an age, in days before diagnosis) is not."""
    cdr = pd.read_csv(shared_data("cohorts", "tcga_stad", "clinical_cdr_stad.csv"))
    keep = ["bcr_patient_barcode", "age_at_initial_pathologic_diagnosis", "gender", "race",
            "histological_grade", "birth_days_to", "tumor_status", "last_contact_days_to",
            "DSS", "OS"]  # fmt: skip
    cdr[keep].to_csv(tmp_path / "cdr.csv", index=False)
    made = make_study(read(tmp_path / "cdr.csv", id_column="bcr_patient_barcode"), target="OS")
    found = findings(screen_study(made))
    assert found == {"DSS": ["association", "name"], "tumor_status": ["association", "name"],
                     "last_contact_days_to": ["name"]}  # fmt: skip


def test_tokens_split_at_separators_and_camel_case_only():
    assert tokens("followUp_time.OS-days") == ["follow", "up", "time", "os", "days"]
    assert tokens("HTTPServerTime") == ["http", "server", "time"]
    assert tokens("TIMELESS") == ["timeless"] and tokens("DATE1") == ["date1"]


def test_gene_like_names_are_not_flagged_on_an_omics_matrix():
    rng = np.random.default_rng(3)
    genes = ["TIMELESS", "DATE1", "OS9", "DSS1", "TIMM10", "EVENTS1", "STATUS2", "LOS1"]
    data = ad.AnnData(rng.normal(size=(120, len(genes))),
                      obs=pd.DataFrame({"y": rng.choice(["a", "b"], 120)},
                                       index=[f"s{i}" for i in range(120)]),
                      var=pd.DataFrame(index=genes))  # fmt: skip
    assert screen_study(make_study(data, target="y")).findings == []


def test_sensitive_and_site_columns_are_screened_and_named():
    data = breast_cancer_adata(n_rows=300, n_cols=6)
    y = data.obs["diagnosis"].to_numpy()
    data.obs["centre"] = np.where(y == "malignant", "A", "B")  # the outcome is the site
    data.obs["sex"] = np.random.default_rng(0).choice(["F", "M"], 300)
    screen = screen_study(make_study(data, target="diagnosis", site="centre", sensitive=["sex"]))
    (finding,) = screen.findings
    assert finding.column == "centre" and finding.role == "site"
    assert "site column" in finding.detail and "--site" in finding.suggestion
    assert screen.checked == 8  # 6 features + site + sex


def test_survival_screen_uses_the_c_index_and_skips_the_outcome_columns():
    made = make_study(heart_failure(), time="time", event="DEATH_EVENT")
    screen = screen_study(made)
    assert screen.statistic == "C-index" and screen.findings == [] and screen.checked == 11


# -- the statistics, against reference implementations ------------------------------------


def _matrix(n: int = 150, p: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X[:, 1] = np.round(X[:, 1])  # ties
    X[rng.random((n, p)) < 0.1] = np.nan  # missing values
    return X


def test_auc_matches_scikit_learn_with_ties_and_missing_values():
    X = _matrix()
    y = np.random.default_rng(1).integers(0, 2, len(X))
    X[:, 2] += 3 * y  # a strong column
    got = binary_auc(X, y == 1)
    for j in range(X.shape[1]):
        known = ~np.isnan(X[:, j])
        auc = roc_auc_score(y[known], X[known, j])
        assert got[j] == pytest.approx(max(auc, 1 - auc))


def test_pairwise_auc_is_the_mean_of_the_direction_free_pairs():
    X = _matrix(seed=2)
    codes = np.random.default_rng(3).integers(0, 3, len(X))
    got = pairwise_auc(X, codes)
    for j in range(X.shape[1]):
        pairs = []
        for a, b in [(0, 1), (0, 2), (1, 2)]:
            rows = ((codes == a) | (codes == b)) & ~np.isnan(X[:, j])
            auc = roc_auc_score(codes[rows] == a, X[rows, j])
            pairs.append(max(auc, 1 - auc))
        assert got[j] == pytest.approx(np.mean(pairs))


def test_spearman_matches_scipy():
    X = _matrix(seed=4)
    y = np.random.default_rng(5).normal(size=len(X))
    got = spearman(X, y)
    for j in range(X.shape[1]):
        known = ~np.isnan(X[:, j])
        assert got[j] == pytest.approx(abs(spearmanr(X[known, j], y[known]).statistic))


def test_c_index_matches_lifelines():
    rng = np.random.default_rng(6)
    X = np.round(rng.normal(size=(120, 5)), 1)
    t = rng.integers(1, 400, 120).astype(float) + rng.random(120)  # no tied times
    e = rng.integers(0, 2, 120)
    got, n_pairs, used = concordance(X, t, e)
    assert used == n_pairs
    for j in range(X.shape[1]):
        c = concordance_index(t, -X[:, j], e)  # lifelines: higher score = longer survival
        assert got[j] == pytest.approx(max(c, 1 - c))


def test_c_index_sample_is_drawn_without_listing_every_pair():
    """20,000 survival rows have about 100 million comparable pairs (1.6 GB as two int64
    lists): the sample of MAX_PAIRS is drawn in memory proportional to the rows."""
    rng = np.random.default_rng(13)
    n = 20_000
    t = rng.exponential(100, n) + rng.random(n)
    e = rng.integers(0, 2, n)
    X = np.c_[t + rng.normal(0, 50, n), rng.normal(size=n)]
    tracemalloc.start()
    try:
        got, n_pairs, used = concordance(X, t, e)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n_pairs > 90_000_000 and used == MAX_PAIRS
    assert peak < 200e6
    assert 0.75 < got[0] < 0.85 and got[1] < 0.52
    again, _, _ = concordance(X, t, e)  # a fixed seed: the same sample
    assert np.array_equal(got, again)


def test_sampled_c_index_agrees_with_lifelines_within_sampling_error():
    rng = np.random.default_rng(14)
    n = 3_000
    t = rng.exponential(100, n) + rng.random(n)  # no tied times
    e = rng.integers(0, 2, n)
    X = np.c_[t + rng.normal(0, 50, n), rng.normal(size=n), np.round(rng.normal(size=n))]
    got, n_pairs, used = concordance(X, t, e)
    assert n_pairs > 20 * MAX_PAIRS and used == MAX_PAIRS
    for j in range(X.shape[1]):
        c = concordance_index(t, -X[:, j], e)
        assert got[j] == pytest.approx(max(c, 1 - c), abs=0.01)  # SE about 0.003


def test_comparable_pairs_are_every_event_with_each_later_time():
    t = np.array([5.0, 1.0, 3.0, 3.0, 8.0, 2.0])
    e = np.array([1, 1, 0, 1, 0, 1])
    a, b, n_pairs = comparable_pairs(t, e)
    order = np.argsort(t, kind="stable")
    got = sorted(zip(order[a].tolist(), order[b].tolist(), strict=True))
    expected = sorted((i, j) for i in range(6) for j in range(6) if e[i] and t[j] > t[i])
    assert got == expected and n_pairs == len(expected)
    a, b, n_pairs = comparable_pairs(t, e, max_pairs=4)  # sampled: still comparable pairs
    assert len(a) == 4 and n_pairs == len(expected)
    assert all((order[i], order[j]) in expected for i, j in zip(a, b, strict=True))


def test_the_screen_stage_runs_between_study_and_plan():
    names = [s.name for s in STAGES]
    assert names.index("screen") == names.index("study") + 1 == names.index("plan") - 1


def test_twenty_thousand_features_screen_in_seconds():
    rng = np.random.default_rng(7)
    n, p = 300, 20_000
    data = ad.AnnData(rng.normal(size=(n, p)).astype(np.float32),
                      obs=pd.DataFrame({"y": rng.choice(["a", "b"], n)},
                                       index=[f"s{i}" for i in range(n)]),
                      var=pd.DataFrame(index=[f"G{i}" for i in range(p)]))  # fmt: skip
    made = make_study(data, target="y")
    start = time.perf_counter()
    screen = screen_study(made)
    assert time.perf_counter() - start < 30  # about 3 s on one core
    assert screen.checked == p and screen.findings == []


def test_relabelled_classes_and_event_copies_are_near_duplicates():
    rng = np.random.default_rng(8)
    n = 240
    data = ad.AnnData(rng.normal(size=(n, 4)),
                      obs=pd.DataFrame(index=[f"s{i}" for i in range(n)]),
                      var=pd.DataFrame(index=["a", "b", "c", "d"]))  # fmt: skip
    grade = rng.choice(["G1", "G2", "G3"], n)
    data.obs["grade"] = grade
    data.X[:, 0] = pd.Series(grade).map({"G1": 5.0, "G2": 1.0, "G3": 9.0})  # codes, reordered
    data.X[:, 1] = rng.integers(0, 2, n)  # a binary call unrelated to anything
    found = findings(screen_study(make_study(data, target="grade")))
    assert found == {"a": ["near_duplicate", "near_perfect"]}

    data.obs["months"] = rng.exponential(30, n) + 1
    event = rng.integers(0, 2, n)
    data.obs["dead"] = event
    data.X[:, 2] = 1 - event  # "alive": the event indicator recoded
    screen = screen_study(make_study(data, time="months", event="dead"))
    assert findings(screen)["c"][0] == "near_duplicate"
    assert "event indicator" in screen.findings[0].detail


def test_a_text_column_refining_a_multiclass_outcome_is_flagged():
    """Wine's three cultivars, and a text column whose levels a1/a2/b1/b2/c1/c2 each
    belong to one cultivar: no one order of its levels separates every pair of classes,
    yet it is the outcome again."""
    bunch = load_wine(as_frame=True)
    n = len(bunch.target)
    cultivar = np.array(["A", "B", "C"])[bunch.target.to_numpy()]
    data = ad.AnnData(bunch.data.iloc[:, :4].to_numpy(float),
                      obs=pd.DataFrame({"cultivar": cultivar}, index=[f"w{i}" for i in range(n)]),
                      var=pd.DataFrame(index=bunch.data.columns[:4]))  # fmt: skip
    rng = np.random.default_rng(15)
    letter = np.array(["a", "b", "c"])[bunch.target.to_numpy()]
    data.obsm["categorical"] = pd.DataFrame(
        {"lot": np.char.add(letter, rng.choice(["1", "2"], n))}, index=data.obs_names
    )
    screen = screen_study(make_study(data, target="cultivar"))
    assert findings(screen) == {"lot": ["near_duplicate", "near_perfect"]}
    (finding,) = screen.findings
    assert finding.statistic == pytest.approx(1.0)
    assert "each of its 6 levels is one class" in finding.detail


def test_a_six_level_category_not_determined_by_the_outcome_is_not_flagged(tmp_path):
    """TCGA STAD: the OncoTree subtype (6 levels) is associated with the grade (G1–G3,
    GX) but does not determine it: no finding."""
    sheet = pd.read_csv(shared_data("cohorts", "tcga_stad", "cohort_stad_patients.csv"))
    keep = ["case_id", "age", "oncotree_code", "race", "gender", "histological_grade"]
    sheet.drop_duplicates("case_id")[keep].to_csv(tmp_path / "sheet.csv", index=False)
    made = make_study(read(tmp_path / "sheet.csv", id_column="case_id"),
                      target="histological_grade")  # fmt: skip
    assert made.spec.task == "multiclass" and "oncotree_code" in made.features.columns
    assert made.features["oncotree_code"].nunique() == 6
    assert screen_study(made).findings == []


def test_tcga_stad_sample_sheet_outcome_copies_are_flagged(tmp_path):
    """The walk-through's expression + sample sheet, merged as a user might: the sheet's
    other survival columns are caught, the 1,577 genes are not."""
    folder = shared_data("cohorts", "tcga_stad")
    expression = pd.read_csv(folder / "expression_xena_stad_1577genes.csv", index_col=0)
    sheet = pd.read_csv(folder / "cohort_stad_patients.csv").drop_duplicates("case_id")
    keep = ["OS", "OS.time", "survival_months", "censorship", "PFI.time", "age", "gender"]
    merged = expression.join(sheet.set_index("case_id")[keep], how="inner")
    merged.to_csv(tmp_path / "stad.csv", index_label="case_id")
    made = make_study(read(tmp_path / "stad.csv", id_column="case_id"), time="OS.time",
                      event="OS", sensitive=["gender"])  # fmt: skip
    screen = screen_study(made)
    found = findings(screen)
    assert set(found) == {"survival_months", "censorship", "PFI.time"}
    assert found["survival_months"][0] == "near_duplicate"  # OS.time in months
    assert found["censorship"][0] == "near_duplicate"  # 1 − OS
    assert found["PFI.time"] == ["association", "name"]
    assert screen.statistic == "C-index"
    assert screen.checked == made.features.shape[1] + 1  # + gender: screened, not a feature
