"""The one gRPC -> HTTP table, and that no failure ever shows a client a stack trace."""

from __future__ import annotations

import grpc
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from grpc.aio import AioRpcError, Metadata

from vestry.common.grpc_options import MAX_RECONNECT_BACKOFF_MS
from vestry.gateway.errors import (
    RETRY_AFTER_SECONDS,
    UPLOAD,
    HTTPError,
    answers_as,
    install_error_handlers,
    translate_call_error,
    unauthorized,
)
from vestry.gateway.upload.form import UploadError


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
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 413, {}, "details"),
        (grpc.StatusCode.UNAVAILABLE, 503, {"retry-after": "5"}, "unavailable; try again"),
        (grpc.StatusCode.CANCELLED, 503, {"retry-after": "5"}, "unavailable; try again"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504, {}, "took too long"),
        # A call cut off when its service died: retryable, its runtime details never shown.
        (grpc.StatusCode.UNKNOWN, 503, {"retry-after": "5"}, "unavailable; try again"),
        (grpc.StatusCode.INTERNAL, 500, {}, "internal error"),
        (grpc.StatusCode.DATA_LOSS, 500, {}, "internal error"),
        (grpc.StatusCode.UNIMPLEMENTED, 500, {}, "internal error"),
        # No service raises these and no transport produces them: unexpected, hence 500.
        (grpc.StatusCode.ABORTED, 500, {}, "internal error"),
        (grpc.StatusCode.OUT_OF_RANGE, 500, {}, "internal error"),
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


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED]
)
def test_a_refused_token_is_401_with_auths_reason(code: grpc.StatusCode) -> None:
    answer = translate_call_error("VerifyToken", _rpc_error(code, "token revoked"))
    assert isinstance(answer, HTTPError)
    assert (answer.status, answer.message) == (401, "invalid API token: token revoked")
    assert answer.headers == {"WWW-Authenticate": 'Basic realm="vestry"'}


def test_other_call_failures_go_to_the_table() -> None:
    unavailable = _rpc_error(grpc.StatusCode.UNAVAILABLE, SECRET)
    assert translate_call_error("VerifyToken", unavailable) is unavailable
    denied = _rpc_error(grpc.StatusCode.PERMISSION_DENIED, "no")
    assert translate_call_error("GetProject", denied) is denied


def _upload_client(exc: BaseException) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    router = APIRouter(dependencies=[Depends(answers_as(UPLOAD))])

    @router.post("/legacy/")
    async def boom() -> None:
        raise exc

    app.include_router(router)
    return TestClient(app, raise_server_exceptions=False)


def test_upload_answers_a_failed_login_with_403_as_pypi_does() -> None:
    response = _upload_client(unauthorized("malformed Basic credentials")).post("/legacy/")
    assert response.status_code == 403
    assert response.text == (
        "Invalid or non-existent authentication information. malformed Basic credentials\n"
    )
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(("status", "expected"), [(400, 400), (403, 403), (413, 413)])
def test_upload_errors_are_answered_by_the_one_handler(status: int, expected: int) -> None:
    response = _upload_client(UploadError("filetype: 'x' is not one", status)).post("/legacy/")
    assert (response.status_code, response.text) == (expected, "filetype: 'x' is not one\n")
