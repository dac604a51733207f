from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.storage.harness import (
    DomainClient,
    GrpcClient,
    Harness,
    ServerThread,
)
from tests.support.seaweedfs import SeaweedS3, seaweed_fixture
from tests.support.storage import BACKENDS, MAX_BLOB, backend_settings, raw_minio
from vestry.services.storage.backends import make_store


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """One real S3 server (SeaweedFS) for the session; each test uses its own bucket."""
    yield from seaweed_fixture(tmp_path_factory)


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
