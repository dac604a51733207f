"""Blobs in MinIO or any S3, through the MinIO SDK. Vendor errors become domain errors here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error

from services.storage.blobstore import BlobInfo, BlobNotFound, IncomingBlob, blob_path, check_range
from vestry.common.errors import Unavailable

_PART_SIZE = 16 * 1024 * 1024  # S3 multipart: parts of 16 MiB above that size


def _unavailable(exc: Exception) -> Unavailable:
    return Unavailable(f"the S3 blob store is unreachable or failing: {type(exc).__name__}")


class S3BlobStore:
    def __init__(
        self, client: Minio, bucket: str, tmp_dir: str, create_bucket: bool = True
    ) -> None:
        self._c = client
        self._bucket = bucket
        self._tmp = tmp_dir
        os.makedirs(tmp_dir, exist_ok=True)
        if create_bucket:
            try:
                if not client.bucket_exists(bucket):
                    client.make_bucket(bucket)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise _unavailable(exc) from exc
            except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise _unavailable(exc) from exc

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

    def tmp_dir(self) -> str:
        return self._tmp

    def _name(self, key: str) -> str:
        return blob_path(key)

    def commit(self, incoming: IncomingBlob, info: BlobInfo) -> BlobInfo:
        try:
            self._c.fput_object(
                self._bucket,
                self._name(info.key),
                incoming.path,
                content_type="application/octet-stream",
                part_size=_PART_SIZE,
                metadata={"x-amz-meta-sha256": info.sha256},
            )
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _unavailable(exc) from exc
        finally:
            incoming.discard()
        return info

    def _stat(self, key: str) -> Any:
        try:
            return self._c.stat_object(self._bucket, self._name(key))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound"):
                raise BlobNotFound(f"no blob {key}") from exc
            raise _unavailable(exc) from exc
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _unavailable(exc) from exc

    def open_range(
        self, key: str, offset: int = 0, length: int = 0, chunk_size: int = 1 << 20
    ) -> tuple[BlobInfo, Iterator[bytes]]:
        size = int(self._stat(key).size)
        remaining = check_range(size, offset, length)
        try:
            response = (
                self._c.get_object(self._bucket, self._name(key), offset=offset, length=remaining)
                if remaining
                else None
            )
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                raise BlobNotFound(f"no blob {key}") from exc
            raise _unavailable(exc) from exc
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _unavailable(exc) from exc

        def chunks() -> Iterator[bytes]:
            if response is None:
                return
            try:
                yield from response.stream(chunk_size)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise _unavailable(exc) from exc
            finally:
                response.close()
                response.release_conn()

        return BlobInfo(key, size, key), chunks()

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
            self._c.remove_object(self._bucket, self._name(key))
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _unavailable(exc) from exc
        return existed

    def presign_get(self, key: str, expires_seconds: int, filename: str = "") -> str:
        headers: dict[str, str | list[str] | tuple[str]] = {}
        if filename:
            headers["response-content-disposition"] = f'attachment; filename="{filename}"'
        try:
            return str(
                self._c.presigned_get_object(
                    self._bucket,
                    self._name(key),
                    expires=timedelta(seconds=expires_seconds),
                    response_headers=headers or None,
                )
            )
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _unavailable(exc) from exc

    def iter_keys(self) -> Iterator[tuple[str, float]]:
        try:
            for obj in self._c.list_objects(self._bucket, recursive=True):
                name = obj.object_name or ""
                key = name.rsplit("/", 1)[-1]
                if len(key) == 64:
                    yield key, obj.last_modified.timestamp() if obj.last_modified else 0.0
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _unavailable(exc) from exc
