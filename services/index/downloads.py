"""Download counts, and the upload times an import brings over from another index.

A gateway counts downloads in memory and sends what it counted every few seconds, so the
download path never writes to the database. Adding a batch takes no write lock and moves no
serial: counts are not part of any cached page.

Installers read `upload-time` (uv --exclude-newer, pip --uploaded-prior-to), so a file brought
over from pypiserver or devpi must keep the time it was first published, not the time of the
import. Only administrators may set it, and only to a time in the past; every change is an audit
event and moves the project's serial, so cached pages show it at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vestry.common.errors import InvalidArgument, NotFound
from vestry.services.index import models as m
from vestry.services.index.access import Action, Caller, require_admin
from vestry.services.index.names import normalize
from vestry.services.index.roles import Roles
from vestry.services.index.txn import bump_serial, record_event, write_session

__all__ = ["DownloadCounts", "Downloads"]


@dataclass(frozen=True)
class DownloadCounts:
    project_name: str
    total: int
    files: dict[str, int]  # filename -> downloads (files never downloaded are absent)


class Downloads:
    def __init__(self, sessions: sessionmaker[Session], roles: Roles) -> None:
        self._sessions = sessions
        self._roles = roles

    def record(self, increments: Iterable[tuple[str, str, int]]) -> int:
        """Add (project name, filename, count) increments; returns how many were applied.

        Files that are not (or no longer) in the named project are skipped: a gateway's batch
        may arrive after a deletion. Raises nothing of its own."""
        by_project: dict[str, dict[str, int]] = {}
        for project, filename, count in increments:
            if count > 0:
                files = by_project.setdefault(normalize(project), {})
                files[filename] = files.get(filename, 0) + count
        applied = 0
        for name, files in by_project.items():
            with self._sessions.begin() as s:
                rows = s.execute(
                    select(m.File.filename, m.File.project_id)
                    .join(m.Project, m.Project.id == m.File.project_id)
                    .where(m.Project.normalized_name == name, m.File.filename.in_(list(files)))
                ).all()
                for filename, project_id in rows:
                    self._add(s, filename, project_id, files[filename])
                    applied += 1
        return applied

    @staticmethod
    def _add(s: Session, filename: str, project_id: str, count: int) -> None:
        changed = s.execute(
            update(m.DownloadCount)
            .where(m.DownloadCount.filename == filename)
            .values(count=m.DownloadCount.count + count)
        ).rowcount  # type: ignore[attr-defined]
        if changed:
            return
        try:
            with s.begin_nested():
                s.add(m.DownloadCount(filename=filename, project_id=project_id, count=count))
        except IntegrityError:
            # Another gateway's batch created the row first: add to it instead.
            s.execute(
                update(m.DownloadCount)
                .where(m.DownloadCount.filename == filename)
                .values(count=m.DownloadCount.count + count)
            )

    def counts(self, caller: Caller, project_name: str) -> DownloadCounts:
        """The counts of one project's current files, for a caller who may read the project.

        Raises Unauthenticated (anonymous, and the project is not public) or NotFound (no such
        project, or one the caller may not see): the project page's answers."""
        with self._sessions() as s:
            project = self._roles.authorized(s, caller, project_name, Action.READ)
            rows = s.execute(
                select(m.DownloadCount.filename, m.DownloadCount.count)
                .join(m.File, m.File.filename == m.DownloadCount.filename)
                .where(m.File.project_id == project.id)
            ).all()
            files = {r[0]: int(r[1]) for r in rows}
            return DownloadCounts(project.normalized_name, sum(files.values()), files)

    def set_upload_time(
        self, caller: Caller, project_name: str, filename: str, upload_time: datetime
    ) -> int:
        """Set one file's upload time; returns the project's new serial.

        Raises PermissionDenied/Unauthenticated (not an administrator), NotFound (no such file
        in that project) or InvalidArgument (a time in the future)."""
        require_admin(caller, "set upload times")
        when = upload_time if upload_time.tzinfo else upload_time.replace(tzinfo=UTC)
        if when > datetime.now(UTC):
            raise InvalidArgument("an upload time cannot be in the future")
        with write_session(self._sessions) as s:
            project = self._roles.find(s, project_name)
            row = (
                s.scalar(
                    select(m.File).where(
                        m.File.project_id == project.id, m.File.filename == filename
                    )
                )
                if project
                else None
            )
            if project is None or row is None:
                raise NotFound(f"no file {filename!r} in project {project_name!r}")
            before = row.upload_time
            row.upload_time = when
            serial = bump_serial(s, project)
            record_event(
                s,
                caller,
                project.id,
                "file.upload-time",
                {
                    "filename": filename,
                    "from": before.isoformat() if before else None,
                    "to": when.isoformat(),
                },
            )
            return serial
