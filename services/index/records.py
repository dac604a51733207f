"""Plain data the index domain hands out and takes in (no ORM objects cross its boundary)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

R = TypeVar("R")


@dataclass(frozen=True)
class ProjectData:
    id: str
    name: str
    normalized_name: str
    visibility: str
    status: str
    status_reason: str
    last_serial: int
    created: datetime


@dataclass(frozen=True)
class ReleaseData:
    version: str
    canonical_version: str = ""
    summary: str = ""
    description: str = ""
    description_content_type: str = ""
    requires_python: str = ""
    requires_dist: tuple[str, ...] = ()
    metadata_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # author, license, classifiers, ...
    yanked: bool = False
    yanked_reason: str = ""
    created: datetime | None = None


# The fields a file and a release are stored with, as an upload gives them: the same names on
# the rows (models.File, models.Release), the records and the protos, copied between them by name.
RELEASE_FIELDS = (
    "version",
    "summary",
    "description",
    "description_content_type",
    "requires_python",
    "metadata_version",
)
FILE_FIELDS = (
    "filename",
    "packagetype",
    "python_version",
    "requires_python",
    "size",
    "sha256",
    "blake2b_256",
    "md5",
    "blob_key",
    "metadata_blob_key",
    "metadata_sha256",
)


def file_fields(source: object) -> dict[str, Any]:
    """`source`'s stored file fields (FILE_FIELDS) by name: of a row, a record or a proto."""
    return {name: getattr(source, name) for name in FILE_FIELDS}


def release_fields(source: object) -> dict[str, Any]:
    """`source`'s stored release fields (RELEASE_FIELDS) by name."""
    return {name: getattr(source, name) for name in RELEASE_FIELDS}


def record_of(record: type[R], source: object, **given: Any) -> R:
    """A `record` (a dataclass) of `source`'s attributes named as its fields, but for those
    `given`: how an ORM row becomes its record. A field `source` lacks keeps its default."""
    names = {f.name for f in fields(record)} - given.keys()  # type: ignore[arg-type]
    return record(**{n: getattr(source, n) for n in names if hasattr(source, n)}, **given)


@dataclass(frozen=True)
class FileData:
    filename: str
    version: str
    packagetype: str
    python_version: str
    requires_python: str
    size: int
    sha256: str
    blake2b_256: str
    md5: str
    blob_key: str
    metadata_blob_key: str = ""
    metadata_sha256: str = ""
    upload_time: datetime | None = None
    uploader: str = ""
    yanked: bool = False
    yanked_reason: str = ""
    project_name: str = ""
    project_id: str = ""
    project_visibility: str = ""


@dataclass(frozen=True)
class ProjectPage:
    project: ProjectData
    releases: list[ReleaseData]
    files: list[FileData]
    global_serial: int
    unchanged: bool = False  # the asker's copy is current: only `project` and the serial filled


@dataclass(frozen=True)
class UploadCheck:
    identical: bool
    project_exists: bool
    project_id: str
    project_name: str


@dataclass(frozen=True)
class CommitResult:
    already_present: bool
    file: FileData
    serial: int


@dataclass(frozen=True)
class RoleData:
    user_id: str
    username: str
    role: str


@dataclass(frozen=True)
class TeamRoleData:
    team: str
    role: str


@dataclass(frozen=True)
class ProjectDetail:
    project: ProjectData
    organization: str
    roles: list[RoleData]
    team_roles: list[TeamRoleData]
    allowed_actions: list[str]  # what the caller may do here, for tools to show


@dataclass(frozen=True)
class EventData:
    id: int
    at: datetime
    project_id: str
    kind: str
    user: str
    token_id: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class TeamData:
    name: str
    members: list[RoleData]
    project_roles: dict[str, str]  # normalised project name -> role


@dataclass(frozen=True)
class OrganizationData:
    name: str
    created: datetime
    members: list[RoleData]
    teams: list[TeamData]
    projects: list[str]


@dataclass(frozen=True)
class ReservedData:
    pattern: str
    organization: str


class ProjectSummary(NamedTuple):
    """A line of the root listing (a tuple: 100,000 of them are built per request)."""

    name: str
    normalized_name: str
    last_serial: int
