"""The central server acting on the platforms: pair sensors, start and stop sets over MQTT
(acknowledged), live angles relayed to a central WebSocket, and an athlete who moves from
platform A to platform B keeps one history. Two edges and the central server run in this
process (one event loop) against a private Mosquitto; the athletes are simulated in real time."""

from __future__ import annotations

import asyncio
import json
import time

import httpx2
import pytest
import uvicorn

from api.auth import create_token
from api.federation.edge import EdgeForwarder
from api.federation.runtime import build_central
from api.http.deps import app_service
from api.runtime import build_server
from api.settings import Settings
from api.vocab import TokenRole
from fusion.baseline import PersonalBaseline, wink_threshold
from sensor_gateway.samples import SensorKind
from sensor_gateway.sources.simulated import SimulatedAthlete, SimulatedSource
from tests.federation.infra import free_port
from tests.federation.test_broker import mqtt_settings

pytestmark = pytest.mark.slow


async def _wait(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = await condition()
        if result:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_coach_runs_sets_on_two_platforms_from_the_central_server(
    tmp_path, broker, central_target, monkeypatch
) -> None:
    asyncio.run(_scenario(tmp_path, broker, central_target, monkeypatch))


async def _scenario(tmp_path, broker, db_target, monkeypatch) -> None:
    loop = asyncio.get_running_loop()
    central = build_central(
        Settings(database_url=db_target.url, database_schema=db_target.schema),
        mqtt_settings(broker, "central"),
    )
    with central.database.sessions.begin() as db:
        _, admin = create_token(db, "coach", TokenRole.ADMIN)
    port = free_port()
    http = uvicorn.Server(
        uvicorn.Config(
            central.app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=2,  # live streams wait for events that no longer come
        )
    )
    central.hub.start(loop)
    http_task = asyncio.create_task(http.serve())
    edges = []
    for name in ("gw-a", "gw-b"):
        monkeypatch.setenv("WINKWATCH_GATEWAY_CONFIG_FILE", str(tmp_path / f"{name}.json"))
        server = build_server(
            Settings(
                database_url=f"sqlite:///{tmp_path / f'{name}.db'}",
                gateway_id=name,
                commit_interval_s=0.5,
            )
        )
        mover = SimulatedAthlete(athlete_id=f"mover-{name}", seed=len(edges) + 3)
        server.gateway.add_source(SimulatedSource([mover], realtime=True))
        forwarder = EdgeForwarder(
            server.database, name, mqtt_settings(broker, name), service=app_service(server.app)
        ).start(loop, server.gateway.bus)
        edges.append((name, server, forwarder, mover, asyncio.create_task(server.gateway.run())))
    headers = {"Authorization": f"Bearer {admin}"}
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx2.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
            await _wait(lambda: _ok(client, "/health"), 20, "the central server")
            athlete = (await client.post("/athletes", json={"name": "Mover"})).json()
            nobody = (await client.post("/athletes", json={"name": "No sensors"})).json()
            await _wait(lambda: _online(client, {"gw-a", "gw-b"}), 20, "both gateways online")
            # A set for an athlete without sensors on that platform: the edge says why (409).
            refused = await client.post(
                "/gateways/gw-a/sets", json={"athlete_id": nobody["id"], "variant": "back_squat"}
            )
            assert refused.status_code == 409 and "no sensors" in refused.json()["detail"]

            sets = {}
            for name, _server, _fwd, mover, _task in edges:
                for placement in ("sacrum", "thigh"):
                    paired = await client.put(
                        f"/gateways/{name}/sensors",
                        json={
                            "address": mover.address(_placement(placement)),
                            "kind": SensorKind.SIMULATED.value,
                            "athlete_id": athlete["id"],
                            "placement": placement,
                        },
                    )
                    assert paired.status_code == 204, paired.text
                ws_messages: list[dict] = []
                ws_task = asyncio.create_task(
                    _listen(f"ws://127.0.0.1:{port}/live/ws", athlete["id"], admin, ws_messages)
                )
                started = await client.post(
                    f"/gateways/{name}/sets",
                    json={"athlete_id": athlete["id"], "variant": "back_squat", "load_kg": 70},
                )
                assert started.status_code == 201, started.text
                # A second start (another phone, a retry) does not end that set unasked: the
                # platform refuses it and the central says why.
                again = await client.post(
                    f"/gateways/{name}/sets",
                    json={"athlete_id": athlete["id"], "variant": "goblet_squat"},
                )
                assert again.status_code == 409 and "is already recording" in again.text, again.text
                row = started.json()
                assert (row["gateway_id"], row["athlete_id"], row["status"]) == (
                    name,
                    athlete["id"],
                    "recording",
                )
                sets[name] = row["id"]
                await _wait(
                    lambda set_id=row["id"]: _reps(client, set_id),
                    60,
                    f"a rep on {name} at the central",
                )
                # The platform's sensor status reaches the central store (retained up/sensors).
                status = await _wait(
                    lambda name=name: _sensors_of(client, central, name, athlete["id"]),
                    30,
                    f"{name}'s sensor status at the central",
                )
                assert {s["placement"] for s in status} == {"sacrum", "thigh"}
                assert all(s["state"] == "streaming" and s["samples"] > 0 for s in status)
                stopped = await client.post(f"/sets/{row['id']}/stop")
                assert stopped.status_code == 200 and stopped.json()["status"] == "completed"
                ws_task.cancel()
                if name == "gw-a":
                    # The coach gives her a personal baseline at the central: it follows her to
                    # B (where the live gateway judges her reps against it).
                    learnt = await client.put(
                        f"/athletes/{athlete['id']}/baseline",
                        json={"centre_deg": 4.0, "spread_deg": 1.0, "reps": 20},
                    )
                    assert learnt.status_code == 200, learnt.text
                    baseline = learnt.json()
                angles = [m for m in ws_messages if m["type"] == "live_angles"]
                assert angles and {m["athlete_id"] for m in angles} == {str(athlete["id"])}
                assert row["set_key"] in {m["set_key"] for m in angles}
            # One athlete, one history across both platforms.
            history = (await client.get("/sets", params={"athlete_id": athlete["id"]})).json()
            assert {s["gateway_id"] for s in history["items"]} == {"gw-a", "gw-b"}
            reps = (await client.get("/reps", params={"athlete_id": athlete["id"]})).json()
            assert {r["set_id"] for r in reps["items"]} == set(sets.values())
            # B judged her reps against that baseline; A (before it was set) against the default.
            by_set = {r["set_id"]: r for r in reps["items"]}
            assert by_set[sets["gw-a"]]["threshold_source"] == "default"
            on_b = by_set[sets["gw-b"]]
            assert on_b["threshold_source"] == "personal", on_b
            assert on_b["baseline_reps"] == baseline["baseline_reps"] == 20
            expected = wink_threshold(5.0, PersonalBaseline(4.0, 1.0, 20)).threshold_deg
            assert expected > 5.0 and on_b["wink_threshold_deg"] == pytest.approx(expected)
            gateways = (await client.get("/gateways")).json()
            assert {g["gateway_id"] for g in gateways if g["online"]} == {"gw-a", "gw-b"}
            stored = await asyncio.to_thread(_stored_gateways, central)
            assert stored == {"gw-a": True, "gw-b": True}
    finally:
        for _name, server, forwarder, _mover, task in edges:
            server.gateway.request_stop()
            await asyncio.wait_for(task, 30)
            server.sink.close()
            forwarder.stop(drain_s=2.0)
            server.database.dispose()
        http.should_exit = True
        await http_task
        central.hub.stop()
        central.database.dispose()


async def _sensors_of(client, central, gateway_id: str, athlete_id: int) -> list[dict]:
    """The athlete's sensors of that gateway in the central store and in /sensors/status."""
    from sqlalchemy import select

    from api.storage.models import SensorStatus

    def stored() -> set[str]:
        with central.database.sessions() as db:
            return set(
                db.scalars(
                    select(SensorStatus.address).where(
                        SensorStatus.gateway_id == gateway_id, SensorStatus.state == "streaming"
                    )
                )
            )

    addresses = await asyncio.to_thread(stored)
    listed = (await client.get("/sensors/status")).json()
    mine = [
        s
        for s in listed
        if s["athlete_id"] == str(athlete_id)
        and s["address"] in addresses
        and s["state"] == "streaming"
    ]
    return mine if len(mine) == 2 else []


def _stored_gateways(central) -> dict[str, bool]:
    from sqlalchemy import select

    from api.storage.models import GatewayStatus

    with central.database.sessions() as db:
        return {g.gateway_id: g.online for g in db.scalars(select(GatewayStatus))}


def _placement(name: str):
    from api.vocab import Placement

    return Placement(name)


async def _ok(client, path) -> bool:
    try:
        return (await client.get(path)).status_code == 200
    except httpx2.TransportError:
        return False


async def _online(client, names: set[str]) -> bool:
    gateways = (await client.get("/gateways")).json()
    return names <= {g["gateway_id"] for g in gateways if g["online"]}


async def _reps(client, set_id: int) -> bool:
    return bool((await client.get("/reps", params={"set_id": set_id})).json()["items"])


async def _listen(url: str, athlete_id: int, token: str, out: list[dict]) -> None:
    import websockets

    async with websockets.connect(f"{url}?athlete_id={athlete_id}") as ws:
        await ws.send(json.dumps({"token": token}))
        async for message in ws:
            out.append(json.loads(message))
