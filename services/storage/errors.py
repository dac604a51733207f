"""The storage domain's own errors; each maps to a gRPC status through its base class."""

from __future__ import annotations

from vestry.common.errors import InvalidArgument, NotFound, ResourceExhausted

__all__ = ["BlobNotFound", "BlobTooLarge", "DigestMismatch", "DiskFull", "SharedFileNotFound"]


class BlobNotFound(NotFound):
    pass


class BlobTooLarge(ResourceExhausted):
    pass


class DiskFull(ResourceExhausted):
    pass


class DigestMismatch(InvalidArgument):
    pass


class SharedFileNotFound(NotFound):
    """PutBlob's shared file is not in this service's spool: the caller does not share the
    volume after all, and streams the bytes instead."""
