"""Blobs in MinIO or any S3, through the MinIO SDK. Vendor errors become domain errors here."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error

from vestry.common.errors import DomainError, Unavailable
from vestry.common.http import content_disposition
from vestry.services.storage.blobstore import (
    BlobInfo,
    IncomingBlob,
    StoredBlob,
    blob_path,
    check_range,
    is_key,
)
from vestry.services.storage.errors import BlobNotFound

__all__ = ["S3BlobStore"]

log = logging.getLogger(__name__)

# Multipart above this size, in parts of this size: the SDK buffers each part (x3 in parallel),
# and S3 allows 10,000 parts, so 16 MiB parts bound memory yet reach 156 GiB objects.
PART_SIZE = 16 * 1024 * 1024

_MISSING = ("NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound")
_CREDENTIALS = ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken")
_VENDOR_ERRORS = (MinioException, urllib3.exceptions.HTTPError, OSError)


class _ObjectChunks:
    """An iterator over an S3 GET body that releases the connection when done or closed."""

    def __init__(self, store: S3BlobStore, response: Any, chunk_size: int) -> None:
        self._store = store
        self._response = response
        self._it: Iterator[bytes] = response.stream(chunk_size)
        self._closed = False

    def __iter__(self) -> _ObjectChunks:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._it)
        except StopIteration:
            self.close()
            raise
        except _VENDOR_ERRORS as exc:
            self.close()
            raise self._store.error(exc, "reading a blob") from exc

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._response.close()
            self._response.release_conn()


class S3BlobStore:
    def __init__(
        self, client: Minio, bucket: str, tmp_dir: str, create_bucket: bool = True
    ) -> None:
        self._c = client
        self._bucket = bucket
        self._tmp = tmp_dir
        self._endpoint = str(client._base_url.host)
        self._bucket_ready = not create_bucket
        self._bucket_lock = threading.Lock()
        os.makedirs(tmp_dir, exist_ok=True)
        try:
            self._ensure_bucket()
        except Unavailable as exc:
            # Start anyway and answer UNAVAILABLE until S3 is back: a storage process that
            # crash-loops while S3 restarts helps nobody.
            log.warning("%s; will retry on the next request", exc.message)

    @classmethod
    def from_settings(
        cls,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool,
        region: str | None,
        tmp_dir: str,
    ) -> S3BlobStore:
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3, read=60),
            retries=urllib3.Retry(
                total=2, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)
            ),
            maxsize=16,
        )
        client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )
        return cls(client, bucket, tmp_dir)

    def error(self, exc: Exception, doing: str) -> DomainError:
        """The domain error for a vendor error met while `doing` something."""
        where = f"the S3 blob store at {self._endpoint} (bucket {self._bucket!r})"
        if isinstance(exc, S3Error):
            if exc.code in _CREDENTIALS:
                reason = f"it refused Vestry's credentials ({exc.code})"
            elif exc.code == "NoSuchBucket":
                self._bucket_ready = False
                reason = "the bucket does not exist"
            else:
                reason = f"it answered {exc.code}: {exc.message}"
        elif isinstance(exc, urllib3.exceptions.MaxRetryError):
            reason = f"it is unreachable ({_root_cause(exc)})"
        else:
            reason = f"it is unreachable or failing ({_root_cause(exc)})"
        return Unavailable(f"{where} failed while {doing}: {reason}")

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._bucket_lock:
            if self._bucket_ready:
                return
            try:
                if not self._c.bucket_exists(self._bucket):
                    self._c.make_bucket(self._bucket)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise self.error(exc, "creating its bucket") from exc
            except _VENDOR_ERRORS as exc:
                raise self.error(exc, "creating its bucket") from exc
            self._bucket_ready = True

    def tmp_dir(self) -> str:
        return self._tmp

    def commit(self, incoming: IncomingBlob, info: BlobInfo) -> BlobInfo:
        try:
            self._ensure_bucket()
            # An identical object already there is overwritten: that renews its
            # Last-Modified, which gc relies on to spare a blob an upload has just written.
            self._c.fput_object(
                self._bucket,
                blob_path(info.key),
                incoming.path,
                content_type="application/octet-stream",
                part_size=PART_SIZE,
                metadata={"x-amz-meta-sha256": info.sha256},
            )
        except _VENDOR_ERRORS as exc:
            raise self.error(exc, "storing a blob") from exc
        finally:
            incoming.discard()
        return info

    @contextmanager
    def _object_errors(self, key: str, doing: str) -> Iterator[None]:
        """Vendor errors on one object as domain errors: a missing object is BlobNotFound."""
        try:
            yield
        except S3Error as exc:
            if exc.code in _MISSING:
                raise BlobNotFound(f"no blob {key}") from exc
            raise self.error(exc, doing) from exc
        except _VENDOR_ERRORS as exc:
            raise self.error(exc, doing) from exc

    def _stat(self, key: str) -> Any:
        name = blob_path(key)
        self._ensure_bucket()
        with self._object_errors(key, "looking up a blob"):
            return self._c.stat_object(self._bucket, name)

    def open_range(
        self, key: str, offset: int = 0, length: int = 0, chunk_size: int = 1 << 20
    ) -> tuple[BlobInfo, Iterator[bytes]]:
        size = int(self._stat(key).size)
        remaining = check_range(size, offset, length)
        info = BlobInfo(key, size, key)
        if remaining == 0:
            return info, iter(())
        with self._object_errors(key, "reading a blob"):
            response = self._c.get_object(
                self._bucket, blob_path(key), offset=offset, length=remaining
            )
        return info, _ObjectChunks(self, response, chunk_size)

    def stat(self, key: str) -> BlobInfo:
        return BlobInfo(key, int(self._stat(key).size), key)

    def exists(self, key: str) -> bool:
        try:
            self._stat(key)
        except BlobNotFound:
            return False
        return True

    def delete(self, key: str) -> bool:
        existed = self.exists(key)
        try:
            self._c.remove_object(self._bucket, blob_path(key))
        except _VENDOR_ERRORS as exc:
            raise self.error(exc, "deleting a blob") from exc
        return existed

    def delete_if_older(self, key: str, cutoff: float) -> bool:
        # S3 has no portable conditional delete; the window between this stat and the delete
        # is milliseconds, against a grace period of hours for any upload in flight.
        try:
            stat = self._stat(key)
        except BlobNotFound:
            return False
        modified = stat.last_modified.timestamp() if stat.last_modified else cutoff
        if modified >= cutoff:
            return False
        try:
            self._c.remove_object(self._bucket, blob_path(key))
        except _VENDOR_ERRORS as exc:
            raise self.error(exc, "collecting a blob") from exc
        return True

    def presign_get(self, key: str, expires_seconds: int, filename: str = "") -> str:
        name = blob_path(key)
        headers: dict[str, str | list[str] | tuple[str]] = {}
        if filename:
            headers["response-content-disposition"] = content_disposition(filename)
        try:
            return str(
                self._c.presigned_get_object(
                    self._bucket,
                    name,
                    expires=timedelta(seconds=expires_seconds),
                    response_headers=headers or None,
                )
            )
        except _VENDOR_ERRORS as exc:
            raise self.error(exc, "signing a download URL") from exc

    def local_path(self, key: str) -> str:
        blob_path(key)  # validates the key, as every call does
        # Objects live in the bucket, and asking it whether one exists would cost a request:
        # readers use GetBlob (which says NOT_FOUND) or a presigned URL.
        return ""

    def list_blobs(self) -> Iterator[StoredBlob]:
        self._ensure_bucket()
        try:
            for obj in self._c.list_objects(self._bucket, recursive=True):
                name = obj.object_name or ""
                key = name.rsplit("/", 1)[-1]
                # Only a well-formed key at its own fan-out path is a blob: anything else an
                # operator keeps in the bucket is never listed, so gc never touches it.
                if is_key(key) and name == blob_path(key) and not obj.is_dir:
                    modified = obj.last_modified.timestamp() if obj.last_modified else 0.0
                    yield StoredBlob(key, int(obj.size or 0), modified)
        except _VENDOR_ERRORS as exc:
            raise self.error(exc, "listing blobs") from exc


def _root_cause(exc: BaseException) -> str:
    """The innermost reason (e.g. "Connection refused") of a urllib3 error chain."""
    reason: BaseException = exc
    seen = 0
    while seen < 5:
        inner = getattr(reason, "reason", None) or reason.__cause__ or reason.__context__
        if not isinstance(inner, BaseException):
            break
        reason, seen = inner, seen + 1
    text = str(reason)
    # urllib3 prefixes connection errors with the pool repr; keep only the OS's words.
    if ": " in text and "Failed to establish" in text:
        text = text.rsplit(": ", 1)[-1]
    return text or type(reason).__name__
