"""Management API: projects, organisations, reserved names and the audit log (`/api/v1/…`).

Every route is a thin adapter over one index RPC; the index decides who may do what. Users
are named in URLs; the gateway resolves a name to an id through auth's GetUser (404 for a user
that does not exist), because the index does not own users. Errors are the gateway's plain-text
answers (one sentence), mapped from gRPC statuses in one table.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from vestry.auth.v1 import auth_pb2
from vestry.index.v1 import index_pb2

from vestry.common.protoconv import utc_datetime
from vestry.gateway.backends import Backends, backends_of
from vestry.gateway.errors import HTTPError, unauthorized
from vestry.gateway.identity import Identity, identify

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["management"])

_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"description": "Invalid input (the body says what to fix)"},
    401: {"description": "No or invalid API token"},
    403: {"description": "Visible, but the user or the token may not do this"},
    404: {"description": "No such project, organisation or user, or not visible to the caller"},
}


# ---- response and request models (they document the API in /api/openapi.json) --------------


class RoleOut(BaseModel):
    username: str
    role: str


class TeamRoleOut(BaseModel):
    team: str
    role: str


class FileOut(BaseModel):
    filename: str
    size: int
    sha256: str
    upload_time: datetime | None
    uploader: str
    yanked: bool
    yanked_reason: str


class ReleaseOut(BaseModel):
    version: str
    yanked: bool
    yanked_reason: str
    files: list[FileOut]


class ProjectOut(BaseModel):
    name: str
    normalized_name: str
    visibility: str
    status: str = Field(description="PEP 792: active, archived, deprecated or quarantined")
    status_reason: str
    organization: str
    last_serial: int
    created: datetime | None
    roles: list[RoleOut]
    team_roles: list[TeamRoleOut]
    your_permissions: list[str] = Field(description="What the caller may do on this project")
    releases: list[ReleaseOut]


class SerialOut(BaseModel):
    serial: int = Field(description="The project's serial after the change (0: no page change)")


class VisibilityIn(BaseModel):
    visibility: Literal["private", "public"]


class StatusIn(BaseModel):
    status: Literal["active", "archived", "deprecated", "quarantined"]
    reason: str = ""


class RoleIn(BaseModel):
    role: str = Field(description="owner, maintainer or reader (projects); owner or member (orgs)")


class YankIn(BaseModel):
    version: str = Field("", description="Yank the whole release (all its files)")
    filename: str = Field("", description="... or just this file")
    reason: str = ""


class UnyankIn(BaseModel):
    version: str = ""
    filename: str = ""


class OrgIn(BaseModel):
    name: str


class TeamIn(BaseModel):
    name: str


class TeamOut(BaseModel):
    name: str
    members: list[str]
    project_roles: dict[str, str]


class OrgOut(BaseModel):
    name: str
    created: datetime | None
    members: list[RoleOut]
    teams: list[TeamOut]
    projects: list[str]


class EventOut(BaseModel):
    id: int
    at: datetime | None
    project_id: str
    kind: str
    user: str
    token_id: str
    detail: dict[str, object]


class ReserveIn(BaseModel):
    pattern: str = Field(description="A project name, or a prefix ending in * (acme-*)")
    organization: str


class ReservedOut(BaseModel):
    pattern: str
    organization: str


# ---- helpers ---------------------------------------------------------------------------------


async def _who(request: Request) -> tuple[Backends, Identity]:
    backends = backends_of(request)
    return backends, await identify(request, backends)


async def _user(backends: Backends, who: Identity, username: str) -> auth_pb2.User:
    # Only the authenticated may probe user names.
    if not who.authenticated:
        raise unauthorized()
    user: auth_pb2.User = await backends.auth.GetUser(
        auth_pb2.GetUserRequest(name=username), timeout=backends.timeout
    )
    if not user.active:
        raise HTTPError(400, f"user {username!r} is disabled")
    return user


def _role(r: index_pb2.RoleEntry) -> RoleOut:
    return RoleOut(username=r.username, role=r.role)


def _org(o: index_pb2.Organization) -> OrgOut:
    return OrgOut(
        name=o.name,
        created=utc_datetime(o.created),
        members=[_role(r) for r in o.members],
        teams=[
            TeamOut(
                name=t.name,
                members=[m.username for m in t.members],
                project_roles=dict(t.project_roles),
            )
            for t in o.teams
        ],
        projects=list(o.projects),
    )


# ---- projects --------------------------------------------------------------------------------


@router.get("/projects/{project}", response_model=ProjectOut, responses=_ERRORS)
async def show_project(request: Request, project: str) -> ProjectOut:
    """A project: visibility, status, roles, and its releases and files."""
    backends, who = await _who(request)
    detail = await backends.index.GetProject(
        index_pb2.ProjectRequest(caller=who.caller, name=project), timeout=backends.timeout
    )
    page = await backends.index.GetProjectPage(
        index_pb2.GetProjectPageRequest(caller=who.caller, name=project), timeout=backends.timeout
    )
    files: dict[str, list[FileOut]] = {}
    for f in page.files:
        files.setdefault(f.version, []).append(
            FileOut(
                filename=f.filename,
                size=f.size,
                sha256=f.sha256,
                upload_time=utc_datetime(f.upload_time),
                uploader=f.uploader,
                yanked=f.yanked,
                yanked_reason=f.yanked_reason,
            )
        )
    p = detail.project
    return ProjectOut(
        name=p.name,
        normalized_name=p.normalized_name,
        visibility=p.visibility,
        status=p.status,
        status_reason=p.status_reason,
        organization=detail.organization,
        last_serial=p.last_serial,
        created=utc_datetime(p.created),
        roles=[_role(r) for r in detail.roles],
        team_roles=[TeamRoleOut(team=t.team, role=t.role) for t in detail.team_roles],
        your_permissions=list(detail.allowed_actions),
        releases=[
            ReleaseOut(
                version=r.version,
                yanked=r.yanked,
                yanked_reason=r.yanked_reason,
                files=files.get(r.version, []),
            )
            for r in page.releases
        ],
    )


@router.put("/projects/{project}/visibility", response_model=SerialOut, responses=_ERRORS)
async def set_visibility(request: Request, project: str, body: VisibilityIn) -> SerialOut:
    """Make a project private or public (owners)."""
    backends, who = await _who(request)
    reply = await backends.index.SetVisibility(
        index_pb2.SetVisibilityRequest(
            caller=who.caller, project_name=project, visibility=body.visibility
        ),
        timeout=backends.timeout,
    )
    return SerialOut(serial=reply.serial)


@router.put("/projects/{project}/status", response_model=SerialOut, responses=_ERRORS)
async def set_status(request: Request, project: str, body: StatusIn) -> SerialOut:
    """Set the PEP 792 status (owners; quarantine only by administrators)."""
    backends, who = await _who(request)
    reply = await backends.index.SetStatus(
        index_pb2.SetStatusRequest(
            caller=who.caller, project_name=project, status=body.status, reason=body.reason
        ),
        timeout=backends.timeout,
    )
    return SerialOut(serial=reply.serial)


@router.put("/projects/{project}/members/{username}", response_model=RoleOut, responses=_ERRORS)
async def set_member(request: Request, project: str, username: str, body: RoleIn) -> RoleOut:
    """Give a user a role on the project, replacing any role they had (owners)."""
    backends, who = await _who(request)
    user = await _user(backends, who, username)
    reply = await backends.index.SetRole(
        index_pb2.SetRoleRequest(
            caller=who.caller,
            project_name=project,
            user_id=user.id,
            username=user.name,
            role=body.role,
        ),
        timeout=backends.timeout,
    )
    return _role(reply)


@router.delete("/projects/{project}/members/{username}", status_code=204, responses=_ERRORS)
async def remove_member(request: Request, project: str, username: str) -> Response:
    """Remove a user's role (owners; the last owner stays)."""
    backends, who = await _who(request)
    await backends.index.RemoveRole(
        index_pb2.RemoveRoleRequest(caller=who.caller, project_name=project, username=username),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


async def _yank(
    request: Request, project: str, version: str, filename: str, yanked: bool, reason: str
) -> SerialOut:
    backends, who = await _who(request)
    reply = await backends.index.SetYanked(
        index_pb2.SetYankedRequest(
            caller=who.caller,
            project_name=project,
            version=version,
            filename=filename,
            yanked=yanked,
            reason=reason,
        ),
        timeout=backends.timeout,
    )
    return SerialOut(serial=reply.serial)


@router.post("/projects/{project}/yank", response_model=SerialOut, responses=_ERRORS)
async def yank(request: Request, project: str, body: YankIn) -> SerialOut:
    """Yank a release or one file (PEP 592): still installable by exact pin, skipped otherwise."""
    return await _yank(request, project, body.version, body.filename, True, body.reason)


@router.post("/projects/{project}/unyank", response_model=SerialOut, responses=_ERRORS)
async def unyank(request: Request, project: str, body: UnyankIn) -> SerialOut:
    """Un-yank a release or one file."""
    return await _yank(request, project, body.version, body.filename, False, "")


@router.delete("/projects/{project}", response_model=SerialOut, responses=_ERRORS)
async def delete_project(request: Request, project: str) -> SerialOut:
    """Delete the whole project (owners): its releases, files and roles. Its filenames can
    never be uploaded again; its name is free again, to whoever may create it."""
    backends, who = await _who(request)
    reply = await backends.index.Delete(
        index_pb2.DeleteRequest(caller=who.caller, project_name=project, whole_project=True),
        timeout=backends.timeout,
    )
    return SerialOut(serial=reply.serial)


@router.delete(
    "/projects/{project}/releases/{version}", response_model=SerialOut, responses=_ERRORS
)
async def delete_release(request: Request, project: str, version: str) -> SerialOut:
    """Delete a release and its files (owners). Their filenames can never be uploaded again."""
    backends, who = await _who(request)
    reply = await backends.index.Delete(
        index_pb2.DeleteRequest(caller=who.caller, project_name=project, version=version),
        timeout=backends.timeout,
    )
    return SerialOut(serial=reply.serial)


@router.delete("/projects/{project}/files/{filename}", response_model=SerialOut, responses=_ERRORS)
async def delete_file(request: Request, project: str, filename: str) -> SerialOut:
    """Delete one file (owners). Its filename can never be uploaded again."""
    backends, who = await _who(request)
    reply = await backends.index.Delete(
        index_pb2.DeleteRequest(caller=who.caller, project_name=project, filename=filename),
        timeout=backends.timeout,
    )
    return SerialOut(serial=reply.serial)


# ---- audit log -------------------------------------------------------------------------------


@router.get("/events", response_model=list[EventOut], responses=_ERRORS)
async def events(
    request: Request,
    project: Annotated[str, Query(description="One project's events (its owners)")] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int, Query(ge=0, description="Only events older than this id")] = 0,
) -> list[EventOut]:
    """Audit events, newest first: who did what, when, with which token. Without `project`,
    every event (administrators)."""
    backends, who = await _who(request)
    if not who.authenticated:
        raise unauthorized()
    reply = await backends.index.ListEvents(
        index_pb2.ListEventsRequest(
            caller=who.caller, project_name=project, limit=limit, before_id=before
        ),
        timeout=backends.timeout,
    )
    return [
        EventOut(
            id=e.id,
            at=utc_datetime(e.at),
            project_id=e.project_id,
            kind=e.kind,
            user=e.user,
            token_id=e.token_id,
            detail=json.loads(e.detail_json or "{}"),
        )
        for e in reply.events
    ]


