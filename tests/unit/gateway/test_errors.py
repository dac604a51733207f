"""The one gRPC -> HTTP table, and that no failure ever shows a client a stack trace."""

from __future__ import annotations

import grpc
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from grpc.aio import AioRpcError, Metadata

from vestry.common.grpc_server import MAX_RECONNECT_BACKOFF_MS
from vestry.gateway.errors import RETRY_AFTER_SECONDS, HTTPError, install_error_handlers


def _rpc_error(code: grpc.StatusCode, details: str) -> AioRpcError:
    return AioRpcError(code, Metadata(), Metadata(), details=details)


def _client(exc: BaseException) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False)


SECRET = "Traceback /srv/vestry/run/index.sock ipv4:10.0.0.7:50052"


@pytest.mark.parametrize(
    ("code", "status", "headers", "body"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400, {}, "details"),
        (grpc.StatusCode.ALREADY_EXISTS, 400, {}, "details"),
        (grpc.StatusCode.FAILED_PRECONDITION, 400, {}, "details"),
        (grpc.StatusCode.UNAUTHENTICATED, 401, {"www-authenticate": 'Basic realm="vestry"'}, None),
        (grpc.StatusCode.PERMISSION_DENIED, 403, {}, "details"),
        (grpc.StatusCode.NOT_FOUND, 404, {}, "details"),
        (grpc.StatusCode.ABORTED, 409, {}, "details"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 413, {}, "details"),
        (grpc.StatusCode.OUT_OF_RANGE, 416, {}, "details"),
        (grpc.StatusCode.UNAVAILABLE, 503, {"retry-after": "5"}, "unavailable; try again"),
        (grpc.StatusCode.CANCELLED, 503, {"retry-after": "5"}, "unavailable; try again"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504, {}, "took too long"),
        (grpc.StatusCode.UNKNOWN, 500, {}, "internal error"),
        (grpc.StatusCode.INTERNAL, 500, {}, "internal error"),
        (grpc.StatusCode.DATA_LOSS, 500, {}, "internal error"),
        (grpc.StatusCode.UNIMPLEMENTED, 500, {}, "internal error"),
    ],
)
def test_grpc_status_to_http(
    code: grpc.StatusCode, status: int, headers: dict[str, str], body: str | None
) -> None:
    # Domain errors carry a message written for the client; runtime failures carry internals.
    client_safe = status not in (500, 503, 504)
    details = "details" if client_safe else SECRET
    response = _client(_rpc_error(code, details)).get("/boom")
    assert response.status_code == status
    for key, value in headers.items():
        assert response.headers[key] == value
    assert response.headers["content-type"].startswith("text/plain")
    if body is not None:
        assert body in response.text
    assert SECRET not in response.text
    assert "Traceback" not in response.text


def test_unexpected_exception_is_500_without_trace() -> None:
    response = _client(RuntimeError(SECRET)).get("/boom")
    assert response.status_code == 500
    assert response.text == "internal error; the index operator can find details in its logs\n"


def test_gateway_decided_error_keeps_its_status_and_headers() -> None:
    response = _client(HTTPError(406, "use JSON or HTML", {"Vary": "Accept"})).get("/boom")
    assert (response.status_code, response.text) == (406, "use JSON or HTML\n")
    assert response.headers["vary"] == "Accept"


def test_unknown_route_and_method_are_plain_text() -> None:
    client = _client(RuntimeError())
    assert client.get("/nowhere").status_code == 404
    response = client.post("/boom")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("text/plain")


def test_retry_after_outlasts_the_gateways_reconnect_backoff() -> None:
    # A client that waits as told after a 503 must find the gateway reconnected to the service
    # that came back; gRPC adds up to 20% jitter to each backoff.
    assert MAX_RECONNECT_BACKOFF_MS * 1.2 / 1000 < RETRY_AFTER_SECONDS
