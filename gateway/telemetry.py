"""What the gateway records of every request: metrics by route template, and an access log line.

Metrics use the route template (`/simple/{project}/`), never the path, which keeps the label set
bounded and project names out of them; requests that match no route share one label. The access
log (logger `vestry.access`) has the path, status, duration and who asked, by user name and
token ID: enough to answer "who downloaded this?", and never a token or a query string.
"""

from __future__ import annotations

import logging
import re
import time

from prometheus_client import Counter, Histogram
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vestry.common.metrics import LATENCY_BUCKETS
from vestry.common.tokens import TOKEN_PREFIX

__all__ = [
    "HTTP_REQUESTS",
    "HTTP_SECONDS",
    "PAGE_CACHE",
    "WARM_CACHE",
    "RequestTelemetry",
    "note_caller",
    "note_caller_in",
    "record",
]

access_log = logging.getLogger("vestry.access")

HTTP_REQUESTS = Counter(
    "vestry_http_requests_total",
    "HTTP requests answered by the gateway, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "vestry_http_request_seconds",
    "Time from request to the last byte of the answer, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
PAGE_CACHE = Counter(
    "vestry_page_cache_lookups_total",
    "Lookups in the gateway's caches of rendered pages and listings, by cache and result.",
    ["cache", "result"],
)
WARM_CACHE = Counter(
    "vestry_warm_cache_lookups_total",
    "Lookups in the gateway's caches of verified tokens and access decisions, by cache and "
    "result (bypass: the change epochs could not be read, so the services were asked).",
    ["cache", "result"],
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
# A token pasted into a URL (the revoke route refuses it, but the line is written first).
_TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_\-=%]+")
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")
_CALLER = "vestry_caller"  # request-state key: (user name, token ID) of an authenticated caller
_ACCESS_FORMAT = "%s %s %s %d %.1fms user=%s token=%s"


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def note_caller(request: Request, username: str, token_id: str) -> None:
    """Remember who made this request, for its access log line."""
    note_caller_in(request.scope, username, token_id)


def note_caller_in(scope: Scope, username: str, token_id: str) -> None:
    scope.setdefault("state", {})[_CALLER] = (username, token_id)


class RequestTelemetry:
    """ASGI middleware, outside the routes, so that every answer is counted and logged, errors
    too."""

    def __init__(self, app: ASGIApp, access_log_enabled: bool = True) -> None:
        self.app = app
        self.access_log_enabled = access_log_enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the server answers when the app fails before starting a response

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            seconds = time.perf_counter() - start
            record(scope, template, status, seconds, self.access_log_enabled)

    @staticmethod
    def _log(scope: Scope, method: str, status: int, seconds: float) -> None:
        user, token_id = scope.get("state", {}).get(_CALLER, ("-", "-"))
        client = scope.get("client") or ("-", 0)
        # As the client sent it (still percent-encoded): a decoded %0A would forge a log line.
        raw = scope.get("raw_path") or scope.get("path", "").encode()
        path = _UNPRINTABLE.sub(
            _escape, _TOKEN.sub(TOKEN_PREFIX + "<redacted>", raw.decode("latin-1"))
        )
        args = (client[0], method, path, status, seconds * 1000, user, token_id)
        # What `access_log.info` does, less its search of the stack for the caller's file and
        # line (a fifth of a line's cost): the record names this function. Logger.handle applies
        # the logger's filters, handlers and propagation as `info` would.
        line = access_log.makeRecord(
            access_log.name, logging.INFO, __file__, _LOG_LINE, _ACCESS_FORMAT, args, None, "_log"
        )
        access_log.handle(line)


_LOG_LINE = RequestTelemetry._log.__code__.co_firstlineno


def record(scope: Scope, template: str, status: int, seconds: float, log: bool) -> None:
    """Count a request under its route template and write its access log line (when `log`).
    RequestTelemetry's, and that of answers given before it (gateway.hot)."""
    method = scope["method"] if scope["method"] in _METHODS else "other"
    HTTP_REQUESTS.labels(method, template, str(status)).inc()
    HTTP_SECONDS.labels(method, template).observe(seconds)
    if log and access_log.isEnabledFor(logging.INFO):
        RequestTelemetry._log(scope, method, status, seconds)
