"""Map `api` exceptions (and database failures) to 4xx/503 answers with a readable detail.

Every error body is `{"detail": ...}`: a sentence for 401/403/404/409/429/503
(`ErrorPublic`), and for 422 a list of `{type, loc, msg}` problems (FastAPI's
`HTTPValidationError`), for the project's own checks as for request validation. The
validation handler never echoes an input that JSON cannot carry (NaN, a lone surrogate).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DatabaseError, DataError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from api.errors import ConflictError, InvalidInputError, NotFoundError, StorageError
from api.storage.db import is_disk_full
from api.storage.raw_codec import RawCodecError

log = logging.getLogger(__name__)

_STATUS: dict[type[Exception], int] = {
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
    StorageError: status.HTTP_503_SERVICE_UNAVAILABLE,
}
_INVALID: tuple[type[Exception], ...] = (InvalidInputError, RawCodecError)


def install_error_handlers(app: FastAPI) -> None:
    for exc_type, code in _STATUS.items():
        app.add_exception_handler(exc_type, _handler(code))
    for exc_type in _INVALID:
        app.add_exception_handler(exc_type, _invalid_input)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, _method_not_allowed)
    app.add_exception_handler(
        IntegrityError,
        _database_handler(
            status.HTTP_409_CONFLICT, "conflicts with stored data (duplicate or referenced record)"
        ),
    )
    app.add_exception_handler(
        StaleDataError,  # an UPDATE or DELETE found the row gone: a request deleted it
        _database_handler(
            status.HTTP_409_CONFLICT,
            "changed or deleted by another request at the same time: nothing of this request "
            "was stored; reload and try again",
        ),
    )
    app.add_exception_handler(DataError, _unstorable_value)
    app.add_exception_handler(OperationalError, _unavailable_handler)
    app.add_exception_handler(DatabaseError, _damaged_database_handler)


def _handler(code: int):
    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=code)

    return handle


def unavailable_detail(exc: Exception) -> str:
    """Advice for a database failure (outage, lock timeout, full disk) while writing."""
    if is_disk_full(exc):
        return (
            "the database's disk is full: nothing of this request was stored. Free disk "
            "space on the database server (old exports, logs), then retry"
        )
    return (
        "the database is unavailable: nothing of this request was stored. Check that the "
        "database server is running and retry shortly"
    )


async def _unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": unavailable_detail(exc)},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "5"},
    )


async def _damaged_database_handler(request: Request, exc: Exception) -> JSONResponse:
    """A damaged SQLite file (SQLITE_CORRUPT / NOTADB) is a 503 saying so; any other
    DatabaseError stays the server error it was."""
    from api.storage.db import damaged_sqlite_detail

    database_url = request.app.state.database.engine.url.render_as_string(hide_password=True)
    detail = damaged_sqlite_detail(exc, database_url)
    if detail is None:
        raise exc
    log.error("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": detail},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "60"},
    )


def _database_handler(code: int, detail: str):
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": detail}, status_code=code)

    return handle


def validation_body(problems: list[dict[str, Any]]) -> dict[str, Any]:
    """A 422 body in the documented shape: {"detail": [{"type", "loc", "msg"}, ...]}."""
    return {"detail": problems}


async def _invalid_input(_request: Request, exc: Exception) -> JSONResponse:
    problem = {"type": "invalid_input", "loc": [], "msg": str(exc)}
    return JSONResponse(validation_body([problem]), status_code=422)


async def _unstorable_value(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    problem = {
        "type": "unstorable_value",
        "loc": [],
        "msg": "a value cannot be stored (out of range or bad text)",
    }
    return JSONResponse(validation_body([problem]), status_code=422)


async def _request_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_clean_problem(error) for error in exc.errors()]
    return JSONResponse(validation_body(problems), status_code=422)


def _clean_problem(error: dict[str, Any]) -> dict[str, Any]:
    """One pydantic error as JSON-safe data: `input`/`ctx` kept only if JSON can carry them."""
    problem: dict[str, Any] = {
        "type": _safe_text(str(error.get("type", "invalid"))),
        "loc": [item if isinstance(item, int) else _safe_text(str(item)) for item in error["loc"]],
        "msg": _safe_text(str(error.get("msg", "invalid value"))),
    }
    for key in ("input", "ctx"):
        if key in error and _json_safe(error[key]):
            problem[key] = error[key]
    return problem


def _safe_text(text: str) -> str:
    """Text without lone surrogates (they cannot be encoded as UTF-8)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError):  # NaN/inf, objects, lone surrogates (UnicodeEncodeError)
        return False
    return True


class ErrorPublic(BaseModel):
    """An error answer: what went wrong and what to do about it."""

    detail: str


_ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "the body cannot be parsed at all (not JSON)",
    401: "missing, unknown or revoked token",
    403: "the token is read-only and this needs an admin token",
    404: "a record named in the request does not exist",
    409: "conflicts with the stored state (duplicate, already stopped, already recording)",
    429: "too many rejected tokens from this client address; wait `Retry-After` seconds",
    503: "the database is unavailable; try again shortly",
}


def documented_conflict(description: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a read that can answer 409 (`document_error_responses` gives 409 to
    changes only)."""
    return {409: {"model": ErrorPublic, "description": description}}


def document_error_responses(app: FastAPI) -> None:
    """Declare in the OpenAPI schema the error answers each operation can give: 401/429/503
    for every operation that needs a token, 403/404/409 for changes (they need an admin
    token, name records and can conflict), 404 for operations that name a record by id."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["ErrorPublic"] = (
            ErrorPublic.model_json_schema()
        )
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                for code in sorted(_error_codes(path, method, operation)):
                    operation["responses"].setdefault(
                        str(code),
                        {
                            "description": _ERROR_DESCRIPTIONS[code],
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/ErrorPublic"}
                                }
                            },
                        },
                    )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _error_codes(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    codes: set[int] = set()
    if operation.get("security"):
        codes |= {401, 429, 503}
    names_record = "{" in path or any(
        param.get("name", "").endswith("_id") for param in operation.get("parameters", [])
    )
    if names_record:
        codes.add(404)
    if method.lower() in ("post", "put", "patch", "delete"):
        codes |= {403, 404, 409}
    if "requestBody" in operation:
        codes.add(400)  # a body that is not JSON at all
    return codes


async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """405 with `Allow` listing every method of the path (the router only knows the methods
    of the one route it matched, while GET and POST of a path may be separate routes)."""
    methods = _methods_of(request.app.openapi(), request.url.path)
    return JSONResponse(
        {"detail": f"{request.method} is not allowed here; use {', '.join(methods) or 'none'}"},
        status_code=status.HTTP_405_METHOD_NOT_ALLOWED,
        headers={"Allow": ", ".join(methods)},
    )


def _methods_of(schema: dict[str, Any], path: str) -> list[str]:
    for template, operations in schema.get("paths", {}).items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return sorted(method.upper() for method in operations)
    return []
