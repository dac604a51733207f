"""Management API for projects (`/api/v1/projects/…`): visibility, PEP 792 status, roles,
yanks and deletions.

Every route is a thin adapter over one index RPC; the index decides who may do what. Errors are
the gateway's plain-text answers (one sentence), mapped from gRPC statuses in one table.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from vestry.index.v1 import index_pb2

from vestry.gateway.errors import unauthorized
from vestry.gateway.routes._common import (
    ERRORS,
    CallerRequest,
    ask_index,
    for_user,
    index_call,
    management_router,
    no_content,
    out_of,
    project_roles_first,
    role_out,
    who_calls,
)
from vestry.gateway.schemas import (
    FileOut,
    ProjectOut,
    ReleaseOut,
    RoleIn,
    RoleOut,
    SerialOut,
    StatusIn,
    TeamRoleOut,
    UnyankIn,
    VisibilityIn,
    YankIn,
)

__all__ = ["router"]

router = management_router()


async def _serial(request: Request, rpc: str, message: CallerRequest) -> SerialOut:
    """A change the index answers with the project's new serial."""
    reply = await index_call(request, rpc, message)
    return SerialOut(serial=reply.serial)


async def _delete(request: Request, project: str, **what: Any) -> SerialOut:
    """Delete the whole project, a release or a file, for good."""
    return await _serial(request, "Delete", index_pb2.DeleteRequest(project_name=project, **what))


@router.get("/projects/{project}", response_model=ProjectOut, responses=ERRORS)
async def show_project(request: Request, project: str) -> ProjectOut:
    """A project: visibility, status, roles, and its releases and files."""
    backends, who = await who_calls(request)
    detail = await ask_index(backends, who, "GetProject", index_pb2.ProjectRequest(name=project))
    page = await ask_index(
        backends, who, "GetProjectPage", index_pb2.GetProjectPageRequest(name=project)
    )
    files: dict[str, list[FileOut]] = {}
    for f in page.files:
        files.setdefault(f.version, []).append(out_of(FileOut, f))
    return out_of(
        ProjectOut,
        detail.project,
        organization=detail.organization,
        roles=[role_out(r) for r in detail.roles],
        team_roles=[out_of(TeamRoleOut, t) for t in detail.team_roles],
        your_permissions=list(detail.allowed_actions),
        releases=[out_of(ReleaseOut, r, files=files.get(r.version, [])) for r in page.releases],
    )


@router.put("/projects/{project}/visibility", response_model=SerialOut, responses=ERRORS)
async def set_visibility(request: Request, project: str, body: VisibilityIn) -> SerialOut:
    """Make a project private or public (owners)."""
    msg = index_pb2.SetVisibilityRequest(project_name=project, visibility=body.visibility)
    return await _serial(request, "SetVisibility", msg)


@router.put("/projects/{project}/status", response_model=SerialOut, responses=ERRORS)
async def set_status(request: Request, project: str, body: StatusIn) -> SerialOut:
    """Set the PEP 792 status (owners; quarantine only by administrators)."""
    msg = index_pb2.SetStatusRequest(project_name=project, status=body.status, reason=body.reason)
    return await _serial(request, "SetStatus", msg)


@router.put("/projects/{project}/members/{username}", response_model=RoleOut, responses=ERRORS)
async def set_member(request: Request, project: str, username: str, body: RoleIn) -> RoleOut:
    """Give a user a role on the project, replacing any role they had (owners)."""
    backends, who = await who_calls(request)
    if not who.authenticated:
        raise unauthorized()
    await project_roles_first(backends, who, project)
    msg = index_pb2.SetRoleRequest(project_name=project, role=body.role)
    reply = await for_user(backends, who, username, "SetRole", msg)
    return role_out(reply)


@router.delete("/projects/{project}/members/{username}", status_code=204, responses=ERRORS)
async def remove_member(request: Request, project: str, username: str) -> Response:
    """Remove a user's role (owners; the last owner stays)."""
    msg = index_pb2.RemoveRoleRequest(project_name=project, username=username)
    return await no_content(request, "RemoveRole", msg)


async def _yank(
    request: Request, project: str, version: str, filename: str, yanked: bool, reason: str
) -> SerialOut:
    msg = index_pb2.SetYankedRequest(
        project_name=project, version=version, filename=filename, yanked=yanked, reason=reason
    )
    return await _serial(request, "SetYanked", msg)


@router.post("/projects/{project}/yank", response_model=SerialOut, responses=ERRORS)
async def yank(request: Request, project: str, body: YankIn) -> SerialOut:
    """Yank a release or one file (PEP 592): still installable by exact pin, skipped otherwise."""
    return await _yank(request, project, body.version, body.filename, True, body.reason)


@router.post("/projects/{project}/unyank", response_model=SerialOut, responses=ERRORS)
async def unyank(request: Request, project: str, body: UnyankIn) -> SerialOut:
    """Un-yank a release or one file."""
    return await _yank(request, project, body.version, body.filename, False, "")


@router.delete("/projects/{project}", response_model=SerialOut, responses=ERRORS)
async def delete_project(request: Request, project: str) -> SerialOut:
    """Delete the whole project (owners): its releases, files and roles. Its filenames can
    never be uploaded again; its name is free again, to whoever may create it."""
    return await _delete(request, project, whole_project=True)


@router.delete("/projects/{project}/releases/{version}", response_model=SerialOut, responses=ERRORS)
async def delete_release(request: Request, project: str, version: str) -> SerialOut:
    """Delete a release and its files (owners). Their filenames can never be uploaded again."""
    return await _delete(request, project, version=version)


@router.delete("/projects/{project}/files/{filename}", response_model=SerialOut, responses=ERRORS)
async def delete_file(request: Request, project: str, filename: str) -> SerialOut:
    """Delete one file (owners). Its filename can never be uploaded again."""
    return await _delete(request, project, filename=filename)
