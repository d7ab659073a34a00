"""`LeanRoute`: an APIRoute that answers its common requests without FastAPI's per-request
dependency solving, and hands every other request to FastAPI's own handler.

FastAPI solves a route's dependencies afresh for every request: it walks the dependency
tree, and for each query parameter re-derives from its annotation whether it is a
sequence, a parameter model or has aliases before validating it. For the rep list (two
dependencies, ten query parameters) that bookkeeping costs more CPU than writing the page's
JSON. A `LeanRoute` works the plan out once, when the route is built:

- each dependency must have a fast resolver (`fast_resolver`): an `async def` of the
  connection that returns the dependency's value or raises `Decline` when it cannot tell
  (for auth: an unknown, uncached or missing token, a blocked client);
- each query parameter must be a plain scalar (no parameter model, no sequence, no
  validation alias); present values are validated by FastAPI's own field for it (the same
  pydantic validator), absent ones take their (immutable) default;
- the endpoint must be `async def` and return a `Response`; it takes no other parameters.

At request time a decline, any validation error, a required parameter that is missing,
dependency overrides or FastAPI's telemetry send the request through FastAPI's ordinary
handler, which answers exactly as it would without `LeanRoute` (the same 401, 429 and 422
bodies: the lean path never answers an error itself). A route the plan does not fit is an
ordinary APIRoute.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qsl

import fastapi.routing as fastapi_routing
from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from api.errors import WinkWatchError

try:  # FastAPI >= 0.130: per-request telemetry data (None unless telemetry is on)
    from fastapi.telemetry import get_telemetry_data
except ImportError:  # pragma: no cover - older FastAPI has no telemetry

    def get_telemetry_data(context: Any = None) -> Any:  # type: ignore[misc]
        return None


class Decline(WinkWatchError):
    """A fast resolver cannot give the dependency's value: FastAPI's handler will."""


FastResolver = Callable[[HTTPConnection], Awaitable[Any]]
_FAST_RESOLVERS: dict[Callable[..., Any], FastResolver] = {}

# Defaults the lean path hands out as they are (FastAPI deep-copies a default).
_IMMUTABLE_DEFAULTS = (type(None), bool, int, float, str, bytes)
_SCALARS = (bool, int, float, str, datetime, date, time, timedelta, type(None))


def fast_resolver(dependency: Callable[..., Any]) -> Callable[[FastResolver], FastResolver]:
    """Register the decorated `async def (connection)` as `dependency`'s fast resolver: it
    must return what `dependency` would for that request, or raise `Decline`, and must have
    no side effect that the dependency would not have (a declined request is solved again
    by FastAPI)."""

    def register(resolver: FastResolver) -> FastResolver:
        if not inspect.iscoroutinefunction(resolver):
            raise TypeError(f"fast resolver {resolver.__qualname__} must be `async def`")
        _FAST_RESOLVERS[dependency] = resolver
        return resolver

    return register


@dataclass(frozen=True)
class _QueryParam:
    name: str  # the endpoint's argument
    key: str  # the query string's
    default: Any
    required: bool
    validate: Callable[..., tuple[Any, list[Any]]]  # FastAPI's ModelField.validate


@dataclass(frozen=True)
class LeanPlan:
    """How a request is answered without solving dependencies (see the module doc)."""

    endpoint: Callable[..., Coroutine[Any, Any, Any]]
    dependencies: tuple[tuple[str, FastResolver], ...]  # (argument, resolver)
    query: tuple[_QueryParam, ...]

    async def values(self, request: Request) -> dict[str, Any] | None:
        """The endpoint's arguments for this request, or None where FastAPI must answer."""
        values: dict[str, Any] = {}
        try:
            for name, resolve in self.dependencies:
                values[name] = await resolve(request)
        except Decline:
            return None
        received = query_values(request)
        for param in self.query:
            raw = received.get(param.key)
            if raw is None:
                if param.required:
                    return None
                values[param.name] = param.default
                continue
            value, errors = param.validate(raw, values, loc=("query", param.key))
            if errors:
                return None
            values[param.name] = value
        return values


