"""Plain data the index domain hands out and takes in (no ORM objects cross its boundary)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
