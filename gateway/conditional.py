"""Conditional requests (RFC 9110 §13), cache headers for generated pages, and the methods every
read answers, in one place."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from vestry.gateway.page_cache import body_etag

__all__ = [
    "PAGE_VARY",
    "READ_METHODS",
    "cache_control",
    "etag_matches",
    "page_headers",
    "page_response",
]

# RFC 9110 §9.1: a general-purpose server supports HEAD wherever it supports GET. Proxies and
# mirrors (Artifactory, Nexus) and uv's range-request probe send it. The server drops the body.
READ_METHODS = ["GET", "HEAD"]
# What a generated page varies by: its media type, its coding and who asks.
PAGE_VARY = "Accept, Accept-Encoding, Authorization"


def _opaque(tag: str) -> str:
    tag = tag.strip()
    # Weak comparison: If-None-Match ignores the W/ prefix (RFC 9110 §13.1.2).
    return tag[2:] if tag.startswith(("W/", "w/")) else tag


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """True when an If-None-Match header names `etag` (or is `*`), so a 304 is the answer."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = _opaque(etag)
    return any(_opaque(candidate) == wanted for candidate in if_none_match.split(","))


def cache_control(private: bool) -> str:
    # A private answer must never be stored by a shared cache, and is revalidated every time so
    # that a revoked token or a changed role takes effect at once.
    return "private, no-cache" if private else "public, max-age=60"


def page_headers(
    *, serial: int, private: bool, vary: str, etag: str, encoding: str
) -> dict[str, str]:
    """The headers of a generated page besides its type and length (see `page_response`)."""
    headers = {
        "Vary": vary,
        "ETag": etag,
        "X-PyPI-Last-Serial": str(serial),
        "Cache-Control": cache_control(private),
    }
    if encoding:
        headers["Content-Encoding"] = encoding
    return headers


def page_response(
    request: Request,
    body: bytes,
    content_type: str,
    *,
    serial: int,
    private: bool,
    vary: str = PAGE_VARY,
    etag: str = "",
    encoding: str = "",
) -> Response:
    """A generated page with ETag, Vary and Cache-Control; 304 when the client has it already.

    `encoding` names the content coding `body` is already in (e.g. "gzip").
    """
    etag = etag or body_etag(body, content_type)
    headers = page_headers(serial=serial, private=private, vary=vary, etag=etag, encoding=encoding)
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=content_type, headers=headers)
