"""The words every layer shares: visibility, project status, roles and token permissions.

Defined once here; the index validates against them, the gateway builds its API schemas from them
and the CLI its choices. They travel as these exact strings (protos, JSON, database columns), so
each is a `StrEnum`: a member is equal to its string, and adding one is a change in one place.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["OrgRole", "Permission", "ProjectRole", "ProjectStatus", "Visibility", "values"]


class Visibility(StrEnum):
    PRIVATE = "private"
    PUBLIC = "public"  # readable without a token


class ProjectStatus(StrEnum):
    """PEP 792. Quarantine is the operators' tool against malware: only administrators set or
    lift it."""

    ACTIVE = "active"
    ARCHIVED = "archived"
    DEPRECATED = "deprecated"
    QUARANTINED = "quarantined"


class ProjectRole(StrEnum):
    OWNER = "owner"
    MAINTAINER = "maintainer"
    READER = "reader"


class OrgRole(StrEnum):
    OWNER = "owner"  # owner of every project of the organisation
    MEMBER = "member"  # access to projects only through teams


class Permission(StrEnum):
    """What a token may be limited to (its permissions caveat)."""

    READ = "read"
    UPLOAD = "upload"
    YANK = "yank"
    MANAGE_TOKENS = "manage-tokens"
    ADMIN = "admin"


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The wire strings of `enum`, in definition order (for choices and messages)."""
    return tuple(member.value for member in enum)
