"""`/live/ws?batch=true`: what is queued for a client goes out as one frame, a JSON array in
order; without it, one message per frame (the stream's sender, with a stand-in socket)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from api.http.routes.live import _send_stream
from api.live_fanout import LiveFanout
from sensor_gateway.events import LiveAngles
from sensor_gateway.pubsub import EventBus


class _Socket:
    def __init__(self) -> None:
        self.frames: list[str] = []
        self.closed_with: tuple[int, str] | None = None

    async def send_text(self, text: str) -> None:
        self.frames.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)


def _angles(i: int) -> LiveAngles:
    return LiveAngles(
        athlete_id="7",
        t_s=100.0 + 0.05 * i,
        wall_utc=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        set_key="s1",
        set_t_s=0.05 * i,
        thigh_deg=float(i),
        pelvic_tilt_deg=0.0,
        hip_flexion_deg=float(i),
    )


def _frames(batch: bool, events: int) -> _Socket:
    async def run() -> _Socket:
        fanout = LiveFanout(EventBus(), max_queued=100)
        client = fanout.connect("7")
        for i in range(events):  # e.g. the angles a set's calibration releases at once
            fanout.publish(_angles(i))
        fanout.stop("gateway stopped")  # ends the stream once the queue is sent
        socket = _Socket()
        await _send_stream(socket, client, batch)  # type: ignore[arg-type]
        return socket

    return asyncio.run(run())


def test_batched_stream_sends_what_is_queued_as_one_array_in_order() -> None:
    socket = _frames(batch=True, events=5)
    assert len(socket.frames) == 1
    messages = json.loads(socket.frames[0])
    assert isinstance(messages, list)
    assert [m["type"] for m in messages] == ["live_angles"] * 5
    assert [m["thigh_deg"] for m in messages] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert socket.closed_with is not None and socket.closed_with[1] == "gateway stopped"


def test_unbatched_stream_sends_one_object_per_frame() -> None:
    socket = _frames(batch=False, events=3)
    assert [json.loads(f)["thigh_deg"] for f in socket.frames] == [0.0, 1.0, 2.0]
