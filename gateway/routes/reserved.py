"""Reserved names (`/api/v1/reserved`, administrators): a name or prefix kept for an
organisation, so that nobody else may create such a project."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Request
from fastapi.responses import Response
from vestry.index.v1 import index_pb2

from vestry.gateway.routes._common import ERRORS, index_call, management_router, no_content, out_of
from vestry.gateway.schemas import ReservedOut, ReserveIn

__all__ = ["router"]

router = management_router()


@router.get("/reserved", response_model=list[ReservedOut], responses=ERRORS)
async def list_reserved(request: Request) -> list[ReservedOut]:
    reply = await index_call(request, "ListReservedNames", index_pb2.ListReservedNamesRequest())
    return [out_of(ReservedOut, r) for r in reply.names]


@router.post("/reserved", response_model=ReservedOut, status_code=201, responses=ERRORS)
async def reserve(request: Request, body: Annotated[ReserveIn, Body()]) -> ReservedOut:
    """Reserve a name or prefix for an organisation: nobody else may create such a project."""
    msg = index_pb2.ReserveNameRequest(pattern=body.pattern, organization=body.organization)
    reply = await index_call(request, "ReserveName", msg)
    return out_of(ReservedOut, reply)


@router.delete("/reserved/{pattern}", status_code=204, responses=ERRORS)
async def unreserve(request: Request, pattern: str) -> Response:
    return await no_content(request, "UnreserveName", index_pb2.ReserveNameRequest(pattern=pattern))
