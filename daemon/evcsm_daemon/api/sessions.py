"""Stored sessions: filtered, paginated listing and lookup by id."""

from typing import Annotated

from evcsm_schema import ChargingSession, SessionPage, SessionQuery
from fastapi import APIRouter, Query

from evcsm_daemon.api.deps import Service
from evcsm_daemon.api.responses import ERRORS

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


@router.get("", responses=ERRORS, response_model_exclude_none=True)
async def list_sessions(service: Service, query: Annotated[SessionQuery, Query()]) -> SessionPage:
    """Sessions newest first, filtered by charger, status and start-time range."""
    return await service.query(query)


@router.get("/{session_id}", responses=ERRORS, response_model_exclude_none=True)
async def get_session(service: Service, session_id: str) -> ChargingSession:
    """One session by its sessionId."""
    return await service.get(session_id)
