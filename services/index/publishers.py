"""Trusted publishers: the CI jobs (GitHub Actions, GitLab CI, a generic OIDC issuer) that may
publish a project without a stored secret.

A publisher names an issuer and the claims a job's OIDC token must carry. Owners manage them;
the OIDC exchange asks which publishers a verified token matches, and every upload with the
minted token asks again whether one of its publishers still exists (`roles_of`), so removing a
publisher stops its tokens with the same commit.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from vestry.common.errors import InvalidArgument, NotFound
from vestry.services.index import models as m
from vestry.services.index.access import PUBLISHER_ROLE, Action, Caller, ProjectFacts, authorize
from vestry.services.index.names import normalize
from vestry.services.index.txn import bump_serial, record_event, write_session

__all__ = [
    "GITHUB",
    "GITLAB",
    "PublisherData",
    "PublisherMatch",
    "TrustedPublisher",
    "TrustedPublishers",
    "match_reason",
    "validate_publisher",
]

GITHUB, GITLAB = "github", "gitlab"
MAX_PUBLISHERS_PER_PROJECT = 50
_ISSUER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}\Z")
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}\Z")
_GITLAB_PROJECT = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+\Z")
_WORKFLOW = re.compile(r"^[^/\\\x00-\x1f\x7f]{1,200}\.ya?ml\Z")
_CLAIM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ALLOWED = {
    GITHUB: ({"repository", "workflow"}, {"environment"}),
    GITLAB: ({"project"}, {"workflow", "environment", "ref"}),
}


class TrustedPublisher(m.Base):
    __tablename__ = "trusted_publishers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    issuer: Mapped[str] = mapped_column(String(50))
    # What a token is looked up by: the repository / project path, lowercased ("" for generic).
    lookup: Mapped[str] = mapped_column(String(300), index=True)
    claims: Mapped[str] = mapped_column(Text)  # JSON object, as validated
    created_by_id: Mapped[str] = mapped_column(String(36))
    created_by: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class PublisherData:
    id: str
    project_name: str
    issuer: str
    claims: dict[str, str]
    created_by: str
    created: datetime


@dataclass(frozen=True)
class PublisherMatch:
    publisher_id: str
    project_id: str
    project_name: str  # normalised
    created_by_id: str


def _text(value: str, what: str, limit: int = 255) -> str:
    if not value or len(value) > limit or _CONTROL.search(value) or value != value.strip():
        raise InvalidArgument(f"{what}: 1-{limit} characters, without control characters")
    return value


def validate_publisher(issuer: str, claims: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """The publisher's claims, checked, and its lookup key. Raises InvalidArgument."""
    if not _ISSUER.match(issuer or ""):
        raise InvalidArgument("issuer: github, gitlab, or a generic issuer's name")
    claims = {k: v for k, v in claims.items() if v != ""}
    if issuer in _ALLOWED:
        required, optional = _ALLOWED[issuer]
        missing, unknown = required - set(claims), set(claims) - required - optional
        if missing or unknown:
            raise InvalidArgument(
                f"a {issuer} publisher takes {', '.join(sorted(required))} and optionally "
                f"{', '.join(sorted(optional))}"
            )
    elif not claims or len(claims) > 20:
        raise InvalidArgument("a generic issuer's publisher names 1-20 claims and their values")
    out: dict[str, str] = {}
    for key, value in claims.items():
        if not _CLAIM_NAME.match(key):
            raise InvalidArgument(f"claim names are identifiers, not {key[:64]!r}")
        out[key] = _text(value, key, 500)
    if issuer == GITHUB:
        if not _GITHUB_REPO.match(out["repository"]):
            raise InvalidArgument("repository: OWNER/REPO, as on GitHub")
        if not _WORKFLOW.match(out["workflow"]):
            raise InvalidArgument("workflow: the workflow's file name, e.g. publish.yml")
        return out, out["repository"].lower()
    if issuer == GITLAB:
        if not _GITLAB_PROJECT.match(out["project"]):
            raise InvalidArgument("project: GROUP/PROJECT (with any subgroups), as on GitLab")
        if "workflow" in out and not out["workflow"].endswith((".yml", ".yaml")):
            raise InvalidArgument("workflow: the CI file's path, e.g. .gitlab-ci.yml")
        return out, out["project"].lower()
    return out, ""


