"""Management API for organisations (`/api/v1/orgs/…`): members, teams, team roles on the
organisation's projects, and transfers into it. The index decides who may do what."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from vestry.index.v1 import index_pb2

from vestry.gateway.errors import HTTPError
from vestry.gateway.routes._common import (
    ERRORS,
    ask_index,
    for_user,
    index_call,
    management_router,
    no_content,
    org_first,
    out_of,
    role_out,
    who_calls,
)
from vestry.gateway.schemas import OrgIn, OrgOut, RoleIn, RoleOut, TeamIn, TeamOut

__all__ = ["router"]

router = management_router()


def _org(o: index_pb2.Organization) -> OrgOut:
    return out_of(
        OrgOut,
        o,
        members=[role_out(r) for r in o.members],
        teams=[out_of(TeamOut, t, members=[m.username for m in t.members]) for t in o.teams],
    )


@router.post("/orgs", response_model=OrgOut, status_code=201, responses=ERRORS)
async def create_org(request: Request, body: OrgIn) -> OrgOut:
    """Found an organisation; the caller becomes its owner."""
    return _org(
        await index_call(
            request, "CreateOrganization", index_pb2.OrganizationRequest(name=body.name)
        )
    )


@router.get("/orgs/{org}", response_model=OrgOut, responses=ERRORS)
async def show_org(request: Request, org: str) -> OrgOut:
    """Members, teams and projects of an organisation (its members)."""
    return _org(
        await index_call(request, "GetOrganization", index_pb2.OrganizationRequest(name=org))
    )


@router.put("/orgs/{org}/members/{username}", response_model=RoleOut, responses=ERRORS)
async def set_org_member(request: Request, org: str, username: str, body: RoleIn) -> RoleOut:
    """Add a member (role `member` or `owner`), or change their role (organisation owners)."""
    backends, who = await who_calls(request)
    await org_first(backends, who, org)
    msg = index_pb2.SetOrganizationMemberRequest(organization=org, role=body.role)
    reply = await for_user(backends, who, username, "SetOrganizationMember", msg)
    return role_out(reply)


@router.delete("/orgs/{org}/members/{username}", status_code=204, responses=ERRORS)
async def remove_org_member(request: Request, org: str, username: str) -> Response:
    """Remove a member and all their team memberships: their access ends at once."""
    msg = index_pb2.RemoveOrganizationMemberRequest(organization=org, username=username)
    return await no_content(request, "RemoveOrganizationMember", msg)


@router.post("/orgs/{org}/teams", status_code=204, responses=ERRORS)
async def create_team(request: Request, org: str, body: TeamIn) -> Response:
    msg = index_pb2.TeamRequest(organization=org, team=body.name)
    return await no_content(request, "CreateTeam", msg)


@router.delete("/orgs/{org}/teams/{team}", status_code=204, responses=ERRORS)
async def delete_team(request: Request, org: str, team: str) -> Response:
    msg = index_pb2.TeamRequest(organization=org, team=team)
    return await no_content(request, "DeleteTeam", msg)


@router.put("/orgs/{org}/teams/{team}/members/{username}", status_code=204, responses=ERRORS)
async def add_team_member(request: Request, org: str, team: str, username: str) -> Response:
    """Add an organisation member to a team."""
    backends, who = await who_calls(request)
    await org_first(backends, who, org)
    msg = index_pb2.TeamMemberRequest(organization=org, team=team)
    await for_user(backends, who, username, "AddTeamMember", msg)
    return Response(status_code=204)


@router.delete("/orgs/{org}/teams/{team}/members/{username}", status_code=204, responses=ERRORS)
async def remove_team_member(request: Request, org: str, team: str, username: str) -> Response:
    msg = index_pb2.TeamMemberRequest(organization=org, team=team, username=username)
    return await no_content(request, "RemoveTeamMember", msg)


async def _team_role(
    request: Request, org: str, team: str, project: str, role: str | None
) -> Response:
    """Give the team `role` on the project, or remove its role (None). An empty role in a body
    is refused once the caller is known: a bad token is a 401 before any 400."""
    backends, who = await who_calls(request)
    if role is not None and not role:
        raise HTTPError(400, "role is one of owner, maintainer, reader")
    msg = index_pb2.SetTeamRoleRequest(
        organization=org, team=team, project_name=project, role=role or ""
    )
    await ask_index(backends, who, "SetTeamRole", msg)
    return Response(status_code=204)


@router.put("/orgs/{org}/teams/{team}/projects/{project}", status_code=204, responses=ERRORS)
async def set_team_role(
    request: Request, org: str, team: str, project: str, body: RoleIn
) -> Response:
    """Give a team a role on one of the organisation's projects."""
    return await _team_role(request, org, team, project, body.role)


@router.delete("/orgs/{org}/teams/{team}/projects/{project}", status_code=204, responses=ERRORS)
async def remove_team_role(request: Request, org: str, team: str, project: str) -> Response:
    return await _team_role(request, org, team, project, None)


@router.put("/orgs/{org}/projects/{project}", status_code=204, responses=ERRORS)
async def transfer_project(request: Request, org: str, project: str) -> Response:
    """Move a project into the organisation (the caller must own both)."""
    msg = index_pb2.TransferProjectRequest(project_name=project, organization=org)
    return await no_content(request, "TransferProject", msg)
