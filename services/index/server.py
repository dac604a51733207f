"""Composition root of the index process."""

from __future__ import annotations

from pathlib import Path

import grpc
from vestry.index.v1 import index_pb2, index_pb2_grpc

from vestry.common.db import check_migrated, make_engine, migrate
from vestry.common.grpc_server import create_server, run_until_signalled
from vestry.services.index.service import IndexService
from vestry.services.index.servicer import IndexServicer
from vestry.services.index.settings import IndexSettings
from vestry.services.index.upstream import UpstreamConfig

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_index"
SERVICE_NAME = index_pb2.DESCRIPTOR.services_by_name["IndexService"].full_name


def build_service(settings: IndexSettings) -> IndexService:
    engine = make_engine(settings.database_url)
    check_migrated(engine, MIGRATIONS, VERSION_TABLE)
    up = settings.upstream
    upstream = UpstreamConfig(
        up.upstreams,
        up.cooldown_seconds,
        up.cooldown_serve_undated,
        settings.default_visibility == "public" if up.anonymous_read is None else up.anonymous_read,
    )
    return IndexService(engine, default_visibility=settings.default_visibility, upstream=upstream)


def migrate_database(database_url: str) -> None:
    migrate(make_engine(database_url), MIGRATIONS, VERSION_TABLE)


def create_index_server(
    settings: IndexSettings, address: str | None = None
) -> tuple[grpc.aio.Server, int, IndexService]:
    service = build_service(settings)

    def register(server: grpc.aio.Server) -> None:
        index_pb2_grpc.add_IndexServiceServicer_to_server(IndexServicer(service), server)

    server, port = create_server(
        settings.secret_bytes, address or settings.listen, register, [SERVICE_NAME]
    )
    return server, port, service


async def serve(settings: IndexSettings) -> None:
    server, _, _ = create_index_server(settings)
    await run_until_signalled(server)
