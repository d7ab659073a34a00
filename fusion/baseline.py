"""Personal baseline: an athlete's own noise floor for the pelvis reversal.

Every lifter's pelvis turns back a little near the bottom even in a rep that does not
wink (soft tissue under the sacrum sensor, the natural rhythm, the sensor's own noise);
how much differs from lifter to lifter. Learned from reps that do not wink (shallow
warm-up reps, an assessment's steps, reps above the lifter's known onset), the baseline is
a robust centre (median) and spread (1.4826 x median absolute deviation, i.e. a standard
deviation for normal data, floored at `MIN_SPREAD_DEG`) of their wink amplitudes, and how
many reps it rests on.

The flag threshold in use is max(global default, centre + k x sqrt(spread^2 + floor^2)), once
the baseline rests on at least `MIN_BASELINE_REPS` reps: a noisy lifter gets a higher bar, a
clean one never a lower bar than the default (a personal threshold below the default would
flag reps on the evidence of a handful of quiet ones).

Why the floor (`SPREAD_FLOOR_DEG`, added in quadrature): the spread of one baseline set is a
poor guide to the reps that follow it. With 5 reps the MAD is unstable (three reps that agree
to 0.2 deg make it 0.3 deg for a lifter whose reps vary by 1.5), and no baseline set shows
the set-to-set drift of the lifter's floor (re-strapped sensor, depth, fatigue). The floor is
the spread a new rep must be allowed beyond the baseline's own; with it, the personal spread
still counts where it is large, and k can be smaller, so noisy lifters' clear winks are not
lost. It keeps the robust centre and spread (one winking rep among the baseline reps moves
neither), which the sample mean and standard deviation would not (benchmark lifters, one of
five baseline reps winking by 10 deg: sensitivity 0.970 with the median and MAD, 0.565 with
the mean and standard deviation). `K_SPREAD`, `SPREAD_FLOOR_DEG` and `MIN_BASELINE_REPS` were
chosen on simulated lifters (seeds other than the benchmark's) and checked on the benchmark's
lifters and leave-one-subject-out on the two real lifters: see README "Choosing the butt-wink
threshold" and `benchmarks/personal_baseline.py`.

Grades per rep: `clear`, `borderline` or `none`. `borderline` means the measured reversal
is within this rep's measurement uncertainty of the threshold, so its true side of the
threshold is not known. The uncertainty (`WinkThreshold.borderline_deg`) is the athlete's
rep-to-rep noise: hypot(`SMALL_SAMPLE_SPREAD_FACTOR` x personal spread,
`WINK_MEASUREMENT_SD_DEG`) with a usable baseline, `DEFAULT_BORDERLINE_DEG` without one. What
a borderline grade claims about the truth (`WinkThreshold.truth_band_deg`): the rep's true
reversal lies within `TRUTH_BAND_FACTOR` x that uncertainty of the true reversal the
threshold stands for (the grade's own width plus the noise of the measurement). On simulated
lifters that holds for 94-97 % of borderline reps (README "Personal baseline"); it is wider
than 1 deg where the lifter's noise is: no grade computed from the measurement can be
narrower than the measurement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from fusion.errors import FusionError
from fusion.percentile import median

# Global default: see README "Choosing the butt-wink threshold" for the data behind it.
DEFAULT_WINK_THRESHOLD_DEG = 5.0
K_SPREAD = 1.5  # threshold = centre + K_SPREAD x sqrt(spread^2 + floor^2) (module docstring)
SPREAD_FLOOR_DEG = 2.0  # the spread a baseline set cannot show (module docstring)
MIN_BASELINE_REPS = 5  # fewer non-winking reps than this: the default threshold is used
# What a stored or supplied baseline may hold (the API's and a baseline file's bounds): a
# non-winking rep's pelvis reversal is a few deg; 45 deg would be a gross wink.
MAX_BASELINE_DEG = 45.0
MAX_BASELINE_REPS = 100_000
MAD_TO_SD = 1.4826  # median absolute deviation -> standard deviation for normal data
MIN_SPREAD_DEG = 0.3  # a few quiet reps can agree to 0.05 deg: do not trust that
# Borderline band (module docstring; chosen on simulated development lifters, seeds 101-160):
# 5 baseline reps' MAD spread underestimates the lifter's rep-to-rep noise (median ratio of
# the true noise to it ~1.1, 90th percentile ~2.8 on the benchmark's lifters): scaled up.
SMALL_SAMPLE_SPREAD_FACTOR = 1.2
WINK_MEASUREMENT_SD_DEG = 0.32  # the measurement's own wink RMSE (README "Measured accuracy")
# Without a baseline the lifter's noise is unknown: the quieter real lifter's (spread of their
# correct reps 1.0 deg; ../shared/data/squat_posture); on the development lifters 0.5 left the
# truth outside the stated band for 11 % of borderline reps, 1.0 for 3 %.
DEFAULT_BORDERLINE_DEG = 1.0
TRUTH_BAND_FACTOR = 2.5  # a borderline rep's truth lies within this x the band of the threshold

ThresholdSource = Literal["default", "personal"]
WinkGrade = Literal["clear", "borderline", "none"]
THRESHOLD_SOURCES: tuple[ThresholdSource, ...] = ("default", "personal")
WINK_GRADES: tuple[WinkGrade, ...] = ("clear", "borderline", "none")


class BaselineError(FusionError, ValueError):
    """A baseline cannot be built from what was given (the message says what to supply)."""


@dataclass(frozen=True)
class PersonalBaseline:
    """A lifter's noise floor of the pelvis reversal: deg, and the number of reps behind it."""

    centre_deg: float
    spread_deg: float
    reps: int

    def __post_init__(self) -> None:
        if not (np.isfinite(self.centre_deg) and np.isfinite(self.spread_deg)):
            raise BaselineError("a baseline's centre and spread must be finite numbers")
        if self.spread_deg < 0 or self.reps < 0:
            raise BaselineError("a baseline's spread and rep count cannot be negative")

    @property
    def usable(self) -> bool:
        """Enough reps to stand on (`MIN_BASELINE_REPS`)."""
        return self.reps >= MIN_BASELINE_REPS

    def as_dict(self) -> dict[str, float | int]:
        return {"centre_deg": self.centre_deg, "spread_deg": self.spread_deg, "reps": self.reps}


