"""Reconnect delays: one pure function, named constants in seconds."""

from __future__ import annotations

# Retry an unexpected drop at once: most drops are brief (body blocking the antenna, a
# sensor at the edge of range), and every second of delay is a second of lost samples.
FIRST_RECONNECT_DELAY_S = 0.0
# After a failed attempt, back off from half a second so that a sensor that is busy (e.g.
# still connected to a phone) is not hammered, and the adapter serves the other sensors.
RETRY_BASE_DELAY_S = 0.5
# Cap: a sensor that comes back (athlete returns from the water fountain) is picked up
# within this time; BlueZ keeps the adapter usable for the others in between.
RETRY_MAX_DELAY_S = 15.0
# How long a sensor may stay unseen (no advertisement, no connection) before it is GONE.
GIVE_UP_AFTER_S = 120.0


def reconnect_delay_s(
    failed_attempts: int, *, base_s: float = RETRY_BASE_DELAY_S, max_s: float = RETRY_MAX_DELAY_S
) -> float:
    """Seconds to wait before the next connection attempt.

    `failed_attempts` counts attempts that failed since the link was last up: 0 (first try
    after a drop) -> FIRST_RECONNECT_DELAY_S, then base_s, 2 base_s, 4 base_s ... capped
    at max_s.
    """
    if failed_attempts < 0:
        raise ValueError(f"failed_attempts must be >= 0, got {failed_attempts}")
    if failed_attempts == 0:
        return FIRST_RECONNECT_DELAY_S
    # exponent capped so that the float never overflows however long a sensor refuses
    return min(base_s * 2.0 ** min(failed_attempts - 1, 60), max_s)
