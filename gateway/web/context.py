"""Who is looking at a page, and the anti-forgery token of its forms.

A signed-in browser's session stands in for an `Authorization: Bearer` header: the page is
served exactly as the API would serve a request carrying the session's token, through the same
`identify` and the same index calls, so the index decides access for the UI as for pip. Without
a session, an Authorization header works too (curl against the pages).

Anti-forgery: a signed-in form carries the session's CSRF token; the sign-in form, before any
session exists, carries an HMAC of a random ID kept in a short-lived signed cookie. Every POST
is checked against one of them, and against its Origin when the browser sends one. The cookies
are SameSite=Strict besides.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from vestry.gateway.backends import backends_of
from vestry.gateway.errors import HTTPError
from vestry.gateway.identity import Identity, identify
from vestry.gateway.web.sessions import SESSION_COOKIE, Session, SessionStore, Signer

__all__ = [
    "PRE_SESSION_COOKIE",
    "Viewer",
    "as_bearer",
    "check_csrf",
    "clear_session_cookie",
    "csrf_token",
    "set_cookie",
    "signed_session_id",
    "signer_of",
    "store_of",
    "viewer",
]

PRE_SESSION_COOKIE = "vestry_csrf"
_SESSION_PURPOSE = "session"
_PRE_PURPOSE = "pre-session"


@dataclass
class Viewer:
    who: Identity
    session: Session | None
    session_id: str | None
    token: str = ""  # the session's token, opened for this request only
    # The cookie named a session that has ended: the answer clears it.
    stale_cookie: bool = False

    @property
    def username(self) -> str:
        return self.who.principal.username if self.who.principal else ""


def signer_of(request: Request) -> Signer:
    signer: Signer = request.app.state.web_signer
    return signer


def store_of(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.web_sessions
    return store


def as_bearer(request: Request, token: str) -> Request:
    """The same request, as if it carried `Authorization: Bearer <token>`."""
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
    headers.append((b"authorization", f"Bearer {token}".encode()))
    return Request({**request.scope, "headers": headers}, request.receive)


async def viewer(request: Request) -> Viewer:
    backends = backends_of(request)
    sid = signer_of(request).unsign(_SESSION_PURPOSE, request.cookies.get(SESSION_COOKIE))
    if sid is not None:
        session = await store_of(request).get(sid)
        token = signer_of(request).open(sid, session.sealed_token) if session else None
        if session is not None and token is not None:
            try:
                who = await identify(as_bearer(request, token), backends)
            except HTTPError as exc:
                if exc.status != 401:
                    raise
                # The token that signed in was revoked, or its user disabled: signed out.
                await store_of(request).delete(sid)
            else:
                return Viewer(who, session, sid, token)
    stale = SESSION_COOKIE in request.cookies
    return Viewer(await identify(request, backends), None, None, stale_cookie=stale)


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def signed_session_id(request: Request, sid: str) -> str:
    return signer_of(request).sign(_SESSION_PURPOSE, sid)


def csrf_token(request: Request, v: Viewer) -> tuple[str, str | None]:
    """The token this viewer's forms carry, and the pre-session cookie value to set when the
    request has none (no session yet)."""
    if v.session is not None:
        return v.session.csrf, None
    signer = signer_of(request)
    pre = signer.unsign(_PRE_PURPOSE, request.cookies.get(PRE_SESSION_COOKIE))
    cookie = None
    if pre is None:
        pre = secrets.token_urlsafe(24)
        cookie = signer.sign(_PRE_PURPOSE, pre)
    return signer.mac("csrf", pre), cookie


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # not sent by every client; the token below still has to match
        return True
    return origin == f"{request.url.scheme}://{request.url.netloc}"


def check_csrf(request: Request, v: Viewer, submitted: str) -> None:
    """Raise 403 unless `submitted` is this viewer's anti-forgery token and the form came from
    this origin."""
    if not _same_origin(request):
        raise HTTPError(403, "this form was sent from another site; reload the page and retry")
    if v.session is not None:
        expected = v.session.csrf
    else:
        pre = signer_of(request).unsign(_PRE_PURPOSE, request.cookies.get(PRE_SESSION_COOKIE))
        if pre is None:
            raise HTTPError(403, "the form has expired; reload the page and try again")
        expected = signer_of(request).mac("csrf", pre)
    if not submitted or not hmac.compare_digest(submitted, expected):
        raise HTTPError(403, "the form's security token is missing or wrong; reload the page")


def session_expiry(seconds: int) -> float:
    return time.time() + seconds
