from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cluster.cluster import Cluster
from tests.support.seaweedfs import SeaweedS3, seaweed_fixture


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    yield from seaweed_fixture(tmp_path_factory)


@pytest.fixture
def cluster(
    tmp_path: Path,
    postgres_url: str,
    redis_url: str,
    redis_prefix: str,
    s3_server: SeaweedS3,
    internal_secret: str,
) -> Iterator[Cluster]:
    """Everything but the Vestry processes: one PostgreSQL database (auth and index share it,
    as in docker-compose.yml), the machine's Redis under a prefix of its own, one S3 bucket."""
    values = {
        "VESTRY_INTERNAL_SECRET": internal_secret,
        "VESTRY_LOG_LEVEL": "WARNING",
        "VESTRY_AUTH_DATABASE_URL": postgres_url,
        "VESTRY_INDEX_DATABASE_URL": postgres_url,
        "VESTRY_REDIS_URL": redis_url,
        "VESTRY_REDIS_PREFIX": redis_prefix,
        "VESTRY_INVALIDATION_URL": redis_url,
        "VESTRY_INVALIDATION_PREFIX": redis_prefix,
        "VESTRY_INDEX_DEFAULT_VISIBILITY": "private",
        "VESTRY_STORAGE_BACKEND": "s3",
        "VESTRY_STORAGE_PATH": str(tmp_path / "spool"),
        "VESTRY_STORAGE_S3_ENDPOINT": s3_server.endpoint,
        "VESTRY_STORAGE_S3_ACCESS_KEY": s3_server.access_key,
        "VESTRY_STORAGE_S3_SECRET_KEY": s3_server.secret_key,
        "VESTRY_STORAGE_S3_BUCKET": f"vestry-{uuid.uuid4().hex[:12]}",
        "VESTRY_STORAGE_S3_SECURE": "false",
        "VESTRY_GATEWAY_MAX_UPLOAD_SIZE": str(100 * 1024 * 1024),
        # The proxy is off when these are empty, as docker-compose.yml's defaults leave them.
        "VESTRY_UPSTREAM_URL": "",
        "VESTRY_UPSTREAM_COOLDOWN": "",
    }
    running = Cluster(tmp_path, values)
    try:
        yield running
    finally:
        running.stop()
