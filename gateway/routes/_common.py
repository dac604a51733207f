"""What every management route shares: its router's shape, the documented error answers, the
caller, and users named in URLs.

Users are named in URLs; the gateway resolves a name to an id through auth's GetUser (404 for a
user that does not exist), because the index does not own users.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel
from vestry.auth.v1 import auth_pb2
from vestry.index.v1 import index_pb2

from vestry.common.protoconv import utc_datetime
from vestry.gateway.backends import Backends, backends_of
from vestry.gateway.errors import HTTPError, unauthorized
from vestry.gateway.identity import Identity, identify
from vestry.gateway.schemas import RoleOut

__all__ = [
    "ERRORS",
    "CallerRequest",
    "ask_index",
    "for_user",
    "index_call",
    "management_router",
    "no_content",
    "org_first",
    "out_of",
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


class CallerRequest(Protocol):
    """An index request: every one carries its caller."""

    @property
    def caller(self) -> index_pb2.Caller: ...


class UserRequest(CallerRequest, Protocol):
    """An index request about a user, named by id and name."""

    user_id: str
    username: str


async def ask_index(backends: Backends, who: Identity, rpc: str, message: CallerRequest) -> Any:
    """The index's answer to RPC `rpc` with `message`, asked as the caller (set here into the
    message's `caller`): what almost every management route is."""
    message.caller.CopyFrom(who.caller)
    return await getattr(backends.index, rpc)(message, timeout=backends.timeout)


async def index_call(request: Request, rpc: str, message: CallerRequest) -> Any:
    """`ask_index` as the request's caller, for a route that needs nothing else of it."""
    backends, who = await who_calls(request)
    return await ask_index(backends, who, rpc, message)


async def no_content(request: Request, rpc: str, message: CallerRequest) -> Response:
    """`index_call` for a change answered with 204 and no body."""
    await index_call(request, rpc, message)
    return Response(status_code=204)


async def for_user(
    backends: Backends, who: Identity, username: str, rpc: str, message: UserRequest
) -> Any:
    """`ask_index` about the user named `username` (a role, a team seat): auth resolves the
    name first (`user_named`), and the message gets the user's id and name."""
    user = await user_named(backends, who, username)
    message.user_id = user.id
    message.username = user.name
    return await ask_index(backends, who, rpc, message)


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
    detail = await ask_index(backends, who, "GetProject", index_pb2.ProjectRequest(name=project))
    if "manage-roles" not in detail.allowed_actions:
        raise HTTPError(
            403,
            f"user {who.caller.username!r} (with the token used) may not manage the roles of "
            f"project {detail.project.normalized_name!r}",
        )


async def org_first(backends: Backends, who: Identity, org: str) -> None:
    """Check that the caller can see `org` before any user is looked up (the organisation's
    401/404 comes first, whether or not the user exists)."""
    await ask_index(backends, who, "GetOrganization", index_pb2.OrganizationRequest(name=org))


Out = TypeVar("Out", bound=BaseModel)


def out_of(model: type[Out], message: Message, **given: Any) -> Out:
    """A `model` (an answer's schema) of `message`'s fields of the same names, but for those
    `given`: the schemas name their fields as the protos do. A Timestamp becomes its datetime
    (None when unset), a map a dict, another repeated field a list. A name the message lacks
    is a KeyError: such a field must be given."""
    fields = message.DESCRIPTOR.fields_by_name
    values: dict[str, Any] = {}
    for name in model.model_fields.keys() - given.keys():
        field, value = fields[name], getattr(message, name)
        if isinstance(value, Timestamp):
            value = utc_datetime(value)
        elif field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = dict(value)
        elif field.is_repeated:
            value = list(value)
        values[name] = value
    return model(**values, **given)


def role_out(r: index_pb2.RoleEntry) -> RoleOut:
    return out_of(RoleOut, r)
