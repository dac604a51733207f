"""Managing a project: its detail and audit log, yanks, deletions, visibility, status (PEP 792),
roles and moving it into an organisation."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from vestry.common.errors import InvalidArgument, NotFound, PermissionDenied
from vestry.common.versions import parse_version
from vestry.common.vocabulary import ProjectRole, ProjectStatus, Visibility, values
from vestry.services.index import models as m
from vestry.services.index.access import ROLES, Action, Caller, can, require_admin
from vestry.services.index.orgs import Organizations
from vestry.services.index.records import EventData, ProjectDetail, RoleData, TeamRoleData
from vestry.services.index.roles import Roles, keep_an_owner
from vestry.services.index.rows import project_data, utc
from vestry.services.index.txn import bump_serial, record_event, write_session
from vestry.services.index.upstream import record_tombstone

__all__ = ["STATUSES", "VISIBILITIES", "Management"]

MAX_REASON_LENGTH = 1000
VISIBILITIES = values(Visibility)
# PEP 792. Quarantine is the operators' tool against malware: only administrators set or lift it.
STATUSES = values(ProjectStatus)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_reason(reason: str) -> str:
    # Reasons are shown in HTML attributes and terminals: one line of plain text.
    if len(reason) > MAX_REASON_LENGTH or _CONTROL.search(reason):
        raise InvalidArgument(
            f"a reason is at most {MAX_REASON_LENGTH} characters, without control characters"
        )
    return reason.strip()


class Management:
    def __init__(self, sessions: sessionmaker[Session], roles: Roles, orgs: Organizations) -> None:
        self._sessions = sessions
        self._roles = roles
        self._orgs = orgs

    def get_project(self, caller: Caller, name: str) -> ProjectDetail:
        """The project, who holds which role on it, and what the caller may do there.
        Raises Unauthenticated or NotFound (no such project, or not the caller's to read)."""
        with self._sessions() as s:
            project = self._roles.authorized(s, caller, name, Action.READ)
            facts = self._roles.facts(s, caller, project)
            roles = s.execute(
                select(m.Role.user_id, m.Role.username, m.Role.role)
                .where(m.Role.project_id == project.id)
                .order_by(m.Role.username)
            ).all()
            team_roles = s.execute(
                select(m.Team.name, m.TeamRole.role)
                .join(m.Team, m.Team.id == m.TeamRole.team_id)
                .where(m.TeamRole.project_id == project.id)
                .order_by(m.Team.name)
            ).all()
            org = (
                s.scalar(
                    select(m.Organization.name).where(m.Organization.id == project.organization_id)
                )
                if project.organization_id
                else None
            )
            return ProjectDetail(
                project=project_data(project),
                organization=org or "",
                roles=[RoleData(*r) for r in roles],
                team_roles=[TeamRoleData(*t) for t in team_roles],
                allowed_actions=[a.value for a in Action if can(caller, facts, a)],
            )

    def list_events(
        self, caller: Caller, project_name: str = "", limit: int = 100, before_id: int = 0
    ) -> list[EventData]:
        """Audit events, newest first (at most `limit`, older than `before_id` if given): a
        project's for its owners, all of them for admins. Raises Unauthenticated, NotFound or
        PermissionDenied."""
        limit = max(1, min(limit, 1000))
        stmt = select(m.Event).order_by(m.Event.id.desc()).limit(limit)
        if before_id > 0:
            stmt = stmt.where(m.Event.id < before_id)
        with self._sessions() as s:
            if project_name:
                project = self._roles.authorized(s, caller, project_name, Action.MANAGE_ROLES)
                stmt = stmt.where(m.Event.project_id == project.id)
            else:
                require_admin(caller, "read the whole audit log")
            return [
                EventData(
                    e.id,
                    utc(e.at),
                    e.project_id or "",
                    e.kind,
                    e.user,
                    e.token_id,
                    json.loads(e.detail),
                )
                for e in s.scalars(stmt).all()
            ]

    @staticmethod
    def _release(s: Session, project: m.Project, version: str) -> m.Release:
        # Any version a release can have: local ones included, as they may be stored.
        canonical = str(parse_version(version, allow_local=True))
        rel = s.scalar(
            select(m.Release).where(
                m.Release.project_id == project.id, m.Release.canonical_version == canonical
            )
        )
        if rel is None:
            raise NotFound(f"release {version!r} of {project.normalized_name!r} not found")
        return rel

    @staticmethod
    def _project_file(s: Session, project: m.Project, filename: str) -> m.File:
        row = s.scalar(
            select(m.File).where(m.File.project_id == project.id, m.File.filename == filename)
        )
        if row is None:
            raise NotFound(f"file {filename!r} of {project.normalized_name!r} not found")
        return row

    def set_yanked(
        self,
        caller: Caller,
        project_name: str,
        *,
        version: str = "",
        filename: str = "",
        yanked: bool = True,
        reason: str = "",
    ) -> int:
        """Yank or un-yank (PEP 592) one file, or a release and all its files; returns the
        new serial. Yanked files stay listed and installable by exact pin.

        Raises InvalidArgument (neither or both of version and filename, a bad version or
        reason), Unauthenticated, PermissionDenied or NotFound (project, release or file).
        """
        if bool(version) == bool(filename):
            raise InvalidArgument("name either a version (the whole release) or one filename")
        reason = _check_reason(reason) if yanked else ""
        with write_session(self._sessions) as s:
            project = self._roles.authorized(s, caller, project_name, Action.YANK)
            if filename:
                f = self._project_file(s, project, filename)
                f.yanked, f.yanked_reason = yanked, reason
                target: dict[str, Any] = {"filename": filename}
                kind = "file"
            else:
                rel = self._release(s, project, version)
                rel.yanked, rel.yanked_reason = yanked, reason
                for f in s.scalars(select(m.File).where(m.File.release_id == rel.id)).all():
                    f.yanked, f.yanked_reason = yanked, reason
                target = {"version": rel.version}
                kind = "release"
            serial = bump_serial(s, project)
            record_event(
                s,
                caller,
                project.id,
                f"{kind}.{'yank' if yanked else 'unyank'}",
                {**target, "reason": reason} if yanked else target,
            )
            return serial

    def delete(
        self,
        caller: Caller,
        project_name: str,
        *,
        version: str = "",
        filename: str = "",
        whole_project: bool = False,
    ) -> int:
        """Delete one file, a release with all its files, or the whole project; returns the new
        serial.

        The filenames stay registered: uploading a file of the same name later is refused.
        A release whose last file is deleted goes with it. A deleted project takes its
        releases, files and roles along (the database cascades), keeps its history of events,
        and leaves its name free for whoever may create it; its blobs are collected by gc.
        Raises InvalidArgument (not exactly one target, a bad version), Unauthenticated,
        PermissionDenied or NotFound (project, release or file).
        """
        if [bool(version), bool(filename), whole_project].count(True) != 1:
            raise InvalidArgument(
                "name one of: a version (the whole release), one filename, or the whole project"
            )
        with write_session(self._sessions) as s:
            project = self._roles.authorized(s, caller, project_name, Action.DELETE)
            if whole_project:
                filenames = sorted(
                    s.scalars(select(m.File.filename).where(m.File.project_id == project.id))
                )
                serial = bump_serial(s, None)
                record_event(
                    s,
                    caller,
                    project.id,
                    "project.delete",
                    {"name": project.name, "filenames": filenames},
                )
                s.execute(delete(m.Project).where(m.Project.id == project.id))
                record_tombstone(s, project.normalized_name)  # never proxied afterwards
                s.expunge(project)
                return serial
            if filename:
                f = self._project_file(s, project, filename)
                rel = s.get(m.Release, f.release_id)
                s.delete(f)
                s.flush()
                gone: list[str] = [filename]
                remaining = s.scalar(select(m.File.id).where(m.File.release_id == f.release_id))
                if rel is not None and remaining is None:
                    s.delete(rel)
                detail: dict[str, Any] = {"filename": filename}
                kind = "file.delete"
            else:
                rel = self._release(s, project, version)
                gone = list(s.scalars(select(m.File.filename).where(m.File.release_id == rel.id)))
                s.execute(delete(m.File).where(m.File.release_id == rel.id))
                s.delete(rel)
                detail = {"version": rel.version, "filenames": gone}
                kind = "release.delete"
            serial = bump_serial(s, project)
            record_event(s, caller, project.id, kind, detail)
            return serial

    def set_visibility(self, caller: Caller, project_name: str, visibility: str) -> int:
        """Make the project 'private' or 'public'; returns the new serial. Raises
        InvalidArgument, Unauthenticated, PermissionDenied or NotFound."""
        if visibility not in VISIBILITIES:
            raise InvalidArgument("visibility is 'private' or 'public'")
        with write_session(self._sessions) as s:
            project = self._roles.authorized(s, caller, project_name, Action.SET_VISIBILITY)
            before = project.visibility
            project.visibility = visibility
            serial = bump_serial(s, project)
            record_event(
                s, caller, project.id, "project.visibility", {"from": before, "to": visibility}
            )
            return serial

    def set_status(self, caller: Caller, project_name: str, status: str, reason: str = "") -> int:
        """Set the PEP 792 status; returns the new serial. Owners archive, deprecate and
        reactivate; only administrators quarantine or lift a quarantine (else
        PermissionDenied). Raises InvalidArgument (unknown status, bad reason),
        Unauthenticated, PermissionDenied or NotFound."""
        if status not in STATUSES:
            raise InvalidArgument(f"status is one of {', '.join(STATUSES)}")
        reason = _check_reason(reason)
        with write_session(self._sessions) as s:
            project = self._roles.authorized(s, caller, project_name, Action.SET_STATUS)
            if ProjectStatus.QUARANTINED in (status, project.status) and not caller.admin:
                raise PermissionDenied(
                    "only index administrators may quarantine a project or lift a quarantine"
                )
            before = project.status
            project.status, project.status_reason = status, reason
            serial = bump_serial(s, project)
            record_event(
                s,
                caller,
                project.id,
                "project.status",
                {"from": before, "to": status, "reason": reason},
            )
            return serial

    def set_role(
        self, caller: Caller, project_name: str, user_id: str, username: str, role: str
    ) -> RoleData:
        """Give a user (resolved by the caller through auth) a role, replacing any other;
        returns the role. Raises InvalidArgument, Unauthenticated, PermissionDenied, NotFound
        or FailedPrecondition (it would leave the project without an owner)."""
        if role not in ROLES:
            raise InvalidArgument(f"role is one of {', '.join(ROLES)}")
        if not user_id or not username or len(user_id) > 36 or len(username) > 100:
            raise InvalidArgument("a role needs the user's id and name")
        with write_session(self._sessions) as s:
            project = self._roles.authorized(s, caller, project_name, Action.MANAGE_ROLES)
            row = s.scalar(
                select(m.Role).where(m.Role.project_id == project.id, m.Role.user_id == user_id)
            )
            if row is None:
                s.add(m.Role(project_id=project.id, user_id=user_id, username=username, role=role))
            else:
                if row.role == ProjectRole.OWNER and role != ProjectRole.OWNER:
                    self._keep_an_owner(s, project, user_id)
                row.role, row.username = role, username
            record_event(s, caller, project.id, "role.set", {"user": username, "role": role})
            return RoleData(user_id, username, role)

    def remove_role(self, caller: Caller, project_name: str, username: str) -> None:
        """Take the user's role away. Raises Unauthenticated, PermissionDenied, NotFound (no
        such project, or no role) or FailedPrecondition (the project's last owner)."""
        with write_session(self._sessions) as s:
            project = self._roles.authorized(s, caller, project_name, Action.MANAGE_ROLES)
            row = s.scalar(
                select(m.Role).where(m.Role.project_id == project.id, m.Role.username == username)
            )
            if row is None:
                raise NotFound(f"{username!r} has no role on {project.normalized_name!r}")
            if row.role == ProjectRole.OWNER:
                self._keep_an_owner(s, project, row.user_id)
            s.delete(row)
            record_event(s, caller, project.id, "role.remove", {"user": username})

    @staticmethod
    def _keep_an_owner(s: Session, project: m.Project, leaving_user_id: str) -> None:
        if project.organization_id:
            return  # the organisation's owners remain owners of the project
        keep_an_owner(s, "project", project.id, leaving_user_id)

    def transfer_to_organization(self, caller: Caller, project_name: str, org_name: str) -> None:
        """Move a project into an organisation: the caller must own both. Raises
        Unauthenticated, PermissionDenied or NotFound (project or organisation)."""
        with write_session(self._sessions) as s:
            project = self._roles.authorized(s, caller, project_name, Action.MANAGE_ROLES)
            org = self._orgs.authorized_org(s, caller, org_name, manage=True)
            if project.organization_id and project.organization_id != org.id:
                # Its old organisation's teams must not keep roles on it.
                s.execute(delete(m.TeamRole).where(m.TeamRole.project_id == project.id))
            project.organization_id = org.id
            record_event(s, caller, project.id, "project.transfer", {"organization": org.name})
