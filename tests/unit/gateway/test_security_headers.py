"""Security headers on every answer: CSP (strict for pages, Swagger's needs on /api/docs, never
over a page's own), nosniff, no framing, no referrer."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.testclient import TestClient

from vestry.gateway.app import create_app
from vestry.gateway.security_headers import DOCS_CSP, PAGE_CSP, SecurityHeaders
from vestry.gateway.settings import GatewaySettings

FIXED = {"x-content-type-options": "nosniff", "x-frame-options": "DENY"}


@pytest.fixture(scope="module")
def gateway() -> TestClient:
    app = create_app(GatewaySettings(VESTRY_INTERNAL_SECRET="s" * 32))  # type: ignore[call-arg]
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("method", "path", "csp"),
    [
        ("GET", "/api/docs", DOCS_CSP),
        ("GET", "/api/docs/oauth2-redirect", DOCS_CSP),
        ("GET", "/simple", PAGE_CSP),  # a redirect
        ("GET", "/healthz", PAGE_CSP),
        ("GET", "/no/such/page", PAGE_CSP),
        ("DELETE", "/healthz", PAGE_CSP),
        ("PUT", "/api/v1/projects/p/visibility", PAGE_CSP),  # a 422
    ],
)
def test_every_gateway_answer_carries_the_headers(
    gateway: TestClient, method: str, path: str, csp: str
) -> None:
    r = gateway.request(method, path)
    assert r.headers["content-security-policy"] == csp
    assert "frame-ancestors 'none'" in csp
    for name, value in FIXED.items():
        assert r.headers[name] == value
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers.get_list("content-security-policy") == [csp]


def test_a_page_with_its_own_policy_keeps_it() -> None:
    inner = FastAPI()

    @inner.get("/ui")
    async def ui() -> HTMLResponse:
        return HTMLResponse(
            "<p>ui</p>",
            headers={"Content-Security-Policy": "default-src 'self'", "Referrer-Policy": "origin"},
        )

    @inner.get("/plain")
    async def plain() -> PlainTextResponse:
        return PlainTextResponse("x")

    client = TestClient(SecurityHeaders(inner))
    r = client.get("/ui")
    assert r.headers.get_list("content-security-policy") == ["default-src 'self'"]
    assert r.headers.get_list("referrer-policy") == ["origin"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/plain").headers["content-security-policy"] == PAGE_CSP
