"""The augmentation comparison (``--augment``): real-only against real + synthetic training.

With ``--augment`` every candidate has an augmented twin (``models.candidates.
augmented_twins``): the same pipeline trained on each training fold plus synthetic rows
made from that fold alone. BBC-CV selects among all of them, and its estimate of the
winner is the run's headline. This module answers the narrower question a user asks of
augmentation: on the same out-of-fold predictions, how does the best real-only candidate
compare with the best augmented one?

* **The two**: the real-only and the augmented candidate with the best mean
  cross-validated primary metric (each chosen among its own kind, both from as many
  candidates).
* **Metrics**: the task's primary metric (AUC for a binary outcome); for a binary outcome
  also the Brier score and the calibration slope (weighted logistic recalibration on the
  logit of the predicted risk, :func:`insightome.audit.disparity_metrics.recalibration`).
* **Intervals**: the project's group bootstrap (:func:`insightome.evaluate.bbc.
  bootstrap_weights`: whole patients with groups) of the pooled out-of-fold predictions,
  bootstrap b scoring CV repeat b mod R as Tsamardinos et al.'s BBC-CV does (``--bbc-pooling
  one_repeat``, not the run's default); the same draws for both
  candidates, so the paired difference (augmented − real-only) has its own percentile
  95% interval.
* **Findings**: per metric, "better" or "worse" only when the difference's interval
  excludes 0 (for the calibration slope: the change in its distance from 1); else
  "no evidence". The verdict puts them in one sentence.

Both candidates are maxima of noisy cross-validated scores, so their own scores are
optimistic; the result says so and points to the BBC-CV estimate of the winner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from insightome.audit.disparity_metrics import recalibration
from insightome.evaluate.bbc import CHUNK_CELLS, BBCResult, bootstrap_weights
from insightome.evaluate.metrics import PRIMARY, brier, metric_label
from insightome.models.candidates import Candidate
from insightome.number_format import fmt_number

#: The comparison's own bootstrap stream (``SeedSequence([seed, AUGMENT_STREAM])``), apart
#: from BBC-CV's, the audit's and the learning curve's.
AUGMENT_STREAM = 20

Better = Literal["higher", "lower", "closer to 1"]
Finding = Literal["better", "worse", "no evidence"]
MetricFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def calibration_slope(y: np.ndarray, pred: np.ndarray, W: np.ndarray) -> np.ndarray:
    """The calibration slope under every row of weights ``W`` (NaN where the fit fails)."""
    return recalibration(y, pred[:, 0], W, slope=True)[:, 1]


def compared_metrics(task: str) -> list[tuple[str, MetricFn, Better]]:
    """The metrics compared for ``task``: the primary one, then (binary) Brier score and
    calibration slope."""
    primary = PRIMARY[task]
    out: list[tuple[str, MetricFn, Better]] = [
        (primary.name, primary.fn, "higher" if primary.higher_is_better else "lower")
    ]
    if task == "binary":
        out += [("brier", brier, "lower"), ("calibration_slope", calibration_slope, "closer to 1")]
    return out


@dataclass(frozen=True)
class MetricComparison:
    """One metric of the two candidates, with 95% bootstrap intervals and the finding."""

    metric: str
    better: Better  # which way is better
    real_only: float
    real_only_ci95: tuple[float, float]
    augmented: float
    augmented_ci95: tuple[float, float]
    difference: float  # augmented − real-only
    difference_ci95: tuple[float, float]
    finding: Finding
    # the calibration slope: change in |slope − 1| (augmented − real-only), what the finding reads
    distance_from_1_change: float | None = None
    distance_from_1_change_ci95: tuple[float, float] | None = None
    undefined_bootstraps: int = 0  # bootstraps where either value was undefined

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        if self.distance_from_1_change is None:
            del out["distance_from_1_change"], out["distance_from_1_change_ci95"]
        return out


@dataclass(frozen=True)
class AugmentationComparison:
    """results.json ``augmentation`` (:class:`insightome.results.Augmentation`)."""

    method: str
    ratio: float
    compared: bool
    verdict: str
    caveat: str
    winner: str
    winner_augmented: bool
    # share of BBC-CV's bootstraps whose in-bag selection picked an augmented twin
    augmented_selection_frequency: float
    n_bootstrap: int
    seed: list[int]
    real_only: dict[str, Any] | None = None  # {name, cv_value}
    augmented: dict[str, Any] | None = None
    metrics: list[MetricComparison] = field(default_factory=list)
    not_compared_because: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": self.method,
            "ratio": self.ratio,
            "compared": self.compared,
            "verdict": self.verdict,
            "caveat": self.caveat,
            "winner": self.winner,
            "winner_augmented": self.winner_augmented,
            "augmented_selection_frequency": self.augmented_selection_frequency,
            "n_bootstrap": self.n_bootstrap,
            "seed": list(self.seed),
            "metrics": [m.to_dict() for m in self.metrics],
        }
        if self.real_only is not None and self.augmented is not None:
            out["real_only"], out["augmented"] = dict(self.real_only), dict(self.augmented)
        if self.not_compared_because is not None:
            out["not_compared_because"] = self.not_compared_because
        return out


def compare_augmentation(
    oof: np.ndarray,
    y: np.ndarray,
    task: str,
    candidates: Sequence[Candidate],
    bbc: BBCResult,
    *,
    n_bootstrap: int,
    seed: int,
    groups: np.ndarray | None = None,
) -> AugmentationComparison:
    """The best real-only candidate against the best augmented one on the out-of-fold
    predictions ``oof`` (R × C × n × k) of ``candidates`` (module docstring)."""
    augmented = np.array([c.augment is not None for c in candidates])
    if not augmented.any():
        raise ValueError("no augmented candidate: compare_augmentation needs --augment")
    twin = candidates[int(np.flatnonzero(augmented)[0])]
    primary = PRIMARY[task]
    usable = ~np.isnan(oof).any(axis=(0, 2, 3))
    oriented = np.where(usable, bbc.cv_mean if primary.higher_is_better else -bbc.cv_mean, -np.inf)
    winner = candidates[bbc.winner]
    headline = (
        f"the run's headline is the BBC-CV estimate of the winner ({winner.name}), "
        f"{metric_label(bbc.metric)} {fmt_number(bbc.estimate.value)} "
        f"(95% CI {fmt_number(bbc.estimate.ci95[0])} to {fmt_number(bbc.estimate.ci95[1])})"
    )
    common = {
        "method": str(twin.augment),
        "ratio": float(twin.augment_ratio),
        "winner": winner.name,
        "winner_augmented": winner.augment is not None,
        "augmented_selection_frequency": float(bbc.selection_frequency[augmented].sum()),
        "n_bootstrap": n_bootstrap,
        "seed": [seed, AUGMENT_STREAM],
    }
    missing = [
        kind for kind, mask in (("real-only", ~augmented), ("augmented", augmented))
        if not usable[mask].any()
    ]  # fmt: skip
    if missing:
        why = (
            f"no {missing[0]} candidate was fitted on every fold (see the run's warnings)"
            if len(missing) == 1
            else "no candidate of either kind was fitted on every fold"
        )
        return AugmentationComparison(
            compared=False,
            verdict=f"not compared: {why}",
            caveat=headline[:1].upper() + headline[1:] + ".",
            not_compared_because=why,
            **common,
        )
    a = int(np.argmax(np.where(augmented, -np.inf, oriented)))
    b = int(np.argmax(np.where(augmented, oriented, -np.inf)))
    metrics = [
        _compare(name, fn, better, oof[:, a], oof[:, b], y, n_bootstrap, seed, groups)
        for name, fn, better in compared_metrics(task)
    ]
    return AugmentationComparison(
        compared=True,
        verdict=_verdict(metrics),
        caveat=(
            "Both are the best of their kind by cross-validation, chosen from as many "
            "candidates, so their own scores are optimistic (the maximum of noisy "
            "estimates) and the difference is not corrected for that; " + headline + "."
        ),
        real_only={"name": candidates[a].name, "cv_value": float(bbc.cv_mean[a])},
        augmented={"name": candidates[b].name, "cv_value": float(bbc.cv_mean[b])},
        metrics=metrics,
        **common,
    )


def _compare(
    name: str,
    fn: MetricFn,
    better: Better,
    real: np.ndarray,
    aug: np.ndarray,
    y: np.ndarray,
    n_bootstrap: int,
    seed: int,
    groups: np.ndarray | None,
) -> MetricComparison:
    """One metric: plain values (mean over repeats of the pooled out-of-fold metric) and
    the paired bootstrap (``real``, ``aug``: R × n × k)."""
    R, n = real.shape[0], real.shape[1]
    ones = np.ones((1, n))
    plain_real = float(np.mean([fn(y, real[r], ones)[0] for r in range(R)]))
    plain_aug = float(np.mean([fn(y, aug[r], ones)[0] for r in range(R)]))
    boot_real, boot_aug = np.full(n_bootstrap, np.nan), np.full(n_bootstrap, np.nan)
    rng = np.random.default_rng([seed, AUGMENT_STREAM])  # same draws for every metric
    repeat_of = np.arange(n_bootstrap) % R
    chunk = max(1, CHUNK_CELLS // max(n, 1))
    for start in range(0, n_bootstrap, chunk):
        block = np.arange(start, min(start + chunk, n_bootstrap))
        W = bootstrap_weights(n, len(block), rng, groups)
        for r in range(R):
            local = np.flatnonzero(repeat_of[block] == r)
            if len(local):
                boot_real[block[local]] = fn(y, real[r], W[local])
                boot_aug[block[local]] = fn(y, aug[r], W[local])
    defined = np.isfinite(boot_real) & np.isfinite(boot_aug)
    diff = boot_aug - boot_real
    judged = diff
    extra: dict[str, Any] = {}
    if better == "closer to 1":
        judged = np.abs(boot_aug - 1) - np.abs(boot_real - 1)
        extra = {
            "distance_from_1_change": abs(plain_aug - 1) - abs(plain_real - 1),
            "distance_from_1_change_ci95": _ci(judged[defined]),
        }
    lo, hi = _ci(judged[defined])
    improved = lo > 0 if better == "higher" else hi < 0
    worsened = hi < 0 if better == "higher" else lo > 0
    return MetricComparison(
        metric=name,
        better=better,
        real_only=plain_real,
        real_only_ci95=_ci(boot_real[np.isfinite(boot_real)]),
        augmented=plain_aug,
        augmented_ci95=_ci(boot_aug[np.isfinite(boot_aug)]),
        difference=plain_aug - plain_real,
        difference_ci95=_ci(diff[defined]),
        finding="better" if improved else "worse" if worsened else "no evidence",
        undefined_bootstraps=int((~defined).sum()),
        **extra,
    )


def _ci(values: np.ndarray) -> tuple[float, float]:
    if not len(values):
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(values, [2.5, 97.5])
    return (float(lo), float(hi))


def _verdict(metrics: Sequence[MetricComparison]) -> str:
    """One sentence: "no evidence augmentation helps here" unless an interval of a
    difference excludes 0; what was better or worse, and the primary metric's difference."""
    better = [metric_label(m.metric) for m in metrics if m.finding == "better"]
    worse = [metric_label(m.metric) for m in metrics if m.finding == "worse"]
    p = metrics[0]
    lo, hi = p.difference_ci95
    primary = (
        f"{metric_label(p.metric)} difference {fmt_number(p.difference, '+.3f')} "
        f"(95% CI {fmt_number(lo, '+.3f')} to {fmt_number(hi, '+.3f')}), augmented minus "
        "real-only"
    )
    if better and worse:
        head = f"mixed: augmentation gave a better {_join(better)} but a worse {_join(worse)}"
    elif better:
        head = f"augmentation helped here: a better {_join(better)}"
    elif worse:
        head = f"no evidence augmentation helps here, and it made the {_join(worse)} worse"
    else:
        head = "no evidence augmentation helps here"
    return f"{head}; {primary}"


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
