"""Management API for a project's trusted publishers (`/api/v1/projects/{project}/trusted-
publishers`). Owners only; the index decides, as for every other project setting."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from vestry.index.v1 import index_pb2

from vestry.gateway.routes._common import ERRORS, index_call, management_router, no_content, out_of
from vestry.gateway.schemas import PublisherIn, PublisherOut

__all__ = ["router"]

router = management_router()
_ERRORS: dict[int | str, dict[str, object]] = {
    **ERRORS,
    400: {"description": "Invalid publisher (the body says what to fix)"},
    403: {"description": "Only the project's owners manage its trusted publishers"},
    404: {"description": "No such project or publisher, or not visible to the caller"},
}


def _out(p: index_pb2.TrustedPublisher) -> PublisherOut:
    return out_of(PublisherOut, p, project=p.project_name)


@router.get(
    "/projects/{project}/trusted-publishers",
    response_model=list[PublisherOut],
    responses=_ERRORS,
)
async def list_publishers(request: Request, project: str) -> list[PublisherOut]:
    msg = index_pb2.ProjectRequest(name=project)
    reply = await index_call(request, "ListTrustedPublishers", msg)
    return [_out(p) for p in reply.publishers]


@router.post(
    "/projects/{project}/trusted-publishers",
    response_model=PublisherOut,
    status_code=201,
    responses=_ERRORS,
)
async def add_publisher(request: Request, project: str, body: PublisherIn) -> PublisherOut:
    msg = index_pb2.AddTrustedPublisherRequest(
        project_name=project, issuer=body.issuer, claims=body.claims
    )
    added = await index_call(request, "AddTrustedPublisher", msg)
    return _out(added)


@router.delete(
    "/projects/{project}/trusted-publishers/{publisher_id}", status_code=204, responses=_ERRORS
)
async def remove_publisher(request: Request, project: str, publisher_id: str) -> Response:
    """Remove a trusted publisher; the tokens it was given stop working at once."""
    msg = index_pb2.RemoveTrustedPublisherRequest(project_name=project, publisher_id=publisher_id)
    return await no_content(request, "RemoveTrustedPublisher", msg)
