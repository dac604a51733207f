"""Conversions between proto messages and plain Python that every service's adapter needs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

__all__ = ["iso_utc", "message_of", "optional_set", "timestamp", "utc_datetime"]

M = TypeVar("M", bound=Message)


def timestamp(value: datetime | None) -> Timestamp | None:
    """A proto Timestamp, or None (field left unset); naive datetimes are taken as UTC."""
    if value is None:
        return None
    out = Timestamp()
    out.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return out


def message_of(message: type[M], source: object, **overrides: Any) -> M:
    """A `message` whose every field is `source`'s attribute of the same name, but for those in
    `overrides`: a record and its proto share their field names, written once, in the .proto.

    A datetime becomes a Timestamp and None leaves a field unset. A field `source` lacks is an
    AttributeError, not a silent default: such a field must be given in `overrides`.
    """
    values = {
        f.name: getattr(source, f.name)
        for f in message.DESCRIPTOR.fields
        if f.name not in overrides
    }
    values.update(overrides)
    return message(
        **{
            name: timestamp(value) if isinstance(value, datetime) else value
            for name, value in values.items()
            if value is not None
        }
    )


def utc_datetime(ts: Timestamp) -> datetime | None:
    """The instant as a naive UTC datetime, or None for an unset (all-zero) Timestamp.

    Naive on purpose: pydantic writes it without an offset, as the management API always has.
    """
    return ts.ToDatetime() if ts.seconds or ts.nanos else None


def iso_utc(ts: Timestamp, *, fraction: bool = True) -> str:
    """ISO 8601 in UTC with a `Z`: `yyyy-mm-ddThh:mm:ss.ffffffZ` (PEP 700's form), or whole
    seconds with `fraction=False`."""
    return ts.ToDatetime().strftime("%Y-%m-%dT%H:%M:%S.%fZ" if fraction else "%Y-%m-%dT%H:%M:%SZ")


def optional_set(msg: Any, field: str) -> frozenset[str] | None:
    """A `StringSet` field read with its presence: None when unset ("not restricted"), else the
    values (possibly none: "nothing")."""
    if not msg.HasField(field):
        return None
    return frozenset(getattr(msg, field).values)