# ---- organisations ---------------------------------------------------------------------------


@router.post("/orgs", response_model=OrgOut, status_code=201, responses=_ERRORS)
async def create_org(request: Request, body: OrgIn) -> OrgOut:
    """Found an organisation; the caller becomes its owner."""
    backends, who = await _who(request)
    reply = await backends.index.CreateOrganization(
        index_pb2.OrganizationRequest(caller=who.caller, name=body.name), timeout=backends.timeout
    )
    return _org(reply)


@router.get("/orgs/{org}", response_model=OrgOut, responses=_ERRORS)
async def show_org(request: Request, org: str) -> OrgOut:
    """Members, teams and projects of an organisation (its members)."""
    backends, who = await _who(request)
    reply = await backends.index.GetOrganization(
        index_pb2.OrganizationRequest(caller=who.caller, name=org), timeout=backends.timeout
    )
    return _org(reply)


@router.put("/orgs/{org}/members/{username}", response_model=RoleOut, responses=_ERRORS)
async def set_org_member(request: Request, org: str, username: str, body: RoleIn) -> RoleOut:
    """Add a member (role `member` or `owner`), or change their role (organisation owners)."""
    backends, who = await _who(request)
    user = await _user(backends, who, username)
    reply = await backends.index.SetOrganizationMember(
        index_pb2.SetOrganizationMemberRequest(
            caller=who.caller,
            organization=org,
            user_id=user.id,
            username=user.name,
            role=body.role,
        ),
        timeout=backends.timeout,
    )
    return _role(reply)


