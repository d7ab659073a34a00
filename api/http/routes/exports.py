"""CSV export, streamed: reps (the `winkwatch analyze` columns + ids) and raw samples."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.errors import NotFoundError, WinkWatchError
from api.export import iter_raw_csv, iter_raw_zip
from api.http.deps import DatabaseDep, Reader, bearer_secret, principal_cached
from api.http.routes.common import IdPath, OptionalId, Since, Until, as_utc
from api.rep_export import iter_reps_csv
from api.storage import sets as set_store
from api.storage.db import Database, read_one_snapshot
from api.storage.reps import RepFilter
from api.vocab import Placement, SetVariant

router = APIRouter(tags=["export"])
log = logging.getLogger(__name__)

StillAllowed = Callable[[], Awaitable[bool]]


class _TokenRevoked(WinkWatchError):
    """The export's token was revoked while it streamed."""


def token_still_valid(request: Request, database: Database) -> StillAllowed:
    """Whether the request's token is still valid now, through the token cache (at most one
    database look-up per `TOKEN_CACHE_TTL_S`, as the live streams check theirs). A database
    that cannot be asked lets the export go on: its own next read says so."""
    secret = bearer_secret(request) or ""  # Reader has checked it

    async def still_valid() -> bool:
        try:
            return await principal_cached(request.app, database, secret) is not None
        except Exception:
            log.warning("cannot check an export's token; checking again at its next batch")
            return True

    return still_valid


def _streamed(database: Database, produce, *, snapshot: bool = False) -> Generator:
    """Run `produce(db)` in its own session, open for as long as the client reads;
    `snapshot`: every read of it sees the database as at its first (`read_one_snapshot`)."""
    with database.sessions() as db:
        if snapshot:
            read_one_snapshot(db)
        yield from produce(db)


def _next_bytes(chunks: Iterator[str | bytes]) -> bytes | None:
    """The next chunk as UTF-8 bytes (in the worker thread, not on the event loop), or None."""
    chunk = next(chunks, None)
    return chunk.encode("utf-8") if isinstance(chunk, str) else chunk


class ClosingStreamingResponse(StreamingResponse):
    """A StreamingResponse of a generator read in worker threads, as Starlette reads any
    synchronous iterator, that closes the generator (in a worker thread too, as its clean-up
    waits for the database) whenever the response ends: sent in full, failed, the client
    gone, or its token revoked. Starlette's own reading leaves a generator it was cut off from
    to the garbage collector, so an export whose client disconnected held its session (and on
    PostgreSQL its COPY connections) until then, and its clean-up could run on the event loop.
    Once the disconnect is seen no further chunk is read: the one being read (one batch, read
    whole by one statement in a worker thread) is waited for, then the generator is closed.

    `still_allowed` is asked after each chunk is sent, before the next is read: once it says
    no (the token was revoked), no further chunk is read and the response is left incomplete,
    so the server closes the connection and the client sees a download cut short (httpx:
    RemoteProtocolError "incomplete chunked read"; a browser: a failed download), never a
    shorter CSV that looks whole."""

    def __init__(
        self,
        chunks: Generator[str | bytes, None, None],
        *,
        still_allowed: StillAllowed | None = None,
        **kwargs,
    ) -> None:
        self._chunks = chunks
        self._still_allowed = still_allowed
        super().__init__(self._read(), **kwargs)

    async def _read(self) -> AsyncIterator[bytes]:
        while (chunk := await anyio.to_thread.run_sync(_next_bytes, self._chunks)) is not None:
            yield chunk
            if self._still_allowed is not None and not await self._still_allowed():
                raise _TokenRevoked

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except _TokenRevoked:
            log.warning(
                "%s ended before its end: its token was revoked (the download is incomplete)",
                scope.get("path", "an export"),
            )
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._chunks.close)


def _check_set(database: Database, set_id: int, placement: Placement | None = None) -> None:
    with database.sessions() as db:
        set_store.get_set(db, set_id)
        if placement is not None and placement not in set_store.raw_placements(db, set_id):
            raise NotFoundError(f"raw {placement.value} samples of set", set_id)


@router.get(
    "/export/reps.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_reps(
    request: Request,
    database: DatabaseDep,
    _: Reader,
    athlete_id: OptionalId = None,
    set_id: OptionalId = None,
    session_id: OptionalId = None,
    variant: SetVariant | None = None,
    flagged: bool | None = Query(None),
    since: Since = None,
    until: Until = None,
):
    """Reps of a set, a session or an athlete over a date range, oldest first."""
    where = RepFilter(  # InvalidInputError (422) now, not mid-stream
        athlete_id=athlete_id,
        set_id=set_id,
        session_id=session_id,
        variant=variant,
        butt_wink=flagged,
        since=as_utc(since, "since"),
        until=as_utc(until, "until"),
    )
    return ClosingStreamingResponse(
        _streamed(database, lambda db: iter_reps_csv(db, where)),
        still_allowed=token_still_valid(request, database),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="reps.csv"'},
    )


@router.get(
    "/sets/{set_id}/raw.zip",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
def export_raw_zip(set_id: IdPath, request: Request, database: DatabaseDep, _: Reader):
    """Raw samples of every sensor of the set, one raw-recording CSV per sensor, zipped."""
    _check_set(database, set_id)
    return ClosingStreamingResponse(
        _streamed(database, lambda db: iter_raw_zip(db, set_id), snapshot=True),
        still_allowed=token_still_valid(request, database),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="set{set_id}_raw.zip"'},
    )


@router.get(
    "/sets/{set_id}/raw/{placement}.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_raw_csv(
    set_id: IdPath, placement: Placement, request: Request, database: DatabaseDep, _: Reader
):
    """Raw samples of one sensor of the set in the raw-recording CSV format (`winkwatch analyze` input)."""
    _check_set(database, set_id, placement)
    return ClosingStreamingResponse(
        _streamed(database, lambda db: iter_raw_csv(db, set_id, placement), snapshot=True),
        still_allowed=token_still_valid(request, database),
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="set{set_id}_{placement.value}.csv"'
        },
    )
