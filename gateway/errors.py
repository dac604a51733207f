"""HTTP answers for failures: gRPC statuses mapped to HTTP in ONE table, in ONE handler.

Bodies are one plain sentence, because twine and pip print them to the person at the terminal.
Never a stack trace.
"""

from __future__ import annotations

import logging

import grpc
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "RETRY_AFTER_SECONDS",
    "STATUS_TABLE",
    "HTTPError",
    "install_error_handlers",
    "rpc_error_response",
    "unauthorized",
]

log = logging.getLogger(__name__)

REALM = 'Basic realm="vestry"'

# Longer than a gateway's reconnect backoff (MAX_RECONNECT_BACKOFF_MS + gRPC's 20% jitter): a
# client that waits this long after a service came back finds the gateway reconnected.
RETRY_AFTER_SECONDS = 5

# gRPC status -> (HTTP status, extra headers)
STATUS_TABLE: dict[grpc.StatusCode, tuple[int, dict[str, str]]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, {}),
    grpc.StatusCode.ALREADY_EXISTS: (400, {}),  # PyPI answers duplicates with 400
    grpc.StatusCode.FAILED_PRECONDITION: (400, {}),
    grpc.StatusCode.OUT_OF_RANGE: (416, {}),
    grpc.StatusCode.UNAUTHENTICATED: (401, {"WWW-Authenticate": REALM}),
    grpc.StatusCode.PERMISSION_DENIED: (403, {}),
    grpc.StatusCode.NOT_FOUND: (404, {}),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (413, {}),
    grpc.StatusCode.ABORTED: (409, {}),  # a concurrent change won; retrying is safe
    grpc.StatusCode.UNAVAILABLE: (503, {"Retry-After": str(RETRY_AFTER_SECONDS)}),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, {}),
    grpc.StatusCode.CANCELLED: (503, {"Retry-After": str(RETRY_AFTER_SECONDS)}),
}
# Statuses whose details come from the gRPC runtime (addresses, socket paths), not from a
# DomainError written for the client: logged, never shown.
_RUNTIME_DETAILS = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
}
INTERNAL_MESSAGE = "internal error; the index operator can find details in its logs"


class HTTPError(Exception):
    """An answer decided in the gateway itself (form validation, negotiation, ...)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def unauthorized(message: str = "authentication required: use an API token") -> HTTPError:
    return HTTPError(401, message, {"WWW-Authenticate": REALM})


def _text(status: int, message: str, headers: dict[str, str]) -> Response:
    body = message if message.endswith("\n") else message + "\n"
    return PlainTextResponse(body, status_code=status, headers=headers)


def rpc_error_response(exc: grpc.aio.AioRpcError) -> Response:
    code = exc.code()
    status, headers = STATUS_TABLE.get(code, (500, {}))
    if status == 500:
        log.error("backend call failed: %s %s", code, exc.details())
        return _text(500, INTERNAL_MESSAGE, {})
    if code in _RUNTIME_DETAILS:
        log.warning("backend call failed: %s %s", code, exc.details())
    if status == 503:
        return _text(503, "a Vestry service is unavailable; try again shortly", headers)
    if status == 504:
        return _text(504, "a Vestry service took too long to answer; try again", headers)
    return _text(status, exc.details() or code.name.lower().replace("_", " "), headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPError)
    async def _http_error(request: Request, exc: HTTPError) -> Response:
        return _text(exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _starlette_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Unknown paths, wrong methods, unparsable multipart bodies: one plain sentence too.
        return _text(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _rpc_error(request: Request, exc: grpc.aio.AioRpcError) -> Response:
        return rpc_error_response(exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return _text(500, INTERNAL_MESSAGE, {})
