"""Self-service API tokens: `POST/GET/DELETE /api/v1/tokens`, for a caller whose token holds
manage-tokens. The auth service decides everything (never wider than the calling token, own
tokens only); this module only translates JSON to gRPC and back.

A new token appears once, in the POST answer, marked `Cache-Control: no-store`. Nothing here
puts a token in a URL: revocation is by token ID (`vestry token revoke` derives it offline).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from google.protobuf.timestamp_pb2 import Timestamp
from packaging.utils import canonicalize_name
from pydantic import BaseModel, Field
from vestry.auth.v1 import auth_pb2
from vestry.index.v1 import index_pb2

from vestry.common.protoconv import iso_utc
from vestry.common.tokens import MAX_TIMESTAMP, TOKEN_PREFIX
from vestry.gateway.backends import Backends, backends_of
from vestry.gateway.errors import HTTPError, unauthorized
from vestry.gateway.identity import identify, token_from_request

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])
_NO_STORE = {"Cache-Control": "no-store"}


class CreateToken(BaseModel):
    name: str = Field(default="", max_length=200)
    projects: list[str] = Field(default_factory=list, max_length=100)
    permissions: list[str] = Field(default_factory=list, max_length=10)
    expires_in: int | None = Field(default=None, gt=0, description="seconds from now")


def _caller_token(request: Request) -> str:
    token = token_from_request(request)
    if not token:
        raise unauthorized("authentication required: use an API token holding manage-tokens")
    return token


def _time(ts: Timestamp, present: bool) -> str | None:
    return iso_utc(ts, fraction=False) if present else None


def scope_json(scope: auth_pb2.Scope) -> dict[str, Any]:
    def opt(field: str) -> list[str] | None:
        if not scope.HasField(field):  # type: ignore[arg-type]
            return None
        return sorted(getattr(scope, field).values)

    return {
        "projects": opt("project_names"),
        "project_ids": opt("project_ids"),
        "permissions": opt("permissions"),
        "not_before": _time(scope.not_before, scope.HasField("not_before")),
        "expires": _time(scope.expires, scope.HasField("expires")),
    }


def token_json(info: auth_pb2.TokenInfo) -> dict[str, Any]:
    """A token's listing entry: never its secret, which the server does not keep."""
    return {
        "id": info.id,
        "name": info.name,
        "created": _time(info.created, info.HasField("created")),
        "expires": _time(info.expires, info.HasField("expires")),
        "last_used": _time(info.last_used, info.HasField("last_used")),
        "scope": scope_json(info.caveats),
    }


async def _project_ids(
    request: Request, backends: Backends, names: Sequence[str]
) -> list[str] | None:
    """The IDs of the named projects when every one exists and is visible to the caller, so the
    token dies with them even if a name is later re-registered; None otherwise (a token for a
    project still to be created is bound by name alone)."""
    who = await identify(request, backends)
    ids: list[str] = []
    for name in names:
        try:
            page = await backends.index.GetProjectPage(
                index_pb2.GetProjectPageRequest(caller=who.caller, name=name),
                timeout=backends.timeout,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED):
                return None
            raise
        ids.append(page.project.id)
    return ids


@router.post("", status_code=201)
async def create_token(request: Request, body: CreateToken) -> JSONResponse:
    token = _caller_token(request)
    backends = backends_of(request)
    caveats = auth_pb2.Scope()
    names = sorted({canonicalize_name(p) for p in body.projects})
    if any(not n for n in names):
        raise HTTPError(400, "project names must not be empty")
    if names:
        caveats.project_names.values.extend(names)
        ids = await _project_ids(request, backends, names)
        if ids:
            caveats.project_ids.values.extend(ids)
    if body.permissions:
        caveats.permissions.values.extend(sorted(set(body.permissions)))
    if body.expires_in is not None:
        expires = int(time.time()) + body.expires_in
        if expires > MAX_TIMESTAMP:
            raise HTTPError(400, "expires_in is too far in the future")
        caveats.expires.FromSeconds(expires)
    reply = await backends.auth.MintToken(
        auth_pb2.MintTokenRequest(parent_token=token, name=body.name, caveats=caveats),
        timeout=backends.timeout,
    )
    return JSONResponse(
        {"token": reply.token, **token_json(reply.info)}, status_code=201, headers=_NO_STORE
    )


@router.get("")
async def list_tokens(request: Request) -> JSONResponse:
    backends = backends_of(request)
    reply = await backends.auth.ListTokens(
        auth_pb2.ListTokensRequest(caller_token=_caller_token(request)), timeout=backends.timeout
    )
    return JSONResponse(
        {"tokens": [token_json(t) for t in reply.tokens]}, headers={"Cache-Control": "private"}
    )


@router.delete("/{token_id}")
async def revoke_token(request: Request, token_id: str) -> JSONResponse:
    caller = _caller_token(request)
    if token_id.startswith(TOKEN_PREFIX):
        # The secret would now sit in proxy and server logs: refuse, and say how to do it.
        raise HTTPError(
            400,
            "revoke by token ID, not by the token itself (it does not belong in a URL); "
            "`vestry token revoke TOKEN` derives the ID locally",
        )
    backends = backends_of(request)
    reply = await backends.auth.RevokeToken(
        auth_pb2.RevokeTokenRequest(caller_token=caller, token_or_id=token_id),
        timeout=backends.timeout,
    )
    return JSONResponse({"revoked": reply.token_id})
