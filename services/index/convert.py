"""Proto <-> domain conversions for the index service."""

from __future__ import annotations

import json

from vestry.index.v1 import index_pb2

from vestry.common.protoconv import message_of, optional_set
from vestry.services.index.access import Caller
from vestry.services.index.blobrefs import BlobReference
from vestry.services.index.publishers import PublisherData
from vestry.services.index.records import (
    EventData,
    FileData,
    OrganizationData,
    ProjectData,
    ProjectDetail,
    ProjectPage,
    ReleaseData,
    ReservedData,
    RoleData,
    file_fields,
    release_fields,
)

_EXTRA_FIELDS = (
    "author",
    "author_email",
    "license",
    "home_page",
    "keywords",
    "maintainer",
    "maintainer_email",
)


def caller_from_proto(msg: index_pb2.Caller) -> Caller:
    def opt(field: str) -> frozenset[str] | None:
        return optional_set(msg, field)

    if not msg.authenticated:
        return Caller()
    return Caller(
        authenticated=True,
        user_id=msg.user_id,
        username=msg.username,
        admin=msg.admin,
        token_id=msg.token_id,
        token_project_names=opt("token_project_names"),
        token_project_ids=opt("token_project_ids"),
        token_permissions=opt("token_permissions"),
        token_publisher_ids=opt("token_publisher_ids"),
    )


def project_to_proto(p: ProjectData) -> index_pb2.Project:
    return message_of(index_pb2.Project, p)


def release_to_proto(r: ReleaseData) -> index_pb2.Release:
    extra = r.extra
    return message_of(
        index_pb2.Release,
        r,
        classifiers=list(extra.get("classifiers", [])),
        project_urls=dict(extra.get("project_urls", {})),
        **{k: str(extra.get(k, "")) for k in _EXTRA_FIELDS},
    )


def release_from_proto(msg: index_pb2.Release) -> ReleaseData:
    extra: dict[str, object] = {k: getattr(msg, k) for k in _EXTRA_FIELDS if getattr(msg, k)}
    if msg.classifiers:
        extra["classifiers"] = list(msg.classifiers)
    if msg.project_urls:
        extra["project_urls"] = dict(msg.project_urls)
    return ReleaseData(**release_fields(msg), requires_dist=tuple(msg.requires_dist), extra=extra)


def file_to_proto(f: FileData) -> index_pb2.FileRecord:
    return message_of(index_pb2.FileRecord, f)


def file_from_proto(msg: index_pb2.FileRecord) -> FileData:
    return FileData(**file_fields(msg), version=msg.version)


def role_to_proto(r: RoleData) -> index_pb2.RoleEntry:
    return index_pb2.RoleEntry(user_id=r.user_id, username=r.username, role=r.role)


def detail_to_proto(d: ProjectDetail) -> index_pb2.ProjectDetail:
    return index_pb2.ProjectDetail(
        project=project_to_proto(d.project),
        organization=d.organization,
        roles=[role_to_proto(r) for r in d.roles],
        team_roles=[index_pb2.TeamRoleEntry(team=t.team, role=t.role) for t in d.team_roles],
        allowed_actions=d.allowed_actions,
    )


def event_to_proto(e: EventData) -> index_pb2.Event:
    return message_of(index_pb2.Event, e, detail_json=json.dumps(e.detail, sort_keys=True))


def organization_to_proto(o: OrganizationData) -> index_pb2.Organization:
    return message_of(
        index_pb2.Organization,
        o,
        members=[role_to_proto(r) for r in o.members],
        teams=[
            index_pb2.Team(
                name=t.name,
                members=[role_to_proto(r) for r in t.members],
                project_roles=t.project_roles,
            )
            for t in o.teams
        ],
    )


def reserved_to_proto(r: ReservedData) -> index_pb2.ReservedName:
    return index_pb2.ReservedName(pattern=r.pattern, organization=r.organization)


def page_to_proto(page: ProjectPage) -> index_pb2.ProjectPage:
    return index_pb2.ProjectPage(
        project=project_to_proto(page.project),
        releases=[release_to_proto(r) for r in page.releases],
        files=[file_to_proto(f) for f in page.files],
        global_serial=page.global_serial,
    )


_BLOB_KINDS = {
    "file": index_pb2.BlobReference.FILE,
    "metadata": index_pb2.BlobReference.METADATA,
}


def blob_reference_to_proto(r: BlobReference) -> index_pb2.BlobReference:
    return message_of(index_pb2.BlobReference, r, kind=_BLOB_KINDS[r.kind])


def publisher_to_proto(p: PublisherData) -> index_pb2.TrustedPublisher:
    return message_of(index_pb2.TrustedPublisher, p)
