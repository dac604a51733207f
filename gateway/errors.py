"""HTTP answers for failures: gRPC statuses mapped to HTTP in ONE table, in ONE handler.

Bodies are one plain sentence, because twine and pip print them to the person at the terminal.
Never a stack trace. Where one call or one family of routes answers differently from the table,
the override is written here too, next to it, and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from vestry.gateway.reason_phrase import with_reason

__all__ = [
    "CALL_OVERRIDES",
    "FAMILY_OVERRIDES",
    "REASON_FAMILIES",
    "RETRY_AFTER_SECONDS",
    "STATUS_TABLE",
    "UPLOAD",
    "UPSTREAM_FAILED",
    "UPSTREAM_TIMEOUT",
    "HTTPError",
    "Override",
    "answers_as",
    "install_error_handlers",
    "rpc_error_response",
    "translate_call_error",
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
    grpc.StatusCode.UNAUTHENTICATED: (401, {"WWW-Authenticate": REALM}),
    grpc.StatusCode.PERMISSION_DENIED: (403, {}),
    grpc.StatusCode.NOT_FOUND: (404, {}),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (413, {}),
    grpc.StatusCode.UNAVAILABLE: (503, {"Retry-After": str(RETRY_AFTER_SECONDS)}),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, {}),
    grpc.StatusCode.CANCELLED: (503, {"Retry-After": str(RETRY_AFTER_SECONDS)}),
    # Vestry's services never answer UNKNOWN (their interceptor turns anything unexpected into
    # INTERNAL): it is the gRPC runtime's word for a call cut off mid-stream ("Stream removed"),
    # as when a service process dies during the call. Worth a retry, like UNAVAILABLE.
    grpc.StatusCode.UNKNOWN: (503, {"Retry-After": str(RETRY_AFTER_SECONDS)}),
}
# Statuses whose details come from the gRPC runtime (addresses, socket paths), not from a
# DomainError written for the client: logged, never shown.
_RUNTIME_DETAILS = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.UNKNOWN,
}
INTERNAL_MESSAGE = "internal error; the index operator can find details in its logs"

# The upstream proxy's answers, decided in the gateway (no gRPC status behind them): the
# upstream refused, broke off or sent what does not verify, or it did not answer in time.
UPSTREAM_FAILED = 502  # Bad Gateway
UPSTREAM_TIMEOUT = 504  # Gateway Timeout


class HTTPError(Exception):
    """An answer decided in the gateway itself (form validation, negotiation, ...)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def unauthorized(message: str = "authentication required: use an API token") -> HTTPError:
    return HTTPError(401, message, {"WWW-Authenticate": REALM})


@dataclass(frozen=True)
class Override:
    """An answer that replaces the usual one: this status, these headers, the body prefixed."""

    status: int
    prefix: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


# (RPC, gRPC status) -> the answer, where one call's failure means more than the table says.
# A token that was sent and does not verify is a 401 with auth's reason, whether auth calls it
# unauthenticated or (revoked, expired) permission denied: pip asks its keyring only after a 401.
CALL_OVERRIDES: dict[tuple[str, grpc.StatusCode], Override] = {
    ("VerifyToken", grpc.StatusCode.UNAUTHENTICATED): Override(
        401, "invalid API token: ", {"WWW-Authenticate": REALM}
    ),
    ("VerifyToken", grpc.StatusCode.PERMISSION_DENIED): Override(
        401, "invalid API token: ", {"WWW-Authenticate": REALM}
    ),
}

# Route families whose clients expect other answers than the rest of the gateway gives.
UPLOAD = "upload"
# family -> {status the gateway decided: the answer given instead}. PyPI answers a failed login
# on upload with 403 and no challenge (twine prints the body and stops).
FAMILY_OVERRIDES: dict[str, dict[int, Override]] = {
    UPLOAD: {401: Override(403, "Invalid or non-existent authentication information. ")},
}
# Families whose every 4xx answer carries its sentence in the status line too (`400 File
# already exists ...`), as PyPI's do: twine prints the status line, and the body only with
# --verbose. The server's protocol (gateway.reason_phrase) moves it there.
REASON_FAMILIES = frozenset({UPLOAD})


def answers_as(family: str) -> Callable[[Request], None]:
    """A router dependency that puts its routes in `family` of FAMILY_OVERRIDES."""

    def mark(request: Request) -> None:
        request.state.error_family = family

    return mark


def translate_call_error(rpc: str, exc: grpc.aio.AioRpcError) -> Exception:
    """What to raise for `rpc`'s failure: its CALL_OVERRIDES answer, else the error itself (for
    the table)."""
    override = CALL_OVERRIDES.get((rpc, exc.code()))
    if override is None:
        return exc
    return HTTPError(
        override.status, override.prefix + (exc.details() or ""), dict(override.headers)
    )


def _text(status: int, message: str, headers: dict[str, str]) -> Response:
    body = message if message.endswith("\n") else message + "\n"
    return PlainTextResponse(body, status_code=status, headers=headers)


def _for_family(request: Request, response: Response) -> Response:
    """`response` as `request`'s route family answers it: with its sentence as the reason
    phrase for a 4xx of a REASON_FAMILIES route."""
    family = getattr(request.state, "error_family", "")
    if family in REASON_FAMILIES and 400 <= response.status_code < 500:
        with_reason(response, bytes(response.body).decode("utf-8", "replace"))
    return response


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


_MAX_PROBLEMS = 3


def validation_message(exc: RequestValidationError) -> str:
    """One sentence naming what was wrong where, never echoing the input: an input may be NaN or
    Infinity (which JSON cannot carry back, so FastAPI's own answer is a 500) or megabytes."""
    problems = []
    for error in exc.errors()[:_MAX_PROBLEMS]:
        where = ".".join(str(part) for part in error.get("loc", ()))[:200]
        problems.append(f"{where}: {str(error.get('msg', 'invalid'))[:200]}")
    more = len(exc.errors()) - _MAX_PROBLEMS
    if more > 0:
        problems.append(f"and {more} more")
    return "invalid request: " + "; ".join(problems)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return _for_family(request, _text(422, validation_message(exc), {}))

    @app.exception_handler(HTTPError)
    async def _http_error(request: Request, exc: HTTPError) -> Response:
        family = getattr(request.state, "error_family", "")
        override = FAMILY_OVERRIDES.get(family, {}).get(exc.status)
        if override is not None:
            answer = _text(override.status, override.prefix + exc.message, dict(override.headers))
        else:
            answer = _text(exc.status, exc.message, exc.headers)
        return _for_family(request, answer)

    @app.exception_handler(StarletteHTTPException)
    async def _starlette_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Unknown paths, wrong methods, unparsable multipart bodies: one plain sentence too.
        return _for_family(
            request, _text(exc.status_code, str(exc.detail), dict(exc.headers or {}))
        )

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _rpc_error(request: Request, exc: grpc.aio.AioRpcError) -> Response:
        return _for_family(request, rpc_error_response(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return _text(500, INTERNAL_MESSAGE, {})