@router.delete("/orgs/{org}/members/{username}", status_code=204, responses=_ERRORS)
async def remove_org_member(request: Request, org: str, username: str) -> Response:
    """Remove a member and all their team memberships: their access ends at once."""
    backends, who = await _who(request)
    await backends.index.RemoveOrganizationMember(
        index_pb2.RemoveOrganizationMemberRequest(
            caller=who.caller, organization=org, username=username
        ),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


@router.post("/orgs/{org}/teams", status_code=204, responses=_ERRORS)
async def create_team(request: Request, org: str, body: TeamIn) -> Response:
    backends, who = await _who(request)
    await backends.index.CreateTeam(
        index_pb2.TeamRequest(caller=who.caller, organization=org, team=body.name),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


@router.delete("/orgs/{org}/teams/{team}", status_code=204, responses=_ERRORS)
async def delete_team(request: Request, org: str, team: str) -> Response:
    backends, who = await _who(request)
    await backends.index.DeleteTeam(
        index_pb2.TeamRequest(caller=who.caller, organization=org, team=team),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


@router.put("/orgs/{org}/teams/{team}/members/{username}", status_code=204, responses=_ERRORS)
async def add_team_member(request: Request, org: str, team: str, username: str) -> Response:
    """Add an organisation member to a team."""
    backends, who = await _who(request)
    user = await _user(backends, who, username)
    await backends.index.AddTeamMember(
        index_pb2.TeamMemberRequest(
            caller=who.caller, organization=org, team=team, user_id=user.id, username=user.name
        ),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


@router.delete("/orgs/{org}/teams/{team}/members/{username}", status_code=204, responses=_ERRORS)
async def remove_team_member(request: Request, org: str, team: str, username: str) -> Response:
    backends, who = await _who(request)
    await backends.index.RemoveTeamMember(
        index_pb2.TeamMemberRequest(
            caller=who.caller, organization=org, team=team, username=username
        ),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


@router.put("/orgs/{org}/teams/{team}/projects/{project}", status_code=204, responses=_ERRORS)
async def set_team_role(
    request: Request, org: str, team: str, project: str, body: RoleIn
) -> Response:
    """Give a team a role on one of the organisation's projects."""
    backends, who = await _who(request)
    if not body.role:
        raise HTTPError(400, "role is one of owner, maintainer, reader")
    await backends.index.SetTeamRole(
        index_pb2.SetTeamRoleRequest(
            caller=who.caller, organization=org, team=team, project_name=project, role=body.role
        ),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


@router.delete("/orgs/{org}/teams/{team}/projects/{project}", status_code=204, responses=_ERRORS)
async def remove_team_role(request: Request, org: str, team: str, project: str) -> Response:
    backends, who = await _who(request)
    await backends.index.SetTeamRole(
        index_pb2.SetTeamRoleRequest(
            caller=who.caller, organization=org, team=team, project_name=project, role=""
        ),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


@router.put("/orgs/{org}/projects/{project}", status_code=204, responses=_ERRORS)
async def transfer_project(request: Request, org: str, project: str) -> Response:
    """Move a project into the organisation (the caller must own both)."""
    backends, who = await _who(request)
    await backends.index.TransferProject(
        index_pb2.TransferProjectRequest(caller=who.caller, project_name=project, organization=org),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


# ---- reserved names (administrators) -------------------------------------------------------


@router.get("/reserved", response_model=list[ReservedOut], responses=_ERRORS)
async def list_reserved(request: Request) -> list[ReservedOut]:
    backends, who = await _who(request)
    reply = await backends.index.ListReservedNames(
        index_pb2.ListReservedNamesRequest(caller=who.caller), timeout=backends.timeout
    )
    return [ReservedOut(pattern=r.pattern, organization=r.organization) for r in reply.names]


@router.post("/reserved", response_model=ReservedOut, status_code=201, responses=_ERRORS)
async def reserve(request: Request, body: Annotated[ReserveIn, Body()]) -> ReservedOut:
    """Reserve a name or prefix for an organisation: nobody else may create such a project."""
    backends, who = await _who(request)
    reply = await backends.index.ReserveName(
        index_pb2.ReserveNameRequest(
            caller=who.caller, pattern=body.pattern, organization=body.organization
        ),
        timeout=backends.timeout,
    )
    return ReservedOut(pattern=reply.pattern, organization=reply.organization)


@router.delete("/reserved/{pattern}", status_code=204, responses=_ERRORS)
async def unreserve(request: Request, pattern: str) -> Response:
    backends, who = await _who(request)
    await backends.index.UnreserveName(
        index_pb2.ReserveNameRequest(caller=who.caller, pattern=pattern), timeout=backends.timeout
    )
    return Response(status_code=204)