def query_values(connection: HTTPConnection) -> dict[str, str]:
    """The query string's values by name, the last of a repeated name: what FastAPI's
    `request.query_params.get(name)` gives a scalar parameter. Starlette builds its
    multidict with `parse_qsl` and then looks each absent name up through `Mapping.get`
    (a KeyError caught per name): ~0.05 ms for the rep list's ten parameters. A string
    without escapes ('%', '+') is split directly, which is what `parse_qsl` does with it
    (pairs split on '&', empty ones skipped, a name without '=' has the value '')."""
    raw = connection.scope["query_string"]
    if b"%" in raw or b"+" in raw:
        return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
    values: dict[str, str] = {}
    for pair in raw.decode("latin-1").split("&"):
        if pair:
            name, _, value = pair.partition("=")
            values[name] = value
    return values


def lean_plan(dependant: Dependant) -> LeanPlan | None:
    """The plan for a route with this dependant, or None where it does not fit."""
    call = dependant.call
    if call is None or not inspect.iscoroutinefunction(call):
        return None
    if (
        dependant.path_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.request_param_name
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
    ):
        return None
    dependencies = []
    for sub in dependant.dependencies:
        resolver = _FAST_RESOLVERS.get(sub.call) if sub.call is not None else None
        if resolver is None or sub.name is None:
            return None  # includes unnamed `dependencies=[...]`: they may have effects
        dependencies.append((sub.name, resolver))
    query = []
    for field in dependant.query_params:
        info = field.field_info
        if (
            not isinstance(info, params.Query)
            or info.validation_alias is not None
            or not (info.is_required() or isinstance(field.default, _IMMUTABLE_DEFAULTS))
            or getattr(info, "validate_default", None)
            or _is_sequence_or_model(info.annotation)
        ):
            return None
        query.append(
            _QueryParam(
                name=field.name,
                key=field.alias,
                default=field.default,
                required=info.is_required(),
                validate=field.validate,
            )
        )
    return LeanPlan(endpoint=call, dependencies=tuple(dependencies), query=tuple(query))


def _is_sequence_or_model(annotation: Any) -> bool:
    """Conservatively: anything but a plain scalar, an Enum, or a union of those."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_sequence_or_model(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_sequence_or_model(arg) for arg in typing.get_args(annotation))
    if origin is not None:
        return True
    return not (
        annotation in _SCALARS
        or (isinstance(annotation, type) and issubclass(annotation, enum.Enum))
    )


def _route_dependant(route: APIRoute) -> Dependant | None:
    """The dependant FastAPI's handler for `route` is being built with: that of the route as
    included (with the including routers' dependencies) where FastAPI keeps included routes
    as contexts of the original (0.130+), else the route's own (older FastAPI copies each
    included route with the including routers' dependencies)."""
    context_var = getattr(fastapi_routing, "_effective_route_context_var", None)
    if context_var is None:
        if hasattr(fastapi_routing, "_EffectiveRouteContext"):
            return None  # contexts without the variable: cannot tell which dependant
        return route.dependant
    context = context_var.get()
    if context is not None and context.original_route is route:
        return context.dependant
    return route.dependant


class LeanRoute(APIRoute):
    """An APIRoute with the lean path of the module doc wherever its plan fits."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        generic = super().get_route_handler()
        try:
            dependant = _route_dependant(self)
            plan = lean_plan(dependant) if dependant is not None else None
        except (AttributeError, TypeError):  # a FastAPI whose internals moved: the plain route
            plan = None
        if plan is None:
            return generic
        self.lean_plan = plan  # for tests: this route answers its common requests lean
        endpoint = plan.endpoint

        async def handle(request: Request) -> Response:
            if request.app.dependency_overrides or get_telemetry_data() is not None:
                return await generic(request)
            values = await plan.values(request)
            if values is None:
                return await generic(request)
            response = await endpoint(**values)
            if not isinstance(response, Response):
                raise TypeError(
                    f"{endpoint.__qualname__} is a LeanRoute endpoint: it must return a "
                    f"Response, not {type(response).__name__}"
                )
            return response

        return handle
