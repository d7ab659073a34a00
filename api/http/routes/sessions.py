"""Training sessions (a visit to the gym: several sets of one athlete)."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.http.deps import Admin, DbDep, Reader, SettingsDep
from api.http.routes.common import Cursor, IdPath, Limit, OptionalId
from api.http.schemas import Page, SessionCreate, SessionPublic
from api.storage import catalog

router = APIRouter(prefix="/sessions", tags=["sessions"])


@router.post("", response_model=SessionPublic, status_code=status.HTTP_201_CREATED)
def create_session(body: SessionCreate, settings: SettingsDep, db: DbDep, _: Admin):
    """A new session of the athlete on this gateway (409 when archived: restore them first)."""
    catalog.refuse_if_archived(db, body.athlete_id, "starting a session")
    return catalog.create_session(db, body.athlete_id, settings.gateway_id, body.notes)


@router.get("", response_model=Page[SessionPublic])
def list_sessions(
    db: DbDep, _: Reader, athlete_id: OptionalId = None, cursor: Cursor = None, limit: Limit = 100
):
    page = catalog.list_sessions(db, athlete_id, cursor, limit)
    return Page[SessionPublic](items=page.items, next_cursor=page.next_cursor)


@router.get("/{session_id}", response_model=SessionPublic)
def get_session(session_id: IdPath, db: DbDep, _: Reader):
    return catalog.get_session(db, session_id)


@router.post("/{session_id}/end", response_model=SessionPublic)
def end_session(session_id: IdPath, db: DbDep, _: Admin):
    return catalog.end_session(db, session_id)
