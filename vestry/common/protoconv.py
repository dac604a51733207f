"""Conversions between proto messages and plain Python that every service's adapter needs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

__all__ = ["optional_set", "timestamp"]


def timestamp(value: datetime | None) -> Timestamp | None:
    """A proto Timestamp, or None (field left unset); naive datetimes are taken as UTC."""
    if value is None:
        return None
    out = Timestamp()
    out.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return out


def optional_set(msg: Any, field: str) -> frozenset[str] | None:
    """A `StringSet` field read with its presence: None when unset ("not restricted"), else the
    values (possibly none: "nothing")."""
    if not msg.HasField(field):
        return None
    return frozenset(getattr(msg, field).values)
