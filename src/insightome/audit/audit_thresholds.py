"""The model audit's thresholds: bands outside which a group disparity is flagged.

Each value carries its source (a standard, a published convention, or "set by the user");
:class:`AuditThresholds` validates user values (one :class:`UserError` line each) and is
recorded in results.json with its sources. :mod:`insightome.audit.model_audit` applies them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from insightome.errors import UserError

THRESHOLD_INVALID = "audit threshold '{name}': {reason}"
FOUR_FIFTHS = (
    "Four-fifths (80%) rule, Uniform Guidelines on Employee Selection Procedures, US EEOC "
    "1978 (29 CFR 1607.4D), applied to group metric ratios as in Aequitas (Saleiro et al. "
    "2018, arXiv:1811.05577); 1.25 = 1/0.8 makes the band symmetric."
)
AUC_CONVENTION = (
    "Convention, not a standard: AUC gaps of about 0.05 are treated as relevant in studies "
    "of subgroup performance of clinical models (e.g. Seyyed-Kalantari et al. 2021, Nat Med "
    "27:2176; Pfohl et al. 2021, J Biomed Inform 113:103621). A choice; set your own."
)
R2_CONVENTION = "Convention (a choice): 0.05 of explained variance."
SLOPE_CONVENTION = (
    "Convention (a choice): ±0.2 around the reference group's calibration slope; Van Calster "
    "et al. 2019 (BMC Med 17:230) set the target slope to 1 but give no tolerance."
)
INTERCEPT_CONVENTION = (
    "A choice: log(1.25), the odds-ratio counterpart of the four-fifths band, on the logit "
    "scale of the calibration intercept (Van Calster et al. 2019)."
)
CITL_CONVENTION = "Convention (a choice): 5 percentage points of observed − predicted risk."
MIN_EVENTS_SOURCE = (
    "Rule of thumb: at least 10 positives/negatives/events per estimate (after Peduzzi et "
    "al. 1996, J Clin Epidemiol 49:1373); fewer make the estimate too unstable to judge."
)
HOLM_SOURCE = (
    "Holm 1979 (Scand J Stat 6:65) step-down adjustment of the bootstrap p-values over an "
    "attribute's comparisons ('holm'), or none ('none': per-comparison 95% intervals)."
)
USER_SET = "set by the user"


@dataclass(frozen=True)
class Threshold:
    value: float | str | tuple[float, float]
    source: str


@dataclass(frozen=True)
class AuditThresholds:
    """Bands outside which a disparity is flagged; each value carries its source.

    Plain values (a number; a (low, high) pair for ``ratio_band``; "holm"/"none" for
    ``multiplicity``) are accepted and recorded with the source "set by the user".
    """

    ratio_band: Threshold = Threshold((0.8, 1.25), FOUR_FIFTHS)
    max_auc_difference: Threshold = Threshold(0.05, AUC_CONVENTION)
    max_r2_difference: Threshold = Threshold(0.05, R2_CONVENTION)
    max_calibration_slope_deviation: Threshold = Threshold(0.2, SLOPE_CONVENTION)
    max_calibration_intercept_difference: Threshold = Threshold(
        math.log(1.25), INTERCEPT_CONVENTION
    )
    max_calibration_in_the_large_difference: Threshold = Threshold(0.05, CITL_CONVENTION)
    min_events: Threshold = Threshold(10, MIN_EVENTS_SOURCE)
    multiplicity: Threshold = Threshold("holm", HOLM_SOURCE)

    def __post_init__(self) -> None:
        for f in fields(self):
            t = getattr(self, f.name)
            if not isinstance(t, Threshold):
                value = tuple(t) if isinstance(t, Sequence) and not isinstance(t, str) else t
                object.__setattr__(self, f.name, t := Threshold(value, USER_SET))
            if f.name == "multiplicity":
                if t.value not in ("holm", "none"):
                    raise UserError(THRESHOLD_INVALID, name=f.name, reason="use 'holm' or 'none'")
            elif f.name == "ratio_band":
                band = t.value
                if not (isinstance(band, tuple) and len(band) == 2 and 0 <= band[0] < band[1]):
                    raise UserError(THRESHOLD_INVALID, name=f.name, reason="give (low, high)")
            elif not (isinstance(t.value, int | float) and 0 <= t.value < math.inf):
                low = "1 or more" if f.name == "min_events" else "a number >= 0"
                raise UserError(
                    THRESHOLD_INVALID, name=f.name, reason=f"give {low}, not {t.value!r}"
                )
            elif f.name == "min_events" and t.value < 1:
                raise UserError(
                    THRESHOLD_INVALID, name=f.name, reason=f"give 1 or more, not {t.value!r}"
                )

    def to_dict(self) -> dict[str, dict[str, Any]]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: {"value": t.value, "source": t.source} for k, t in out.items()}
