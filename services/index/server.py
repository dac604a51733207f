"""Composition root of the index process."""

from __future__ import annotations

from pathlib import Path

import grpc
from vestry.index.v1 import index_pb2, index_pb2_grpc

from vestry.common.db import migrate_url, migrated_engine
from vestry.common.epoch_bumps import bump_interceptors
from vestry.common.epochs import INDEX
from vestry.common.grpc_server import create_server as create_grpc_server
from vestry.common.grpc_server import run_until_signalled
from vestry.common.vocabulary import Visibility
from vestry.services.index.service import IndexService
from vestry.services.index.servicer import IndexServicer
from vestry.services.index.settings import IndexSettings
from vestry.services.index.upstream import UpstreamConfig

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_index"
SERVICE_NAME = index_pb2.DESCRIPTOR.services_by_name["IndexService"].full_name
# The methods that change nothing a gateway may have cached (vestry.common.epoch_bumps): every
# other method moves the index epoch, so a new write is covered without being listed.
# RecordDownloads writes, but only counts that no access decision or page depends on; bumping
# for it would empty every gateway's caches at each flush.
READ_ONLY = frozenset(
    {
        "ListProjects",
        "GetProjectPage",
        "GetFile",
        "CheckUpload",
        "ListBlobReferences",
        "GetProject",
        "ListEvents",
        "GetOrganization",
        "ListReservedNames",
        "ListTrustedPublishers",
        "MatchTrustedPublishers",
        "DecideUpstream",
        "GetUpstreamFile",
        "ListUpstreamRules",
        "GetDownloadCounts",
        "RecordDownloads",
    }
)


def build_service(settings: IndexSettings) -> IndexService:
    engine = migrated_engine(settings.database_url, MIGRATIONS, VERSION_TABLE)
    up = settings.upstream
    upstream = UpstreamConfig(
        up.upstreams,
        up.cooldown_seconds,
        up.cooldown_serve_undated,
        settings.default_visibility == Visibility.PUBLIC
        if up.anonymous_read is None
        else up.anonymous_read,
    )
    return IndexService(
        engine,
        default_visibility=settings.default_visibility,
        allow_local_versions=settings.allow_local_versions,
        upstream=upstream,
    )


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

    bumps = bump_interceptors(
        settings.invalidation_url, settings.invalidation_prefix, INDEX, SERVICE_NAME, READ_ONLY
    )
    return create_grpc_server(
        settings.secret_bytes, address or settings.listen, register, [SERVICE_NAME], bumps
    )


async def serve(settings: IndexSettings) -> None:
    server, _ = create_server(settings)
    await run_until_signalled(server)
