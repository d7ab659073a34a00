"""How many samples a link gap swallowed, from the batches either side of it."""

from __future__ import annotations

import math

from sensor_gateway.samples import SampleBatch

# Sensor clocks here are 32-bit microsecond counters: a gap is measured modulo their wrap.
SENSOR_CLOCK_WRAP_S = 2**32 * 1e-6
# A sensor-clock gap longer than the gateway-clock gap by more than this means the sensor's
# clock restarted (reboot): fall back to the gateway clock.
CLOCK_DISAGREEMENT_TOLERANCE_S = 0.5


def missing_samples(
    last_before: SampleBatch, first_after: SampleBatch, rate_hz: float | None
) -> int | None:
    """Samples taken by the sensor between the last one delivered before a gap and the first
    one delivered after it.

    Exact from sensor timestamps when both batches carry them (and the clock did not
    restart); otherwise estimated from the gateway receive times at `rate_hz`, counting the
    samples of `first_after` as taken just before it arrived. None when no rate is known.
    """
    if rate_hz is None or rate_hz <= 0:
        return None
    wall_gap_s = first_after.received_s - last_before.received_s
    if last_before.sensor_time_s is not None and first_after.sensor_time_s is not None:
        sensor_gap_s = (
            float(first_after.sensor_time_s[0]) - float(last_before.sensor_time_s[-1])
        ) % SENSOR_CLOCK_WRAP_S
        if sensor_gap_s <= wall_gap_s + CLOCK_DISAGREEMENT_TOLERANCE_S:
            return max(0, round(sensor_gap_s * rate_hz) - 1)
    n_first = int(first_after.acc_mps2.shape[0])
    return max(0, math.floor(wall_gap_s * rate_hz + 0.5) - n_first)
