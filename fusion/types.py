"""Data types shared by every stage of the analysis core.

Conventions used throughout `fusion`:
- time `t_s`: seconds, float64, strictly increasing, on a clock shared by both sensors;
- specific force `acc_mps2`: (N, 3) m/s^2 in the sensor frame (reads +9.81 along "up" at rest);
- angular rate `gyr_radps`: (N, 3) rad/s in the sensor frame;
- samples are float64, or float32 where a recording was read from a file (a 24-bit mantissa
  is far finer than any IMU's 16-bit samples, and halves the memory of a long recording);
  resampled arrays keep their recording's precision, results are float64;
- quaternions `quat_wxyz`: (N, 4) scalar-first, sensor-to-earth, earth z up;
- angles in degrees with the sign conventions of docs/domain.md: thigh angle 0 standing, 90
  parallel; pelvic tilt relative to standing, anterior positive; hip flexion = thigh angle +
  pelvic tilt.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from functools import cached_property

import numpy as np

from fusion.baseline import DEFAULT_WINK_THRESHOLD_DEG
from fusion.errors import InputError
from fusion.gaps import long_interval_starts
from fusion.percentile import median

STANDARD_GRAVITY_MPS2 = 9.80665


@dataclass(frozen=True)
class ImuRecording:
    """One IMU's samples: `t_s` (N,) float64, `acc_mps2` (N, 3), `gyr_radps` (N, 3) in the
    sensor frame, float32 arrays kept as they are and anything else as float64."""

    t_s: np.ndarray
    acc_mps2: np.ndarray
    gyr_radps: np.ndarray

    def __post_init__(self) -> None:
        t_s = np.asarray(self.t_s, dtype=float)
        acc = _sample_array(self.acc_mps2)
        gyr = _sample_array(self.gyr_radps)
        if t_s.ndim != 1:
            raise InputError(f"t_s must be 1-D, got shape {t_s.shape}")
        n = t_s.shape[0]
        for name, arr in (("acc_mps2", acc), ("gyr_radps", gyr)):
            if arr.shape != (n, 3):
                raise InputError(f"{name} must have shape ({n}, 3), got {arr.shape}")
        object.__setattr__(self, "t_s", t_s)
        object.__setattr__(self, "acc_mps2", acc)
        object.__setattr__(self, "gyr_radps", gyr)

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    @cached_property
    def median_interval_s(self) -> float:
        """The median interval between samples (s), once per recording (NaN below 2 samples)."""
        if len(self) < 2:
            return float("nan")
        return float(median(np.diff(self.t_s)))

    @cached_property
    def sample_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The (lowest, highest) sample of each column, each (2, 3): row 0 `acc_mps2` (m/s^2),
        row 1 `gyr_radps` (rad/s); NaN in a column with a NaN. Once per recording: the range
        check and the clipping check both read them (N >= 1)."""
        lowest = np.array([[values[:, k].min() for k in range(3)] for values in self._samples])
        highest = np.array([[values[:, k].max() for k in range(3)] for values in self._samples])
        return lowest, highest

    def long_interval_starts(self, longer_than_s: float) -> np.ndarray:
        """`fusion.gaps.long_interval_starts(self.t_s, longer_than_s)`, differenced once per
        recording: a threshold's from the intervals found for a shorter one before (the gap
        mask and findings at `max_gap_s`, then the fusion stretches at `LONG_GAP_S`)."""
        found = self._long_intervals
        if longer_than_s not in found:
            shorter = [s for s in found if s <= longer_than_s]
            if shorter:
                starts = found[max(shorter)]
                t_s = self.t_s
                found[longer_than_s] = starts[t_s[starts + 1] - t_s[starts] > longer_than_s]
            else:
                found[longer_than_s] = long_interval_starts(self.t_s, longer_than_s)
        return found[longer_than_s]

    @cached_property
    def _long_intervals(self) -> dict[float, np.ndarray]:
        return {}

    @property
    def _samples(self) -> tuple[np.ndarray, np.ndarray]:
        return self.acc_mps2, self.gyr_radps

    @property
    def median_rate_hz(self) -> float:
        """Sampling rate from the median sample interval (robust to gaps and jitter)."""
        return 1.0 / self.median_interval_s


