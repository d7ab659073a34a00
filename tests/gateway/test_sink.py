"""MemorySink: satisfies the GatewaySink protocol and gives back what was written."""

from __future__ import annotations

import numpy as np
import pytest

from sensor_gateway.events import GatewayClock, Placement, SetInfo, SetStarted, SetVariant
from sensor_gateway.samples import SensorKind
from sensor_gateway.sink import GatewaySink, MemorySink, RawSamples


def _chunk(placement: Placement, t0: float, n: int) -> RawSamples:
    t = t0 + np.arange(n) * 0.01
    return RawSamples(
        set_key="k",
        athlete_id="a",
        placement=placement,
        address="AA",
        kind=SensorKind.SIMULATED,
        t_s=t,
        acc_mps2=np.ones((n, 3)) * t0,
        gyr_radps=np.zeros((n, 3)),
        received_s=t + 0.02,
    )


def test_memory_sink_round_trips_samples_per_sensor_and_set():
    sink = MemorySink()
    assert isinstance(sink, GatewaySink)
    clock = GatewayClock()
    info = SetInfo(
        set_key="k",
        athlete_id="a",
        variant=SetVariant.BACK_SQUAT,
        load_kg=60.0,
        started_s=0.0,
        started_utc=clock.to_utc(0.0),
    )
    sink.record_event(SetStarted(athlete_id="a", t_s=0.0, wall_utc=info.started_utc, set=info))
    sink.write_samples(_chunk(Placement.SACRUM, 0.0, 5))
    sink.write_samples(_chunk(Placement.THIGH, 0.0, 4))
    sink.write_samples(_chunk(Placement.SACRUM, 1.0, 3))
    rec = sink.recording("k", Placement.SACRUM)
    assert len(rec) == 8 and rec.acc_mps2[-1, 0] == 1.0
    assert sink.sample_count("k") == 12 and sink.sample_count("k", Placement.THIGH) == 4
    assert sink.sets() == [info]
    with pytest.raises(KeyError):
        sink.recording("other", Placement.THIGH)
