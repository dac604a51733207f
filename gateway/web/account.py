"""Signing in with an API token, signing out, and the token page (`/account/...`).

See gateway/web/sessions.py for what a session holds and why the cookie is worth nothing
elsewhere. The token page goes through the same code as `/api/v1/tokens`, with the session's
token standing in for the Authorization header: the auth service decides (never wider than the
session's token, own tokens only), and a revocation is refused everywhere at once.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Annotated

import grpc
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from vestry.auth.v1 import auth_pb2

from vestry.common.vocabulary import Permission, values
from vestry.gateway.backends import backends_of
from vestry.gateway.errors import HTTPError
from vestry.gateway.identity import identify
from vestry.gateway.routes import tokens as token_api
from vestry.gateway.web.context import (
    PRE_SESSION_COOKIE,
    Viewer,
    as_bearer,
    check_csrf,
    clear_session_cookie,
    set_cookie,
    signed_session_id,
    signer_of,
    store_of,
    viewer,
)
from vestry.gateway.web.render import html_page
from vestry.gateway.web.sessions import SESSION_COOKIE, Session, new_session_id

__all__ = ["router"]

router = APIRouter(prefix="/account", include_in_schema=False)
_NO_STORE = "no-store"
# The anti-forgery token every form of these pages posts back (context.check_csrf).
CsrfField = Annotated[str, Form(max_length=200)]
EXPIRIES = (
    ("86400", "1 day"),
    ("604800", "7 days"),
    ("2592000", "30 days"),
    ("7776000", "90 days"),
    ("31536000", "1 year"),
    ("", "never"),
)


def _local(next_url: str) -> str:
    """Where to go after signing in: a path on this site only (no //host, no scheme)."""
    if next_url.startswith("/") and not next_url.startswith("//") and "\\" not in next_url:
        return next_url
    return "/"


def _login_page(
    request: Request, v: Viewer, next_url: str = "/", error: str = "", status: int = 200
) -> Response:
    return html_page(
        request,
        v,
        "login.html",
        {"next": _local(next_url), "error": error},
        status=status,
        cache=_NO_STORE,
    )


@router.get("/login/")
async def login_form(request: Request, next: str = "/") -> Response:
    v = await viewer(request)
    if v.session is not None:
        return RedirectResponse(_local(next), status_code=303)
    return _login_page(request, v, next)


@router.post("/login/")
async def login(
    request: Request,
    token: Annotated[str, Form(max_length=10_000)] = "",
    csrf_token: CsrfField = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    v = await viewer(request)
    check_csrf(request, v, csrf_token)
    token = token.strip()
    if not token:
        return _login_page(request, v, next, "Paste an API token.", 400)
    backends = backends_of(request)
    try:
        who = await identify(as_bearer(request, token), backends)
    except HTTPError as exc:
        message = exc.message.removeprefix("invalid API token: ")
        return _login_page(request, v, next, f"That token was not accepted: {message}.", 401)
    settings = request.app.state.settings
    expires = time.time() + settings.session_seconds
    username = who.principal.username if who.principal else ""
    sid = new_session_id()
    if v.session_id is not None:  # a new ID at every sign-in: nothing fixed in advance
        await store_of(request).delete(v.session_id)
    sealed = signer_of(request).seal(sid, token)
    await store_of(request).put(sid, Session(sealed, username, secrets.token_urlsafe(32), expires))
    response = RedirectResponse(_local(next), status_code=303)
    set_cookie(
        request, response, SESSION_COOKIE, signed_session_id(request, sid), settings.session_seconds
    )
    response.delete_cookie(PRE_SESSION_COOKIE, path="/")
    return response


@router.post("/logout/")
async def logout(request: Request, csrf_token: CsrfField = "") -> Response:
    v = await viewer(request)
    if v.session is not None:
        check_csrf(request, v, csrf_token)
        # The session's token exists nowhere else: deleting it here ends the session for good.
        await store_of(request).delete(v.session_id or "")
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(request, response)
    return response


async def _tokens_page(
    request: Request,
    v: Viewer,
    *,
    created: dict[str, object] | None = None,
    message: str = "",
    error: str = "",
    status: int = 200,
) -> Response:
    assert v.session is not None
    backends = backends_of(request)
    listed: list[dict[str, object]] = []
    can_manage = True
    try:
        reply = await backends.auth.ListTokens(
            auth_pb2.ListTokensRequest(caller_token=v.token), timeout=backends.timeout
        )
        listed = [token_api.token_json(t) for t in reply.tokens]
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.PERMISSION_DENIED:
            raise
        can_manage = False
    context = {
        "tokens": listed,
        "can_manage": can_manage,
        "created": created,
        "message": message,
        "error": error,
        "permissions": values(Permission),
        "expiries": EXPIRIES,
    }
    return html_page(request, v, "tokens.html", context, status=status, cache=_NO_STORE)


# What auth answers to a token request it refuses: shown on the page, in its own words.
_REFUSALS = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.NOT_FOUND,
)


async def _refused(request: Request, v: Viewer, exc: grpc.aio.AioRpcError) -> Response:
    if exc.code() not in _REFUSALS:
        raise exc
    return await _tokens_page(request, v, error=exc.details() or "refused", status=400)


async def _signed_in(request: Request, csrf_token: str | None = None) -> Viewer | Response:
    """The signed-in viewer of a page, with a posted form's anti-forgery token checked; for
    anyone not signed in, the redirect to sign in first (and back here after)."""
    v = await viewer(request)
    if v.session is None:
        return RedirectResponse(f"/account/login/?next={request.url.path}", status_code=303)
    if csrf_token is not None:
        check_csrf(request, v, csrf_token)
    return v


@router.get("/tokens/")
async def tokens_page(request: Request) -> Response:
    v = await _signed_in(request)
    if isinstance(v, Response):
        return v
    return await _tokens_page(request, v)


@router.post("/tokens/")
async def create_token(
    request: Request,
    csrf_token: CsrfField = "",
    name: Annotated[str, Form(max_length=200)] = "",
    projects: Annotated[str, Form(max_length=10_000)] = "",
    permissions: Annotated[list[str] | None, Form()] = None,
    expires: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    v = await _signed_in(request, csrf_token)
    if isinstance(v, Response):
        return v
    try:
        body = token_api.CreateToken(
            name=name.strip(),
            projects=[p.strip() for p in projects.replace(",", " ").split() if p.strip()],
            permissions=permissions or [],
            expires_in=int(expires) if expires.strip() else None,
        )
    except (ValidationError, ValueError):
        error = "Check the form: a value is invalid."
        return await _tokens_page(request, v, error=error, status=400)
    try:
        answer = await token_api.create_token(as_bearer(request, v.token), body)
    except HTTPError as exc:
        return await _tokens_page(request, v, error=exc.message, status=exc.status)
    except grpc.aio.AioRpcError as exc:
        return await _refused(request, v, exc)
    created = json.loads(bytes(answer.body))
    return await _tokens_page(request, v, created=created)


@router.post("/tokens/revoke/")
async def revoke_token(
    request: Request,
    csrf_token: CsrfField = "",
    token_id: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    v = await _signed_in(request, csrf_token)
    if isinstance(v, Response):
        return v
    backends = backends_of(request)
    try:
        reply = await backends.auth.RevokeToken(
            auth_pb2.RevokeTokenRequest(caller_token=v.token, token_or_id=token_id),
            timeout=backends.timeout,
        )
    except grpc.aio.AioRpcError as exc:
        return await _refused(request, v, exc)
    v = await viewer(request)  # revoking the token that signed in ends this session too
    if v.session is None:
        response = RedirectResponse("/account/login/", status_code=303)
        clear_session_cookie(request, response)
        return response
    return await _tokens_page(request, v, message=f"Token {reply.token_id} revoked.")
