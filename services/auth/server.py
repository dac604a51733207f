"""Composition root of the auth process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import grpc
from vestry.auth.v1 import auth_pb2, auth_pb2_grpc

from vestry.common.db import migrate_url, migrated_engine
from vestry.common.epoch_bumps import bump_interceptors
from vestry.common.epochs import AUTH
from vestry.common.grpc_server import create_server as create_grpc_server
from vestry.common.grpc_server import run_until_signalled
from vestry.services.auth.backends import make_cache
from vestry.services.auth.oidc import OidcVerifier, issuers_from_settings
from vestry.services.auth.service import AuthService
from vestry.services.auth.servicer import AuthServicer
from vestry.services.auth.settings import AuthSettings

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_auth"
SERVICE_NAME = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name
# The methods that change nothing a gateway may have cached (vestry.common.epoch_bumps): every
# other method moves the auth epoch, so a new write is covered without being listed. VerifyToken
# only stamps last-used; AttenuateToken is offline; VerifyOidcToken spends nothing (the jti is
# spent by MintPublisherToken, which bumps).
READ_ONLY = frozenset(
    {"GetUser", "VerifyToken", "AttenuateToken", "ListTokens", "VerifyOidcToken", "ListUsers"}
)


def build_service(settings: AuthSettings) -> AuthService:
    engine = migrated_engine(settings.database_url, MIGRATIONS, VERSION_TABLE)
    issuers = issuers_from_settings(
        settings.oidc_github_issuer, settings.oidc_gitlab_issuer, settings.oidc_issuers
    )
    return AuthService(
        engine,
        make_cache(settings),
        cache_ttl=settings.cache_ttl,
        oidc=OidcVerifier(issuers, settings.oidc_audience),
    )


def migrate_database(database_url: str) -> None:
    migrate_url(database_url, MIGRATIONS, VERSION_TABLE)


def create_server(
    settings: AuthSettings, address: str | None = None, *, service: AuthService | None = None
) -> tuple[grpc.aio.Server, int]:
    """The auth gRPC server on `address` (default `settings.listen`) and its bound port,
    serving `service`, or one `build_service(settings)` makes."""
    if service is None:
        service = build_service(settings)
    servicer = AuthServicer(service)

    def register(server: grpc.aio.Server) -> None:
        auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server)

    bumps = bump_interceptors(
        settings.invalidation_url, settings.invalidation_prefix, AUTH, SERVICE_NAME, READ_ONLY
    )
    return create_grpc_server(
        settings.secret_bytes, address or settings.listen, register, [SERVICE_NAME], bumps
    )


async def _flush_last_used(service: AuthService, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(service.last_used.flush)
        except Exception:
            log.exception("could not record last_used stamps; will retry")


async def serve(settings: AuthSettings) -> None:
    service = build_service(settings)
    server, _ = create_server(settings, service=service)
    flusher = asyncio.create_task(_flush_last_used(service, settings.last_used_flush_seconds))
    try:
        await run_until_signalled(server)
    finally:
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher
        service.close()
