"""The operator's API: users (administrators), the projects a caller can see (paged), download
counts, and the upload time an import keeps (`/api/v1/...`).

The auth service owns users but trusts its callers, so this module checks that the caller is an
administrator whose token permits administration before any user call. The index decides the
rest (which projects, whose counts, who may set an upload time).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from vestry.auth.v1 import auth_pb2
from vestry.index.v1 import index_pb2

from vestry.common.protoconv import timestamp
from vestry.common.vocabulary import Permission
from vestry.gateway.backends import Backends
from vestry.gateway.errors import HTTPError, unauthorized
from vestry.gateway.identity import Identity
from vestry.gateway.routes._common import (
    ERRORS,
    ask_index,
    index_call,
    management_router,
    out_of,
    who_calls,
)
from vestry.gateway.schemas import (
    DownloadsOut,
    NewUserOut,
    ProjectListOut,
    ProjectSummaryOut,
    SerialOut,
    UploadTimeIn,
    UserIn,
    UserOut,
)

__all__ = ["router"]

router = management_router()


def _user(u: auth_pb2.User) -> UserOut:
    return out_of(UserOut, u)


async def _admin(request: Request) -> tuple[Backends, Identity]:
    """The caller, if an administrator whose token permits administration: 401 for the
    anonymous, 403 for anyone else."""
    backends, who = await who_calls(request)
    if not who.authenticated:
        raise unauthorized()
    if not who.caller.admin:
        raise HTTPError(403, "only index administrators may manage users")
    perms = who.caller.token_permissions
    if who.caller.HasField("token_permissions") and Permission.ADMIN not in perms.values:
        raise HTTPError(403, "the token used does not permit administration")
    return backends, who


# ---- users (administrators) ----------------------------------------------------------------


@router.get("/users", response_model=list[UserOut], responses=ERRORS)
async def list_users(request: Request) -> list[UserOut]:
    """Every user, by name."""
    backends, _ = await _admin(request)
    reply = await backends.auth.ListUsers(auth_pb2.ListUsersRequest(), timeout=backends.timeout)
    return [_user(u) for u in reply.users]


@router.post("/users", response_model=NewUserOut, status_code=201, responses=ERRORS)
async def create_user(request: Request, body: UserIn) -> NewUserOut:
    """Create a user and mint their first token (shown once: hand it to them)."""
    backends, _ = await _admin(request)
    user = await backends.auth.CreateUser(
        auth_pb2.CreateUserRequest(name=body.name, admin=body.admin), timeout=backends.timeout
    )
    minted = await backends.auth.MintToken(
        auth_pb2.MintTokenRequest(for_user=user.name, name="first token"),
        timeout=backends.timeout,
    )
    return NewUserOut(**_user(user).model_dump(), token=minted.token)


async def _set_active(request: Request, name: str, active: bool) -> UserOut:
    backends, _ = await _admin(request)
    user = await backends.auth.SetUserActive(
        auth_pb2.SetUserActiveRequest(name=name, active=active), timeout=backends.timeout
    )
    return _user(user)


@router.post("/users/{name}/disable", response_model=UserOut, responses=ERRORS)
async def disable_user(request: Request, name: str) -> UserOut:
    """Disable a user: every token of theirs is refused at once, everywhere."""
    return await _set_active(request, name, False)


@router.post("/users/{name}/enable", response_model=UserOut, responses=ERRORS)
async def enable_user(request: Request, name: str) -> UserOut:
    return await _set_active(request, name, True)


# ---- projects and download counts ----------------------------------------------------------


@router.get("/projects", response_model=ProjectListOut, responses=ERRORS)
async def list_projects(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str, Query(description="The `next` of the previous page")] = "",
) -> ProjectListOut:
    """The projects the caller can see (anonymous: the public ones), by normalised name."""
    reply = await index_call(request, "ListProjects", index_pb2.ListProjectsRequest())
    # The index answers in normalised-name order, so the cursor is the last name shown.
    rest = [p for p in reply.projects if p.normalized_name > after] if after else reply.projects
    page = rest[:limit]
    more = len(rest) > limit
    return ProjectListOut(
        projects=[out_of(ProjectSummaryOut, p) for p in page],
        total=len(reply.projects),
        next=page[-1].normalized_name if more and page else None,
    )


@router.get("/projects/{project}/downloads", response_model=DownloadsOut, responses=ERRORS)
async def downloads(request: Request, project: str) -> DownloadsOut:
    """Downloads per file and in all (counted by the gateways, sent every few seconds)."""
    backends, who = await who_calls(request)
    counts = await ask_index(
        backends, who, "GetDownloadCounts", index_pb2.ProjectRequest(name=project)
    )
    page = await ask_index(
        backends, who, "GetProjectPage", index_pb2.GetProjectPageRequest(name=project)
    )
    files = {f.filename: 0 for f in page.files}
    files.update({c.filename: c.count for c in counts.files})
    return DownloadsOut(project=counts.project_name, total=counts.total, files=files)


@router.put(
    "/projects/{project}/files/{filename}/upload-time", response_model=SerialOut, responses=ERRORS
)
async def set_upload_time(
    request: Request, project: str, filename: str, body: UploadTimeIn
) -> SerialOut:
    """Set a file's upload time (administrators; `vestry import` keeps the source's)."""
    msg = index_pb2.SetUploadTimeRequest(
        project_name=project, filename=filename, upload_time=timestamp(body.upload_time)
    )
    reply = await index_call(request, "SetUploadTime", msg)
    return SerialOut(serial=reply.serial)
