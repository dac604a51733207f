"""Run the gateway under uvicorn; SIGTERM stops it gracefully (uvicorn's own handling)."""

from __future__ import annotations

import uvicorn

from vestry.common.listening import listen_tcp
from vestry.gateway.app import create_app
from vestry.gateway.reason_phrase import http_protocol
from vestry.gateway.settings import GatewaySettings


def uvicorn_config(settings: GatewaySettings) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # Vestry writes its own access log (gateway.telemetry): user and token ID, no secrets.
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=10,
        server_header=False,
        ssl_certfile=settings.tls_cert or None,
        ssl_keyfile=settings.tls_key or None,
        # Status lines with the error's text (gateway.reason_phrase), which twine prints.
        http=http_protocol(),
    )


def serve(settings: GatewaySettings) -> None:
    config = uvicorn_config(settings)
    server = uvicorn.Server(config)
    if settings.reuse_port:
        server.run(
            sockets=[listen_tcp(settings.host, settings.port, config.backlog, reuse_port=True)]
        )
    else:
        server.run()
