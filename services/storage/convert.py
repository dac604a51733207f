"""Proto <-> domain conversions for the storage service."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from vestry.storage.v1 import storage_pb2

from vestry.common.errors import InvalidArgument
from vestry.services.storage.blobstore import BlobInfo, StoredBlob

__all__ = ["blob_info_to_proto", "modified_before_from_proto", "stored_blob_to_proto"]


def blob_info_to_proto(info: BlobInfo) -> storage_pb2.BlobInfo:
    return storage_pb2.BlobInfo(
        key=info.key, size=info.size, sha256=info.sha256, blake2b_256=info.blake2b_256, md5=info.md5
    )


def stored_blob_to_proto(blob: StoredBlob) -> storage_pb2.StoredBlob:
    modified = Timestamp()
    modified.FromNanoseconds(int(blob.modified * 1e9))
    return storage_pb2.StoredBlob(key=blob.key, size=blob.size, modified=modified)


def modified_before_from_proto(request: storage_pb2.DeleteIfOlderRequest) -> float:
    """The cutoff of a DeleteIfOlder, in seconds since the epoch; the field is required."""
    if not request.HasField("modified_before"):
        raise InvalidArgument("DeleteIfOlder needs modified_before")
    return request.modified_before.ToNanoseconds() / 1e9
