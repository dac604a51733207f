"""gzip for generated pages: compressed once per page version, kept beside the plain body.

A 10,000-release project page is ~15 MB of JSON and ~3 MB gzipped; pip, uv and poetry all ask
for gzip. Compressing costs ~170 ms for such a page, paid once per serial, not per request.
"""

from __future__ import annotations

import asyncio
import gzip

from fastapi import Request

from vestry.gateway.negotiation import accepts_gzip
from vestry.gateway.page_cache import PageCache

__all__ = ["MIN_BYTES", "encoded_body"]

# Below about one packet, compressing saves nothing worth a header.
MIN_BYTES = 1024
_LEVEL = 6  # once per page version: the better ratio is worth it over level 1's speed
_IN_THREAD = 256 * 1024  # above this, compress off the event loop


def _gzip(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=_LEVEL, mtime=0)  # mtime=0: same bytes every time


async def encoded_body(
    request: Request,
    cache: PageCache,
    key: str,
    project_id: str,
    serial: int,
    media: str,
    body: bytes,
    etag: str,
) -> tuple[bytes, str, str]:
    """The page in the best coding the client accepts: (body, etag, content coding or "")."""
    if len(body) < MIN_BYTES or not accepts_gzip(request.headers.get("accept-encoding")):
        return body, etag, ""
    hit = cache.lookup(key, project_id, serial, media, "gzip")
    if hit is None:
        packed = await asyncio.to_thread(_gzip, body) if len(body) > _IN_THREAD else _gzip(body)
        # A strong ETag names one representation: the gzipped bytes get a tag of their own.
        hit = (packed, etag[:-1] + '-gzip"')
        cache.store(key, project_id, serial, media, *hit, encoding="gzip")
    return hit[0], hit[1], "gzip"
