"""Proto <-> domain conversions for the upstream proxy's RPCs."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from vestry.index.v1 import index_pb2

from vestry.common.protoconv import message_of
from vestry.services.index.upstream import CachedFile, Decision, RuleData

__all__ = ["cached_from_proto", "cached_to_proto", "decision_to_proto", "rule_to_proto", "when"]

_OUTCOMES = {
    "local": index_pb2.UpstreamDecision.LOCAL,
    "proxy": index_pb2.UpstreamDecision.PROXY,
    "merge": index_pb2.UpstreamDecision.MERGE,
}


def when(msg: object, field: str) -> datetime | None:
    """A Timestamp field read with its presence."""
    if not msg.HasField(field):  # type: ignore[attr-defined]
        return None
    ts: Timestamp = getattr(msg, field)
    return ts.ToDatetime(tzinfo=UTC)


def decision_to_proto(d: Decision) -> index_pb2.UpstreamDecision:
    return message_of(index_pb2.UpstreamDecision, d, outcome=_OUTCOMES[d.outcome])


def cached_to_proto(f: CachedFile) -> index_pb2.UpstreamFile:
    return message_of(index_pb2.UpstreamFile, f)


def cached_from_proto(f: index_pb2.UpstreamFile) -> CachedFile:
    return CachedFile(
        f.project_name,
        f.filename,
        f.metadata,
        f.blob_key,
        f.sha256,
        f.size,
        f.upstream_url,
        when(f, "fetched") or datetime.now(UTC),
        when(f, "upload_time"),
    )


def rule_to_proto(r: RuleData) -> index_pb2.UpstreamRule:
    return message_of(index_pb2.UpstreamRule, r)
