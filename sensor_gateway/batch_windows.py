"""A sensor's batches of one set gathered into windows of data time, for the live watches.

The dead-axis and mirrored-axis watches (`sensor_gateway.dead_axes`, `.mirrored_axes`) look
at a sensor's samples a few seconds at a time, not per batch: a batch only appends its arrays
to the current window (no per-sample work), and the window's samples are joined once it spans
`WINDOW_S` of data time or holds `MAX_WINDOW_SAMPLES` (bounded memory).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# A few seconds: in a set of squats a window this long holds some of a rep (the gyroscope
# spans several rad/s); a working axis shows its noise in far fewer samples.
WINDOW_S = 3.0
MAX_WINDOW_SAMPLES = 4096  # a window is closed at this size at the latest (bounded memory)

# One batch or window: times (n,) s, accelerations (n, 3) m/s^2, rates (n, 3) rad/s.
Samples = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class BatchWindow:
    """The batches of one sensor since its current window began (`start_s`, data time)."""

    window_s: float = WINDOW_S
    max_samples: int = MAX_WINDOW_SAMPLES
    chunks: list[Samples] = field(default_factory=list)
    samples: int = 0
    start_s: float = 0.0

    def add(self, t_s: np.ndarray, acc_mps2: np.ndarray, gyr_radps: np.ndarray) -> Samples | None:
        """Take one batch (times increasing, at least one sample); the window's samples
        joined when this batch closes it (the next batch starts a new one), else None."""
        if not self.chunks:
            self.start_s = float(t_s[0])
        self.chunks.append((t_s, acc_mps2, gyr_radps))
        self.samples += t_s.size
        if float(t_s[-1]) - self.start_s < self.window_s and self.samples < self.max_samples:
            return None
        chunks = self.chunks
        self.chunks, self.samples = [], 0
        return joined(chunks)


def joined(chunks: Sequence[Samples]) -> Samples:
    """The chunks' times, accelerations and rates, each joined in order."""
    if len(chunks) == 1:
        return chunks[0]
    return (
        np.concatenate([c[0] for c in chunks]),
        np.concatenate([c[1] for c in chunks]),
        np.concatenate([c[2] for c in chunks]),
    )
