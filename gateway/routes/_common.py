"""What every management route shares: its router's shape, the documented error answers, the
caller, and users named in URLs.

Users are named in URLs; the gateway resolves a name to an id through auth's GetUser (404 for a
user that does not exist), because the index does not own users.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from google.protobuf.message import Message
from vestry.auth.v1 import auth_pb2
from vestry.index.v1 import index_pb2

from vestry.gateway.backends import Backends, backends_of
from vestry.gateway.errors import HTTPError, unauthorized
from vestry.gateway.identity import Identity, identify
from vestry.gateway.schemas import RoleOut

__all__ = [
    "ERRORS",
    "ask_index",
    "index_call",
    "management_router",
    "org_first",
    "project_roles_first",
    "role_out",
    "user_named",
    "who_calls",
]

ERRORS: dict[int | str, dict[str, object]] = {
    400: {"description": "Invalid input (the body says what to fix)"},
    401: {"description": "No or invalid API token"},
    403: {"description": "Visible, but the user or the token may not do this"},
    404: {"description": "No such project, organisation or user, or not visible to the caller"},
}


def management_router() -> APIRouter:
    """A router for one family of `/api/v1/…` routes, all under the one OpenAPI tag."""
    return APIRouter(prefix="/api/v1", tags=["management"])


async def who_calls(request: Request) -> tuple[Backends, Identity]:
    """The request's backends and its verified caller (anonymous without credentials)."""
    backends = backends_of(request)
    return backends, await identify(request, backends)


async def ask_index(
    backends: Backends, who: Identity, rpc: str, message: Callable[..., Message], **fields: Any
) -> Any:
    """The index's answer to RPC `rpc` with a `message` of `fields`, asked as the caller: what
    almost every management route is."""
    return await getattr(backends.index, rpc)(
        message(caller=who.caller, **fields), timeout=backends.timeout
    )


async def index_call(
    request: Request, rpc: str, message: Callable[..., Message], **fields: Any
) -> Any:
    """`ask_index` as the request's caller, for a route that needs nothing else of it."""
    backends, who = await who_calls(request)
    return await ask_index(backends, who, rpc, message, **fields)


async def user_named(backends: Backends, who: Identity, username: str) -> auth_pb2.User:
    """The active user of that name; 401 for an anonymous caller, 400 for a disabled user,
    404 (auth's NOT_FOUND) for none."""
    # Only the authenticated may probe user names.
    if not who.authenticated:
        raise unauthorized()
    user: auth_pb2.User = await backends.auth.GetUser(
        auth_pb2.GetUserRequest(name=username), timeout=backends.timeout
    )
    if not user.active:
        raise HTTPError(400, f"user {username!r} is disabled")
    return user


async def project_roles_first(backends: Backends, who: Identity, project: str) -> None:
    """Check that the caller may manage `project`'s roles before any user is looked up: to
    whoever may not, a user that exists and one that does not must get the same answer (the
    project's 401/404, or this 403)."""
    detail = await ask_index(backends, who, "GetProject", index_pb2.ProjectRequest, name=project)
    if "manage-roles" not in detail.allowed_actions:
        raise HTTPError(
            403,
            f"user {who.caller.username!r} (with the token used) may not manage the roles of "
            f"project {detail.project.normalized_name!r}",
        )


async def org_first(backends: Backends, who: Identity, org: str) -> None:
    """Check that the caller can see `org` before any user is looked up (the organisation's
    401/404 comes first, whether or not the user exists)."""
    await ask_index(backends, who, "GetOrganization", index_pb2.OrganizationRequest, name=org)


def role_out(r: index_pb2.RoleEntry) -> RoleOut:
    return RoleOut(username=r.username, role=r.role)