def _claim(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    return value if isinstance(value, str) else ""


def _workflow_of(job_workflow_ref: str, repository: str) -> str:
    # OWNER/REPO/.github/workflows/FILE@REF; a reusable workflow of another repository is not
    # this repository's workflow.
    path = job_workflow_ref.partition("@")[0]
    prefix = f"{repository}/.github/workflows/"
    return path[len(prefix) :] if path.lower().startswith(prefix.lower()) else ""


def match_reason(issuer: str, publisher: Mapping[str, str], claims: Mapping[str, Any]) -> str:
    """Why `claims` (verified) do not match `publisher`; "" when they do."""
    if issuer == GITHUB:
        repository = _claim(claims, "repository")
        if repository.lower() != publisher["repository"].lower():
            return f"repository {repository!r} is not this publisher's"
        workflow = _workflow_of(_claim(claims, "job_workflow_ref"), repository)
        if workflow != publisher["workflow"]:
            return f"workflow {workflow or _claim(claims, 'job_workflow_ref')!r} is not trusted"
    elif issuer == GITLAB:
        project = _claim(claims, "project_path")
        if project.lower() != publisher["project"].lower():
            return f"project {project!r} is not this publisher's"
        if "workflow" in publisher:
            # host/GROUP/PROJECT//PATH@REF
            ref_uri = _claim(claims, "ci_config_ref_uri")
            workflow = ref_uri.partition("//")[2].partition("@")[0]
            if workflow != publisher["workflow"]:
                return f"CI file {workflow!r} is not trusted"
        # "main" or "refs/heads/main": GitLab sends both forms (ref, ref_path).
        refs = (_claim(claims, "ref"), _claim(claims, "ref_path"))
        if "ref" in publisher and publisher["ref"] not in refs:
            return f"ref {refs[1] or refs[0]!r} is not trusted"
    else:
        for name, value in publisher.items():
            if str(claims.get(name, "")) != value:
                return f"claim {name!r} does not have the trusted value"
    if issuer in (GITHUB, GITLAB) and "environment" in publisher:
        environment = _claim(claims, "environment")
        if environment.lower() != publisher["environment"].lower():
            return f"environment {environment!r} is not trusted"
    return ""


def _data(row: TrustedPublisher, project_name: str) -> PublisherData:
    created = row.created if row.created.tzinfo else row.created.replace(tzinfo=UTC)
    return PublisherData(
        row.id, project_name, row.issuer, json.loads(row.claims), row.created_by, created
    )


def _lookup_of(issuer: str, claims: Mapping[str, Any]) -> str:
    if issuer == GITHUB:
        return _claim(claims, "repository").lower()
    if issuer == GITLAB:
        return _claim(claims, "project_path").lower()
    return ""


def roles_of(s: Session, caller: Caller, project_id: str) -> frozenset[str]:
    """The roles of a trusted publisher's token on a project: PUBLISHER_ROLE while one of its
    publishers is still a publisher of the project, else none."""
    ids = caller.token_publisher_ids or frozenset()
    live = s.scalar(
        select(TrustedPublisher.id).where(
            TrustedPublisher.project_id == project_id, TrustedPublisher.id.in_(ids)
        )
    )
    return frozenset({PUBLISHER_ROLE}) if live is not None else frozenset()


class TrustedPublishers:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        facts: Callable[[Session, Caller, m.Project], ProjectFacts],
    ) -> None:
        self._sessions = sessions
        self._facts = facts

    def _project(self, s: Session, caller: Caller, name: str) -> m.Project:
        project = s.scalar(select(m.Project).where(m.Project.normalized_name == normalize(name)))
        authorize(caller, self._facts(s, caller, project) if project else None, Action.READ)
        assert project is not None
        authorize(caller, self._facts(s, caller, project), Action.MANAGE_ROLES)
        return project

    def add(
        self, caller: Caller, project_name: str, issuer: str, claims: Mapping[str, str]
    ) -> PublisherData:
        """Add a trusted publisher to a project (owners only). Raises InvalidArgument (bad or
        duplicate publisher), NotFound, PermissionDenied or Unauthenticated."""
        checked, lookup = validate_publisher(issuer, claims)
        with write_session(self._sessions) as s:
            project = self._project(s, caller, project_name)
            existing = s.scalars(
                select(TrustedPublisher).where(TrustedPublisher.project_id == project.id)
            ).all()
            if any(p.issuer == issuer and json.loads(p.claims) == checked for p in existing):
                raise InvalidArgument("this trusted publisher is already configured")
            if len(existing) >= MAX_PUBLISHERS_PER_PROJECT:
                raise InvalidArgument(
                    f"a project has at most {MAX_PUBLISHERS_PER_PROJECT} trusted publishers"
                )
            row = TrustedPublisher(
                id=str(uuid.uuid4()),
                project_id=project.id,
                issuer=issuer,
                lookup=lookup,
                claims=json.dumps(checked, sort_keys=True),
                created_by_id=caller.user_id,
                created_by=caller.username,
                created=datetime.now(UTC),
            )
            s.add(row)
            bump_serial(s, None)
            record_event(
                s,
                caller,
                project.id,
                "trusted-publisher.add",
                {"id": row.id, "issuer": issuer, "claims": checked},
            )
            return _data(row, project.name)

    def of_project(self, caller: Caller, project_name: str) -> list[PublisherData]:
        with self._sessions() as s:
            project = self._project(s, caller, project_name)
            rows = s.scalars(
                select(TrustedPublisher)
                .where(TrustedPublisher.project_id == project.id)
                .order_by(TrustedPublisher.created, TrustedPublisher.id)
            ).all()
            return [_data(r, project.name) for r in rows]

    def remove(self, caller: Caller, project_name: str, publisher_id: str) -> int:
        """Remove a publisher: its tokens stop working at once. Returns the global serial."""
        with write_session(self._sessions) as s:
            project = self._project(s, caller, project_name)
            gone = s.execute(
                delete(TrustedPublisher).where(
                    TrustedPublisher.project_id == project.id,
                    TrustedPublisher.id == publisher_id[:36],
                )
            )
            if not gone.rowcount:  # type: ignore[attr-defined]
                raise NotFound("no such trusted publisher on this project")
            record_event(s, caller, project.id, "trusted-publisher.remove", {"id": publisher_id})
            return bump_serial(s, None)

    def match(self, issuer: str, claims: Mapping[str, Any]) -> list[PublisherMatch]:
        """The publishers whose configuration `claims` (verified by auth) satisfy.

        Raises NotFound naming the claim that did not match the closest publisher. Each match
        is recorded as an event on its project.
        """
        lookup = _lookup_of(issuer, claims)
        with write_session(self._sessions) as s:
            rows = s.execute(
                select(TrustedPublisher, m.Project.normalized_name)
                .join(m.Project, m.Project.id == TrustedPublisher.project_id)
                .where(TrustedPublisher.issuer == issuer, TrustedPublisher.lookup == lookup)
                .order_by(TrustedPublisher.created, TrustedPublisher.id)
            ).all()
            matches: list[PublisherMatch] = []
            reasons: list[str] = []
            for row, project_name in rows:
                reason = match_reason(issuer, json.loads(row.claims), claims)
                if reason:
                    reasons.append(reason)
                    continue
                matches.append(
                    PublisherMatch(row.id, row.project_id, project_name, row.created_by_id)
                )
            if not matches:
                where = f" for {lookup!r}" if lookup else ""
                raise NotFound(
                    f"no trusted publisher of issuer {issuer!r}{where} matches the token"
                    + (f": {reasons[0]}" if reasons else "")
                )
            who = Caller(authenticated=True, username=f"{issuer}:{_claim(claims, 'sub')}"[:100])
            for match in matches:
                record_event(
                    s,
                    who,
                    match.project_id,
                    "trusted-publisher.exchange",
                    {"publisher": match.publisher_id, "jti": _claim(claims, "jti")[:200]},
                )
            return matches
