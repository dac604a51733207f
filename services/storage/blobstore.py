"""The storage port: content-addressed blobs, and the streaming digest check all backends share."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from vestry.common.digests import TripleDigest
from vestry.common.errors import (
    DomainError,
    InvalidArgument,
    Unavailable,
)
from vestry.services.storage.errors import (
    BlobTooLarge,
    DigestMismatch,
    DiskFull,
    SharedFileNotFound,
)

__all__ = [
    "INCOMING_PREFIX",
    "MAX_PRESIGN_SECONDS",
    "SHARED_PREFIX",
    "BlobInfo",
    "BlobStore",
    "IncomingBlob",
    "StoredBlob",
    "blob_path",
    "check_range",
    "is_key",
    "presign_seconds",
    "start_incoming",
    "storage_io_error",
    "sweep_incoming",
    "validate_key",
    "verify_blob",
]

_KEY = re.compile(r"^[0-9a-f]{64}\Z")
INCOMING_PREFIX = "incoming-"
# Files written into the spool by a gateway sharing the volume (PutBlob's `shared_file`). Their
# names begin as the service's own do, so a crash's leftovers are swept with them.
SHARED_PREFIX = INCOMING_PREFIX + "shared-"
_SHARED_NAME = re.compile(r"^" + re.escape(SHARED_PREFIX) + r"[A-Za-z0-9_]{1,64}\Z")
_READ_CHUNK = 1 << 20
MAX_PRESIGN_SECONDS = 3600


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    sha256: str
    blake2b_256: str = ""
    md5: str = ""


@dataclass(frozen=True)
class StoredBlob:
    """A blob as the store lists it: for gc, which needs its age."""

    key: str
    size: int
    modified: float  # Unix time of the last write


def is_key(key: object) -> bool:
    return isinstance(key, str) and _KEY.match(key) is not None


def validate_key(key: str) -> str:
    """A key is a lowercase sha256 hex digest and nothing else: no path can hide in it."""
    if not is_key(key):
        raise InvalidArgument("a blob key is a lowercase sha256 hex digest (64 characters 0-9a-f)")
    return key


def blob_path(key: str) -> str:
    """Relative location of a blob: fanned out two levels (65,536 directories) so that no
    directory (or S3 listing prefix) grows too large."""
    validate_key(key)
    return f"{key[0:2]}/{key[2:4]}/{key}"


def storage_io_error(exc: OSError, doing: str) -> DomainError:
    """The domain error for an OSError met while `doing` something to the blob store's disk."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(
            f"the blob store's disk is full ({exc.strerror}) while {doing}; "
            "free space or grow the volume, then retry"
        )
    return Unavailable(f"the blob store's disk failed while {doing}: {exc.strerror or exc}")


