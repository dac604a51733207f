"""What an import from another index needs beyond an ordinary upload: the source's upload time.

Installers read `upload-time` (uv --exclude-newer, pip --uploaded-prior-to), so a file brought
over from pypiserver or devpi must keep the time it was first published, not the time of the
import. Only administrators may set it, and only to a time in the past; every change is an audit
event and moves the project's serial, so cached pages show it at once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vestry.common.errors import InvalidArgument, NotFound
from vestry.services.index import models as m
from vestry.services.index.access import Caller, require_admin
from vestry.services.index.names import normalize
from vestry.services.index.txn import bump_serial, record_event, write_session

__all__ = ["set_upload_time"]


def set_upload_time(
    sessions: sessionmaker[Session],
    caller: Caller,
    project_name: str,
    filename: str,
    upload_time: datetime,
) -> int:
    """Set one file's upload time; returns the project's new serial.

    Raises PermissionDenied/Unauthenticated (not an administrator), NotFound (no such file in
    that project) or InvalidArgument (a time in the future)."""
    require_admin(caller, "set upload times")
    when = upload_time if upload_time.tzinfo else upload_time.replace(tzinfo=UTC)
    if when > datetime.now(UTC):
        raise InvalidArgument("an upload time cannot be in the future")
    with write_session(sessions) as s:
        project = s.scalar(
            select(m.Project).where(m.Project.normalized_name == normalize(project_name))
        )
        row = (
            s.scalar(
                select(m.File).where(m.File.project_id == project.id, m.File.filename == filename)
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