@dataclass(frozen=True)
class WinkThreshold:
    """The threshold a rep is flagged against, where it came from, and its borderline band."""

    threshold_deg: float
    source: ThresholdSource
    baseline_reps: int  # reps behind the personal baseline (0 without one)
    borderline_deg: float  # the rep's measurement uncertainty: half-width of `borderline`

    @property
    def truth_band_deg(self) -> float:
        """How far from the threshold a `borderline` rep's true reversal can lie, deg."""
        return TRUTH_BAND_FACTOR * self.borderline_deg


def personal_baseline(non_winking_wink_deg: Iterable[float]) -> PersonalBaseline:
    """Robust centre and spread of the wink amplitudes (deg) of reps known not to wink.

    Non-finite values are ignored. With no usable value the baseline has `reps` 0 (and is
    not `usable`); callers still get a value to store and show.
    """
    values = np.asarray([float(v) for v in non_winking_wink_deg], dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return PersonalBaseline(0.0, 0.0, 0)
    centre = float(median(values))
    spread = MAD_TO_SD * float(median(np.abs(values - centre)))
    return PersonalBaseline(centre, max(spread, MIN_SPREAD_DEG), int(values.size))


def wink_threshold(
    default_deg: float,
    baseline: PersonalBaseline | None = None,
    k_spread: float = K_SPREAD,
    spread_floor_deg: float = SPREAD_FLOOR_DEG,
) -> WinkThreshold:
    """max(default, centre + k x sqrt(spread^2 + floor^2)) for a usable baseline, else the default."""
    if baseline is None or not baseline.usable:
        return WinkThreshold(default_deg, "default", 0, DEFAULT_BORDERLINE_DEG)
    personal_deg = baseline.centre_deg + k_spread * float(
        np.hypot(baseline.spread_deg, spread_floor_deg)
    )
    band_deg = borderline_band_deg(baseline)
    if personal_deg > default_deg:
        return WinkThreshold(personal_deg, "personal", baseline.reps, band_deg)
    return WinkThreshold(default_deg, "default", baseline.reps, band_deg)


def borderline_band_deg(baseline: PersonalBaseline) -> float:
    """A usable baseline's rep-to-rep noise of the measured reversal, deg (module docstring)."""
    return float(
        np.hypot(SMALL_SAMPLE_SPREAD_FACTOR * baseline.spread_deg, WINK_MEASUREMENT_SD_DEG)
    )


def grade_wink(wink_deg: float, threshold: WinkThreshold) -> WinkGrade:
    """`clear`, `borderline` (within the band around the threshold) or `none`."""
    if wink_deg >= threshold.threshold_deg + threshold.borderline_deg:
        return "clear"
    if wink_deg > threshold.threshold_deg - threshold.borderline_deg:
        return "borderline"
    return "none"
