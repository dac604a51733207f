"""Composition root of the index process."""

from __future__ import annotations

from pathlib import Path

import grpc
from vestry.index.v1 import index_pb2, index_pb2_grpc

from vestry.common.db import migrate_url, migrated_engine
from vestry.common.grpc_server import create_server as create_grpc_server
from vestry.common.grpc_server import run_until_signalled
from vestry.services.index.service import IndexService
from vestry.services.index.servicer import IndexServicer
from vestry.services.index.settings import IndexSettings

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_index"
SERVICE_NAME = index_pb2.DESCRIPTOR.services_by_name["IndexService"].full_name


def build_service(settings: IndexSettings) -> IndexService:
    engine = migrated_engine(settings.database_url, MIGRATIONS, VERSION_TABLE)
    return IndexService(engine, default_visibility=settings.default_visibility)


def migrate_database(database_url: str) -> None:
    migrate_url(database_url, MIGRATIONS, VERSION_TABLE)


def create_server(
    settings: IndexSettings, address: str | None = None, *, service: IndexService | None = None
) -> tuple[grpc.aio.Server, int]:
    """The index gRPC server (not started) on `address` (default: the settings' listen
    address) and the port it is bound to. Serves `service` if given (a test that also wants
    the domain object), else one built from the settings."""
    served = service if service is not None else build_service(settings)

    def register(server: grpc.aio.Server) -> None:
        index_pb2_grpc.add_IndexServiceServicer_to_server(IndexServicer(served), server)

    return create_grpc_server(
        settings.secret_bytes, address or settings.listen, register, [SERVICE_NAME]
    )


async def serve(settings: IndexSettings) -> None:
    server, _ = create_server(settings)
    await run_until_signalled(server)
