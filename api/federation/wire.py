"""Gateway events back from their JSON form (`sensor_gateway.events.event_to_dict`), and
`decode_payload`: any message's JSON, or a FederationError saying why it is none.

The central server relays live events of the edges onto its own event bus, so its live
streams and dashboard work exactly as on a single gateway. `event_from_dict` is the inverse
of `event_to_dict` for every event type (enums, datetimes, SetInfo, RepMetrics, None/NaN).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import types
import typing
from datetime import datetime
from functools import cache
from typing import Any

from api.federation.errors import FederationError
from fusion.types import RepMetrics
from sensor_gateway.events import _WIRE_NAMES, GatewayEvent

_BY_WIRE_NAME: dict[str, type[GatewayEvent]] = {name: cls for cls, name in _WIRE_NAMES.items()}


def decode_payload(payload: bytes | bytearray) -> Any:
    """The JSON value of a message's payload; FederationError (bad input: refuse the message,
    nothing to retry) when it is none: not UTF-8, not JSON, or nested too deeply to parse
    (json.loads raises RecursionError there, not ValueError)."""
    try:
        return json.loads(payload)
    except RecursionError:
        raise FederationError("not usable JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise FederationError(f"not JSON ({exc})") from None


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def event_from_dict(data: dict[str, Any], **overrides: Any) -> GatewayEvent:
    """The event `data` describes (`overrides` replace fields, e.g. a mapped athlete_id)."""
    try:
        cls = _BY_WIRE_NAME[data["type"]]
    except (KeyError, TypeError):
        raise FederationError(f"not a gateway event: type {data.get('type')!r}") from None
    try:
        event: GatewayEvent = _build(cls, {**data, **overrides})
        return event
    except (TypeError, ValueError, KeyError) as exc:
        raise FederationError(f"malformed {data['type']} event: {exc}") from exc


def _build(cls: type, data: dict[str, Any]) -> Any:
    hints = _hints(cls)
    kwargs = {
        f.name: _value(hints[f.name], data[f.name])
        for f in dataclasses.fields(cls)
        if f.name in data
    }
    return cls(**kwargs)


def _value(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _value(options[0], value)
    if hint is RepMetrics:
        row = dict(value)
        row["quality"] = tuple(row.get("quality") or ())
        row["butt_wink"] = bool(row["butt_wink"])
        row["loaded_wink"] = bool(row["loaded_wink"])
        for key in ("wink_deg", "depth_deg", "hip_flexion_max_deg"):
            if row.get(key) is None:
                row[key] = math.nan
        return _build(RepMetrics, row)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is float:
        return math.nan if value is None else float(value)
    if origin is tuple:
        return tuple(value)
    return value
