"""Composition root of the auth process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import grpc
import redis
from vestry.auth.v1 import auth_pb2, auth_pb2_grpc

from vestry.common.db import check_migrated, make_engine, migrate
from vestry.common.grpc_server import create_server, run_until_signalled
from vestry.services.auth.cache import MemoryCache, RedisCache, VerificationCache
from vestry.services.auth.oidc import OidcVerifier, issuers_from_settings
from vestry.services.auth.service import AuthService
from vestry.services.auth.servicer import AuthServicer
from vestry.services.auth.settings import AuthSettings

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_auth"
SERVICE_NAME = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name


def make_cache(settings: AuthSettings) -> VerificationCache:
    if settings.redis_url:
        client = redis.Redis.from_url(
            settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        return RedisCache(client, settings.redis_prefix, settings.cache_ttl)
    return MemoryCache()


def build_service(settings: AuthSettings) -> AuthService:
    engine = make_engine(settings.database_url)
    check_migrated(engine, MIGRATIONS, VERSION_TABLE)
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
    engine = make_engine(database_url)
    try:
        migrate(engine, MIGRATIONS, VERSION_TABLE)
    finally:
        engine.dispose()


def create_auth_server(
    settings: AuthSettings, address: str | None = None
) -> tuple[grpc.aio.Server, int, AuthService]:
    service = build_service(settings)

    def register(server: grpc.aio.Server) -> None:
        auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(service), server)

    server, port = create_server(
        settings.secret_bytes, address or settings.listen, register, [SERVICE_NAME]
    )
    return server, port, service


async def _flush_last_used(service: AuthService, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(service.last_used.flush)
        except Exception:
            log.exception("could not record last_used stamps; will retry")


async def serve(settings: AuthSettings) -> None:
    server, _, service = create_auth_server(settings)
    flusher = asyncio.create_task(_flush_last_used(service, settings.last_used_flush_seconds))
    try:
        await run_until_signalled(server)
    finally:
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher
        service.close()
