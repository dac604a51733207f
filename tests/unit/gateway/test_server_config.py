"""How the gateway runs under uvicorn: whose forwarding headers it believes, and no uvicorn
access log (Vestry writes its own)."""

from __future__ import annotations

import secrets

from vestry.gateway.server import uvicorn_config
from vestry.gateway.settings import GatewaySettings


def _settings(**values: str) -> GatewaySettings:
    return GatewaySettings(VESTRY_INTERNAL_SECRET=secrets.token_hex(32), **values)  # type: ignore[arg-type]


def test_only_the_configured_proxies_are_believed() -> None:
    default = uvicorn_config(_settings())
    assert default.proxy_headers and default.forwarded_allow_ips == "127.0.0.1"
    behind_ingress = uvicorn_config(_settings(forwarded_allow_ips="*"))
    assert behind_ingress.forwarded_allow_ips == "*"
    assert not default.access_log
