"""The index domain: projects, releases, files and the access rules around them. No gRPC here."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from packaging.version import InvalidVersion, Version
from sqlalchemy import Engine, or_, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.index import models as m
from services.index.access import Action, Caller, ProjectFacts, authorize, can, may_create
from services.index.names import normalize, ultranormalize, validate_project_name
from services.index.records import (
    CommitResult,
    FileData,
    ProjectData,
    ProjectPage,
    ReleaseData,
    UploadCheck,
)
from vestry.common.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied

__all__ = ["IndexService", "file_exists_message"]

log = logging.getLogger(__name__)
MAX_VERSION_LENGTH = 100
MAX_FILENAME_LENGTH = 255


def file_exists_message(filename: str, blake2b_256: str) -> str:
    # twine and uv recognise a duplicate by "already exist" in this text: keep PyPI's wording.
    return f"File already exists ({filename!r}, with blake2_256 hash {blake2b_256!r})."


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _project(p: m.Project) -> ProjectData:
    return ProjectData(
        p.id,
        p.name,
        p.normalized_name,
        p.visibility,
        p.status,
        p.status_reason,
        p.last_serial,
        _utc(p.created),
    )


def _release(r: m.Release) -> ReleaseData:
    return ReleaseData(
        version=r.version,
        canonical_version=r.canonical_version,
        summary=r.summary,
        description=r.description,
        description_content_type=r.description_content_type,
        requires_python=r.requires_python,
        requires_dist=tuple(json.loads(r.requires_dist)),
        metadata_version=r.metadata_version,
        extra=json.loads(r.extra_metadata),
        yanked=r.yanked,
        yanked_reason=r.yanked_reason,
        created=_utc(r.created),
    )


def _file(f: m.File, version: str, p: m.Project) -> FileData:
    return FileData(
        filename=f.filename,
        version=version,
        packagetype=f.packagetype,
        python_version=f.python_version,
        requires_python=f.requires_python,
        size=f.size,
        sha256=f.sha256,
        blake2b_256=f.blake2b_256,
        md5=f.md5,
        blob_key=f.blob_key,
        metadata_blob_key=f.metadata_blob_key,
        metadata_sha256=f.metadata_sha256,
        upload_time=_utc(f.upload_time),
        uploader=f.uploader,
        yanked=f.yanked,
        yanked_reason=f.yanked_reason,
        project_name=p.name,
        project_id=p.id,
        project_visibility=p.visibility,
    )


def parse_version(version: str) -> Version:
    if not version or len(version) > MAX_VERSION_LENGTH:
        raise InvalidArgument(f"version must be 1-{MAX_VERSION_LENGTH} characters")
    try:
        parsed = Version(version)
    except InvalidVersion as exc:
        raise InvalidArgument(
            f"{version[:MAX_VERSION_LENGTH]!r} is not a valid version (PEP 440)"
        ) from exc
    if parsed.local is not None:
        raise InvalidArgument("local versions (with '+') cannot be uploaded to an index")
    return parsed


class IndexService:
    def __init__(self, engine: Engine, default_visibility: str = "private") -> None:
        if default_visibility not in ("private", "public"):
            raise ValueError("default_visibility is 'private' or 'public'")
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._default_visibility = default_visibility

    # ---- access helpers --------------------------------------------------------------------

    @staticmethod
    def _roles(s: Session, caller: Caller, project: m.Project) -> frozenset[str]:
        if not caller.authenticated:
            return frozenset()
        direct = select(m.Role.role).where(
            m.Role.project_id == project.id, m.Role.user_id == caller.user_id
        )
        via_team = (
            select(m.TeamRole.role)
            .join(m.TeamMember, m.TeamMember.team_id == m.TeamRole.team_id)
            .where(m.TeamRole.project_id == project.id, m.TeamMember.user_id == caller.user_id)
        )
        roles = set(s.scalars(union(direct, via_team)).all())
        if project.organization_id:
            org_role = s.scalar(
                select(m.OrganizationMember.role).where(
                    m.OrganizationMember.organization_id == project.organization_id,
                    m.OrganizationMember.user_id == caller.user_id,
                )
            )
            if org_role == "owner":
                roles.add("owner")
        return frozenset(roles)

    def _facts(self, s: Session, caller: Caller, project: m.Project) -> ProjectFacts:
        return ProjectFacts(
            project.id, project.normalized_name, project.visibility, self._roles(s, caller, project)
        )

    @staticmethod
    def _find(s: Session, name: str) -> m.Project | None:
        return s.scalar(select(m.Project).where(m.Project.normalized_name == normalize(name)))

    # ---- reads -----------------------------------------------------------------------------

    def list_projects(self, caller: Caller) -> tuple[list[ProjectData], int]:
        """Projects `caller` may see, in one query, and the global serial."""
        with self._sessions() as s:
            stmt = select(m.Project)
            if not caller.admin:
                visible = [m.Project.visibility == "public"]
                if caller.authenticated:
                    uid = caller.user_id
                    visible += [
                        m.Project.id.in_(select(m.Role.project_id).where(m.Role.user_id == uid)),
                        m.Project.id.in_(
                            select(m.TeamRole.project_id)
                            .join(m.TeamMember, m.TeamMember.team_id == m.TeamRole.team_id)
                            .where(m.TeamMember.user_id == uid)
                        ),
                        m.Project.organization_id.in_(
                            select(m.OrganizationMember.organization_id).where(
                                m.OrganizationMember.user_id == uid,
                                m.OrganizationMember.role == "owner",
                            )
                        ),
                    ]
                stmt = stmt.where(or_(*visible))
            projects = s.scalars(stmt.order_by(m.Project.normalized_name)).all()
            serial = s.scalar(select(m.Serial.value).where(m.Serial.id == 1)) or 0
        out = []
        for p in projects:
            # Private projects outside the token's restrictions are invisible to this request.
            if p.visibility == "public" or caller.token_allows(
                Action.READ, p.normalized_name, p.id
            ):
                out.append(_project(p))
        return out, serial

    def project_page(self, caller: Caller, name: str) -> ProjectPage:
        """Everything the simple and JSON APIs need for one project, access-checked."""
        with self._sessions() as s:
            project = self._find(s, name)
            authorize(caller, self._facts(s, caller, project) if project else None, Action.READ)
            assert project is not None
            releases = s.scalars(select(m.Release).where(m.Release.project_id == project.id)).all()
            versions = {r.id: r.version for r in releases}
            files = s.scalars(
                select(m.File).where(m.File.project_id == project.id).order_by(m.File.filename)
            ).all()
            serial = s.scalar(select(m.Serial.value).where(m.Serial.id == 1)) or 0
            return ProjectPage(
                project=_project(project),
                releases=[_release(r) for r in releases],
                files=[_file(f, versions[f.release_id], project) for f in files],
                global_serial=serial,
            )

    def get_file(self, caller: Caller, project_name: str, filename: str) -> FileData:
        with self._sessions() as s:
            project = self._find(s, project_name)
            authorize(caller, self._facts(s, caller, project) if project else None, Action.READ)
            assert project is not None
            row = s.execute(
                select(m.File, m.Release.version)
                .join(m.Release, m.Release.id == m.File.release_id)
                .where(m.File.project_id == project.id, m.File.filename == filename)
            ).first()
            if row is None:
                raise NotFound("file not found")
            return _file(row[0], row[1], project)

    # ---- upload ----------------------------------------------------------------------------

    def check_upload(
        self,
        caller: Caller,
        project_name: str,
        version: str,
        filename: str,
        sha256: str,
        blake2b_256: str,
    ) -> UploadCheck:
        """Decide, before any bytes move, whether this upload may go ahead.

        Returns whether it is an identical re-upload. Raises Unauthenticated, PermissionDenied,
        InvalidArgument (bad name/version, filename used before) or AlreadyExists.
        """
        normalized = validate_project_name(project_name)
        parse_version(version)
        with self._sessions() as s:
            project = self._find(s, normalized)
            if project is None:
                self._check_new_name(s, caller, normalized)
                exists, project_id, name = False, "", project_name
            else:
                facts = self._facts(s, caller, project)
                authorize(caller, facts, Action.UPLOAD)
                exists, project_id, name = True, project.id, project.name
            identical = self._check_duplicate(s, filename, sha256, blake2b_256)
        return UploadCheck(identical, exists, project_id, name)

    def _check_new_name(self, s: Session, caller: Caller, normalized: str) -> None:
        reason = may_create(caller, normalized)
        if reason:
            raise PermissionDenied(reason)
        ultra = ultranormalize(normalized)
        similar = s.scalar(select(m.Project).where(m.Project.ultranormalized_name == ultra))
        if similar is not None:
            raise InvalidArgument(
                f"the name {normalized!r} is too similar to an existing project; "
                "choose a different name"
            )
        for reserved in s.scalars(select(m.ReservedName)).all():
            pattern = reserved.pattern
            hit = (
                normalized.startswith(pattern[:-1])
                if pattern.endswith("*")
                else (normalized == pattern)
            )
            if hit and not self._member_of(s, caller, reserved.organization_id):
                raise PermissionDenied(
                    f"the name {normalized!r} is reserved; only its organisation may create it"
                )

    @staticmethod
    def _member_of(s: Session, caller: Caller, organization_id: str | None) -> bool:
        if organization_id is None or not caller.authenticated:
            return False
        return (
            s.scalar(
                select(m.OrganizationMember.id).where(
                    m.OrganizationMember.organization_id == organization_id,
                    m.OrganizationMember.user_id == caller.user_id,
                )
            )
            is not None
        )

    @staticmethod
    def _check_duplicate(s: Session, filename: str, sha256: str, blake2b_256: str) -> bool:
        """True for an identical re-upload; raise for any other clash."""
        same_name = s.scalar(select(m.File).where(m.File.filename == filename))
        if same_name is not None:
            if same_name.sha256 == sha256:
                return True
            raise AlreadyExists(file_exists_message(filename, same_name.blake2b_256))
        same_bytes = s.scalar(
            select(m.File).where(or_(m.File.sha256 == sha256, m.File.blake2b_256 == blake2b_256))
        )
        if same_bytes is not None:
            raise AlreadyExists(file_exists_message(same_bytes.filename, same_bytes.blake2b_256))
        if s.get(m.FilenameRegistry, filename) is not None:
            raise InvalidArgument("This filename has already been used, use a different version.")
        return False

    def commit_file(
        self, caller: Caller, project_name: str, release: ReleaseData, file: FileData
    ) -> CommitResult:
        """Record an uploaded file in one transaction, creating project and release as needed.

        The database's unique constraints decide races: of concurrent commits of one filename,
        exactly one wins and the others get AlreadyExists (or `already_present` if identical).
        """
        normalized = validate_project_name(project_name)
        parsed = parse_version(release.version)
        if len(file.filename) > MAX_FILENAME_LENGTH:
            raise InvalidArgument("filename is too long")
        try:
            return self._commit(caller, project_name, normalized, parsed, release, file)
        except IntegrityError:
            pass
        # Lost a race: report what the winner left.
        with self._sessions() as s:
            identical = self._check_duplicate(s, file.filename, file.sha256, file.blake2b_256)
        if identical:
            return CommitResult(True, self.get_file(caller, normalized, file.filename), 0)
        raise AlreadyExists(file_exists_message(file.filename, file.blake2b_256))

    def _commit(
        self,
        caller: Caller,
        project_name: str,
        normalized: str,
        parsed: Version,
        release: ReleaseData,
        file: FileData,
    ) -> CommitResult:
        now = datetime.now(UTC)
        with self._sessions.begin() as s:
            project = self._find(s, normalized)
            if project is None:
                self._check_new_name(s, caller, normalized)
                project = m.Project(
                    id=str(uuid.uuid4()),
                    name=project_name,
                    normalized_name=normalized,
                    ultranormalized_name=ultranormalize(normalized),
                    visibility=self._default_visibility,
                    created=now,
                )
                s.add(project)
                s.flush()
                s.add(
                    m.Role(
                        project_id=project.id,
                        user_id=caller.user_id,
                        username=caller.username,
                        role="owner",
                    )
                )
                self._event(s, caller, project.id, "project.create", {"name": project_name})
            else:
                authorize(caller, self._facts(s, caller, project), Action.UPLOAD)
            if self._check_duplicate(s, file.filename, file.sha256, file.blake2b_256):
                existing = s.scalar(select(m.File).where(m.File.filename == file.filename))
                assert existing is not None
                rel = s.get(m.Release, existing.release_id)
                return CommitResult(True, _file(existing, rel.version if rel else "", project), 0)
            canonical = str(parsed)
            rel = s.scalar(
                select(m.Release).where(
                    m.Release.project_id == project.id, m.Release.canonical_version == canonical
                )
            )
            if rel is None:
                rel = m.Release(
                    id=str(uuid.uuid4()),
                    project_id=project.id,
                    version=release.version,
                    canonical_version=canonical,
                    is_prerelease=parsed.is_prerelease,
                    metadata_version=release.metadata_version,
                    summary=release.summary,
                    description=release.description,
                    description_content_type=release.description_content_type,
                    requires_python=release.requires_python,
                    requires_dist=json.dumps(list(release.requires_dist)),
                    extra_metadata=json.dumps(release.extra),
                    created=now,
                )
                s.add(rel)
                s.flush()
            row = m.File(
                id=str(uuid.uuid4()),
                project_id=project.id,
                release_id=rel.id,
                filename=file.filename,
                packagetype=file.packagetype,
                python_version=file.python_version,
                requires_python=file.requires_python,
                size=file.size,
                sha256=file.sha256,
                blake2b_256=file.blake2b_256,
                md5=file.md5,
                blob_key=file.blob_key,
                metadata_blob_key=file.metadata_blob_key,
                metadata_sha256=file.metadata_sha256,
                upload_time=now,
                uploader=caller.username,
            )
            s.add(row)
            s.add(m.FilenameRegistry(filename=file.filename, project_id=project.id, registered=now))
            serial = self._bump_serial(s, project)
            self._event(
                s,
                caller,
                project.id,
                "file.upload",
                {"filename": file.filename, "sha256": file.sha256},
            )
            s.flush()
            return CommitResult(False, _file(row, rel.version, project), serial)

    @staticmethod
    def _bump_serial(s: Session, project: m.Project) -> int:
        serial = s.scalar(
            update(m.Serial)
            .where(m.Serial.id == 1)
            .values(value=m.Serial.value + 1)
            .returning(m.Serial.value)
        )
        if serial is None:
            s.add(m.Serial(id=1, value=1))
            serial = 1
        project.last_serial = serial
        return serial

    @staticmethod
    def _event(
        s: Session, caller: Caller, project_id: str | None, kind: str, detail: dict[str, Any]
    ) -> None:
        s.add(
            m.Event(
                at=datetime.now(UTC),
                project_id=project_id,
                kind=kind,
                user=caller.username,
                token_id=caller.token_id,
                detail=json.dumps(detail),
            )
        )

    # ---- used by tools and tests -----------------------------------------------------------

    def can(self, caller: Caller, project_name: str, action: Action) -> bool:
        with self._sessions() as s:
            project = self._find(s, project_name)
            return project is not None and can(caller, self._facts(s, caller, project), action)
