"""MQTT topics. Every gateway `G` publishes only under `winkwatch/v1/gw/G/up/` and reads only
`winkwatch/v1/gw/G/down/`; the broker's ACL (`pattern ... %u`) enforces it with the gateway
id as MQTT username, so one gateway cannot publish as another.

| topic | from -> to | QoS | retained | payload (JSON) |
| --- | --- | --- | --- | --- |
| `.../G/up/status` | edge -> central | 1 | yes | `{"online", "gateway_id", "origin", "since_utc", "at_utc"}`; last will `online: false` |
| `.../G/up/sensors` | edge -> central | 1 | yes | `{"gateway_id", "at_utc", "sensors": [...]}`: link state, battery, gaps, drift of each sensor |
| `.../G/up/data` | edge -> central | 1 | no | a batch of outbox changes `{"origin", "prev_seq", "seq", "changes"}` |
| `.../G/up/live` | edge -> central | 0 | no | a live gateway event (`event_to_dict`) plus `athlete_uid` |
| `.../G/up/reply` | edge -> central | 1 | no | `{"id", "ok", "detail", ...}`, the answer to a command |
| `.../G/up/query` | edge -> central | 1 | no | `{"id", "question": "streaming_gateway", "address"}` before a pairing on the edge's own API (expires after 3 s) |
| `.../G/down/ack` | central -> edge | 1 | yes | `{"origin", "seq"}`: every change up to `seq` is stored centrally |
| `.../G/down/cmd` | central -> edge | 1 | no | `{"id", "action", "expires_utc", ...}` (expires after 10 s) |
| `.../G/down/answer` | central -> edge | 1 | no | `{"id", "ok", "streaming_on"}`: the online gateway other than G streaming that sensor, or null |
| `.../G/down/profile/U` | central -> edge | 1 | yes | athlete `U`'s profile: baseline, segment lengths, prescription; once she is deleted centrally `{"uid", "deleted": true, "delete_sets"}` until G deleted her, then cleared (empty) |
"""

from __future__ import annotations

import re

from api.federation.errors import FederationError

PREFIX = "winkwatch/v1/gw"
ALL_UP = f"{PREFIX}/+/up/#"
_GATEWAY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_gateway_id(gateway_id: str) -> str:
    """`gateway_id` if it can be an MQTT username and a topic level, else FederationError."""
    if not _GATEWAY_ID.match(gateway_id):
        raise FederationError(
            f"gateway id {gateway_id!r} cannot name MQTT topics: use 1-64 letters, digits, "
            "'.', '_' or '-' (set WINKWATCH_GATEWAY_ID)"
        )
    return gateway_id


def up(gateway_id: str, kind: str) -> str:
    return f"{PREFIX}/{gateway_id}/up/{kind}"


def down(gateway_id: str, kind: str) -> str:
    return f"{PREFIX}/{gateway_id}/down/{kind}"


def profile(gateway_id: str, athlete_uid: str) -> str:
    return down(gateway_id, f"profile/{athlete_uid}")


def parse(topic: str) -> tuple[str, str, str] | None:
    """(gateway id, 'up' or 'down', kind) of a WinkWatch topic, or None; the kind of
    `.../down/profile/U` is `profile/U`."""
    parts = topic.split("/")
    if len(parts) not in (6, 7) or "/".join(parts[:3]) != PREFIX or parts[4] not in ("up", "down"):
        return None
    if len(parts) == 7 and parts[5] != "profile":
        return None
    return parts[3], parts[4], "/".join(parts[5:])
