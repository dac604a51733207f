"""The audit log (`/api/v1/events`): who did what, when, with which token."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Query, Request
from vestry.index.v1 import index_pb2

from vestry.gateway.errors import unauthorized
from vestry.gateway.routes._common import ERRORS, ask_index, management_router, out_of, who_calls
from vestry.gateway.schemas import EventOut

__all__ = ["router"]

router = management_router()


@router.get("/events", response_model=list[EventOut], responses=ERRORS)
async def events(
    request: Request,
    project: Annotated[str, Query(description="One project's events (its owners)")] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int, Query(ge=0, description="Only events older than this id")] = 0,
) -> list[EventOut]:
    """Audit events, newest first: who did what, when, with which token. Without `project`,
    every event (administrators)."""
    backends, who = await who_calls(request)
    if not who.authenticated:
        raise unauthorized()
    msg = index_pb2.ListEventsRequest(project_name=project, limit=limit, before_id=before)
    reply = await ask_index(backends, who, "ListEvents", msg)
    return [out_of(EventOut, e, detail=json.loads(e.detail_json or "{}")) for e in reply.events]
