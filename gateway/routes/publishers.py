"""Management API for a project's trusted publishers (`/api/v1/projects/{project}/trusted-
publishers`). Owners only; the index decides, as for every other project setting."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from vestry.index.v1 import index_pb2

from vestry.gateway.backends import backends_of
from vestry.gateway.identity import identify

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["management"])
_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"description": "Invalid publisher (the body says what to fix)"},
    401: {"description": "No or invalid API token"},
    403: {"description": "Only the project's owners manage its trusted publishers"},
    404: {"description": "No such project or publisher, or not visible to the caller"},
}


class PublisherIn(BaseModel):
    issuer: str = Field(description="github, gitlab, or a generic issuer of VESTRY_OIDC_ISSUERS")
    claims: dict[str, str] = Field(
        description="github: repository, workflow, environment (optional); gitlab: project, "
        "workflow and environment (optional); generic: claim -> required value"
    )


class PublisherOut(BaseModel):
    id: str
    project: str
    issuer: str
    claims: dict[str, str]
    created_by: str
    created: datetime | None


def _out(p: index_pb2.TrustedPublisher) -> PublisherOut:
    return PublisherOut(
        id=p.id,
        project=p.project_name,
        issuer=p.issuer,
        claims=dict(p.claims),
        created_by=p.created_by,
        created=p.created.ToDatetime() if p.created.seconds else None,
    )


@router.get(
    "/projects/{project}/trusted-publishers",
    response_model=list[PublisherOut],
    responses=_ERRORS,
)
async def list_publishers(request: Request, project: str) -> list[PublisherOut]:
    backends = backends_of(request)
    who = await identify(request, backends)
    reply = await backends.index.ListTrustedPublishers(
        index_pb2.ProjectRequest(caller=who.caller, name=project), timeout=backends.timeout
    )
    return [_out(p) for p in reply.publishers]


@router.post(
    "/projects/{project}/trusted-publishers",
    response_model=PublisherOut,
    status_code=201,
    responses=_ERRORS,
)
async def add_publisher(request: Request, project: str, body: PublisherIn) -> PublisherOut:
    backends = backends_of(request)
    who = await identify(request, backends)
    added = await backends.index.AddTrustedPublisher(
        index_pb2.AddTrustedPublisherRequest(
            caller=who.caller, project_name=project, issuer=body.issuer, claims=body.claims
        ),
        timeout=backends.timeout,
    )
    return _out(added)


@router.delete(
    "/projects/{project}/trusted-publishers/{publisher_id}", status_code=204, responses=_ERRORS
)
async def remove_publisher(request: Request, project: str, publisher_id: str) -> Response:
    """Remove a trusted publisher; the tokens it was given stop working at once."""
    backends = backends_of(request)
    who = await identify(request, backends)
    await backends.index.RemoveTrustedPublisher(
        index_pb2.RemoveTrustedPublisherRequest(
            caller=who.caller, project_name=project, publisher_id=publisher_id
        ),
        timeout=backends.timeout,
    )
    return Response(status_code=204)
