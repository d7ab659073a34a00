"""Which online gateway streams a sensor (`status.streaming_gateway`, the question both the
central pairing and an edge's own pairing ask), whatever case its address was typed in."""

from __future__ import annotations

from api.federation import status
from sensor_gateway.config import SensorAssignment
from sensor_gateway.samples import SensorKind

TYPED = "d4:ca:6e:f1:20:3a"  # as a coach typed it into POST /sensors on gateway B


def test_a_sensor_typed_in_lower_case_is_found_streaming_on_the_gateway_that_reports_it(
    database,
) -> None:
    # Gateway A's report carries the address as its sensor registry holds it (upper case);
    # gateway B's catalog keeps it as it was typed. B pairing it must still hear that A
    # streams it, or the two gateways fight over the sensor.
    on_a = SensorAssignment(
        address=TYPED, kind=SensorKind.WITMOTION, athlete_id="1", placement="sacrum"
    ).address
    assert on_a != TYPED
    status.store_gateway_status(database, "gw-a", {"online": True})
    report = {"address": on_a, "kind": "witmotion", "state": "streaming"}
    status.store_sensor_status(database, "gw-a", {"sensors": [report]})
    assert status.streaming_gateway(database, TYPED, other_than="gw-b") == "gw-a"
    assert status.streaming_gateway(database, on_a, other_than="gw-b") == "gw-a"
    assert status.streaming_gateway(database, TYPED, other_than="gw-a") is None
    status.store_sensor_status(database, "gw-a", {"sensors": [{**report, "state": "gone"}]})
    assert status.streaming_gateway(database, TYPED, other_than="gw-b") is None
