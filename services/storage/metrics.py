"""The storage service's own metrics (its gRPC calls are counted by the shared server wrapper)."""

from __future__ import annotations

from prometheus_client import Counter

__all__ = ["BYTES_SENT", "BYTES_STORED", "SHARED_FILES"]

BYTES_STORED = Counter("vestry_storage_stored_bytes_total", "Bytes of blobs stored by PutBlob.")
BYTES_SENT = Counter("vestry_storage_sent_bytes_total", "Bytes of blobs sent by GetBlob.")
SHARED_FILES = Counter(
    "vestry_storage_shared_files_total",
    "Blobs PutBlob took from a file its caller wrote into the spool (a shared volume), "
    "not from streamed bytes.",
)
