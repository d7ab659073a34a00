"""Map `api` exceptions (and database failures) to 4xx/503 answers with a readable detail."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from api.errors import ConflictError, InvalidInputError, NotFoundError, StorageError
from api.storage.raw_codec import RawCodecError

log = logging.getLogger(__name__)

_STATUS: dict[type[Exception], int] = {
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
    InvalidInputError: 422,
    StorageError: status.HTTP_503_SERVICE_UNAVAILABLE,
    RawCodecError: 422,
}


def install_error_handlers(app: FastAPI) -> None:
    for exc_type, code in _STATUS.items():
        app.add_exception_handler(exc_type, _handler(code))
    app.add_exception_handler(
        IntegrityError,
        _database_handler(
            status.HTTP_409_CONFLICT, "conflicts with stored data (duplicate or referenced record)"
        ),
    )
    app.add_exception_handler(
        DataError, _database_handler(422, "a value cannot be stored (out of range or bad text)")
    )
    app.add_exception_handler(
        OperationalError,
        _database_handler(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the database is unavailable; try again shortly"
        ),
    )


def _handler(code: int):
    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=code)

    return handle


def _database_handler(code: int, detail: str):
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": detail}, status_code=code)

    return handle
