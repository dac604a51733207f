"""Management API for organisations (`/api/v1/orgs/…`): members, teams, team roles on the
organisation's projects, and transfers into it. The index decides who may do what."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from vestry.index.v1 import index_pb2

from vestry.common.protoconv import utc_datetime
from vestry.gateway.errors import HTTPError
from vestry.gateway.routes._common import (
    ERRORS,
    management_router,
    org_first,
    role_out,
    user_named,
    who_calls,
)
from vestry.gateway.schemas import OrgIn, OrgOut, RoleIn, RoleOut, TeamIn, TeamOut

__all__ = ["router"]

router = management_router()


def _org(o: index_pb2.Organization) -> OrgOut:
    return OrgOut(
        name=o.name,
        created=utc_datetime(o.created),
        members=[role_out(r) for r in o.members],
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


@router.post("/orgs", response_model=OrgOut, status_code=201, responses=ERRORS)
async def create_org(request: Request, body: OrgIn) -> OrgOut:
    """Found an organisation; the caller becomes its owner."""
    backends, who = await who_calls(request)
    reply = await backends.index.CreateOrganization(
        index_pb2.OrganizationRequest(caller=who.caller, name=body.name), timeout=backends.timeout
    )
    return _org(reply)


@router.get("/orgs/{org}", response_model=OrgOut, responses=ERRORS)
async def show_org(request: Request, org: str) -> OrgOut:
    """Members, teams and projects of an organisation (its members)."""
    backends, who = await who_calls(request)
    reply = await backends.index.GetOrganization(
        index_pb2.OrganizationRequest(caller=who.caller, name=org), timeout=backends.timeout
    )
    return _org(reply)


@router.put("/orgs/{org}/members/{username}", response_model=RoleOut, responses=ERRORS)
async def set_org_member(request: Request, org: str, username: str, body: RoleIn) -> RoleOut:
    """Add a member (role `member` or `owner`), or change their role (organisation owners)."""
    backends, who = await who_calls(request)
    await org_first(backends, who, org)
    user = await user_named(backends, who, username)
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
    return role_out(reply)


@router.delete("/orgs/{org}/members/{username}", status_code=204, responses=ERRORS)
async def remove_org_member(request: Request, org: str, username: str) -> Response:
    """Remove a member and all their team memberships: their access ends at once."""
    backends, who = await who_calls(request)
    await backends.index.RemoveOrganizationMember(
        index_pb2.RemoveOrganizationMemberRequest(
            caller=who.caller, organization=org, username=username
        ),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


@router.post("/orgs/{org}/teams", status_code=204, responses=ERRORS)
async def create_team(request: Request, org: str, body: TeamIn) -> Response:
    backends, who = await who_calls(request)
    await backends.index.CreateTeam(
        index_pb2.TeamRequest(caller=who.caller, organization=org, team=body.name),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


@router.delete("/orgs/{org}/teams/{team}", status_code=204, responses=ERRORS)
async def delete_team(request: Request, org: str, team: str) -> Response:
    backends, who = await who_calls(request)
    await backends.index.DeleteTeam(
        index_pb2.TeamRequest(caller=who.caller, organization=org, team=team),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


@router.put("/orgs/{org}/teams/{team}/members/{username}", status_code=204, responses=ERRORS)
async def add_team_member(request: Request, org: str, team: str, username: str) -> Response:
    """Add an organisation member to a team."""
    backends, who = await who_calls(request)
    await org_first(backends, who, org)
    user = await user_named(backends, who, username)
    await backends.index.AddTeamMember(
        index_pb2.TeamMemberRequest(
            caller=who.caller, organization=org, team=team, user_id=user.id, username=user.name
        ),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


@router.delete("/orgs/{org}/teams/{team}/members/{username}", status_code=204, responses=ERRORS)
async def remove_team_member(request: Request, org: str, team: str, username: str) -> Response:
    backends, who = await who_calls(request)
    await backends.index.RemoveTeamMember(
        index_pb2.TeamMemberRequest(
            caller=who.caller, organization=org, team=team, username=username
        ),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


@router.put("/orgs/{org}/teams/{team}/projects/{project}", status_code=204, responses=ERRORS)
async def set_team_role(
    request: Request, org: str, team: str, project: str, body: RoleIn
) -> Response:
    """Give a team a role on one of the organisation's projects."""
    backends, who = await who_calls(request)
    if not body.role:
        raise HTTPError(400, "role is one of owner, maintainer, reader")
    await backends.index.SetTeamRole(
        index_pb2.SetTeamRoleRequest(
            caller=who.caller, organization=org, team=team, project_name=project, role=body.role
        ),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


@router.delete("/orgs/{org}/teams/{team}/projects/{project}", status_code=204, responses=ERRORS)
async def remove_team_role(request: Request, org: str, team: str, project: str) -> Response:
    backends, who = await who_calls(request)
    await backends.index.SetTeamRole(
        index_pb2.SetTeamRoleRequest(
            caller=who.caller, organization=org, team=team, project_name=project, role=""
        ),
        timeout=backends.timeout,
    )
    return Response(status_code=204)


@router.put("/orgs/{org}/projects/{project}", status_code=204, responses=ERRORS)
async def transfer_project(request: Request, org: str, project: str) -> Response:
    """Move a project into the organisation (the caller must own both)."""
    backends, who = await who_calls(request)
    await backends.index.TransferProject(
        index_pb2.TransferProjectRequest(caller=who.caller, project_name=project, organization=org),
        timeout=backends.timeout,
    )
    return Response(status_code=204)
