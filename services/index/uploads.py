"""Uploads: whether one may go ahead (before any bytes move), and committing the file."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime

from packaging.version import Version
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vestry.common.errors import (
    InvalidArgument,
    PermissionDenied,
)
from vestry.common.filenames import check_filename_characters
from vestry.common.versions import parse_version
from vestry.common.vocabulary import ProjectRole, ProjectStatus
from vestry.services.index import models as m
from vestry.services.index.access import (
    Action,
    Caller,
    ProjectFacts,
    authorize,
    can,
    may_create,
    sees,
)
from vestry.services.index.errors import (
    FileExists,
    FilenameUsedBefore,
    NameNotAvailable,
    NoUploads,
)
from vestry.services.index.names import ultranormalize, validate_project_name
from vestry.services.index.pages import Pages
from vestry.services.index.records import (
    CommitResult,
    FileData,
    ReleaseData,
    UploadCheck,
    file_fields,
    release_fields,
)
from vestry.services.index.reserved import ReservedNames
from vestry.services.index.roles import Roles
from vestry.services.index.rows import file_data
from vestry.services.index.txn import bump_serial, record_event, write_session

__all__ = ["Uploads"]

log = logging.getLogger(__name__)
_NO_UPLOADS = (ProjectStatus.ARCHIVED, ProjectStatus.QUARANTINED)


class Uploads:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        roles: Roles,
        reserved: ReservedNames,
        pages: Pages,
        default_visibility: str,
        *,
        allow_local_versions: bool = True,
    ) -> None:
        self._sessions = sessions
        self._roles = roles
        self._reserved = reserved
        self._pages = pages
        self._default_visibility = default_visibility
        self._allow_local = allow_local_versions

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

        Returns whether it is an identical re-upload, and whether (and as what) the project
        exists already. Raises Unauthenticated, PermissionDenied,
        InvalidArgument (bad name/version/filename, filename used before), FailedPrecondition
        (archived or quarantined project) or AlreadyExists.
        """
        normalized = validate_project_name(project_name)
        parse_version(version, allow_local=self._allow_local)
        check_filename_characters(filename)
        with self._sessions() as s:
            seen = self._visible(s, caller, normalized)
            if seen is None:
                self._check_new_name(s, caller, normalized)
                exists, project_id, name = False, "", project_name
            else:
                project, facts = seen
                authorize(caller, facts, Action.UPLOAD)
                self._check_accepts_uploads(project)
                exists, project_id, name = True, project.id, project.name
            identical = self._check_duplicate(s, caller, filename, sha256, blake2b_256)
        return UploadCheck(identical, exists, project_id, name)

    def _visible(
        self, s: Session, caller: Caller, normalized: str
    ) -> tuple[m.Project, ProjectFacts] | None:
        """The project of that name and the caller's facts on it (for `authorize`, read once)
        if the caller may see it (read it, or upload to it); None if there is none or the
        caller may not see it: an upload must not tell these apart (`_check_new_name` then
        refuses a taken name exactly as it refuses a look-alike of an unseen project)."""
        project = self._roles.find(s, normalized)
        if project is None:
            return None
        facts = self._roles.facts(s, caller, project)
        return (project, facts) if sees(caller, facts, Action.UPLOAD) else None

    @staticmethod
    def _check_accepts_uploads(project: m.Project) -> None:
        if project.status in _NO_UPLOADS:
            raise NoUploads(project.normalized_name, project.status)

    def _check_new_name(self, s: Session, caller: Caller, normalized: str) -> str | None:
        """Raise unless `caller` may register `normalized`; return the organisation that
        reserved it, if any (the new project belongs to it).

        A project of this name that the caller cannot see counts as a look-alike they cannot
        see: the answer for a taken private name is the answer for a free one that is refused.
        Only a look-alike the caller may read is named.
        """
        reason = may_create(caller, normalized)
        if reason:
            raise PermissionDenied(reason)
        unseen = False
        for similar in s.scalars(
            select(m.Project)
            .where(m.Project.ultranormalized_name == ultranormalize(normalized))
            .order_by(m.Project.normalized_name)
        ).all():
            taken = similar.normalized_name == normalized
            # Look-alikes of one's own project are allowed; of anyone else's, never.
            facts = self._roles.facts(s, caller, similar)
            if not taken and (caller.admin or ProjectRole.OWNER in facts.roles):
                continue
            if taken or not can(caller, facts, Action.READ):
                unseen = True
                continue
            raise InvalidArgument(
                f"the name {normalized!r} is too similar to an existing project "
                f"({similar.normalized_name!r}); choose a different name"
            )
        org_id = self._reserved.check(s, caller, normalized)
        if unseen:
            raise NameNotAvailable(normalized)
        return org_id

    def _check_duplicate(
        self, s: Session, caller: Caller, filename: str, sha256: str, blake2b_256: str
    ) -> bool:
        """True for an identical re-upload; raise AlreadyExists (same name or same bytes) or
        InvalidArgument (a filename used before) for any other clash.

        A clashing file of a project the caller cannot read is not named: the answer then
        carries the caller's own filename and digest, as PyPI's does."""
        # One query for both clashes (each column is unique: at most three rows).
        clashes = s.scalars(
            select(m.File).where(
                or_(
                    m.File.filename == filename,
                    m.File.sha256 == sha256,
                    m.File.blake2b_256 == blake2b_256,
                )
            )
        ).all()
        same_name = next((f for f in clashes if f.filename == filename), None)
        if same_name is not None:
            if same_name.sha256 == sha256:
                return True
            shown = blake2b_256 if self._hidden(s, caller, same_name) else same_name.blake2b_256
            raise FileExists(filename, shown)
        same_bytes = next(
            (f for f in clashes if f.sha256 == sha256 or f.blake2b_256 == blake2b_256), None
        )
        if same_bytes is not None:
            if self._hidden(s, caller, same_bytes):
                raise FileExists(filename, blake2b_256)
            raise FileExists(same_bytes.filename, same_bytes.blake2b_256)
        if s.get(m.FilenameRegistry, filename) is not None:
            raise FilenameUsedBefore()
        return False

    def _hidden(self, s: Session, caller: Caller, file: m.File) -> bool:
        project = s.get(m.Project, file.project_id)
        return project is None or not can(
            caller, self._roles.facts(s, caller, project), Action.READ
        )

    def commit_file(
        self, caller: Caller, project_name: str, release: ReleaseData, file: FileData
    ) -> CommitResult:
        """Record an uploaded file in one transaction, creating project and release as needed.

        Writers are serialised and the database's unique constraints back that up: of
        concurrent commits of one filename, exactly one wins and the others get AlreadyExists
        (or `already_present` if identical).

        Returns the file as recorded and the new serial (0 when it was already present).
        Raises what `check_upload` raises.
        """
        normalized = validate_project_name(project_name)
        parsed = parse_version(release.version, allow_local=self._allow_local)
        check_filename_characters(file.filename)
        try:
            return self._commit(caller, project_name, normalized, parsed, release, file)
        except IntegrityError:
            log.info("commit of %s lost a race; reporting the winner", file.filename)
        with self._sessions() as s:
            identical = self._check_duplicate(
                s, caller, file.filename, file.sha256, file.blake2b_256
            )
        if identical:
            return CommitResult(True, self._pages.get_file(caller, normalized, file.filename), 0)
        raise FileExists(file.filename, file.blake2b_256)

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
        with write_session(self._sessions) as s:
            seen = self._visible(s, caller, normalized)
            if seen is None:
                org_id = self._check_new_name(s, caller, normalized)
                project = m.Project(
                    id=str(uuid.uuid4()),
                    name=project_name,
                    normalized_name=normalized,
                    ultranormalized_name=ultranormalize(normalized),
                    visibility=self._default_visibility,
                    status="active",
                    status_reason="",
                    organization_id=org_id,
                    last_serial=0,
                    created=now,
                )
                s.add(project)
                s.flush()
                s.add(m.Role(project_id=project.id, role=ProjectRole.OWNER, **caller.as_member()))
                record_event(s, caller, project.id, "project.create", {"name": project_name})
            else:
                project, facts = seen
                authorize(caller, facts, Action.UPLOAD)
                self._check_accepts_uploads(project)
            if self._check_duplicate(s, caller, file.filename, file.sha256, file.blake2b_256):
                existing = s.scalar(select(m.File).where(m.File.filename == file.filename))
                assert existing is not None
                rel = s.get(m.Release, existing.release_id)
                return CommitResult(
                    True, file_data(existing, rel.version if rel else "", project), 0
                )
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
                    **release_fields(release),
                    canonical_version=canonical,
                    is_prerelease=parsed.is_prerelease,
                    requires_dist=json.dumps(list(release.requires_dist)),
                    extra_metadata=json.dumps(release.extra),
                    yanked=False,
                    yanked_reason="",
                    created=now,
                )
                s.add(rel)
                s.flush()
            row = m.File(
                id=str(uuid.uuid4()),
                project_id=project.id,
                release_id=rel.id,
                **file_fields(file),
                upload_time=now,
                uploader=caller.username,
                # A file added to a yanked release is yanked with it.
                yanked=rel.yanked,
                yanked_reason=rel.yanked_reason,
            )
            s.add(row)
            s.add(m.FilenameRegistry(filename=file.filename, project_id=project.id, registered=now))
            serial = bump_serial(s, project)
            record_event(
                s,
                caller,
                project.id,
                "file.upload",
                {"filename": file.filename, "sha256": file.sha256, "version": rel.version},
            )
            s.flush()
            return CommitResult(False, file_data(row, rel.version, project), serial)
