"""The index's decisions for the upstream proxy: which names may come from an upstream, from
which one, which of their files, and who may read them. No transport here; docs/proxy.md.

A name that exists locally (any visibility), existed locally (a tombstone), or falls under a
reserved name or prefix is never served from an upstream, unless its project is on the merge
allow-list; the gateway fetches only what these decisions allow.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vestry.common.errors import InvalidArgument, NotFound, Unauthenticated
from vestry.common.upstream_settings import Upstream
from vestry.common.vocabulary import ProjectStatus
from vestry.services.index import models as m
from vestry.services.index import upstream_models as um
from vestry.services.index.access import Caller, require_admin
from vestry.services.index.names import normalize
from vestry.services.index.reserved import ReservedNames
from vestry.services.index.txn import keyset_pages, record_event, write_session

__all__ = [
    "RULES",
    "CachedFile",
    "Decision",
    "RuleData",
    "UpstreamConfig",
    "UpstreamDecisions",
    "record_tombstone",
]

RULES = ("exempt", "merge")
Outcome = Literal["local", "proxy", "merge"]


@dataclass(frozen=True)
class UpstreamConfig:
    upstreams: tuple[Upstream, ...] = ()
    cooldown_seconds: int = 0
    serve_undated: bool = True
    anonymous_read: bool = False


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str = ""  # why not proxied: local | tombstone | reserved | no-upstream
    upstream_url: str = ""
    cooldown_cutoff: datetime | None = None
    cooldown_seconds: int = 0
    serve_undated: bool = True
    exempt_until: datetime | None = None
    page_blob_key: str = ""
    page_fetched: datetime | None = None
    anonymous: bool = False
    cached_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class CachedFile:
    project_name: str
    filename: str
    metadata: bool
    blob_key: str
    sha256: str
    size: int
    upstream_url: str
    fetched: datetime
    upload_time: datetime | None = None


# What a cached file's row keeps under the record's names (the row also has its normalised
# project name, `is_metadata` for `metadata`, and when it was fetched).
_KEPT = ("filename", "blob_key", "sha256", "size", "upstream_url")


@dataclass(frozen=True)
class RuleData:
    project_name: str
    rule: str
    until: datetime | None
    created: datetime
    created_by: str


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def record_tombstone(s: Session, normalized: str) -> None:
    """Called in the transaction that deletes a local project: its name never goes upstream."""
    if s.get(um.Tombstone, normalized) is None:
        s.add(um.Tombstone(normalized_name=normalized, deleted=datetime.now(UTC)))


def _cached(row: um.UpstreamFile) -> CachedFile:
    fetched = _utc(row.fetched)
    assert fetched is not None
    return CachedFile(
        project_name=row.normalized_name,
        metadata=row.is_metadata,
        fetched=fetched,
        upload_time=_utc(row.upload_time),
        **{name: getattr(row, name) for name in _KEPT},
    )


class UpstreamDecisions:
    """The upstream proxy's part of the index: `decide`, cached files and pages, and the
    administrators' rules (cooldown exemptions, the merge allow-list)."""

    def __init__(
        self, sessions: sessionmaker[Session], reserved: ReservedNames, config: UpstreamConfig
    ) -> None:
        self._sessions = sessions
        self._reserved = reserved
        self._config = config

    @property
    def enabled(self) -> bool:
        """Whether any upstream is configured."""
        return bool(self._config.upstreams)

    def _route(self, normalized: str) -> Upstream | None:
        """The first upstream whose patterns admit the name: there is no fall-through to the
        next one on a 404, so a name routed to a private upstream never comes from PyPI."""
        return next((u for u in self._config.upstreams if u.serves(normalized)), None)

    @staticmethod
    def _rule(s: Session, normalized: str, rule: str, now: datetime) -> um.UpstreamRule | None:
        row = s.get(um.UpstreamRule, (normalized, rule))
        if row is None:
            return None
        until = _utc(row.until)
        return row if until is None or until > now else None

    def decide(self, caller: Caller, name: str) -> Decision:
        """Where `name`'s page comes from. Raises Unauthenticated when it would be proxied and
        proxied packages need a token; never for a local name (the local rules answer then).
        A reserved name or prefix (`ReservedNames.matching`) is never proxied."""
        normalized = normalize(name)
        cfg = self._config
        now = datetime.now(UTC)
        with self._sessions() as s:
            local = s.scalar(select(m.Project.id).where(m.Project.normalized_name == normalized))
            merge = self._rule(s, normalized, "merge", now) is not None
            if local is not None and not merge:
                return Decision("local", "local")
            upstream = self._route(normalized) if cfg.upstreams else None
            if upstream is None:
                return Decision("local", "no-upstream")
            if local is None:
                if s.get(um.Tombstone, normalized) is not None:
                    return Decision("local", "tombstone")
                if self._reserved.matching(s, normalized) is not None:
                    return Decision("local", "reserved")
            if not caller.authenticated and not cfg.anonymous_read:
                raise Unauthenticated("authentication required: use an API token")
            exempt = self._rule(s, normalized, "exempt", now)
            page = s.get(um.UpstreamPage, normalized)
            cutoff = None
            cached: tuple[str, ...] = ()
            if cfg.cooldown_seconds and exempt is None:
                cutoff = now - timedelta(seconds=cfg.cooldown_seconds)
                cached = tuple(
                    s.scalars(
                        select(um.UpstreamFile.filename).where(
                            um.UpstreamFile.normalized_name == normalized,
                            um.UpstreamFile.is_metadata.is_(False),
                        )
                    )
                )
            return Decision(
                "merge" if local is not None else "proxy",
                upstream_url=upstream.url,
                cooldown_cutoff=cutoff,
                cooldown_seconds=cfg.cooldown_seconds,
                serve_undated=cfg.serve_undated,
                exempt_until=_utc(exempt.until) if exempt is not None else None,
                page_blob_key=page.blob_key if page and page.upstream_url == upstream.url else "",
                page_fetched=_utc(page.fetched) if page else None,
                anonymous=cfg.anonymous_read,
                cached_files=cached,
            )

    def _may_read(self, caller: Caller) -> None:
        if not caller.authenticated and not self._config.anonymous_read:
            raise Unauthenticated("authentication required: use an API token")

    def get_file(self, caller: Caller, name: str, filename: str, metadata: bool) -> CachedFile:
        """A cached upstream file, whatever the name has become since (lock files pin URLs).
        Raises Unauthenticated (proxied packages need a token) or NotFound (never fetched, or
        the project is quarantined)."""
        self._may_read(caller)
        with self._sessions() as s:
            status = s.scalar(
                select(m.Project.status).where(m.Project.normalized_name == normalize(name))
            )
            # PEP 792: no files at all, cached ones included.
            if status == ProjectStatus.QUARANTINED:
                raise NotFound("the project is quarantined; its files are not available")
            row = s.scalar(
                select(um.UpstreamFile).where(
                    um.UpstreamFile.filename == filename,
                    um.UpstreamFile.is_metadata == metadata,
                    um.UpstreamFile.normalized_name == normalize(name),
                )
            )
            if row is None:
                raise NotFound("file not found")
            return _cached(row)

    def record_file(self, caller: Caller, f: CachedFile) -> CachedFile:
        """Record a verified upstream file; the first fetch of a distribution is an event. A
        concurrent record of the same file (another gateway) keeps the first, which is
        returned. Raises Unauthenticated or NotFound only in that race (as `get_file`)."""
        normalized = normalize(f.project_name)
        try:
            with write_session(self._sessions) as s:
                row = um.UpstreamFile(
                    normalized_name=normalized,
                    is_metadata=f.metadata,
                    fetched=datetime.now(UTC),
                    upload_time=f.upload_time,
                    **{name: getattr(f, name) for name in _KEPT},
                )
                s.add(row)
                s.flush()
                if not f.metadata:
                    project_id = s.scalar(
                        select(m.Project.id).where(m.Project.normalized_name == normalized)
                    )
                    record_event(
                        s,
                        caller,
                        project_id,
                        "upstream.fetch",
                        {
                            "name": normalized,
                            "filename": f.filename,
                            "sha256": f.sha256,
                            "upstream": f.upstream_url,
                        },
                    )
                return _cached(row)
        except IntegrityError:
            return self.get_file(caller, normalized, f.filename, f.metadata)

    def record_page(self, name: str, upstream_url: str, blob_key: str) -> None:
        """Keep the blob holding the last page fetched for `name` (served stale when the
        upstream fails); replaces the previous one. Raises nothing of its own."""
        normalized = normalize(name)
        with write_session(self._sessions) as s:
            row = s.get(um.UpstreamPage, normalized)
            if row is None:
                row = um.UpstreamPage(normalized_name=normalized)
                s.add(row)
            row.upstream_url, row.blob_key, row.fetched = upstream_url, blob_key, datetime.now(UTC)

    def set_rule(
        self, caller: Caller, name: str, rule: str, enabled: bool, until: datetime | None
    ) -> RuleData:
        """Add (or replace) or remove a cooldown exemption or a merge allow-list entry,
        recorded as an event. Raises Unauthenticated or PermissionDenied (not an
        administrator) or InvalidArgument (an unknown rule, or `until` not in the future)."""
        require_admin(caller, "change upstream rules")
        if rule not in RULES:
            raise InvalidArgument(f"rule is one of {', '.join(RULES)}")
        normalized = normalize(name)
        now = datetime.now(UTC)
        if until is not None and _utc(until) <= now:  # type: ignore[operator]
            raise InvalidArgument("--until must be in the future")
        with write_session(self._sessions) as s:
            project_id = s.scalar(
                select(m.Project.id).where(m.Project.normalized_name == normalized)
            )
            s.execute(
                delete(um.UpstreamRule).where(
                    um.UpstreamRule.normalized_name == normalized, um.UpstreamRule.rule == rule
                )
            )
            detail: dict[str, str] = {"name": normalized}
            if enabled:
                s.add(
                    um.UpstreamRule(
                        normalized_name=normalized,
                        rule=rule,
                        until=until,
                        created=now,
                        created_by=caller.username,
                    )
                )
                if until is not None:
                    detail["until"] = until.isoformat()
            kind = f"upstream.{rule}" if enabled else f"upstream.{rule}.remove"
            record_event(s, caller, project_id, kind, detail)
        return RuleData(normalized, rule, until, now, caller.username)

    def list_rules(self, caller: Caller) -> list[RuleData]:
        """Every rule, by name then rule. Raises Unauthenticated or PermissionDenied (not an
        administrator)."""
        require_admin(caller, "list upstream rules")
        with self._sessions() as s:
            rows = s.scalars(
                select(um.UpstreamRule).order_by(
                    um.UpstreamRule.normalized_name, um.UpstreamRule.rule
                )
            ).all()
            out = []
            for r in rows:
                created = _utc(r.created)
                assert created is not None
                out.append(
                    RuleData(r.normalized_name, r.rule, _utc(r.until), created, r.created_by)
                )
            return out


def upstream_blob_references(
    sessions: sessionmaker[Session], page: int = 1000
) -> Iterator[list[tuple[str, str, str, str, int]]]:
    """(blob_key, project, filename, sha256, size) of every cached upstream blob: files,
    metadata and kept pages, in pages; size 0 when not checked (pages)."""
    f = um.UpstreamFile
    files = select(f.id, f.blob_key, f.normalized_name, f.filename, f.sha256, f.size)
    for rows in keyset_pages(sessions, files, f.id, 0, page):
        yield [(r[1], r[2], r[3], r[4], r[5]) for r in rows]
    with sessions() as s:
        pages = s.execute(select(um.UpstreamPage.blob_key, um.UpstreamPage.normalized_name)).all()
    if pages:
        yield [(key, name, "(upstream page)", key, 0) for key, name in pages]
