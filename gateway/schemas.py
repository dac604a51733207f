"""The management API's request and response models (`/api/v1/…`); they document it in
/api/openapi.json."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from vestry.common.vocabulary import OrgRole, ProjectRole, ProjectStatus, Visibility, values

__all__ = [
    "DownloadsOut",
    "EventOut",
    "FileOut",
    "NewUserOut",
    "OrgIn",
    "OrgOut",
    "ProjectListOut",
    "ProjectOut",
    "ProjectSummaryOut",
    "PublisherIn",
    "PublisherOut",
    "ReleaseOut",
    "ReserveIn",
    "ReservedOut",
    "RoleIn",
    "RoleOut",
    "SerialOut",
    "StatusIn",
    "TeamIn",
    "TeamOut",
    "TeamRoleOut",
    "UnyankIn",
    "UploadTimeIn",
    "UpstreamRuleIn",
    "UpstreamRuleOut",
    "UserIn",
    "UserOut",
    "VisibilityIn",
    "YankIn",
]


class RoleOut(BaseModel):
    username: str
    role: str


class TeamRoleOut(BaseModel):
    team: str
    role: str


class FileOut(BaseModel):
    filename: str
    size: int
    sha256: str
    upload_time: datetime | None
    uploader: str
    yanked: bool
    yanked_reason: str


class ReleaseOut(BaseModel):
    version: str
    yanked: bool
    yanked_reason: str
    files: list[FileOut]


class ProjectOut(BaseModel):
    name: str
    normalized_name: str
    visibility: str
    status: str = Field(description=f"PEP 792: one of {', '.join(values(ProjectStatus))}")
    status_reason: str
    organization: str
    last_serial: int
    created: datetime | None
    roles: list[RoleOut]
    team_roles: list[TeamRoleOut]
    your_permissions: list[str] = Field(description="What the caller may do on this project")
    releases: list[ReleaseOut]


class SerialOut(BaseModel):
    serial: int = Field(description="The project's serial after the change (0: no page change)")


class VisibilityIn(BaseModel):
    visibility: Visibility


class StatusIn(BaseModel):
    status: ProjectStatus
    reason: str = ""


class RoleIn(BaseModel):
    role: str = Field(
        description=f"{', '.join(values(ProjectRole))} (projects); "
        f"{', '.join(values(OrgRole))} (organisations)"
    )


class YankIn(BaseModel):
    version: str = Field("", description="Yank the whole release (all its files)")
    filename: str = Field("", description="... or just this file")
    reason: str = ""


class UnyankIn(BaseModel):
    version: str = ""
    filename: str = ""


class OrgIn(BaseModel):
    name: str


class TeamIn(BaseModel):
    name: str


class TeamOut(BaseModel):
    name: str
    members: list[str]
    project_roles: dict[str, str]


class OrgOut(BaseModel):
    name: str
    created: datetime | None
    members: list[RoleOut]
    teams: list[TeamOut]
    projects: list[str]


class EventOut(BaseModel):
    id: int
    at: datetime | None
    project_id: str
    kind: str
    user: str
    token_id: str
    detail: dict[str, object]


class ReserveIn(BaseModel):
    pattern: str = Field(description="A project name, or a prefix ending in * (acme-*)")
    organization: str


class ReservedOut(BaseModel):
    pattern: str
    organization: str


class PublisherIn(BaseModel):
    issuer: str = Field(description="github, gitlab, or a generic issuer of VESTRY_OIDC_ISSUERS")
    claims: dict[str, str] = Field(
        description="github: repository, workflow, environment (optional); gitlab: project, "
        "workflow, environment and ref (optional); generic: claim -> required value"
    )


class PublisherOut(BaseModel):
    id: str
    project: str
    issuer: str
    claims: dict[str, str]
    created_by: str
    created: datetime | None


class UpstreamRuleIn(BaseModel):
    until: datetime | None = Field(default=None, description="Omitted: until removed")


class UpstreamRuleOut(BaseModel):
    project: str
    rule: str
    until: datetime | None
    created: datetime | None
    created_by: str


# ---- the operator's API: users, the projects a caller can see, downloads, upload times ------


class UserOut(BaseModel):
    name: str
    active: bool
    admin: bool
    created: datetime | None


class UserIn(BaseModel):
    name: str = Field(max_length=100)
    admin: bool = False


class NewUserOut(UserOut):
    token: str = Field(description="The user's first API token, shown only this once")


class ProjectSummaryOut(BaseModel):
    name: str
    normalized_name: str
    last_serial: int


class ProjectListOut(BaseModel):
    projects: list[ProjectSummaryOut]
    total: int = Field(description="How many projects the caller can see in all")
    next: str | None = Field(description="Pass as `after` for the next page; null on the last")


class DownloadsOut(BaseModel):
    project: str
    total: int
    files: dict[str, int] = Field(description="filename -> downloads (files never downloaded: 0)")


class UploadTimeIn(BaseModel):
    upload_time: datetime = Field(description="ISO 8601; a time without zone is UTC")
