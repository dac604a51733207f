"""The storage port: content-addressed blobs, and the streaming digest check all backends share."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from vestry.common.errors import InvalidArgument, NotFound, ResourceExhausted

__all__ = [
    "BlobInfo",
    "BlobNotFound",
    "BlobStore",
    "BlobTooLarge",
    "DigestMismatch",
    "IncomingBlob",
    "blob_path",
    "validate_key",
]

_KEY = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFound(NotFound):
    pass


class BlobTooLarge(ResourceExhausted):
    pass


class DigestMismatch(InvalidArgument):
    pass


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    sha256: str
    blake2b_256: str = ""
    md5: str = ""


def validate_key(key: str) -> str:
    """A key is a lowercase sha256 hex digest and nothing else: no path can hide in it."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidArgument("a blob key is a lowercase sha256 hex digest")
    return key


def blob_path(key: str) -> str:
    """Relative location of a blob: fanned out two levels so no directory grows too large."""
    validate_key(key)
    return f"{key[0:2]}/{key[2:4]}/{key}"


class IncomingBlob:
    """Bytes arriving for a new blob: spooled to a temp file while all three digests run.

    Backends take the finished temp file; a rejected or abandoned upload leaves nothing.
    """

    def __init__(
        self, tmp_dir: str, max_size: int, expected_sha256: str = "", expected_size: int = 0
    ) -> None:
        os.makedirs(tmp_dir, exist_ok=True)
        fd, self.path = tempfile.mkstemp(dir=tmp_dir, prefix="incoming-")
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self._max = max_size
        self._expected_sha256 = expected_sha256
        self._expected_size = expected_size
        self.size = 0
        self._sha256 = hashlib.sha256()
        self._blake2b = hashlib.blake2b(digest_size=32)
        self._md5 = hashlib.md5(usedforsecurity=False)

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._max:
            raise BlobTooLarge(f"blob exceeds the size limit of {self._max} bytes")
        self._sha256.update(chunk)
        self._blake2b.update(chunk)
        self._md5.update(chunk)
        self.file.write(chunk)

    def finish(self) -> BlobInfo:
        """Flush to disk and check the expectations; raises DigestMismatch."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        info = BlobInfo(
            self._sha256.hexdigest(),
            self.size,
            self._sha256.hexdigest(),
            self._blake2b.hexdigest(),
            self._md5.hexdigest(),
        )
        if self._expected_sha256 and self._expected_sha256 != info.sha256:
            raise DigestMismatch("the sha256 of the received bytes does not match the expected one")
        if self._expected_size and self._expected_size != info.size:
            raise DigestMismatch(f"received {info.size} bytes, expected {self._expected_size}")
        return info

    def discard(self) -> None:
        if not self.file.closed:
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class BlobStore(Protocol):
    """One implementation per backend (`LocalBlobStore`, `S3BlobStore`)."""

    def tmp_dir(self) -> str:
        """Where `IncomingBlob`s spool."""

    def commit(self, incoming: IncomingBlob, info: BlobInfo) -> BlobInfo:
        """Make the finished incoming blob visible under `info.key` (idempotent)."""

    def open_range(
        self, key: str, offset: int = 0, length: int = 0, chunk_size: int = 1 << 20
    ) -> tuple[BlobInfo, Iterator[bytes]]:
        """The blob's info and an iterator over its bytes; raises BlobNotFound."""

    def stat(self, key: str) -> BlobInfo: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> bool: ...

    def presign_get(self, key: str, expires_seconds: int, filename: str = "") -> str:
        """A short-lived URL, or "" when the backend cannot presign."""

    def iter_keys(self) -> Iterator[tuple[str, float]]:
        """Every stored key with its modification time (for gc)."""


def check_range(size: int, offset: int, length: int) -> int:
    """Validate a byte range against a blob size; return the number of bytes to send."""
    if offset < 0 or length < 0:
        raise InvalidArgument("offset and length are non-negative")
    if offset > size:
        raise InvalidArgument(f"offset {offset} is beyond the end of the blob ({size} bytes)")
    return size - offset if length == 0 else min(length, size - offset)
