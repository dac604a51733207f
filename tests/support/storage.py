"""Storage service settings for tests, on local disk or on a real S3 server's bucket."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import urllib3
from minio import Minio
from minio.error import MinioException

from tests.support.seaweedfs import SeaweedS3
from vestry.services.storage.settings import StorageSettings

MAX_BLOB = 18 * 1024 * 1024  # above S3_PART_SIZE, so a multipart upload fits under the limit


def raw_minio(s3: SeaweedS3) -> Minio:
    return Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=False)


def storage_settings(
    backend: str,
    root: Path,
    secret: str,
    s3: SeaweedS3 | None = None,
    bucket: str = "",
    **overrides: Any,
) -> StorageSettings:
    values: dict[str, Any] = {
        "VESTRY_INTERNAL_SECRET": secret,
        "backend": backend,
        "path": str(root),
        "max_blob_size": MAX_BLOB,
        "chunk_size": 64 * 1024,
    }
    if s3 is not None:
        values.update(
            s3_endpoint=s3.endpoint,
            s3_access_key=s3.access_key,
            s3_secret_key=s3.secret_key,
            s3_bucket=bucket or f"vestry-{uuid.uuid4().hex[:16]}",
        )
    values.update(overrides)
    return StorageSettings(**values)


def drop_bucket(s3: SeaweedS3, bucket: str) -> None:
    """Remove a test's bucket: SeaweedFS gives every bucket its own volumes, and a session that
    kept them all would run out ("no free volumes left")."""
    client = raw_minio(s3)
    try:
        if not client.bucket_exists(bucket):
            return
        for obj in client.list_objects(bucket, recursive=True):
            client.remove_object(bucket, obj.object_name or "")
        client.remove_bucket(bucket)
    except (MinioException, urllib3.exceptions.HTTPError):
        pass  # a stopped server has nothing left to clean


def backend_settings(
    request: pytest.FixtureRequest, backend: str, root: Path, secret: str, **overrides: Any
) -> StorageSettings:
    """Settings for `backend`; an S3 bucket of its own, removed when `request` ends."""
    if backend != "s3":
        return storage_settings(backend, root, secret, **overrides)
    s3: SeaweedS3 = request.getfixturevalue("seaweed")
    settings = storage_settings(backend, root, secret, s3, **overrides)
    request.addfinalizer(lambda: drop_bucket(s3, settings.s3_bucket))
    return settings


BACKENDS = [pytest.param("local"), pytest.param("s3", marks=pytest.mark.s3)]
