"""The hot routes, answered below the framework when everything they need is warm.

`GET`/`HEAD` of `/simple/`, `/simple/<name>/` and `/files/<project>/<file>` are nearly all of an
index's traffic. Once the token's identity, the access decision and the rendered page (or the
file's record) are held, the answer is a few dictionary lookups — and FastAPI's layers around
the route (error and body-limit middleware, routing, dependency solving, a Response object)
cost more than that answer (docs/performance.md, "Hot routes"). `HotRoutes` sits right under
the security-header wrapper and answers such a request itself, from the same caches, under the
same change epochs and with the same headers as the routes in gateway.routes. Anything it does
not hold — a cold cache, a refusal, a stale epoch, an unreadable epoch store, a Range request,
a malformed credential, a name to redirect — it passes on untouched to the full application,
which answers as it always did (and fills the caches for the next request). Nothing is decided
here that the routes do not decide the same way: tests ask both and compare the answers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name
from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send
from vestry.index.v1 import index_pb2

from vestry.common.epochs import Snapshot
from vestry.common.http import content_disposition
from vestry.common.vocabulary import Visibility
from vestry.gateway.compression import MIN_BYTES
from vestry.gateway.conditional import PAGE_VARY, etag_matches, page_headers
from vestry.gateway.errors import HTTPError
from vestry.gateway.identity import (
    ANONYMOUS,
    Identity,
    kept_identity,
    token_digest,
    token_from_header,
)
from vestry.gateway.local_blobs import BlobLocations, LocalFileResponse
from vestry.gateway.negotiation import accepts_gzip, choose
from vestry.gateway.page_cache import PageCache
from vestry.gateway.routes.files import FILE_TYPE, METADATA_TYPE, file_headers
from vestry.gateway.routes.simple import content_type, listing_key
from vestry.gateway.telemetry import note_caller_in, record
from vestry.gateway.warm import Refusal, Warm, snapshot_of

__all__ = ["HotRoutes"]

# Route templates, as the routes' own (metrics are labelled by them).
LISTING = "/simple/"
PAGE = "/simple/{project}/"
FILE = "/files/{project}/{filename}"
_FILE_PATH = re.compile(r"/files/([^/]+)/([^/]+)\Z")
_READS = frozenset({"GET", "HEAD"})
_WANTED = frozenset({b"authorization", b"accept", b"accept-encoding", b"if-none-match", b"range"})
_D = index_pb2.UpstreamDecision

HOT_ANSWERS = Counter(
    "vestry_hot_route_answers_total",
    "Reads answered from the gateway's warm caches below the framework (gateway.hot), by route "
    "template; every other request went through the full route.",
    ["route"],
)


@dataclass
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    media: str = ""


# What a hot handler gives back: an answer, an ASGI app to run (a file), or None (pass it on).
_Outcome = _Answer | LocalFileResponse | None
_Handler = Callable[[Scope, dict[bytes, str]], Awaitable[_Outcome]]


class HotRoutes:
    """ASGI middleware answering warm reads of the hot routes; everything else goes to `app`."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state  # the FastAPI app's state: settings, caches, backends (after startup)
        self._answered = {route: HOT_ANSWERS.labels(route) for route in (LISTING, PAGE, FILE)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _READS:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        handler: _Handler | None = None
        if path == LISTING:
            handler, template = self._listing, LISTING
        elif path.startswith("/simple/"):
            handler, template = self._page, PAGE
        elif path.startswith("/files/"):
            handler, template = self._file, FILE
        if handler is None or getattr(self.state, "warm", None) is None:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in _WANTED and name not in headers:  # the first, as Starlette reads them
                headers[name] = value.decode("latin-1")
        outcome = await handler(scope, headers)
        if outcome is None:
            await self.app(scope, receive, send)
            return
        self._answered[template].inc()
        status = 500
        try:
            if isinstance(outcome, _Answer):
                status = outcome.status
                await _send(send, outcome)
            else:
                status = outcome.status_code
                await outcome(scope, receive, send)
        finally:
            log = self.state.settings.access_log
            record(scope, template, status, time.perf_counter() - start, log)

    async def _who(
        self, scope: Scope, headers: dict[bytes, str]
    ) -> tuple[Identity, Snapshot] | None:
        """The caller as warm caches know it, with the epochs read for this request; None when
        auth would have to be asked (or the credential is malformed: the route says why)."""
        warm: Warm = self.state.warm
        try:
            token = token_from_header(headers.get(b"authorization", ""))
        except HTTPError:
            return None
        epochs = await snapshot_of(scope, warm)
        if epochs is None:
            return None
        if not token:
            return ANONYMOUS, epochs
        who = kept_identity(warm, token, token_digest(token), epochs.auth, count_miss=False)
        if who is None or who.principal is None:
            return None
        note_caller_in(scope, who.principal.username, who.principal.token_id)
        return who, epochs

    async def _listing(self, scope: Scope, headers: dict[bytes, str]) -> _Outcome:
        media = choose(headers.get(b"accept"))
        found = await self._who(scope, headers)
        if media is None or found is None:
            return None
        who, epochs = found
        cache: PageCache = self.state.listing_cache
        key = listing_key(who)
        known = cache.serial(key)
        reply = self.state.warm.listings.get((who.key, known), epochs.index, count_miss=False)
        if reply is None or isinstance(reply, Refusal):
            return None
        # Held under the global serial; showing the serial of what this caller can see.
        return _rendered(
            headers,
            cache,
            key,
            "",
            reply.global_serial,
            media,
            shown=cache.shown(key),
            private=who.authenticated,
        )

    async def _page(self, scope: Scope, headers: dict[bytes, str]) -> _Outcome:
        path: str = scope["path"]
        name = path[len("/simple/") : -1]
        if not path.endswith("/") or not name or "/" in name:
            return None
        media = choose(headers.get(b"accept"))
        if media is None or canonicalize_name(name) != name:
            return None
        found = await self._who(scope, headers)
        if found is None:
            return None
        who, epochs = found
        warm: Warm = self.state.warm
        if self.state.upstream is not None:  # only a name the index keeps local, as the route
            decision = warm.decisions.get(name, epochs.index, count_miss=False)
            if not isinstance(decision, index_pb2.UpstreamDecision):
                return None
            if decision.outcome != _D.LOCAL:
                return None
        cache: PageCache = self.state.page_cache
        page = warm.pages.get((who.key, name, cache.serial(name)), epochs.index, count_miss=False)
        if page is None or isinstance(page, Refusal):
            return None
        head = page.project
        private = head.visibility != Visibility.PUBLIC
        return _rendered(headers, cache, name, head.id, head.last_serial, media, private=private)

    async def _file(self, scope: Scope, headers: dict[bytes, str]) -> _Outcome:
        match = _FILE_PATH.match(scope["path"])
        settings = self.state.settings
        if match is None or b"range" in headers or settings.presigned_downloads:
            return None
        project, filename = match.groups()
        is_metadata = filename.endswith(".metadata")
        dist = filename[: -len(".metadata")] if is_metadata else filename
        found = await self._who(scope, headers)
        if found is None:
            return None
        who, epochs = found
        asked = (who.key, project, dist)
        file = self.state.warm.files.get(asked, epochs.index, count_miss=False)
        if not isinstance(file, index_pb2.FileRecord):
            return None
        if is_metadata and not file.metadata_blob_key:
            return None  # the route's 404
        digest = file.metadata_sha256 if is_metadata else file.sha256
        etag, out = file_headers(file, digest)
        if etag_matches(headers.get(b"if-none-match"), etag):
            return _Answer(304, out)
        if not is_metadata:
            out["Content-Length"] = str(file.size)
            out["Content-Disposition"] = content_disposition(dist)
            if scope["method"] == "HEAD":
                return _Answer(200, out, media=FILE_TYPE)
        if not settings.local_blobs or scope["method"] == "HEAD":
            return None  # a metadata file's size is storage's to tell: the route asks
        locations: BlobLocations = self.state.blob_locations
        backends = self.state.backends
        if is_metadata:
            opened = await locations.open_sized(backends, file.metadata_blob_key)
            if opened is None:
                return None
            fd, size = opened
            out["Content-Length"] = str(size)
            return LocalFileResponse(fd, 0, size, 200, out, METADATA_TYPE)
        blob = await locations.open(backends, file.blob_key, file.size)
        if blob is None:
            return None
        self.state.downloads.add(project, dist)  # in memory; sent in batches
        return LocalFileResponse(blob, 0, file.size, 200, out, FILE_TYPE)


def _rendered(
    headers: dict[bytes, str],
    cache: PageCache,
    key: str,
    project_id: str,
    serial: int,
    media: str,
    *,
    private: bool,
    shown: int | None = None,
) -> _Answer | None:
    """A rendered page from `cache`, in the coding the client accepts, as `page_response`
    answers it; None when that rendering is not held."""
    hit = cache.lookup(key, project_id, serial, media, count_miss=False)
    if hit is None:
        return None
    body, etag = hit
    encoding = ""
    if len(body) >= MIN_BYTES and accepts_gzip(headers.get(b"accept-encoding")):
        hit = cache.lookup(key, project_id, serial, media, "gzip", count_miss=False)
        if hit is None:
            return None
        (body, etag), encoding = hit, "gzip"
    shows = serial if shown is None else shown
    out = page_headers(serial=shows, private=private, vary=PAGE_VARY, etag=etag, encoding=encoding)
    if etag_matches(headers.get(b"if-none-match"), etag):
        return _Answer(304, out)
    return _Answer(200, out, body, content_type(media))


async def _send(send: Send, answer: _Answer) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
    if answer.status != 304:
        if "Content-Length" not in answer.headers:
            raw.append((b"content-length", str(len(answer.body)).encode()))
        raw.append((b"content-type", answer.media.encode("latin-1")))
    await send({"type": "http.response.start", "status": answer.status, "headers": raw})
    await send({"type": "http.response.body", "body": answer.body})
