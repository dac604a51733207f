"""Reserved names: a name or a prefix (`acme-*`) that only one organisation may create.

Administrators reserve and release them; project creation checks them (`check`). Existing
projects are never affected.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vestry.common.errors import InvalidArgument, NotFound, PermissionDenied
from vestry.services.index import models as m
from vestry.services.index.access import Caller, require_admin
from vestry.services.index.names import (
    MAX_NAME_LENGTH,
    normalize,
    ultranormalize,
    validate_project_name,
)
from vestry.services.index.orgs import Organizations
from vestry.services.index.records import ReservedData
from vestry.services.index.txn import record_event, write_session

__all__ = ["ReservedNames", "normalize_pattern"]


def normalize_pattern(pattern: str) -> str:
    """A reserved name (`acme-tools`) or prefix (`acme-*`), PEP 503 normalised; raises
    InvalidArgument for anything else."""
    prefix = pattern.endswith("*")
    stem = pattern[:-1] if prefix else pattern
    # A prefix may end in a separator ("acme-*"), which a project name may not.
    probe = stem.rstrip("._-") if prefix else stem
    if not probe or len(stem) > MAX_NAME_LENGTH:
        raise InvalidArgument("a reserved pattern is a project name, or a name prefix ending in *")
    validate_project_name(probe)
    return normalize(stem) + ("*" if prefix else "")


class ReservedNames:
    def __init__(self, sessions: sessionmaker[Session], orgs: Organizations) -> None:
        self._sessions = sessions
        self._orgs = orgs

    def check(self, s: Session, caller: Caller, normalized: str) -> str | None:
        """The id of the organisation that reserved `normalized`, if the caller may create
        it for them (a member, or an administrator); None if no reservation matches. Raises
        PermissionDenied for anyone else."""
        # Look-alikes are matched too: "acmetools" or "acme-t0ols" must not slip past "acme-*".
        ultra = ultranormalize(normalized)
        for reserved in s.scalars(select(m.ReservedName)).all():
            pattern = reserved.pattern
            if pattern.endswith("*"):
                hit = ultra.startswith(ultranormalize(pattern[:-1]))
            else:
                hit = ultra == ultranormalize(pattern)
            if not hit:
                continue
            if caller.admin or self._orgs.is_member(s, caller, reserved.organization_id):
                return reserved.organization_id
            raise PermissionDenied(
                f"the name {normalized!r} is reserved ({pattern}); only its organisation "
                "may create it"
            )
        return None

    def reserve(self, caller: Caller, pattern: str, org_name: str) -> ReservedData:
        """Reserve a name or a prefix (`acme-*`) for an organisation: nobody else may create
        a project matching it. Existing projects are not affected.

        Returns the normalised reservation. Raises Unauthenticated or PermissionDenied (not an
        administrator), InvalidArgument (not a name or prefix) or NotFound (no such
        organisation).
        """
        require_admin(caller, "reserve names")
        normalized = normalize_pattern(pattern)
        with write_session(self._sessions) as s:
            org = s.scalar(select(m.Organization).where(m.Organization.name == normalize(org_name)))
            if org is None:
                raise NotFound(f"organisation {org_name!r} not found")
            row = s.get(m.ReservedName, normalized)
            if row is None:
                s.add(m.ReservedName(pattern=normalized, organization_id=org.id))
            else:
                row.organization_id = org.id
            record_event(
                s, caller, None, "name.reserve", {"pattern": normalized, "organization": org.name}
            )
        return ReservedData(normalized, org.name)

    def unreserve(self, caller: Caller, pattern: str) -> None:
        """Release a reservation. Raises Unauthenticated or PermissionDenied (not an
        administrator), InvalidArgument (not a name or prefix) or NotFound (not reserved)."""
        require_admin(caller, "release reserved names")
        normalized = normalize_pattern(pattern)
        with write_session(self._sessions) as s:
            row = s.get(m.ReservedName, normalized)
            if row is None:
                raise NotFound(f"{normalized!r} is not reserved")
            s.delete(row)
            record_event(s, caller, None, "name.unreserve", {"pattern": normalized})

    def list_reserved(self, caller: Caller) -> list[ReservedData]:
        """Every reservation, by pattern. Raises Unauthenticated or PermissionDenied (not an
        administrator)."""
        require_admin(caller, "list reserved names")
        with self._sessions() as s:
            rows = s.execute(
                select(m.ReservedName.pattern, m.Organization.name)
                .outerjoin(m.Organization, m.Organization.id == m.ReservedName.organization_id)
                .order_by(m.ReservedName.pattern)
            ).all()
        return [ReservedData(p, o or "") for p, o in rows]
