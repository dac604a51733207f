"""Security headers on every answer the gateway sends (issue 11, deliverable 6).

A pure ASGI wrapper, not a BaseHTTPMiddleware: it only appends to the header list of the
response's start message, so the hot path gains no task, no queue and no extra await of its own.
Every header is set only where the response does not carry it already: a page that knows better
(the web UI's, with its own Content-Security-Policy) keeps its own.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DOCS_CSP", "PAGE_CSP", "WEB_CSP", "WEB_PAGE_HEADERS", "SecurityHeaders"]

# Simple API pages, error pages, downloads: nothing to load, nothing to run, never framed.
PAGE_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The web UI's pages: scripts, styles, images and fonts from Vestry itself only, no inline script;
# forms post to Vestry only. Set by the pages themselves (WEB_PAGE_HEADERS), so the wrapper
# leaves them alone.
WEB_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
# What a web page carries beyond the wrapper's defaults. Its forms are checked by their Origin
# header, which a browser sends as "null" under `no-referrer`: pages say `same-origin` instead.
WEB_PAGE_HEADERS = {
    "Content-Security-Policy": WEB_CSP,
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Swagger UI at /api/docs, served from Vestry's own static files: its script, its stylesheet
# and the OpenAPI document it fetches: nothing inline, nothing from elsewhere.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_PREFIX = "/api/docs"

_CSP = b"content-security-policy"
_FIXED = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_PAGE = PAGE_CSP.encode()
_DOCS = DOCS_CSP.encode()


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = _DOCS if scope["path"].startswith(DOCS_PREFIX) else _PAGE

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers")
                if not isinstance(headers, list):
                    headers = message["headers"] = list(headers or ())
                present = {name.lower() for name, _ in headers}
                if _CSP not in present:
                    headers.append((_CSP, csp))
                for header in _FIXED:
                    if header[0] not in present:
                        headers.append(header)
            await send(message)

        await self.app(scope, receive, send_with_headers)
