"""Trusted publishing at PyPI's endpoints (`/_/oidc/...`), byte-compatible with what uv,
pypa/gh-action-pypi-publish and pdm expect.

`audience` tells the CI job which `aud` to request; `mint-token` exchanges its OIDC token for a
15-minute upload token (auth verifies the JWT, the index matches the claims to a project's
trusted publisher, auth mints); `burn-token` revokes such a token when the job is done.
Failures have PyPI's shape: 422 with `{"message": ..., "errors": [{"code", "description"}]}`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from vestry.auth.v1 import auth_pb2
from vestry.index.v1 import index_pb2

from vestry.gateway.backends import backends_of

__all__ = ["router"]

router = APIRouter(prefix="/_/oidc", tags=["trusted publishing"])
log = logging.getLogger(__name__)
_MAX_BODY = 64 * 1024

# PyPI's error codes, by the gRPC status of the step that failed.
_TOKEN_CODES = {
    grpc.StatusCode.UNAUTHENTICATED: "invalid-token",
    grpc.StatusCode.INVALID_ARGUMENT: "invalid-token",
    grpc.StatusCode.ALREADY_EXISTS: "invalid-reuse-token",
    grpc.StatusCode.PERMISSION_DENIED: "invalid-publisher",
}


def _failed(code: str, description: str, status: int = 422) -> JSONResponse:
    return JSONResponse(
        {"message": "Token request failed", "errors": [{"code": code, "description": description}]},
        status_code=status,
    )


async def _token_field(request: Request) -> str | JSONResponse:
    body = await request.body()
    if len(body) > _MAX_BODY:
        return _failed("invalid-payload", "the request body is too large")
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return _failed("invalid-payload", "the request body is not JSON")
    token = payload.get("token") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token:
        return _failed("invalid-payload", "the request body has no 'token' string")
    return token


def _takes_token(
    handler: Callable[[Request, str], Awaitable[JSONResponse]],
) -> Callable[[Request], Awaitable[JSONResponse]]:
    """The endpoint for `handler`: the body's token read first, a bad body answered in PyPI's
    shape. Not functools.wraps: FastAPI would follow __wrapped__ and take `token` for a query
    parameter; only the name (the route's) is carried over."""

    async def endpoint(request: Request) -> JSONResponse:
        token = await _token_field(request)
        if isinstance(token, JSONResponse):
            return token
        return await handler(request, token)

    endpoint.__name__ = endpoint.__qualname__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


@router.get("/audience")
async def audience(request: Request) -> JSONResponse:
    return JSONResponse({"audience": request.app.state.settings.oidc_audience})


@router.post("/mint-token")
@_takes_token
async def mint_token(request: Request, token: str) -> JSONResponse:
    backends = backends_of(request)
    step = "verify"
    try:
        verified = await backends.auth.VerifyOidcToken(
            auth_pb2.VerifyOidcTokenRequest(token=token), timeout=backends.timeout
        )
        step = "match"
        matched = await backends.index.MatchTrustedPublishers(
            index_pb2.MatchTrustedPublishersRequest(
                issuer=verified.issuer, claims_json=verified.claims_json
            ),
            timeout=backends.timeout,
        )
        step = "mint"
        minted = await backends.auth.MintPublisherToken(
            auth_pb2.MintPublisherTokenRequest(
                oidc_token=token,
                grants=[
                    auth_pb2.PublisherGrant(
                        publisher_id=m.publisher_id,
                        project_id=m.project_id,
                        project_name=m.project_name,
                    )
                    for m in matched.matches
                ],
                # The token belongs to whoever added the first matching publisher; what it may
                # do is the publishers', not that user's (see the index's access rules).
                user_id=matched.matches[0].created_by_id,
            ),
            timeout=backends.timeout,
        )
    except grpc.aio.AioRpcError as exc:
        code = exc.code()
        if step == "match" and code == grpc.StatusCode.NOT_FOUND:
            return _failed(
                "invalid-publisher",
                f"valid token, but no corresponding publisher ({exc.details()})",
            )
        if code in _TOKEN_CODES:
            log.info("trusted publishing refused at %s: %s", step, exc.details())
            return _failed(_TOKEN_CODES[code], exc.details() or "the token was refused")
        raise
    return JSONResponse(
        {"success": True, "token": minted.token, "expires": minted.info.expires.seconds}
    )


@router.post("/burn-token")
@_takes_token
async def burn_token(request: Request, token: str) -> JSONResponse:
    backends = backends_of(request)
    try:
        await backends.auth.BurnPublisherToken(
            auth_pb2.BurnPublisherTokenRequest(token=token), timeout=backends.timeout
        )
    except grpc.aio.AioRpcError as exc:
        # As PyPI: 202 whether or not there was a token to burn, so the answer is no oracle.
        if exc.code() not in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            raise
    return JSONResponse({"success": True}, status_code=202)
