"""Who is calling: the token from the request, verified by the auth service, as an index Caller."""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from dataclasses import dataclass, field

import grpc
from fastapi import Request
from vestry.auth.v1 import auth_pb2
from vestry.index.v1 import index_pb2

from vestry.gateway.backends import Backends
from vestry.gateway.errors import translate_call_error, unauthorized
from vestry.gateway.telemetry import note_caller
from vestry.gateway.warm import Warm, snapshot, warm_of

__all__ = [
    "ANONYMOUS",
    "Identity",
    "identify",
    "kept_identity",
    "token_digest",
    "token_from_header",
    "token_from_request",
]

TOKEN_USERNAME = "__token__"  # noqa: S105 - a username, not a secret


@dataclass(frozen=True)
class Identity:
    token: str
    caller: index_pb2.Caller
    principal: auth_pb2.Principal | None
    # The caller as bytes: what a cached access decision is kept under (all it depends on).
    key: bytes = field(default=b"", compare=False)

    @property
    def authenticated(self) -> bool:
        return self.caller.authenticated


def _identity(
    token: str, caller: index_pb2.Caller, principal: auth_pb2.Principal | None
) -> Identity:
    return Identity(token, caller, principal, caller.SerializeToString(deterministic=True))


ANONYMOUS = _identity("", index_pb2.Caller(authenticated=False), None)


def token_from_request(request: Request) -> str:
    """The API token the request carries ("" for none); see `token_from_header`."""
    return token_from_header(request.headers.get("authorization", ""))


def token_from_header(header: str) -> str:
    """The API token an Authorization header carries ("" for none).

    Basic auth with username `__token__` (pip, twine, uv) or a Bearer token. Raises 401 for any
    other credential: Vestry has no passwords on the pip/twine path.
    """
    if not header:
        return ""
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise unauthorized("malformed Basic credentials") from exc
        username, sep, password = decoded.partition(":")
        if not sep:
            raise unauthorized("malformed Basic credentials")
        if username != TOKEN_USERNAME:
            raise unauthorized(
                "Vestry accepts API tokens only: use '__token__' as the username and the "
                "token as the password"
            )
        if not password:
            raise unauthorized("the password must be an API token")
        return password
    raise unauthorized("unsupported authorization scheme; use Basic with __token__ or Bearer")


def _caller(principal: auth_pb2.Principal, scope: auth_pb2.Scope) -> index_pb2.Caller:
    caller = index_pb2.Caller(
        authenticated=True,
        user_id=principal.user_id,
        username=principal.username,
        admin=principal.admin,
        token_id=principal.token_id,
    )
    for src, dst in (
        ("project_names", "token_project_names"),
        ("project_ids", "token_project_ids"),
        ("permissions", "token_permissions"),
        ("publisher_ids", "token_publisher_ids"),
    ):
        if scope.HasField(src):  # type: ignore[arg-type]
            target = getattr(caller, dst)
            target.SetInParent()
            target.values.extend(getattr(scope, src).values)
    return caller


async def identify(request: Request, backends: Backends) -> Identity:
    """Resolve the caller; anonymous when no credentials were sent.

    A credential that was sent but does not verify is a 401 with the reason, never anonymous.
    """
    token = token_from_request(request)
    if not token:
        return ANONYMOUS
    warm = warm_of(request)
    epochs = await snapshot(request)  # before VerifyToken: the answer is kept under it
    epoch = None if epochs is None else epochs.auth
    digest = token_digest(token)
    known = None if warm is None else kept_identity(warm, token, digest, epoch)
    if known is not None and known.principal is not None:
        note_caller(request, known.principal.username, known.principal.token_id)
        return known
    try:
        reply = await backends.auth.VerifyToken(
            auth_pb2.VerifyTokenRequest(token=token), timeout=backends.timeout
        )
    except grpc.aio.AioRpcError as exc:
        # Refusals are not kept: a bad token costs a call, as it always did.
        raise translate_call_error("VerifyToken", exc) from exc
    note_caller(request, reply.principal.username, reply.principal.token_id)
    who = _identity(token, _caller(reply.principal, reply.scope), reply.principal)
    if warm is not None:
        kept = (who.caller, reply.principal, who.key)
        warm.identities.put(digest, epoch, kept, _left(reply.scope))
    return who


def token_digest(token: str) -> bytes:
    """What a verified token is kept under: its digest, never the token itself."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def kept_identity(
    warm: Warm, token: str, digest: bytes, epoch: int | None, *, count_miss: bool = True
) -> Identity | None:
    """The identity verified for `token` (of `digest`) and still trusted under the auth `epoch`,
    or None: then auth must be asked."""
    kept = warm.identities.get(digest, epoch, count_miss=count_miss)
    if kept is None:
        return None
    caller, principal, key = kept
    return Identity(token, caller, principal, key)


def _left(scope: auth_pb2.Scope) -> float | None:
    """Seconds until the token's own expiry (None: it has none); a verified token is never
    reused past it, whatever the epoch says."""
    if not scope.HasField("expires"):
        return None
    return scope.expires.ToMilliseconds() / 1000 - time.time()
