"""Who is calling: the token from the request, verified by the auth service, as an index Caller."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import grpc
from fastapi import Request
from vestry.auth.v1 import auth_pb2
from vestry.index.v1 import index_pb2

from vestry.gateway.backends import Backends
from vestry.gateway.errors import translate_call_error, unauthorized
from vestry.gateway.telemetry import note_caller

__all__ = ["Identity", "identify", "token_from_request"]

TOKEN_USERNAME = "__token__"  # noqa: S105 - a username, not a secret


@dataclass(frozen=True)
class Identity:
    token: str
    caller: index_pb2.Caller
    principal: auth_pb2.Principal | None

    @property
    def authenticated(self) -> bool:
        return self.caller.authenticated


ANONYMOUS = Identity("", index_pb2.Caller(authenticated=False), None)


def token_from_request(request: Request) -> str:
    """The API token the request carries ("" for none).

    Basic auth with username `__token__` (pip, twine, uv) or a Bearer token. Raises 401 for any
    other credential: Vestry has no passwords on the pip/twine path.
    """
    header = request.headers.get("authorization", "")
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
    try:
        reply = await backends.auth.VerifyToken(
            auth_pb2.VerifyTokenRequest(token=token), timeout=backends.timeout
        )
    except grpc.aio.AioRpcError as exc:
        raise translate_call_error("VerifyToken", exc) from exc
    note_caller(request, reply.principal.username, reply.principal.token_id)
    return Identity(token, _caller(reply.principal, reply.scope), reply.principal)
