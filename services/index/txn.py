"""Write transactions of the index: one writer at a time, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Row, Select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from vestry.services.index import models as m
from vestry.services.index.access import Caller

__all__ = ["bump_serial", "keyset_pages", "record_event", "write_session"]


Ts = TypeVarTuple("Ts")


def keyset_pages(
    sessions: sessionmaker[Session],
    query: Select[*Ts],
    key: InstrumentedAttribute[Any],
    after: Any,
    page: int,
) -> Iterator[Sequence[Row[*Ts]]]:
    """The rows of `query`, whose first column is `key`, in pages of `page` rows after
    `after`, ordered by `key`. Each page is read in its own short transaction (keyset on
    `key`), so a long listing never holds a database snapshot open."""
    while True:
        with sessions() as s:
            rows = s.execute(query.where(key > after).order_by(key).limit(page)).all()
        if not rows:
            return
        last: Any = rows[-1]  # its first column is `key`
        after = last[0]
        yield rows


@contextmanager
def write_session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction that first takes the index's write lock (the global-serial row).

    Why a lock: SQLite cannot upgrade a read snapshot to a write once another writer committed
    (SQLITE_BUSY_SNAPSHOT, which its busy timeout does not retry), so a write transaction must
    write first. And rules no unique constraint can express (a name "too similar" to another
    project, the last owner of a project) need writers to see each other's commits. Index
    writes are small and short, so serialising them costs little.
    """
    with sessions.begin() as s:
        # Taking the lock also moves the global serial: every committed write, whatever it
        # touched (a role, a team, an organisation), shows as a new serial, which is what lets
        # callers reuse an answer computed at an older one. A rolled-back write moves nothing.
        s.info["serial"] = s.scalar(
            update(m.Serial)
            .where(m.Serial.id == 1)
            .values(value=m.Serial.value + 1)
            .returning(m.Serial.value)
        )
        yield s


def bump_serial(s: Session, project: m.Project | None) -> int:
    """The transaction's global serial, also given to the project (it keys every cache of the
    project's page). Inside `write_session` the serial has already moved once for this write."""
    serial = s.info.get("serial")
    if serial is not None:
        if project is not None:
            project.last_serial = serial
        return int(serial)
    serial = s.scalar(
        update(m.Serial)
        .where(m.Serial.id == 1)
        .values(value=m.Serial.value + 1)
        .returning(m.Serial.value)
    )
    if serial is None:
        s.add(m.Serial(id=1, value=1))
        serial = 1
    if project is not None:
        project.last_serial = serial
    return serial


def record_event(
    s: Session, caller: Caller, project_id: str | None, kind: str, detail: dict[str, Any]
) -> None:
    s.add(
        m.Event(
            at=datetime.now(UTC),
            project_id=project_id,
            kind=kind,
            user=caller.username,
            token_id=caller.token_id,
            detail=json.dumps(detail, sort_keys=True),
        )
    )
