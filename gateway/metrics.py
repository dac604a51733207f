"""HTTP metrics of the gateway: every request counted and timed by route template.

The route template (`/simple/{project}/`), never the path, keeps the label set bounded and keeps
project names out of the metrics. Requests that match no route share one label.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vestry.common.metrics import LATENCY_BUCKETS

__all__ = ["HTTP_REQUESTS", "HTTP_SECONDS", "PAGE_CACHE", "HTTPMetrics"]

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

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class HTTPMetrics:
    """ASGI middleware; the outermost layer, so that every answer is counted, errors too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            method = scope["method"] if scope["method"] in _METHODS else "other"
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_SECONDS.labels(method, template).observe(time.perf_counter() - start)