class IncomingBlob:
    """Bytes arriving for a new blob: spooled to a temp file while all three digests run.

    Backends take the finished temp file; a rejected or abandoned upload leaves nothing.
    Thread-safe: `discard` (from a cancelled request) waits for a `write` running in a worker
    thread, so a late write can never recreate or leak the temp file.
    """

    def __init__(
        self,
        tmp_dir: str,
        max_size: int,
        expected_sha256: str = "",
        expected_size: int = 0,
        *,
        shared_file: str = "",
    ) -> None:
        self.file: BinaryIO
        if shared_file:
            self.path, self.file = _open_shared(tmp_dir, shared_file)
        else:
            try:
                os.makedirs(tmp_dir, exist_ok=True)
                fd, self.path = tempfile.mkstemp(dir=tmp_dir, prefix=INCOMING_PREFIX)
            except OSError as exc:
                raise storage_io_error(exc, "creating a temp file") from exc
            self.file = os.fdopen(fd, "wb")
        self._shared = bool(shared_file)
        self._lock = threading.Lock()
        self._discarded = False
        self._max = max_size
        self._expected_sha256 = expected_sha256
        self._expected_size = expected_size
        self.size = 0
        self._digest = TripleDigest()

    def write(self, chunk: bytes) -> None:
        """Raises BlobTooLarge, DigestMismatch (more bytes than announced) or DiskFull."""
        if self._shared:
            raise InvalidArgument("a shared file's bytes are in the file: no chunk follows")
        with self._lock:
            if self._discarded:
                raise Unavailable("the upload was abandoned")
            self._count(chunk)
            try:
                self.file.write(chunk)
            except OSError as exc:
                raise storage_io_error(exc, "receiving a blob") from exc

    def _count(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._max:
            raise BlobTooLarge(f"blob exceeds the size limit of {self._max} bytes")
        if self._expected_size and self.size > self._expected_size:
            raise DigestMismatch(f"received more than the {self._expected_size} bytes announced")
        self._digest.update(chunk)

    def read_shared(self) -> None:
        """Run a shared file's bytes through the limits and digests, as `write` does for
        streamed ones (in a worker thread; `finish` then checks the expectations)."""
        with self._lock:
            if self._discarded:
                raise Unavailable("the upload was abandoned")
            try:
                while chunk := self.file.read(_READ_CHUNK):
                    self._count(chunk)
            except OSError as exc:
                raise storage_io_error(exc, "reading a shared file") from exc

    def finish(self) -> BlobInfo:
        """Flush to disk and check the expectations; raises DigestMismatch or DiskFull."""
        with self._lock:
            if self._discarded:
                raise Unavailable("the upload was abandoned")
            try:
                # Delayed allocation can report a full disk only here, not at write(). A shared
                # file is synced here too (fsync needs no write access): its writer did not.
                self.file.flush()
                os.fsync(self.file.fileno())
                self.file.close()
            except OSError as exc:
                raise storage_io_error(exc, "receiving a blob") from exc
            sha256 = self._digest.sha256
            info = BlobInfo(sha256, self.size, sha256, self._digest.blake2b_256, self._digest.md5)
            if self._expected_size and self._expected_size != info.size:
                raise DigestMismatch(
                    f"received {info.size} bytes, but {self._expected_size} were announced"
                )
            if self._expected_sha256 and self._expected_sha256 != info.sha256:
                raise DigestMismatch(
                    f"the received bytes have sha256 {info.sha256}, "
                    f"not the expected {self._expected_sha256}"
                )
            return info

    def discard(self) -> None:
        with self._lock:
            self._discarded = True
            with contextlib.suppress(OSError):
                self.file.close()  # a full disk can fail the final flush: the file goes anyway
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


def _open_shared(tmp_dir: str, name: str) -> tuple[str, BinaryIO]:
    """A shared file of the spool, opened for reading: a bare name with the shared prefix, a
    regular file with no other link (nothing else on the volume can be taken through it).
    Raises InvalidArgument for any other name or file, SharedFileNotFound when it is not here."""
    if not _SHARED_NAME.match(name):
        raise InvalidArgument(f"a shared file is named {SHARED_PREFIX}… in the spool, not {name!r}")
    path = os.path.join(tmp_dir, name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SharedFileNotFound(
            f"no shared file {name!r} in {tmp_dir}: the volume is not shared with the caller"
        ) from None
    except PermissionError:
        # Written by another user this service may not read as (a shared volume, two uids):
        # as good as not shared, and the caller streams the bytes instead.
        raise SharedFileNotFound(
            f"the shared file {name!r} in {tmp_dir} is not readable by this service: "
            "the volume is not shared with the caller in a way it can use"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidArgument(f"the shared file {name!r} is a symbolic link") from None
        raise storage_io_error(exc, "opening a shared file") from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        os.close(fd)
        raise InvalidArgument(f"the shared file {name!r} is not a regular file of one link")
    return path, os.fdopen(fd, "rb")


def start_incoming(
    tmp_dir: str,
    max_blob_size: int,
    expected_sha256: str,
    expected_size: int,
    max_size: int,
    shared_file: str = "",
) -> IncomingBlob:
    """Begin receiving a blob announced with these expectations (empty or 0: none).

    The limit is the store's `max_blob_size`, or the caller's tighter `max_size`. Raises
    InvalidArgument for a malformed expectation or an announced size above the limit.

    With `shared_file`, the bytes are that file of the spool (see `_open_shared`), read through
    the digests here, so this blocks: call it from a worker thread. It is the blob's from now
    on, removed by `discard` like a spooled one; SharedFileNotFound when it is not there.
    """
    if expected_sha256:
        validate_key(expected_sha256)
    if expected_size < 0 or max_size < 0:
        raise InvalidArgument("sizes in the PutBlob header are non-negative")
    limit = min(max_blob_size, max_size) if max_size > 0 else max_blob_size
    if expected_size > limit:
        raise InvalidArgument(
            f"the announced size {expected_size} exceeds the limit of {limit} bytes"
        )
    if not shared_file:
        return IncomingBlob(tmp_dir, limit, expected_sha256, expected_size)
    incoming = IncomingBlob(tmp_dir, limit, expected_sha256, expected_size, shared_file=shared_file)
    try:
        incoming.read_shared()
    except BaseException:
        incoming.discard()
        raise
    return incoming


def presign_seconds(requested: int) -> int:
    """How long a presigned URL lives: what was asked, within (0, MAX_PRESIGN_SECONDS]; else 300."""
    return requested if 0 < requested <= MAX_PRESIGN_SECONDS else 300


def sweep_incoming(tmp_dir: str, cutoff: float, dry_run: bool = False) -> list[tuple[str, int]]:
    """Remove spooled uploads last written before `cutoff` (left by a crashed process).

    Returns (path, size) of each one removed (or that would be, with `dry_run`).
    """
    swept: list[tuple[str, int]] = []
    try:
        entries = list(os.scandir(tmp_dir))
    except FileNotFoundError:
        return swept
    for entry in entries:
        if not entry.name.startswith(INCOMING_PREFIX) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if st.st_mtime >= cutoff:
                continue
            if not dry_run:
                os.unlink(entry.path)
        except FileNotFoundError:
            continue
        swept.append((entry.path, st.st_size))
    return swept


class BlobStore(Protocol):
    """One implementation per backend (`LocalBlobStore`, `S3BlobStore`).

    Every method taking a key validates it (raises InvalidArgument); failures of the backend
    itself raise Unavailable, a full disk DiskFull.
    """

    def tmp_dir(self) -> str:
        """Where `IncomingBlob`s spool."""

    def commit(self, incoming: IncomingBlob, info: BlobInfo) -> BlobInfo:
        """Make the finished incoming blob visible under `info.key` (idempotent: an identical
        blob already there is replaced, which also marks it as freshly written for gc)."""

    def open_range(
        self, key: str, offset: int = 0, length: int = 0, chunk_size: int = 1 << 20
    ) -> tuple[BlobInfo, Iterator[bytes]]:
        """The blob's info and an iterator over its bytes (with a `close()`); raises
        BlobNotFound, InvalidArgument for a range beyond the end."""

    def stat(self, key: str) -> BlobInfo:
        """Raises BlobNotFound."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> bool:
        """True if there was a blob to delete."""

    def delete_if_older(self, key: str, cutoff: float) -> bool:
        """Delete the blob only if it was last written before `cutoff` (Unix time), so that a
        blob an upload has just (re)written is never collected; True if deleted."""

    def presign_get(self, key: str, expires_seconds: int, filename: str = "") -> str:
        """A short-lived URL, or "" when the backend cannot presign."""

    def local_path(self, key: str) -> str:
        """The blob's absolute path on this machine's filesystem, for a reader sharing the
        volume; "" when the backend keeps no local file (without asking whether the blob exists).
        A backend with local files raises BlobNotFound."""

    def list_blobs(self) -> Iterator[StoredBlob]:
        """Every stored blob (for gc). Objects that are not blobs are never listed."""


def verify_blob(store: BlobStore, key: str, chunk_size: int = 1 << 20) -> BlobInfo:
    """Read a stored blob back and compute its actual size and digests; raises BlobNotFound.

    A healthy blob has `sha256 == key`.
    """
    _, chunks = store.open_range(key, 0, 0, chunk_size)
    digest = TripleDigest()
    size = 0
    try:
        for chunk in chunks:
            size += len(chunk)
            digest.update(chunk)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return BlobInfo(key, size, digest.sha256, digest.blake2b_256, digest.md5)


def check_range(size: int, offset: int, length: int) -> int:
    """Validate a byte range against a blob size; return the number of bytes to send."""
    if offset < 0 or length < 0:
        raise InvalidArgument("offset and length are non-negative")
    if offset > size:
        raise InvalidArgument(f"offset {offset} is beyond the end of the blob ({size} bytes)")
    return size - offset if length == 0 else min(length, size - offset)
