"""The gateway's composition root: settings in, a FastAPI app out."""

from __future__ import annotations

import re
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from starlette.types import ASGIApp

from vestry.gateway.backends import Backends
from vestry.gateway.conditional import READ_METHODS
from vestry.gateway.downloads import DownloadCounter
from vestry.gateway.errors import install_error_handlers
from vestry.gateway.hot import HotRoutes
from vestry.gateway.local_blobs import BlobLocations
from vestry.gateway.page_cache import PageCache
from vestry.gateway.routes import (
    audit,
    files,
    json_api,
    oidc,
    orgs,
    projects,
    publishers,
    reserved,
    simple,
    tokens,
    upload,
    users,
)
from vestry.gateway.routes import upstream as upstream_routes
from vestry.gateway.security_headers import SecurityHeaders
from vestry.gateway.settings import GatewaySettings
from vestry.gateway.telemetry import RequestTelemetry
from vestry.gateway.upload.spool import SharedSpool
from vestry.gateway.upstream.fetch import UpstreamFetcher
from vestry.gateway.warm import Warm
from vestry.gateway.web import install_web
from vestry.gateway.web.docs import describe_sign_in


class _Gateway(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Outside even Starlette's ServerErrorMiddleware: a 500 carries the headers too. Warm
        # reads of the hot routes are answered right under it (gateway.hot).
        return SecurityHeaders(HotRoutes(super().build_middleware_stack(), self.state))


def _get_only(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI description without HEAD operations: HEAD goes wherever GET does (RFC 9110),
    and FastAPI gives a GET+HEAD route one operationId for both, which OpenAPI forbids."""
    for operations in schema.get("paths", {}).values():
        if "get" in operations and operations.pop("head", None) is not None:
            get = operations["get"]
            get["operationId"] = re.sub(r"_head\Z", "_get", get["operationId"])
    return schema


def create_app(settings: GatewaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.backends = Backends.connect(settings)
        app.state.warm = Warm.from_settings(settings)
        enabled = settings.upstream.enabled
        app.state.upstream = UpstreamFetcher(settings.upstream) if enabled else None
        app.state.downloads.start(app.state.backends)
        try:
            yield
        finally:
            await app.state.downloads.stop(app.state.backends)
            await app.state.web_sessions.close()
            if app.state.upstream is not None:
                await app.state.upstream.close()
            await app.state.backends.close()
            await app.state.warm.close()

    app = _Gateway(
        title="Vestry",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # gateway.web.docs serves it, from local files
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.page_cache = PageCache(settings.page_cache_bytes, "pages")
    # Root listings depend on the caller: one per (caller, format), far fewer bytes each.
    app.state.listing_cache = PageCache(settings.page_cache_bytes // 4, "listings")
    app.state.downloads = DownloadCounter(settings.downloads_flush_seconds)
    app.state.blob_locations = BlobLocations()
    app.state.shared_spool = SharedSpool(enabled=settings.local_blobs)
    app.add_middleware(RequestTelemetry, access_log_enabled=settings.access_log)
    install_error_handlers(app)
    app.include_router(simple.router)
    app.include_router(files.router)
    app.include_router(upload.router)
    app.include_router(json_api.router)
    app.include_router(tokens.router)
    app.include_router(projects.router)
    app.include_router(audit.router)
    app.include_router(orgs.router)
    app.include_router(reserved.router)
    app.include_router(publishers.router)
    app.include_router(oidc.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            with warnings.catch_warnings():
                # The duplicates it warns of are the HEAD operations, dropped here.
                warnings.filterwarnings("ignore", "Duplicate Operation ID", UserWarning)
                app.openapi_schema = describe_sign_in(_get_only(FastAPI.openapi(app)))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.include_router(upstream_routes.router)
    app.include_router(users.router)
    install_web(app, settings)

    @app.api_route("/healthz", methods=READ_METHODS, include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    return app
