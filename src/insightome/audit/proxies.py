"""Proxies: which features encode a sensitive attribute (part 3 of the data audit).

A model can learn a sensitive attribute through features that encode it, even when the
attribute itself is excluded ("fairness through unawareness" fails: Dwork et al. 2012;
Pedreschi, Ruggieri & Turini 2008 on redlining). Per feature, the univariate AUC of the
feature for the attribute (orientation-free: max(AUC, 1 − AUC); multi-level attributes: the
largest one-vs-rest AUC); and the 5-fold cross-validated AUC of an L2 logistic regression
(median imputation and scaling fitted in each training fold) on all features, with the same
definition. AUCs ≥ the threshold (default 0.8) are flagged. With ``--groups`` the univariate
AUCs use patient means and the model's folds keep a patient's samples together.
:func:`publish_proxies` hides what would give back a hidden group size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from insightome.evaluate.engine import counted_warnings, describe_warnings
from insightome.evaluate.group_level import modal_per_group, one_row_per_group
from insightome.groups.disclosure import SUPPRESSED, GroupDisclosure
from insightome.groups.labels import UNKNOWN

PROXY_AUC = 0.8
PROXY_FOLDS = 5
TOP_FEATURES = 5  # features listed per attribute (here: top proxies; data_audit: missingness)
MAX_LISTED = 50  # flagged proxy features listed by name (all are counted)
AUC_DIGITS = 2  # proxy AUCs of an attribute with a hidden group size (publish_proxies)
PROXY_RATIONALE = (
    "A model can learn a sensitive attribute through features that encode it even when the "
    "attribute itself is excluded from the inputs; features (or the feature set) that "
    "predict the attribute with AUC ≥ {threshold} are flagged as potential proxies."
)


def rank_auc(X: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mann–Whitney AUC of every column of ``X`` for the 0/1 ``target`` (NaN rows omitted)."""
    ranks = stats.rankdata(X, axis=0, nan_policy="omit")
    ok, is_pos = ~np.isnan(X), target[:, None].astype(bool)
    n1, n0 = (ok & is_pos).sum(axis=0), (ok & ~is_pos).sum(axis=0)
    r1 = np.where(ok & is_pos, ranks, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (r1 - n1 * (n1 + 1) / 2) / (n1 * n0)


def proxy_analysis(
    X: pd.DataFrame | None,
    labels: Mapping[str, np.ndarray],
    min_size: int,
    threshold: float,
    seed: int,
    notes: list[str],
    patients: np.ndarray | None = None,
) -> dict[str, Any]:
    """Proxy AUCs per attribute; with ``patients`` (codes, ``--groups``) univariate AUCs on
    patient means, group sizes in patients, and the proxy model split by patient."""
    rows = []
    usable = X.loc[:, X.notna().any() & (X.nunique() > 1)] if X is not None else None
    X_patients = None
    if patients is not None and usable is not None and labels:
        zeros = np.zeros(len(usable))
        X_patients = one_row_per_group(usable, zeros, patients, "")[0].to_numpy()
        notes.append(
            f"Proxies with --groups: univariate AUCs on patient means of the features, groups "
            f"of at least {min_size} patients, and the proxy model cross-validated with a "
            "patient's samples in one fold (StratifiedGroupKFold)."
        )
    for name, lab in labels.items():
        assert usable is not None  # X is given whenever there are labels
        # each patient once, in the group of most of their samples (--groups)
        unit_lab = lab if patients is None else modal_per_group(lab, patients).to_numpy(str)
        values, counts = np.unique(unit_lab, return_counts=True)
        kept = [v for v, c in zip(values, counts, strict=True) if v != UNKNOWN and c >= min_size]
        keep = np.isin(lab, kept)
        row: dict[str, Any] = {"attribute": name, "n_used": int(keep.sum()), "groups": kept}
        row |= dict.fromkeys(("multivariate_auc", "multivariate_auc_by_group"))
        row |= {"max_univariate_auc": None, "n_flagged_features": 0}
        row |= {"top_features": [], "flagged_features": [], "flagged": False}
        rows.append(row)
        if len(kept) < 2 or usable.shape[1] == 0:
            notes.append(f"'{name}': no proxy analysis (fewer than 2 known groups of {min_size}+).")
            continue
        Xk, codes = usable.to_numpy()[keep], np.searchsorted(kept, lab[keep])
        levels = [1] if len(kept) == 2 else list(range(len(kept)))  # one-vs-rest if multi-level
        X_uni, uni_codes = Xk, codes
        if X_patients is not None:
            in_kept = np.isin(unit_lab, kept)
            X_uni = X_patients[in_kept]
            uni_codes = np.searchsorted(kept, unit_lab[in_kept])
        raw = np.vstack([rank_auc(X_uni, uni_codes == g) for g in levels])
        uni = np.nanmax(np.maximum(raw, 1 - raw), axis=0)  # orientation-free
        order = np.argsort(-np.nan_to_num(uni), kind="stable")
        flagged = [str(usable.columns[j]) for j in order if uni[j] >= threshold]
        row["top_features"] = [
            {"feature": str(usable.columns[j]), "auc": float(uni[j])} for j in order[:TOP_FEATURES]
        ]
        row |= {"n_flagged_features": len(flagged), "flagged_features": flagged[:MAX_LISTED]}
        row["max_univariate_auc"] = float(np.nanmax(uni))
        split_by = None if patients is None else patients[keep]
        raised: Counter[str] = Counter()
        by_level = _multivariate_auc(Xk, codes, levels, seed, split_by, raised)
        if raised:
            notes.append(f"'{name}': proxy model fit warnings: {describe_warnings(raised)}.")
        if by_level is not None:
            row["multivariate_auc"] = float(np.nanmax(by_level))
            if len(kept) > 2:
                row["multivariate_auc_by_group"] = dict(zip(kept, by_level, strict=True))
        multi = row["multivariate_auc"]
        row["flagged"] = bool(flagged) or (multi is not None and multi >= threshold)
    return {
        "threshold": threshold,
        "rationale": PROXY_RATIONALE.format(threshold=threshold),
        "method": "univariate AUC per feature (orientation-free); 5-fold cross-validated AUC of "
        "an L2 logistic regression on all features; multi-level attributes: the largest "
        "one-vs-rest AUC. Only known groups of at least min_group_size samples.",
        "attributes": rows,
    }


def publish_proxies(proxies: dict[str, Any], shown: GroupDisclosure, notes: list[str]) -> None:
    """Hide what would give back a hidden size: ``n_used`` (the sum of the groups used) when
    one of them has a hidden size, and the last digits of that attribute's AUCs (an AUC is a
    fraction over n_group × n_rest: its exact value gives the sizes back). The groups stay
    listed: which groups reach the size is known to the disclosure rule (min_group_size)."""
    rounded = []
    for row in proxies["attributes"]:
        if all(shown.size_shown(row["attribute"], g) for g in row["groups"]):
            continue
        row["n_used"], row["suppressed"] = None, {"n_used": SUPPRESSED}
        for key in ("multivariate_auc", "max_univariate_auc"):
            row[key] = _rounded(row[key])
        by_group = row["multivariate_auc_by_group"]
        if by_group is not None:
            row["multivariate_auc_by_group"] = {g: _rounded(v) for g, v in by_group.items()}
        row["top_features"] = [f | {"auc": _rounded(f["auc"])} for f in row["top_features"]]
        rounded.append(row["attribute"])
    if rounded:
        notes.append(
            f"Proxies of {', '.join(repr(a) for a in rounded)}: a group used has a hidden size, "
            f"so the number of samples used is hidden and the AUCs are rounded to "
            f"{AUC_DIGITS} decimals (their exact values would give the sizes back)."
        )


def _rounded(value: float | None) -> float | None:
    return None if value is None or value != value else round(float(value), AUC_DIGITS)


def _multivariate_auc(
    X: np.ndarray,
    codes: np.ndarray,
    levels: list[int],
    seed: int,
    patients: np.ndarray | None = None,
    raised: Counter[str] | None = None,
) -> list[float] | None:
    """Cross-validated AUC of all features for each level (one-vs-rest); with ``patients``
    a patient's samples stay in one fold, so the model cannot score by recognising them.
    Warnings of the proxy model's fits are counted into ``raised``."""
    if patients is None:
        sizes = np.bincount(codes)
    else:  # patients with samples in each level
        sizes = pd.Series(patients).groupby(codes).nunique().to_numpy()
    folds = min(PROXY_FOLDS, int(sizes.min()))
    if folds < 2:
        return None
    model = make_pipeline(
        SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=2000)
    )
    split = StratifiedKFold if patients is None else StratifiedGroupKFold
    splitter = split(folds, shuffle=True, random_state=seed)
    with counted_warnings() as counts:
        prob = cross_val_predict(
            model, X, codes, groups=patients, cv=splitter, method="predict_proba"
        )
    if raised is not None:
        raised.update(counts)
    return [float(rank_auc(prob[:, [g]], codes == g)[0]) for g in levels]
