"""Who may do what on a project: effective roles, read fresh on every request, and the check.

The rules themselves (which role allows which action, what a token restricts) are in
`access.py`; this module reads the facts they are applied to.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session, sessionmaker

from vestry.common.vocabulary import OrgRole, ProjectRole
from vestry.services.index import models as m
from vestry.services.index.access import Action, Caller, ProjectFacts, authorize, can
from vestry.services.index.errors import LastOwner
from vestry.services.index.names import normalize
from vestry.services.index.publishers import roles_of

__all__ = ["Roles", "keep_an_owner"]


# Who must keep an owner: the member rows, the column naming what they are members of, the
# owner role there, and how an error names it.
_OWNED: dict[str, tuple[type[m.Role] | type[m.OrganizationMember], Any, str, str]] = {
    "project": (m.Role, m.Role.project_id, ProjectRole.OWNER, "a project"),
    "organisation": (
        m.OrganizationMember,
        m.OrganizationMember.organization_id,
        OrgRole.OWNER,
        "an organisation",
    ),
}


def keep_an_owner(s: Session, kind: str, owned_id: str, leaving_user_id: str) -> None:
    """Raises LastOwner unless a member other than `leaving_user_id` owns the project or the
    organisation (`kind`) of id `owned_id`."""
    members, of, owner, what = _OWNED[kind]
    others = s.scalar(
        select(members.id).where(
            of == owned_id, members.role == owner, members.user_id != leaving_user_id
        )
    )
    if others is None:
        raise LastOwner(what)


class Roles:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # ---- inside another part's transaction ---------------------------------------------------

    @staticmethod
    def effective(s: Session, caller: Caller, project: m.Project) -> frozenset[str]:
        """The caller's roles on `project`: direct, through a team of its organisation, and
        owner for the organisation's owners. Read fresh on every request (no cache to outlive
        a removal from a team or organisation)."""
        if not caller.authenticated:
            return frozenset()
        direct = select(m.Role.role).where(
            m.Role.project_id == project.id, m.Role.user_id == caller.user_id
        )
        via_team = (
            select(m.TeamRole.role)
            .join(m.TeamMember, m.TeamMember.team_id == m.TeamRole.team_id)
            .join(m.Team, m.Team.id == m.TeamRole.team_id)
            .where(
                m.TeamRole.project_id == project.id,
                m.TeamMember.user_id == caller.user_id,
                # A team only grants roles on its own organisation's projects.
                m.Team.organization_id == project.organization_id,
            )
        )
        stmts = [direct, via_team]
        if project.organization_id:
            stmts.append(
                select(m.OrganizationMember.role).where(
                    m.OrganizationMember.organization_id == project.organization_id,
                    m.OrganizationMember.user_id == caller.user_id,
                    m.OrganizationMember.role == OrgRole.OWNER,
                )
            )
        return frozenset(s.scalars(union(*stmts)).all())

    def facts(self, s: Session, caller: Caller, project: m.Project) -> ProjectFacts:
        """What the access rules need to know about `project` and the caller's roles on it.

        A trusted publisher's token has no roles of its own: only the publisher's, while one of
        its publishers is still the project's (`publishers.roles_of`).
        """
        roles = (
            self.effective(s, caller, project)
            if caller.token_publisher_ids is None
            else roles_of(s, caller, project.id)
        )
        return ProjectFacts(project.id, project.normalized_name, project.visibility, roles)

    @staticmethod
    def find(s: Session, name: str) -> m.Project | None:
        """The project named `name` (any spelling that normalises alike), or None."""
        return s.scalar(select(m.Project).where(m.Project.normalized_name == normalize(name)))

    def authorized(self, s: Session, caller: Caller, name: str, action: Action) -> m.Project:
        """The project named `name`, if the caller may do `action` on it.

        Raises Unauthenticated, NotFound (no such project, or one the caller may not see) or
        PermissionDenied, as `access.authorize` decides.
        """
        project = self.find(s, name)
        authorize(caller, self.facts(s, caller, project) if project else None, action)
        assert project is not None
        return project

    # ---- on its own --------------------------------------------------------------------------

    def can(self, caller: Caller, project_name: str, action: Action) -> bool:
        """Whether the caller may do `action` on the project; False if there is none. Raises
        nothing."""
        with self._sessions() as s:
            project = self.find(s, project_name)
            return project is not None and can(caller, self.facts(s, caller, project), action)
