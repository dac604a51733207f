"""Organisations, their members and teams, and team roles on projects.

Membership is read fresh on every access decision (see `Roles.effective`), so removing
someone from an organisation or a team takes their access away with the same commit.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session, sessionmaker

from vestry.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from vestry.common.vocabulary import OrgRole
from vestry.services.index import models as m
from vestry.services.index.access import (
    ORG_ROLE_ACTIONS,
    ROLES,
    Caller,
    OrgAction,
    authorize_org,
    may_create_org,
)
from vestry.services.index.names import normalize, validate_project_name
from vestry.services.index.records import OrganizationData, RoleData, TeamData
from vestry.services.index.roles import keep_an_owner
from vestry.services.index.rows import utc
from vestry.services.index.txn import record_event, write_session

__all__ = ["Organizations"]

ORG_ROLES = tuple(ORG_ROLE_ACTIONS)


def _name(kind: str, name: str) -> str:
    try:
        return validate_project_name(name)
    except InvalidArgument as exc:
        raise InvalidArgument(exc.message.replace("project name", f"{kind} name")) from exc


def _member(
    s: Session, organization_id: str, who: ColumnElement[bool]
) -> m.OrganizationMember | None:
    """The membership in one organisation of the user `who` names (by id or name), or None."""
    return s.scalar(
        select(m.OrganizationMember).where(
            m.OrganizationMember.organization_id == organization_id, who
        )
    )


def _user(user_id: str, username: str) -> None:
    if not user_id or not username or len(user_id) > 36 or len(username) > 100:
        raise InvalidArgument("a member needs the user's id and name")


class Organizations:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # ---- helpers shared with the project side ----------------------------------------------

    @staticmethod
    def is_member(s: Session, caller: Caller, organization_id: str | None) -> bool:
        if organization_id is None or not caller.authenticated:
            return False
        return (
            _member(s, organization_id, m.OrganizationMember.user_id == caller.user_id) is not None
        )

    @staticmethod
    def authorized_org(s: Session, caller: Caller, name: str, *, manage: bool) -> m.Organization:
        org = s.scalar(select(m.Organization).where(m.Organization.name == normalize(name)))
        member = (
            _member(s, org.id, m.OrganizationMember.user_id == caller.user_id)
            if org is not None and caller.authenticated
            else None
        )
        role = member.role if member is not None else None
        authorize_org(caller, org is not None, role, OrgAction.MANAGE if manage else OrgAction.VIEW)
        assert org is not None
        return org

    @staticmethod
    def _team(s: Session, org: m.Organization, team: str) -> m.Team:
        row = s.scalar(
            select(m.Team).where(m.Team.organization_id == org.id, m.Team.name == normalize(team))
        )
        if row is None:
            raise NotFound(f"team {team!r} not found in {org.name!r}")
        return row

    # ---- organisations ---------------------------------------------------------------------

    def create(self, caller: Caller, name: str) -> OrganizationData:
        """Found an organisation; the caller becomes its owner. AlreadyExists if taken."""
        may_create_org(caller)
        normalized = _name("organisation", name)
        with write_session(self._sessions) as s:
            if s.scalar(select(m.Organization.id).where(m.Organization.name == normalized)):
                raise AlreadyExists(f"organisation {normalized!r} already exists")
            org = m.Organization(id=str(uuid.uuid4()), name=normalized, created=datetime.now(UTC))
            s.add(org)
            s.flush()
            s.add(
                m.OrganizationMember(
                    organization_id=org.id, role=OrgRole.OWNER, **caller.as_member()
                )
            )
            record_event(s, caller, None, "org.create", {"organization": normalized})
        return self.get(caller, normalized)

    def get(self, caller: Caller, name: str) -> OrganizationData:
        """Members, teams and projects of an organisation, for its members (and admins)."""
        with self._sessions() as s:
            org = self.authorized_org(s, caller, name, manage=False)
            members = s.execute(
                select(
                    m.OrganizationMember.user_id,
                    m.OrganizationMember.username,
                    m.OrganizationMember.role,
                )
                .where(m.OrganizationMember.organization_id == org.id)
                .order_by(m.OrganizationMember.username)
            ).all()
            teams = s.scalars(
                select(m.Team).where(m.Team.organization_id == org.id).order_by(m.Team.name)
            ).all()
            team_members: dict[str, list[RoleData]] = {t.id: [] for t in teams}
            for team_id, user_id, username in s.execute(
                select(m.TeamMember.team_id, m.TeamMember.user_id, m.TeamMember.username)
                .join(m.Team, m.Team.id == m.TeamMember.team_id)
                .where(m.Team.organization_id == org.id)
                .order_by(m.TeamMember.username)
            ):
                team_members[team_id].append(RoleData(user_id, username, "member"))
            team_projects: dict[str, dict[str, str]] = {t.id: {} for t in teams}
            for team_id, project, role in s.execute(
                select(m.TeamRole.team_id, m.Project.normalized_name, m.TeamRole.role)
                .join(m.Project, m.Project.id == m.TeamRole.project_id)
                .join(m.Team, m.Team.id == m.TeamRole.team_id)
                .where(m.Team.organization_id == org.id)
            ):
                team_projects[team_id][project] = role
            projects = s.scalars(
                select(m.Project.normalized_name)
                .where(m.Project.organization_id == org.id)
                .order_by(m.Project.normalized_name)
            ).all()
            return OrganizationData(
                name=org.name,
                created=utc(org.created),
                members=[RoleData(*r) for r in members],
                teams=[TeamData(t.name, team_members[t.id], team_projects[t.id]) for t in teams],
                projects=list(projects),
            )

    def set_member(
        self, caller: Caller, org_name: str, user_id: str, username: str, role: str
    ) -> RoleData:
        if role not in ORG_ROLES:
            raise InvalidArgument(f"organisation role is one of {', '.join(ORG_ROLES)}")
        _user(user_id, username)
        with write_session(self._sessions) as s:
            org = self.authorized_org(s, caller, org_name, manage=True)
            row = _member(s, org.id, m.OrganizationMember.user_id == user_id)
            if row is None:
                s.add(
                    m.OrganizationMember(
                        organization_id=org.id, user_id=user_id, username=username, role=role
                    )
                )
            else:
                if row.role == OrgRole.OWNER and role != OrgRole.OWNER:
                    keep_an_owner(s, "organisation", org.id, user_id)
                row.role, row.username = role, username
            record_event(
                s,
                caller,
                None,
                "org.member.set",
                {"organization": org.name, "user": username, "role": role},
            )
            return RoleData(user_id, username, role)

    def remove_member(self, caller: Caller, org_name: str, username: str) -> None:
        """Remove a member, and with them every team membership in the organisation."""
        with write_session(self._sessions) as s:
            org = self.authorized_org(s, caller, org_name, manage=True)
            row = _member(s, org.id, m.OrganizationMember.username == username)
            if row is None:
                raise NotFound(f"{username!r} is not a member of {org.name!r}")
            if row.role == OrgRole.OWNER:
                keep_an_owner(s, "organisation", org.id, row.user_id)
            team_ids = select(m.Team.id).where(m.Team.organization_id == org.id)
            s.execute(
                delete(m.TeamMember).where(
                    m.TeamMember.user_id == row.user_id, m.TeamMember.team_id.in_(team_ids)
                )
            )
            s.delete(row)
            record_event(
                s, caller, None, "org.member.remove", {"organization": org.name, "user": username}
            )

    # ---- teams -----------------------------------------------------------------------------

    def create_team(self, caller: Caller, org_name: str, team: str) -> None:
        normalized = _name("team", team)
        with write_session(self._sessions) as s:
            org = self.authorized_org(s, caller, org_name, manage=True)
            exists = s.scalar(
                select(m.Team.id).where(m.Team.organization_id == org.id, m.Team.name == normalized)
            )
            if exists:
                raise AlreadyExists(f"team {normalized!r} already exists in {org.name!r}")
            s.add(m.Team(id=str(uuid.uuid4()), organization_id=org.id, name=normalized))
            record_event(
                s, caller, None, "team.create", {"organization": org.name, "team": normalized}
            )

    def delete_team(self, caller: Caller, org_name: str, team: str) -> None:
        with write_session(self._sessions) as s:
            org = self.authorized_org(s, caller, org_name, manage=True)
            row = self._team(s, org, team)
            # Explicit rather than relying on ON DELETE CASCADE being enforced by every backend.
            s.execute(delete(m.TeamMember).where(m.TeamMember.team_id == row.id))
            s.execute(delete(m.TeamRole).where(m.TeamRole.team_id == row.id))
            s.delete(row)
            record_event(
                s, caller, None, "team.delete", {"organization": org.name, "team": row.name}
            )

    def add_team_member(
        self, caller: Caller, org_name: str, team: str, user_id: str, username: str
    ) -> None:
        _user(user_id, username)
        with write_session(self._sessions) as s:
            org = self.authorized_org(s, caller, org_name, manage=True)
            row = self._team(s, org, team)
            if _member(s, org.id, m.OrganizationMember.user_id == user_id) is None:
                raise FailedPrecondition(
                    f"{username!r} is not a member of {org.name!r}: add them to the "
                    "organisation first"
                )
            exists = s.scalar(
                select(m.TeamMember.id).where(
                    m.TeamMember.team_id == row.id, m.TeamMember.user_id == user_id
                )
            )
            if exists is None:
                s.add(m.TeamMember(team_id=row.id, user_id=user_id, username=username))
            record_event(
                s,
                caller,
                None,
                "team.member.add",
                {"organization": org.name, "team": row.name, "user": username},
            )

    def remove_team_member(self, caller: Caller, org_name: str, team: str, username: str) -> None:
        with write_session(self._sessions) as s:
            org = self.authorized_org(s, caller, org_name, manage=True)
            row = self._team(s, org, team)
            result = s.execute(
                delete(m.TeamMember).where(
                    m.TeamMember.team_id == row.id, m.TeamMember.username == username
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise NotFound(f"{username!r} is not in team {row.name!r}")
            record_event(
                s,
                caller,
                None,
                "team.member.remove",
                {"organization": org.name, "team": row.name, "user": username},
            )

    def set_team_role(
        self, caller: Caller, org_name: str, team: str, project_name: str, role: str
    ) -> None:
        """Give a team a role on one of the organisation's projects ("" removes it)."""
        if role and role not in ROLES:
            raise InvalidArgument(f"role is one of {', '.join(ROLES)}")
        with write_session(self._sessions) as s:
            org = self.authorized_org(s, caller, org_name, manage=True)
            row = self._team(s, org, team)
            project = s.scalar(
                select(m.Project).where(m.Project.normalized_name == normalize(project_name))
            )
            if project is None or project.organization_id != org.id:
                raise NotFound(f"{org.name!r} has no project {normalize(project_name)!r}")
            current = s.scalar(
                select(m.TeamRole).where(
                    m.TeamRole.team_id == row.id, m.TeamRole.project_id == project.id
                )
            )
            if not role:
                if current is None:
                    raise NotFound(f"team {row.name!r} has no role on {project.normalized_name!r}")
                s.delete(current)
            elif current is None:
                s.add(m.TeamRole(team_id=row.id, project_id=project.id, role=role))
            else:
                current.role = role
            record_event(
                s,
                caller,
                project.id,
                "team.role.set" if role else "team.role.remove",
                {"organization": org.name, "team": row.name, "role": role},
            )