def _sample_array(values: object) -> np.ndarray:
    """`values` as float32 when they are float32 already, else as float64."""
    if isinstance(values, np.ndarray) and values.dtype == np.float32:
        return values
    return np.asarray(values, dtype=float)


@dataclass(frozen=True)
class RepMetrics:
    """Everything measured for one rep. Times on the recording clock (s), angles in deg."""

    rep: int
    start_s: float
    bottom_s: float
    end_s: float
    depth_deg: float
    hip_flexion_max_deg: float
    pelvic_tilt_peak_deg: float
    pelvic_tilt_bottom_deg: float
    wink_deg: float
    wink_onset_depth_deg: float | None
    butt_wink: bool
    load_kg: float | None
    loaded_wink: bool
    wink_onset_s: float | None
    descent_s: float
    ascent_s: float
    quality: tuple[str, ...] = field(default_factory=tuple)
    # The threshold `butt_wink` was decided against, where it came from (fusion.baseline)
    # and the grade: `clear`, `borderline` (within the lifter's noise of it) or `none`.
    wink_threshold_deg: float = DEFAULT_WINK_THRESHOLD_DEG
    threshold_source: str = "default"
    baseline_reps: int = 0
    wink_grade: str = "none"
    # The rep's measurement uncertainty u of `wink_deg` that the grade used, deg: `borderline`
    # = within u of the threshold, and the claim is the true reversal within 2.5 u of it
    # (fusion.baseline.WinkThreshold). None only where it is not known (a rep stored before
    # it was recorded whose baseline cannot be told from the stored columns).
    wink_uncertainty_deg: float | None = None
    # Tilt expected from the lifter's own early-descent rhythm minus the tilt measured,
    # largest near the bottom (fusion.wink.RepWink); None when the descent is too short.
    rhythm_lag_deg: float | None = None

    def shifted(self, dt_s: float) -> RepMetrics:
        """The same rep with its times moved by `dt_s` (another clock's origin)."""
        return replace(
            self,
            start_s=self.start_s + dt_s,
            bottom_s=self.bottom_s + dt_s,
            end_s=self.end_s + dt_s,
            wink_onset_s=None if self.wink_onset_s is None else self.wink_onset_s + dt_s,
        )

    def with_load(self, load_kg: float | None) -> RepMetrics:
        """The same rep under a corrected load: `loaded_wink` follows (a wink with load_kg > 0,
        as `fusion.metrics` decides it)."""
        loaded = bool(self.butt_wink and load_kg is not None and load_kg > 0)
        return replace(self, load_kg=load_kg, loaded_wink=loaded)

    def as_row(self) -> dict[str, object]:
        """Column name -> value, in REP_CSV_COLUMNS + REP_CSV_EXTRA_COLUMNS order.

        Flags are written 0/1 and the quality codes joined with ";" (the `winkwatch analyze`
        CSV); everything else as it is.
        """
        return {name: _csv_value(getattr(self, name)) for name in REP_FIELDS}


def _csv_value(value: object) -> object:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, tuple):
        return ";".join(str(item) for item in value)
    return value


# The rep's fields, in order, are the columns of `winkwatch analyze` (written once, above).
REP_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(RepMetrics))
# The exact leading columns of `winkwatch analyze` output (through `load_kg`); more may follow.
REP_CSV_COLUMNS: tuple[str, ...] = REP_FIELDS[: REP_FIELDS.index("load_kg") + 1]
# Extra columns written after REP_CSV_COLUMNS, in this order.
REP_CSV_EXTRA_COLUMNS: tuple[str, ...] = REP_FIELDS[len(REP_CSV_COLUMNS) :]


@dataclass(frozen=True)
class QualityFinding:
    """A data-quality problem, said in plain words. `code` is stable and machine-readable."""

    code: str
    message: str
    sensor: str | None = None  # "sacrum", "thigh" or None for the pair
    rep: int | None = None
