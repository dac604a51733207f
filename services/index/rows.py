"""ORM rows of the index turned into the records its callers get (`records.py`)."""

from __future__ import annotations

from datetime import UTC, datetime

from vestry.services.index import models as m
from vestry.services.index.records import FileData, ProjectData, record_of

__all__ = ["file_data", "project_data", "utc"]


def utc(value: datetime) -> datetime:
    """`value` as an aware UTC datetime: SQLite hands back naive ones (stored as UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def project_data(p: m.Project) -> ProjectData:
    """The record of a project row."""
    return record_of(ProjectData, p, created=utc(p.created))


def file_data(f: m.File, version: str, p: m.Project) -> FileData:
    """The record of a file row, of release `version` of project `p`."""
    return record_of(
        FileData,
        f,
        version=version,
        upload_time=utc(f.upload_time),
        project_name=p.name,
        project_id=p.id,
        project_visibility=p.visibility,
    )
