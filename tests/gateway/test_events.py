"""Gateway events: common fields, JSON-ready conversion, UTC mapping of the gateway clock."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC

import pytest

from fusion.types import REP_CSV_COLUMNS, REP_CSV_EXTRA_COLUMNS, RepMetrics
from sensor_gateway.events import (
    EVENT_TYPES,
    GatewayClock,
    LiveAngles,
    Placement,
    RepCompleted,
    SensorStatusChanged,
    SetInfo,
    SetStarted,
    SetVariant,
    event_to_dict,
    event_type_name,
)
from sensor_gateway.gaps import Gap, GapReason
from sensor_gateway.samples import LinkState, SensorKind


def _metrics() -> RepMetrics:
    return RepMetrics(
        rep=1,
        start_s=10.0,
        bottom_s=11.2,
        end_s=12.6,
        depth_deg=101.5,
        hip_flexion_max_deg=120.0,
        pelvic_tilt_peak_deg=22.0,
        pelvic_tilt_bottom_deg=12.0,
        wink_deg=10.0,
        wink_onset_depth_deg=80.0,
        butt_wink=True,
        load_kg=100.0,
        loaded_wink=True,
        wink_onset_s=11.0,
        descent_s=1.2,
        ascent_s=1.4,
        quality=("thigh_gap",),
    )


def test_every_event_type_has_common_fields_and_a_unique_wire_name():
    names = set()
    for cls in EVENT_TYPES:
        fields = cls.__dataclass_fields__
        assert {"athlete_id", "t_s", "wall_utc"} <= set(fields)
        names.add(cls.__name__)
    assert len(names) == len(EVENT_TYPES)


def test_rep_completed_serialises_with_analyze_columns():
    clock = GatewayClock()
    event = RepCompleted(
        athlete_id="alice", t_s=12.7, wall_utc=clock.to_utc(12.7), set_key="k1", metrics=_metrics()
    )
    data = event_to_dict(event)
    assert data["type"] == "rep_completed" == event_type_name(event)
    assert list(data["metrics"]) == list(REP_CSV_COLUMNS + REP_CSV_EXTRA_COLUMNS)
    assert data["metrics"]["butt_wink"] is True
    assert data["metrics"]["quality"] == ["thigh_gap"]
    json.dumps(data)  # JSON-ready


def test_enums_nested_setinfo_and_nan_are_plain():
    clock = GatewayClock()
    info = SetInfo(
        set_key="k",
        athlete_id="bob",
        variant=SetVariant.GOBLET_SQUAT,
        load_kg=None,
        started_s=1.0,
        started_utc=clock.to_utc(1.0),
    )
    started = event_to_dict(
        SetStarted(athlete_id="bob", t_s=1.0, wall_utc=info.started_utc, set=info)
    )
    assert started["set"]["variant"] == "goblet_squat"
    status = event_to_dict(
        SensorStatusChanged(
            athlete_id=None,
            t_s=2.0,
            wall_utc=clock.to_utc(2.0),
            address="AA",
            kind=SensorKind.WITMOTION,
            placement=Placement.THIGH,
            state=LinkState.STREAMING,
            gap=Gap(1.0, 1.5, 100, GapReason.RECONNECT),
        )
    )
    assert status["state"] == "streaming" and status["kind"] == "witmotion"
    assert status["gap"] == {
        "start_s": 1.0,
        "end_s": 1.5,
        "missing_samples": 100,
        "reason": "reconnect",
    }
    angles = event_to_dict(
        LiveAngles(
            athlete_id="bob",
            t_s=3.0,
            wall_utc=clock.to_utc(3.0),
            set_key="k",
            set_t_s=0.0,
            thigh_deg=math.nan,
            pelvic_tilt_deg=1.0,
            hip_flexion_deg=2.0,
        )
    )
    assert angles["thigh_deg"] is None
    json.dumps([started, status, angles])


def test_events_are_frozen():
    clock = GatewayClock()
    event = LiveAngles(
        athlete_id="a",
        t_s=0.0,
        wall_utc=clock.to_utc(0.0),
        set_key="k",
        set_t_s=0.0,
        thigh_deg=1.0,
        pelvic_tilt_deg=2.0,
        hip_flexion_deg=3.0,
    )
    with pytest.raises(AttributeError):
        event.thigh_deg = 5.0  # type: ignore[misc]


def test_gateway_clock_maps_monotonic_to_utc():
    clock = GatewayClock()
    now_utc = clock.to_utc(time.monotonic())
    assert now_utc.tzinfo == UTC
    assert abs(now_utc.timestamp() - time.time()) < 0.5
    assert clock.from_utc(clock.to_utc(1234.5)) == pytest.approx(1234.5, abs=1e-5)
